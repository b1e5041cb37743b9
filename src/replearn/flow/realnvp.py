r"""Real NVP: stacked affine couplings, with squeezing and a multi-scale split for images.

Paper: L. Dinh, J. Sohl-Dickstein & S. Bengio, "Density estimation using Real NVP",
ICLR 2017, arXiv:1605.08803.

The equations are those of :mod:`replearn.flow.coupling` (Eqs. 6, 8, 9: affine
coupling, its triangular Jacobian and its inverse) and :mod:`replearn.flow.multiscale`
(Eqs. 13-14: squeeze and factoring out). Architectures:

- vectors (D,): ``n_couplings`` couplings with MLP conditioners, the mask alternating
  between the two halves of the coordinates (so every coordinate is transformed);
- images (C, H, W): for each scale but the last, 3 couplings with alternating
  checkerboard masks, a squeeze, 3 couplings with alternating channel masks, then half
  of the channels are factored out; the last scale has 4 checkerboard couplings.
  Conditioners are small CNNs (:func:`~replearn.flow.coupling.conv_conditioner`).

Deviations from the paper: conditioners are a 3-layer CNN (the paper: deep ResNets
with weight normalization), and no batch normalization inside the flow; the
likelihood of the factored-out variables is the standard normal base.

Tests: log-determinant against ``torch.autograd.functional.jacobian`` (float64, vector
and image models); ``inverse(forward(x)) == x`` (1e-5); a trained 2-D model's density
integrates to 1 on a grid (``flow-toy2d``); NLL against ``normflows`` at the same size
(``benchmarks/bench_flow.py``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from replearn.flow.base import Flow, FlowChain
from replearn.flow.coupling import (
    AffineCoupling,
    channel_mask,
    checkerboard_mask,
    conv_conditioner,
    half_mask,
    mlp_conditioner,
)
from replearn.flow.multiscale import MultiScale, Squeeze
from replearn.registry import Example, register

__all__ = ["RealNVP"]


def _checkerboards(shape: tuple[int, int, int], n: int, hidden: int) -> list[AffineCoupling]:
    c, h, w = shape
    return [
        AffineCoupling(
            checkerboard_mask(h, w, parity=k), conv_conditioner(c, hidden), event_shape=shape
        )
        for k in range(n)
    ]


def _channelwise(shape: tuple[int, int, int], n: int, hidden: int) -> list[AffineCoupling]:
    c = shape[0]
    return [
        AffineCoupling(channel_mask(c, parity=k), conv_conditioner(c, hidden), event_shape=shape)
        for k in range(n)
    ]


def _example() -> RealNVP:
    model = RealNVP((1, 4, 4), hidden=4, n_scales=2)
    for m in model.modules():  # leave the identity start so the example is not trivial
        if isinstance(m, AffineCoupling):
            last = list(m.conditioner)[-1]
            last.weight.data.normal_(0, 0.05)
    return model


@register(
    "flow.realnvp",
    paper="Dinh, Sohl-Dickstein & Bengio 2017, arXiv:1605.08803",
    reference="torch.autograd.functional.jacobian (log-det); normflows AffineCouplingBlock "
    "(NLL, benchmark)",
    example=lambda: Example(_example(), (torch.randn(2, 1, 4, 4),), (2, 16)),
)
class RealNVP(Flow):
    """Real NVP on vectors (alternating half masks) or images (multi-scale).

    Args:
        event_shape: (D,) for vectors, (C, H, W) for images.
        hidden: width of the conditioners.
        n_couplings: couplings of the vector model.
        n_hidden: hidden layers of the vector model's MLP conditioners.
        n_scales: scales of the image model (H and W divisible by 2^(n_scales - 1)).
    """

    def __init__(
        self,
        event_shape: tuple[int, ...],
        *,
        hidden: int = 64,
        n_couplings: int = 8,
        n_hidden: int = 2,
        n_scales: int = 2,
    ) -> None:
        super().__init__()
        event_shape = tuple(event_shape)
        if hidden < 1 or n_couplings < 1 or n_hidden < 0 or n_scales < 1:
            raise ValueError("hidden, n_couplings and n_scales must be >= 1, n_hidden >= 0")
        self.event_shape, self.hidden = event_shape, hidden
        self.body: Flow
        if len(event_shape) == 1:
            (d,) = event_shape
            if d < 2:
                raise ValueError(f"a vector RealNVP needs D >= 2, got {d}")
            self.body = FlowChain(
                *[
                    AffineCoupling(half_mask(d, parity=k), mlp_conditioner(d, hidden, n_hidden))
                    for k in range(n_couplings)
                ]
            )
        elif len(event_shape) == 3:
            c, h, w = event_shape
            if h % 2 ** (n_scales - 1) or w % 2 ** (n_scales - 1):
                raise ValueError(f"H, W of {event_shape} must divide by 2^(n_scales - 1)")
            levels, shape = [], (c, h, w)
            for _ in range(n_scales - 1):
                squeezed = (4 * shape[0], shape[1] // 2, shape[2] // 2)
                levels.append(
                    [
                        *_checkerboards(shape, 3, hidden),
                        Squeeze(shape),
                        *_channelwise(squeezed, 3, hidden),
                    ]
                )
                shape = (squeezed[0] // 2, squeezed[1], squeezed[2])
            self.body = MultiScale(levels, FlowChain(*_checkerboards(shape, 4, hidden)))
        else:
            raise ValueError(f"event_shape must be (D,) or (C, H, W), got {event_shape}")
        self.latent_shape = tuple(self.body.latent_shape)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.body(x)

    def inverse(self, z: Tensor) -> Tensor:
        return self.body.inverse(z)

    def extra_repr(self) -> str:
        return f"event_shape={self.event_shape}, hidden={self.hidden}"
