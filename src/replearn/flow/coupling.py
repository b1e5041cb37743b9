r"""Affine coupling layers with checkerboard, channel and half masks.

Paper: L. Dinh, J. Sohl-Dickstein & S. Bengio, "Density estimation using Real NVP",
ICLR 2017, arXiv:1605.08803 (Sec. 3.2-3.4); additive coupling: Dinh, Krueger &
Bengio 2014, arXiv:1410.8516.

With a binary mask :math:`b` (ones on the part that is left unchanged) and
conditioner networks :math:`s, t` that see only :math:`b \odot x`:

.. math::

    y = b \odot x + (1 - b) \odot \left(x \odot \exp(s(b \odot x)) + t(b \odot x)\right)
                                                                            \qquad (9)

    \frac{\partial y}{\partial x} \text{ is triangular (after a permutation)}, \quad
    \log\left|\det \frac{\partial y}{\partial x}\right| = \textstyle\sum_j
    \left[(1 - b) \odot s(b \odot x)\right]_j                                 \qquad (6)

    x = b \odot y + (1 - b) \odot \left(y - t(b \odot y)\right) \odot \exp(-s(b \odot y))
                                                                            \qquad (8)

The determinant costs :math:`O(D)` (a sum), against :math:`O(D^3)` for a general
Jacobian, and inverting needs no inversion of :math:`s` or :math:`t` (Eq. 8). Masks:
checkerboard (:math:`b_{ij} = (i + j) \bmod 2`), channel-wise (the first half of the
channels) and, for vectors, the first half of the coordinates; the complementary
``parity`` swaps the roles.

Scale maps: ``"tanh"`` (Real NVP's :math:`s = \alpha \tanh(\tilde s)` with a learned
per-coordinate :math:`\alpha`, keeping :math:`s` bounded) or ``"sigmoid"`` (Glow's
:math:`\exp(s) = \sigma(\tilde s + 2)`, Kingma & Dhariwal 2018). The conditioner's last
layer starts at zero, so every coupling starts as the identity (Glow, Sec. 3.3).

Deviations: one conditioner outputs both :math:`s` and :math:`t` (as in the authors'
code); Glow's code adds the shift before scaling, here Eq. (9)'s order is used for both
scale maps; the conditioner sees the masked input with the other entries zeroed (for a
channel mask this equals giving it the kept half only, at the cost of zero inputs).

Tests: the log-determinant against ``torch.autograd.functional.jacobian`` for every
mask (float64); ``inverse(forward(x)) == x``; the output of the masked coordinates is
unchanged; the cost of the determinant against a full Jacobian determinant is a claim
of ``flow-toy2d``.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.flow.base import Flow, sum_except_batch
from replearn.registry import Example, register

__all__ = [
    "AffineCoupling",
    "affine_coupling_forward",
    "affine_coupling_inverse",
    "channel_mask",
    "checkerboard_mask",
    "conv_conditioner",
    "half_mask",
    "mlp_conditioner",
]

ScaleMap = Literal["tanh", "sigmoid"]


def checkerboard_mask(height: int, width: int, parity: int = 0) -> Tensor:
    """Real NVP's checkerboard mask: 1 where ``(i + j + parity)`` is even.

    Shape:
        -> (1, height, width) (broadcasts over channels).
    """
    i = torch.arange(height)[:, None]
    j = torch.arange(width)[None, :]
    return ((i + j + parity) % 2 == 0).float()[None]


def channel_mask(channels: int, parity: int = 0) -> Tensor:
    """Real NVP's channel-wise mask: 1 on the first half of the channels (second if parity).

    Shape:
        -> (channels, 1, 1).
    """
    m = (torch.arange(channels) < channels // 2).float()
    return (m if parity % 2 == 0 else 1 - m)[:, None, None]


def half_mask(dim: int, parity: int = 0) -> Tensor:
    """For vectors: 1 on the first ``dim // 2`` coordinates (the others if parity).

    Shape:
        -> (dim,).
    """
    m = (torch.arange(dim) < dim // 2).float()
    return m if parity % 2 == 0 else 1 - m


def affine_coupling_forward(
    x: Tensor, mask: Tensor, log_s: Tensor, t: Tensor
) -> tuple[Tensor, Tensor]:
    r"""Eqs. (9) and (6): :math:`y = b x + (1-b)(x e^{s} + t)`, :math:`\sum (1-b) s`.

    ``log_s`` and ``t`` are the conditioner's outputs on :math:`b \odot x`.

    Shape:
        x, log_s, t: (B, *E); mask: E or broadcastable -> y: (B, *E), log_det: (B,).
    """
    free = 1 - mask
    log_s, t = log_s * free, t * free  # the kept part stays exactly the identity
    y = x * torch.exp(log_s) + t  # (B, *E)
    return y, sum_except_batch(log_s)


def affine_coupling_inverse(y: Tensor, mask: Tensor, log_s: Tensor, t: Tensor) -> Tensor:
    r"""Eq. (8): :math:`x = b y + (1-b)(y - t) e^{-s}`, with :math:`s, t` computed on
    :math:`b \odot y = b \odot x`.

    Shape:
        y, log_s, t: (B, *E); mask: E or broadcastable -> (B, *E).
    """
    free = 1 - mask
    return (y - t * free) * torch.exp(-log_s * free)


def mlp_conditioner(dim: int, hidden: int, n_hidden: int = 2) -> nn.Sequential:
    """An MLP ``dim -> hidden (x n_hidden, ReLU) -> 2 dim`` with a zero last layer."""
    layers: list[nn.Module] = []
    d = dim
    for _ in range(n_hidden):
        layers += [nn.Linear(d, hidden), nn.ReLU()]
        d = hidden
    last = nn.Linear(d, 2 * dim)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(*layers, last)


def conv_conditioner(channels: int, hidden: int, kernel_size: int = 3) -> nn.Sequential:
    """Glow's conditioner: conv k x k -> ReLU -> conv 1x1 -> ReLU -> zero conv k x k (2C out)."""
    pad = kernel_size // 2
    last = nn.Conv2d(hidden, 2 * channels, kernel_size, padding=pad)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(
        nn.Conv2d(channels, hidden, kernel_size, padding=pad),
        nn.ReLU(),
        nn.Conv2d(hidden, hidden, 1),
        nn.ReLU(),
        last,
    )


