r"""Layer normalization and its re-centring-free variant, RMSNorm: statistics per example.

Papers: J. L. Ba, J. R. Kiros & G. E. Hinton, "Layer Normalization", 2016,
arXiv:1607.06450; B. Zhang & R. Sennrich, "Root Mean Square Layer
Normalization", NeurIPS 2019, arXiv:1910.07467.

For :math:`x \in \mathbb{R}^{B \times C \times F}` normalized over its trailing
axes (``normalized_shape`` = the shape of one example's :math:`(C, F)` block, or
just :math:`D` for a (B, T, D) sequence), the statistics of example :math:`b`
are taken over the channels **and** features (Ba et al., Eq. 4):

.. math::

    \mu_b = \frac{1}{CF} \sum_{c,f} x_{bcf}, \qquad
    \sigma^2_b = \frac{1}{CF} \sum_{c,f} (x_{bcf} - \mu_b)^2           \qquad (1)

    y_{bcf} = \gamma_{cf} \frac{x_{bcf} - \mu_b}{\sqrt{\sigma^2_b + \epsilon}} + \beta_{cf}
                                                                       \qquad (2)

RMSNorm drops the re-centring (Zhang & Sennrich, Eq. 4): one statistic
instead of two, and no :math:`\beta`:

.. math::

    \mathrm{RMS}_b = \sqrt{\frac{1}{CF} \sum_{c,f} x_{bcf}^2 + \epsilon}, \qquad
    y_{bcf} = \gamma_{cf} \frac{x_{bcf}}{\mathrm{RMS}_b}                \qquad (3)

Nothing is shared across the batch, so train and eval modes agree and a batch
of one gives the same output as the same example inside a batch. With
:math:`D = \prod` ``normalized_shape``, LayerNorm has :math:`2D` parameters and
RMSNorm :math:`D`.

Deviations from the papers, as in ``torch.nn.LayerNorm`` / ``torch.nn.RMSNorm``
(drop-in replacements: same constructor arguments and ``state_dict`` keys):
:math:`\epsilon` sits inside the square root; RMSNorm's ``eps=None`` means
``torch.finfo(x.dtype).eps``; ``bias=False`` drops :math:`\beta` from LayerNorm.

Paths: :func:`layer_norm` / :func:`rms_norm` are the references (explicit
reductions); :func:`layer_norm_fast` / :func:`rms_norm_fast` have the same
signatures and call ``F.layer_norm`` (a fused one-pass kernel: the reference
takes 8-10x its forward + backward time on CPU) and ``F.rms_norm`` (on CPU a
composite of a few kernels, 1.3x faster than the reference; fused on GPUs).
Figures: ``benchmarks/results/norm.md``.

Tests check outputs and input / parameter gradients against the torch modules in
float64, batch independence, ``state_dict`` round trips and fast == reference.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.norm.checks import check_eps, check_positive_int
from replearn.reference import use_reference
from replearn.registry import Example, register

__all__ = [
    "LayerNorm",
    "RMSNorm",
    "layer_moments",
    "layer_norm",
    "layer_norm_fast",
    "rms",
    "rms_norm",
    "rms_norm_fast",
]


def _trailing(x: Tensor, normalized_shape: Sequence[int]) -> list[int]:
    """The last ``len(normalized_shape)`` axes of ``x`` (one example's (C, F) block)."""
    return list(range(x.dim() - len(normalized_shape), x.dim()))


def layer_moments(x: Tensor, normalized_shape: Sequence[int]) -> tuple[Tensor, Tensor]:
    r"""Eq. (1): mean and biased variance of each example over its trailing axes.

    Shape:
        x: (B, *normalized_shape) -> mean, var: (B, 1, ..., 1) (kept for broadcasting).
    """
    dims = _trailing(x, normalized_shape)
    mean = x.mean(dim=dims, keepdim=True)  # (B, 1, ..., 1)
    var = (x - mean).square().mean(dim=dims, keepdim=True)  # (B, 1, ..., 1)
    return mean, var


def layer_norm(
    x: Tensor,
    normalized_shape: Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    r"""Eq. (2), reference path with the signature of ``F.layer_norm``.

    Shape:
        x: (B, *normalized_shape); weight, bias: normalized_shape -> x's shape.
    """
    mean, var = layer_moments(x, normalized_shape)
    y = (x - mean) / torch.sqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def layer_norm_fast(
    x: Tensor,
    normalized_shape: Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Fast path: the fused ``F.layer_norm`` kernel; same result as :func:`layer_norm`.

    Shape:
        x: (B, *normalized_shape) -> x's shape.
    """
    return F.layer_norm(x, tuple(normalized_shape), weight, bias, eps)


def rms(x: Tensor, normalized_shape: Sequence[int], eps: float) -> Tensor:
    r"""Eq. (3), left: :math:`\sqrt{\frac{1}{CF}\sum x^2 + \epsilon}` per example.

    Shape:
        x: (B, *normalized_shape) -> (B, 1, ..., 1).
    """
    return torch.sqrt(x.square().mean(dim=_trailing(x, normalized_shape), keepdim=True) + eps)


def rms_norm(
    x: Tensor,
    normalized_shape: Sequence[int],
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """Eq. (3), reference path with the signature of ``F.rms_norm``.

    Shape:
        x: (B, *normalized_shape); weight: normalized_shape -> x's shape.
    """
    eps = torch.finfo(x.dtype).eps if eps is None else eps
    y = x / rms(x, normalized_shape, eps)
    return y * weight if weight is not None else y


def rms_norm_fast(
    x: Tensor,
    normalized_shape: Sequence[int],
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """Fast path: ``F.rms_norm``; same result as :func:`rms_norm`.

    Shape:
        x: (B, *normalized_shape) -> x's shape.
    """
    return F.rms_norm(x, tuple(normalized_shape), weight, eps)


def _as_shape(normalized_shape: int | Sequence[int]) -> tuple[int, ...]:
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not shape:
        raise ValueError(f"normalized_shape must not be empty, got {normalized_shape!r}")
    for d in shape:
        check_positive_int("normalized_shape (each size)", d)
    return shape


def _check_input(x: Tensor, shape: tuple[int, ...]) -> None:
    if x.dim() < len(shape) or tuple(x.shape[x.dim() - len(shape) :]) != shape:
        raise ValueError(f"expected input ending in {shape}, got shape {tuple(x.shape)}")


@register(
    "norm.layernorm",
    paper="Ba, Kiros & Hinton 2016, arXiv:1607.06450",
    reference="torch.nn.LayerNorm (outputs and gradients), float64",
    example=lambda: Example(LayerNorm(6), (torch.randn(4, 5, 6),), (4, 5, 6)),
)
class LayerNorm(nn.Module):
    """Layer normalization over the trailing axes; drop-in for ``torch.nn.LayerNorm``.

    Args:
        normalized_shape: trailing shape normalized over (an int :math:`D`, or e.g. (C, H, W)).
        eps: :math:`\\epsilon` added to the variance.
        elementwise_affine: learn :math:`\\gamma` (and :math:`\\beta` if ``bias``).
        bias: learn :math:`\\beta`.
        device: where the parameters live.
        dtype: their dtype.
        fast: use :func:`layer_norm_fast` instead of the reference.

    Shape:
        (*, *normalized_shape) -> same shape.
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        fast: bool = False,
    ) -> None:
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape)
        check_eps(eps)
        self.eps, self.elementwise_affine, self.fast = eps, elementwise_affine, fast
        kw = {"device": device, "dtype": dtype}
        shape = self.normalized_shape
        self.weight = nn.Parameter(torch.ones(shape, **kw)) if elementwise_affine else None
        self.bias = nn.Parameter(torch.zeros(shape, **kw)) if elementwise_affine and bias else None

    def forward(self, x: Tensor) -> Tensor:
        """Eq. (2)."""
        _check_input(x, self.normalized_shape)
        norm = layer_norm_fast if self.fast and not use_reference() else layer_norm
        return norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, fast={self.fast}"
        )


