r"""Scaled dot-product attention, multi-head attention and a key/value cache for decoding.

Paper: A. Vaswani, N. Shazeer, N. Parmar, J. Uszkoreit, L. Jones, A. N. Gomez,
Ł. Kaiser & I. Polosukhin, "Attention Is All You Need", 2017, arXiv:1706.03762.

Scaled dot-product attention (Sec. 3.2.1, Eq. 1), with a softmax temperature ``T``
(``T = 1`` is the paper) and an optional mask ``M`` (0 where a query may attend a
key, :math:`-\infty` where it may not; a boolean mask is ``True`` where it may):

.. math::

    \mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\Big(\frac{QK^\top}{T\sqrt{d_k}} + M\Big) V
    \qquad (1)

The :math:`1/\sqrt{d_k}` keeps the logits of unit-variance queries and keys at unit
variance, so the softmax does not saturate as :math:`d_k` grows (footnote 4).
Multi-head attention (Sec. 3.2.2) runs ``h`` attentions on learned projections and
mixes their concatenation:

.. math::

    \mathrm{MultiHead}(Q, K, V) = [\mathrm{head}_1; \dots; \mathrm{head}_h] W^O,\quad
    \mathrm{head}_i = \mathrm{Attention}(Q W_i^Q, K W_i^K, V W_i^V)                 \qquad (2)

Causal masking (decoder self-attention, Sec. 3.2.3) lets query ``i`` see keys
``j <= i + (L_k - L_q)``: the queries are the *last* ``L_q`` positions of the keys.
This is what decoding with a :class:`KVCache` needs; with ``L_q = L_k`` it is the
usual lower triangle. (Deviation: ``torch``'s ``is_causal`` aligns the triangle to
the top-left corner when ``L_q != L_k``; we pass an explicit mask then.)

Two paths with one signature: the reference path writes Eq. (1) out with
``matmul`` and ``softmax``; the fast path calls ``F.scaled_dot_product_attention``
with ``scale = 1 / (T sqrt(d_k))`` (fused kernels on GPU). A query row whose keys are
all masked gives NaN on the reference path.

:class:`MultiHeadAttention` has the constructor, parameter names (``in_proj_weight``
or ``q/k/v_proj_weight``, ``in_proj_bias``, ``out_proj``), forward signature and
mask conventions of ``torch.nn.MultiheadAttention`` (there ``True`` in
``attn_mask``/``key_padding_mask`` means *masked out*, the opposite of Eq. (1)'s
boolean ``mask`` here). Not supported: ``add_bias_kv``, ``add_zero_attn``.

Tests check: reference path == fast path == explicit formula (float64, causal,
boolean and additive masks, temperature, gradients); :class:`MultiHeadAttention` ==
``torch.nn.MultiheadAttention`` with copied weights (padding and attention masks,
``batch_first``, ``kdim``/``vdim``, averaged and per-head weights); step-by-step
decoding with a :class:`KVCache` == the full causal forward.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.registry import Example, register

__all__ = [
    "KVCache",
    "MultiHeadAttention",
    "attention_weights",
    "causal_mask",
    "scaled_dot_product_attention",
    "to_additive_mask",
]


def causal_mask(lq: int, lk: int, device: torch.device | None = None) -> Tensor:
    """Boolean mask, ``True`` where query ``i`` may attend key ``j``: ``j <= i + lk - lq``.

    Shape:
        -> (lq, lk) bool.
    """
    i = torch.arange(lq, device=device)[:, None]
    j = torch.arange(lk, device=device)[None, :]
    return j <= i + (lk - lq)


def to_additive_mask(mask: Tensor | None, dtype: torch.dtype) -> Tensor | None:
    r"""A boolean mask (``True`` = may attend) as 0 / :math:`-\infty`; floats pass through.

    Shape:
        mask: (*) -> (*) of ``dtype``.
    """
    if mask is None or mask.is_floating_point():
        return mask if mask is None else mask.to(dtype)
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, -math.inf)


def _check(q: Tensor, k: Tensor, v: Tensor, temperature: float) -> None:
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"incompatible q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}")


def attention_weights(
    q: Tensor,
    k: Tensor,
    mask: Tensor | None = None,
    *,
    temperature: float = 1.0,
    is_causal: bool = False,
) -> Tensor:
    r"""The attention probabilities of Eq. (1): :math:`\mathrm{softmax}(QK^\top/(T\sqrt{d_k}) + M)`.

    Shape:
        q: (..., Lq, d_k); k: (..., Lk, d_k); mask broadcastable to (..., Lq, Lk)
        -> (..., Lq, Lk), rows summing to 1.
    """
    _check(q, k, k, temperature)
    scores = q @ k.transpose(-2, -1) / (temperature * math.sqrt(q.shape[-1]))  # (..., Lq, Lk)
    if is_causal:
        scores = scores.masked_fill(~causal_mask(q.shape[-2], k.shape[-2], q.device), -math.inf)
    if mask is not None:
        scores = scores + to_additive_mask(mask, scores.dtype)
    return scores.softmax(dim=-1)


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    *,
    temperature: float = 1.0,
    dropout: float = 0.0,
    is_causal: bool = False,
    fast: bool = True,
    training: bool = True,
) -> Tensor:
    r"""Eq. (1): :math:`\mathrm{softmax}(QK^\top/(T\sqrt{d_k}) + M)\,V`.

    Args:
        q, k, v: queries, keys, values.
        mask: boolean (``True`` = may attend) or additive float, broadcastable to
            (..., Lq, Lk).
        temperature: ``T`` divides the logits; below 1 sharpens, above 1 flattens.
        dropout: probability of zeroing an attention weight (only when ``training``).
        is_causal: query ``i`` sees keys ``j <= i + Lk - Lq`` only.
        fast: ``F.scaled_dot_product_attention`` instead of the written-out formula.
        training: apply ``dropout``.

    Shape:
        q: (..., Lq, d_k); k: (..., Lk, d_k); v: (..., Lk, d_v) -> (..., Lq, d_v).
    """
    _check(q, k, v, temperature)
    p = dropout if training else 0.0
    if not fast:
        attn = attention_weights(q, k, mask, temperature=temperature, is_causal=is_causal)
        return F.dropout(attn, p) @ v if p > 0 else attn @ v  # (..., Lq, d_v)
    lq, lk = q.shape[-2], k.shape[-2]
    if is_causal and (mask is not None or lq != lk):  # bottom-right triangle, see module doc
        causal = causal_mask(lq, lk, q.device)
        mask = (
            causal
            if mask is None
            else to_additive_mask(mask, q.dtype) + to_additive_mask(causal, q.dtype)
        )
        is_causal = False
    scale = 1.0 / (temperature * math.sqrt(q.shape[-1]))
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, dropout_p=p, is_causal=is_causal, scale=scale
    )


class KVCache:
    """Keys and values of the positions already processed, for one attention layer.

    Decoding one token at a time, each step appends its key/value and attends over
    all of them, so step ``t`` costs O(t) instead of re-running the prefix (O(t^2)).

    Shape:
        keys, values: (B, H, t, d_head) after ``t`` positions.
    """

    def __init__(self) -> None:
        self.keys: Tensor | None = None
        self.values: Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.keys is None else self.keys.shape[-2]

    def __repr__(self) -> str:
        return f"KVCache(length={len(self)})"

    def update(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append new keys/values along the position axis; return all of them.

        Shape:
            k, v: (B, H, L_new, d) -> (B, H, t + L_new, d) each.
        """
        first = self.keys is None
        self.keys = k if first else torch.cat([self.keys, k], dim=-2)  # (B, H, t + L_new, d)
        self.values = v if first else torch.cat([self.values, v], dim=-2)
        return self.keys, self.values

    def reorder(self, index: Tensor) -> None:
        """Keep the batch rows ``index`` (beam search: follow the surviving beams)."""
        if self.keys is not None:
            self.keys, self.values = self.keys[index], self.values[index]


