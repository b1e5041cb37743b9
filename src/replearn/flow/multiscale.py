r"""Squeezing and the multi-scale architecture of Real NVP and Glow.

Paper: L. Dinh, J. Sohl-Dickstein & S. Bengio, "Density estimation using Real NVP",
ICLR 2017, arXiv:1605.08803 (Sec. 3.5-3.6).

Squeeze trades space for channels: each :math:`2 \times 2` patch of a
:math:`C \times H \times W` tensor becomes 4 channels of a
:math:`4C \times \frac H2 \times \frac W2` tensor; it permutes entries, so its
log-determinant is 0. The multi-scale architecture factors out half of the channels
after each scale :math:`i < L`:

.. math::

    (z_i, h_i) = \text{split}(f_i(h_{i-1})), \quad h_0 = x, \quad z_L = f_L(h_{L-1})
                                                                            \qquad (13)

    z = (z_1, \dots, z_L), \qquad
    \log|\det J| = \textstyle\sum_i \log|\det J_{f_i}|                    \qquad (14)

so later (more expensive, coarser) scales see fewer dimensions. The factored-out
:math:`z_i` are modelled by the base density :math:`\mathcal{N}(0, I)` directly.

Deviations: Glow's learned conditional prior for the factored-out half
(:math:`z_i \sim \mathcal{N}(\mu(h_i), \sigma(h_i))`) is not used; all :math:`z_i`
share the standard normal base, as in Real NVP. :class:`MultiScale` returns
:math:`z` flattened to a vector (B, D).

Tests: ``squeeze`` against a loop over patches; ``unsqueeze(squeeze(x)) == x``; the
log-determinant of a multi-scale model against ``torch.autograd.functional.jacobian``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from replearn.flow.base import Flow
from replearn.registry import Example, register

__all__ = ["MultiScale", "Squeeze", "squeeze", "unsqueeze"]


def squeeze(x: Tensor) -> Tensor:
    """Each 2x2 spatial patch becomes 4 channels (channel index ``4 c + 2 di + dj``).

    Shape:
        x: (B, C, H, W) -> (B, 4C, H/2, W/2).
    """
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // 2, 2, w // 2, 2)  # (B, C, H/2, di, W/2, dj)
    return x.permute(0, 1, 3, 5, 2, 4).reshape(b, 4 * c, h // 2, w // 2)


def unsqueeze(x: Tensor) -> Tensor:
    """Inverse of :func:`squeeze`.

    Shape:
        x: (B, 4C, H, W) -> (B, C, 2H, 2W).
    """
    b, c4, h, w = x.shape
    x = x.reshape(b, c4 // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)  # (B, C, H, di, W, dj)
    return x.reshape(b, c4 // 4, 2 * h, 2 * w)


@register(
    "flow.squeeze",
    paper="Dinh, Sohl-Dickstein & Bengio 2017, arXiv:1605.08803 (Sec. 3.6)",
    reference="a loop over 2x2 patches; unsqueeze(squeeze(x)) == x",
    example=lambda: Example(
        Squeeze((1, 4, 4)), (torch.randn(2, 1, 4, 4, requires_grad=True),), (2, 4, 2, 2)
    ),
)
class Squeeze(Flow):
    """Squeeze as a flow (log-determinant 0).

    Args:
        event_shape: (C, H, W) with H and W even.
    """

    def __init__(self, event_shape: tuple[int, int, int]) -> None:
        super().__init__()
        c, h, w = event_shape
        if h % 2 or w % 2:
            raise ValueError(f"Squeeze needs even height and width, got {event_shape}")
        self.event_shape = (c, h, w)
        self.latent_shape = (4 * c, h // 2, w // 2)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return squeeze(x), x.new_zeros(x.shape[0])

    def inverse(self, z: Tensor) -> Tensor:
        return unsqueeze(z)

    def extra_repr(self) -> str:
        return f"event_shape={self.event_shape}"


def _example_multiscale() -> MultiScale:
    from replearn.flow.coupling import AffineCoupling, checkerboard_mask, conv_conditioner

    level = [
        AffineCoupling(
            checkerboard_mask(4, 4), conv_conditioner(1, 4), event_shape=(1, 4, 4), zero_init=False
        ),
        Squeeze((1, 4, 4)),
    ]
    final = AffineCoupling(
        checkerboard_mask(2, 2), conv_conditioner(2, 4), event_shape=(2, 2, 2), zero_init=False
    )
    return MultiScale([nn.ModuleList(level)], final)


@register(
    "flow.multiscale",
    paper="Dinh, Sohl-Dickstein & Bengio 2017, arXiv:1605.08803 (Eqs. 13-14)",
    reference="torch.autograd.functional.jacobian (log-det); inverse(forward(x)) == x",
    example=lambda: Example(_example_multiscale(), (torch.randn(2, 1, 4, 4),), (2, 16)),
)
class MultiScale(Flow):
    """Eq. (13): scales of flows, half of the channels factored out after each but the last.

    Args:
        levels: one list of flows per scale but the last, applied in order; the last
            flow of a level must output an even number of channels.
        final: the flow of the last scale.
    """

    def __init__(self, levels: list[nn.ModuleList] | list[list[Flow]], final: Flow) -> None:
        super().__init__()
        self.levels = nn.ModuleList(nn.ModuleList(level) for level in levels)
        self.final = final
        if self.levels:
            self.event_shape = tuple(self.levels[0][0].event_shape)
        else:
            self.event_shape = tuple(final.event_shape)
        self.split_shapes: list[tuple[int, ...]] = []
        for level in self.levels:
            c, *spatial = level[-1].latent_shape
            if c % 2:
                raise ValueError(f"a level must end with an even channel count, got {c}")
            self.split_shapes.append((c // 2, *spatial))
        self.final_shape = tuple(final.latent_shape)
        d = sum(math.prod(s) for s in self.split_shapes) + math.prod(self.final_shape)
        if d != math.prod(self.event_shape):
            raise ValueError(f"the scales keep {d} of {math.prod(self.event_shape)} dimensions")
        self.latent_shape = (d,)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        zs: list[Tensor] = []
        log_det = x.new_zeros(x.shape[0])
        h = x
        for level in self.levels:
            for f in level:
                h, ld = f(h)
                log_det = log_det + ld
            z_i, h = h.chunk(2, dim=1)  # Eq. (13): factor out half of the channels
            zs.append(z_i.flatten(1))
        h, ld = self.final(h)
        zs.append(h.flatten(1))
        return torch.cat(zs, dim=1), log_det + ld  # Eq. (14)

    def inverse(self, z: Tensor) -> Tensor:
        sizes = [math.prod(s) for s in self.split_shapes] + [math.prod(self.final_shape)]
        parts = list(z.split(sizes, dim=1))
        h = self.final.inverse(parts[-1].reshape(-1, *self.final_shape))
        for level, z_i, shape in zip(
            reversed(self.levels), reversed(parts[:-1]), reversed(self.split_shapes), strict=True
        ):
            h = torch.cat([z_i.reshape(-1, *shape), h], dim=1)
            for f in reversed(level):
                h = f.inverse(h)
        return h

    def extra_repr(self) -> str:
        return f"event_shape={self.event_shape}, scales={len(self.levels) + 1}"
