r"""ALBERT: BERT with factorized embeddings and one encoder layer shared by all depths.

Paper: Z. Lan, M. Chen, S. Goodman, K. Gimpel, P. Sharma & R. Soricut, "ALBERT: A Lite BERT for
Self-supervised Learning of Language Representations", ICLR 2020, arXiv:1909.11942.

Two parameter reductions (Sec. 3.1):

* factorized embedding parameterization: tokens are embedded in :math:`E \ll H` dimensions and
  projected up, :math:`O(V \times H) \to O(V \times E + E \times H)`,

  .. math::

      h^0 = W_{proj}\, \mathrm{LN}(W_{tok}[x] + W_{seg}[s] + W_{pos}[p]) + b_{proj}
      \qquad (1)

* cross-layer parameter sharing: one encoder layer :math:`f_\theta` (BERT's post-LN layer,
  :class:`~replearn.transformer.bert.EncoderLayer`) applied :math:`N` times,

  .. math::

      h^{\ell} = f_\theta(h^{\ell - 1}), \quad \ell = 1, \dots, N      \qquad (2)

The masked-LM head maps back to E before the tied decoder,
:math:`W_{tok}\,\mathrm{LN}(\mathrm{GELU}(W_t h + b_t)) + b` with :math:`W_t \in R^{E\times H}`
(3). The sentence-order-prediction head (SOP, Sec. 3.1) is a linear layer on the pooled
:math:`\tanh(W_p h_0 + b_p)`; the pair builder of :mod:`.mlm` makes SOP pairs by swapping.

:func:`albert_num_parameters` gives the closed-form count, against which the module is tested.

Deviations: only the all-shared configuration (one group of one layer) is built, the paper's
default. GELU is the tanh form (``gelu_new``) as in the released checkpoints.

Tests (``tests/transformer/test_albert.py``): ``ALBERT.from_hf`` vs ``transformers``
``AlbertModel`` / ``AlbertForMaskedLM`` / ``AlbertForPreTraining`` (atol 1e-5, padding mask);
the shared layer is called N times with one set of parameters (its gradient is the sum over the
depths); parameter count vs the formula and vs BERT of the same width and depth.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from replearn.norm.layernorm import LayerNorm
from replearn.registry import Example, register
from replearn.transformer.bert.model import BERT, EncoderLayer, embed, padding_mask

__all__ = ["ALBERT", "albert_num_parameters"]


def albert_num_parameters(
    *, vocab_size: int, embedding: int, hidden: int, intermediate: int, max_len: int,
    type_vocab_size: int = 2, heads: bool = True,
) -> int:  # fmt: skip
    """Closed-form parameter count of :class:`ALBERT` (independent of the depth).

    Embeddings ``(V + P + T) E + 2E``, projection ``EH + H``, the one layer
    ``4(H^2 + H) + 2HI + I + H + 4H``, pooler ``H^2 + H``; with ``heads``: MLM ``HE + E + 2E + V``
    and SOP ``2H + 2``.
    """
    e, h, i = embedding, hidden, intermediate
    n = (vocab_size + max_len + type_vocab_size) * e + 2 * e + e * h + h
    n += 4 * (h * h + h) + 2 * h * i + i + h + 4 * h + h * h + h
    if heads:
        n += h * e + 3 * e + vocab_size + 2 * h + 2
    return n


def _example() -> Example:
    kw = dict(vocab_size=30, embedding=8, hidden=16, layers=3, heads=2, intermediate=32)
    kw.update(pooler=False, mlm_head=False, sop_head=False)  # forward reads the encoder only
    return Example(ALBERT(**kw, max_len=12), (torch.randint(0, 30, (2, 7)),), (2, 7, 16))


@register(
    "transformer.albert",
    paper="Lan, Chen, Goodman, Gimpel, Sharma & Soricut 2019, arXiv:1909.11942 (ALBERT)",
    reference="transformers AlbertModel/AlbertForMaskedLM/AlbertForPreTraining with copied "
    "weights (from_hf, atol 1e-5); closed-form parameter count",
    example=_example,
)
class ALBERT(nn.Module):
    """ALBERT encoder (factorized embeddings, one shared layer), pooler, MLM and SOP heads.

    Args:
        vocab_size: V. embedding: E (factorized embedding width). hidden: H. layers: N
            (applications of the shared layer). heads, intermediate, max_len, type_vocab_size,
            dropout, attn_dropout, eps, act, pad_id, fast: as :class:`~.bert.BERT`.
        pooler, mlm_head, sop_head: build these heads. num_labels: classifier outputs (0: none).

    Shape:
        input_ids (B, L) -> last hidden states (B, L, H).
    """

    def __init__(
        self, *, vocab_size: int, embedding: int = 128, hidden: int = 768, layers: int = 12,
        heads: int = 12, intermediate: int = 3072, max_len: int = 512, type_vocab_size: int = 2,
        dropout: float = 0.0, attn_dropout: float = 0.0, eps: float = 1e-12,
        act: str = "gelu_new", pad_id: int = 0, pooler: bool = True, mlm_head: bool = True,
        sop_head: bool = True, num_labels: int = 0, fast: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        if min(vocab_size, embedding, hidden, layers, heads, intermediate, max_len) < 1:
            raise ValueError("sizes (vocab, embedding, hidden, layers, heads, ...) must be >= 1")
        if (
            type_vocab_size < 0
            or num_labels < 0
            or not (0 <= dropout < 1 and 0 <= attn_dropout < 1)
        ):
            raise ValueError("need type_vocab_size, num_labels >= 0 and dropout rates in [0, 1)")
        self.vocab_size, self.embedding, self.hidden = vocab_size, embedding, hidden
        self.num_layers, self.num_labels, self.act = layers, num_labels, act
        self.tok_emb = nn.Embedding(vocab_size, embedding, padding_idx=pad_id)
        self.pos_emb = nn.Embedding(max_len, embedding)
        self.seg_emb = nn.Embedding(type_vocab_size, embedding) if type_vocab_size else None
        self.emb_norm = LayerNorm(embedding, eps=eps, fast=True)
        self.drop = nn.Dropout(dropout)
        self.emb_proj = nn.Linear(embedding, hidden)
        self.layer = EncoderLayer(
            hidden, heads, intermediate, dropout=dropout, attn_dropout=attn_dropout, eps=eps,
            act=act, fast=fast,
        )  # fmt: skip
        self.pooler = nn.Linear(hidden, hidden) if pooler else None
        self.mlm_dense = nn.Linear(hidden, embedding) if mlm_head else None
        self.mlm_norm = LayerNorm(embedding, eps=eps, fast=True) if mlm_head else None
        self.mlm_bias = nn.Parameter(torch.zeros(vocab_size)) if mlm_head else None
        self.nsp = nn.Linear(hidden, 2) if sop_head else None  # SOP head (named as BERT's NSP)
        self.classifier = nn.Linear(hidden, num_labels) if num_labels else None
        self.apply(BERT._init)

    def forward(
        self, input_ids: Tensor, token_type_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
    ) -> Tensor:  # fmt: skip
        """Eqs. (1)-(2): the last hidden states (B, L, H)."""
        pos = torch.arange(input_ids.shape[1], device=input_ids.device)[None]  # (1, L)
        seg = None
        if self.seg_emb is not None:
            tt = token_type_ids if token_type_ids is not None else torch.zeros_like(input_ids)
            seg = self.seg_emb(tt)  # (B, L, E)
        e = self.drop(self.emb_norm(embed(self.tok_emb(input_ids), seg, self.pos_emb(pos))))
        h = self.emb_proj(e)  # Eq. (1): (B, L, H)
        mask = padding_mask(attention_mask)
        for _ in range(self.num_layers):  # Eq. (2): the same parameters at every depth
            h = self.layer(h, mask)
        return h

    # The heads are BERT's (same attribute names, E-dimensional MLM transform).
    pooled = BERT.pooled
    mlm = BERT.mlm
    pretraining_logits = BERT.pretraining_logits
    classify = BERT.classify

    def extra_repr(self) -> str:
        return (
            f"vocab_size={self.vocab_size}, embedding={self.embedding}, hidden={self.hidden}, "
            f"layers={self.num_layers} (shared), num_labels={self.num_labels}"
        )

    @classmethod
    def from_hf(cls, hf_model: nn.Module) -> ALBERT:
        """The network of a ``transformers`` ALBERT model (see :mod:`.bert_hf`)."""
        from replearn.transformer.bert.hf import albert_from_hf

        return albert_from_hf(hf_model)  # type: ignore[return-value]
