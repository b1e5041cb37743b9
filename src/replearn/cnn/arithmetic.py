r"""Convolution arithmetic: output sizes, padding, parameters, FLOPs and receptive fields.

Paper: V. Dumoulin & F. Visin, "A guide to convolution arithmetic for deep
learning", 2016, arXiv:1603.07285 (output sizes, padding modes, transposed
convolution); receptive fields as in A. Araujo, W. Norris & J. Sim, "Computing
Receptive Fields of Convolutional Neural Networks", Distill 2019; separable
convolutions: F. Chollet, "Xception", CVPR 2017, arXiv:1610.02357.

Along one spatial axis, with input size :math:`N`, kernel :math:`K`, stride
:math:`S`, padding :math:`P` on each side and dilation :math:`D`:

.. math::

    \hat K = D (K - 1) + 1                                  \qquad (1)\ \text{effective kernel}

    N_{out} = \left\lfloor \frac{N + 2P - \hat K}{S} \right\rfloor + 1
                                                            \qquad (2)\ \text{convolution}

    N_{out}^{T} = (N - 1) S - 2P + \hat K + P_{out}        \qquad (3)\ \text{transposed}

    r_\ell = r_{\ell-1} + (\hat K_\ell - 1) \prod_{j<\ell} S_j, \quad r_0 = 1
                                                            \qquad (4)\ \text{receptive field}

A convolution from :math:`C_{in}` to :math:`C_{out}` channels in :math:`G`
groups has :math:`C_{out} \frac{C_{in}}{G} \prod K + C_{out}` parameters (5).

FLOPs convention: a multiply-add counts as **2** FLOPs, a bias add as 1. A
convolution with :math:`M` output positions per channel costs
:math:`2 M C_{out} \frac{C_{in}}{G} \prod K` FLOPs (6) (+ :math:`M C_{out}` with
bias). A depthwise-separable convolution (depthwise :math:`K \times K` with
:math:`G = C_{in}`, then pointwise :math:`1 \times 1`) therefore needs, without
bias, a fraction

.. math::

    \frac{C_{in} K^2 + C_{in} C_{out}}{C_{in} C_{out} K^2} = \frac{1}{C_{out}} + \frac{1}{K^2}
                                                            \qquad (7)

of the parameters and of the FLOPs of the full convolution (same output size).

All functions are pure integer arithmetic: sizes along one spatial axis;
parameters and FLOPs take a kernel per axis or one int for a square kernel
(``dims=2`` by default).
Tests check them against the shapes and ``numel`` of ``torch.nn`` modules over
hypothesis-generated settings, and Eq. (4) against the support of the gradient
of one output unit with respect to the input.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Literal

from replearn.registry import register

__all__ = [
    "conv_flops",
    "conv_output_size",
    "conv_params",
    "conv_transpose_output_size",
    "depthwise_conv_flops",
    "depthwise_conv_params",
    "effective_kernel_size",
    "linear_params",
    "norm_params",
    "padding_for",
    "pointwise_conv_flops",
    "pointwise_conv_params",
    "pool_output_size",
    "receptive_field",
    "receptive_fields",
    "separable_conv_flops",
    "separable_conv_params",
    "separable_reduction",
]

Size = int | Sequence[int]
"""A kernel or output size: one int per spatial axis, or one int for all ``dims`` axes."""


def _prod(size: Size, dims: int) -> int:
    r""":math:`\prod K`: ``3`` with ``dims=2`` is a 3x3 kernel (9), ``(3, 5)`` is 15."""
    return math.prod(size) if isinstance(size, Sequence) else int(size) ** dims


def effective_kernel_size(k: int, d: int = 1) -> int:
    r"""Eq. (1): :math:`\hat K = D (K - 1) + 1`, the span of a dilated kernel."""
    if k < 1 or d < 1:
        raise ValueError(f"kernel size and dilation must be >= 1, got k={k}, d={d}")
    return d * (k - 1) + 1


@register(
    "cnn.conv_output_size",
    paper="Dumoulin & Visin 2016, arXiv:1603.07285 (A guide to convolution arithmetic)",
    reference="output shapes of torch.nn.Conv1d/2d, pooling and ConvTranspose2d (hypothesis)",
)
def conv_output_size(n: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    r"""Eq. (2): :math:`\lfloor (N + 2P - D(K-1) - 1) / S \rfloor + 1`.

    Args:
        n: input size :math:`N`.
        k: kernel size :math:`K`.
        s: stride :math:`S`.
        p: zero padding :math:`P` on *each* side.
        d: dilation :math:`D`.

    Raises:
        ValueError: if the (padded) input is smaller than the effective kernel.
    """
    if s < 1 or p < 0:
        raise ValueError(f"stride must be >= 1 and padding >= 0, got s={s}, p={p}")
    span = n + 2 * p - effective_kernel_size(k, d)
    if span < 0:
        raise ValueError(f"input {n} (+2*{p} padding) is smaller than the kernel span")
    return span // s + 1


def pool_output_size(
    n: int, k: int, s: int | None = None, p: int = 0, d: int = 1, ceil_mode: bool = False
) -> int:
    r"""Eq. (2) for pooling; the stride defaults to the kernel size (non-overlapping windows).

    With ``ceil_mode`` the floor becomes a ceiling (the last window may hang past
    the padded input), except that the last window must start inside the input or
    its left padding (PyTorch's rule). The padding is at most :math:`\lfloor K/2 \rfloor`.

    Args:
        n, k, p, d: as in :func:`conv_output_size`.
        s: stride; ``None`` means :math:`S = K`.
        ceil_mode: round up instead of down.
    """
    s = k if s is None else s
    if p > k // 2:  # torch's rule: otherwise a window could hold padding only
        raise ValueError(f"pooling padding must be at most kernel_size // 2, got p={p}, k={k}")
    if not ceil_mode:
        return conv_output_size(n, k, s, p, d)
    span = n + 2 * p - effective_kernel_size(k, d)
    out = (span + s - 1) // s + 1  # ceil(span / S) + 1
    if (out - 1) * s >= n + p:  # the last window would start in the right padding
        out -= 1
    if out < 1:
        raise ValueError(f"input {n} (+2*{p} padding) is smaller than the kernel span")
    return out


def conv_transpose_output_size(
    n: int, k: int, s: int = 1, p: int = 0, d: int = 1, output_padding: int = 0
) -> int:
    r"""Eq. (3): :math:`(N-1)S - 2P + D(K-1) + P_{out} + 1` (Dumoulin & Visin, relationship 14).

    ``output_padding`` :math:`P_{out} < \max(S, D)` picks one of the :math:`S`
    input sizes that a stride-:math:`S` convolution maps to :math:`N`.
    """
    if not 0 <= output_padding < max(s, d):
        raise ValueError(
            f"output_padding must be in [0, max(stride, dilation)), got {output_padding}"
        )
    out = (n - 1) * s - 2 * p + effective_kernel_size(k, d) + output_padding
    if out < 1:
        raise ValueError(f"transposed convolution output size would be {out}")
    return out


def padding_for(mode: Literal["valid", "same", "full"], k: int, d: int = 1) -> int:
    r"""Padding :math:`P` per side for a stride-1 convolution in one of the three classic modes.

    ``valid``: :math:`P = 0`, :math:`N_{out} = N - \hat K + 1`;
    ``same``: :math:`P = (\hat K - 1)/2`, :math:`N_{out} = N` (odd :math:`\hat K` only:
    an even one needs asymmetric padding);
    ``full``: :math:`P = \hat K - 1`, :math:`N_{out} = N + \hat K - 1`.
    """
    span = effective_kernel_size(k, d) - 1
    if mode == "valid":
        return 0
    if mode == "full":
        return span
    if mode == "same":
        if span % 2:
            raise ValueError(
                f"'same' padding of an even effective kernel ({span + 1}) is asymmetric; "
                "pad (span // 2, span - span // 2) by hand"
            )
        return span // 2
    raise ValueError(f"mode must be 'valid', 'same' or 'full', got {mode!r}")


def conv_params(
    c_in: int, c_out: int, k: Size, bias: bool = True, groups: int = 1, dims: int = 2
) -> int:
    r"""Eq. (5): :math:`C_{out} \frac{C_{in}}{G} \prod K + C_{out}` (the last term with bias).

    Args:
        c_in, c_out: channels :math:`C_{in}, C_{out}` (both divisible by ``groups``).
        k: kernel size, one int per axis or one int for a square (cubic) kernel.
        bias: count the bias.
        groups: :math:`G`.
        dims: spatial dimensions when ``k`` is one int (2 for images, 1 for sequences).
    """
    if c_in % groups or c_out % groups:
        raise ValueError(f"channels ({c_in}, {c_out}) must be divisible by groups={groups}")
    return c_out * (c_in // groups) * _prod(k, dims) + (c_out if bias else 0)


def linear_params(n_in: int, n_out: int, bias: bool = True) -> int:
    r"""A fully connected layer: :math:`N_{in} N_{out} + N_{out}`."""
    return n_in * n_out + (n_out if bias else 0)


def norm_params(num_features: int, affine: bool = True) -> int:
    r"""Batch / layer / group / instance norm: :math:`2C` (:math:`\gamma, \beta`); 0 if not affine.

    Running statistics are buffers, not parameters.
    """
    return 2 * num_features if affine else 0


def conv_flops(
    c_in: int,
    c_out: int,
    k: Size,
    out_size: Size,
    bias: bool = False,
    groups: int = 1,
    dims: int = 2,
) -> int:
    r"""Eq. (6): :math:`2 M C_{out} \frac{C_{in}}{G} \prod K` (+ :math:`M C_{out}` bias adds).

    Args:
        c_in, c_out, k, groups, dims: as in :func:`conv_params`.
        out_size: output spatial size (per axis, or one int for all ``dims`` axes);
            :math:`M` is the product.
        bias: count one add per output value.
    """
    m = _prod(out_size, dims)
    return 2 * m * c_out * (c_in // groups) * _prod(k, dims) + (m * c_out if bias else 0)


def depthwise_conv_params(
    c: int, k: Size, bias: bool = False, multiplier: int = 1, dims: int = 2
) -> int:
    r"""Depthwise convolution (:math:`G = C`): :math:`C\,m \prod K` (+ :math:`C m` bias)."""
    return conv_params(c, c * multiplier, k, bias, groups=c, dims=dims)


def pointwise_conv_params(c_in: int, c_out: int, bias: bool = False) -> int:
    r"""Pointwise (:math:`1 \times 1`) convolution: :math:`C_{in} C_{out}` (+ :math:`C_{out}`)."""
    return conv_params(c_in, c_out, 1, bias)


def separable_conv_params(c_in: int, c_out: int, k: Size, bias: bool = False, dims: int = 2) -> int:
    r"""Depthwise then pointwise: :math:`C_{in} \prod K + C_{in} C_{out}` (+ :math:`C_{out}`).

    The bias (if any) sits on the pointwise part, as in Xception / Keras ``SeparableConv2D``.
    """
    return depthwise_conv_params(c_in, k, dims=dims) + pointwise_conv_params(c_in, c_out, bias)


def depthwise_conv_flops(
    c: int, k: Size, out_size: Size, multiplier: int = 1, dims: int = 2
) -> int:
    r"""Eq. (6) with :math:`G = C`: :math:`2 M C m \prod K`."""
    return conv_flops(c, c * multiplier, k, out_size, groups=c, dims=dims)


def pointwise_conv_flops(
    c_in: int, c_out: int, out_size: Size, bias: bool = False, dims: int = 2
) -> int:
    r"""Eq. (6) with :math:`K = 1`: :math:`2 M C_{in} C_{out}` (+ :math:`M C_{out}`)."""
    return conv_flops(c_in, c_out, 1, out_size, bias, dims=dims)


def separable_conv_flops(
    c_in: int, c_out: int, k: Size, out_size: Size, bias: bool = False, dims: int = 2
) -> int:
    r"""Depthwise then pointwise on :math:`M` positions: :math:`2M C_{in}(\prod K + C_{out})`.

    (+ :math:`M C_{out}` with a bias on the pointwise part.)
    """
    depthwise = depthwise_conv_flops(c_in, k, out_size, dims=dims)
    return depthwise + pointwise_conv_flops(c_in, c_out, out_size, bias, dims)


def separable_reduction(c_out: int, k: Size, dims: int = 2) -> float:
    r"""Eq. (7): :math:`1/C_{out} + 1/\prod K`, separable / full convolution, parameters and FLOPs.

    Exact without bias, for the same output size (depthwise stride = full stride).
    """
    return 1 / c_out + 1 / _prod(k, dims)


Layer = int | tuple[int, ...]
"""A layer of :func:`receptive_field`: ``k``, ``(k, s)`` or ``(k, s, d)``."""


def _kernel_stride_dilation(layer: Layer) -> tuple[int, int, int]:
    values = (layer,) if isinstance(layer, int) else tuple(layer)
    if not 1 <= len(values) <= 3:
        raise ValueError(f"a layer is k, (k, s) or (k, s, d), got {layer!r}")
    k, s, d = (*values, 1, 1)[:3]
    if min(k, s, d) < 1:
        raise ValueError(f"kernel, stride and dilation must be >= 1, got {layer!r}")
    return k, s, d


def receptive_fields(layers: Iterable[Layer]) -> list[tuple[int, int]]:
    r"""Eq. (4) per layer: :math:`(r_\ell, j_\ell)`, jump :math:`j_\ell = \prod_{i \le \ell} S_i`.

    :math:`r_\ell` is the number of input positions (along one axis) that one
    unit of layer :math:`\ell` depends on; :math:`j_\ell` is the distance in
    input positions between two neighbouring units of layer :math:`\ell`.
    Padding does not change either (it only shifts the window).

    Args:
        layers: the conv / pool layers in order, each ``k``, ``(k, s)`` or
            ``(k, s, d)`` (stride and dilation default to 1).
    """
    r, jump, out = 1, 1, []
    for layer in layers:
        k, s, d = _kernel_stride_dilation(layer)
        r += (effective_kernel_size(k, d) - 1) * jump
        jump *= s
        out.append((r, jump))
    return out


@register(
    "cnn.receptive_field",
    paper="Dumoulin & Visin 2016, arXiv:1603.07285; Araujo, Norris & Sim 2019, Distill",
    reference="support of the input gradient of one output unit (stacked 3x3, doubling dilations)",
)
def receptive_field(layers: Iterable[Layer]) -> int:
    r"""Eq. (4): receptive field :math:`r_L` of a stack of conv / pool layers (1 if empty).

    For example three :math:`3 \times 3` stride-1 convolutions see
    :math:`1 + 3 \cdot 2 = 7` positions (linear growth), while kernel-2
    convolutions with dilations :math:`1, 2, 4, \dots, 2^{L-1}` (WaveNet) see
    :math:`2^L` (exponential growth).

    Args:
        layers: as in :func:`receptive_fields`.
    """
    trace = receptive_fields(layers)
    return trace[-1][0] if trace else 1
