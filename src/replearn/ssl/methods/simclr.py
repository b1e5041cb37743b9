r"""SimCLR: contrastive learning of two augmented views with a projection head.

Paper: T. Chen, S. Kornblith, M. Norouzi & G. Hinton, "A Simple Framework for Contrastive
Learning of Visual Representations", ICML 2020, arXiv:2002.05709.

Each example gives two views :math:`\tilde x_i, \tilde x_j` (:mod:`replearn.ssl.augment`);
:math:`h = f(\tilde x)` is the representation (``encoder``), :math:`z = g(h)` the projection
(an MLP, Sec. 2.1), and the 2N views are contrasted with the NT-Xent loss (Eq. 1,
:func:`replearn.ssl.losses.nt_xent`). ``head=False`` drops :math:`g` (:math:`z = h`), the
ablation of Sec. 4.2 / Fig. 8: the projection head makes :math:`h` better for probes.

Deviations: a two-layer head with BatchNorm; no LARS (the experiments use Adam).

Tests: the loss equals ``nt_xent`` of the projected views; ``head=False`` contrasts ``h``.
"""

from __future__ import annotations

from torch import Tensor, nn

from replearn.registry import Example, register
from replearn.ssl.encoders import projection_mlp
from replearn.ssl.losses import nt_xent
from replearn.ssl.methods.common import example_encoder, example_views, full

__all__ = ["SimCLR"]


def _example() -> Example:
    return Example(
        SimCLR(example_encoder(), feat_dim=16, proj_dim=8, hidden=16), example_views(), ()
    )


@register(
    "ssl.simclr",
    paper="Chen, Kornblith, Norouzi & Hinton 2020, arXiv:2002.05709",
    reference="replearn.ssl.losses.nt_xent (float64 loop oracle) on the projected views",
    example=_example,
)
class SimCLR(nn.Module):
    """Encoder + projection head trained with NT-Xent on two views.

    Args:
        encoder: backbone :math:`f`, (B, ...) -> (B, feat_dim).
        feat_dim: size of :math:`h`.
        proj_dim: size of :math:`z`.
        hidden: hidden width of the projection head.
        temperature: :math:`\\tau` of NT-Xent.
        head: use the projection head (False: contrast :math:`h` itself).

    Shape:
        x1, x2: (B, ...) -> (loss (), z1 (B, proj_dim or feat_dim)).
    """

    def __init__(
        self,
        encoder: nn.Module,
        *,
        feat_dim: int,
        proj_dim: int = 64,
        hidden: int = 128,
        temperature: float = 0.5,
        head: bool = True,
    ) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.encoder, self.temperature = encoder, temperature
        self.head = projection_mlp(feat_dim, hidden, proj_dim) if head else nn.Identity()

    def project(self, x: Tensor) -> Tensor:
        """:math:`z = g(f(x))`."""
        return self.head(self.encoder(x))

    def forward(self, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor]:
        z1, z2 = self.project(x1), self.project(x2)  # (B, d)
        return nt_xent(full(z1), full(z2), temperature=self.temperature), z1.detach()

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, head={not isinstance(self.head, nn.Identity)}"
