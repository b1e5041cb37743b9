r"""CycleGAN: unpaired translation with two generators, two PatchGAN critics and cycle consistency.

Paper: J.-Y. Zhu, T. Park, P. Isola & A. A. Efros, "Unpaired Image-to-Image
Translation using Cycle-Consistent Adversarial Networks", ICCV 2017,
arXiv:1703.10593 (Eq. 1-3; Sec. 4 and 7: LSGAN loss, image history of 50, identity
loss). PatchGAN: P. Isola et al., "Image-to-Image Translation with Conditional
Adversarial Networks", CVPR 2017, arXiv:1611.07004.

With :math:`G: X \to Y`, :math:`F: Y \to X` and critics :math:`D_X, D_Y` (least
squares, :mod:`replearn.gan.losses` Eq. 8):

.. math::

    \mathcal{L}_{cyc} = \mathbb{E}_x\|F(G(x)) - x\|_1 + \mathbb{E}_y\|G(F(y)) - y\|_1  \qquad (2)

    \mathcal{L}_{id} = \mathbb{E}_y\|G(y) - y\|_1 + \mathbb{E}_x\|F(x) - x\|_1
                                                        \qquad (\text{Sec. } 5.2)

    \mathcal{L} = \mathcal{L}_{GAN}(G, D_Y) + \mathcal{L}_{GAN}(F, D_X)
                + \lambda\,\mathcal{L}_{cyc} + \lambda_{id}\,\mathcal{L}_{id}          \qquad (3)

with :math:`\lambda = 10` and :math:`\lambda_{id} = 0.5\lambda`. The critics are
updated on generated images drawn from an :class:`ImagePool` of past generator
outputs (Shrivastava et al. 2017): until it holds ``size`` images it returns what
it receives; afterwards each incoming image is, with probability 1/2, swapped for
a random stored one (which is returned) or returned itself. The pool is a buffer,
so checkpoints carry it.

Deviations (28x28 / 8x8 grey images): generator = 3x3 convolution, one strided
down-sampling, two residual blocks, one transposed up-sampling, 3x3 convolution,
tanh (the paper: 7x7, two down-samplings, 6-9 blocks); PatchGAN of two strided
4x4 convolutions and a stride-1 4x4 output convolution (receptive field 22x22 on
the input); InstanceNorm is :class:`replearn.norm.InstanceNorm2d`.

Tests: Eq. (2) and the identity loss against explicit means; the pool's rules
(fill, swap probability, returned images are stored or new ones) and its state in
``state_dict``; shapes of both networks; the PatchGAN receptive field.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from replearn.gan.losses import discriminator_ls_loss, generator_ls_loss
from replearn.norm import InstanceNorm2d
from replearn.registry import Example, register

__all__ = [
    "CycleGAN",
    "ImagePool",
    "PatchDiscriminator",
    "ResnetGenerator",
    "cycle_consistency_loss",
    "identity_loss",
]


def cycle_consistency_loss(x: Tensor, x_cycled: Tensor, y: Tensor, y_cycled: Tensor) -> Tensor:
    r"""Eq. (2): :math:`\mathbb{E}|F(G(x)) - x| + \mathbb{E}|G(F(y)) - y|` (mean absolute error).

    Shape:
        x, x_cycled: (B, C, H, W); y, y_cycled: (B', C, H, W) -> scalar.
    """
    return (x_cycled - x).abs().mean() + (y_cycled - y).abs().mean()


def identity_loss(x: Tensor, f_of_x: Tensor, y: Tensor, g_of_y: Tensor) -> Tensor:
    r""":math:`\mathbb{E}|G(y) - y| + \mathbb{E}|F(x) - x|`: each generator leaves its own target
    domain unchanged.

    Shape:
        x, f_of_x: (B, C, H, W); y, g_of_y: (B', C, H, W) -> scalar.
    """
    return (g_of_y - y).abs().mean() + (f_of_x - x).abs().mean()


class _ResBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c, c, 3, padding=1, padding_mode="reflect"),
            InstanceNorm2d(c, affine=True, fast=True),
            nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1, padding_mode="reflect"),
            InstanceNorm2d(c, affine=True, fast=True),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


@register(
    "gan.cyclegan_generator",
    paper="Zhu et al. 2017, arXiv:1703.10593 (Appendix 7.2, small)",
    reference="shapes; trained in gan-cycle",
    example=lambda: Example(ResnetGenerator(width=8), (torch.randn(2, 1, 8, 8),), (2, 1, 8, 8)),
)
class ResnetGenerator(nn.Module):
    """conv3 - down - residual blocks - up - conv3 - tanh, InstanceNorm and ReLU.

    Shape:
        x: (B, channels, H, W) with H, W even -> (B, channels, H, W) in [-1, 1].
    """

    def __init__(self, *, channels: int = 1, width: int = 32, blocks: int = 2) -> None:
        super().__init__()
        self.channels, self.width, self.blocks = channels, width, blocks
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1, padding_mode="reflect"),
            InstanceNorm2d(width, affine=True, fast=True),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            InstanceNorm2d(2 * width, affine=True, fast=True),
            nn.ReLU(),
            *[_ResBlock(2 * width) for _ in range(blocks)],
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1),
            InstanceNorm2d(width, affine=True, fast=True),
            nn.ReLU(),
            nn.Conv2d(width, channels, 3, padding=1, padding_mode="reflect"),
            nn.Tanh(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, width={self.width}, blocks={self.blocks}"


@register(
    "gan.patch_discriminator",
    paper="Isola et al. 2017, arXiv:1611.07004 (PatchGAN)",
    reference="shapes; receptive field by input gradients",
    example=lambda: Example(
        PatchDiscriminator(width=8), (torch.randn(2, 1, 28, 28),), (2, 1, 6, 6)
    ),
)
class PatchDiscriminator(nn.Module):
    """Two strided 4x4 convolutions and a 4x4 stride-1 output: one score per 22x22 patch.

    Shape:
        x: (B, channels, H, W) -> (B, 1, H/4 - 1, W/4 - 1) for H, W multiples of 4.
    """

    def __init__(self, *, channels: int = 1, width: int = 32) -> None:
        super().__init__()
        self.channels, self.width = channels, width
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),
            InstanceNorm2d(2 * width, affine=True, fast=True),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 1, 4, stride=1, padding=1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, width={self.width}"


class ImagePool(nn.Module):
    """History of generated images (size ``size``) the critics train on; a checkpointed buffer.

    Shape:
        query: (B, C, H, W) -> (B, C, H, W) (new images or stored ones).
    """

    def __init__(self, size: int, image_shape: tuple[int, ...]) -> None:
        super().__init__()
        if size < 0:
            raise ValueError(f"pool size must be >= 0, got {size}")
        self.size = size
        self.register_buffer("images", torch.zeros(size, *image_shape))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def query(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if self.size == 0:
            return images
        out = []
        for img in images.detach():
            n = int(self.count)
            if n < self.size:  # filling: store and return the new image
                self.images[n] = img
                self.count += 1
                out.append(img)
            elif float(torch.rand((), generator=generator)) < 0.5:  # swap with a stored one
                j = int(torch.randint(self.size, (), generator=generator))
                out.append(self.images[j].clone())
                self.images[j] = img
            else:
                out.append(img)
        return torch.stack(out)

    def extra_repr(self) -> str:
        return f"size={self.size}"


def _cycle_example() -> Example:
    model = CycleGAN(width=4, image_size=8)
    return Example(model, (torch.randn(2, 1, 8, 8), torch.randn(2, 1, 8, 8)), ())


@register(
    "gan.cyclegan",
    paper="Zhu, Park, Isola & Efros 2017, arXiv:1703.10593",
    reference="losses against explicit means; image pool rules",
    example=_cycle_example,
)
class CycleGAN(nn.Module):
    """G: X -> Y, F: Y -> X, PatchGAN critics D_X and D_Y, and one image pool per domain.

    ``forward(x, y)`` is the generators' objective, Eq. (3); :meth:`translate` gives the
    images, :meth:`discriminator_loss` the critics' least-squares loss on pooled fakes.

    Shape:
        x, y: (B, C, H, W) -> scalar.
    """

    def __init__(
        self, *, channels: int = 1, width: int = 32, blocks: int = 2, pool_size: int = 50,
        image_size: int = 28, lambda_cyc: float = 10.0, lambda_id: float = 5.0,
    ) -> None:  # fmt: skip
        super().__init__()
        if lambda_cyc < 0 or lambda_id < 0:
            raise ValueError("lambda_cyc and lambda_id must be >= 0")
        self.lambda_cyc, self.lambda_id = lambda_cyc, lambda_id
        self.G = ResnetGenerator(channels=channels, width=width, blocks=blocks)
        self.F = ResnetGenerator(channels=channels, width=width, blocks=blocks)
        self.D_X = PatchDiscriminator(channels=channels, width=width)
        self.D_Y = PatchDiscriminator(channels=channels, width=width)
        shape = (channels, image_size, image_size)
        self.pool_X, self.pool_Y = ImagePool(pool_size, shape), ImagePool(pool_size, shape)

    def translate(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(G(x), F(y), F(G(x)), G(F(y)))``."""
        fake_y, fake_x = self.G(x), self.F(y)
        return fake_y, fake_x, self.F(fake_y), self.G(fake_x)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        fake_y, fake_x, rec_x, rec_y = self.translate(x, y)
        adv = generator_ls_loss(self.D_Y(fake_y)) + generator_ls_loss(self.D_X(fake_x))
        cyc = cycle_consistency_loss(x, rec_x, y, rec_y)
        ident = identity_loss(x, self.F(x), y, self.G(y)) if self.lambda_id else 0.0
        return adv + self.lambda_cyc * cyc + self.lambda_id * ident

    def discriminator_loss(self, x: Tensor, y: Tensor, fake_x: Tensor, fake_y: Tensor) -> Tensor:
        """LS loss of both critics, on fakes drawn from the pools (Sec. 4)."""
        fx, fy = self.pool_X.query(fake_x.detach()), self.pool_Y.query(fake_y.detach())
        return discriminator_ls_loss(self.D_X(x), self.D_X(fx)) + discriminator_ls_loss(
            self.D_Y(y), self.D_Y(fy)
        )

    def extra_repr(self) -> str:
        return f"lambda_cyc={self.lambda_cyc}, lambda_id={self.lambda_id}"
