r"""Convolutions from scratch: im2col, 1-D / 2-D, transposed, depthwise-separable, causal dilated.

Papers: Y. LeCun, L. Bottou, Y. Bengio & P. Haffner, "Gradient-based learning
applied to document recognition", Proc. IEEE 86(11), 1998 (convolutional
networks); V. Dumoulin & F. Visin, "A guide to convolution arithmetic for deep
learning", 2016, arXiv:1603.07285 (transposed convolution); F. Chollet,
"Xception", CVPR 2017, arXiv:1610.02357 (depthwise-separable); A. van den Oord
et al., "WaveNet", 2016, arXiv:1609.03499 (causal dilated convolution).

A (cross-correlation) convolution with kernel :math:`W \in \mathbb{R}^{C_{out}
\times C_{in}/G \times K_h \times K_w}` in :math:`G` groups, stride :math:`S`,
zero padding :math:`P` and dilation :math:`D` computes, for output channel
:math:`o` in group :math:`g`,

.. math::

    y_{o,i,j} = b_o + \sum_{c \in g} \sum_{u, v}
        W_{o,c,u,v}\, \tilde x_{c,\, iS_h + uD_h,\, jS_w + vD_w}            \qquad (1)

with :math:`\tilde x` the padded input. im2col gathers every window into a
column, so (1) is one matrix product per group:
:math:`Y_g = W_g\, \mathrm{cols}_g(\tilde x)` with
:math:`W_g \in \mathbb{R}^{C_{out}/G \times (C_{in}/G) K_h K_w}` (2).

The transposed convolution (the adjoint of (1), Dumoulin & Visin §4) is a
stride-1 convolution, with the kernel flipped and its channel axes swapped, of
the input with :math:`S - 1` zeros inserted between units and padded by
:math:`D(K-1) - P` on each side (plus ``output_padding`` on the far side) (3).
A causal convolution pads only the past: :math:`y_t` depends on
:math:`x_{t - D(K-1)}, \dots, x_t` (4); WaveNet stacks them with dilations
:math:`1, 2, 4, \dots`. A depthwise-separable convolution is a depthwise
(:math:`G = C_{in}`) convolution followed by a pointwise :math:`1 \times 1` one,
with no non-linearity between them (5).

These are the **verified reference** implementations, written for reading:
there is no fast path, and the models of the course use torch's kernels.
Deviations: only zero padding (no ``padding_mode``); the bias of a separable
convolution sits on its pointwise part (as in Keras ``SeparableConv2D``).
Tests check outputs and gradients (input, weight, bias) in float64 against
``F.conv1d``, ``F.conv2d``, ``F.conv_transpose2d`` (incl. ``output_padding``)
and ``F.unfold`` over hypothesis-generated shapes and hyperparameters, and the
modules' ``state_dict`` against ``torch.nn.Conv1d/Conv2d/ConvTranspose2d``.

See docs/corrections.md#cnns (a transposed convolution is the adjoint, not the inverse;
sharing saves parameters, not FLOPs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor

from replearn.cnn.arithmetic import conv_output_size, conv_transpose_output_size

__all__ = [
    "IntOrTuple",
    "Padding",
    "causal_conv1d",
    "conv1d",
    "conv2d",
    "conv_transpose2d",
    "depthwise_separable_conv2d",
    "im2col",
    "pad",
    "padding_pairs",
    "to_tuple",
]

IntOrTuple = int | Sequence[int]
Padding = IntOrTuple | str


def to_tuple(value: IntOrTuple, n: int, name: str = "value") -> tuple[int, ...]:
    """``3 -> (3, 3)`` for ``n = 2``; a sequence must already have ``n`` entries."""
    out = (value,) * n if isinstance(value, int) else tuple(value)
    if len(out) != n or not all(isinstance(v, int) for v in out):
        raise ValueError(f"{name} must be an int or {n} ints, got {value!r}")
    return out


def pad(x: Tensor, pads: Sequence[tuple[int, int]], value: float = 0.0) -> Tensor:
    """Pad the trailing ``len(pads)`` axes by ``(before, after)`` each (negative crops).

    Shape:
        (B, C, *N) -> (B, C, *(N + before + after)).
    """
    flat = [p for pair in reversed(pads) for p in pair]  # F.pad wants the last axis first
    return F.pad(x, flat, value=value)


def im2col(
    x: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple = 1, dilation: IntOrTuple = 1
) -> Tensor:
    r"""Every (dilated) window of an already padded input, gathered by slicing (no copy until used).

    ``cols.reshape(B, C * prod(K), -1)`` equals ``F.unfold`` (for 2-D).

    Shape:
        x: (B, C, *N) -> (B, C, *K, *N_out), :math:`N_{out} = \lfloor (N - D(K-1) - 1)/S \rfloor+1`.
    """
    n = x.dim() - 2
    k, s, d = (
        to_tuple(v, n, name)
        for v, name in ((kernel_size, "kernel_size"), (stride, "stride"), (dilation, "dilation"))
    )
    for axis in range(n):  # each unfold appends one window axis of length D(K-1)+1
        x = x.unfold(2 + axis, d[axis] * (k[axis] - 1) + 1, s[axis])
    x = x[(..., *(slice(None, None, d_i) for d_i in d))]  # (B, C, *N_out, *K): keep every D-th
    return x.permute(0, 1, *range(2 + n, 2 + 2 * n), *range(2, 2 + n))  # (B, C, *K, *N_out)


def padding_pairs(
    padding: Padding, weight: Tensor, stride: IntOrTuple, dilation: IntOrTuple
) -> list[tuple[int, int]]:
    """``(before, after)`` zeros per spatial axis for an int / ints / ``"valid"`` / ``"same"``."""
    n = weight.dim() - 2
    k, s, d = weight.shape[2:], to_tuple(stride, n, "stride"), to_tuple(dilation, n, "dilation")
    if padding == "valid":
        return [(0, 0)] * n
    if padding == "same":
        if any(s_i != 1 for s_i in s):
            raise ValueError("padding='same' needs stride 1")
        spans = [d_i * (k_i - 1) for k_i, d_i in zip(k, d, strict=True)]
        return [(span // 2, span - span // 2) for span in spans]  # odd span: extra zero after
    if isinstance(padding, str):
        raise ValueError(f"padding must be an int, ints, 'valid' or 'same', got {padding!r}")
    p = to_tuple(padding, n, "padding")
    if min(p) < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    return [(p_i, p_i) for p_i in p]


def _conv(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: IntOrTuple,
    pads: list[tuple[int, int]],
    dilation: IntOrTuple,
    groups: int,
) -> Tensor:
    """Eqs. (1)-(2) in any number of spatial dimensions, on explicit ``(before, after)`` pads."""
    n = weight.dim() - 2
    c_out, c_in_g, *k = weight.shape
    if x.dim() != n + 2 or x.shape[1] != c_in_g * groups:
        raise ValueError(
            f"expected input (B, {c_in_g * groups}, <{n} spatial axes>) for weight "
            f"{tuple(weight.shape)} and groups={groups}, got {tuple(x.shape)}"
        )
    if groups < 1 or c_out % groups:
        raise ValueError(f"out channels {c_out} must be divisible by groups={groups}")
    s, d = to_tuple(stride, n, "stride"), to_tuple(dilation, n, "dilation")
    x = pad(x, pads)  # (B, C_in, *N_padded)
    for n_i, k_i, s_i, d_i in zip(x.shape[2:], k, s, d, strict=True):
        conv_output_size(n_i, k_i, s_i, 0, d_i)  # clear ValueError if the kernel does not fit
    cols = im2col(x, k, s, d)  # (B, C_in, *K, *N_out)
    batch, out_size = x.shape[0], cols.shape[2 + n :]
    cols = cols.reshape(batch, groups, c_in_g * math.prod(k), -1)  # (B, G, C_in/G * K, M)
    w = weight.reshape(groups, c_out // groups, -1)  # (G, C_out/G, C_in/G * K)
    y = (w @ cols).reshape(batch, c_out, *out_size)  # (B, C_out, *N_out), Eq. (2)
    return y if bias is None else y + bias.reshape(1, c_out, *([1] * n))


def _check_dims(x: Tensor, weight: Tensor, n: int, name: str) -> None:
    if x.dim() != n + 2 or weight.dim() != n + 2:
        raise ValueError(
            f"{name} needs {n + 2}-D input and weight, got {tuple(x.shape)}, {tuple(weight.shape)}"
        )


def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
) -> Tensor:
    r"""Eq. (1) by im2col; the arguments of ``F.conv2d`` (``padding`` also ``"same"``/``"valid"``).

    Shape:
        x: (B, C_in, H, W); weight: (C_out, C_in / G, K_h, K_w); bias: (C_out,)
        -> (B, C_out, H_out, W_out), sizes from :func:`~replearn.cnn.arithmetic.conv_output_size`.
    """
    _check_dims(x, weight, 2, "conv2d")
    return _conv(
        x, weight, bias, stride, padding_pairs(padding, weight, stride, dilation), dilation, groups
    )


def conv1d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int = 1,
    padding: int | str = 0,
    dilation: int = 1,
    groups: int = 1,
) -> Tensor:
    r"""Eq. (1) along one axis by im2col; the arguments of ``F.conv1d``.

    Shape:
        x: (B, C_in, L); weight: (C_out, C_in / G, K); bias: (C_out,) -> (B, C_out, L_out).
    """
    _check_dims(x, weight, 1, "conv1d")
    return _conv(
        x, weight, bias, stride, padding_pairs(padding, weight, stride, dilation), dilation, groups
    )


def conv_transpose2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
) -> Tensor:
    r"""Eq. (3): insert zeros, pad :math:`D(K-1)-P`, then a stride-1 conv with the flipped kernel.

    Same arguments (and order) as ``F.conv_transpose2d``; the output size is
    :func:`~replearn.cnn.arithmetic.conv_transpose_output_size`.

    Shape:
        x: (B, C_in, H, W); weight: (C_in, C_out / G, K_h, K_w); bias: (C_out,)
        -> (B, C_out, H_out, W_out), :math:`H_{out} = (H-1)S - 2P + D(K-1) + P_{out} + 1`.
    """
    _check_dims(x, weight, 2, "conv_transpose2d")
    if x.shape[1] != weight.shape[0]:
        raise ValueError(
            f"expected input (B, {weight.shape[0]}, H, W) for transposed weight "
            f"{tuple(weight.shape)}, got {tuple(x.shape)}"
        )
    c_in, c_out_g, *k = weight.shape
    if groups < 1 or c_in % groups:
        raise ValueError(f"in channels {c_in} must be divisible by groups={groups}")
    s, p = to_tuple(stride, 2, "stride"), to_tuple(padding, 2, "padding")
    op, d = to_tuple(output_padding, 2, "output_padding"), to_tuple(dilation, 2, "dilation")
    if any(not 0 <= op_i < max(s_i, d_i) for op_i, s_i, d_i in zip(op, s, d, strict=True)):
        raise ValueError(f"output_padding must be < max(stride, dilation), got {op}")
    batch, _, h, w = x.shape
    for n_i, k_i, s_i, p_i, d_i, op_i in zip((h, w), k, s, p, d, op, strict=True):
        conv_transpose_output_size(n_i, k_i, s_i, p_i, d_i, op_i)  # ValueError if < 1
    spread = x.new_zeros(batch, c_in, (h - 1) * s[0] + 1, (w - 1) * s[1] + 1)
    spread[:, :, :: s[0], :: s[1]] = x  # S - 1 zeros between input units
    pads = [
        (d_i * (k_i - 1) - p_i, d_i * (k_i - 1) - p_i + op_i)
        for k_i, p_i, d_i, op_i in zip(k, p, d, op, strict=True)
    ]
    flipped = weight.flip(2, 3).reshape(groups, c_in // groups, c_out_g, *k)
    w_conv = flipped.transpose(1, 2).reshape(groups * c_out_g, c_in // groups, *k)  # (C_out, ..)
    return _conv(spread, w_conv, bias, 1, pads, d, groups)


def depthwise_separable_conv2d(
    x: Tensor,
    depthwise_weight: Tensor,
    pointwise_weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
) -> Tensor:
    r"""Eq. (5): depthwise conv (:math:`G = C_{in}`, no bias) then a pointwise :math:`1 \times 1`.

    Shape:
        x: (B, C_in, H, W); depthwise_weight: (C_in * m, 1, K_h, K_w);
        pointwise_weight: (C_out, C_in * m, 1, 1); bias: (C_out,) -> (B, C_out, H_out, W_out).
    """
    h = conv2d(x, depthwise_weight, None, stride, padding, dilation, groups=x.shape[1])
    return conv2d(h, pointwise_weight, bias)  # (B, C_out, H_out, W_out)


def causal_conv1d(
    x: Tensor, weight: Tensor, bias: Tensor | None = None, dilation: int = 1, groups: int = 1
) -> Tensor:
    r"""Eq. (4): pad :math:`D(K-1)` zeros on the left only: :math:`y_t` never sees :math:`x_{>t}`.

    Shape:
        x: (B, C_in, T); weight: (C_out, C_in / G, K); bias: (C_out,) -> (B, C_out, T).
    """
    _check_dims(x, weight, 1, "causal_conv1d")
    return _conv(x, weight, bias, 1, [(dilation * (weight.shape[2] - 1), 0)], dilation, groups)
