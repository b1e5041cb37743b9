"""Constructor checks shared by the normalization layers of :mod:`replearn.norm`.

``torch.nn``'s norms check little when they are built: a non-int size fails inside
``torch.empty`` with a ``TypeError``, ``BatchNorm`` refuses ``eps <= 0`` only at the first
training forward (``ValueError``), and a zero size or a negative ``eps``/``momentum`` is accepted
and fails later or silently computes nonsense. replearn refuses all of these when the layer is
built, with a message naming the argument; a wrong type raises :class:`NormArgumentError`, a
``ValueError`` that is also the ``TypeError`` torch raises. What replearn refuses and torch
accepts is listed in docs/deviations.md.

Tests: tests/dropins/test_norm_optim_dropins.py (every value torch refuses, ours refuse with an
exception of torch's type) and tests/norm/.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["NormArgumentError", "check_eps", "check_momentum", "check_positive_int"]


class NormArgumentError(ValueError, TypeError):
    """An argument of the wrong type (torch: ``TypeError``; replearn: also ``ValueError``)."""


def check_positive_int(name: str, value: object) -> None:
    """An int >= 1 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise NormArgumentError(f"{name} must be a positive int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def check_eps(eps: object, *, positive: bool = False, allow_none: bool = False) -> None:
    """A real ``eps`` >= 0 (> 0 with ``positive``, as batch norm needs; None if allowed)."""
    if eps is None and allow_none:
        return
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise NormArgumentError(f"eps must be a real number, got {eps!r}")
    if math.isnan(eps) or eps < 0 or (positive and eps == 0):
        rule = "> 0 (torch refuses eps <= 0 in training)" if positive else ">= 0"
        raise ValueError(
            f"eps must be {rule}" + (" or None" if allow_none else "") + f", got {eps}"
        )


def check_momentum(momentum: object) -> None:
    """``None`` (cumulative average) or a real number in [0, 1]."""
    if momentum is None:
        return
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real):
        raise NormArgumentError(f"momentum must be a number in [0, 1] or None, got {momentum!r}")
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be in [0, 1] or None, got {momentum}")
