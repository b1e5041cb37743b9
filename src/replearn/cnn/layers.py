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
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.cnn.arithmetic import conv_output_size, conv_transpose_output_size
from replearn.registry import Example, register

__all__ = [
    "CausalConv1d",
    "Conv1d",
    "Conv2d",
    "ConvTranspose2d",
    "DepthwiseSeparableConv2d",
    "causal_conv1d",
    "conv1d",
    "conv2d",
    "conv_transpose2d",
    "depthwise_separable_conv2d",
    "im2col",
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


def _pads(
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
        x, weight, bias, stride, _pads(padding, weight, stride, dilation), dilation, groups
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
        x, weight, bias, stride, _pads(padding, weight, stride, dilation), dilation, groups
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


class _ConvNd(nn.Module):
    """``weight``/``bias`` shaped and initialized as in ``torch.nn.ConvNd`` (state_dicts load)."""

    dims = 2
    transposed = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple,
        *,
        stride: IntOrTuple = 1,
        padding: Padding = 0,
        dilation: IntOrTuple = 1,
        groups: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        n = self.dims
        k = to_tuple(kernel_size, n, "kernel_size")
        self.stride, self.dilation = (
            to_tuple(stride, n, "stride"),
            to_tuple(dilation, n, "dilation"),
        )
        self.padding = padding if isinstance(padding, str) else to_tuple(padding, n, "padding")
        if min(in_channels, out_channels, *k, *self.stride, *self.dilation) < 1:
            raise ValueError("channels, kernel size, stride and dilation must be >= 1")
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"in ({in_channels}) and out ({out_channels}) channels must be divisible by "
                f"groups={groups}"
            )
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, k
        self.groups = groups
        c_a, c_b = (in_channels, out_channels) if self.transposed else (out_channels, in_channels)
        self.weight = nn.Parameter(torch.empty(c_a, c_b // groups, *k))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        if not self.transposed:
            _pads(self.padding, self.weight, self.stride, self.dilation)  # validate now
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's init: Kaiming-uniform weights (a = sqrt 5), bias uniform in +-1/sqrt(fan_in)."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.weight.shape[1] * math.prod(self.kernel_size))
            nn.init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
            f"groups={self.groups}, bias={self.bias is not None}"
        )


def _conv2d_example() -> Example:
    return Example(Conv2d(3, 4, 3, stride=2, padding=1), (torch.randn(2, 3, 8, 8),), (2, 4, 4, 4))


@register(
    "cnn.conv2d",
    paper="LeCun, Bottou, Bengio & Haffner 1998, Proc. IEEE 86(11)",
    reference="F.conv2d / nn.Conv2d (outputs, gradients, state_dict), float64, hypothesis",
    example=_conv2d_example,
)
class Conv2d(_ConvNd):
    """2-D convolution by im2col (Eq. 1), a drop-in for ``nn.Conv2d`` (arguments, ``state_dict``).

    The verified reference, written for reading (no fast path): models use ``nn.Conv2d``.

    Args:
        in_channels: :math:`C_{in}` (divisible by ``groups``).
        out_channels: :math:`C_{out}` (divisible by ``groups``).
        kernel_size: :math:`K`, an int or ``(K_h, K_w)``; likewise ``stride``, ``dilation``.
        padding: zeros per side (int or ``(P_h, P_w)``), or ``"valid"`` / ``"same"``.
        groups: :math:`G`; ``groups = in_channels`` is a depthwise convolution.
        bias: add a learned bias per output channel.

    Shape:
        (B, C_in, H, W) -> (B, C_out, H_out, W_out).
    """

    dims = 2

    def forward(self, x: Tensor) -> Tensor:
        """Eq. (1)."""
        w, b = self.weight, self.bias
        return conv2d(x, w, b, self.stride, self.padding, self.dilation, self.groups)


def _conv1d_example() -> Example:
    return Example(Conv1d(2, 4, 3, dilation=2), (torch.randn(2, 2, 10),), (2, 4, 6))


@register(
    "cnn.conv1d",
    paper="LeCun, Bottou, Bengio & Haffner 1998, Proc. IEEE 86(11)",
    reference="F.conv1d / nn.Conv1d (outputs, gradients, state_dict), float64, hypothesis",
    example=_conv1d_example,
)
class Conv1d(_ConvNd):
    """1-D convolution by im2col (Eq. 1), a drop-in for ``nn.Conv1d`` (arguments, ``state_dict``).

    The verified reference, written for reading (no fast path): models use ``nn.Conv1d``.

    Args: as :class:`Conv2d`, one int per hyperparameter.

    Shape:
        (B, C_in, L) -> (B, C_out, L_out).
    """

    dims = 1

    def forward(self, x: Tensor) -> Tensor:
        """Eq. (1) along the last axis."""
        w, b = self.weight, self.bias
        return conv1d(x, w, b, self.stride, self.padding, self.dilation, self.groups)


def _conv_transpose2d_example() -> Example:
    module = ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)
    return Example(module, (torch.randn(2, 4, 4, 4),), (2, 2, 8, 8))


@register(
    "cnn.conv_transpose2d",
    paper="Dumoulin & Visin 2016, arXiv:1603.07285 (A guide to convolution arithmetic)",
    reference="F.conv_transpose2d / nn.ConvTranspose2d incl. output_padding, float64, hypothesis",
    example=_conv_transpose2d_example,
)
class ConvTranspose2d(_ConvNd):
    r"""Transposed 2-D convolution (Eq. 3), a drop-in for ``nn.ConvTranspose2d``.

    The verified reference (no fast path): models use ``nn.ConvTranspose2d``.

    Args:
        in_channels, out_channels, kernel_size, stride, dilation, groups, bias: as :class:`Conv2d`.
        padding: :math:`P` of the convolution this one transposes (crops the output).
        output_padding: extra rows / columns on the far side, :math:`< \max(S, D)`.

    Shape:
        (B, C_in, H, W) -> (B, C_out, (H-1)S - 2P + D(K-1) + P_out + 1, ...).
    """

    dims = 2
    transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple,
        *,
        stride: IntOrTuple = 1,
        padding: IntOrTuple = 0,
        output_padding: IntOrTuple = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: IntOrTuple = 1,
    ) -> None:
        if isinstance(padding, str):
            raise ValueError(f"a transposed convolution takes int padding, got {padding!r}")
        super().__init__(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding,
            dilation=dilation, groups=groups, bias=bias,
        )  # fmt: skip
        self.output_padding = to_tuple(output_padding, 2, "output_padding")
        pairs = zip(self.output_padding, self.stride, self.dilation, strict=True)
        if any(not 0 <= o < max(s, d) for o, s, d in pairs):
            raise ValueError(
                f"output_padding must be < max(stride, dilation), got {output_padding}"
            )

    def forward(self, x: Tensor) -> Tensor:
        """Eq. (3)."""
        w, b, s, p, op = self.weight, self.bias, self.stride, self.padding, self.output_padding
        return conv_transpose2d(x, w, b, s, p, op, self.groups, self.dilation)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, output_padding={self.output_padding}"


