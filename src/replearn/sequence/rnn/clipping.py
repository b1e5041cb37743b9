r"""Gradient clipping against exploding gradients: by global norm and by value.

Papers: T. Mikolov, "Statistical Language Models Based on Neural Networks", PhD thesis, Brno,
2012 (clipping by value); R. Pascanu, T. Mikolov & Y. Bengio, "On the difficulty of training
recurrent neural networks", ICML 2013, arXiv:1211.5063, Algorithm 1 (clipping by norm).

Let :math:`g` be all the gradients concatenated into one vector. Clipping by global norm
(:func:`clip_by_global_norm`) rescales it when its norm exceeds the threshold :math:`c`,
keeping its direction:

.. math::

    \lVert g \rVert_p = \Big(\sum_k \lVert g_k \rVert_p^p\Big)^{1/p},\qquad
    g \leftarrow g \cdot \min\Big(1, \frac{c}{\lVert g \rVert + \epsilon}\Big)      \qquad (1)

which is the course's :math:`g \leftarrow g\, c / \lVert g \rVert` if :math:`\lVert g \rVert >
c` up to :math:`\epsilon = 10^{-6}` (torch's guard against a zero norm; kept so the results are
identical). Clipping by value (:func:`clip_by_value`) clamps every entry, which can change the
direction:

.. math::

    g_i \leftarrow \max(-c, \min(c, g_i))                                             \qquad (2)

A non-finite norm (an Inf or NaN gradient) cannot be clipped meaningfully: with
``error_if_nonfinite=True`` it raises ``RuntimeError`` (as torch does); otherwise the scale is
:math:`c/\infty = 0` or NaN and propagates, exactly as in torch, so a NaN guard can see it.

The pure functions take and return lists of tensors; :func:`clip_grad_norm` and
:func:`clip_grad_value` apply them to the ``.grad`` of parameters in place.

Tests: equal to ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_`` (clipped gradients
and the returned norm, p = 1, 2, inf, below and above the threshold, Inf and NaN gradients,
``error_if_nonfinite``); the direction is kept by Eq. (1).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from replearn.registry import register

__all__ = [
    "clip_by_global_norm",
    "clip_by_value",
    "clip_grad_norm",
    "clip_grad_value",
    "global_norm",
]

EPS = 1e-6


def global_norm(tensors: list[Tensor], norm_type: float = 2.0) -> Tensor:
    r"""Eq. (1), left: the p-norm of all tensors seen as one vector (max-abs for p = inf).

    Shape:
        any shapes -> ().
    """
    if not tensors:
        return torch.tensor(0.0)
    p = float(norm_type)
    norms = torch.stack([torch.linalg.vector_norm(t, p) for t in tensors])  # (K,)
    return torch.linalg.vector_norm(norms, p)


def clip_by_global_norm(
    grads: list[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    *,
    error_if_nonfinite: bool = False,
) -> tuple[list[Tensor], Tensor]:
    r"""Eq. (1): :math:`g \cdot \min(1, c / (\lVert g \rVert + \epsilon))`; returns (clipped, norm).

    Shape:
        grads: any shapes -> same shapes, and the norm ().
    """
    total = global_norm(grads, norm_type)
    if error_if_nonfinite and not torch.isfinite(total):
        raise RuntimeError(f"the total gradient norm is {float(total)}: cannot clip it")
    scale = torch.clamp(max_norm / (total + EPS), max=1.0)  # 1 when ||g|| <= c
    return [g * scale.to(g.device, g.dtype) for g in grads], total


def clip_by_value(grads: list[Tensor], clip_value: float) -> list[Tensor]:
    r"""Eq. (2): every entry clamped to :math:`[-c, c]`.

    Shape:
        any shapes -> same shapes.
    """
    c = float(clip_value)
    return [g.clamp(-c, c) for g in grads]


def _with_grads(params: Iterable[Tensor] | Tensor) -> list[Tensor]:
    params = [params] if isinstance(params, Tensor) else list(params)
    return [p for p in params if p.grad is not None]


@register(
    "sequence.clip_grad_norm",
    paper="Pascanu, Mikolov & Bengio 2013, arXiv:1211.5063, Algorithm 1",
    reference="torch.nn.utils.clip_grad_norm_ (gradients and returned norm, Inf/NaN cases)",
)
def clip_grad_norm(
    params: Iterable[Tensor] | Tensor,
    max_norm: float,
    norm_type: float = 2.0,
    *,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Clip the ``.grad`` of ``params`` in place by global norm (Eq. 1); return the norm before."""
    if not max_norm >= 0:
        raise ValueError(f"max_norm must be >= 0, got {max_norm}")
    params = _with_grads(params)
    clipped, total = clip_by_global_norm(
        [p.grad for p in params], max_norm, norm_type, error_if_nonfinite=error_if_nonfinite
    )
    with torch.no_grad():
        for p, g in zip(params, clipped, strict=True):
            p.grad.copy_(g)
    return total


@register(
    "sequence.clip_grad_value",
    paper="Mikolov 2012, PhD thesis (Brno University of Technology)",
    reference="torch.nn.utils.clip_grad_value_",
)
def clip_grad_value(params: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every entry of the ``.grad`` of ``params`` to ``[-clip_value, clip_value]`` (Eq. 2)."""
    if not clip_value >= 0:
        raise ValueError(f"clip_value must be >= 0, got {clip_value}")
    params = _with_grads(params)
    clipped = clip_by_value([p.grad for p in params], clip_value)
    with torch.no_grad():
        for p, g in zip(params, clipped, strict=True):
            p.grad.copy_(g)
