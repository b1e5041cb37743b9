"""BERT: equations in float64, fast path vs reference path, padding, parameter count, loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from replearn.transformer.bert.model import (
    BERT,
    bert_num_parameters,
    roberta_position_ids,
)

SMALL = dict(vocab_size=40, hidden=16, layers=2, heads=4, intermediate=24, max_len=16)


def small(**kw) -> BERT:
    torch.manual_seed(0)
    return BERT(**{**SMALL, **kw}).double().eval()


def ids(b: int, n: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(1, 40, (b, n), generator=torch.Generator().manual_seed(seed))


@settings(max_examples=8, deadline=None)
@given(b=st.integers(1, 3), n=st.integers(1, 10), pad=st.integers(0, 5))
def test_fast_path_equals_reference_path(b, n, pad):
    model = small()
    ref = small(fast=False)
    ref.load_state_dict(model.state_dict())
    x = ids(b, n + pad)
    mask = torch.ones(b, n + pad, dtype=torch.long)
    mask[0, n:] = 0
    tt = (torch.arange(n + pad) >= (n + pad) // 2).long().expand(b, -1)
    torch.testing.assert_close(model(x, tt, mask), ref(x, tt, mask), rtol=0, atol=1e-10)


def test_padding_does_not_change_real_tokens():
    model = small()
    x = ids(2, 7)
    padded = torch.cat([x, torch.zeros(2, 4, dtype=torch.long)], 1)
    mask = torch.cat([torch.ones(2, 7), torch.zeros(2, 4)], 1).long()
    torch.testing.assert_close(model(padded, None, mask)[:, :7], model(x), rtol=0, atol=1e-10)
    # and without the mask the padding does change them (the test can fail)
    assert (model(padded)[:, :7] - model(x)).abs().max() > 1e-4


def test_heads_shapes_and_tied_decoder():
    model = small(num_labels=3)
    x = ids(2, 6)
    mlm, nsp = model.pretraining_logits(x)
    assert mlm.shape == (2, 6, 40) and nsp.shape == (2, 2)
    assert model.classify(x).shape == (2, 3)
    h = model(x)
    # Eq. (6) written out: the decoder is the token embedding matrix (tied), plus a bias
    t = F.layer_norm(F.gelu(model.mlm_dense(h)), (16,), model.mlm_norm.weight,
                     model.mlm_norm.bias, 1e-12)  # fmt: skip
    torch.testing.assert_close(mlm, t @ model.tok_emb.weight.T + model.mlm_bias, rtol=0, atol=1e-12)
    torch.testing.assert_close(model.pooled(h), torch.tanh(model.pooler(h[:, 0])))
    with pytest.raises(RuntimeError, match="mlm_head"):
        small(mlm_head=False).mlm(h)
    with pytest.raises(RuntimeError, match="num_labels"):
        small().classify(x)


@pytest.mark.parametrize("kw", [{}, {"num_labels": 2}, {"type_vocab_size": 0, "nsp_head": False}])
def test_parameter_count_formula(kw):
    model = BERT(**{**SMALL, **kw})
    n = sum(p.numel() for p in model.parameters())
    want = bert_num_parameters(
        vocab_size=40, hidden=16, layers=2, intermediate=24, max_len=16,
        type_vocab_size=kw.get("type_vocab_size", 2), num_labels=kw.get("num_labels", 0),
    )  # fmt: skip
    if "nsp_head" in kw:
        want -= 2 * 16 + 2
    assert n == want


def test_bert_base_parameter_count():
    # BERT-base (uncased, V = 30522): 110M in the paper; 109,482,240 for BertModel (with pooler)
    n = bert_num_parameters(
        vocab_size=30522, hidden=768, layers=12, intermediate=3072, max_len=512, heads=False
    )
    assert n == 109_482_240


def test_roberta_positions_skip_padding():
    x = torch.tensor([[0, 5, 6, 2, 1, 1], [0, 7, 2, 1, 1, 1]])
    want = torch.tensor([[2, 3, 4, 5, 1, 1], [2, 3, 4, 1, 1, 1]])
    assert torch.equal(roberta_position_ids(x, padding_idx=1), want)


def test_gradients_reach_every_parameter():
    model = small(num_labels=2).train()
    x = ids(3, 6)
    mlm, nsp = model.pretraining_logits(x)
    (mlm.sum() + nsp.sum() + model.classify(x).sum()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert missing == []


@pytest.mark.parametrize(
    "kw",
    [{"hidden": 15}, {"layers": 0}, {"positions": "rotary"}, {"dropout": 1.0}, {"act": "relu"}],
)
def test_invalid_arguments(kw):
    with pytest.raises(ValueError):
        BERT(**{**SMALL, **kw})


def test_too_long_sequence_is_a_clear_error():
    with pytest.raises(ValueError, match="longer than"):
        small()(ids(1, 17))
