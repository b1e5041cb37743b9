r"""Barlow Twins: make the cross-correlation of two views' embeddings the identity.

Paper: J. Zbontar, L. Jing, I. Misra, Y. LeCun & S. Deny, "Barlow Twins: Self-Supervised
Learning via Redundancy Reduction", ICML 2021, arXiv:2103.03230.

Both views go through the same encoder and projector; the loss (Eq. 1,
:func:`replearn.ssl.losses.barlow_twins_loss`) pushes the diagonal of the cross-correlation
matrix :math:`\mathcal C` (Eq. 2) to 1 (*invariance*) and its off-diagonal entries to 0
(*redundancy reduction*, weight :math:`\lambda`). ``redundancy=False`` sets
:math:`\lambda = 0`: the invariance term alone is satisfied by embeddings whose dimensions
all carry the same signal, a *dimensional collapse* that the effective rank shows.

Deviations: a smaller projector (the paper's is 8192-8192-8192); :math:`\lambda` is a
parameter (the paper's 5e-3 was tuned for 8192 dimensions).

Tests: the loss equals ``barlow_twins_loss`` of the projected views; ``redundancy=False``
equals the invariance term.
"""

from __future__ import annotations

from torch import Tensor, nn

from replearn.registry import Example, register
from replearn.ssl.encoders import projection_mlp
from replearn.ssl.losses import barlow_twins_loss
from replearn.ssl.methods.common import example_encoder, example_views, full

__all__ = ["BarlowTwins"]


def _example() -> Example:
    model = BarlowTwins(example_encoder(), feat_dim=16, proj_dim=8, hidden=16)
    return Example(model, example_views(), ())


@register(
    "ssl.barlow_twins",
    paper="Zbontar, Jing, Misra, LeCun & Deny 2021, arXiv:2103.03230",
    reference="replearn.ssl.losses.barlow_twins_loss (float64 loop oracle) on the projections",
    example=_example,
)
class BarlowTwins(nn.Module):
    """Shared encoder + projector; invariance + lambda * redundancy on the cross-correlation.

    Args:
        encoder: backbone, (B, ...) -> (B, feat_dim).
        feat_dim: backbone feature size.
        proj_dim: embedding size D (C is D x D).
        hidden: hidden width of the projector.
        lambd: weight :math:`\\lambda` of the redundancy term.
        redundancy: include the redundancy term (ablation: False, i.e. lambda = 0).

    Shape:
        x1, x2: (B, ...) -> (loss (), z1 (B, proj_dim)).
    """

    def __init__(
        self,
        encoder: nn.Module,
        *,
        feat_dim: int,
        proj_dim: int = 64,
        hidden: int = 128,
        lambd: float = 5e-3,
        redundancy: bool = True,
    ) -> None:
        super().__init__()
        if lambd < 0:
            raise ValueError(f"lambd must be >= 0, got {lambd}")
        self.encoder = encoder
        self.projector = projection_mlp(feat_dim, hidden, proj_dim, layers=3)
        self.lambd, self.redundancy = lambd, redundancy
        self.last_terms: tuple[float, float] = (0.0, 0.0)

    def forward(self, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor]:
        z1 = self.projector(self.encoder(x1))  # (B, D)
        z2 = self.projector(self.encoder(x2))
        lambd = self.lambd if self.redundancy else 0.0
        loss, inv, red = barlow_twins_loss(full(z1), full(z2), lambd=lambd)
        self.last_terms = (float(inv.detach()), float(red.detach()))
        return loss, z1.detach()

    def extra_repr(self) -> str:
        return f"lambd={self.lambd}, redundancy={self.redundancy}"
