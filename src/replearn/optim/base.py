"""What every optimizer of :mod:`replearn.optim` shares: hyperparameter checks and bookkeeping.

:class:`ReplearnOptimizer` is a thin :class:`torch.optim.Optimizer` subclass. It
does three things and nothing else, so that each method file reads as its
algorithm:

1. validates every parameter group, from the constructor and from
   :meth:`~torch.optim.Optimizer.add_param_group` alike, through the subclass's
   :meth:`~ReplearnOptimizer.check_group` (a bad value raises a ``ValueError`` that
   names the hyperparameter, its allowed range and the value given);
2. collects the parameters of a group that have a gradient (:meth:`params_with_grad`),
   rejecting sparse gradients and complex parameters with a clear error;
3. decides between the readable reference path and the ``foreach`` fast path
   (:meth:`use_foreach`): ``foreach=None`` picks the fast path when every parameter
   is on an accelerator, as ``torch.optim`` does (on a CPU both paths run the same
   per-tensor kernels, so the reference loop is the default there).

The torch-only switches ``fused``, ``capturable`` and ``differentiable`` are accepted
with their default values (so that a call written for ``torch.optim`` works
unchanged) and rejected with a clear error when turned on.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch
from torch import Tensor

__all__ = ["OptimArgumentError", "ReplearnOptimizer", "check_beta", "check_flags", "check_number"]

_DEVIATION = "a deviation from torch.optim, listed in docs/deviations.md"


class OptimArgumentError(ValueError, TypeError):
    """A hyperparameter of the wrong type: torch raises ``TypeError`` (or accepts a Tensor);
    replearn raises this, which is both a ``ValueError`` and a ``TypeError``."""


def check_number(
    name: str,
    value: Any,
    *,
    low: float = 0.0,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """Raise ``ValueError`` unless ``value`` is a real number in the given interval.

    Args:
        name: hyperparameter name used in the message (``"lr"``, ``"betas[0]"``).
        value: the value to check; bools and tensors are refused.
        low: lower end of the interval.
        high: upper end of the interval (``inf``: unbounded).
        low_open: exclude ``low``.
        high_open: exclude ``high``.
    """
    left, right = "(" if low_open else "[", ")" if high_open or high == math.inf else "]"
    interval = f"{left}{low:g}, {high:g}{right}"
    if isinstance(value, Tensor):
        raise OptimArgumentError(
            f"{name} must be a Python float in {interval}, got a Tensor (tensor "
            "hyperparameters, used by torch for capturable or compiled steps, are not supported: "
            f"{_DEVIATION})"
        )
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise OptimArgumentError(f"{name} must be a real number in {interval}, got {value!r}")
    if math.isnan(value):
        raise ValueError(f"{name} must be a real number in {interval}, got {value!r}")
    below = value <= low if low_open else value < low
    above = value >= high if high_open else value > high
    if below or above:
        raise ValueError(f"{name} must be in {interval}, got {value!r}")


def check_beta(name: str, betas: Any, count: int = 2) -> None:
    """Raise ``ValueError`` unless ``betas`` is a pair (tuple or list) of numbers in [0, 1)."""
    if not isinstance(betas, (tuple, list)) or len(betas) != count:
        raise ValueError(f"{name} must be a tuple of {count} numbers in [0, 1), got {betas!r}")
    for i, beta in enumerate(betas):
        check_number(f"{name}[{i}]", beta, low=0.0, high=1.0, high_open=True)


def check_flags(group: dict[str, Any]) -> None:
    """Check the switches shared with ``torch.optim``: maximize, foreach, fused, capturable, ...

    ``maximize`` must be a bool and ``foreach`` None or a bool; ``fused``,
    ``capturable`` and ``differentiable`` may only take their default value.
    """
    if not isinstance(group.get("maximize", False), bool):
        raise ValueError(f"maximize must be True or False, got {group['maximize']!r}")
    foreach = group.get("foreach")
    if foreach is not None and not isinstance(foreach, bool):
        raise ValueError(f"foreach must be None, True or False, got {foreach!r}")
    if group.get("fused"):
        raise ValueError(
            "fused=True is not implemented by replearn.optim; foreach=True is the fast path "
            f"({_DEVIATION})"
        )
    for name in ("capturable", "differentiable"):
        if group.get(name):
            raise ValueError(
                f"{name}=True is not supported by replearn.optim (only False; {_DEVIATION})"
            )


class ReplearnOptimizer(torch.optim.Optimizer):
    """Base class: per-group validation, gradient collection and the foreach switch.

    Subclasses implement :meth:`check_group` (raise ``ValueError`` on a bad
    hyperparameter) and ``step``.
    """

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Validate the group (its own values over the defaults), then add it."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, got {type(param_group).__name__}")
        self.check_group({**self.defaults, **param_group})
        super().add_param_group(param_group)

    def check_group(self, group: dict[str, Any]) -> None:
        """Raise ``ValueError`` naming the first bad hyperparameter of ``group``."""
        raise TypeError(f"{type(self).__name__} must define check_group")

    def params_with_grad(self, group: dict[str, Any]) -> tuple[list[Tensor], list[Tensor]]:
        """The group's parameters that have a gradient, and those gradients (negated if maximize).

        Raises:
            RuntimeError: a gradient is sparse or a parameter is complex.
        """
        params, grads = [], []
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError(
                    f"{type(self).__name__} does not support sparse gradients; "
                    "use a dense nn.Embedding (sparse=False)"
                )
            if p.is_complex():
                raise RuntimeError(f"{type(self).__name__} does not support complex parameters")
            params.append(p)
            grads.append(p.grad)
        if group["maximize"] and grads:
            grads = list(torch._foreach_neg(grads))
        return params, grads

    def use_foreach(self, group: dict[str, Any], params: list[Tensor]) -> bool:
        """Fast path? ``foreach=True``, or ``None`` with every tensor on an accelerator."""
        if group["foreach"] is not None:
            return group["foreach"]
        return bool(params) and all(p.device.type not in ("cpu", "meta") for p in params)

    @staticmethod
    def step_counters(state: list[dict[str, Any]]) -> list[int]:
        """Increment every ``state["step"]`` (a float32 scalar tensor, as in torch); return them."""
        steps = [s["step"] for s in state]
        torch._foreach_add_(steps, 1.0)
        return [int(s.item()) for s in steps]
