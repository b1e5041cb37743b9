r"""Normalizing flows: the change of variables, the ``Flow`` interface and chains of flows.

Papers: L. Dinh, D. Krueger & Y. Bengio, "NICE: non-linear independent components
estimation", arXiv:1410.8516 (2014); D. J. Rezende & S. Mohamed, "Variational
inference with normalizing flows", ICML 2015, arXiv:1505.05770; G. Papamakarios,
E. Nalisnick, D. J. Rezende, S. Mohamed & B. Lakshminarayanan, "Normalizing flows
for probabilistic modeling and inference", JMLR 2021, arXiv:1912.02762 (notation).

A flow is an invertible, differentiable map :math:`f` from the data :math:`x` to a
latent :math:`z = f(x)` with a simple base density :math:`p_Z = \mathcal{N}(0, I)`.
With :math:`J_f(x) = \partial f(x) / \partial x` the Jacobian of the map *from data to
latent*:

.. math::

    \log p_X(x) = \log p_Z(f(x)) + \log \left| \det J_f(x) \right|          \qquad (1)

    \log p_Z(z) = -\tfrac12 \textstyle\sum_i z_i^2 - \tfrac{D}{2}\log 2\pi  \qquad (2)

    f = f_K \circ \dots \circ f_1: \quad
    \log|\det J_f(x)| = \textstyle\sum_{k=1}^K \log|\det J_{f_k}(x_{k-1})|,
    \ x_0 = x,\ x_k = f_k(x_{k-1})                                       \qquad (3)

    x = f^{-1}(z), \quad z \sim p_Z                                      \qquad (4)\ \text{sampling}

Eq. (1) is the change of variables: the log-determinant is part of the likelihood (a
flow's negative log-likelihood is :math:`-\log p_Z(f(x)) - \log|\det J_f(x)|`;
dropping the log-determinant would reward collapsing all data onto a point). With
the Jacobian of the *sampling* map :math:`g = f^{-1}` the sign flips:
:math:`\log p_X(x) = \log p_Z(z) - \log|\det J_g(z)|`. Eq. (3) is the chain rule of
determinants: log-determinants of composed flows add.

Conventions (as in Glow's code, opposite to ``normflows``, whose ``forward`` is the
sampling direction): ``Flow.forward(x)`` returns ``(z, log|det J_f(x)|)`` (one
log-determinant per example) and ``Flow.inverse(z)`` returns ``x``.

Tests: Eq. (1) against ``torch.distributions.TransformedDistribution`` of an affine
map; Eq. (3) against the log-determinant of the product of autograd Jacobians; every
flow's log-determinant against ``torch.autograd.functional.jacobian``; a 2-D density
integrates to one on a grid.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from replearn.registry import Example, register

__all__ = [
    "Flow",
    "FlowChain",
    "chain_log_det",
    "change_of_variables_log_prob",
    "standard_normal_log_prob",
    "sum_except_batch",
]


def sum_except_batch(x: Tensor) -> Tensor:
    """Sum over every axis but the first.

    Shape:
        x: (B, ...) -> (B,).
    """
    return x.reshape(x.shape[0], -1).sum(dim=1)


def standard_normal_log_prob(z: Tensor) -> Tensor:
    r"""Eq. (2): :math:`\log \mathcal{N}(z; 0, I) = -\frac12\|z\|^2 - \frac{D}{2}\log 2\pi`.

    Shape:
        z: (B, ...) -> (B,), D = the number of entries of one example.
    """
    d = z[0].numel()
    return -0.5 * sum_except_batch(z.square()) - 0.5 * d * math.log(2 * math.pi)


def change_of_variables_log_prob(log_pz: Tensor, log_det: Tensor) -> Tensor:
    r"""Eq. (1): :math:`\log p_X(x) = \log p_Z(f(x)) + \log|\det \partial f(x)/\partial x|`.

    Args:
        log_pz: the base log-density at :math:`z = f(x)`.
        log_det: :math:`\log|\det J_f(x)|` of the data-to-latent map :math:`f`.

    Shape:
        log_pz: (B,); log_det: (B,) -> (B,).
    """
    return log_pz + log_det


def chain_log_det(log_dets: list[Tensor]) -> Tensor:
    r"""Eq. (3): :math:`\log|\det J_{f_K \circ \dots \circ f_1}| = \sum_k \log|\det J_{f_k}|`.

    Shape:
        log_dets: K tensors of shape (B,) -> (B,).
    """
    return torch.stack(log_dets, dim=0).sum(dim=0)


class Flow(nn.Module):
    """An invertible map from data to latent with its log-determinant; base density N(0, I).

    Subclasses define :meth:`forward` and :meth:`inverse`; :meth:`log_prob` (Eq. 1)
    and :meth:`sample` (Eq. 4) follow. ``event_shape`` is the shape of one example
    (set by subclasses), ``latent_shape`` the shape of one ``z`` (the same unless a
    multi-scale model flattens it).
    """

    event_shape: tuple[int, ...] = ()
    latent_shape: tuple[int, ...] = ()

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(z, log|det dz/dx|)``; shapes ``(B, *latent_shape)`` and ``(B,)``."""
        raise NotImplementedError(f"{type(self).__name__} must define forward (an abstract hook)")

    def inverse(self, z: Tensor) -> Tensor:
        """Return ``x = f^{-1}(z)``; shape ``(B, *event_shape)``."""
        raise NotImplementedError(f"{type(self).__name__} must define inverse (an abstract hook)")

    def log_prob(self, x: Tensor) -> Tensor:
        """Eq. (1): exact log-density of each example, shape ``(B,)``."""
        z, log_det = self(x)
        return change_of_variables_log_prob(standard_normal_log_prob(z), log_det)

    @torch.no_grad()
    def sample(
        self, n: int, *, generator: torch.Generator | None = None, temperature: float = 1.0
    ) -> Tensor:
        """Eq. (4): ``n`` samples ``f^{-1}(z)``, ``z ~ N(0, temperature^2 I)``."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        ref = next(self.parameters(), None)
        dtype = ref.dtype if ref is not None else torch.get_default_dtype()
        device = ref.device if ref is not None else torch.device("cpu")
        z = torch.randn(n, *self.latent_shape, generator=generator, dtype=dtype)
        return self.inverse(temperature * z.to(device))


@register(
    "flow.chain",
    paper="Rezende & Mohamed 2015, arXiv:1505.05770 (composition of flows, Eq. 3)",
    reference="log-det of the product of torch.autograd.functional.jacobian of the parts",
    example=lambda: Example(_example_chain(), (torch.randn(5, 2),), (5, 2)),
)
class FlowChain(Flow):
    """Composition ``f_K o ... o f_1`` of flows (applied in the order given); Eq. (3).

    Args:
        *flows: the flows, data side first; each one's latent shape must be the next
            one's event shape.
    """

    def __init__(self, *flows: Flow) -> None:
        super().__init__()
        if not flows:
            raise ValueError("FlowChain needs at least one flow")
        for f in flows:
            if not isinstance(f, Flow):
                raise ValueError(f"FlowChain takes Flow modules, got {type(f).__name__}")
        self.flows = nn.ModuleList(flows)
        self.event_shape = flows[0].event_shape
        self.latent_shape = flows[-1].latent_shape

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        log_dets = []
        for f in self.flows:
            x, log_det = f(x)
            log_dets.append(log_det)
        return x, chain_log_det(log_dets)

    def inverse(self, z: Tensor) -> Tensor:
        for f in reversed(self.flows):
            z = f.inverse(z)
        return z

    def extra_repr(self) -> str:
        return f"n_flows={len(self.flows)}"


def _example_chain() -> FlowChain:
    from replearn.flow.planar import PlanarLayer

    return FlowChain(PlanarLayer(2), PlanarLayer(2))
