r"""Backpropagation written out by hand: one reverse-mode pass over an MLP, layer by layer.

Paper: D. E. Rumelhart, G. E. Hinton & R. J. Williams, "Learning representations
by back-propagating errors", *Nature* 323, 1986 (reverse-mode differentiation
itself: S. Linnainmaa, 1970; P. Werbos, 1974/1982). Its cost is a constant multiple of
one forward pass, linear in the number of weights (see
docs/corrections.md#fundamentals-and-history).

For the MLP of :mod:`replearn.fundamentals.mlp` with pre-activations
:math:`z_\ell = h_{\ell-1} W_\ell^\top + b_\ell`, :math:`h_\ell = \sigma(z_\ell)`
(rows are examples, :math:`h_0 = x`), logits :math:`f = z_{L+1}` and the mean
cross-entropy :math:`\mathcal{L} = -\frac{1}{N}\sum_n \log \mathrm{softmax}(f_n)_{y_n}`,
the reverse pass carries :math:`\delta_\ell = \partial \mathcal{L} / \partial z_\ell`:

.. math::

    \delta_{L+1} = \tfrac{1}{N}\,(\mathrm{softmax}(f) - \mathrm{onehot}(y))
                                                              \qquad (1)\ \text{output error}

    \frac{\partial \mathcal{L}}{\partial W_\ell} = \delta_\ell^\top h_{\ell-1}, \qquad
    \frac{\partial \mathcal{L}}{\partial b_\ell} = \textstyle\sum_n \delta_{\ell, n}
                                                              \qquad (2)\ \text{weight gradients}

    \delta_{\ell-1} = (\delta_\ell W_\ell) \odot \sigma'(z_{\ell-1})
                                                              \qquad (3)\ \text{backward step}

with :math:`\sigma' = 1 - \tanh^2`, :math:`s(1 - s)` for the sigmoid and
:math:`\mathbb{1}[z > 0]` for ReLU.

**Cost.** A layer's forward pass is one matrix product, :math:`2 N n_{\ell-1} n_\ell`
floating-point operations; its backward pass is two, Eq. (2) and the :math:`\delta W`
of Eq. (3), each of the same size (the first layer needs only Eq. 2). So

.. math::

    C_\text{backward} \le 2\, C_\text{forward}, \qquad
    C_\text{forward} = 2 N \textstyle\sum_\ell n_{\ell-1} n_\ell = 2 N |W|
                                                              \qquad (4)\ \text{cost}

which is linear in the number of weights :math:`|W|` (the cheap-gradient principle: a
gradient costs a small constant multiple of a function evaluation, Baur & Strassen
1983; Griewank & Walther 2008, *Evaluating Derivatives*, §4.6). It is *not* quadratic,
and not one extra forward pass per weight (finite differences would be).

Deviations: none; the activation's non-differentiable point (ReLU at 0) takes the
derivative 0, as torch does.

Tests check :func:`backprop` against ``torch.autograd`` on the same
:class:`~replearn.fundamentals.mlp.MLP` in float64 (rtol 1e-10) for every activation, and
:func:`matmul_flops` against the closed form.
"""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor

from replearn.fundamentals.mlp import MLP
from replearn.registry import register

__all__ = [
    "activation_derivative",
    "backprop",
    "forward_cache",
    "linear_backward",
    "matmul_flops",
    "output_error",
]


def activation_derivative(name: str, z: Tensor, h: Tensor) -> Tensor:
    r""":math:`\sigma'(z)`, from the pre-activation ``z`` and the activation ``h = σ(z)``.

    Shape:
        z, h: (N, n) -> (N, n).
    """
    if name == "tanh":
        return 1.0 - h * h
    if name == "sigmoid":
        return h * (1.0 - h)
    if name == "relu":
        return (z > 0).to(z.dtype)
    raise ValueError(f"backprop is written for tanh, sigmoid and relu, not {name!r}")


