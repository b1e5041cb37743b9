r"""Planar flows.

Paper: D. J. Rezende & S. Mohamed, "Variational inference with normalizing flows",
ICML 2015, arXiv:1505.05770 (Sec. 4.1 and Appendix A.1).

One planar layer with parameters :math:`u, w \in \mathbb{R}^D`, :math:`b \in
\mathbb{R}` and :math:`h = \tanh`:

.. math::

    f(x) = x + \hat u\, h(w^\top x + b)                                     \qquad (10)

    \psi(x) = h'(w^\top x + b)\, w, \qquad
    \log\left|\det \frac{\partial f}{\partial x}\right| = \log|1 + \hat u^\top \psi(x)|
                                                                            \qquad (11\text{-}12)

    \hat u = u + \left(m(w^\top u) - w^\top u\right) \frac{w}{\|w\|^2}, \quad
    m(a) = -1 + \log(1 + e^a)                                               \qquad (\text{A.1})

The reparameterization (A.1) makes :math:`w^\top \hat u = m(w^\top u) > -1`, which is
sufficient for :math:`f` to be invertible: along :math:`w` the map is the scalar
:math:`a \mapsto a + (w^\top\hat u)\tanh(a)` with derivative
:math:`1 + w^\top \hat u\, \tanh'(a) \ge 1 + \min(w^\top\hat u, 0) > 0`.

Deviations: the paper uses planar layers as the *sampling* map of a variational
posterior (latent to data); here, for density estimation, :math:`f` is the map from
data to latent (Eq. 1 of :mod:`replearn.flow.base`), as in ``normflows``' use of
flows for density estimation. The paper gives no inverse; :func:`planar_inverse`
solves the scalar equation for :math:`a = w^\top x + b` by bisection (the map is
strictly increasing and the root lies within :math:`|w^\top\hat u|` of the right-hand
side), then :math:`x = y - \hat u \tanh(a)`.

Tests: log-determinant against ``torch.autograd.functional.jacobian`` (float64);
``inverse(forward(x)) == x``; :math:`w^\top\hat u > -1` for adversarial :math:`u`;
the output against ``normflows.flows.Planar`` with the same parameters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.flow.base import Flow, FlowChain
from replearn.registry import Example, register

__all__ = ["PlanarFlow", "PlanarLayer", "planar_forward", "planar_inverse", "planar_u_hat"]


def planar_u_hat(u: Tensor, w: Tensor) -> Tensor:
    r"""Eq. (A.1): :math:`\hat u = u + (m(w^\top u) - w^\top u)\, w / \|w\|^2`.

    Shape:
        u: (D,); w: (D,) -> (D,).
    """
    wu = torch.dot(w, u)
    m = -1 + F.softplus(wu)
    return u + (m - wu) * w / w.square().sum()


def planar_forward(x: Tensor, u_hat: Tensor, w: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    r"""Eqs. (10)-(12): :math:`f(x) = x + \hat u \tanh(w^\top x + b)` and its log-determinant.

    Shape:
        x: (B, D); u_hat: (D,); w: (D,); b: () -> y: (B, D), log_det: (B,).
    """
    a = x @ w + b  # (B,)
    y = x + u_hat * torch.tanh(a)[:, None]  # (B, D)
    dh = 1 - torch.tanh(a).square()  # h'(a), (B,)
    log_det = torch.log(torch.abs(1 + dh * torch.dot(u_hat, w)))  # (B,)
    return y, log_det


def planar_inverse(
    y: Tensor, u_hat: Tensor, w: Tensor, b: Tensor, *, n_bisections: int = 80
) -> Tensor:
    r"""Inverse of Eq. (10): solve :math:`a + (w^\top \hat u) \tanh(a) = w^\top y + b` for
    :math:`a` by bisection, then :math:`x = y - \hat u \tanh(a)`.

    Shape:
        y: (B, D); u_hat: (D,); w: (D,); b: () -> x: (B, D).
    """
    s = torch.dot(w, u_hat)  # w^T u_hat > -1
    c = y @ w + b  # (B,)
    lo, hi = c - s.abs() - 1e-6, c + s.abs() + 1e-6  # the root is within |s| of c
    for _ in range(n_bisections):
        mid = 0.5 * (lo + hi)
        above = mid + s * torch.tanh(mid) > c  # the scalar map is increasing
        hi = torch.where(above, mid, hi)
        lo = torch.where(above, lo, mid)
    a = 0.5 * (lo + hi)
    return y - u_hat * torch.tanh(a)[:, None]


@register(
    "flow.planar_layer",
    paper="Rezende & Mohamed 2015, arXiv:1505.05770 (Eqs. 10-12, A.1)",
    reference="torch.autograd.functional.jacobian (log-det); normflows.flows.Planar (output)",
    example=lambda: Example(PlanarLayer(3), (torch.randn(4, 3),), (4, 3)),
)
class PlanarLayer(Flow):
    """One planar layer ``x + u_hat tanh(w^T x + b)`` (Eqs. 10-12, A.1).

    Args:
        dim: D, the dimension of the data.
        init_scale: u and w start uniform in +-init_scale / sqrt(D) (b at 0).
    """

    def __init__(self, dim: int, *, init_scale: float = 1.0) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        if init_scale <= 0:
            raise ValueError(f"init_scale must be > 0, got {init_scale}")
        bound = init_scale / dim**0.5
        self.dim = dim
        self.u = nn.Parameter(torch.empty(dim).uniform_(-bound, bound))
        self.w = nn.Parameter(torch.empty(dim).uniform_(-bound, bound))
        self.b = nn.Parameter(torch.zeros(()))
        self.event_shape = self.latent_shape = (dim,)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return planar_forward(x, planar_u_hat(self.u, self.w), self.w, self.b)

    def inverse(self, z: Tensor) -> Tensor:
        return planar_inverse(z, planar_u_hat(self.u, self.w), self.w, self.b)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


@register(
    "flow.planar",
    paper="Rezende & Mohamed 2015, arXiv:1505.05770",
    reference="torch.autograd.functional.jacobian (log-det); inverse(forward(x)) == x",
    example=lambda: Example(PlanarFlow(2, n_layers=4), (torch.randn(5, 2),), (5, 2)),
)
class PlanarFlow(FlowChain):
    """A stack of ``n_layers`` planar layers on D-dimensional data.

    Args:
        dim: D.
        n_layers: K >= 1 planar layers.
        init_scale: see :class:`PlanarLayer`.
    """

    def __init__(self, dim: int, *, n_layers: int = 16, init_scale: float = 1.0) -> None:
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        super().__init__(*[PlanarLayer(dim, init_scale=init_scale) for _ in range(n_layers)])
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}, n_layers={len(self.flows)}"
