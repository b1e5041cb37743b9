r"""RMSprop: divide the gradient by a running root mean square of recent gradients.

Papers: T. Tieleman & G. Hinton, "Lecture 6.5 - RMSprop: divide the gradient by a
running average of its recent magnitude", COURSERA: Neural Networks for Machine
Learning, 2012 (no paper); the centered variant and momentum: A. Graves,
"Generating sequences with recurrent neural networks", 2013, arXiv:1308.0850, Eqs. (38)-(41).

With gradient :math:`g`, learning rate :math:`\eta`, smoothing :math:`\alpha`,
momentum :math:`\mu` and L2 coefficient :math:`\lambda`:

.. math::

    g \leftarrow g + \lambda\theta                                   \qquad (1)\ \text{weight decay}

    s \leftarrow \alpha s + (1 - \alpha)\, g \odot g                  \qquad (2)\ \text{mean square}

    \bar g \leftarrow \alpha \bar g + (1 - \alpha)\, g, \quad
    r = \sqrt{s - \bar g \odot \bar g} + \epsilon                     \qquad (3)\ \text{centered}

    r = \sqrt{s} + \epsilon                                            \qquad (4)\ \text{plain}

    \theta \leftarrow \theta - \eta\, g / r                           \qquad (5)\ \text{update}

    b \leftarrow \mu b + g / r, \quad
    \theta \leftarrow \theta - \eta b                                 \qquad (6)\ \text{momentum}

The centered form (3) divides by an estimate of the gradient's standard deviation
instead of its root mean square. :math:`\epsilon` is added after the square root and
the momentum buffer (6) is torch's (``momentum_buffer``), so the state matches
``torch.optim.RMSprop`` key for key; :math:`s` starts at 0. Sparse gradients are not
supported.

Tests: float64, 200 steps on a small network and on Rosenbrock, parameters and state
(``step``, ``square_avg``, ``grad_avg``, ``momentum_buffer``) against
``torch.optim.RMSprop`` (centered, momentum, weight decay, maximize); the foreach path
against the reference path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from replearn.optim.base import ReplearnOptimizer, check_flags, check_number
from replearn.registry import register

__all__ = ["RMSprop", "rmsprop_update", "rmsprop_update_foreach"]


def rmsprop_update(
    param: Tensor,
    grad: Tensor,
    square_avg: Tensor,
    *,
    lr: float,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    grad_avg: Tensor | None = None,
    momentum_buffer: Tensor | None = None,
) -> None:
    """One step of Eqs. (1)-(6) on one tensor; parameter and state change in place.

    Args:
        param: :math:`\\theta`.
        grad: :math:`g`, not modified.
        square_avg: :math:`s`.
        lr: :math:`\\eta`.
        alpha: :math:`\\alpha`.
        eps: :math:`\\epsilon`.
        weight_decay: :math:`\\lambda`.
        momentum: :math:`\\mu` (0: Eq. 5, else Eq. 6 with ``momentum_buffer``).
        grad_avg: :math:`\\bar g` for the centered form (None: plain, Eq. 4).
        momentum_buffer: :math:`b` (needed when momentum > 0).
    """
    if weight_decay != 0:
        grad = grad.add(param, alpha=weight_decay)  # Eq. (1)
    square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)  # Eq. (2)
    if grad_avg is not None:
        grad_avg.lerp_(grad, 1 - alpha)  # Eq. (3)
        avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_().add_(eps)
    else:
        avg = square_avg.sqrt().add_(eps)  # Eq. (4)
    if momentum > 0:
        assert momentum_buffer is not None
        momentum_buffer.mul_(momentum).addcdiv_(grad, avg)  # Eq. (6)
        param.add_(momentum_buffer, alpha=-lr)
    else:
        param.addcdiv_(grad, avg, value=-lr)  # Eq. (5)


def rmsprop_update_foreach(
    params: list[Tensor],
    grads: list[Tensor],
    square_avgs: list[Tensor],
    *,
    lr: float,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    grad_avgs: list[Tensor] | None = None,
    momentum_buffers: list[Tensor] | None = None,
) -> None:
    """:func:`rmsprop_update` on lists of tensors with ``torch._foreach_*`` kernels."""
    if weight_decay != 0:
        grads = list(torch._foreach_add(grads, params, alpha=weight_decay))  # Eq. (1)
    torch._foreach_mul_(square_avgs, alpha)  # Eq. (2)
    torch._foreach_addcmul_(square_avgs, grads, grads, value=1 - alpha)
    if grad_avgs is not None:
        torch._foreach_lerp_(grad_avgs, grads, 1 - alpha)  # Eq. (3)
        avg = torch._foreach_addcmul(square_avgs, grad_avgs, grad_avgs, value=-1)
        torch._foreach_sqrt_(avg)
    else:
        avg = torch._foreach_sqrt(square_avgs)  # Eq. (4)
    torch._foreach_add_(avg, eps)
    if momentum > 0:
        assert momentum_buffers is not None
        torch._foreach_mul_(momentum_buffers, momentum)  # Eq. (6)
        torch._foreach_addcdiv_(momentum_buffers, grads, avg)
        torch._foreach_add_(params, momentum_buffers, alpha=-lr)
    else:
        torch._foreach_addcdiv_(params, grads, avg, value=-lr)  # Eq. (5)


@register(
    "optim.rmsprop",
    paper="Tieleman & Hinton 2012, Coursera lecture 6.5; Graves 2013, arXiv:1308.0850 (centered)",
    reference="torch.optim.RMSprop (centered, momentum, weight decay)",
)
class RMSprop(ReplearnOptimizer):
    """RMSprop (Eqs. 1-6); drop-in for ``torch.optim.RMSprop`` with the same state keys.

    Args:
        params: parameters or parameter groups (dicts) to optimize.
        lr: learning rate :math:`\\eta` >= 0.
        alpha: smoothing :math:`\\alpha` in [0, 1].
        eps: :math:`\\epsilon` >= 0.
        weight_decay: L2 coefficient :math:`\\lambda` >= 0.
        momentum: :math:`\\mu` >= 0.
        centered: divide by the centered second moment (Eq. 3).
        capturable: must be False (torch-only).
        foreach: fast path (None: on accelerators only).
        maximize: ascend the objective instead.
        differentiable: must be False (torch-only).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            capturable=capturable,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def check_group(self, group: dict[str, Any]) -> None:
        check_number("lr", group["lr"])
        check_number("alpha", group["alpha"], high=1.0)
        check_number("eps", group["eps"])
        check_number("weight_decay", group["weight_decay"])
        check_number("momentum", group["momentum"])
        if not isinstance(group["centered"], bool):
            raise ValueError(f"centered must be True or False, got {group['centered']!r}")
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
                    state["square_avg"] = torch.zeros_like(p)
                if group["momentum"] > 0 and "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p)
                if group["centered"] and "grad_avg" not in state:
                    state["grad_avg"] = torch.zeros_like(p)
                states.append(state)
            self.step_counters(states)
            hyper = {k: group[k] for k in ("lr", "alpha", "eps", "weight_decay", "momentum")}
            square_avgs = [s["square_avg"] for s in states]
            grad_avgs = [s["grad_avg"] for s in states] if group["centered"] else None
            buffers = [s["momentum_buffer"] for s in states] if group["momentum"] > 0 else None
            if self.use_foreach(group, params):
                rmsprop_update_foreach(
                    params,
                    grads,
                    square_avgs,
                    **hyper,
                    grad_avgs=grad_avgs,
                    momentum_buffers=buffers,
                )
            else:
                for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                    rmsprop_update(
                        p,
                        g,
                        square_avgs[i],
                        **hyper,
                        grad_avg=grad_avgs[i] if grad_avgs is not None else None,
                        momentum_buffer=buffers[i] if buffers is not None else None,
                    )
        return loss
