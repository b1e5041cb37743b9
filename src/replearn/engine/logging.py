"""``metrics.jsonl`` writer and the rich progress bar.

``metrics.jsonl`` holds only values that are a deterministic function of the
seed and the config (losses, accuracies, learning rates, steps): never wall
time or throughput, so that two runs of the same seed compare bitwise and a
resumed run rewrites the same bytes. Timings go to ``result.json``.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from replearn.engine.checkpoint import CheckpointError


def _clean(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/Inf
    return value


class MetricsLogger:
    """Appends one JSON object per line; counts lines so a resume can cut back to a checkpoint."""

    def __init__(self, path: Path, *, enabled: bool = True) -> None:
        self.path = Path(path)
        self.enabled = enabled
        self.lines = 0
        self._fh = None

    @property
    def is_open(self) -> bool:
        """Whether :meth:`open` was called (and :meth:`close` not since)."""
        return self._fh is not None

    def open(self, keep_lines: int | None = None) -> None:
        """Start writing; ``keep_lines`` keeps exactly that many existing lines (resume)."""
        if not self.enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if keep_lines is None:
            self._fh = self.path.open("w", encoding="utf-8")
            self.lines = 0
            return
        kept: list[str] = []
        if self.path.exists():
            with self.path.open("r", encoding="utf-8") as fh:
                for line in fh:
                    if len(kept) == keep_lines or not line.endswith("\n"):
                        break
                    kept.append(line)
        if len(kept) != keep_lines:
            raise CheckpointError(
                f"{self.path} has {len(kept)} complete lines but the checkpoint expects "
                f"{keep_lines}: the checkpoint is not from this run folder"
            )
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text("".join(kept), encoding="utf-8")
        os.replace(tmp, self.path)
        self._fh = self.path.open("a", encoding="utf-8")
        self.lines = keep_lines

    def log(self, step: int, **metrics: Any) -> None:
        """Write ``{"step": step, **metrics}`` as one line."""
        if not self.enabled or self._fh is None:
            return
        row = {"step": int(step), **{k: _clean(v) for k, v in metrics.items()}}
        self._fh.write(json.dumps(row) + "\n")
        self.lines += 1

    def flush(self) -> None:
        """Push buffered lines to the OS (before a checkpoint records ``lines``)."""
        if self._fh is not None:
            self._fh.flush()

    def close(self) -> None:
        """Flush and close."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class ProgressBar:
    """Step / loss / throughput bar, redrawn at most ``refresh_per_second`` times."""

    def __init__(self, total: int, *, enabled: bool = True, description: str = "train") -> None:
        self.enabled = enabled
        self.total = total
        self._progress: Progress | None = None
        self._task = None
        self._last_draw = 0.0
        self._t0 = 0.0
        self._step0 = 0
        self.description = description

    def start(self, step: int) -> None:
        """Show the bar, starting at ``step``."""
        if not self.enabled:
            return
        console = Console(file=sys.stderr)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[rate]} steps/s"),
            TimeRemainingColumn(),
            console=console,
            auto_refresh=False,
            transient=not console.is_terminal,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            self.description, total=self.total, completed=step, loss="-", rate="-"
        )
        self._t0 = time.perf_counter()
        self._step0 = step

    def update(self, step: int, loss: float | None = None, *, force: bool = False) -> None:
        """Move the bar; cheap when called every step (draws at most 4 times a second)."""
        if self._progress is None:
            return
        now = time.perf_counter()
        if not force and now - self._last_draw < 0.25:
            return
        self._last_draw = now
        rate = (step - self._step0) / max(now - self._t0, 1e-9)
        fields = {"rate": f"{rate:.1f}"}
        if loss is not None:
            fields["loss"] = f"{loss:.4f}"
        self._progress.update(self._task, completed=step, **fields)
        self._progress.refresh()

    def stop(self) -> None:
        """Remove the bar."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
