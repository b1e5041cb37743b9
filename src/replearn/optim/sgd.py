r"""Stochastic gradient descent, with heavy-ball or Nesterov momentum, in the course's form.

Papers: H. Robbins & S. Monro, "A stochastic approximation method", *Ann. Math.
Statist.* 22, 1951 (SGD); B. T. Polyak, "Some methods of speeding up the convergence
of iteration methods", *USSR Comp. Math. & Math. Phys.* 4(5), 1964 (heavy ball);
Y. Nesterov, "A method for solving the convex programming problem with convergence
rate O(1/k^2)", *Soviet Math. Dokl.* 27, 1983; I. Sutskever, J. Martens, G. Dahl &
G. Hinton, "On the importance of initialization and momentum in deep learning",
ICML 2013 (both momenta written with a velocity, Nesterov as a look-ahead gradient).

With gradient :math:`g = \nabla L(\theta)`, learning rate :math:`\eta`, momentum
:math:`\rho`, dampening :math:`\tau` and L2 coefficient :math:`\lambda`:

.. math::

    g \leftarrow g + \lambda\theta                                  \qquad (1)\ \text{weight decay}

    \theta \leftarrow \theta - \eta g                               \qquad (2)\ \text{plain SGD}

    v \leftarrow \rho v - \eta (1 - \tau) g, \quad
    \theta \leftarrow \theta + v                                    \qquad (3)\ \text{momentum}

    v \leftarrow \rho v - \eta \nabla L(\theta + \rho v), \quad
    \theta \leftarrow \theta + v                                    \qquad (4)\ \text{Nesterov}

Eq. (4) needs the gradient at the look-ahead point :math:`\theta + \rho v`. Following
Sutskever et al. (2013) and Bengio et al. (2013, arXiv:1212.0901), the optimizer holds
the look-ahead point :math:`\tilde\theta = \theta + \rho v` in the parameter, so the
gradient autograd computes *is* the look-ahead gradient; Eq. (4) then reads

.. math::

    v \leftarrow \rho v - \eta g(\tilde\theta), \quad
    \tilde\theta \leftarrow \tilde\theta + \rho v - \eta g(\tilde\theta)
                                                          \qquad (5)\ \text{Nesterov, as run}

Relation to ``torch.optim.SGD``, which keeps :math:`b \leftarrow \mu b + (1-\tau) g`
and steps :math:`\theta \leftarrow \theta - \eta b` (Nesterov: :math:`\theta \leftarrow
\theta - \eta (g + \mu b)`): with a constant :math:`\eta`, :math:`v = -\eta b` and both
give the same iterates; the state ``velocity`` here is ``-lr * momentum_buffer``
there. Under an LR schedule they differ: a velocity keeps the step sizes it was built
with, torch's buffer is rescaled by the current :math:`\eta`. As in torch, the first
step sets :math:`v = -\eta g` (no dampening) and Nesterov needs :math:`\rho > 0,
\tau = 0`. Sparse gradients are not supported.

Tests: float64, 200 steps on a small network and on Rosenbrock, parameters and
``velocity == -lr * momentum_buffer`` against ``torch.optim.SGD`` (momentum, Nesterov,
dampening, weight decay, maximize); Eq. (5) against an explicit look-ahead loop of
Eq. (4); the foreach path against the reference path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from replearn.optim.base import ReplearnOptimizer, check_flags, check_number
from replearn.registry import register

__all__ = ["SGD", "sgd_update", "sgd_update_foreach"]


def sgd_update(
    param: Tensor,
    grad: Tensor,
    velocity: Tensor | None,
    *,
    lr: float,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
) -> Tensor | None:
    """One step of Eqs. (1)-(3)/(5) on one tensor, in place; returns the velocity.

    Args:
        param: :math:`\\theta` (or :math:`\\tilde\\theta` with Nesterov), updated in place.
        grad: :math:`g`, not modified.
        velocity: :math:`v`, updated in place; None before the first momentum step.
        lr: :math:`\\eta`.
        momentum: :math:`\\rho` (0: plain SGD, Eq. 2).
        dampening: :math:`\\tau`.
        weight_decay: :math:`\\lambda` of Eq. (1).
        nesterov: use Eq. (5) instead of Eq. (3).

    Returns:
        The velocity (a new tensor on the first step), or None without momentum.
    """
    if weight_decay != 0:
        grad = grad.add(param, alpha=weight_decay)  # Eq. (1)
    if momentum == 0:
        param.add_(grad, alpha=-lr)  # Eq. (2)
        return None
    if velocity is None:
        velocity = grad.mul(-lr)  # first step: v = -eta g (torch: b = g, no dampening)
    else:
        velocity.mul_(momentum).add_(grad, alpha=-lr * (1 - dampening))  # Eq. (3), left
    if nesterov:
        param.add_(velocity, alpha=momentum).add_(grad, alpha=-lr)  # Eq. (5)
    else:
        param.add_(velocity)  # Eq. (3), right
    return velocity


def sgd_update_foreach(
    params: list[Tensor],
    grads: list[Tensor],
    velocities: list[Tensor | None],
    *,
    lr: float,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
) -> list[Tensor | None]:
    """:func:`sgd_update` on lists of tensors with ``torch._foreach_*`` kernels."""
    if weight_decay != 0:
        grads = list(torch._foreach_add(grads, params, alpha=weight_decay))  # Eq. (1)
    if momentum == 0:
        torch._foreach_add_(params, grads, alpha=-lr)  # Eq. (2)
        return [None] * len(params)
    if any(v is None for v in velocities):  # first step of some tensors
        velocities = [
            g.mul(-lr) if v is None else v.mul_(momentum).add_(g, alpha=-lr * (1 - dampening))
            for g, v in zip(grads, velocities, strict=True)
        ]
    else:
        torch._foreach_mul_(velocities, momentum)  # Eq. (3), left
        torch._foreach_add_(velocities, grads, alpha=-lr * (1 - dampening))
    if nesterov:
        torch._foreach_add_(params, velocities, alpha=momentum)  # Eq. (5)
        torch._foreach_add_(params, grads, alpha=-lr)
    else:
        torch._foreach_add_(params, velocities)  # Eq. (3), right
    return velocities


@register(
    "optim.sgd",
    paper="Robbins & Monro 1951; Polyak 1964 (momentum); Nesterov 1983; Sutskever et al. ICML 2013",
    reference="torch.optim.SGD (momentum, nesterov, dampening, weight decay); explicit look-ahead",
)
class SGD(ReplearnOptimizer):
    """SGD with optional heavy-ball or Nesterov momentum, written with a velocity (Eqs. 1-5).

    Drop-in for ``torch.optim.SGD`` (same signature); the state holds ``velocity``
    :math:`v = -\\eta b` instead of torch's ``momentum_buffer`` :math:`b`.

    Args:
        params: parameters or parameter groups (dicts) to optimize.
        lr: learning rate :math:`\\eta` >= 0.
        momentum: :math:`\\rho` in [0, 1).
        dampening: :math:`\\tau` in [0, 1].
        weight_decay: L2 coefficient :math:`\\lambda` >= 0 (added to the gradient).
        nesterov: Nesterov's look-ahead momentum (needs momentum > 0, dampening 0).
        maximize: ascend the objective instead.
        foreach: fast path (None: on accelerators only).
        differentiable: must be False (torch-only).
        fused: must be None or False (torch-only).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            foreach=foreach,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)

    def check_group(self, group: dict[str, Any]) -> None:
        check_number("lr", group["lr"])
        check_number("momentum", group["momentum"], high=1.0, high_open=True)
        check_number("dampening", group["dampening"], high=1.0)
        check_number("weight_decay", group["weight_decay"])
        if not isinstance(group["nesterov"], bool):
            raise ValueError(f"nesterov must be True or False, got {group['nesterov']!r}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                "nesterov=True needs momentum > 0 and dampening = 0, got "
                f"momentum={group['momentum']}, dampening={group['dampening']}"
            )
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
            velocities = [self.state[p].get("velocity") for p in params]
            hyper = {
                k: group[k] for k in ("lr", "momentum", "dampening", "weight_decay", "nesterov")
            }
            if self.use_foreach(group, params):
                velocities = sgd_update_foreach(params, grads, velocities, **hyper)
            else:
                velocities = [
                    sgd_update(p, g, v, **hyper)
                    for p, g, v in zip(params, grads, velocities, strict=True)
                ]
            if group["momentum"] != 0:
                for p, v in zip(params, velocities, strict=True):
                    self.state[p]["velocity"] = v
        return loss
