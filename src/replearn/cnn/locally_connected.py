r"""A locally connected layer: a convolution without weight sharing (an "unshared convolution").

Papers: Y. LeCun, "Generalization and network design strategies", 1989 (weight
sharing as a constraint on a locally connected network); Y. Taigman, M. Yang, M.
Ranzato & L. Wolf, "DeepFace", CVPR 2014 (locally connected layers in a face
network); Goodfellow, Bengio & Courville, *Deep Learning*, 2016, §9.5 (tiled and
unshared convolution), Eq. (9.9).

A locally connected layer keeps the connectivity of a convolution (each output
unit sees one :math:`K_h \times K_w` window of the input) but gives every output
position :math:`(i, j)` its own kernel :math:`W^{(i,j)}`:

.. math::

    y_{o,i,j} = b_{o,i,j} + \sum_{c} \sum_{u,v}
        W^{(i,j)}_{o,c,u,v}\, \tilde x_{c,\, iS_h + u,\, jS_w + v}                 \qquad (1)

(Goodfellow et al. Eq. 9.9), with :math:`\tilde x` the zero-padded input. A
convolution is the special case :math:`W^{(i,j)} = W` for all :math:`(i, j)` (2).
Per layer, with :math:`M = H_{out} W_{out}` output positions:

.. math::

    \text{params}_{LC} = M\,(C_{out} C_{in} K_h K_w + C_{out}),\quad
    \text{params}_{conv} = C_{out} C_{in} K_h K_w + C_{out}                          \qquad (3)

    \text{FLOPs}_{LC} = \text{FLOPs}_{conv} = 2\, M\, C_{out} C_{in} K_h K_w          \qquad (4)

so weight sharing divides the parameters by :math:`M` and leaves the
multiply-adds unchanged (each output still sums over its window): sharing saves
memory and statistical strength, not arithmetic (see ``docs/corrections.md``).

Implementation: im2col (:func:`replearn.cnn.layers.im2col`) gathers the windows,
then one batched product per position (``einsum``). Deviations: zero padding and
dilation 1 only, no groups; the bias is per position and channel (as in Keras'
``LocallyConnected2D``). Tests check (2) against ``F.conv2d`` in float64 for
several strides and paddings, (1) against a per-position loop, and (3)-(4) against
``numel`` and ``torch.utils.flop_counter``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from replearn.cnn.arithmetic import conv_output_size
from replearn.cnn.layers.functional import IntOrTuple, im2col, pad, to_tuple
from replearn.registry import Example, register

__all__ = [
    "LocallyConnected2d",
    "locally_connected2d",
    "locally_connected_flops",
    "locally_connected_params",
    "tie_weights",
]


def locally_connected2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
) -> Tensor:
    r"""Eq. (1): one kernel per output position.

    Shape:
        x: (B, C_in, H, W); weight: (H_out, W_out, C_out, C_in, K_h, K_w);
        bias: (C_out, H_out, W_out) -> (B, C_out, H_out, W_out).
    """
    if x.dim() != 4 or weight.dim() != 6:
        raise ValueError(f"need 4-D input and 6-D weight, got {tuple(x.shape)}, {weight.shape}")
    h_out, w_out, _, c_in, kh, kw = weight.shape
    if x.shape[1] != c_in:
        raise ValueError(f"expected {c_in} input channels, got {x.shape[1]}")
    s, p = to_tuple(stride, 2, "stride"), to_tuple(padding, 2, "padding")
    x = pad(x, [(p[0], p[0]), (p[1], p[1])])  # (B, C_in, H + 2P, W + 2P)
    expected = tuple(
        conv_output_size(n, k, s_i) for n, k, s_i in zip(x.shape[2:], (kh, kw), s, strict=True)
    )
    if expected != (h_out, w_out):
        raise ValueError(f"weight has {(h_out, w_out)} positions, the input gives {expected}")
    cols = im2col(x, (kh, kw), s)  # (B, C_in, K_h, K_w, H_out, W_out)
    y = torch.einsum("bcuvij,ijocuv->boij", cols, weight)  # (B, C_out, H_out, W_out), Eq. (1)
    return y if bias is None else y + bias


def tie_weights(conv_weight: Tensor, out_size: tuple[int, int]) -> Tensor:
    r"""Eq. (2): the locally connected weight equal to a convolution (one kernel everywhere).

    Shape:
        (C_out, C_in, K_h, K_w) -> (H_out, W_out, C_out, C_in, K_h, K_w).
    """
    return conv_weight.expand(*out_size, *conv_weight.shape).clone()


def locally_connected_params(
    c_in: int, c_out: int, k: int, out_size: tuple[int, int], bias: bool = True
) -> int:
    r"""Eq. (3): :math:`M (C_{out} C_{in} K^2 + C_{out})` for :math:`M` output positions."""
    return math.prod(out_size) * (c_out * c_in * k * k + (c_out if bias else 0))


def locally_connected_flops(c_in: int, c_out: int, k: int, out_size: tuple[int, int]) -> int:
    r"""Eq. (4): :math:`2 M C_{out} C_{in} K^2`, as the convolution's (bias adds excluded)."""
    return 2 * math.prod(out_size) * c_out * c_in * k * k


def _example() -> Example:
    layer = LocallyConnected2d(2, 3, 3, input_size=(6, 6), stride=1, padding=1)
    return Example(layer, (torch.randn(2, 2, 6, 6),), (2, 3, 6, 6))


@register(
    "cnn.locally_connected2d",
    paper="LeCun 1989; Taigman et al. 2014 (DeepFace); Goodfellow et al. 2016 §9.5 Eq. 9.9",
    reference="F.conv2d with tied weights (Eq. 2) and a per-position loop, float64; params/FLOPs "
    "vs numel and torch.utils.flop_counter",
    example=_example,
)
class LocallyConnected2d(nn.Module):
    """A convolution's connectivity without weight sharing (Eq. 1).

    Args:
        in_channels: :math:`C_{in}`.
        out_channels: :math:`C_{out}`.
        kernel_size: :math:`K` (square).
        input_size: ``(H, W)`` of the input (the number of kernels depends on it).
        stride: :math:`S`.
        padding: zeros per side.
        bias: a learned bias per output channel and position.

    Shape:
        (B, C_in, H, W) -> (B, C_out, H_out, W_out).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        input_size: tuple[int, int],
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if min(in_channels, out_channels, kernel_size, stride) < 1 or padding < 0:
            raise ValueError(
                "channels, kernel_size and stride must be >= 1 and padding >= 0, got "
                f"{(in_channels, out_channels, kernel_size, stride, padding)}"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.input_size = tuple(input_size)
        self.output_size = tuple(
            conv_output_size(n, kernel_size, stride, padding) for n in self.input_size
        )
        fan_in = in_channels * kernel_size * kernel_size
        bound = 1.0 / math.sqrt(fan_in)  # nn.Conv2d's default uniform range, per position
        self.weight = nn.Parameter(
            torch.empty(
                *self.output_size, out_channels, in_channels, kernel_size, kernel_size
            ).uniform_(-bound, bound)
        )
        self.bias = (
            nn.Parameter(torch.empty(out_channels, *self.output_size).uniform_(-bound, bound))
            if bias
            else None
        )

    def forward(self, x: Tensor) -> Tensor:
        """Eq. (1)."""
        if tuple(x.shape[-2:]) != self.input_size:
            raise ValueError(f"built for inputs {self.input_size}, got {tuple(x.shape[-2:])}")
        return locally_connected2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"input_size={self.input_size}, stride={self.stride}, padding={self.padding}, "
            f"bias={self.bias is not None}"
        )
