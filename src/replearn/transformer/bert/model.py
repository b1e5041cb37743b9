r"""BERT: a bidirectional post-LN Transformer encoder pre-trained by masked language modelling.

Paper: J. Devlin, M.-W. Chang, K. Lee & K. Toutanova, "BERT: Pre-training of Deep Bidirectional
Transformers for Language Understanding", NAACL 2019, arXiv:1810.04805. RoBERTa: Y. Liu et al.
2019, arXiv:1907.11692.

Input representation (Sec. 3, Fig. 2): token, segment and learned position embeddings summed,
then layer-normalised,

.. math::

    h^0_i = \mathrm{LN}(W_{tok}[x_i] + W_{seg}[s_i] + W_{pos}[p_i])          \qquad (1)

then :math:`N` post-LN encoder layers (Vaswani et al. 2017, arXiv:1706.03762),

.. math::

    a = \mathrm{LN}(h + \mathrm{MHA}(h, h, h; \text{padding mask}))          \qquad (2)

    h' = \mathrm{LN}(a + W_2\,\mathrm{GELU}(W_1 a + b_1) + b_2)               \qquad (3)

The pooler reads the ``[CLS]`` state, :math:`c = \tanh(W_p h^N_0 + b_p)` (4), the next-sentence
head is :math:`W_{nsp} c` (5), and the masked-LM head transforms then decodes with the input
embedding matrix (tied) plus an output bias,

.. math::

    \mathrm{logits}_i = W_{tok}\, \mathrm{LN}(\mathrm{GELU}(W_t h^N_i + b_t)) + b_{out}   \qquad (6)

Pre-training minimises the mean cross-entropy of the masked tokens plus that of the IsNext /
NotNext label (Sec. 3.1, Task #1 and #2). Sequence classification (SST-2, Sec. 4.1) is a linear
layer on the dropped-out pooled vector :math:`c`. :meth:`BERT.pretraining_loss` computes that
loss with the head of Eq. (6) run on the labelled positions only (the other logits are never
read); :meth:`BERT.pretraining_logits` gives all the logits. The functions of each equation and
the encoder layer (Q, K, V projections fused into one GEMM) are in :mod:`.bert_layers`.

RoBERTa is the same network without NSP, trained with dynamic masking (:mod:`.mlm`); its
positions start after the padding index and skip padding (``positions="roberta"``,
:func:`roberta_position_ids`).

Deviations: none in the architecture (the layout is that of Google's and Hugging Face's
checkpoints). GELU is the exact erf form.

Tests (``tests/transformer/test_bert*.py``): ``BERT.from_hf`` on ``transformers``
``BertModel`` / ``BertForPreTraining`` / ``BertForSequenceClassification`` /
``RobertaForMaskedLM`` built from small random configs (atol 1e-5 in float32, padding mask
included); the fast attention path equals the reference path in float64; the parameter count
equals :func:`bert_num_parameters`; :meth:`BERT.pretraining_loss` and its gradients equal the
full-logits loss in float64.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from replearn.norm.layernorm import LayerNorm
from replearn.registry import Example, register
from replearn.transformer.bert.layers import (
    IGNORE_INDEX,
    EncoderLayer,
    bert_num_parameters,
    cls_pool,
    embed,
    mlm_logits,
    padding_mask,
    post_ln,
    pretraining_loss,
    roberta_position_ids,
    select_labelled,
)

# The functional core and the encoder layer live in .bert_layers; re-exported here.
__all__ = [
    "BERT", "IGNORE_INDEX", "EncoderLayer", "bert_num_parameters", "cls_pool", "embed",
    "mlm_logits", "padding_mask", "post_ln", "pretraining_loss", "roberta_position_ids",
    "select_labelled",
]  # fmt: skip


def _example() -> Example:
    heads = dict(pooler=False, mlm_head=False, nsp_head=False)  # forward reads the encoder only
    model = BERT(vocab_size=30, hidden=16, layers=2, heads=2, intermediate=32, max_len=12, **heads)
    return Example(model, (torch.randint(0, 30, (2, 7)),), (2, 7, 16))


@register(
    "transformer.bert",
    paper="Devlin, Chang, Lee & Toutanova 2019, arXiv:1810.04805 (BERT); "
    "Liu et al. 2019, arXiv:1907.11692 (RoBERTa positions)",
    reference="transformers BertModel/BertForPreTraining/BertForSequenceClassification/"
    "RobertaForMaskedLM with copied weights (from_hf, atol 1e-5); closed-form parameter count; "
    "gathered masked-LM loss and gradients vs the full-logits loss (float64)",
    example=_example,
)
class BERT(nn.Module):
    """BERT encoder with pooler, tied masked-LM head, NSP head and optional classifier.

    Args:
        vocab_size: V. hidden: H. layers: N. heads: attention heads. intermediate: I.
        max_len: learned positions P. type_vocab_size: segments (0: none).
        dropout, attn_dropout: hidden and attention-probability dropout.
        eps: LayerNorm epsilon. act: ``"gelu"`` or ``"gelu_new"``.
        positions: ``"absolute"`` (0, 1, ...) or ``"roberta"`` (after ``pad_id``, skip padding).
        pad_id: padding token id (for ``"roberta"`` positions).
        pooler: build the pooler of Eq. (4) (RoBERTa's masked LM has none).
        mlm_head, nsp_head: build the pre-training heads. num_labels: classifier outputs (0: none).
        fast: fused attention (``F.scaled_dot_product_attention``) or the reference path.

    Shape:
        input_ids (B, L) -> last hidden states (B, L, H).
    """

    def __init__(
        self, *, vocab_size: int, hidden: int = 768, layers: int = 12, heads: int = 12,
        intermediate: int = 3072, max_len: int = 512, type_vocab_size: int = 2,
        dropout: float = 0.1, attn_dropout: float = 0.1, eps: float = 1e-12, act: str = "gelu",
        positions: str = "absolute", pad_id: int = 0, pooler: bool = True, mlm_head: bool = True,
        nsp_head: bool = True, num_labels: int = 0, fast: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        if min(vocab_size, hidden, layers, heads, intermediate, max_len) < 1:
            raise ValueError(
                "vocab_size, hidden, layers, heads, intermediate, max_len must be >= 1"
            )
        if positions not in ("absolute", "roberta") or type_vocab_size < 0 or num_labels < 0:
            raise ValueError(f"bad positions {positions!r}, type_vocab_size or num_labels")
        if not (0 <= dropout < 1 and 0 <= attn_dropout < 1):
            raise ValueError("dropout rates must be in [0, 1)")
        self.vocab_size, self.hidden, self.num_layers = vocab_size, hidden, layers
        self.num_heads, self.act = heads, act
        self.positions, self.pad_id, self.num_labels = positions, pad_id, num_labels
        self.tok_emb = nn.Embedding(vocab_size, hidden, padding_idx=pad_id)
        self.pos_emb = nn.Embedding(max_len, hidden)
        self.seg_emb = nn.Embedding(type_vocab_size, hidden) if type_vocab_size else None
        self.emb_norm, self.drop = LayerNorm(hidden, eps=eps, fast=True), nn.Dropout(dropout)
        kw = dict(dropout=dropout, attn_dropout=attn_dropout, eps=eps, act=act, fast=fast)
        self.layers = nn.ModuleList(
            EncoderLayer(hidden, heads, intermediate, **kw) for _ in range(layers)
        )
        self.pooler = nn.Linear(hidden, hidden) if pooler else None
        self.mlm_dense = nn.Linear(hidden, hidden) if mlm_head else None
        self.mlm_norm = LayerNorm(hidden, eps=eps, fast=True) if mlm_head else None
        self.mlm_bias = nn.Parameter(torch.zeros(vocab_size)) if mlm_head else None
        self.nsp = nn.Linear(hidden, 2) if nsp_head else None
        self.classifier = nn.Linear(hidden, num_labels) if num_labels else None
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        """N(0, 0.02) weights (Google's ``initializer_range``, not truncated), zero biases."""
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(
        self, input_ids: Tensor, token_type_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
    ) -> Tensor:  # fmt: skip
        """Eqs. (1)-(3): the last hidden states (B, L, H); ``attention_mask`` is 1 on tokens.

        These are hidden states, not logits: the masked-LM and next-sentence logits (what
        ``BertForMaskedLM`` / ``BertForPreTraining`` return) come from
        :meth:`pretraining_logits`.
        """
        n = input_ids.shape[1]
        if n > self.pos_emb.num_embeddings - (
            self.pad_id + 1 if self.positions == "roberta" else 0
        ):
            raise ValueError(
                f"sequence of {n} tokens is longer than the {self.pos_emb.num_embeddings} positions"
            )
        if self.positions == "roberta":
            pos = roberta_position_ids(input_ids, self.pad_id)  # (B, L)
        else:
            pos = torch.arange(n, device=input_ids.device)[None]  # (1, L)
        seg = None
        if self.seg_emb is not None:
            tt = token_type_ids if token_type_ids is not None else torch.zeros_like(input_ids)
            seg = self.seg_emb(tt)
        h = self.drop(self.emb_norm(embed(self.tok_emb(input_ids), seg, self.pos_emb(pos))))
        mask = padding_mask(attention_mask)
        for layer in self.layers:
            h = layer(h, mask)
        return h

    def pooled(self, h: Tensor) -> Tensor:
        """Eq. (4): (B, L, H) -> (B, H)."""
        if self.pooler is None:
            raise RuntimeError("this BERT was built with pooler=False")
        return cls_pool(h, self.pooler)

    def mlm(self, h: Tensor) -> Tensor:
        """Eq. (6): (B, L, H) -> (B, L, V)."""
        if self.mlm_dense is None or self.mlm_norm is None or self.mlm_bias is None:
            raise RuntimeError("this BERT was built with mlm_head=False")
        return mlm_logits(
            h, self.mlm_dense, self.mlm_norm, self.tok_emb.weight, self.mlm_bias, self.act
        )

    def pretraining_logits(
        self, input_ids: Tensor, token_type_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:  # fmt: skip
        """Masked-LM logits (B, L, V) and NSP logits (B, 2) (None without an NSP head)."""
        h = self(input_ids, token_type_ids, attention_mask)
        nsp = self.nsp(self.pooled(h)) if self.nsp is not None else None
        return self.mlm(h), nsp

    def pretraining_loss(
        self, input_ids: Tensor, labels: Tensor, token_type_ids: Tensor | None = None,
        attention_mask: Tensor | None = None, nsp_labels: Tensor | None = None,
    ) -> Tensor:  # fmt: skip
        """Sec. 3.1 training loss with the masked-LM head run on the labelled positions only.

        Equals ``pretraining_loss(*self.pretraining_logits(...), labels, nsp_labels)`` (the
        function of :mod:`.bert_layers`), gradients included: the head of Eq. (6) acts on each
        position separately and the cross-entropy reads only ``labels != -100``, so
        :func:`select_labelled` gathers those rows first (the vocabulary projection then costs
        ~15% of the full one). ``nsp_labels=None``: masked-LM term only.

        Shape:
            input_ids, labels (B, L), nsp_labels (B,) -> ().
        """
        if nsp_labels is not None and self.nsp is None:
            raise RuntimeError("nsp_labels given but this BERT was built with nsp_head=False")
        h = self(input_ids, token_type_ids, attention_mask)  # (B, L, H)
        rows, targets = select_labelled(h, labels)  # (n, H), (n,)
        nsp = self.nsp(self.pooled(h)) if nsp_labels is not None else None  # (B, 2)
        return pretraining_loss(self.mlm(rows), targets, nsp, nsp_labels)

    def classify(
        self, input_ids: Tensor, token_type_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
    ) -> Tensor:  # fmt: skip
        """Sequence-classification logits (B, num_labels) from the dropped-out pooled vector."""
        if self.classifier is None:
            raise RuntimeError("this BERT was built with num_labels=0")
        h = self(input_ids, token_type_ids, attention_mask)
        return self.classifier(self.drop(self.pooled(h)))

    def extra_repr(self) -> str:
        return (
            f"vocab_size={self.vocab_size}, hidden={self.hidden}, layers={self.num_layers}, "
            f"heads={self.num_heads}, positions={self.positions!r}, num_labels={self.num_labels}"
        )

    @classmethod
    def from_hf(cls, hf_model: nn.Module) -> BERT:
        """The network of a ``transformers`` BERT or RoBERTa model (see :mod:`.hf`).

        Converted from ``BertForMaskedLM``, the model's ``forward`` still returns hidden
        states; its masked-LM logits are :meth:`pretraining_logits`.
        """
        from replearn.transformer.bert.hf import bert_from_hf

        return bert_from_hf(hf_model)
