r"""SGDR: stochastic gradient descent with warm restarts, as a learning-rate schedule.

Paper: I. Loshchilov & F. Hutter, "SGDR: stochastic gradient descent with warm restarts",
ICLR 2017, arXiv:1608.03983 (Eq. 5).

Within the :math:`i`-th run of length :math:`T_i`, after :math:`T_{cur}` steps of it:

.. math::

    \eta_t = \eta_{min} + \tfrac12 (\eta_{max} - \eta_{min})
             \Big(1 + \cos\Big(\frac{T_{cur}}{T_i}\pi\Big)\Big)          \qquad (5)

    T_i = T_0\, T_{mult}^{\,i}, \qquad T_{cur} \leftarrow 0 \text{ when } T_{cur} = T_i
                                                                        \qquad \text{(restart)}

so the rate falls from :math:`\eta_{max}` to (nearly) :math:`\eta_{min}` and jumps back
("warm restart"): each run begins from the previous run's solution, not from scratch.
Restarts fall at :math:`T_0, T_0(1 + T_{mult}), \dots`; with :math:`T_{mult} = 2` the runs
double in length.

Deviations: the paper counts :math:`T_{cur}` in (fractional) epochs and restarts when it
reaches :math:`T_i`; here, as in torch, it counts scheduler steps (call it once per batch
for the paper's per-batch annealing), and :math:`\eta_{max}` is the optimizer's initial rate.

Two faces of one function (:func:`sgdr_lr`): :class:`WarmRestarts`, a
``torch.optim.lr_scheduler.LRScheduler``, and :func:`sgdr_schedule`, a factor for the
engine's ``fit(..., lr_schedule=...)``. Tests (tests/optim/test_sgdr.py): both against
``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts`` step by step (float64, several
:math:`T_0, T_{mult}, \eta_{min}`); restart positions in closed form.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from replearn.engine.schedules import Schedule
from replearn.registry import register

__all__ = ["WarmRestarts", "restart_position", "sgdr_lr", "sgdr_schedule"]


def restart_position(step: int, t_0: int, t_mult: int) -> tuple[int, int]:
    r"""``(T_cur, T_i)`` after ``step`` scheduler steps (the restart rule under Eq. 5).

    With :math:`T_{mult} > 1` the run index is
    :math:`i = \lfloor \log_{T_{mult}}(1 + t (T_{mult} - 1)/T_0) \rfloor`.
    """
    if t_mult == 1:
        return step % t_0, t_0
    i = int(math.log(step / t_0 * (t_mult - 1) + 1, t_mult))
    t_i = t_0 * t_mult**i
    t_cur = step - t_0 * (t_mult**i - 1) // (t_mult - 1)
    if t_cur >= t_i:  # float round-off of the logarithm at an exact restart
        t_cur, t_i = t_cur - t_i, t_i * t_mult
    elif t_cur < 0:  # ... or just before one
        t_i //= t_mult
        t_cur += t_i
    return t_cur, t_i


def sgdr_lr(step: int, *, lr_max: float, lr_min: float, t_0: int, t_mult: int = 1) -> float:
    r"""Eq. (5): the rate after ``step`` scheduler steps."""
    t_cur, t_i = restart_position(step, t_0, t_mult)
    return lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(math.pi * t_cur / t_i))


def _check(t_0: Any, t_mult: Any, eta_min: Any) -> None:
    if isinstance(t_0, bool) or not isinstance(t_0, int) or t_0 < 1:
        raise ValueError(f"t_0 must be an int >= 1, got {t_0!r}")
    if isinstance(t_mult, bool) or not isinstance(t_mult, int) or t_mult < 1:
        raise ValueError(f"t_mult must be an int >= 1, got {t_mult!r}")
    if isinstance(eta_min, bool) or not isinstance(eta_min, (int, float)) or eta_min < 0:
        raise ValueError(f"eta_min must be a number >= 0, got {eta_min!r}")


def sgdr_schedule(*, t_0: int, t_mult: int = 1, min_factor: float = 0.0) -> Schedule:
    """Eq. (5) as the engine's ``factor(step, progress)`` (a multiple of the base rate).

    Args:
        t_0: length of the first run, in updates.
        t_mult: growth of the run length after each restart.
        min_factor: :math:`\\eta_{min} / \\eta_{max}`.
    """
    _check(t_0, t_mult, min_factor)

    def factor(step: int, progress: float) -> float:
        return sgdr_lr(step, lr_max=1.0, lr_min=min_factor, t_0=t_0, t_mult=t_mult)

    return factor


@register(
    "optim.sgdr",
    paper="Loshchilov & Hutter 2017, arXiv:1608.03983 (SGDR, Eq. 5)",
    reference="torch.optim.lr_scheduler.CosineAnnealingWarmRestarts, step by step",
)
class WarmRestarts(torch.optim.lr_scheduler.LRScheduler):
    """SGDR (Eq. 5) as a torch LR scheduler, drop-in for ``CosineAnnealingWarmRestarts``.

    Args:
        optimizer: the wrapped optimizer (its initial rates are :math:`\\eta_{max}`).
        T_0: length of the first run, in scheduler steps.
        T_mult: growth factor of the run length (an int >= 1).
        eta_min: :math:`\\eta_{min}`.
        last_epoch: index of the last step (-1: start).
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        T_0: int,
        T_mult: int = 1,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        _check(T_0, T_mult, eta_min)
        self.T_0, self.T_mult, self.eta_min = T_0, T_mult, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The rate of every group at step ``last_epoch`` (Eq. 5)."""
        step = max(self.last_epoch, 0)
        return [
            sgdr_lr(step, lr_max=base, lr_min=self.eta_min, t_0=self.T_0, t_mult=self.T_mult)
            for base in self.base_lrs
        ]

    def extra_repr(self) -> str:
        return f"T_0={self.T_0}, T_mult={self.T_mult}, eta_min={self.eta_min}"
