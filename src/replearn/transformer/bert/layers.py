r"""BERT's functional core and its post-LN encoder layer (equation numbers of :mod:`.bert`).

Paper: J. Devlin, M.-W. Chang, K. Lee & K. Toutanova, "BERT: Pre-training of Deep Bidirectional
Transformers for Language Understanding", NAACL 2019, arXiv:1810.04805; the encoder layer is
that of A. Vaswani et al., "Attention Is All You Need", 2017, arXiv:1706.03762.

One pure function per equation of :mod:`.bert`: the embedding sum (1), the post-LN residual
(2)-(3), the pooler (4), the masked-LM head (6) and the pre-training loss (Sec. 3.1), plus
:class:`EncoderLayer`, Eqs. (2)-(3) with the multi-head attention

.. math::

    \mathrm{MHA}(h) = W_O\,[\mathrm{head}_1; \dots; \mathrm{head}_A] + b_O, \quad
    \mathrm{head}_j = \mathrm{softmax}\!\big(Q_j K_j^\top / \sqrt{d} + M\big) V_j     \qquad (2a)

    [Q; K; V] = h\,[W_Q; W_K; W_V]^\top + [b_Q; b_K; b_V]                            \qquad (2b)

The three projections of (2b) are one ``nn.Linear(H, 3H)`` (one GEMM instead of three; the rows
are :math:`W_Q`, then :math:`W_K`, then :math:`W_V`, which :mod:`.bert_hf` concatenates from
``transformers``' separate query/key/value tensors).

The masked-LM loss only reads the labelled positions (about 15% of the tokens), and the head of
Eq. (6) acts on each position separately, so :func:`select_labelled` gathers those positions
*before* the head (as NVIDIA's BERT does): the same loss and gradients, without the vocabulary
projection of the other 85%.

Tests: ``tests/transformer/test_bert_layers.py`` (the layer written out head by head in float64,
the gathered loss and every parameter gradient equal to the full-logits path in float64) and
``tests/transformer/test_bert*.py`` through :class:`~.bert.BERT`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.norm.layernorm import LayerNorm
from replearn.transformer.attention import scaled_dot_product_attention

__all__ = [
    "IGNORE_INDEX", "EncoderLayer", "bert_num_parameters", "cls_pool", "embed", "mlm_logits",
    "padding_mask", "post_ln", "pretraining_loss", "roberta_position_ids", "select_labelled",
]  # fmt: skip

IGNORE_INDEX = -100
"""Label of a position that does not count in a loss (not masked, padding, no NSP label)."""


def embed(tok: Tensor, seg: Tensor | None, pos: Tensor) -> Tensor:
    r"""Eq. (1) before the LayerNorm: :math:`W_{tok}[x] + W_{seg}[s] + W_{pos}[p]` (looked up).

    Shape:
        tok (B, L, E), seg (B, L, E) or None, pos (B or 1, L, E) -> (B, L, E).
    """
    out = tok + pos
    return out if seg is None else out + seg


def padding_mask(attention_mask: Tensor | None) -> Tensor | None:
    """A (B, L) 1/0 padding mask as the boolean (B, 1, 1, L) attention mask (True = attend).

    Shape:
        (B, L) -> (B, 1, 1, L).
    """
    return None if attention_mask is None else attention_mask.bool()[:, None, None, :]


def post_ln(x: Tensor, sublayer_out: Tensor, norm: nn.Module) -> Tensor:
    r"""Eq. (2)/(3): :math:`\mathrm{LN}(x + \mathrm{sublayer}(x))` (post-LN residual).

    Shape:
        (B, L, H), (B, L, H) -> (B, L, H).
    """
    return norm(x + sublayer_out)


def cls_pool(h: Tensor, dense: nn.Linear) -> Tensor:
    r"""Eq. (4): :math:`c = \tanh(W_p h_0 + b_p)` on the first (``[CLS]``) position.

    Shape:
        (B, L, H) -> (B, H).
    """
    return torch.tanh(dense(h[:, 0]))


def mlm_logits(
    h: Tensor, dense: nn.Linear, norm: nn.Module, emb: Tensor, bias: Tensor, act: str = "gelu"
) -> Tensor:
    r"""Eq. (6): :math:`W_{tok}\,\mathrm{LN}(\mathrm{GELU}(W_t h + b_t)) + b_{out}` (tied decoder).

    Shape:
        h (..., H), emb (V, E) with ``dense`` H -> E -> (..., V).
    """
    approximate = "none" if act == "gelu" else "tanh"  # "gelu_new": tanh form
    return F.linear(norm(F.gelu(dense(h), approximate=approximate)), emb, bias)


def select_labelled(h: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """The hidden states and labels of the positions a masked-LM loss reads (``labels != -100``).

    Row-major order (batch, then position), the order in which ``mlm[labels != -100]`` reads
    the full logits, so the head applied to the rows gives the same logits in the same order.

    Shape:
        h (B, L, H), labels (B, L) -> (n, H), (n,) with n the number of labelled positions.
    """
    idx = (labels.reshape(-1) != IGNORE_INDEX).nonzero().squeeze(1)  # (n,)
    return h.reshape(-1, h.shape[-1]).index_select(0, idx), labels.reshape(-1)[idx]


def pretraining_loss(
    mlm: Tensor, labels: Tensor, nsp: Tensor | None = None, nsp_labels: Tensor | None = None
) -> Tensor:
    r"""Sec. 3.1: mean CE over masked tokens (labels ``!= -100``) plus mean CE of IsNext.

    A term with no labelled position (no token selected, no sentence pair in the batch)
    contributes 0 (not the NaN of an empty mean). Logits below float32 (bf16, fp16) are
    upcast to float32; float64 stays float64.

    Shape:
        mlm (B, L, V) or (n, V), labels (B, L) or (n,), nsp (B, 2), nsp_labels (B,) -> ().
    """
    up = lambda t: t.to(torch.promote_types(t.dtype, torch.float32))  # noqa: E731  (bf16 -> fp32)
    sel = labels != IGNORE_INDEX  # (B, L)
    loss = F.cross_entropy(up(mlm[sel]), labels[sel]) if sel.any() else mlm.sum() * 0.0
    if nsp is not None and nsp_labels is not None:
        has = nsp_labels != IGNORE_INDEX  # (B,)
        if has.any():
            loss = loss + F.cross_entropy(up(nsp[has]), nsp_labels[has])
    return loss


def roberta_position_ids(input_ids: Tensor, padding_idx: int) -> Tensor:
    """RoBERTa positions: ``padding_idx + 1, + 2, ...`` over the tokens, ``padding_idx`` on padding.

    Shape:
        (B, L) -> (B, L).
    """
    keep = (input_ids != padding_idx).long()  # (B, L)
    return torch.cumsum(keep, dim=1) * keep + padding_idx


def bert_num_parameters(
    *, vocab_size: int, hidden: int, layers: int, intermediate: int, max_len: int,
    type_vocab_size: int = 2, num_labels: int = 0, heads: bool = True,
) -> int:  # fmt: skip
    """Closed-form parameter count of :class:`~.bert.BERT` (tied decoder counted once).

    Embeddings ``(V + P + T) H + 2H``; per layer ``4(H^2 + H) + 2(HI) + I + H + 4H``; pooler
    ``H^2 + H``; with ``heads``: MLM ``H^2 + H + 2H + V`` and NSP ``2H + 2``; classifier ``KH + K``.
    """
    h, i = hidden, intermediate
    n = (vocab_size + max_len + type_vocab_size) * h + 2 * h
    n += layers * (4 * (h * h + h) + 2 * h * i + i + h + 4 * h) + h * h + h
    if heads:
        n += h * h + 3 * h + vocab_size + 2 * h + 2
    return n + (num_labels * h + num_labels if num_labels else 0)


class EncoderLayer(nn.Module):
    """One post-LN encoder layer, Eqs. (2)-(3): self-attention and a GELU feed-forward.

    Args:
        hidden: model width H.
        heads: attention heads (H divisible by them).
        intermediate: feed-forward width I.
        dropout: dropout on each sub-layer output.
        attn_dropout: dropout on the attention probabilities.
        eps: LayerNorm epsilon.
        act: ``"gelu"`` (exact) or ``"gelu_new"`` (tanh approximation, ALBERT).
        fast: attention through ``F.scaled_dot_product_attention`` (else the reference path).

    Shape:
        (B, L, H), mask (B, 1, 1, L) bool -> (B, L, H).
    """

    def __init__(
        self, hidden: int, heads: int, intermediate: int, *, dropout: float = 0.1,
        attn_dropout: float = 0.1, eps: float = 1e-12, act: str = "gelu", fast: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        if hidden % heads or act not in ("gelu", "gelu_new"):
            raise ValueError(f"hidden {hidden} must divide by heads {heads}; act gelu/gelu_new")
        self.heads, self.attn_dropout, self.fast = heads, attn_dropout, fast
        self.approximate = "none" if act == "gelu" else "tanh"
        self.qkv = nn.Linear(hidden, 3 * hidden)  # Eq. (2b): rows W_Q, W_K, W_V
        self.o = nn.Linear(hidden, hidden)
        self.attn_norm = LayerNorm(hidden, eps=eps, fast=True)
        self.ff1, self.ff2 = nn.Linear(hidden, intermediate), nn.Linear(intermediate, hidden)
        self.ff_norm = LayerNorm(hidden, eps=eps, fast=True)
        self.drop = nn.Dropout(dropout)

    def attention(self, h: Tensor, mask: Tensor | None) -> Tensor:
        """Eq. (2a)-(2b): multi-head self-attention (before the residual)."""
        b, n, d = h.shape
        qkv = self.qkv(h).view(b, n, 3, self.heads, d // self.heads)  # (B, L, 3, heads, D)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, heads, L, D)
        out = scaled_dot_product_attention(
            q, k, v, mask, dropout=self.attn_dropout, fast=self.fast, training=self.training
        )  # (B, heads, L, D)
        return self.o(out.transpose(1, 2).reshape(b, n, d))

    def forward(self, h: Tensor, mask: Tensor | None = None) -> Tensor:
        a = post_ln(h, self.drop(self.attention(h, mask)), self.attn_norm)  # Eq. (2)
        f = self.ff2(F.gelu(self.ff1(a), approximate=self.approximate))
        return post_ln(a, self.drop(f), self.ff_norm)  # Eq. (3)

    def extra_repr(self) -> str:
        return f"heads={self.heads}, attn_dropout={self.attn_dropout}, fast={self.fast}"