@register(
    "flow.affine_coupling",
    paper="Dinh, Sohl-Dickstein & Bengio 2017, arXiv:1605.08803 (Eqs. 6, 8, 9)",
    reference="torch.autograd.functional.jacobian (log-det); inverse(forward(x)) == x",
    example=lambda: Example(
        AffineCoupling(half_mask(4), mlp_conditioner(4, 8), zero_init=False),
        (torch.randn(3, 4),),
        (3, 4),
    ),
)
class AffineCoupling(Flow):
    """Affine coupling layer (Eqs. 6, 8, 9) with a fixed mask and a conditioner network.

    Args:
        mask: the binary mask b, shaped like one example or broadcastable to it
            (:func:`checkerboard_mask`, :func:`channel_mask`, :func:`half_mask`).
        conditioner: maps ``b * x`` (B, *E) to (B, 2 * E[0], *E[1:]): raw scales, then shifts.
        scale_map: ``"tanh"`` (Real NVP) or ``"sigmoid"`` (Glow).
        zero_init: keep the conditioner's last layer at zero (start as the identity).
        event_shape: shape of one example (default: the mask's shape).
    """

    def __init__(
        self,
        mask: Tensor,
        conditioner: nn.Module,
        *,
        scale_map: ScaleMap = "tanh",
        zero_init: bool = True,
        event_shape: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        if scale_map not in ("tanh", "sigmoid"):
            raise ValueError(f"scale_map must be 'tanh' or 'sigmoid', got {scale_map!r}")
        if not torch.all((mask == 0) | (mask == 1)):
            raise ValueError("mask must hold only zeros and ones")
        self.register_buffer("mask", mask.float())
        self.conditioner = conditioner
        self.scale_map = scale_map
        self.event_shape = self.latent_shape = tuple(event_shape or mask.shape)
        if scale_map == "tanh":
            self.scale = nn.Parameter(torch.ones(self.event_shape[0]))
        if not zero_init:
            last = [m for m in conditioner.modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1]
            nn.init.normal_(last.weight, std=0.05)

    def _log_s_t(self, x_kept: Tensor) -> tuple[Tensor, Tensor]:
        h = self.conditioner(x_kept)  # (B, 2 E0, ...)
        raw, t = h.chunk(2, dim=1)
        if self.scale_map == "tanh":
            scale = self.scale.reshape(-1, *([1] * (raw.dim() - 2)))
            return scale * torch.tanh(raw), t
        return F.logsigmoid(raw + 2.0), t

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        log_s, t = self._log_s_t(x * self.mask)
        return affine_coupling_forward(x, self.mask, log_s, t)

    def inverse(self, z: Tensor) -> Tensor:
        log_s, t = self._log_s_t(z * self.mask)  # b * z == b * x
        return affine_coupling_inverse(z, self.mask, log_s, t)

    def extra_repr(self) -> str:
        return f"mask_shape={tuple(self.mask.shape)}, scale_map={self.scale_map!r}"
