r"""Parameter norm penalties: L1, L2, and how L2 relates to (decoupled) weight decay.

References: I. Goodfellow, Y. Bengio & A. Courville, *Deep Learning*, MIT Press
2016, §7.1 (parameter norm penalties); A. Krogh & J. Hertz, "A simple weight
decay can improve generalization", NeurIPS 1991; R. Tibshirani, "Regression
shrinkage and selection via the lasso", JRSS-B 58, 1996 (L1, soft thresholding);
I. Loshchilov & F. Hutter, "Decoupled Weight Decay Regularization", ICLR 2019,
arXiv:1711.05101 (AdamW).

A penalty :math:`\Omega` is added to the objective with strength :math:`\lambda`:

.. math::

    \tilde J(\theta) = J(\theta) + \lambda\, \Omega(w)                      \qquad (7.1)

    \Omega_{L2}(w) = \tfrac12 \lVert w \rVert_2^2, \quad
    \nabla_w\, \lambda\Omega_{L2} = \lambda w                                \qquad (7.2\text{-}7.3)

    \Omega_{L1}(w) = \lVert w \rVert_1 = \textstyle\sum_i |w_i|, \quad
    \nabla_w\, \lambda\Omega_{L1} = \lambda\, \mathrm{sign}(w)          \qquad (7.19\text{-}7.20)

**L2 is weight decay for SGD.** One gradient step on :math:`\tilde J` is

.. math::

    w \leftarrow w - \eta(\nabla J + \lambda w) = (1 - \eta\lambda)\, w - \eta \nabla J \qquad (7.5)

so the weights shrink by a constant factor each step: ``torch.optim.SGD(weight_decay=λ)``
adds :math:`\lambda w` to the gradient, which is exactly the L2 penalty (momentum included).

**Not for Adam.** Adam divides the gradient, penalty included, by
:math:`\sqrt{\hat v}`, so weights with large gradient history are decayed less
(``torch.optim.Adam(weight_decay=λ)`` is this coupled L2). AdamW decouples the decay
from the adaptive step (Loshchilov & Hutter 2019, Algorithm 2, line 12):

.. math::

    w \leftarrow w - \eta\lambda\, w - \eta\, \hat m / (\sqrt{\hat v} + \epsilon) \qquad (AdamW)

The tests show: L2 penalty + SGD equals SGD(weight_decay) after N steps; Adam +
L2 penalty equals Adam(weight_decay) but differs from AdamW; AdamW equals Adam
with no decay preceded by :func:`decoupled_weight_decay_step`.

**L1 gives exact zeros** with the proximal step (soft thresholding, the lasso's
solution for an orthogonal design, Goodfellow Eq. 7.23):

.. math::

    w \leftarrow \mathrm{sign}(w)\, \max(|w| - \eta\lambda,\ 0)

whereas the subgradient step :math:`\lambda\,\mathrm{sign}(w)` only makes small
weights oscillate around zero (hence :func:`sparsity` counts weights below a tolerance).

Following §7.1, penalties are applied to weights, not biases:
:func:`weight_parameters` keeps the parameters with two or more dimensions.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from replearn.registry import register

__all__ = [
    "decoupled_weight_decay_step",
    "l1_penalty",
    "l2_penalty",
    "sgd_weight_decay_step",
    "soft_threshold",
    "sparsity",
    "weight_norm",
    "weight_parameters",
]


def weight_parameters(module: nn.Module) -> list[nn.Parameter]:
    """The parameters a norm penalty applies to: weights (``ndim >= 2``), not biases or gains.

    Args:
        module: any module.

    Returns:
        The trainable parameters with at least two dimensions, in ``parameters()`` order.
    """
    return [p for p in module.parameters() if p.ndim >= 2 and p.requires_grad]


@register(
    "regularize.l1",
    paper="Tibshirani 1996 (lasso), JRSS-B 58; Goodfellow et al. 2016, Deep Learning §7.1.2",
    reference="closed form sum|w|; subgradient lambda*sign(w) by autograd; soft thresholding",
)
def l1_penalty(params: Iterable[Tensor], weight: float) -> Tensor:
    r"""Eq. (7.19): :math:`\lambda \lVert w \rVert_1 = \lambda \sum_i |w_i|` over all tensors.

    Args:
        params: the tensors to penalise (usually :func:`weight_parameters`).
        weight: :math:`\lambda \ge 0`.

    Shape:
        params: any shapes -> scalar ().
    """
    if weight < 0:
        raise ValueError(f"the L1 weight must be >= 0, got {weight}")
    terms = [p.abs().sum() for p in params]
    if not terms:
        return torch.zeros(())
    return weight * torch.stack(terms).sum()


@register(
    "regularize.l2",
    paper="Krogh & Hertz 1991, NeurIPS; Goodfellow et al. 2016, Deep Learning §7.1.1",
    reference="torch.optim.SGD(weight_decay=) after N steps; Adam(weight_decay=) vs AdamW",
)
def l2_penalty(params: Iterable[Tensor], weight: float) -> Tensor:
    r"""Eq. (7.2): :math:`\tfrac{\lambda}{2} \lVert w \rVert_2^2`, with gradient :math:`\lambda w`.

    The factor 1/2 makes ``weight`` equal to torch's ``weight_decay``.

    Args:
        params: the tensors to penalise (usually :func:`weight_parameters`).
        weight: :math:`\lambda \ge 0`.

    Shape:
        params: any shapes -> scalar ().
    """
    if weight < 0:
        raise ValueError(f"the L2 weight must be >= 0, got {weight}")
    terms = [p.square().sum() for p in params]
    if not terms:
        return torch.zeros(())
    return 0.5 * weight * torch.stack(terms).sum()


def sgd_weight_decay_step(w: Tensor, grad: Tensor, lr: float, weight_decay: float) -> Tensor:
    r"""Eq. (7.5): :math:`w' = (1 - \eta\lambda) w - \eta \nabla J` (SGD on the L2-penalised loss).

    Args:
        w: parameters :math:`w`.
        grad: :math:`\nabla J(w)` of the unpenalised loss.
        lr: :math:`\eta`.
        weight_decay: :math:`\lambda`.

    Shape:
        w, grad: (*) -> (*).
    """
    return (1.0 - lr * weight_decay) * w - lr * grad


def decoupled_weight_decay_step(w: Tensor, lr: float, weight_decay: float) -> Tensor:
    r"""AdamW's decay, separate from the gradient step: :math:`w' = (1 - \eta\lambda)\, w`.

    Applied before an Adam step *without* decay it reproduces ``torch.optim.AdamW``.

    Args:
        w: parameters.
        lr: :math:`\eta`.
        weight_decay: :math:`\lambda`.

    Shape:
        w: (*) -> (*).
    """
    return w * (1.0 - lr * weight_decay)


def soft_threshold(w: Tensor, threshold: float) -> Tensor:
    r"""L1's proximal step: :math:`\mathrm{sign}(w)\max(|w| - \tau, 0)`, :math:`\tau = \eta\lambda`.

    Weights with :math:`|w| \le \tau` become exactly zero.

    Args:
        w: parameters.
        threshold: :math:`\tau \ge 0`.

    Shape:
        w: (*) -> (*).
    """
    if threshold < 0:
        raise ValueError(f"threshold must be >= 0, got {threshold}")
    return torch.sign(w) * torch.clamp(w.abs() - threshold, min=0.0)


def sparsity(params: Iterable[Tensor], tol: float = 1e-3) -> float:
    r"""Fraction of entries with :math:`|w_i| \le` ``tol`` over all tensors.

    Shape:
        params: any shapes -> a Python float in [0, 1].
    """
    params = list(params)
    total = sum(p.numel() for p in params)
    small = sum(int((p.detach().abs() <= tol).sum()) for p in params)
    return small / max(total, 1)


def weight_norm(params: Iterable[Tensor]) -> float:
    r""":math:`\lVert w \rVert_2` over all tensors together.

    Shape:
        params: any shapes -> a Python float.
    """
    return float(sum(p.detach().double().square().sum() for p in params) ** 0.5)