def forward_cache(model: MLP, x: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    r"""The forward pass, keeping what the reverse pass needs: all :math:`z_\ell`, :math:`h_\ell`.

    Returns ``(zs, hs)`` with ``hs[0] = x``, ``zs[l-1]`` the pre-activation of layer l, and
    ``zs[-1]`` the logits.

    Shape:
        x: (N, n_0) -> zs: [(N, n_1), ..., (N, n_{L+1})]; hs: [(N, n_0), ..., (N, n_L)].
    """
    act = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": F.relu}[model.activation]
    hs, zs = [x], []
    for i, layer in enumerate(model.layers):
        z = hs[-1] @ layer.weight.T + layer.bias  # (N, n_l)
        zs.append(z)
        if i < len(model.layers) - 1:
            hs.append(act(z))
    return zs, hs


def output_error(logits: Tensor, y: Tensor) -> Tensor:
    r"""Eq. (1): :math:`\delta_{L+1} = (\mathrm{softmax}(f) - \mathrm{onehot}(y)) / N`.

    Shape:
        logits: (N, K); y: (N,) int64 -> (N, K).
    """
    p = torch.softmax(logits, dim=-1)  # (N, K)
    return (p - F.one_hot(y, logits.shape[-1]).to(p.dtype)) / logits.shape[0]


def linear_backward(delta: Tensor, h_in: Tensor, weight: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    r"""Eqs. (2)-(3) before the activation: :math:`(\delta^\top h,\ \sum_n \delta_n,\ \delta W)`.

    Shape:
        delta: (N, n_out); h_in: (N, n_in); weight: (n_out, n_in)
        -> dW: (n_out, n_in), db: (n_out,), dh_in: (N, n_in).
    """
    return delta.T @ h_in, delta.sum(0), delta @ weight


@register(
    "fundamentals.backprop",
    paper="Rumelhart, Hinton & Williams 1986, Nature 323; Linnainmaa 1970 (reverse mode)",
    reference="torch.autograd on the same MLP, float64 (rtol 1e-10); closed-form FLOP count",
)
def backprop(model: MLP, x: Tensor, y: Tensor) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
    r"""Loss and gradients of the mean cross-entropy of ``model`` by Eqs. (1)-(3), no autograd.

    Args:
        model: a :class:`~replearn.fundamentals.mlp.MLP` with ``tanh``, ``sigmoid`` or
            ``relu`` hidden units, biases and no dropout (``flatten`` is honoured).
        x: inputs; y: integer class labels.

    Returns:
        ``(loss, [(dW_1, db_1), ..., (dW_{L+1}, db_{L+1})])`` in the order of ``model.layers``.

    Shape:
        x: (N, n_0) (or (N, *) with ``flatten``); y: (N,) -> loss: (), dW_l like layer l's weight.
    """
    if model.dropout > 0 and model.training:
        raise ValueError("backprop is written for an MLP without dropout")
    if model.activation not in ("tanh", "sigmoid", "relu"):
        raise ValueError(
            f"backprop is written for tanh, sigmoid and relu, not {model.activation!r}"
        )
    if any(layer.bias is None for layer in model.layers):
        raise ValueError("backprop is written for layers with biases")
    if model.flatten:
        x = x.flatten(1)
    with torch.no_grad():
        zs, hs = forward_cache(model, x)
        logits = zs[-1]
        loss = F.cross_entropy(logits, y)
        delta = output_error(logits, y)  # (N, K), Eq. (1)
        grads: list[tuple[Tensor, Tensor]] = []
        for i in range(len(model.layers) - 1, -1, -1):
            dw, db, dh = linear_backward(delta, hs[i], model.layers[i].weight)  # Eq. (2)
            grads.append((dw, db))
            if i > 0:
                delta = dh * activation_derivative(model.activation, zs[i - 1], hs[i])  # Eq. (3)
    return loss, grads[::-1]


def matmul_flops(widths: list[int] | tuple[int, ...], batch: int) -> tuple[int, int]:
    r"""Eq. (4): multiply-add FLOPs of the forward and backward matrix products of an MLP.

    Forward :math:`2N\sum_\ell n_{\ell-1}n_\ell`; backward twice that, less the first layer's
    unneeded :math:`\delta_1 W_1`. Elementwise work (activations, biases) is not counted.

    Args:
        widths: :math:`(n_0, n_1, \dots, n_{L+1})`.
        batch: :math:`N`.

    Returns:
        ``(forward_flops, backward_flops)``.
    """
    if len(widths) < 2 or min(widths) < 1 or batch < 1:
        raise ValueError("need at least two positive widths and a positive batch")
    per_layer = [2 * batch * a * b for a, b in pairwise(widths)]
    forward = sum(per_layer)
    return forward, 2 * forward - per_layer[0]
