r"""AdaBound: Adam whose per-coordinate step is clipped to bounds that close in on SGD's.

Paper: L. Luo, Y. Xiong, Y. Liu & X. Sun, "Adaptive gradient methods with dynamic
bound of learning rate", ICLR 2019, arXiv:1902.09843 (Algorithm 2 and its
published implementation, github.com/Luolc/AdaBound).

With gradient :math:`g_t`, learning rate :math:`\eta` (initially :math:`\eta_0`),
:math:`\beta_1, \beta_2`, final (SGD) learning rate :math:`\eta^*`, convergence
speed :math:`\gamma` and L2 coefficient :math:`\lambda`:

.. math::

    g_t \leftarrow g_t + \lambda\theta_{t-1}                       \qquad (0)\ \text{weight decay}

    m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \quad
    v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t \odot g_t              \qquad (1)\ \text{moments}

    \alpha_t = \eta\, \frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}     \qquad (2)\ \text{Adam's step size}

    \eta_l(t) = \eta^* \frac{\eta}{\eta_0} \Big(1 - \frac{1}{\gamma t + 1}\Big), \quad
    \eta_u(t) = \eta^* \frac{\eta}{\eta_0} \Big(1 + \frac{1}{\gamma t}\Big)
                                                                    \qquad (3)\ \text{bounds}

    \hat\eta_t = \mathrm{clip}\Big(\frac{\alpha_t}{\sqrt{v_t} + \epsilon},\,
                 \eta_l(t),\, \eta_u(t)\Big)                        \qquad (4)\ \text{clipped step}

    \theta_t = \theta_{t-1} - \hat\eta_t \odot m_t                  \qquad (5)\ \text{update}

The lower bound rises from 0 and the upper bound falls from :math:`\infty`; both
tend to :math:`\eta^*\eta/\eta_0`, so AdaBound starts like Adam and ends like SGD
with momentum at that learning rate. AMSBound (``amsbound=True``) uses
:math:`v^{max}_t = \max(v^{max}_{t-1}, v_t)` in (4). Deviations from Algorithm 2, as
in the authors' implementation: the bounds use :math:`\gamma` (the paper's
experiments use :math:`\gamma = 1 - \beta_2`); the step has Adam's bias correction (2)
and no extra :math:`1/\sqrt{t}`; :math:`\eta^*` follows the schedule through the
factor :math:`\eta/\eta_0` (:math:`\eta_0` is kept per group as ``base_lr``, so it
survives a ``state_dict`` round trip); L2 decay (0) is added to the gradient.

The fast path (``foreach=True``) runs the same equations block by block (:data:`BLOCK`
elements of every tensor at a time, so each block's seven passes stay in the cache) and
clips in the denominator, :math:`\hat\eta_t m_t = \alpha_t m_t /
\mathrm{clip}(\sqrt{v_t}+\epsilon, \alpha_t/\eta_u, \alpha_t/\eta_l)`, so the clipped
step never exists at full size.

Tests: float64, 200 steps on a small network and on Rosenbrock, parameters and state
against a transcription of the published update rule and against
``pytorch_optimizer.AdaBound`` (``weight_decouple=False``); Eq. (3) in closed form;
the fast path against the reference path.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import Tensor

from replearn.optim.base import ReplearnOptimizer, check_beta, check_flags, check_number
from replearn.registry import register

__all__ = [
    "BLOCK",
    "AdaBound",
    "adabound_bounds",
    "adabound_clipped_lr",
    "adabound_step_size",
    "adabound_update",
    "adabound_update_foreach",
]

BLOCK = 1 << 16
"""Elements per block of the fast path (256 KiB of float32: the block's work stays in cache)."""


def adabound_bounds(step: int, *, final_lr: float, gamma: float) -> tuple[float, float]:
    r"""Eq. (3): :math:`(\eta_l(t), \eta_u(t))` for an already schedule-scaled ``final_lr``."""
    return final_lr * (1 - 1 / (gamma * step + 1)), final_lr * (1 + 1 / (gamma * step))


def adabound_step_size(step: int, *, lr: float, beta1: float, beta2: float) -> float:
    r"""Eq. (2): Adam's bias-corrected step size :math:`\alpha_t`."""
    return lr * math.sqrt(1 - beta2**step) / (1 - beta1**step)


def adabound_clipped_lr(
    second_moment: Tensor,
    step: int,
    *,
    lr: float,
    final_lr: float,
    beta1: float,
    beta2: float,
    gamma: float,
    eps: float,
) -> Tensor:
    r"""Eqs. (2)-(4): the per-coordinate step :math:`\hat\eta_t` (a new tensor).

    Args:
        second_moment: :math:`v_t` (or :math:`v^{max}_t` for AMSBound).
        step: :math:`t` (1 on the first update).
        lr: :math:`\eta`.
        final_lr: :math:`\eta^* \eta / \eta_0`, the bounds' limit.
        beta1: :math:`\beta_1`.
        beta2: :math:`\beta_2`.
        gamma: :math:`\gamma`.
        eps: :math:`\epsilon`.
    """
    lower, upper = adabound_bounds(step, final_lr=final_lr, gamma=gamma)  # Eq. (3)
    denom = second_moment.sqrt().add_(eps)
    clipped = torch.full_like(denom, adabound_step_size(step, lr=lr, beta1=beta1, beta2=beta2))
    return clipped.div_(denom).clamp_(lower, upper)  # Eq. (4)


def adabound_update(
    param: Tensor,
    grad: Tensor,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    step: int,
    *,
    lr: float,
    final_lr: float,
    beta1: float,
    beta2: float,
    gamma: float,
    eps: float,
    weight_decay: float = 0.0,
    max_exp_avg_sq: Tensor | None = None,
) -> None:
    """One step of Eqs. (0)-(5) on one tensor; parameter and moments change in place.

    Args:
        param: :math:`\\theta`.
        grad: :math:`g_t`, not modified.
        exp_avg: :math:`m`.
        exp_avg_sq: :math:`v`.
        step: :math:`t` (1 on the first update).
        lr: :math:`\\eta` (current, after any schedule).
        final_lr: :math:`\\eta^* \\eta / \\eta_0`, the bounds' limit.
        beta1: :math:`\\beta_1`.
        beta2: :math:`\\beta_2`.
        gamma: :math:`\\gamma`.
        eps: :math:`\\epsilon`.
        weight_decay: :math:`\\lambda`.
        max_exp_avg_sq: :math:`v^{max}` for AMSBound; None for AdaBound.
    """
    if weight_decay != 0:
        grad = grad.add(param, alpha=weight_decay)  # Eq. (0)
    exp_avg.lerp_(grad, 1 - beta1)  # Eq. (1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    second = exp_avg_sq
    if max_exp_avg_sq is not None:
        torch.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        second = max_exp_avg_sq
    clipped = adabound_clipped_lr(
        second, step, lr=lr, final_lr=final_lr, beta1=beta1, beta2=beta2, gamma=gamma, eps=eps
    )  # Eqs. (2)-(4)
    param.sub_(clipped.mul_(exp_avg))  # Eq. (5)


def _blocks(*tensors: Tensor) -> Iterator[tuple[Tensor, ...]]:
    """Matching flat slices of at most :data:`BLOCK` elements (whole tensors if not contiguous)."""
    if not all(t.is_contiguous() for t in tensors):
        yield tensors
        return
    flat = [t.view(-1) for t in tensors]
    for i in range(0, flat[0].numel(), BLOCK):
        yield tuple(f[i : i + BLOCK] for f in flat)


def adabound_update_foreach(
    params: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    steps: list[int],
    *,
    lr: float,
    final_lr: float,
    beta1: float,
    beta2: float,
    gamma: float,
    eps: float,
    weight_decay: float = 0.0,
    max_exp_avg_sqs: list[Tensor] | None = None,
) -> None:
    """:func:`adabound_update` on lists of tensors, block by block.

    Every block of :data:`BLOCK` elements runs Eqs. (0)-(5) from start to end while it
    sits in the cache, with the clip of Eq. (4) moved into the denominator; the only
    allocation is one block-sized scratch tensor.
    """
    maxes = max_exp_avg_sqs if max_exp_avg_sqs is not None else [None] * len(params)
    scratch: dict[tuple[torch.dtype, torch.device], Tensor] = {}
    for param, grad, exp_avg, exp_avg_sq, v_max, step in zip(
        params, grads, exp_avgs, exp_avg_sqs, maxes, steps, strict=True
    ):
        lower, upper = adabound_bounds(step, final_lr=final_lr, gamma=gamma)  # Eq. (3)
        step_size = adabound_step_size(step, lr=lr, beta1=beta1, beta2=beta2)  # Eq. (2)
        # Eq. (4): clip(a / d, lower, upper) * m == a * m / clip(d, a / upper, a / lower)
        d_min = step_size / upper if upper > 0 else math.inf
        d_max = step_size / lower if lower > 0 else math.inf
        key = (param.dtype, param.device)
        if key not in scratch:
            scratch[key] = torch.empty(BLOCK, dtype=param.dtype, device=param.device)
        tensors = [param, grad, exp_avg, exp_avg_sq] + ([v_max] if v_max is not None else [])
        for p, g, m, v, *v_max_block in _blocks(*tensors):
            if weight_decay != 0:
                g = g.add(p, alpha=weight_decay)  # Eq. (0)
            m.lerp_(g, 1 - beta1)  # Eq. (1)
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            if v_max_block:
                v = torch.maximum(v_max_block[0], v, out=v_max_block[0])
            if upper == 0:  # the schedule took lr to 0: the clipped step is 0
                continue
            n = v.numel()
            out = scratch[key][:n].view(v.shape) if n <= BLOCK else torch.empty_like(v)
            denom = torch.sqrt(v, out=out).add_(eps).clamp_(d_min, d_max)  # Eq. (4)
            p.addcdiv_(m, denom, value=-step_size)  # Eq. (5)


@register(
    "optim.adabound",
    paper="Luo, Xiong, Liu & Sun 2019, ICLR, arXiv:1902.09843 (AdaBound)",
    reference="the published update rule (Luolc/AdaBound); pytorch_optimizer.AdaBound",
)
class AdaBound(ReplearnOptimizer):
    """AdaBound / AMSBound (Eqs. 0-5), with the authors' signature.

    Args:
        params: parameters or parameter groups (dicts) to optimize.
        lr: Adam-phase learning rate :math:`\\eta_0` > 0.
        betas: :math:`(\\beta_1, \\beta_2)`, each in [0, 1).
        final_lr: SGD-phase learning rate :math:`\\eta^*` >= 0 the bounds converge to.
        gamma: convergence speed :math:`\\gamma` > 0 of the bounds.
        eps: :math:`\\epsilon` >= 0.
        weight_decay: L2 coefficient :math:`\\lambda` >= 0.
        amsbound: use the running maximum of :math:`v` (AMSBound).
        maximize: ascend the objective instead.
        foreach: fast path (None: on accelerators only).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        final_lr: float = 0.1,
        gamma: float = 1e-3,
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsbound: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            final_lr=final_lr,
            gamma=gamma,
            eps=eps,
            weight_decay=weight_decay,
            amsbound=amsbound,
            maximize=maximize,
            foreach=foreach,
        )
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group and remember its initial lr as ``base_lr`` (:math:`\\eta_0`)."""
        super().add_param_group(param_group)
        self.param_groups[-1].setdefault("base_lr", self.param_groups[-1]["lr"])

    def check_group(self, group: dict[str, Any]) -> None:
        check_number("lr", group["lr"], low_open=True)
        check_beta("betas", group["betas"])
        check_number("final_lr", group["final_lr"])
        check_number("gamma", group["gamma"], low_open=True)
        check_number("eps", group["eps"])
        check_number("weight_decay", group["weight_decay"])
        if not isinstance(group["amsbound"], bool):
            raise ValueError(f"amsbound must be True or False, got {group['amsbound']!r}")
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
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                if group["amsbound"] and "max_exp_avg_sq" not in state:
                    state["max_exp_avg_sq"] = torch.zeros_like(p)
                states.append(state)
            steps = self.step_counters(states)
            beta1, beta2 = group["betas"]
            hyper = dict(
                lr=group["lr"],
                final_lr=group["final_lr"] * group["lr"] / group["base_lr"],
                beta1=beta1,
                beta2=beta2,
                gamma=group["gamma"],
                eps=group["eps"],
                weight_decay=group["weight_decay"],
            )
            exp_avgs = [s["exp_avg"] for s in states]
            exp_avg_sqs = [s["exp_avg_sq"] for s in states]
            maxes = [s["max_exp_avg_sq"] for s in states] if group["amsbound"] else None
            if self.use_foreach(group, params):
                adabound_update_foreach(
                    params, grads, exp_avgs, exp_avg_sqs, steps, max_exp_avg_sqs=maxes, **hyper
                )
            else:
                for i, (p, g, t) in enumerate(zip(params, grads, steps, strict=True)):
                    v_max = maxes[i] if maxes is not None else None
                    adabound_update(
                        p, g, exp_avgs[i], exp_avg_sqs[i], t, max_exp_avg_sq=v_max, **hyper
                    )
        return loss
