r"""Glow's layers: ActNorm with data-dependent initialization and the invertible 1x1 convolution.

Paper: D. P. Kingma & P. Dhariwal, "Glow: generative flow with invertible 1x1
convolutions", NeurIPS 2018, arXiv:1807.03039 (Table 1, Sec. 3.1-3.2).

For an activation :math:`h \in \mathbb{R}^{C \times H \times W}` (a vector is the case
:math:`H = W = 1`), per channel :math:`c`:

.. math::

    \text{ActNorm:}\quad y_{c,i,j} = s_c\,(h_{c,i,j} + b_c), \quad
    \log|\det| = H W \textstyle\sum_c \log|s_c|                             \qquad (T1.1)

    \text{init on the first batch:}\quad b_c = -\mathrm{mean}(h_c), \
    s_c = 1 / (\mathrm{std}(h_c) + \epsilon)                                \qquad (3.1)

    \text{1x1 conv:}\quad y_{:,i,j} = W h_{:,i,j}, \quad
    \log|\det| = H W \log|\det W|                                           \qquad (T1.2)

    W = P\, L\, (U + \mathrm{diag}(\mathrm{sign}(s) \odot e^{\log|s|})), \quad
    \log|\det W| = \textstyle\sum_c \log|s_c|                              \qquad (10)

with :math:`P` a fixed permutation, :math:`L` lower triangular with unit diagonal,
:math:`U` strictly upper triangular; the LU form makes the determinant :math:`O(C)`
instead of :math:`O(C^3)`. :math:`W` starts as a random rotation.

Deviations: ActNorm is written in log-scale (:math:`\log s_c` is the parameter; it
cannot change sign, as in Glow's code). The data-dependent initialization runs on the
first forward call (training or not) and is stored in a buffer, so checkpoints keep it.

Tests: log-determinants against ``torch.autograd.functional.jacobian`` (float64); the
LU form's log-determinant against ``torch.linalg.slogdet``; ActNorm's output has zero
mean and unit variance per channel after initialization; ``inverse(forward(x)) == x``.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from replearn.flow.base import Flow
from replearn.registry import Example, register

__all__ = ["ActNorm", "InvConv1x1", "Permutation", "apply_channel_matrix", "lu_weight"]


def apply_channel_matrix(w: Tensor, x: Tensor) -> Tensor:
    """Eq. (T1.2): multiply every position's channel vector by ``w`` (a 1x1 convolution).

    Shape:
        w: (C, C); x: (B, C, *S) -> (B, C, *S).
    """
    return torch.einsum("ij,bj...->bi...", w, x)


def lu_weight(perm: Tensor, lower: Tensor, upper: Tensor, sign_s: Tensor, log_s: Tensor) -> Tensor:
    r"""Eq. (10): :math:`W = P L (U + \mathrm{diag}(\mathrm{sign}(s) e^{\log|s|}))`.

    ``lower`` and ``upper`` are used below and above the diagonal only.

    Shape:
        perm, lower, upper: (C, C); sign_s, log_s: (C,) -> (C, C).
    """
    eye = torch.eye(perm.shape[0], dtype=lower.dtype, device=lower.device)
    l_mat = torch.tril(lower, diagonal=-1) + eye
    u_mat = torch.triu(upper, diagonal=1) + torch.diag(sign_s * torch.exp(log_s))
    return perm @ l_mat @ u_mat


def _positions(x: Tensor) -> int:
    return math.prod(x.shape[2:])  # H W (1 for vectors)


@register(
    "flow.actnorm",
    paper="Kingma & Dhariwal 2018, arXiv:1807.03039 (ActNorm, Table 1)",
    reference="torch.autograd.functional.jacobian (log-det); per-channel mean 0, std 1 after init",
    example=lambda: Example(ActNorm(3), (torch.randn(4, 3, 2, 2),), (4, 3, 2, 2)),
)
class ActNorm(Flow):
    """ActNorm (Eq. T1.1) with data-dependent initialization (Sec. 3.1).

    Args:
        channels: C.
        eps: added to the standard deviation at initialization.
        event_shape: shape of one example (default (C,)).
    """

    def __init__(
        self, channels: int, *, eps: float = 1e-6, event_shape: tuple[int, ...] | None = None
    ) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        self.channels, self.eps = channels, eps
        self.bias = nn.Parameter(torch.zeros(channels))
        self.log_scale = nn.Parameter(torch.zeros(channels))
        self.register_buffer("initialized", torch.tensor(False))
        self.event_shape = self.latent_shape = tuple(event_shape or (channels,))

    def _view(self, p: Tensor, x: Tensor) -> Tensor:
        return p.reshape(1, -1, *([1] * (x.dim() - 2)))

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        """Eq. (3.1): set b, s so that this batch has zero mean, unit std per channel."""
        dims = [0, *range(2, x.dim())]
        self.bias.copy_(-x.mean(dim=dims))
        self.log_scale.copy_(-torch.log(x.std(dim=dims) + self.eps))
        self.initialized.fill_(True)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if not bool(self.initialized):
            self.initialize(x)
        y = (x + self._view(self.bias, x)) * torch.exp(self._view(self.log_scale, x))
        log_det = _positions(x) * self.log_scale.sum()
        return y, log_det.expand(x.shape[0])

    def inverse(self, z: Tensor) -> Tensor:
        return z * torch.exp(-self._view(self.log_scale, z)) - self._view(self.bias, z)

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


@register(
    "flow.invconv1x1",
    paper="Kingma & Dhariwal 2018, arXiv:1807.03039 (invertible 1x1 convolution, Eq. 10)",
    reference="torch.linalg.slogdet; torch.autograd.functional.jacobian",
    example=lambda: Example(InvConv1x1(4), (torch.randn(3, 4, 2, 2),), (3, 4, 2, 2)),
)
class InvConv1x1(Flow):
    """Invertible 1x1 convolution (Eq. T1.2), in LU form (Eq. 10) or as a full matrix.

    Args:
        channels: C.
        lu: use the LU parametrization (O(C) determinant); else a full W and slogdet.
        event_shape: shape of one example (default (C,)).
    """

    def __init__(
        self, channels: int, *, lu: bool = True, event_shape: tuple[int, ...] | None = None
    ) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        self.channels, self.lu = channels, lu
        self.event_shape = self.latent_shape = tuple(event_shape or (channels,))
        w0 = torch.linalg.qr(torch.randn(channels, channels))[0]  # a random rotation
        if lu:
            perm, lower, upper = torch.linalg.lu(w0)
            s = torch.diagonal(upper)
            self.register_buffer("perm", perm)
            self.register_buffer("sign_s", torch.sign(s))
            self.lower = nn.Parameter(torch.tril(lower, diagonal=-1))
            self.upper = nn.Parameter(torch.triu(upper, diagonal=1))
            self.log_s = nn.Parameter(torch.log(torch.abs(s)))
        else:
            self.weight = nn.Parameter(w0)

    def matrix(self) -> Tensor:
        """The current W."""
        if self.lu:
            return lu_weight(self.perm, self.lower, self.upper, self.sign_s, self.log_s)
        return self.weight

    def log_abs_det(self) -> Tensor:
        r""":math:`\log|\det W|` (Eq. 10 in LU form, else ``slogdet``)."""
        if self.lu:
            return self.log_s.sum()
        return torch.linalg.slogdet(self.weight)[1]

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = apply_channel_matrix(self.matrix(), x)
        return y, (_positions(x) * self.log_abs_det()).expand(x.shape[0])

    def inverse(self, z: Tensor) -> Tensor:
        return apply_channel_matrix(torch.linalg.inv(self.matrix()), z)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, lu={self.lu}"


@register(
    "flow.permutation",
    paper="Dinh, Sohl-Dickstein & Bengio 2017, arXiv:1605.08803; Glow's 'reverse'/'shuffle'",
    reference="inverse(forward(x)) == x; log-det 0",
    example=lambda: Example(Permutation(4), (torch.randn(3, 4, requires_grad=True),), (3, 4)),
)
class Permutation(Flow):
    """A fixed permutation of the channels (Glow's baselines 'reverse' and 'shuffle').

    Args:
        channels: C.
        kind: ``"reverse"`` or ``"shuffle"`` (a random permutation drawn at construction).
        event_shape: shape of one example (default (C,)).
    """

    def __init__(
        self,
        channels: int,
        *,
        kind: Literal["reverse", "shuffle"] = "reverse",
        event_shape: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        if kind not in ("reverse", "shuffle"):
            raise ValueError(f"kind must be 'reverse' or 'shuffle', got {kind!r}")
        perm = torch.arange(channels).flip(0) if kind == "reverse" else torch.randperm(channels)
        self.register_buffer("perm", perm)
        self.register_buffer("inv_perm", torch.argsort(perm))
        self.channels, self.kind = channels, kind
        self.event_shape = self.latent_shape = tuple(event_shape or (channels,))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return x[:, self.perm], x.new_zeros(x.shape[0])

    def inverse(self, z: Tensor) -> Tensor:
        return z[:, self.inv_perm]

    def extra_repr(self) -> str:
        return f"channels={self.channels}, kind={self.kind!r}"
