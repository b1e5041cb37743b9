r"""Group normalization: standardize groups of channels of each example.

Paper: Y. Wu & K. He, "Group Normalization", ECCV 2018, arXiv:1803.08494.

The :math:`C` channels are split into :math:`G` groups of :math:`C/G`
consecutive channels. For :math:`x \in \mathbb{R}^{B \times C \times F}` the
statistics of group :math:`g` of example :math:`b` are taken over the group's
channels and the features (the paper's Eqs. 1-2 with the set :math:`\mathcal{S}_i`
of its Eq. 7):

.. math::

    \mu_{bg} = \frac{G}{CF} \sum_{c \in g} \sum_{f} x_{bcf}, \qquad
    \sigma^2_{bg} = \frac{G}{CF} \sum_{c \in g,\, f} (x_{bcf} - \mu_{bg})^2     \qquad (1)

    y_{bcf} = \gamma_c \frac{x_{bcf} - \mu_{bg(c)}}{\sqrt{\sigma^2_{bg(c)} + \epsilon}}
        + \beta_c                                                             \qquad (2)

with a per-*channel* affine (:math:`2C` parameters). :math:`G = 1` is layer norm
over (C, F) with per-channel :math:`\gamma, \beta`; :math:`G = C` is instance
norm. No statistic crosses the batch, so GroupNorm behaves the same at batch
size 2 as at 32 (Fig. 1 of the paper), and train and eval modes agree.

Deviations: none beyond ``torch.nn.GroupNorm``'s conventions (a drop-in
replacement: same constructor arguments, ``state_dict`` keys ``weight, bias``).

Paths: :func:`group_norm` is the reference (reshape to (B, G, -1), explicit
moments); :func:`group_norm_fast` has the same signature and calls the fused
``F.group_norm`` kernel (forward + backward on CPU: reference 5-7x torch's time,
fast path on par; ``benchmarks/results/norm.md``).

Tests check outputs and input / parameter gradients against
``torch.nn.GroupNorm`` in float64, the G = 1 / G = C special cases, ``state_dict``
round trips and fast == reference.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.norm.batchnorm import scale_shift
from replearn.norm.checks import check_eps, check_positive_int
from replearn.reference import use_reference
from replearn.registry import Example, register

__all__ = ["GroupNorm", "group_moments", "group_norm", "group_norm_fast"]


def group_moments(x: Tensor, num_groups: int) -> tuple[Tensor, Tensor]:
    r"""Eq. (1): mean and biased variance of each (example, group) over C/G channels and F.

    Shape:
        x: (B, C, *) -> mean, var: (B, G, 1).
    """
    xg = x.reshape(x.shape[0], num_groups, -1)  # (B, G, C/G * F)
    mean = xg.mean(dim=-1, keepdim=True)  # (B, G, 1)
    var = (xg - mean).square().mean(dim=-1, keepdim=True)  # (B, G, 1)
    return mean, var


def group_norm(
    x: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Eq. (2), reference path with the signature of ``F.group_norm``.

    Shape:
        x: (B, C, *); weight, bias: (C,) -> (B, C, *).
    """
    mean, var = group_moments(x, num_groups)  # (B, G, 1)
    xg = x.reshape(x.shape[0], num_groups, -1)  # (B, G, C/G * F)
    x_hat = ((xg - mean) / torch.sqrt(var + eps)).reshape(x.shape)  # (B, C, *)
    return scale_shift(x_hat, weight, bias)


def group_norm_fast(
    x: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Fast path: the fused ``F.group_norm`` kernel; same result as :func:`group_norm`.

    Shape:
        x: (B, C, *) -> (B, C, *).
    """
    return F.group_norm(x, num_groups, weight, bias, eps)


@register(
    "norm.groupnorm",
    paper="Wu & He 2018, ECCV, arXiv:1803.08494",
    reference="torch.nn.GroupNorm (outputs and gradients), float64",
    example=lambda: Example(GroupNorm(2, 6), (torch.randn(3, 6, 4, 4),), (3, 6, 4, 4)),
)
class GroupNorm(nn.Module):
    """Group normalization of (B, C, *) inputs; drop-in for ``torch.nn.GroupNorm``.

    Args:
        num_groups: :math:`G`; must divide ``num_channels``.
        num_channels: :math:`C`.
        eps: :math:`\\epsilon` added to the variance.
        affine: learn per-channel :math:`\\gamma, \\beta` (2C parameters).
        device: where the parameters live.
        dtype: their dtype.
        bias: learn :math:`\\beta` (with ``affine``; False: C parameters).
        fast: use :func:`group_norm_fast` instead of the reference.

    Shape:
        (B, C, *) -> same shape.
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        bias: bool = True,
        *,
        fast: bool = False,
    ) -> None:
        super().__init__()
        for name, value in (("num_groups", num_groups), ("num_channels", num_channels)):
            check_positive_int(name, value)
        if num_channels % num_groups:
            raise ValueError(
                f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})"
            )
        check_eps(eps)
        self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
        self.affine, self.fast = affine, fast
        kw = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.ones(num_channels, **kw)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_channels, **kw)) if affine and bias else None

    def forward(self, x: Tensor) -> Tensor:
        """Eqs. (1)-(2)."""
        if x.dim() < 2 or x.shape[1] != self.num_channels:
            raise ValueError(
                f"expected input of shape (B, {self.num_channels}, *), got {tuple(x.shape)}"
            )
        norm = group_norm_fast if self.fast and not use_reference() else group_norm
        return norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"fast={self.fast}"
        )