def _separable_example() -> Example:
    module = DepthwiseSeparableConv2d(4, 6, 3, padding=1)
    return Example(module, (torch.randn(2, 4, 6, 6),), (2, 6, 6, 6))


@register(
    "cnn.depthwise_separable_conv2d",
    paper="Chollet 2017, arXiv:1610.02357 (Xception)",
    reference="nn.Conv2d(groups=C_in) then 1x1 nn.Conv2d with loaded state_dicts; Eq. (7) ratio",
    example=_separable_example,
)
class DepthwiseSeparableConv2d(nn.Module):
    """Depthwise then pointwise convolution (Eq. 5): two :class:`Conv2d`, no activation between.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation: as :class:`Conv2d`.
        depth_multiplier: depthwise output channels per input channel, :math:`m`.
        bias: a bias on the pointwise convolution (the depthwise one has none).

    Shape:
        (B, C_in, H, W) -> (B, C_out, H_out, W_out).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple,
        *,
        stride: IntOrTuple = 1,
        padding: Padding = 0,
        dilation: IntOrTuple = 1,
        depth_multiplier: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if depth_multiplier < 1:
            raise ValueError(f"depth_multiplier must be >= 1, got {depth_multiplier}")
        mid = in_channels * depth_multiplier
        self.depthwise = Conv2d(
            in_channels, mid, kernel_size, stride=stride, padding=padding, dilation=dilation,
            groups=in_channels, bias=False,
        )  # fmt: skip
        self.pointwise = Conv2d(mid, out_channels, 1, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        """Eq. (5)."""
        return self.pointwise(self.depthwise(x))


def _causal_example() -> Example:
    return Example(CausalConv1d(2, 3, 2, dilation=4), (torch.randn(2, 2, 9),), (2, 3, 9))


@register(
    "cnn.causal_conv1d",
    paper="van den Oord et al. 2016, arXiv:1609.03499 (WaveNet)",
    reference="nn.Conv1d(padding=D(K-1)) cut to the first T outputs; gradient causality",
    example=_causal_example,
)
class CausalConv1d(_ConvNd):
    """Causal dilated 1-D convolution (Eq. 4); loads the ``state_dict`` of an ``nn.Conv1d``.

    Args:
        in_channels, out_channels, kernel_size, dilation, groups, bias: as :class:`Conv1d`
            (stride 1, and the padding is :math:`D(K-1)` on the left: the length is kept).

    Shape:
        (B, C_in, T) -> (B, C_out, T).
    """

    dims = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, dilation=dilation, groups=groups, bias=bias
        )

    def forward(self, x: Tensor) -> Tensor:
        """Eq. (4)."""
        return causal_conv1d(x, self.weight, self.bias, self.dilation[0], self.groups)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"dilation={self.dilation}, groups={self.groups}, bias={self.bias is not None}"
        )
