r"""A small StyleGAN generator: mapping network, AdaIN, constant input, noise, style mixing.

Paper: T. Karras, S. Laine & T. Aila, "A Style-Based Generator Architecture for
Generative Adversarial Networks", CVPR 2019, arXiv:1812.04948 (Sec. 2, Eq. 1;
Sec. 3.1 style mixing; Sec. 2 truncation in W, Appendix B); AdaIN from X. Huang &
S. Belongie, ICCV 2017, arXiv:1703.06868.

.. math::

    w = f(z), \quad f: \text{8-layer MLP (here } n_{map}\text{) on the
        pixel-normalized } z                                                          \qquad (1)

    \mathrm{AdaIN}(x_i, y) = y_{s,i}\,\frac{x_i - \mu(x_i)}{\sigma(x_i)} + y_{b,i},
        \quad (y_s, y_b) = A(w)                                                        \qquad (2)

    x \leftarrow x + B \odot \epsilon, \quad \epsilon \sim \mathcal{N}(0, I)
        \text{ one value per pixel, } B \text{ per channel}                             \qquad (3)

    w' = \bar w + \psi\,(w - \bar w)                                                    \qquad (4)

The synthesis network starts from a learned constant :math:`(C, s, s)` tensor (no
latent input); each of its layers adds noise (Eq. 3) and applies AdaIN with its own
affine map :math:`A_\ell` of :math:`w` (Eq. 2); :math:`y_s = 1 + A_{s}(w)` so the
block starts close to plain instance normalization. Style mixing feeds
:math:`w_1 = f(z_1)` to the layers before a crossover point and :math:`w_2 = f(z_2)`
after it. :math:`\bar w` is a running mean of :math:`w` (a buffer updated in training
forwards, decay 0.995), used by the truncation trick of Eq. (4).

Deviations: two up-sampling stages (8x8 or 28x28 grey images, constant
:math:`s = \text{size}/4`), nearest up-sampling, no equalized learning rate, no
progressive growing; the discriminator is the DCGAN critic of
:mod:`replearn.gan.dcgan` without BatchNorm. Instance normalization is
:class:`replearn.norm.InstanceNorm2d`.

Tests: Eq. (2) output statistics per channel equal :math:`(y_b, y_s)`; style mixing
equals the synthesis network run with the per-layer list of styles; zero noise
strength makes the output independent of the noise; :math:`\psi = 0` maps every
:math:`z` to the same image.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.gan.dcgan import _check_size
from replearn.norm import InstanceNorm2d
from replearn.registry import Example, register

__all__ = ["AdaIN", "MappingNetwork", "NoiseInjection", "StyleGenerator", "adain", "pixel_norm"]


def pixel_norm(z: Tensor, eps: float = 1e-8) -> Tensor:
    r""":math:`z / \sqrt{\operatorname{mean}(z^2) + \epsilon}` per example.

    Shape:
        z: (B, D) -> (B, D).
    """
    return z * torch.rsqrt(z.square().mean(1, keepdim=True) + eps)


def adain(x_normalized: Tensor, scale: Tensor, bias: Tensor) -> Tensor:
    """Eq. (2) after instance normalization. Shape: (B, C, H, W), (B, C), (B, C) -> (B, C, H, W)."""
    return scale[:, :, None, None] * x_normalized + bias[:, :, None, None]


class MappingNetwork(nn.Module):
    """Eq. (1): pixel norm then ``layers`` linear layers with LeakyReLU(0.2).

    Shape:
        z: (B, z_dim) -> (B, w_dim).
    """

    def __init__(self, z_dim: int, w_dim: int, layers: int) -> None:
        super().__init__()
        dims = [z_dim] + [w_dim] * layers
        mods: list[nn.Module] = []
        for a, b in itertools.pairwise(dims):
            mods += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*mods)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(pixel_norm(z))


class AdaIN(nn.Module):
    """Eq. (2): instance norm, then the scale and bias of the affine map A of the style.

    Shape:
        x: (B, C, H, W), w: (B, w_dim) -> (B, C, H, W).
    """

    def __init__(self, channels: int, w_dim: int) -> None:
        super().__init__()
        self.norm = InstanceNorm2d(channels, fast=True)
        self.affine = nn.Linear(w_dim, 2 * channels)
        nn.init.zeros_(self.affine.bias)  # y_s = 1, y_b = 0 on average at the start

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        ys, yb = self.affine(w).chunk(2, dim=1)  # (B, C) each
        return adain(self.norm(x), 1.0 + ys, yb)


class NoiseInjection(nn.Module):
    """Eq. (3): add per-pixel Gaussian noise scaled by a learned per-channel strength (init 0).

    Shape:
        x: (B, C, H, W), noise: (B, 1, H, W) or None (drawn) -> (B, C, H, W).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor, noise: Tensor | None = None) -> Tensor:
        if noise is None:
            noise = torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)
        return x + self.strength[None, :, None, None] * noise


