"""Shared pieces of the diffusion experiments: the training task and small statistics helpers.

:class:`DiffusionTask` is a general engine task: one :meth:`~DiffusionTask.update` is one
:math:`L_{simple}` step of a :class:`~replearn.diffusion.GaussianDiffusion` (labels, if
any, dropped for classifier-free guidance inside its loss) followed by an update of the
exponential moving average of its weights (:class:`replearn.engine.EMA`, declared state:
it travels in checkpoints). Samples are drawn from the EMA copy, as in DDPM (Sec. 4).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from torch import Tensor

from replearn.diffusion import GaussianDiffusion
from replearn.engine import EMA, Loop, Task

__all__ = ["DiffusionTask", "timed"]


class DiffusionTask(Task):
    """L_simple on ``x0`` or ``(x0, y)`` batches, then an EMA update of the whole diffusion.

    The EMA decay warms up as ``min(decay, (1 + step) / (10 + step))`` (TensorFlow's
    ``ExponentialMovingAverage(num_updates=...)``), so short runs average recent weights.
    """

    def __init__(self, diffusion: GaussianDiffusion, *, ema_decay: float = 0.999) -> None:
        super().__init__()
        self.diffusion = diffusion
        self.ema = EMA(diffusion, decay=ema_decay)
        self.ema_decay = ema_decay

    def update(self, batch: Any, loop: Loop) -> dict[str, Tensor]:
        x0, y = (batch, None) if isinstance(batch, Tensor) else (batch[0], batch[1])
        with loop.autocast():
            loss = self.diffusion(x0, y)
        loop.optimize(loss)
        decay = min(self.ema_decay, (1 + loop.step) / (10 + loop.step))
        self.ema.update(self.diffusion, decay=decay)
        return {"loss": loss.detach()}

    @property
    def sampler(self) -> GaussianDiffusion:
        """The EMA copy (what samples are drawn from)."""
        return self.ema.module  # type: ignore[return-value]


def timed(fn: Callable[[], Tensor]) -> tuple[Tensor, float]:
    """``fn()`` and its wall-clock seconds."""
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0
