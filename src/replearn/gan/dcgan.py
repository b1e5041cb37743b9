r"""DCGAN generator and discriminator for small grey images (8x8 digits, 28x28 Fashion-MNIST).

Paper: A. Radford, L. Metz & S. Chintala, "Unsupervised Representation Learning
with Deep Convolutional Generative Adversarial Networks", ICLR 2016,
arXiv:1511.06434 (Sec. 3, "architecture guidelines"; Fig. 1).

The guidelines: strided convolutions instead of pooling in D, fractionally strided
(transposed) convolutions in G, BatchNorm in both (not on G's output nor D's input),
ReLU in G with tanh on the output, LeakyReLU (slope 0.2) in D. With
:math:`s = \text{image\_size}/4`:

.. math::

    G: z \xrightarrow{\text{linear}} (2w, s, s) \xrightarrow{\text{convT } 4/2}
       (w, 2s, 2s) \xrightarrow{\text{convT } 4/2} (C, 4s, 4s) \xrightarrow{\tanh}    \qquad (1)

    D: x \xrightarrow{\text{conv } 4/2} (w, 2s, 2s) \xrightarrow{\text{conv } 4/2}
       (2w, s, s) \xrightarrow{\text{linear}} \text{logit}                              \qquad (2)

A transposed convolution with kernel 4, stride 2, padding 1 doubles the size
exactly: :math:`(n - 1) \cdot 2 - 2 + 4 = 2n`. Deviations: two up-sampling stages
instead of four (28x28 inputs), a linear last layer in D instead of a convolution
to one logit; weights initialized from :math:`\mathcal{N}(0, 0.02)` as in the paper.

The same backbone serves WGAN and WGAN-GP (Arjovsky et al. 2017; Gulrajani et al.
2017): ``norm="none"`` drops D's BatchNorm (the gradient penalty is per sample, so
Gulrajani et al. use no BatchNorm in the critic), ``spectral=True`` normalizes
every layer of D (Miyato et al. 2018). BatchNorm is :class:`replearn.norm.BatchNorm2d`
(its fused path); spectral norm :func:`replearn.norm.spectral_norm`.

Tests: output shapes for 8, 16 and 28 pixels; G's output in [-1, 1]; the
transposed-convolution size rule; D with spectral norm has :math:`\sigma(W) = 1` per
layer; a few DCGAN steps through the engine lower the discriminator loss.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from replearn.gan.tricks import apply_spectral_norm
from replearn.norm import BatchNorm1d, BatchNorm2d
from replearn.registry import Example, register

__all__ = ["DCGANDiscriminator", "DCGANGenerator", "dcgan_init_"]


def _check_size(image_size: int) -> int:
    if image_size < 4 or image_size % 4:
        raise ValueError(f"image_size must be a multiple of 4 (>= 4), got {image_size}")
    return image_size // 4


def dcgan_init_(module: nn.Module) -> None:
    """Weights from N(0, 0.02), BatchNorm scales from N(1, 0.02), biases 0 (Radford et al.)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (BatchNorm1d, BatchNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


@register(
    "gan.dcgan_generator",
    paper="Radford, Metz & Chintala 2016, arXiv:1511.06434",
    reference="shape rules of transposed convolutions; trained through the engine",
    example=lambda: Example(
        DCGANGenerator(z_dim=8, image_size=8, width=8), (torch.randn(2, 8),), (2, 1, 8, 8)
    ),
)
class DCGANGenerator(nn.Module):
    """Eq. (1): project and reshape, two fractionally strided convolutions, tanh.

    Shape:
        z: (B, z_dim) -> (B, channels, image_size, image_size) in [-1, 1].
    """

    def __init__(
        self, *, z_dim: int = 64, image_size: int = 28, channels: int = 1, width: int = 64
    ) -> None:
        super().__init__()
        s = _check_size(image_size)
        if min(z_dim, channels, width) < 1:
            raise ValueError("z_dim, channels and width must be >= 1")
        self.z_dim, self.image_size, self.channels, self.width = z_dim, image_size, channels, width
        self.project = nn.Sequential(
            nn.Linear(z_dim, 2 * width * s * s, bias=False),
            BatchNorm1d(2 * width * s * s),
            nn.ReLU(),
        )
        self.body = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False),
            BatchNorm2d(width, fast=True),
            nn.ReLU(),
            nn.ConvTranspose2d(width, channels, 4, stride=2, padding=1),
            nn.Tanh(),
        )
        self._s = s
        dcgan_init_(self)

    def forward(self, z: Tensor) -> Tensor:
        h = self.project(z).view(-1, 2 * self.width, self._s, self._s)  # (B, 2w, s, s)
        return self.body(h)  # (B, C, 4s, 4s)

    def extra_repr(self) -> str:
        return f"z_dim={self.z_dim}, image_size={self.image_size}, width={self.width}"


@register(
    "gan.dcgan_discriminator",
    paper="Radford et al. 2016 (arXiv:1511.06434); WGAN-GP critic: Gulrajani et al. 2017",
    reference="shape rules; sigma(W) = 1 per layer with spectral norm",
    example=lambda: Example(
        DCGANDiscriminator(image_size=8, width=8), (torch.randn(2, 1, 8, 8),), (2, 1)
    ),
)
class DCGANDiscriminator(nn.Module):
    """Eq. (2): two strided convolutions with LeakyReLU(0.2), a linear logit.

    Args:
        norm: ``"batch"`` (DCGAN) or ``"none"`` (WGAN-GP critic).
        spectral: spectral normalization of every layer (SN-GAN).

    Shape:
        x: (B, channels, image_size, image_size) -> (B, 1).
    """

    def __init__(
        self,
        *,
        image_size: int = 28,
        channels: int = 1,
        width: int = 64,
        norm: str = "batch",
        spectral: bool = False,
    ) -> None:
        super().__init__()
        s = _check_size(image_size)
        if norm not in ("batch", "none"):
            raise ValueError(f"norm must be 'batch' or 'none', got {norm!r}")
        self.image_size, self.width, self.norm, self.spectral = image_size, width, norm, spectral
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),
            BatchNorm2d(2 * width, fast=True) if norm == "batch" else nn.Identity(),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
        )
        self.head = nn.Linear(2 * width * s * s, 1)
        dcgan_init_(self)
        if spectral:
            apply_spectral_norm(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))

    def extra_repr(self) -> str:
        size, width = self.image_size, self.width
        return f"image_size={size}, width={width}, norm={self.norm!r}, spectral={self.spectral}"
