r"""Time embedding and an MLP noise predictor :math:`\epsilon_\theta(x_t, t, y)` for vector data.

Papers: J. Ho, A. Jain & P. Abbeel, "Denoising Diffusion Probabilistic Models", 2020,
arXiv:2006.11239 (Appendix B: the time :math:`t` enters every block through the
Transformer sinusoidal embedding); A. Vaswani et al. 2017, arXiv:1706.03762 (Sec. 3.5).

.. math::

    \mathrm{emb}(t)_i = \cos(t\,\omega_i),\quad \mathrm{emb}(t)_{i + d/2} = \sin(t\,\omega_i),
    \qquad \omega_i = P^{-i/(d/2)},\ i = 0, \dots, d/2 - 1                        \qquad (1)

with :math:`P = 10^4` (the ordering of improved-diffusion and ``diffusers``'
``flip_sin_to_cos=True, downscale_freq_shift=0``).

:class:`MLPDenoiser`: the usual denoiser of 2-D toy experiments: the sinusoidal
embedding of :math:`t` goes through a small MLP and is added to every hidden layer of a
residual MLP on :math:`x_t`; an optional class label (with a null label
``num_classes`` for classifier-free guidance) is embedded and added to the time
embedding. Deviations: none of note (no paper fixes this network).

Tests (``tests/diffusion/test_denoisers.py``): Eq. (1) against
``diffusers.models.embeddings.get_timestep_embedding`` when installed, and against its
explicit formula; the MLP's shapes, conditional/unconditional paths and argument checks.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.registry import Example, register

__all__ = ["MLPDenoiser", "TimeEmbedding", "timestep_embedding"]


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    r"""Eq. (1): sinusoidal embedding of (possibly fractional) times ``t``: cosines then sines.

    Shape:
        t: (B,) -> (B, dim).
    """
    if dim < 2 or dim % 2:
        raise ValueError(f"dim must be even and >= 2, got {dim}")
    half = dim // 2
    freqs = torch.exp(
        -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half
    )  # (d/2,)
    args = t.float()[:, None] * freqs[None]  # (B, d/2)
    return torch.cat([args.cos(), args.sin()], dim=-1)  # (B, d)


class TimeEmbedding(nn.Module):
    """Eq. (1) followed by Linear -> SiLU -> Linear, plus an optional condition embedding.

    The condition is either a label (``num_classes``: a table whose row ``num_classes`` is
    the null label of classifier-free guidance) or a vector (``cond_dim``: a linear map, e.g.
    of a text encoder's output), added to the time embedding.

    Args:
        dim: sinusoidal dimension.
        out_dim: output width.
        num_classes: number of labels (None: no label).
        cond_dim: width of a condition vector (None: no vector); not with ``num_classes``.

    Shape:
        t: (B,), y: (B,) labels, (B, cond_dim) vectors or None -> (B, out_dim).
    """

    def __init__(
        self, dim: int, out_dim: int, num_classes: int | None = None, cond_dim: int | None = None
    ) -> None:
        super().__init__()
        if num_classes and cond_dim:
            raise ValueError("a model is conditioned on labels or on vectors, not both")
        if cond_dim is not None and cond_dim < 1:
            raise ValueError(f"cond_dim must be >= 1, got {cond_dim}")
        self.dim, self.num_classes, self.cond_dim = dim, num_classes, cond_dim
        self.mlp = nn.Sequential(nn.Linear(dim, out_dim), nn.SiLU(), nn.Linear(out_dim, out_dim))
        self.label = nn.Embedding(num_classes + 1, out_dim) if num_classes else None
        self.cond = nn.Linear(cond_dim, out_dim) if cond_dim else None

    def forward(self, t: Tensor, y: Tensor | None = None) -> Tensor:
        emb = self.mlp(timestep_embedding(t, self.dim))  # (B, out_dim)
        if self.label is not None:
            if y is None:
                y = torch.full_like(t, self.num_classes, dtype=torch.long)
            emb = emb + self.label(y.long())
        elif self.cond is not None:
            if y is None or y.shape != (t.shape[0], self.cond_dim):
                got = None if y is None else tuple(y.shape)
                raise ValueError(f"expected a condition of shape (B, {self.cond_dim}), got {got}")
            emb = emb + self.cond(y.to(emb.dtype))
        elif y is not None:
            raise ValueError("this model is unconditional: y must be None")
        return emb


def _mlp_example() -> Example:
    return Example(
        MLPDenoiser(dim=2, hidden=32, depth=2, num_classes=3),
        (torch.randn(6, 2), torch.tensor([0, 1, 5, 9, 2, 7]), torch.tensor([0, 1, 2, 3, 0, 1])),
        (6, 2),
    )


@register(
    "diffusion.mlp_denoiser",
    paper="Ho, Jain & Abbeel 2020, arXiv:2006.11239 (time embedding, App. B)",
    reference="sinusoidal embedding vs diffusers get_timestep_embedding; L_simple training oracle",
    example=_mlp_example,
)
class MLPDenoiser(nn.Module):
    r""":math:`\epsilon_\theta(x_t, t, y)` for (B, D) data: a residual MLP with time (and label)
    embedding added to every hidden layer.

    Args:
        dim: :math:`D`.
        hidden: width of the hidden layers.
        depth: number of residual blocks.
        time_dim: sinusoidal embedding width.
        num_classes: labels for conditioning (None: unconditional).

    Shape:
        x: (B, D); t: (B,) int; y: (B,) int or None -> (B, D).
    """

    def __init__(
        self,
        *,
        dim: int = 2,
        hidden: int = 128,
        depth: int = 3,
        time_dim: int = 32,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        for name, v in (("dim", dim), ("hidden", hidden), ("depth", depth)):
            if v < 1:
                raise ValueError(f"{name} must be >= 1, got {v}")
        self.dim, self.hidden, self.depth, self.num_classes = dim, hidden, depth, num_classes
        self.time = TimeEmbedding(time_dim, hidden, num_classes)
        self.inp = nn.Linear(dim, hidden)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden)
            )
            for _ in range(depth)
        )
        self.out = nn.Linear(hidden, dim)

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"expected x of shape (B, {self.dim}), got {tuple(x.shape)}")
        emb = self.time(t, y)  # (B, H)
        h = self.inp(x)  # (B, H)
        for block in self.blocks:
            h = h + block(h + emb)
        return self.out(F.silu(h))  # (B, D)

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, hidden={self.hidden}, depth={self.depth}, "
            f"num_classes={self.num_classes}"
        )
