"""BERT task heads vs transformers' BertForTokenClassification / BertForQuestionAnswering."""

from __future__ import annotations

import pytest
import torch

from replearn.transformer.task_heads import (
    BertSpanQA,
    BertTokenClassifier,
    best_span,
    span_loss,
)

transformers = pytest.importorskip("transformers")


def _config(**kw):
    return transformers.BertConfig(
        vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=24, type_vocab_size=2, **kw,
    )  # fmt: skip


def _inputs():
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(1, 50, (3, 11), generator=gen)
    mask = torch.ones(3, 11, dtype=torch.long)
    mask[1, 8:] = 0  # padding
    types = torch.zeros(3, 11, dtype=torch.long)
    types[:, 5:] = 1
    return ids, types, mask


def test_token_classifier_equals_transformers():
    torch.manual_seed(0)
    hf = transformers.BertForTokenClassification(_config(num_labels=5)).eval()
    ours = BertTokenClassifier.from_hf(hf)
    assert not ours.training
    ids, types, mask = _inputs()
    labels = torch.randint(0, 5, (3, 11), generator=torch.Generator().manual_seed(1))
    labels[1, 8:] = -100
    ref = hf(input_ids=ids, token_type_ids=types, attention_mask=mask, labels=labels)
    got = ours(ids, token_type_ids=types, attention_mask=mask)
    assert got.shape == (3, 11, 5)
    torch.testing.assert_close(got, ref.logits, rtol=0, atol=1e-5)
    loss = ours.loss(ids, labels, token_type_ids=types, attention_mask=mask)
    torch.testing.assert_close(loss, ref.loss, rtol=0, atol=1e-5)


def test_span_qa_equals_transformers():
    torch.manual_seed(0)
    hf = transformers.BertForQuestionAnswering(_config()).eval()
    ours = BertSpanQA.from_hf(hf)
    ids, types, mask = _inputs()
    start, end = torch.tensor([5, 6, 30]), torch.tensor([7, 6, 31])  # the last one out of range
    ref = hf(input_ids=ids, token_type_ids=types, attention_mask=mask,
             start_positions=start, end_positions=end)  # fmt: skip
    s, e = ours(ids, token_type_ids=types, attention_mask=mask)
    torch.testing.assert_close(s, ref.start_logits, rtol=0, atol=1e-5)
    torch.testing.assert_close(e, ref.end_logits, rtol=0, atol=1e-5)
    loss = ours.loss(ids, start, end, token_type_ids=types, attention_mask=mask)
    torch.testing.assert_close(loss, ref.loss, rtol=0, atol=1e-5)


@pytest.mark.parametrize("max_len", [1, 3, 20])
def test_best_span_equals_brute_force(max_len):
    gen = torch.Generator().manual_seed(max_len)
    s, e = torch.randn(4, 9, generator=gen), torch.randn(4, 9, generator=gen)
    allowed = torch.rand(4, 9, generator=gen) > 0.3
    allowed[:, 4] = True  # at least one allowed position
    i_got, j_got = best_span(s, e, max_answer_len=max_len, allowed=allowed)
    for b in range(4):
        best, arg = float("-inf"), None
        for i in range(9):
            for j in range(i, min(9, i + max_len)):
                if allowed[b, i] and allowed[b, j] and s[b, i] + e[b, j] > best:
                    best, arg = (s[b, i] + e[b, j]).item(), (i, j)
        assert (i_got[b].item(), j_got[b].item()) == arg
    with pytest.raises(ValueError):
        best_span(s, e, max_answer_len=0)


def test_span_loss_ignores_out_of_range_targets():
    s, e = torch.randn(2, 5), torch.randn(2, 5)
    both = span_loss(s, e, torch.tensor([1, 9]), torch.tensor([2, 9]))
    first = span_loss(s[:1], e[:1], torch.tensor([1]), torch.tensor([2]))
    torch.testing.assert_close(both, first)


def test_heads_validate_arguments():
    with pytest.raises(ValueError):
        BertTokenClassifier.build(num_labels=0, vocab_size=10, hidden=8, layers=1, heads=2,
                                  intermediate=16, max_len=8)  # fmt: skip
    model = BertTokenClassifier.build(num_labels=2, vocab_size=10, hidden=8, layers=1, heads=2,
                                      intermediate=16, max_len=8)  # fmt: skip
    assert "num_labels=2" in repr(model)
