r"""SPADE: spatially-adaptive denormalization for layout-to-image synthesis (GauGAN).

Paper: T. Park, M.-Y. Liu, T.-C. Wang & J.-Y. Zhu, "Semantic Image Synthesis with
Spatially-Adaptive Normalization", CVPR 2019, arXiv:1903.07291 (Eq. 1; Fig. 2, 4).

For activations :math:`h \in \mathbb{R}^{N \times C \times H \times W}` and a
one-hot segmentation map :math:`m \in \{0, 1\}^{N \times K \times H \times W}`
(resized to :math:`H \times W` by nearest neighbours):

.. math::

    \gamma_{c,y,x}(m),\ \beta_{c,y,x}(m) = \text{conv}_{\gamma / \beta}\bigl(
        \operatorname{ReLU}(\text{conv}(m))\bigr)                                     \qquad (1a)

    \mathrm{SPADE}(h, m)_{n,c,y,x} = \gamma_{c,y,x}(m)\,
        \frac{h_{n,c,y,x} - \mu_c}{\sigma_c} + \beta_{c,y,x}(m)                         \qquad (1)

with :math:`\mu_c, \sigma_c` the batch statistics of channel :math:`c` (a
parameter-free BatchNorm). Unlike conditional BatchNorm (one scale per channel), the
modulation varies over positions, so the layout is not "washed away" by
normalization. As in the authors' code the scale is applied as :math:`1 + \gamma`.
The generator is a stack of SPADE residual blocks with up-sampling, from a linear
projection of a noise vector (the paper's VAE encoder is not used).

Deviations: two up-samplings for 8x8 to 28x28 images, 3x3 convolutions of
``hidden`` channels in the modulation network, the discriminator is a PatchGAN
(:class:`replearn.gan.cyclegan.PatchDiscriminator`) on the image concatenated with
the map (the paper: multi-scale). BatchNorm is :class:`replearn.norm.BatchNorm2d`.

Tests: Eq. (1) against an explicit computation; with a spatially constant map
SPADE reduces to BatchNorm with one affine map; the modulation follows the map
(changing one region changes the output only where the receptive field of the
modulation network reaches); shapes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.gan.dcgan import _check_size
from replearn.norm import BatchNorm2d
from replearn.registry import Example, register

__all__ = ["SPADE", "SPADEGenerator", "SPADEResBlock", "spade_modulation"]


def spade_modulation(h_normalized: Tensor, gamma: Tensor, beta: Tensor) -> Tensor:
    r"""Eq. (1) after normalization: :math:`(1 + \gamma) \odot \hat h + \beta`, per position.

    Shape:
        h_normalized, gamma, beta: (N, C, H, W) -> (N, C, H, W).
    """
    return (1.0 + gamma) * h_normalized + beta


@register(
    "gan.spade",
    paper="Park, Liu, Wang & Zhu 2019, arXiv:1903.07291 (Eq. 1)",
    reference="explicit BatchNorm + per-position affine map; constant map = BatchNorm",
    example=lambda: Example(
        SPADE(4, 3, hidden=8), (torch.randn(2, 4, 6, 6), torch.rand(2, 3, 12, 12)), (2, 4, 6, 6)
    ),
)
class SPADE(nn.Module):
    """Eq. (1): parameter-free BatchNorm, then a scale and shift computed from the map.

    Shape:
        h: (N, C, H, W), segmap: (N, K, H', W') -> (N, C, H, W).
    """

    def __init__(self, channels: int, label_channels: int, *, hidden: int = 32) -> None:
        super().__init__()
        self.channels, self.label_channels, self.hidden = channels, label_channels, hidden
        self.norm = BatchNorm2d(channels, affine=False, fast=True)
        self.shared = nn.Sequential(nn.Conv2d(label_channels, hidden, 3, padding=1), nn.ReLU())
        self.gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.beta = nn.Conv2d(hidden, channels, 3, padding=1)

    def modulation(self, segmap: Tensor, size: tuple[int, int]) -> tuple[Tensor, Tensor]:
        """Eq. (1a): gamma and beta at every position. Shape: -> 2 x (N, C, *size)."""
        m = F.interpolate(segmap, size=size, mode="nearest")
        a = self.shared(m)
        return self.gamma(a), self.beta(a)

    def forward(self, h: Tensor, segmap: Tensor) -> Tensor:
        gamma, beta = self.modulation(segmap, h.shape[2:])
        return spade_modulation(self.norm(h), gamma, beta)

    def extra_repr(self) -> str:
        return f"{self.channels}, label_channels={self.label_channels}, hidden={self.hidden}"


class SPADEResBlock(nn.Module):
    """SPADE - LeakyReLU - conv3, twice, with a (SPADE - conv1) shortcut when widths differ.

    Shape:
        x: (N, C_in, H, W), segmap: (N, K, H', W') -> (N, C_out, H, W).
    """

    def __init__(self, c_in: int, c_out: int, label_channels: int, *, hidden: int = 32) -> None:
        super().__init__()
        mid = min(c_in, c_out)
        self.norm0 = SPADE(c_in, label_channels, hidden=hidden)
        self.conv0 = nn.Conv2d(c_in, mid, 3, padding=1)
        self.norm1 = SPADE(mid, label_channels, hidden=hidden)
        self.conv1 = nn.Conv2d(mid, c_out, 3, padding=1)
        self.learned_skip = c_in != c_out
        if self.learned_skip:
            self.norm_s = SPADE(c_in, label_channels, hidden=hidden)
            self.conv_s = nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x: Tensor, segmap: Tensor) -> Tensor:
        skip = self.conv_s(self.norm_s(x, segmap)) if self.learned_skip else x
        dx = self.conv0(F.leaky_relu(self.norm0(x, segmap), 0.2))
        dx = self.conv1(F.leaky_relu(self.norm1(dx, segmap), 0.2))
        return skip + dx


@register(
    "gan.spade_generator",
    paper="Park et al. 2019, arXiv:1903.07291 (Fig. 4, small)",
    reference="shapes; trained in gan-spade",
    example=lambda: Example(
        SPADEGenerator(z_dim=8, label_channels=3, image_size=8, width=8, hidden=8),
        (torch.randn(2, 8), torch.rand(2, 3, 8, 8)),
        (2, 1, 8, 8),
    ),
)
class SPADEGenerator(nn.Module):
    """z -> linear -> (2w, s, s) -> SPADE block -> up -> block -> up -> block -> conv -> tanh.

    Shape:
        z: (N, z_dim), segmap: (N, K, image_size, image_size) -> (N, channels, size, size).
    """

    def __init__(
        self,
        *,
        z_dim: int = 32,
        label_channels: int = 3,
        image_size: int = 28,
        channels: int = 1,
        width: int = 32,
        hidden: int = 32,
    ) -> None:
        super().__init__()
        s = _check_size(image_size)
        self.z_dim, self.image_size, self.width, self._s = z_dim, image_size, width, s
        self.project = nn.Linear(z_dim, 2 * width * s * s)
        self.blocks = nn.ModuleList(
            [
                SPADEResBlock(2 * width, 2 * width, label_channels, hidden=hidden),
                SPADEResBlock(2 * width, width, label_channels, hidden=hidden),
                SPADEResBlock(width, width, label_channels, hidden=hidden),
            ]
        )
        self.to_image = nn.Conv2d(width, channels, 3, padding=1)

    def forward(self, z: Tensor, segmap: Tensor) -> Tensor:
        h = self.project(z).view(-1, 2 * self.width, self._s, self._s)  # (N, 2w, s, s)
        for i, block in enumerate(self.blocks):
            h = block(h, segmap)
            if i < 2:
                h = F.interpolate(h, scale_factor=2, mode="nearest")  # s -> 2s -> 4s
        return torch.tanh(self.to_image(F.leaky_relu(h, 0.2)))

    def extra_repr(self) -> str:
        return f"z_dim={self.z_dim}, image_size={self.image_size}, width={self.width}"
