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
Decoding with a :class:`KVCache` needs this; with ``L_q = L_k`` it is the lower triangle
(torch's ``is_causal`` aligns it top-left when ``L_q != L_k``: we pass an explicit mask then).

Two paths with one signature: the reference path writes Eq. (1) out with
``matmul`` and ``softmax``; the fast path calls ``F.scaled_dot_product_attention``
with ``scale = 1 / (T sqrt(d_k))`` (fused kernels on GPU). A query row whose keys are
all masked gives NaN on the reference path.

:class:`MultiHeadAttention` is a drop-in for ``torch.nn.MultiheadAttention``: its constructor
(with ``add_bias_kv``, ``add_zero_attn``), parameter names (``in_proj_weight`` or
``q/k/v_proj_weight``, ``in_proj_bias``, ``bias_k/v``, ``out_proj``), forward (unbatched input,
every mask form of :mod:`~replearn.transformer.attention_masks`; there ``True`` means *masked
out*, the opposite of Eq. (1)'s boolean ``mask``); what differs is in docs/deviations.md.

Tests: reference path == fast path == explicit formula (float64, causal, boolean and additive
masks, temperature, gradients); step-by-step decoding with a :class:`KVCache` == the full causal
forward; tests/dropins/: every input and mask form of ``torch.nn.MultiheadAttention`` with its
weights, forward and backward, both paths.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.reference import use_reference
from replearn.registry import Example, register
from replearn.transformer.attention_masks import (
    AttentionInputError,
    causal_mask,
    check_mha_arguments,
    check_mha_inputs,
    merged_mask,
    to_additive_mask,
)
from replearn.transformer.kv_cache import KVCache

__all__ = [
    "AttentionInputError",
    "KVCache",
    "MultiHeadAttention",
    "attention_weights",
    "causal_mask",
    "scaled_dot_product_attention",
    "to_additive_mask",
]


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
    if not fast or use_reference():
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

    Args (torch's, in torch's order, then replearn's keyword-only ``fast``, ``temperature``):
        embed_dim, num_heads: model width and heads h (d_k = d_v = embed_dim / h).
        dropout: on the attention weights (training only); bias: of the in/out projections.
        add_bias_kv: learned ``bias_k``, ``bias_v`` (1, 1, E) appended to the projected keys
            and values (one extra key, never masked); add_zero_attn: one extra zero key/value.
        kdim, vdim: key / value sizes (default ``embed_dim``; if different, the projections are
            ``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight``, else ``in_proj_weight``).
        batch_first: (B, L, E) instead of (L, B, E); device, dtype: of the parameters.
        fast: ``F.scaled_dot_product_attention`` when no weights are requested.
        temperature: softmax temperature T of Eq. (1) (1 in the paper).
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        fast: bool = True,
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        check_mha_arguments(embed_dim, num_heads, dropout, temperature)
        kw = {"device": device, "dtype": dtype}
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self.batch_first, self.fast, self.temperature = batch_first, fast, temperature
        self.head_dim = embed_dim // num_heads
        self.same_dims = self.kdim == embed_dim and self.vdim == embed_dim
        self._qkv_same_embed_dim = self.same_dims  # torch's attribute name
        self.add_zero_attn = add_zero_attn
        if self.same_dims:
            self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim, **kw))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = nn.Parameter(torch.empty(embed_dim, embed_dim, **kw))
            self.k_proj_weight = nn.Parameter(torch.empty(embed_dim, self.kdim, **kw))
            self.v_proj_weight = nn.Parameter(torch.empty(embed_dim, self.vdim, **kw))
            self.register_parameter("in_proj_weight", None)
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim, **kw)) if bias else None
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **kw)
        if add_bias_kv:
            self.bias_k = nn.Parameter(torch.empty(1, 1, embed_dim, **kw))
            self.bias_v = nn.Parameter(torch.empty(1, 1, embed_dim, **kw))
        else:
            self.bias_k = self.bias_v = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-uniform projections, zero biases, Xavier-normal ``bias_k/v``, as torch."""
        special = {"in_proj_bias": nn.init.zeros_, "bias_k": nn.init.xavier_normal_}
        for name, w in self.named_parameters(recurse=False):
            special.get(name.replace("bias_v", "bias_k"), nn.init.xavier_uniform_)(w)
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

    def extra_keys(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append ``bias_k``, ``bias_v`` (``add_bias_kv``), then zeros (``add_zero_attn``).

        Shape:
            k, v: (B, h, S, d) -> (B, h, S + n, d), n = extra keys (0, 1 or 2).
        """
        b, h, d = k.shape[0], self.num_heads, self.head_dim
        if self.bias_k is not None and self.bias_v is not None:
            k = torch.cat([k, self.bias_k.view(1, h, 1, d).expand(b, h, 1, d)], dim=2)
            v = torch.cat([v, self.bias_v.view(1, h, 1, d).expand(b, h, 1, d)], dim=2)
        if self.add_zero_attn:
            k, v = (torch.cat([t, t.new_zeros(b, h, 1, d)], dim=2) for t in (k, v))
        return k, v

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

        ``key_padding_mask`` (B, S) and ``attn_mask`` (L, S) or (B·h, L, S): ``True`` (or a
        float added to the logits, ``-inf``) masks out, see :func:`merged_mask`. Returned weights
        are after dropout, as torch's. ``is_causal``: queries are the last L positions of the
        keys; unlike torch it needs no ``attn_mask`` (with one, both apply). ``cache``: a
        :class:`KVCache` the new keys/values are appended to; the queries attend over all of it.

        Shape:
            query (B, L, E), key (B, S, kdim), value (B, S, vdim) (or sequence-first, or
            unbatched (L, E), (S, kdim), (S, vdim)) -> output like query, weights (B, L, S')
            averaged or (B, h, L, S') (no B unbatched; S' = S + extra keys), or None.
        """
        batched = check_mha_inputs(
            query, key, value, key_padding_mask, attn_mask, self.num_heads, embed_dim=self.embed_dim
        )
        if not batched:
            query, key, value = (x.unsqueeze(0) for x in (query, key, value))
            kpm = key_padding_mask
            key_padding_mask = None if kpm is None else kpm.unsqueeze(0)
        elif not self.batch_first:
            query, key, value = (x.transpose(0, 1) for x in (query, key, value))
        b, lq = query.shape[:2]
        q, k, v = self.project(query, key, value)  # (B, h, L, d)
        extra = int(self.bias_k is not None) + int(self.add_zero_attn)
        if cache is not None:
            if extra:
                raise ValueError("a KVCache cannot be used with add_bias_kv or add_zero_attn")
            k, v = cache.update(k, v)
        lk = k.shape[-2]
        mask = merged_mask(
            attn_mask, key_padding_mask, batch=b, heads=self.num_heads, lq=lq, lk=lk,
            extra_keys=extra, dtype=q.dtype,
        )  # fmt: skip  # additive (B or 1, h or 1, L, S + extra)
        if is_causal and extra:  # the causal triangle covers the S real keys only
            causal = F.pad(to_additive_mask(causal_mask(lq, lk, q.device), q.dtype), (0, extra))
            mask, is_causal = (causal if mask is None else mask + causal), False
        k, v = self.extra_keys(k, v)
        p = self.dropout if self.training else 0.0
        if need_weights or not self.fast or use_reference():
            attn = attention_weights(q, k, mask, temperature=self.temperature, is_causal=is_causal)
            attn = F.dropout(attn, p) if p > 0 else attn  # torch returns the dropped weights
            out = attn @ v  # (B, h, L, d)
        else:
            attn = None
            out = scaled_dot_product_attention(
                q, k, v, mask, temperature=self.temperature, dropout=p, is_causal=is_causal
            )
        out = self.out_proj(out.transpose(1, 2).flatten(2))  # (B, L, E)
        if attn is not None and average_attn_weights:
            attn = attn.mean(dim=1)
        if not batched:
            return out.squeeze(0), (attn.squeeze(0) if need_weights and attn is not None else None)
        if not self.batch_first:
            out = out.transpose(0, 1)
        return out, (attn if need_weights else None)

    def extra_repr(self) -> str:
        extra = ", add_bias_kv=True" if self.bias_k is not None else ""
        extra += ", add_zero_attn=True" if self.add_zero_attn else ""
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
            f"kdim={self.kdim}, vdim={self.vdim}, batch_first={self.batch_first}{extra}, "
            f"fast={self.fast}, temperature={self.temperature}"
        )


register(
    "transformer.scaled_dot_product_attention",
    paper="Vaswani et al. 2017, arXiv:1706.03762",
    reference="F.scaled_dot_product_attention and the explicit formula (float64)",
)(scaled_dot_product_attention)
