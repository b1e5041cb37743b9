r"""Position information for attention: absolute, rotary and relative encodings.

Attention (Eq. 1 of :mod:`replearn.transformer.attention`) is permutation-equivariant,
so the order of the tokens must be injected. Five ways:

**Sinusoidal** (A. Vaswani et al., "Attention Is All You Need", 2017,
arXiv:1706.03762, Sec. 3.5), added to the token embeddings:

.. math::

    PE_{(pos, 2i)} = \sin(pos / 10000^{2i/d}),\qquad
    PE_{(pos, 2i+1)} = \cos(pos / 10000^{2i/d})                                  \qquad (1)

**Learned** absolute positions (BERT, GPT): a trained table :math:`P \in
\mathbb{R}^{L_{max} \times d}` added to the embeddings.

**Rotary** (J. Su, Y. Lu, S. Pan, A. Murtadha, B. Wen & Y. Liu, "RoFormer: Enhanced
Transformer with Rotary Position Embedding", 2021, arXiv:2104.09864, Eq. 34): rotate
each pair of coordinates of a query/key at position ``m`` by the angle
:math:`m\theta_i`, :math:`\theta_i = 10000^{-2i/d}`, so that
:math:`\langle R_m q, R_n k \rangle = \langle q, R_{n-m} k\rangle` depends on
``m - n`` only. The paper pairs neighbours :math:`(x_{2i}, x_{2i+1})`
(``interleaved=True``); GPT-NeoX / LLaMA pair :math:`(x_i, x_{i+d/2})` (the default,
"rotate half"); both are the same rotation up to a fixed permutation of coordinates.

**Transformer-XL relative** (Z. Dai, Z. Yang, Y. Yang, J. Carbonell, Q. V. Le &
R. Salakhutdinov, "Transformer-XL", 2019, arXiv:1901.02860, Sec. 3.3): the score of
query ``i`` and key ``j`` uses a sinusoid :math:`R_{i-j}` of their distance;
:class:`RelativeSinusoidalPositions` gives the table for distances ``L_k - 1, ..., 0``
(:math:`[\sin; \cos]` halves, as in the authors' code) and :func:`rel_shift` turns
scores against that table, ``(L_q, L_k)`` indexed by (query, table row), into
scores indexed by (query, key): ``out[i, j] = x[i, j + L_q - 1 - i]`` for
``j <= i + L_k - L_q``. The terms using it live in :mod:`replearn.transformer.transformer_xl`.

**T5 bucketed relative bias** (C. Raffel et al., "Exploring the Limits of Transfer
Learning with a Unified Text-to-Text Transformer", 2019, arXiv:1910.10683, Sec. 2.1): a
learned scalar per head and per bucket of the distance ``key - query`` is added to
the logits; half the buckets are exact small distances, the other half cover
logarithmically larger ones up to ``max_distance`` (beyond it, the last bucket).

Tests check: Eq. (1) entry by entry; the rotary relative-position property and
rotation matrices written out; :func:`rel_shift` against an explicit index
computation; :func:`t5_relative_position_bucket` and :class:`T5RelativeBias` against
Hugging Face ``transformers``' ``T5Attention`` (bidirectional and causal).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.registry import Example, register

__all__ = [
    "LearnedPositions",
    "RelativeSinusoidalPositions",
    "SinusoidalPositions",
    "T5RelativeBias",
    "apply_rotary",
    "rel_shift",
    "rotary_embedding",
    "sinusoidal_encoding",
    "t5_relative_position_bucket",
]


def _inv_freq(dim: int, base: float, dtype: torch.dtype, device=None) -> Tensor:
    r""":math:`\theta_i = base^{-2i/d}`, i = 0 .. d/2 - 1."""
    if dim < 2 or dim % 2:
        raise ValueError(f"the encoding dimension must be even and >= 2, got {dim}")
    return base ** -(torch.arange(0, dim, 2, dtype=torch.float64, device=device) / dim).to(dtype)


def sinusoidal_encoding(
    length: int, dim: int, *, base: float = 10000.0, offset: int = 0, dtype=torch.float32
) -> Tensor:
    """Eq. (1): sines on even coordinates, cosines on odd ones, of positions offset..offset+L-1.

    Shape:
        -> (length, dim).
    """
    pos = torch.arange(offset, offset + length, dtype=torch.float64)[:, None]  # (L, 1)
    angle = pos * _inv_freq(dim, base, torch.float64)[None, :]  # (L, d/2)
    return torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(-2).to(dtype)  # (L, d)


class SinusoidalPositions(nn.Module):
    """Adds the fixed Eq. (1) encoding to (B, L, d) inputs (``offset``: first position)."""

    def __init__(self, dim: int, *, max_len: int = 4096, base: float = 10000.0) -> None:
        super().__init__()
        self.dim, self.max_len = dim, max_len
        self.register_buffer(
            "table", sinusoidal_encoding(max_len, dim, base=base), persistent=False
        )

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        """Shape: (B, L, d) -> (B, L, d)."""
        if offset + x.shape[-2] > self.max_len:
            raise ValueError(
                f"positions up to {offset + x.shape[-2]} exceed max_len {self.max_len}"
            )
        return x + self.table[offset : offset + x.shape[-2]].to(x.dtype)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, max_len={self.max_len}"


def _learned_example() -> Example:
    return Example(LearnedPositions(max_len=10, dim=6), (torch.randn(2, 7, 6),), (2, 7, 6))


@register(
    "transformer.learned_positions",
    paper="Gehring et al. 2017, arXiv:1705.03122; Devlin et al. 2018, arXiv:1810.04805",
    reference="a row lookup of its table (shape, offset, gradient only to used rows)",
    example=_learned_example,
)
class LearnedPositions(nn.Module):
    """Learned absolute positions: adds row ``offset + t`` of a trained table to position ``t``.

    Args:
        max_len: longest sequence (number of rows).
        dim: model width.
        init_std: standard deviation of the normal initialisation (0.02 as GPT-2).
    """

    def __init__(self, *, max_len: int, dim: int, init_std: float = 0.02) -> None:
        super().__init__()
        if max_len < 1 or dim < 1:
            raise ValueError(f"max_len and dim must be >= 1, got {max_len}, {dim}")
        self.max_len, self.dim = max_len, dim
        self.weight = nn.Parameter(torch.randn(max_len, dim) * init_std)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        """Shape: (B, L, d) -> (B, L, d)."""
        if offset + x.shape[-2] > self.max_len:
            raise ValueError(
                f"positions up to {offset + x.shape[-2]} exceed max_len {self.max_len}"
            )
        return x + self.weight[offset : offset + x.shape[-2]]

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, dim={self.dim}"


def rotary_embedding(
    length: int,
    dim: int,
    *,
    base: float = 10000.0,
    offset: int = 0,
    interleaved: bool = False,
    dtype=torch.float32,
    device=None,
) -> tuple[Tensor, Tensor]:
    r"""cos and sin of the angles :math:`m\theta_i` for positions ``m = offset .. offset+L-1``.

    Each angle is repeated for the two coordinates it rotates: as ``[θ_0..θ_{d/2-1},
    θ_0..θ_{d/2-1}]`` (rotate-half layout) or ``[θ_0, θ_0, θ_1, θ_1, ...]`` (interleaved).

    Shape:
        -> cos (length, dim), sin (length, dim).
    """
    pos = torch.arange(offset, offset + length, dtype=torch.float64, device=device)
    angle = pos[:, None] * _inv_freq(dim, base, torch.float64, device)[None, :]  # (L, d/2)
    angle = angle.repeat_interleave(2, dim=-1) if interleaved else torch.cat([angle, angle], -1)
    return angle.cos().to(dtype), angle.sin().to(dtype)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor, *, interleaved: bool = False) -> Tensor:
    r"""Rotate every coordinate pair of ``x`` (RoFormer Eq. 34): :math:`x\cos + rot(x)\sin`.

    ``rot`` maps a pair :math:`(a, b)` to :math:`(-b, a)`; pairs are (i, i + d/2), or
    (2i, 2i + 1) when ``interleaved``.

    Shape:
        x: (..., L, d); cos, sin: (L, d) -> (..., L, d).
    """
    if interleaved:
        a, b = x[..., 0::2], x[..., 1::2]
        rot = torch.stack([-b, a], dim=-1).flatten(-2)
    else:
        a, b = x.chunk(2, dim=-1)
        rot = torch.cat([-b, a], dim=-1)
    return x * cos + rot * sin


class RelativeSinusoidalPositions(nn.Module):
    r"""Transformer-XL's table :math:`R` of sinusoids of the distances ``L_k - 1, ..., 1, 0``.

    Row ``r`` encodes distance ``L_k - 1 - r`` as :math:`[\sin(\delta\theta);
    \cos(\delta\theta)]` (halves, the authors' layout), so :func:`rel_shift` aligns it.
    """

    def __init__(self, dim: int, *, base: float = 10000.0) -> None:
        super().__init__()
        _inv_freq(dim, base, torch.float64)  # validates dim
        self.dim, self.base = dim, base

    def forward(self, klen: int, dtype: torch.dtype = torch.float32, device=None) -> Tensor:
        """Shape: -> (klen, dim), computed in float64 then cast to ``dtype``."""
        dist = torch.arange(klen - 1, -1, -1, device=device, dtype=torch.float64)
        angle = dist[:, None] * _inv_freq(self.dim, self.base, torch.float64, device)[None, :]
        return torch.cat([angle.sin(), angle.cos()], -1).to(dtype)  # (klen, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


def rel_shift(x: Tensor) -> Tensor:
    r"""Transformer-XL's shift: scores vs table rows -> scores vs keys (App. B of the paper).

    With rows of the table for distances ``L_k - 1 .. 0`` and the queries the last
    ``L_q`` of the ``L_k`` key positions, the distance of query ``i`` to key ``j`` is
    ``L_k - L_q + i - j``, which is row ``j + L_q - 1 - i``; hence
    ``out[i, j] = x[i, j + L_q - 1 - i]`` for ``j <= i + L_k - L_q``. Done without a
    gather: pad one zero column on the left, view as (L_k + 1, L_q), drop the first
    row, view back. Entries with ``j > i + L_k - L_q`` (future keys) are junk and must
    be masked.

    Shape:
        x: (..., L_q, L_k) -> (..., L_q, L_k).
    """
    *batch, lq, lk = x.shape
    padded = F.pad(x, (1, 0))  # (..., Lq, Lk + 1)
    padded = padded.reshape(*batch, lk + 1, lq)
    return padded[..., 1:, :].reshape(*batch, lq, lk)


def t5_relative_position_bucket(
    relative_position: Tensor,
    *,
    bidirectional: bool = True,
    num_buckets: int = 32,
    max_distance: int = 128,
) -> Tensor:
    """T5's bucket of each distance ``key - query`` (identical to Hugging Face T5's).

    Bidirectional: half the buckets for keys after the query, half for keys before.
    Causal: only keys before the query (later ones fall into bucket 0). Within a
    half of ``n`` buckets, distances ``< n/2`` get a bucket each, larger ones share
    ``n/2`` buckets spaced logarithmically up to ``max_distance``.

    Shape:
        relative_position: (*) int -> (*) int64 in [0, num_buckets).
    """
    n = num_buckets
    bucket = torch.zeros_like(relative_position, dtype=torch.long)
    if bidirectional:
        n //= 2
        bucket = bucket + (relative_position > 0).long() * n
        dist = relative_position.abs()
    else:
        dist = (-relative_position).clamp(min=0)  # distance back to an earlier key
    exact = n // 2
    # log-spaced buckets for exact <= dist < max_distance, then clamp to the last one
    log_ratio = torch.log(dist.float() / exact) / math.log(max_distance / exact)
    large = (exact + (log_ratio * (n - exact)).long()).clamp(max=n - 1)
    return bucket + torch.where(dist < exact, dist, large)


def _t5_example() -> Example:
    return Example(T5RelativeBias(num_heads=2), (5, 7), (1, 2, 5, 7))


@register(
    "transformer.t5_relative_bias",
    paper="Raffel et al. 2019, arXiv:1910.10683",
    reference="transformers T5Attention._relative_position_bucket and compute_bias",
    example=_t5_example,
)
class T5RelativeBias(nn.Module):
    """T5's learned relative bias: one scalar per (bucket of ``key - query``, head).

    Args:
        num_heads: attention heads.
        num_buckets: buckets of relative distance (32 in T5).
        max_distance: distances beyond share the last bucket (128 in T5).
        bidirectional: encoder (True) or causal decoder (False).
    """

    def __init__(
        self,
        *,
        num_heads: int,
        num_buckets: int = 32,
        max_distance: int = 128,
        bidirectional: bool = True,
    ) -> None:
        super().__init__()
        if num_heads < 1 or num_buckets < 4 or max_distance < num_buckets // 2:
            raise ValueError(
                f"need num_heads >= 1, num_buckets >= 4, max_distance >= num_buckets / 2; got "
                f"{num_heads}, {num_buckets}, {max_distance}"
            )
        self.num_heads, self.num_buckets = num_heads, num_buckets
        self.max_distance, self.bidirectional = max_distance, bidirectional
        self.relative_attention_bias = nn.Embedding(num_buckets, num_heads)

    def forward(self, query_length: int, key_length: int, offset: int = 0) -> Tensor:
        """Bias added to the logits; queries sit at positions ``offset .. offset + L_q - 1``.

        Shape:
            -> (1, num_heads, query_length, key_length).
        """
        device = self.relative_attention_bias.weight.device
        q_pos = torch.arange(offset, offset + query_length, device=device)[:, None]
        k_pos = torch.arange(key_length, device=device)[None, :]
        buckets = t5_relative_position_bucket(
            k_pos - q_pos,
            bidirectional=self.bidirectional,
            num_buckets=self.num_buckets,
            max_distance=self.max_distance,
        )  # (Lq, Lk)
        return self.relative_attention_bias(buckets).permute(2, 0, 1)[None]  # (1, H, Lq, Lk)

    def extra_repr(self) -> str:
        return (
            f"num_heads={self.num_heads}, num_buckets={self.num_buckets}, "
            f"max_distance={self.max_distance}, bidirectional={self.bidirectional}"
        )


register(
    "transformer.rotary",
    paper="Su et al. 2021, arXiv:2104.09864",
    reference="explicit 2x2 rotations; <R_m q, R_n k> depends on m - n only",
)(apply_rotary)
register(
    "transformer.sinusoidal_positions",
    paper="Vaswani et al. 2017, arXiv:1706.03762",
    reference="Eq. (3.5) entry by entry",
)(sinusoidal_encoding)
register(
    "transformer.rel_shift",
    paper="Dai et al. 2019, arXiv:1901.02860",
    reference="an explicit index computation out[i, j] = x[i, j + Lq - 1 - i]",
)(rel_shift)
