r"""Glow: steps of ActNorm, invertible 1x1 convolution and affine coupling, multi-scale.

Paper: D. P. Kingma & P. Dhariwal, "Glow: generative flow with invertible 1x1
convolutions", NeurIPS 2018, arXiv:1807.03039 (Fig. 2, Table 1).

One step of flow (Fig. 2a), each part with its log-determinant (Table 1):

.. math::

    h \xrightarrow{\text{ActNorm (T1.1)}} \xrightarrow{\text{1x1 conv (T1.2)}}
    \xrightarrow{\text{affine coupling (T1.3)}} y, \qquad
    \log|\det| = \text{sum of the three}                                    \qquad (\text{Fig. 2a})

The affine coupling splits the channels in halves, :math:`(x_a, x_b)`, with
:math:`\log s, t = \mathrm{NN}(x_b)`, :math:`\exp(\log s) = \sigma(\tilde s + 2)` and
:math:`y_a = x_a \odot s + t` (see :mod:`replearn.flow.coupling`). The multi-scale
architecture (Fig. 2b) repeats, per level, a squeeze, K steps, and a split of half of
the channels (:mod:`replearn.flow.multiscale`), L levels in all.

``mixing`` chooses the channel mixing between couplings: ``"conv_lu"`` (the 1x1
convolution in LU form, Eq. 10 of :mod:`replearn.flow.glow_layers`), ``"conv"`` (a full
matrix), or the paper's baselines ``"reverse"`` and ``"shuffle"`` (fixed permutations).
On vectors (D,) a step is the same with the 1x1 convolution a D x D matrix and an MLP
conditioner, and there is no squeeze.

Deviations: the factored-out halves use the standard normal base (not Glow's learned
conditional prior), the conditioners are 3-layer CNNs of width ``hidden``; the last
level's squeeze is applied as in the paper (every level starts with one).

Tests: log-determinant against ``torch.autograd.functional.jacobian`` (float64, vector
and image models, each mixing); ``inverse(forward(x)) == x`` (1e-5); claims in
``flow-images`` (1x1 convolution against a fixed permutation, >= 3 seeds).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from replearn.flow.base import Flow, FlowChain
from replearn.flow.coupling import (
    AffineCoupling,
    channel_mask,
    conv_conditioner,
    half_mask,
    mlp_conditioner,
)
from replearn.flow.glow_layers import ActNorm, InvConv1x1, Permutation
from replearn.flow.multiscale import MultiScale, Squeeze
from replearn.registry import Example, register

__all__ = ["Glow", "glow_step"]

Mixing = Literal["conv_lu", "conv", "reverse", "shuffle"]
MIXINGS = ("conv_lu", "conv", "reverse", "shuffle")


def glow_step(
    event_shape: tuple[int, ...], *, hidden: int, mixing: Mixing = "conv_lu", n_hidden: int = 2
) -> list[Flow]:
    """One step of flow (Fig. 2a): ActNorm, channel mixing, affine coupling (Glow's scale)."""
    c = event_shape[0]
    mix: Flow
    if mixing in ("conv_lu", "conv"):
        mix = InvConv1x1(c, lu=mixing == "conv_lu", event_shape=event_shape)
    else:
        mix = Permutation(c, kind=mixing, event_shape=event_shape)
    if len(event_shape) == 1:
        coupling = AffineCoupling(
            half_mask(c), mlp_conditioner(c, hidden, n_hidden), scale_map="sigmoid"
        )
    else:
        coupling = AffineCoupling(
            channel_mask(c),
            conv_conditioner(c, hidden),
            scale_map="sigmoid",
            event_shape=event_shape,
        )
    return [ActNorm(c, event_shape=event_shape), mix, coupling]


def _example() -> Glow:
    model = Glow((1, 4, 4), hidden=4, n_levels=2, n_steps=1)
    for m in model.modules():
        if isinstance(m, AffineCoupling):
            list(m.conditioner)[-1].weight.data.normal_(0, 0.05)
    return model


@register(
    "flow.glow",
    paper="Kingma & Dhariwal 2018, arXiv:1807.03039",
    reference="torch.autograd.functional.jacobian (log-det); inverse(forward(x)) == x",
    example=lambda: Example(_example(), (torch.randn(3, 1, 4, 4),), (3, 16)),
)
class Glow(Flow):
    """Glow on vectors (K steps) or images (L levels of squeeze, K steps, split).

    Args:
        event_shape: (D,) or (C, H, W).
        hidden: width of the conditioners.
        n_steps: K, steps of flow per level (vectors: in all).
        n_levels: L, levels of the image model (H, W divisible by 2^L).
        mixing: ``"conv_lu"``, ``"conv"``, ``"reverse"`` or ``"shuffle"``.
        n_hidden: hidden layers of the vector model's MLP conditioners.
    """

    def __init__(
        self,
        event_shape: tuple[int, ...],
        *,
        hidden: int = 64,
        n_steps: int = 8,
        n_levels: int = 2,
        mixing: Mixing = "conv_lu",
        n_hidden: int = 2,
    ) -> None:
        super().__init__()
        event_shape = tuple(event_shape)
        if mixing not in MIXINGS:
            raise ValueError(f"mixing must be one of {MIXINGS}, got {mixing!r}")
        if hidden < 1 or n_steps < 1 or n_levels < 1:
            raise ValueError("hidden, n_steps and n_levels must be >= 1")
        self.event_shape, self.hidden, self.mixing = event_shape, hidden, mixing
        self.body: Flow
        if len(event_shape) == 1:
            if event_shape[0] < 2:
                raise ValueError(f"a vector Glow needs D >= 2, got {event_shape}")
            steps = [
                f
                for _ in range(n_steps)
                for f in glow_step(event_shape, hidden=hidden, mixing=mixing, n_hidden=n_hidden)
            ]
            self.body = FlowChain(*steps)
        elif len(event_shape) == 3:
            c, h, w = event_shape
            if h % 2**n_levels or w % 2**n_levels:
                raise ValueError(f"H, W of {event_shape} must divide by 2^n_levels")
            levels, shape = [], (c, h, w)
            for level in range(n_levels):
                squeezed = (4 * shape[0], shape[1] // 2, shape[2] // 2)
                flows: list[Flow] = [Squeeze(shape)]
                for _ in range(n_steps):
                    flows += glow_step(squeezed, hidden=hidden, mixing=mixing)
                if level < n_levels - 1:
                    levels.append(flows)
                    shape = (squeezed[0] // 2, squeezed[1], squeezed[2])
                else:
                    final = FlowChain(*flows)
            self.body = MultiScale(levels, final)
        else:
            raise ValueError(f"event_shape must be (D,) or (C, H, W), got {event_shape}")
        self.latent_shape = tuple(self.body.latent_shape)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.body(x)

    def inverse(self, z: Tensor) -> Tensor:
        return self.body.inverse(z)

    def extra_repr(self) -> str:
        return f"event_shape={self.event_shape}, hidden={self.hidden}, mixing={self.mixing!r}"
