"""What an experiment receives: where to write, which device, which rank, and the logger.

Also :func:`single_thread`, the context manager experiments with small tensors run under.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from replearn import runfolder
from replearn.engine.checkpoint import find_resumable
from replearn.engine.distributed import DistInfo
from replearn.engine.logging import MetricsLogger


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run the block on one intra-op thread, then restore the previous thread count.

    For small tensors and per-step loops (sequence models, sample-by-sample generation) a
    second thread only adds synchronisation: no faster on a quiet 2-core machine, much slower
    on a busy one. The count is restored even if the block raises.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _quiet(_message: str) -> None:
    """Discard a notice."""


@dataclass
class RunContext:
    """The run's environment, built by the runner and passed to ``run(cfg, ctx)``.

    Attributes:
        out: the run folder (rank 0 writes there).
        seed: the run's seed (already applied to every RNG).
        device: where tensors live.
        resume: continue from the newest valid checkpoint in ``out/checkpoints``.
        dist: rank / world size under torchrun.
        progress: show a progress bar.
        logger: the ``metrics.jsonl`` writer (disabled on ranks other than 0).
        resume_state: the verified checkpoint the runner found for ``--resume``;
            :func:`replearn.engine.trainer.fit` consumes it.
    """

    out: Path
    seed: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    resume: bool = False
    dist: DistInfo = field(default_factory=DistInfo)
    progress: bool = True
    logger: MetricsLogger | None = None
    resume_state: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        if self.logger is None:
            self.logger = MetricsLogger(self.out / runfolder.METRICS, enabled=self.dist.is_main)

    @property
    def checkpoint_dir(self) -> Path:
        """``out/checkpoints``."""
        return self.out / runfolder.CHECKPOINTS

    def path(self, name: str) -> Path:
        """A file in the run folder (for plots and artefacts)."""
        return self.out / name

    def log(self, step: int, **metrics: float) -> None:
        """Append a metrics row (rank 0 only)."""
        assert self.logger is not None
        self.logger.log(step, **metrics)

    def start(self, say: Callable[[str], None] = _quiet) -> None:
        """Open ``metrics.jsonl``; with ``resume``, load the newest valid checkpoint first.

        The checkpoint becomes :attr:`resume_state` (``fit`` consumes it) and the
        metrics file is cut back to the lines it had when that checkpoint was taken.

        Raises:
            CheckpointError: checkpoints exist but none is valid, or the metrics file
                does not belong to them.
        """
        assert self.logger is not None
        found = find_resumable(self.checkpoint_dir, warn=say) if self.resume else None
        if found is None:
            if self.resume:
                say(f"no checkpoint in {self.checkpoint_dir}; starting from the beginning")
            self.logger.open()
            return
        path, state = found
        say(f"resuming from {path} (step {state.get('step')})")
        self.logger.open(keep_lines=int(state["metrics_lines"]))
        self.resume_state = state

    def close(self) -> None:
        """Flush and close ``metrics.jsonl``."""
        assert self.logger is not None
        self.logger.close()

    @contextlib.contextmanager
    def child(self, name: str, *, seed: int | None = None) -> Iterator[RunContext]:
        """A sub-run in ``out/name`` with its own metrics, checkpoints and resume.

        For experiments that train several models (one per optimizer, per seed, ...)::

            with ctx.child("adam") as sub:
                fit(task, opt, data, cfg=cfg.engine, ctx=sub)
        """
        sub = RunContext(
            out=self.out / name,
            seed=self.seed if seed is None else seed,
            device=self.device,
            resume=self.resume,
            dist=self.dist,
            progress=False,
        )
        if self.dist.is_main:
            sub.out.mkdir(parents=True, exist_ok=True)
        sub.start()
        try:
            yield sub
        finally:
            sub.close()
