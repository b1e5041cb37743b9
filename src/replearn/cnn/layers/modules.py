"""Modules over :mod:`replearn.cnn.layers.functional`: drop-ins for ``torch.nn`` convolutions.

Each module shapes and initializes ``weight``/``bias`` as its ``torch.nn`` counterpart does, so
``state_dict`` s load both ways; ``forward`` is the from-scratch function of Eqs. (1)-(5) of
:mod:`replearn.cnn.layers.functional`. Tests: ``tests/cnn/test_layers.py`` (outputs, gradients
and ``state_dict`` against ``nn.Conv1d``, ``nn.Conv2d``, ``nn.ConvTranspose2d``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from replearn.cnn.layers.functional import (
    IntOrTuple,
    Padding,
    causal_conv1d,
    conv1d,
    conv2d,
    conv_transpose2d,
    padding_pairs,
    to_tuple,
)
from replearn.registry import Example, register

__all__ = ["CausalConv1d", "Conv1d", "Conv2d", "ConvTranspose2d", "DepthwiseSeparableConv2d"]


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
            padding_pairs(self.padding, self.weight, self.stride, self.dilation)  # validate now
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
