r"""BYOL: bootstrap your own latent -- an online network predicts an EMA target, no negatives.

Paper: J.-B. Grill, F. Strub, F. Altché, C. Tallec, P. H. Richemond, E. Buchatskaya, C. Doersch,
B. Á. Pires, Z. D. Guo, M. G. Azar, B. Piot, K. Kavukcuoglu, R. Munos & M. Valko, "Bootstrap
Your Own Latent: A New Approach to Self-Supervised Learning", NeurIPS 2020, arXiv:2006.07733.

Online network :math:`\theta`: encoder, projector :math:`g_\theta`, predictor :math:`q_\theta`;
target network :math:`\xi` (encoder + projector) updated by the EMA (Sec. 3.1)

.. math:: \xi \leftarrow \tau \xi + (1 - \tau)\theta                                 \qquad (1)

with :math:`\tau` following the cosine schedule of :func:`~replearn.ssl.methods.common.
cosine_momentum`. The loss (Eq. 2) :math:`\lVert \hat q_\theta(z_\theta) - \hat z'_\xi
\rVert^2` is symmetrized over the two views (Eq. 4, :func:`replearn.ssl.losses.byol_loss`).
Ablations (Sec. 5, Table 5): ``predictor=False`` and ``ema=False`` (:math:`\tau = 0`: the
target is the current online network, with the gradient stopped); the collapse monitor shows
whether the embeddings collapse.

Tests: the loss equals the symmetrized ``byol_loss``; Eq. (1) with the scheduled tau on every
target parameter (exact); ``ema=False`` makes the target equal to the online network.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from replearn.engine import EMA
from replearn.registry import Example, register
from replearn.ssl.encoders import projection_mlp
from replearn.ssl.losses import byol_loss
from replearn.ssl.methods.common import cosine_momentum, example_encoder, example_views, full

__all__ = ["BYOL"]


def _example() -> Example:
    return Example(BYOL(example_encoder(), feat_dim=16, proj_dim=8, hidden=16), example_views(), ())


@register(
    "ssl.byol",
    paper="Grill et al. 2020, arXiv:2006.07733",
    reference="loss = symmetrized byol_loss (float64 loop oracle); the target EMA with the "
    "cosine schedule checked exactly",
    example=_example,
)
class BYOL(nn.Module):
    """Online network with predictor, EMA target network, symmetrized regression loss.

    Args:
        encoder: backbone, (B, ...) -> (B, feat_dim).
        feat_dim: backbone feature size.
        proj_dim: projection (and prediction) size.
        hidden: hidden width of the projector and predictor.
        base_momentum: :math:`\\tau_\\text{base}` of the cosine schedule.
        predictor: use the predictor :math:`q_\\theta` (ablation: False).
        ema: use a moving-average target (ablation: False, i.e. :math:`\\tau = 0`).

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
        base_momentum: float = 0.99,
        predictor: bool = True,
        ema: bool = True,
    ) -> None:
        super().__init__()
        if not 0.0 <= base_momentum <= 1.0:
            raise ValueError(f"base_momentum must be in [0, 1], got {base_momentum}")
        self.encoder = encoder
        self.online = nn.Sequential(encoder, projection_mlp(feat_dim, hidden, proj_dim))
        self.predictor = projection_mlp(proj_dim, hidden, proj_dim) if predictor else nn.Identity()
        self.target = EMA(self.online, decay=base_momentum)
        self.base_momentum, self.ema = base_momentum, ema

    def decay(self, progress: float) -> float:
        """The target decay after a fraction ``progress`` of training (0 without EMA)."""
        return cosine_momentum(progress, self.base_momentum) if self.ema else 0.0

    @torch.no_grad()
    def momentum_update(self, progress: float) -> None:
        """Eq. (1) with the scheduled decay."""
        self.target.update(self.online, decay=self.decay(progress))

    def forward(self, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor]:
        z1, z2 = self.online(x1), self.online(x2)  # (B, d)
        p1, p2 = self.predictor(z1), self.predictor(z2)
        with torch.no_grad():
            if self.ema:
                t1, t2 = self.target(x1), self.target(x2)
            else:  # tau = 0: the target is the online network itself, gradient stopped
                t1, t2 = z1.detach(), z2.detach()
        loss = byol_loss(full(p1), full(t2)) + byol_loss(full(p2), full(t1))
        return loss, z1.detach()

    def extra_repr(self) -> str:
        return (
            f"base_momentum={self.base_momentum}, predictor="
            f"{not isinstance(self.predictor, nn.Identity)}, ema={self.ema}"
        )