@register(
    "gan.stylegan_generator",
    paper="Karras, Laine & Aila 2019, arXiv:1812.04948",
    reference="AdaIN statistics; style mixing = per-layer styles; psi = 0 collapses to w_avg",
    example=lambda: Example(
        StyleGenerator(z_dim=8, w_dim=8, image_size=8, width=8, mapping_layers=2),
        (torch.randn(2, 8),),
        (2, 1, 8, 8),
    ),
)
class StyleGenerator(nn.Module):
    """Mapping network + synthesis network from a constant, 6 styled layers, 2 up-samplings.

    Shape:
        z: (B, z_dim) -> (B, channels, image_size, image_size) in [-1, 1].
    """

    num_layers = 6

    def __init__(
        self,
        *,
        z_dim: int = 64,
        w_dim: int = 64,
        image_size: int = 28,
        channels: int = 1,
        width: int = 64,
        mapping_layers: int = 4,
        w_avg_decay: float = 0.995,
    ) -> None:
        super().__init__()
        s = _check_size(image_size)
        self.z_dim, self.w_dim, self.image_size, self.width = z_dim, w_dim, image_size, width
        self.w_avg_decay = w_avg_decay
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers)
        self.const = nn.Parameter(torch.ones(1, width, s, s))
        self.convs = nn.ModuleList(
            [nn.Identity()] + [nn.Conv2d(width, width, 3, padding=1) for _ in range(5)]
        )
        self.noises = nn.ModuleList([NoiseInjection(width) for _ in range(self.num_layers)])
        self.adains = nn.ModuleList([AdaIN(width, w_dim) for _ in range(self.num_layers)])
        self.to_image = nn.Conv2d(width, channels, 1)
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def synthesis(self, ws: list[Tensor], noise: list[Tensor | None] | None = None) -> Tensor:
        """The synthesis network with one style per layer (a list of 6 (B, w_dim) tensors)."""
        if len(ws) != self.num_layers:
            raise ValueError(f"need {self.num_layers} styles, got {len(ws)}")
        noise = noise or [None] * self.num_layers
        x = self.const.expand(ws[0].shape[0], -1, -1, -1)  # (B, C, s, s)
        for i in range(self.num_layers):
            if i in (2, 4):
                x = F.interpolate(x, scale_factor=2, mode="nearest")  # up-sample before 2 and 4
            x = self.convs[i](x)
            x = self.noises[i](x, noise[i])
            x = F.leaky_relu(x, 0.2)
            x = self.adains[i](x, ws[i])
        return torch.tanh(self.to_image(x))

    def forward(
        self,
        z: Tensor,
        *,
        z2: Tensor | None = None,
        crossover: int | None = None,
        psi: float = 1.0,
        noise: list[Tensor | None] | None = None,
    ) -> Tensor:
        w = self.mapping(z)  # (B, w_dim)
        if self.training:
            with torch.no_grad():
                self.w_avg.lerp_(w.detach().mean(0), 1.0 - self.w_avg_decay)
        w = self.w_avg + psi * (w - self.w_avg)  # Eq. (4); psi = 1: unchanged
        ws = [w] * self.num_layers
        if z2 is not None:
            if crossover is None or not 0 <= crossover <= self.num_layers:
                raise ValueError("style mixing needs a crossover in [0, num_layers]")
            w2 = self.w_avg + psi * (self.mapping(z2) - self.w_avg)
            ws = [w] * crossover + [w2] * (self.num_layers - crossover)
        return self.synthesis(ws, noise)

    def extra_repr(self) -> str:
        size, width = self.image_size, self.width
        return f"z_dim={self.z_dim}, w_dim={self.w_dim}, image_size={size}, width={width}"
