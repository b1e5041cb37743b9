r"""A small BigGAN: class-conditional BatchNorm, projection discriminator, orthogonal
regularization and the truncation trick.

Papers: A. Brock, J. Donahue & K. Simonyan, "Large Scale GAN Training for High
Fidelity Natural Image Synthesis", ICLR 2019, arXiv:1809.11096 (Sec. 3, Eq. 3,
Appendix B); T. Miyato & M. Koyama, "cGANs with Projection Discriminator", ICLR
2018, arXiv:1802.05637 (Eq. 3); H. de Vries et al., "Modulating early visual
processing by language", NeurIPS 2017, arXiv:1707.00683 (conditional BatchNorm).

.. math::

    \mathrm{CBN}(x \mid c) = (1 + \gamma(c)) \odot \frac{x - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}}
        + \beta(c), \quad c = [e(y); z_\ell]                                          \qquad (1)

    D(x, y) = \psi(\phi(x)) + e_D(y)^\top \phi(x)                                     \qquad (2)

    R_\beta(W) = \beta\,\bigl\|W W^\top \odot (\mathbf{1} - I)\bigr\|_F^2              \qquad (3)

    z \sim \mathcal{N}(0, I) \text{ truncated to } |z_k| \le t
        \text{ (entries outside resampled)}                                           \qquad (4)

Eq. (1): :math:`\gamma, \beta` are linear maps of the shared class embedding
concatenated with this block's chunk of the latent vector ("hierarchical latent
space", skip-z); Eq. (2): the class enters D as an inner product with the
features (projection) instead of a concatenation; Eq. (3): BigGAN's relaxed
orthogonality, which leaves the norms of the filters (rows of :math:`W`, flattened)
free; Eq. (4): sampling from a truncated normal trades variety for fidelity as the
threshold :math:`t` shrinks. Both players use spectral normalization. Deviations:
two up-sampling stages on the DCGAN backbone (28x28 or 8x8 grey images) instead of
residual blocks; no self-attention, no EMA of G (use :class:`replearn.engine.EMA`).

Tests: Eq. (1) against :class:`replearn.norm.BatchNorm2d` without affine followed by
the per-example affine map; Eq. (2) against the explicit sum; Eq. (3) zero for an
orthogonal matrix and equal to a hand computation otherwise; Eq. (4) within the
threshold and matching ``scipy.stats.truncnorm`` moments.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from replearn.gan.dcgan import _check_size, dcgan_init_
from replearn.gan.tricks import apply_spectral_norm
from replearn.norm import BatchNorm2d
from replearn.registry import Example, register

__all__ = [
    "BigGANDiscriminator",
    "BigGANGenerator",
    "ConditionalBatchNorm2d",
    "orthogonal_regularization",
    "truncated_noise",
]


def orthogonal_regularization(module: nn.Module, beta: float = 1e-4) -> Tensor:
    r"""Eq. (3) summed over the Linear/Conv weights of ``module`` (rows = output units).

    On a spectrally normalized layer the penalty applies to the stored (unnormalized)
    weight, as in the authors' code, which regularizes every parameter matrix.

    Shape:
        -> scalar.
    """
    total = torch.zeros(())
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            raw = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            w = raw.flatten(1)  # (out, in k k)
            gram = w @ w.T  # (out, out)
            off = gram * (1.0 - torch.eye(len(gram), device=w.device, dtype=w.dtype))
            total = total + off.square().sum()
    return beta * total


@register(
    "gan.truncated_noise",
    paper="Brock et al. 2019, arXiv:1809.11096 (Sec. 3.1)",
    reference="scipy.stats.truncnorm moments",
)
def truncated_noise(
    n: int, dim: int, threshold: float, *, generator: torch.Generator | None = None
) -> Tensor:
    """Eq. (4): standard normal entries, those with ``|z| > threshold`` redrawn until none is.

    Shape:
        -> (n, dim).
    """
    if threshold <= 0:
        raise ValueError(f"threshold must be > 0, got {threshold}")
    z = torch.randn(n, dim, generator=generator)
    outside = z.abs() > threshold
    while outside.any():
        z[outside] = torch.randn(int(outside.sum()), generator=generator)
        outside = z.abs() > threshold
    return z


@register(
    "gan.conditional_batchnorm",
    paper="de Vries et al. 2017 (arXiv:1707.00683); Brock et al. 2019 (arXiv:1809.11096)",
    reference="replearn.norm.BatchNorm2d(affine=False) then the per-example affine map",
    example=lambda: Example(
        ConditionalBatchNorm2d(4, 6), (torch.randn(3, 4, 5, 5), torch.randn(3, 6)), (3, 4, 5, 5)
    ),
)
class ConditionalBatchNorm2d(nn.Module):
    """Eq. (1): BatchNorm whose scale and shift are linear functions of a condition vector.

    Shape:
        x: (B, C, H, W), cond: (B, cond_dim) -> (B, C, H, W).
    """

    def __init__(self, num_features: int, cond_dim: int) -> None:
        super().__init__()
        self.num_features, self.cond_dim = num_features, cond_dim
        self.bn = BatchNorm2d(num_features, affine=False, fast=True)
        self.gain = nn.Linear(cond_dim, num_features, bias=False)  # gamma(c), 1 + added below
        self.bias = nn.Linear(cond_dim, num_features, bias=False)  # beta(c)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        gamma = 1.0 + self.gain(cond)[:, :, None, None]  # (B, C, 1, 1)
        beta = self.bias(cond)[:, :, None, None]
        return gamma * self.bn(x) + beta

    def extra_repr(self) -> str:
        return f"{self.num_features}, cond_dim={self.cond_dim}"


def _gen_example() -> Example:
    g = BigGANGenerator(z_dim=12, num_classes=3, image_size=8, width=8, embed_dim=4)
    return Example(g, (torch.randn(2, 12), torch.tensor([0, 2])), (2, 1, 8, 8))


@register(
    "gan.biggan_generator",
    paper="Brock, Donahue & Simonyan 2019, arXiv:1809.11096",
    reference="shapes; conditional BN and truncation checked separately",
    example=_gen_example,
)
class BigGANGenerator(nn.Module):
    """Class-conditional generator: z split in 3 chunks (input, block 1, block 2), CBN, SN.

    Shape:
        z: (B, z_dim), y: (B,) int64 -> (B, channels, image_size, image_size).
    """

    def __init__(
        self,
        *,
        z_dim: int = 96,
        num_classes: int = 10,
        image_size: int = 28,
        channels: int = 1,
        width: int = 64,
        embed_dim: int = 32,
    ) -> None:
        super().__init__()
        s = _check_size(image_size)
        if z_dim % 3:
            raise ValueError(f"z_dim must be divisible by 3 (one chunk per stage), got {z_dim}")
        self.z_dim, self.num_classes = z_dim, num_classes
        self.image_size, self.width = image_size, width
        chunk = z_dim // 3
        cond = embed_dim + chunk
        self.embed = nn.Embedding(num_classes, embed_dim)  # shared class embedding
        self.project = nn.Linear(chunk, 2 * width * s * s)
        self.cbn1 = ConditionalBatchNorm2d(2 * width, cond)
        self.up1 = nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1)
        self.cbn2 = ConditionalBatchNorm2d(width, cond)
        self.up2 = nn.ConvTranspose2d(width, channels, 4, stride=2, padding=1)
        self._s = s
        dcgan_init_(self)
        apply_spectral_norm(self.project)
        apply_spectral_norm(self.up1)
        apply_spectral_norm(self.up2)

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        z0, z1, z2 = z.chunk(3, dim=1)  # (B, z_dim/3) each
        e = self.embed(y)  # (B, embed_dim)
        h = self.project(z0).view(-1, 2 * self.width, self._s, self._s)
        h = self.up1(torch.relu(self.cbn1(h, torch.cat([e, z1], 1))))  # (B, w, 2s, 2s)
        h = self.up2(torch.relu(self.cbn2(h, torch.cat([e, z2], 1))))  # (B, C, 4s, 4s)
        return torch.tanh(h)

    def extra_repr(self) -> str:
        return f"z_dim={self.z_dim}, num_classes={self.num_classes}, image_size={self.image_size}"


@register(
    "gan.projection_discriminator",
    paper="Miyato & Koyama 2018, arXiv:1802.05637 (Eq. 3)",
    reference="explicit psi(phi(x)) + <e(y), phi(x)>",
    example=lambda: Example(
        BigGANDiscriminator(num_classes=3, image_size=8, width=8),
        (torch.randn(2, 1, 8, 8), torch.tensor([1, 2])),
        (2, 1),
    ),
)
class BigGANDiscriminator(nn.Module):
    """Eq. (2): SN convolutional features, a linear head plus the class projection.

    Shape:
        x: (B, channels, image_size, image_size), y: (B,) -> (B, 1).
    """

    def __init__(
        self, *, num_classes: int = 10, image_size: int = 28, channels: int = 1, width: int = 64
    ) -> None:
        super().__init__()
        s = _check_size(image_size)
        self.num_classes, self.image_size, self.width = num_classes, image_size, width
        feat = 2 * width * s * s
        self.phi = nn.Sequential(
            nn.Conv2d(channels, width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
        )
        self.psi = nn.Linear(feat, 1)
        self.embed = nn.Embedding(num_classes, feat)
        dcgan_init_(self)
        apply_spectral_norm(self)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        h = self.phi(x)  # (B, F)
        return self.psi(h) + (self.embed(y) * h).sum(1, keepdim=True)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, image_size={self.image_size}, width={self.width}"
