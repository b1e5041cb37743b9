r"""Max and average pooling from scratch, on the im2col windows of :mod:`replearn.cnn.layers`.

Papers: Y. LeCun, L. Bottou, Y. Bengio & P. Haffner, "Gradient-based learning
applied to document recognition", Proc. IEEE 86(11), 1998 (subsampling layers);
Y.-L. Boureau, J. Ponce & Y. LeCun, "A theoretical analysis of feature pooling
in visual recognition", ICML 2010 (max vs average pooling); output sizes as in
V. Dumoulin & F. Visin, 2016, arXiv:1603.07285, §5.

Over the window :math:`\mathcal{W}_{ij}` of output unit :math:`(i, j)` (kernel
:math:`K`, stride :math:`S`, defaulting to :math:`K`, padding :math:`P`,
dilation :math:`D` for max pooling), channel by channel:

.. math::

    y_{c,i,j} = \max_{(u, v) \in \mathcal{W}_{ij}} x_{c,u,v}              \qquad (1)\ \text{max}

    y_{c,i,j} = \frac{1}{|\mathcal{W}_{ij}|} \sum_{(u, v) \in \mathcal{W}_{ij}} x_{c,u,v}
                                                                         \qquad (2)\ \text{average}

Max pooling pads with :math:`-\infty` (padding never wins, but a dilated
window may hold padding only and give :math:`-\infty`, as in torch); its
gradient flows to the arg-max of each window only. Average pooling pads with zeros; the
divisor :math:`|\mathcal{W}_{ij}|` counts the padding if ``count_include_pad``
(``torch``'s default) and never counts the part of a window that ``ceil_mode``
lets hang past the padded input; ``divisor_override`` replaces it. The divisor
is computed by pooling a mask of ones, so all cases are one formula.

These are the **verified reference** implementations, written for reading:
there is no fast path, and the models of the course use torch's kernels.
Pooling has no parameters (``state_dict`` is empty, as for ``nn.MaxPool2d``).
Tests check outputs and input gradients in float64 against ``F.max_pool2d``
and ``F.avg_pool2d`` over hypothesis-generated shapes and hyperparameters
(stride, padding, dilation, ``ceil_mode``, ``count_include_pad``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from replearn.cnn.arithmetic import effective_kernel_size, pool_output_size
from replearn.cnn.layers import IntOrTuple, im2col, pad, to_tuple
from replearn.registry import Example, register

__all__ = ["AvgPool2d", "MaxPool2d", "avg_pool2d", "max_pool2d"]


def _window_pads(
    x: Tensor,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None,
    padding: IntOrTuple,
    dilation: IntOrTuple,
    ceil_mode: bool,
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], list[tuple[int, int]]]:
    """Kernel, stride, dilation and ``(before, after)`` pads so that im2col yields every window."""
    if x.dim() != 4:
        raise ValueError(f"2-D pooling needs input (B, C, H, W), got {tuple(x.shape)}")
    k, d = to_tuple(kernel_size, 2, "kernel_size"), to_tuple(dilation, 2, "dilation")
    s = k if stride is None else to_tuple(stride, 2, "stride")
    p = to_tuple(padding, 2, "padding")
    pads = []
    for n_i, k_i, s_i, p_i, d_i in zip(x.shape[2:], k, s, p, d, strict=True):
        if not 0 <= p_i <= k_i // 2:
            raise ValueError(f"padding must be in [0, kernel_size // 2], got {padding!r}")
        out = pool_output_size(n_i, k_i, s_i, p_i, d_i, ceil_mode)
        needed = (out - 1) * s_i + effective_kernel_size(k_i, d_i)  # padded length the windows use
        pads.append((p_i, max(p_i, needed - n_i - p_i)))  # ceil_mode may hang past the padding
    return k, s, d, pads


def max_pool2d(
    x: Tensor,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
) -> Tensor:
    r"""Eq. (1): the maximum of every (dilated) window; the arguments of ``F.max_pool2d``.

    Shape:
        (B, C, H, W) -> (B, C, H_out, W_out), sizes from
        :func:`~replearn.cnn.arithmetic.pool_output_size`.
    """
    k, s, d, pads = _window_pads(x, kernel_size, stride, padding, dilation, ceil_mode)
    cols = im2col(pad(x, pads, value=float("-inf")), k, s, d)  # (B, C, K_h, K_w, H_out, W_out)
    return cols.flatten(2, 3).amax(dim=2)  # (B, C, H_out, W_out)


def avg_pool2d(
    x: Tensor,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    r"""Eq. (2): the mean of every window; the arguments of ``F.avg_pool2d``.

    Shape:
        (B, C, H, W) -> (B, C, H_out, W_out).
    """
    k, s, _, pads = _window_pads(x, kernel_size, stride, padding, 1, ceil_mode)
    sums = im2col(pad(x, pads), k, s).sum(dim=(2, 3))  # (B, C, H_out, W_out)
    if divisor_override is not None:
        if divisor_override < 1:
            raise ValueError(f"divisor_override must be >= 1, got {divisor_override}")
        return sums / divisor_override
    mask = x.new_ones(1, 1, *x.shape[2:])  # which positions count towards |W_ij|
    mask = pad(mask, [(b, b) for b, _ in pads], value=1.0 if count_include_pad else 0.0)
    mask = pad(mask, [(0, a - b) for b, a in pads])  # the ceil_mode overhang never counts
    divisor = im2col(mask, k, s).sum(dim=(2, 3))  # (1, 1, H_out, W_out)
    return sums / divisor


def _max_example() -> Example:
    x = torch.randn(2, 3, 8, 8, requires_grad=True)  # no parameters: the input carries the graph
    return Example(MaxPool2d(3, stride=2, padding=1), (x,), (2, 3, 4, 4))


@register(
    "cnn.max_pool2d",
    paper="LeCun et al. 1998, Proc. IEEE 86(11); Boureau, Ponce & LeCun 2010, ICML",
    reference="F.max_pool2d (outputs, input gradients) incl. dilation, ceil_mode; hypothesis",
    example=_max_example,
)
class MaxPool2d(nn.Module):
    r"""Max pooling (Eq. 1), a drop-in for ``nn.MaxPool2d`` (without ``return_indices``).

    The verified reference (no fast path); models use ``nn.MaxPool2d``.

    Args:
        kernel_size: :math:`K`, an int or ``(K_h, K_w)``; likewise ``stride``,
            ``padding`` and ``dilation``.
        stride: :math:`S`; ``None`` means :math:`S = K`.
        padding: :math:`-\infty` padding per side, at most half the kernel size.
        dilation: spacing :math:`D` between the window's taps.
        ceil_mode: round the output size up instead of down.

    Shape:
        (B, C, H, W) -> (B, C, H_out, W_out).
    """

    def __init__(
        self,
        kernel_size: IntOrTuple,
        *,
        stride: IntOrTuple | None = None,
        padding: IntOrTuple = 0,
        dilation: IntOrTuple = 1,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = to_tuple(kernel_size, 2, "kernel_size")
        self.stride = self.kernel_size if stride is None else to_tuple(stride, 2, "stride")
        self.padding, self.dilation = (
            to_tuple(padding, 2, "padding"),
            to_tuple(dilation, 2, "dilation"),
        )
        self.ceil_mode = ceil_mode
        if min(*self.kernel_size, *self.stride, *self.dilation) < 1:
            raise ValueError("kernel size, stride and dilation must be >= 1")

    def forward(self, x: Tensor) -> Tensor:
        """Eq. (1)."""
        k, s, p, d = self.kernel_size, self.stride, self.padding, self.dilation
        return max_pool2d(x, k, s, p, d, self.ceil_mode)

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


def _avg_example() -> Example:
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    return Example(AvgPool2d(2), (x,), (2, 3, 4, 4))


@register(
    "cnn.avg_pool2d",
    paper="LeCun et al. 1998, Proc. IEEE 86(11); Boureau, Ponce & LeCun 2010, ICML",
    reference="F.avg_pool2d (outputs, input gradients) incl. ceil_mode, count_include_pad",
    example=_avg_example,
)
class AvgPool2d(nn.Module):
    """Average pooling (Eq. 2), a drop-in for ``nn.AvgPool2d``.

    The verified reference (no fast path); models use ``nn.AvgPool2d``.

    Args:
        kernel_size, stride, padding, ceil_mode: as :class:`MaxPool2d` (zero padding,
            at most half the kernel).
        count_include_pad: count the zero padding in the divisor.
        divisor_override: divide every window sum by this instead.

    Shape:
        (B, C, H, W) -> (B, C, H_out, W_out).
    """

    def __init__(
        self,
        kernel_size: IntOrTuple,
        *,
        stride: IntOrTuple | None = None,
        padding: IntOrTuple = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        self.kernel_size = to_tuple(kernel_size, 2, "kernel_size")
        self.stride = self.kernel_size if stride is None else to_tuple(stride, 2, "stride")
        self.padding = to_tuple(padding, 2, "padding")
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override
        if min(*self.kernel_size, *self.stride) < 1:
            raise ValueError("kernel size and stride must be >= 1")

    def forward(self, x: Tensor) -> Tensor:
        """Eq. (2)."""
        k, s, p = self.kernel_size, self.stride, self.padding
        return avg_pool2d(x, k, s, p, self.ceil_mode, self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"ceil_mode={self.ceil_mode}, count_include_pad={self.count_include_pad}"
        )