@register(
    "norm.rmsnorm",
    paper="Zhang & Sennrich 2019, arXiv:1910.07467",
    reference="torch.nn.RMSNorm (outputs and gradients), float64",
    example=lambda: Example(RMSNorm(6), (torch.randn(4, 5, 6),), (4, 5, 6)),
)
class RMSNorm(nn.Module):
    """Root-mean-square normalization (no re-centring); drop-in for ``torch.nn.RMSNorm``.

    Args:
        normalized_shape: trailing shape normalized over.
        eps: :math:`\\epsilon` inside the root; None: ``torch.finfo(x.dtype).eps``.
        elementwise_affine: learn :math:`\\gamma` (D parameters).
        device: where the parameters live.
        dtype: their dtype.
        fast: use :func:`rms_norm_fast` instead of the reference.

    Shape:
        (*, *normalized_shape) -> same shape.
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float | None = None,
        elementwise_affine: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        fast: bool = False,
    ) -> None:
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape)
        check_eps(eps, allow_none=True)
        self.eps, self.elementwise_affine, self.fast = eps, elementwise_affine, fast
        kw = {"device": device, "dtype": dtype}
        shape = self.normalized_shape
        self.weight = nn.Parameter(torch.ones(shape, **kw)) if elementwise_affine else None

    def forward(self, x: Tensor) -> Tensor:
        """Eq. (3)."""
        _check_input(x, self.normalized_shape)
        norm = rms_norm_fast if self.fast and not use_reference() else rms_norm
        return norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, fast={self.fast}"
        )
