r"""Dequantization, the logit pre-processing and bits per dimension for image flows.

Papers: L. Theis, A. van den Oord & M. Bethge, "A note on the evaluation of generative
models", ICLR 2016, arXiv:1511.01844 (uniform dequantization, Sec. 3.1); Dinh,
Sohl-Dickstein & Bengio 2017, arXiv:1605.08803 (Sec. 4.1, the logit transform).

Pixels take :math:`K` discrete levels :math:`k \in \{0, \dots, K-1\}`. A continuous
density on :math:`y = (k + u)/K`, :math:`u \sim U[0, 1)^D` bounds the discrete
log-likelihood from below (Jensen), bin by bin of volume :math:`K^{-D}`:

.. math::

    \log P(k) \ge \mathbb{E}_u\left[\log p(y)\right] - D \log K              \qquad (1)

    \text{bits/dim} = \frac{-\log p(y) + D \log K}{D \log 2}
                    = \frac{-\log p(y)}{D \log 2} + \log_2 K                   \qquad (2)

    \text{logit:}\quad s = \alpha + (1 - 2\alpha) y, \quad
    x' = \log s - \log(1 - s), \quad
    \log\left|\frac{dx'}{dy}\right| = \textstyle\sum_i \log(1-2\alpha) - \log s_i - \log(1-s_i)
                                                                            \qquad (3)

The logit transform (a flow layer itself; its log-determinant counts in the
likelihood, Eq. 1 of :mod:`replearn.flow.base`) maps :math:`[0, 1]` to
:math:`\mathbb{R}`, where affine couplings work; :math:`\alpha` keeps it finite.

Tests: Eq. (2) for a uniform density (exactly :math:`\log_2 K` bits/dim); the logit's
log-determinant against ``torch.autograd.functional.jacobian``; ``uniform_dequantize``
stays in its pixel's bin.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from replearn.flow.base import Flow, sum_except_batch
from replearn.registry import Example, register

__all__ = ["LogitTransform", "bits_per_dim", "logit_forward", "uniform_dequantize"]


def uniform_dequantize(
    x: Tensor, n_levels: int, *, generator: torch.Generator | None = None
) -> Tensor:
    r"""Eq. (1)'s :math:`y = (k + u) / K` for pixels :math:`x = k / (K - 1)` in [0, 1].

    Shape:
        x: (B, ...) -> (B, ...), values in [k/K, (k+1)/K).
    """
    k = torch.round(x * (n_levels - 1))
    u = torch.rand(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    return (k + u) / n_levels


def bits_per_dim(log_py: Tensor, n_dims: int, n_levels: int) -> Tensor:
    r"""Eq. (2): :math:`(-\log p(y) + D \log K) / (D \log 2)`.

    Shape:
        log_py: (B,) -> (B,).
    """
    return (-log_py + n_dims * math.log(n_levels)) / (n_dims * math.log(2))


def logit_forward(y: Tensor, alpha: float) -> tuple[Tensor, Tensor]:
    r"""Eq. (3): :math:`\mathrm{logit}(\alpha + (1-2\alpha) y)` and its log-determinant.

    Shape:
        y: (B, ...) -> x: (B, ...), log_det: (B,).
    """
    s = alpha + (1 - 2 * alpha) * y
    x = torch.log(s) - torch.log1p(-s)
    log_det = sum_except_batch(math.log(1 - 2 * alpha) - torch.log(s) - torch.log1p(-s))
    return x, log_det


@register(
    "flow.logit_transform",
    paper="Dinh, Sohl-Dickstein & Bengio 2017, arXiv:1605.08803 (Sec. 4.1)",
    reference="torch.autograd.functional.jacobian (log-det); inverse(forward(y)) == y",
    example=lambda: Example(LogitTransform((3,)), (torch.rand(4, 3, requires_grad=True),), (4, 3)),
)
class LogitTransform(Flow):
    """Eq. (3) as a flow layer from [0, 1]^D to R^D (no parameters).

    Args:
        event_shape: shape of one example.
        alpha: the margin alpha in (0, 0.5) (Real NVP: 0.05).
    """

    def __init__(self, event_shape: tuple[int, ...], *, alpha: float = 0.05) -> None:
        super().__init__()
        if not 0 < alpha < 0.5:
            raise ValueError(f"alpha must be in (0, 0.5), got {alpha}")
        self.alpha = alpha
        self.event_shape = self.latent_shape = tuple(event_shape)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return logit_forward(x, self.alpha)

    def inverse(self, z: Tensor) -> Tensor:
        return (torch.sigmoid(z) - self.alpha) / (1 - 2 * self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"
