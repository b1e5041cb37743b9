r"""Learning-rate schedules as functions of the step and of the fraction of the budget spent.

A schedule is ``factor(step, progress) -> float``: the loop sets every parameter group's
rate to ``base_lr * factor`` before each update. ``step`` counts the updates done,
``progress`` in [0, 1] is the fraction of the run's budget spent,

.. math::

    p = \max\Big(\frac{\text{step}}{\text{max\_steps}},\ \frac{t}{\text{time\_budget}}\Big),

so one schedule serves a step budget (deterministic) and a wall-clock budget (the
clock-driven cosine of nanoGPT-style speed runs: the run ends on the minimum rate
whatever the machine's speed). With a step budget alone these match
``torch.optim.lr_scheduler``'s ``CosineAnnealingLR`` / ``StepLR`` step for step (tested).
"""

from __future__ import annotations

import math
from collections.abc import Callable

Schedule = Callable[[int, float], float]
"""``factor(step, progress) -> multiplier of the base learning rate``."""

NAMES = ("constant", "cosine", "warmup-cosine", "linear", "step")


def cosine_factor(progress: float, min_factor: float = 0.0) -> float:
    r""":math:`m + \tfrac12 (1 - m)(1 + \cos \pi p)`: 1 at p = 0, ``min_factor`` at p >= 1."""
    p = min(max(progress, 0.0), 1.0)
    return min_factor + 0.5 * (1.0 - min_factor) * (1.0 + math.cos(math.pi * p))


def warmup_factor(step: int, warmup_steps: int) -> float:
    """Linear warm-up: ``(step + 1) / warmup_steps`` for the first ``warmup_steps`` updates."""
    return min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0


def named(
    name: str,
    *,
    max_steps: int,
    warmup_steps: int = 0,
    min_factor: float = 0.0,
    clock_driven: bool = False,
) -> Schedule | None:
    """The schedule called ``name`` (None for ``constant``: the loop leaves the rates alone).

    Args:
        name: one of :data:`NAMES`. ``cosine``: cosine over the budget; ``warmup-cosine``:
            linear warm-up for ``warmup_steps`` updates, then a cosine over the rest of the
            budget; ``linear``: warm-up then linear decay to ``min_factor``; ``step``: x0.1
            after each third of the budget.
        max_steps: the step budget.
        warmup_steps: warm-up length (``warmup-cosine`` and ``linear``).
        min_factor: the final factor (cosine and linear).
        clock_driven: the budget is wall-clock time, so the warm-up's share of it is
            unknown: after warm-up the decay runs over the whole progress.
    """
    if name not in NAMES:
        raise ValueError(f"unknown lr schedule {name!r}; expected one of {', '.join(NAMES)}")
    if name == "constant":
        return None
    warm_share = 0.0 if clock_driven else min(warmup_steps / max(max_steps, 1), 1.0)

    def after_warmup(progress: float) -> float:
        return (progress - warm_share) / max(1.0 - warm_share, 1e-12)

    if name == "cosine":
        return lambda step, progress: cosine_factor(progress, min_factor)
    if name == "step":
        third = max(max_steps // 3, 1)
        if clock_driven:
            return lambda step, progress: 0.1 ** min(int(3 * progress), 3)
        return lambda step, progress: 0.1 ** (step // third)
    if name == "linear":

        def linear(step: int, progress: float) -> float:
            if step < warmup_steps:
                return warmup_factor(step, warmup_steps)
            p = min(max(after_warmup(progress), 0.0), 1.0)
            return 1.0 - (1.0 - min_factor) * p

        return linear

    def warmup_cosine(step: int, progress: float) -> float:
        if step < warmup_steps:
            return warmup_factor(step, warmup_steps)
        return cosine_factor(after_warmup(progress), min_factor)

    return warmup_cosine
