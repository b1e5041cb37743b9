r"""Adagrad: per-coordinate learning rates that shrink with the sum of squared gradients.

Paper: J. Duchi, E. Hazan & Y. Singer, "Adaptive subgradient methods for online
learning and stochastic optimization", *JMLR* 12, 2011 (diagonal version, Sec. 1.1).

With gradient :math:`g_t`, learning rate :math:`\eta`, decay :math:`\delta`
(``lr_decay``), L2 coefficient :math:`\lambda` and :math:`G_0` =
``initial_accumulator_value``:

.. math::

    g_t \leftarrow g_t + \lambda\theta_{t-1}                       \qquad (1)\ \text{weight decay}

    G_t = G_{t-1} + g_t \odot g_t                                   \qquad (2)\ \text{accumulator}

    \eta_t = \frac{\eta}{1 + (t - 1)\,\delta}                        \qquad (3)\ \text{step decay}

    \alpha_t = \frac{\eta_t}{\sqrt{G_t} + \epsilon}                \qquad (4)\ \text{effective step}

    \theta_t = \theta_{t-1} - \alpha_t \odot g_t                    \qquad (5)\ \text{update}

:math:`G_t` never decreases, so the effective step (4) of every coordinate can only
shrink: with gradients of roughly constant size it falls like :math:`1/\sqrt{t}`.
The paper's step uses :math:`\sqrt{G_t}` with :math:`\epsilon` added under the
diagonal; we add :math:`\epsilon` after the square root and offer the decay (3) as
``torch.optim.Adagrad`` does (:math:`\delta = 0` is the paper). Sparse gradients
are not supported.

Tests: float64, 200 steps on a small network and on Rosenbrock, parameters and state
(``step``, ``sum``) against ``torch.optim.Adagrad`` (lr decay, weight decay, initial
accumulator, maximize); the foreach path against the reference path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from replearn.optim.base import ReplearnOptimizer, check_flags, check_number
from replearn.registry import register

__all__ = ["Adagrad", "adagrad_effective_lr", "adagrad_update", "adagrad_update_foreach"]


def adagrad_effective_lr(
    state_sum: Tensor, step: int, *, lr: float, lr_decay: float, eps: float
) -> Tensor:
    r"""Eqs. (3)-(4): the per-coordinate step :math:`\eta_t / (\sqrt{G_t} + \epsilon)`.

    Args:
        state_sum: :math:`G_t`.
        step: :math:`t` (1 on the first update).
        lr: :math:`\eta`.
        lr_decay: :math:`\delta`.
        eps: :math:`\epsilon`.
    """
    clr = lr / (1 + (step - 1) * lr_decay)
    return clr / (state_sum.sqrt() + eps)


def adagrad_update(
    param: Tensor,
    grad: Tensor,
    state_sum: Tensor,
    step: int,
    *,
    lr: float,
    lr_decay: float,
    weight_decay: float,
    eps: float,
) -> None:
    """One step of Eqs. (1)-(5) on one tensor; ``param`` and ``state_sum`` change in place.

    Args:
        param: :math:`\\theta`.
        grad: :math:`g_t`, not modified.
        state_sum: :math:`G`, accumulated in place.
        step: :math:`t` (1 on the first update).
        lr: :math:`\\eta`.
        lr_decay: :math:`\\delta`.
        weight_decay: :math:`\\lambda`.
        eps: :math:`\\epsilon`.
    """
    if weight_decay != 0:
        grad = grad.add(param, alpha=weight_decay)  # Eq. (1)
    clr = lr / (1 + (step - 1) * lr_decay)  # Eq. (3)
    state_sum.addcmul_(grad, grad, value=1)  # Eq. (2)
    std = state_sum.sqrt().add_(eps)
    param.addcdiv_(grad, std, value=-clr)  # Eqs. (4)-(5)


def adagrad_update_foreach(
    params: list[Tensor],
    grads: list[Tensor],
    state_sums: list[Tensor],
    steps: list[int],
    *,
    lr: float,
    lr_decay: float,
    weight_decay: float,
    eps: float,
) -> None:
    """:func:`adagrad_update` on lists of tensors with ``torch._foreach_*`` kernels."""
    if weight_decay != 0:
        grads = list(torch._foreach_add(grads, params, alpha=weight_decay))  # Eq. (1)
    minus_clr = [-lr / (1 + (t - 1) * lr_decay) for t in steps]  # Eq. (3)
    torch._foreach_addcmul_(state_sums, grads, grads, value=1)  # Eq. (2)
    std = torch._foreach_sqrt(state_sums)
    torch._foreach_add_(std, eps)
    torch._foreach_addcdiv_(params, grads, std, minus_clr)  # Eqs. (4)-(5)


@register(
    "optim.adagrad",
    paper="Duchi, Hazan & Singer 2011, JMLR 12 (Adagrad)",
    reference="torch.optim.Adagrad (lr decay, weight decay, initial accumulator)",
)
class Adagrad(ReplearnOptimizer):
    """Adagrad (Eqs. 1-5); drop-in for ``torch.optim.Adagrad`` with the same state keys.

    Args:
        params: parameters or parameter groups (dicts) to optimize.
        lr: learning rate :math:`\\eta` >= 0.
        lr_decay: :math:`\\delta` >= 0 of Eq. (3).
        weight_decay: L2 coefficient :math:`\\lambda` >= 0.
        initial_accumulator_value: :math:`G_0` >= 0.
        eps: :math:`\\epsilon` >= 0.
        foreach: fast path (None: on accelerators only).
        maximize: ascend the objective instead.
        differentiable: must be False (torch-only).
        fused: must be None or False (torch-only).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)

    def check_group(self, group: dict[str, Any]) -> None:
        check_number("lr", group["lr"])
        check_number("lr_decay", group["lr_decay"])
        check_number("weight_decay", group["weight_decay"])
        check_number("initial_accumulator_value", group["initial_accumulator_value"])
        check_number("eps", group["eps"])
        check_flags(group)

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """One update of every parameter with a gradient; ``closure`` re-evaluates the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params, grads = self.params_with_grad(group)
            if not params:
                continue
            states = []
            for p in params:
                state = self.state[p]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["sum"] = torch.full_like(p, group["initial_accumulator_value"])
                states.append(state)
            steps = self.step_counters(states)
            sums = [s["sum"] for s in states]
            hyper = {k: group[k] for k in ("lr", "lr_decay", "weight_decay", "eps")}
            if self.use_foreach(group, params):
                adagrad_update_foreach(params, grads, sums, steps, **hyper)
            else:
                for p, g, s, t in zip(params, grads, sums, steps, strict=True):
                    adagrad_update(p, g, s, t, **hyper)
        return loss
