r"""Adam, AdamW (decoupled weight decay) and AMSGrad (a non-decreasing second moment).

Papers: D. P. Kingma & J. Ba, "Adam: a method for stochastic optimization", ICLR
2015, arXiv:1412.6980 (Algorithm 1); I. Loshchilov & F. Hutter, "Decoupled weight
decay regularization", ICLR 2019, arXiv:1711.05101 (Algorithm 2, AdamW); S. J.
Reddi, S. Kale & S. Kumar, "On the convergence of Adam and beyond", ICLR 2018,
arXiv:1904.09237 (Algorithm 2, AMSGrad).

With gradient :math:`g_t`, learning rate :math:`\eta`, decay rates
:math:`\beta_1, \beta_2` and weight decay :math:`\lambda`:

.. math::

    g_t \leftarrow g_t + \lambda\theta_{t-1}                       \qquad (0)\ \text{Adam + L2}

    m_t = \beta_1 m_{t-1} + (1 - \beta_1)\, g_t                    \qquad (1)\ \text{first moment}

    v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t \odot g_t          \qquad (2)\ \text{second moment}

    \hat m_t = \frac{m_t}{1 - \beta_1^t}, \quad
    \hat v_t = \frac{v_t}{1 - \beta_2^t}                          \qquad (3)\ \text{bias correction}

    \theta_t = \theta_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}
                                                                    \qquad (4)\ \text{update}

    \theta_{t-1} \leftarrow (1 - \eta\lambda)\, \theta_{t-1}    \qquad (5)\ \text{AdamW, before (4)}

    v^{max}_t = \max(v^{max}_{t-1}, v_t), \text{ used for } v_t \text{ in (3)-(4)}
                                                                    \qquad (6)\ \text{AMSGrad}

Adam + L2 (Eq. 0) adds the penalty's gradient, which (2)-(4) then rescale per
coordinate; AdamW (Eq. 5) shrinks the weights outside the adaptive step, so the two
stop at different points. Deviations, all as in ``torch.optim``: AdamW multiplies
:math:`\lambda` by the learning rate :math:`\eta` (the paper by the schedule multiplier
only); AMSGrad keeps Adam's bias correction (the paper has none) and takes the maximum
of the uncorrected :math:`v_t`. The arithmetic follows torch's order
(:math:`\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon`). Sparse gradients are not supported.

Tests: float64, 200 steps on a small network and on Rosenbrock, parameters and state
(``step``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``) against ``torch.optim.Adam``,
``torch.optim.AdamW`` and ``Adam(amsgrad=True)``; a torch ``state_dict`` loads and
continues; the foreach path against the reference path.

See docs/corrections.md#optimization (AMSGrad's second moment is non-decreasing).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from replearn.optim.base import ReplearnOptimizer, check_beta, check_flags, check_number
from replearn.registry import register

__all__ = ["AMSGrad", "Adam", "AdamW", "adam_update", "adam_update_foreach"]


def adam_update(
    param: Tensor,
    grad: Tensor,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    step: int,
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    max_exp_avg_sq: Tensor | None = None,
) -> None:
    """One step of Eqs. (0)-(6) on one tensor; parameter and moments change in place.

    Args:
        param: :math:`\\theta`.
        grad: :math:`g_t`, not modified.
        exp_avg: :math:`m`.
        exp_avg_sq: :math:`v`.
        step: :math:`t` (1 on the first update).
        lr: :math:`\\eta`.
        beta1: :math:`\\beta_1`.
        beta2: :math:`\\beta_2`.
        eps: :math:`\\epsilon`.
        weight_decay: :math:`\\lambda`.
        decoupled_weight_decay: AdamW's Eq. (5) instead of Eq. (0).
        max_exp_avg_sq: :math:`v^{max}` for AMSGrad (Eq. 6); None for Adam.
    """
    if weight_decay != 0:
        if decoupled_weight_decay:
            param.mul_(1 - lr * weight_decay)  # Eq. (5)
        else:
            grad = grad.add(param, alpha=weight_decay)  # Eq. (0)
    exp_avg.lerp_(grad, 1 - beta1)  # Eq. (1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)  # Eq. (2)
    bias_correction1 = 1 - beta1**step  # Eq. (3)
    bias_correction2_sqrt = (1 - beta2**step) ** 0.5
    second = exp_avg_sq
    if max_exp_avg_sq is not None:
        torch.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)  # Eq. (6)
        second = max_exp_avg_sq
    denom = (second.sqrt() / bias_correction2_sqrt).add_(eps)
    param.addcdiv_(exp_avg, denom, value=-lr / bias_correction1)  # Eq. (4)


def adam_update_foreach(
    params: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    steps: list[int],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    max_exp_avg_sqs: list[Tensor] | None = None,
) -> None:
    """:func:`adam_update` on lists of tensors with ``torch._foreach_*`` kernels."""
    if weight_decay != 0:
        if decoupled_weight_decay:
            torch._foreach_mul_(params, 1 - lr * weight_decay)  # Eq. (5)
        else:
            grads = list(torch._foreach_add(grads, params, alpha=weight_decay))  # Eq. (0)
    torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)  # Eq. (1)
    torch._foreach_mul_(exp_avg_sqs, beta2)  # Eq. (2)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
    minus_step_size = [-lr / (1 - beta1**t) for t in steps]  # Eq. (3)
    bias_correction2_sqrt = [(1 - beta2**t) ** 0.5 for t in steps]
    second = exp_avg_sqs
    if max_exp_avg_sqs is not None:
        torch._foreach_maximum_(max_exp_avg_sqs, exp_avg_sqs)  # Eq. (6)
        second = max_exp_avg_sqs
    denom = torch._foreach_sqrt(second)
    torch._foreach_div_(denom, bias_correction2_sqrt)
    torch._foreach_add_(denom, eps)
    torch._foreach_addcdiv_(params, exp_avgs, denom, minus_step_size)  # Eq. (4)


_HYPER = ("lr", "eps", "weight_decay", "decoupled_weight_decay")


@register(
    "optim.adam",
    paper="Kingma & Ba 2015, arXiv:1412.6980 (Adam)",
    reference="torch.optim.Adam (weight decay, amsgrad, decoupled_weight_decay)",
)
class Adam(ReplearnOptimizer):
    """Adam (Eqs. 0-4; Eq. 6 with ``amsgrad``); drop-in for ``torch.optim.Adam``.

    Args:
        params: parameters or parameter groups (dicts) to optimize.
        lr: learning rate :math:`\\eta` >= 0.
        betas: :math:`(\\beta_1, \\beta_2)`, each in [0, 1).
        eps: :math:`\\epsilon` >= 0.
        weight_decay: :math:`\\lambda` >= 0 (L2, Eq. 0; decoupled, Eq. 5, if asked).
        amsgrad: AMSGrad's maximum of second moments (Eq. 6).
        foreach: fast path (None: on accelerators only).
        maximize: ascend the objective instead.
        capturable: must be False (torch-only).
        differentiable: must be False (torch-only).
        fused: must be None or False (torch-only).
        decoupled_weight_decay: AdamW's decay (Eq. 5) instead of L2.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def check_group(self, group: dict[str, Any]) -> None:
        check_number("lr", group["lr"])
        check_beta("betas", group["betas"])
        check_number("eps", group["eps"])
        check_number("weight_decay", group["weight_decay"])
        for name in ("amsgrad", "decoupled_weight_decay"):
            if not isinstance(group[name], bool):
                raise ValueError(f"{name} must be True or False, got {group[name]!r}")
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
                if group["amsgrad"] and "max_exp_avg_sq" not in state:
                    state["max_exp_avg_sq"] = torch.zeros_like(p)
                states.append(state)
            steps = self.step_counters(states)
            beta1, beta2 = group["betas"]
            hyper = dict(beta1=beta1, beta2=beta2, **{k: group[k] for k in _HYPER})
            exp_avgs = [s["exp_avg"] for s in states]
            exp_avg_sqs = [s["exp_avg_sq"] for s in states]
            maxes = [s["max_exp_avg_sq"] for s in states] if group["amsgrad"] else None
            if self.use_foreach(group, params):
                adam_update_foreach(
                    params, grads, exp_avgs, exp_avg_sqs, steps, max_exp_avg_sqs=maxes, **hyper
                )
            else:
                for i, (p, g, t) in enumerate(zip(params, grads, steps, strict=True)):
                    v_max = maxes[i] if maxes is not None else None
                    adam_update(p, g, exp_avgs[i], exp_avg_sqs[i], t, max_exp_avg_sq=v_max, **hyper)
        return loss


@register(
    "optim.adamw",
    paper="Loshchilov & Hutter 2019, arXiv:1711.05101 (AdamW)",
    reference="torch.optim.AdamW (weight decay, amsgrad)",
)
class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay (Eq. 5); drop-in for ``torch.optim.AdamW``.

    Same arguments as :class:`Adam` less ``decoupled_weight_decay`` (always on);
    ``weight_decay`` defaults to 1e-2 as in torch.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )


@register(
    "optim.amsgrad",
    paper="Reddi, Kale & Kumar 2018, arXiv:1904.09237 (AMSGrad)",
    reference="torch.optim.Adam(amsgrad=True)",
)
class AMSGrad(Adam):
    """AMSGrad: Adam whose second moment never decreases (Eq. 6); ``Adam(amsgrad=True)``.

    Same arguments as :class:`Adam` less ``amsgrad`` (always on).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            True,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=decoupled_weight_decay,
        )
