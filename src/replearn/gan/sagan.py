r"""SAGAN: self-attention in both players, spectral norm everywhere, hinge loss.

Paper: H. Zhang, I. Goodfellow, D. Metaxas & A. Odena, "Self-Attention Generative
Adversarial Networks", ICML 2019, arXiv:1805.08318 (Sec. 3, Eq. 1-3; Sec. 4).

For a feature map :math:`x \in \mathbb{R}^{C \times N}` (:math:`N = HW` positions)
and 1x1 convolutions :math:`f, g` (to :math:`\bar C = C/8` channels), :math:`h` (to
:math:`C/2`) and :math:`v` (back to :math:`C`):

.. math::

    s_{ij} = f(x_i)^\top g(x_j), \qquad
    \beta_{j,i} = \frac{\exp(s_{ij})}{\sum_{i'} \exp(s_{i'j})}                      \qquad (1)

    o_j = v\Bigl(\sum_i \beta_{j,i}\, h(x_i)\Bigr)                                 \qquad (2)

    y_i = \gamma\, o_i + x_i, \qquad \gamma \text{ learnable, initialized to } 0    \qquad (3)

so the block starts as the identity and learns how much non-local evidence to
mix in. Both players use spectral normalization on every layer
(:func:`replearn.gan.tricks.apply_spectral_norm`) and are trained with the hinge
loss (:mod:`replearn.gan.losses`, Eq. 7) with two time-scale learning rates
(TTUR: D 4e-4, G 1e-4 in the paper). Deviations: the DCGAN backbone of
:mod:`replearn.gan.dcgan` (one attention block at the middle resolution) instead of
the paper's ResNet blocks; :math:`h` to :math:`C/2` channels as in the authors'
code (the paper's text keeps :math:`\bar C`). No scaling by :math:`\sqrt{\bar C}`.

Tests: Eq. (1)-(2) against ``F.scaled_dot_product_attention`` (scale 1) on the
same projections; :math:`\gamma = 0` gives the identity; shapes; every layer
spectrally normalized.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from replearn.gan.dcgan import DCGANGenerator, _check_size, dcgan_init_
from replearn.gan.tricks import apply_spectral_norm
from replearn.registry import Example, register

__all__ = ["SAGANDiscriminator", "SAGANGenerator", "SelfAttention2d", "self_attention_map"]


def self_attention_map(f: Tensor, g: Tensor) -> Tensor:
    r"""Eq. (1): :math:`\beta_{j,i} = \operatorname{softmax}_i(f(x_i)^\top g(x_j))`.

    Shape:
        f, g: (B, C_bar, N) -> beta: (B, N_j, N_i), rows summing to 1.
    """
    s = torch.bmm(g.transpose(1, 2), f)  # (B, N_j, N_i): s[b, j, i] = g_j . f_i
    return torch.softmax(s, dim=-1)


@register(
    "gan.self_attention",
    paper="Zhang et al. 2019, arXiv:1805.08318 (Eq. 1-3)",
    reference="F.scaled_dot_product_attention with scale 1; gamma = 0 is the identity",
    example=lambda: Example(SelfAttention2d(16), (torch.randn(2, 16, 4, 4),), (2, 16, 4, 4)),
)
class SelfAttention2d(nn.Module):
    """Eq. (1)-(3): non-local attention over the positions of a feature map.

    Shape:
        x: (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels < 8:
            raise ValueError(f"channels must be >= 8 (C/8 query channels), got {channels}")
        self.channels = channels
        self.f = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.g = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.h = nn.Conv2d(channels, channels // 2, 1, bias=False)
        self.v = nn.Conv2d(channels // 2, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        b, c, hh, ww = x.shape
        f = self.f(x).flatten(2)  # (B, C/8, N)
        g = self.g(x).flatten(2)  # (B, C/8, N)
        h = self.h(x).flatten(2)  # (B, C/2, N)
        beta = self_attention_map(f, g)  # (B, N_j, N_i)
        o = torch.bmm(h, beta.transpose(1, 2)).view(b, c // 2, hh, ww)  # sum_i beta_ji h_i
        return self.gamma * self.v(o) + x

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


@register(
    "gan.sagan_generator",
    paper="Zhang et al. 2019, arXiv:1805.08318",
    reference="shapes; spectral norm per layer",
    example=lambda: Example(
        SAGANGenerator(z_dim=8, image_size=8, width=8), (torch.randn(2, 8),), (2, 1, 8, 8)
    ),
)
class SAGANGenerator(DCGANGenerator):
    """DCGAN generator with self-attention after the first up-sampling and SN on every layer.

    Shape:
        z: (B, z_dim) -> (B, channels, image_size, image_size).
    """

    def __init__(
        self, *, z_dim: int = 64, image_size: int = 28, channels: int = 1, width: int = 64
    ) -> None:
        super().__init__(z_dim=z_dim, image_size=image_size, channels=channels, width=width)
        up1, bn, relu, up2, tanh = self.body
        self.body = nn.Sequential(up1, bn, relu, SelfAttention2d(width), up2, tanh)
        apply_spectral_norm(self)


@register(
    "gan.sagan_discriminator",
    paper="Zhang et al. 2019, arXiv:1805.08318",
    reference="shapes; spectral norm per layer",
    example=lambda: Example(
        SAGANDiscriminator(image_size=8, width=8), (torch.randn(2, 1, 8, 8),), (2, 1)
    ),
)
class SAGANDiscriminator(nn.Module):
    """Strided SN convolutions with self-attention after the first, a linear logit (hinge).

    Shape:
        x: (B, channels, image_size, image_size) -> (B, 1).
    """

    def __init__(self, *, image_size: int = 28, channels: int = 1, width: int = 64) -> None:
        super().__init__()
        s = _check_size(image_size)
        self.image_size, self.width = image_size, width
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.1),
            SelfAttention2d(width),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.1),
            nn.Flatten(),
        )
        self.head = nn.Linear(2 * width * s * s, 1)
        dcgan_init_(self)
        apply_spectral_norm(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))

    def extra_repr(self) -> str:
        return f"image_size={self.image_size}, width={self.width}"
