"""What an experiment receives: where to write, which device, which rank, and the logger."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from replearn.engine.distributed import DistInfo
from replearn.engine.logging import MetricsLogger


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
            self.logger = MetricsLogger(self.out / "metrics.jsonl", enabled=self.dist.is_main)

    @property
    def checkpoint_dir(self) -> Path:
        """``out/checkpoints``."""
        return self.out / "checkpoints"

    def path(self, name: str) -> Path:
        """A file in the run folder (for plots and artefacts)."""
        return self.out / name

    def log(self, step: int, **metrics: float) -> None:
        """Append a metrics row (rank 0 only)."""
        assert self.logger is not None
        self.logger.log(step, **metrics)
