r"""Task heads on BERT: token classification (tagging) and extractive QA (span start/end).

Paper: J. Devlin, M.-W. Chang, K. Lee & K. Toutanova, "BERT: Pre-training of Deep Bidirectional
Transformers for Language Understanding", NAACL 2019, arXiv:1810.04805, Sec. 4.2 (SQuAD) and
Sec. 5.3 / Fig. 4 (CoNLL-2003 NER).

**Token classification** (NER, tagging): a linear layer on every final hidden state
:math:`h_i \in \mathbb{R}^H`,

.. math::

    p(t_i = c \mid x) = \mathrm{softmax}(W_{tok}\,\mathrm{Dropout}(h_i) + b_{tok})_c,
    \qquad \mathcal{L} = -\tfrac{1}{|M|}\sum_{i \in M} \log p(t_i \mid x)             \qquad (1)

over the labelled positions :math:`M` (sub-word continuations, padding and special tokens
carry the label -100 and are skipped).

**Extractive QA** (SQuAD): the input is ``[CLS] question [SEP] context [SEP]``; a start vector
:math:`S` and an end vector :math:`E` score every position,

.. math::

    P^{start}_i = \frac{e^{S \cdot h_i}}{\sum_j e^{S \cdot h_j}}, \qquad
    P^{end}_i = \frac{e^{E \cdot h_i}}{\sum_j e^{E \cdot h_j}}                           \qquad (2)

the loss is the mean of the two log-likelihoods of the true start and end (3), and the
prediction is the span maximizing :math:`S\cdot h_i + E\cdot h_j` with :math:`i \le j` (4),
here also with :math:`j - i < ` ``max_answer_len`` and both ends in the allowed positions (the
context).

Deviations: none in the heads; the loss ignores targets at -100 (1) and start/end targets outside
the sequence (3), as Hugging Face's heads do.

Tests (``tests/transformer/test_task_heads.py``): both heads against ``transformers``
``BertForTokenClassification`` and ``BertForQuestionAnswering`` with copied weights (logits and
losses, atol 1e-5; ``from_hf``); :func:`best_span` against a brute-force double loop over
(i, j).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.registry import Example, register
from replearn.transformer.bert.layers import IGNORE_INDEX
from replearn.transformer.bert.model import BERT

__all__ = [
    "BertSpanQA",
    "BertTokenClassifier",
    "best_span",
    "span_loss",
    "token_classification_loss",
]


def token_classification_loss(logits: Tensor, labels: Tensor) -> Tensor:
    r"""Eq. (1): mean cross-entropy over positions whose label is not -100.

    Shape:
        logits (B, L, C), labels (B, L) -> ().
    """
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX)


def span_loss(start_logits: Tensor, end_logits: Tensor, start: Tensor, end: Tensor) -> Tensor:
    r"""Eq. (3): :math:`\frac12(-\log P^{start}_{s} - \log P^{end}_{e})`, averaged over the batch.

    Targets outside ``[0, L)`` are clamped to ``L`` and ignored (Hugging Face's convention for
    answers truncated away).

    Shape:
        start_logits, end_logits (B, L); start, end (B,) int64 -> ().
    """
    n = start_logits.shape[1]
    s, e = start.clamp(0, n), end.clamp(0, n)
    s = torch.where(start < 0, torch.full_like(s, n), s)
    e = torch.where(end < 0, torch.full_like(e, n), e)
    return (F.cross_entropy(start_logits, s, ignore_index=n)
            + F.cross_entropy(end_logits, e, ignore_index=n)) / 2  # fmt: skip


def best_span(
    start_logits: Tensor, end_logits: Tensor, *, max_answer_len: int = 30,
    allowed: Tensor | None = None,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    r"""Eq. (4): :math:`\arg\max_{i \le j < i + m} S\cdot h_i + E\cdot h_j` over allowed i, j.

    Shape:
        start_logits, end_logits (B, L); allowed (B, L) bool or None -> start, end (B,) int64.
    """
    if max_answer_len < 1:
        raise ValueError(f"max_answer_len must be >= 1, got {max_answer_len}")
    n = start_logits.shape[1]
    score = start_logits[:, :, None] + end_logits[:, None, :]  # (B, L_i, L_j)
    i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
    ok = ((j >= i) & (j - i < max_answer_len)).to(score.device)[None]  # (1, L, L)
    if allowed is not None:
        ok = ok & allowed[:, :, None] & allowed[:, None, :]
    flat = score.masked_fill(~ok, float("-inf")).flatten(1).argmax(-1)  # (B,)
    return flat // n, flat % n


def _encoder(**kwargs: Any) -> BERT:
    return BERT(pooler=False, mlm_head=False, nsp_head=False, num_labels=0, **kwargs)


class _Head(nn.Module):
    """A BERT encoder (no pre-training heads) with a linear layer on every position."""

    def __init__(self, encoder: BERT, outputs: int, dropout: float) -> None:
        super().__init__()
        if outputs < 1 or not 0 <= dropout < 1:
            raise ValueError(f"need outputs >= 1 and dropout in [0, 1), got {outputs}, {dropout}")
        self.bert = encoder
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(encoder.hidden, outputs)
        nn.init.normal_(self.out.weight, 0.0, 0.02)
        nn.init.zeros_(self.out.bias)

    def scores(self, input_ids: Tensor, token_type_ids: Tensor | None,
               attention_mask: Tensor | None) -> Tensor:  # fmt: skip
        h = self.bert(input_ids, token_type_ids, attention_mask)  # (B, L, H)
        return self.out(self.drop(h))  # (B, L, outputs)

    def _load_hf(self, hf_model: nn.Module, head: str) -> None:
        with torch.no_grad():
            self.out.weight.copy_(getattr(hf_model, head).weight)
            self.out.bias.copy_(getattr(hf_model, head).bias)


def _token_example() -> Example:
    model = BertTokenClassifier.build(num_labels=3, vocab_size=20, hidden=16, layers=1,
                                      heads=2, intermediate=32, max_len=10)  # fmt: skip
    return Example(model, (torch.randint(0, 20, (2, 7)),), (2, 7, 3))


@register(
    "transformer.bert_token_classification",
    paper="Devlin et al. 2019, arXiv:1810.04805, Sec. 5.3 (tagging / NER head)",
    reference="transformers BertForTokenClassification with copied weights (from_hf: logits "
    "and loss, atol 1e-5)",
    example=_token_example,
)
class BertTokenClassifier(_Head):
    """BERT with a token-classification head, Eq. (1).

    Args:
        encoder: a :class:`~replearn.transformer.bert.BERT` (its pre-training heads unused).
        num_labels: tags C.
        dropout: on the hidden states before the head (BERT: the hidden dropout, 0.1).

    Shape:
        input_ids (B, L) -> logits (B, L, C).
    """

    def __init__(self, encoder: BERT, *, num_labels: int, dropout: float = 0.1) -> None:
        super().__init__(encoder, num_labels, dropout)
        self.num_labels = num_labels

    @classmethod
    def build(cls, *, num_labels: int, head_dropout: float = 0.1, **bert_kwargs: Any) -> Any:
        """A fresh encoder (``BERT(**bert_kwargs)`` without pre-training heads) and the head."""
        return cls(_encoder(**bert_kwargs), num_labels=num_labels, dropout=head_dropout)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor | None = None,
                attention_mask: Tensor | None = None) -> Tensor:  # fmt: skip
        return self.scores(input_ids, token_type_ids, attention_mask)

    def loss(self, input_ids: Tensor, labels: Tensor, **kwargs: Any) -> Tensor:
        """Eq. (1) on ``labels`` (B, L), -100 skipped."""
        return token_classification_loss(self(input_ids, **kwargs), labels)

    @classmethod
    def from_hf(cls, hf_model: nn.Module) -> BertTokenClassifier:
        """From ``transformers.BertForTokenClassification`` (weights and dropout copied)."""
        model = cls(BERT.from_hf(hf_model.bert), num_labels=hf_model.num_labels,
                    dropout=hf_model.dropout.p)  # fmt: skip
        model._load_hf(hf_model, "classifier")
        return model.train(hf_model.training)

    def extra_repr(self) -> str:
        return f"num_labels={self.num_labels}"


def _qa_example() -> Example:
    model = BertSpanQA.build(vocab_size=20, hidden=16, layers=1, heads=2, intermediate=32,
                             max_len=10)  # fmt: skip
    return Example(model, (torch.randint(0, 20, (2, 7)),), (2, 7))


@register(
    "transformer.bert_span_qa",
    paper="Devlin et al. 2019, arXiv:1810.04805, Sec. 4.2 (SQuAD start/end head)",
    reference="transformers BertForQuestionAnswering with copied weights (from_hf: start/end "
    "logits and loss, atol 1e-5); best_span vs a brute-force loop",
    example=_qa_example,
)
class BertSpanQA(_Head):
    """BERT with an extractive-QA head: start and end logits per position, Eqs. (2)-(4).

    Args:
        encoder: a :class:`~replearn.transformer.bert.BERT`.
        dropout: on the hidden states before the head (Hugging Face: none; default 0).

    Shape:
        input_ids (B, L) -> start_logits (B, L), end_logits (B, L).
    """

    def __init__(self, encoder: BERT, *, dropout: float = 0.0) -> None:
        super().__init__(encoder, 2, dropout)

    @classmethod
    def build(cls, *, head_dropout: float = 0.0, **bert_kwargs: Any) -> Any:
        """A fresh encoder (``BERT(**bert_kwargs)`` without pre-training heads) and the head."""
        return cls(_encoder(**bert_kwargs), dropout=head_dropout)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor | None = None,
                attention_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:  # fmt: skip
        start, end = self.scores(input_ids, token_type_ids, attention_mask).unbind(-1)
        return start, end  # (B, L) each

    def loss(self, input_ids: Tensor, start: Tensor, end: Tensor, **kwargs: Any) -> Tensor:
        """Eq. (3)."""
        return span_loss(*self(input_ids, **kwargs), start, end)

    @classmethod
    def from_hf(cls, hf_model: nn.Module) -> BertSpanQA:
        """From ``transformers.BertForQuestionAnswering`` (weights copied)."""
        model = cls(BERT.from_hf(hf_model.bert))
        model._load_hf(hf_model, "qa_outputs")
        return model.train(hf_model.training)