def _example() -> Example:
    return Example(
        MultiHeadAttention(16, 4, batch_first=True), (torch.randn(2, 5, 16),) * 3, (2, 5, 16)
    )


@register(
    "transformer.multi_head_attention",
    paper="Vaswani et al. 2017, arXiv:1706.03762",
    reference="torch.nn.MultiheadAttention with copied weights; F.scaled_dot_product_attention; "
    "KV-cached steps == full causal forward (float64)",
    example=_example,
)
class MultiHeadAttention(nn.Module):
    """Multi-head attention (Eq. 2), a drop-in for ``torch.nn.MultiheadAttention``.

    Args:
        embed_dim: model width d_model (the query size and the output size).
        num_heads: h; ``embed_dim`` must be divisible by it (d_k = d_v = embed_dim / h).
        dropout: dropout on the attention weights (training only).
        bias: biases on the input and output projections.
        kdim, vdim: key / value input sizes (default ``embed_dim``); when they differ the
            projections are ``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight``.
        batch_first: inputs are (B, L, E) instead of (L, B, E).
        fast: use ``F.scaled_dot_product_attention`` when no weights are requested.
        temperature: softmax temperature T of Eq. (1) (1 in the paper).
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        *,
        fast: bool = True,
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        if embed_dim < 1 or num_heads < 1 or embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} must be a positive multiple of {num_heads}")
        if not 0.0 <= dropout < 1.0 or temperature <= 0:
            raise ValueError(
                f"need 0 <= dropout < 1 and temperature > 0, got {dropout}, {temperature}"
            )
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.kdim, self.vdim = kdim or embed_dim, vdim or embed_dim
        self.batch_first, self.fast, self.temperature = batch_first, fast, temperature
        self.head_dim = embed_dim // num_heads
        self.same_dims = self.kdim == embed_dim and self.vdim == embed_dim
        if self.same_dims:
            self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        else:
            self.q_proj_weight = nn.Parameter(torch.empty(embed_dim, embed_dim))
            self.k_proj_weight = nn.Parameter(torch.empty(embed_dim, self.kdim))
            self.v_proj_weight = nn.Parameter(torch.empty(embed_dim, self.vdim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim)) if bias else None
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-uniform projections and zero biases, as ``torch.nn.MultiheadAttention``."""
        for name, w in self.named_parameters(recurse=False):
            (nn.init.zeros_ if name == "in_proj_bias" else nn.init.xavier_uniform_)(w)
        if self.out_proj.bias is not None:
            nn.init.zeros_(self.out_proj.bias)

    def project(self, query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Eq. (2)'s :math:`QW^Q, KW^K, VW^V`, split into heads.

        Shape:
            (B, L, E) inputs -> (B, h, L, d_head) each.
        """
        if self.same_dims:
            wq, wk, wv = self.in_proj_weight.chunk(3)
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        bq, bk, bv = (None,) * 3 if self.in_proj_bias is None else self.in_proj_bias.chunk(3)
        out = []
        for x, w, b in ((query, wq, bq), (key, wk, bk), (value, wv, bv)):
            y = F.linear(x, w, b)  # (B, L, E)
            out.append(y.unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2))
        return out[0], out[1], out[2]

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
        *,
        cache: KVCache | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Multi-head attention; masks follow ``torch.nn.MultiheadAttention`` (True = masked out).

        Args:
            key_padding_mask: (B, S); ``True`` (or ``-inf``) marks padding keys.
            attn_mask: (L, S) or (B * h, L, S); ``True`` (or ``-inf``) forbids a pair.
            is_causal: causal self-attention (queries are the last L positions of the keys).
            cache: a :class:`KVCache`; the new keys/values are appended to it and the
                queries attend over everything cached.

        Shape:
            query (B, L, E), key (B, S, kdim), value (B, S, vdim) (or sequence-first)
            -> output like query, weights (B, L, S) averaged or (B, h, L, S) (or None).
        """
        if not self.batch_first:
            query, key, value = (x.transpose(0, 1) for x in (query, key, value))
        b, lq = query.shape[:2]
        q, k, v = self.project(query, key, value)  # (B, h, L, d)
        if cache is not None:
            k, v = cache.update(k, v)
        lk = k.shape[-2]
        mask = None  # additive (B or 1, h or 1, L, S)
        if attn_mask is not None:
            am = attn_mask if attn_mask.is_floating_point() else ~attn_mask
            am = to_additive_mask(am, q.dtype)
            mask = am.view(b, self.num_heads, lq, lk) if am.dim() == 3 else am
        if key_padding_mask is not None:
            kp = key_padding_mask if key_padding_mask.is_floating_point() else ~key_padding_mask
            kp = to_additive_mask(kp, q.dtype)[:, None, None, :]  # (B, 1, 1, S)
            mask = kp if mask is None else mask + kp
        p = self.dropout if self.training else 0.0
        if need_weights or not self.fast:
            attn = attention_weights(q, k, mask, temperature=self.temperature, is_causal=is_causal)
            out = F.dropout(attn, p) @ v if p > 0 else attn @ v  # (B, h, L, d)
        else:
            attn = None
            out = scaled_dot_product_attention(
                q, k, v, mask, temperature=self.temperature, dropout=p, is_causal=is_causal
            )
        out = self.out_proj(out.transpose(1, 2).flatten(2))  # (B, L, E)
        if not self.batch_first:
            out = out.transpose(0, 1)
        if attn is not None and average_attn_weights:
            attn = attn.mean(dim=1)
        return out, (attn if need_weights else None)

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
            f"kdim={self.kdim}, vdim={self.vdim}, batch_first={self.batch_first}, "
            f"fast={self.fast}, temperature={self.temperature}"
        )


register(
    "transformer.scaled_dot_product_attention",
    paper="Vaswani et al. 2017, arXiv:1706.03762",
    reference="F.scaled_dot_product_attention and the explicit formula (float64)",
)(scaled_dot_product_attention)
