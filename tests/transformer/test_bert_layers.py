"""BERT's core: the fused-QKV layer written out, the loss, the gathered masked-LM loss (float64)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from replearn.transformer.bert.layers import (
    IGNORE_INDEX,
    EncoderLayer,
    pretraining_loss,
    select_labelled,
)
from replearn.transformer.bert.model import BERT

SMALL = dict(vocab_size=40, hidden=16, layers=2, heads=4, intermediate=24, max_len=16)


def test_encoder_layer_matches_written_out_formula():
    torch.manual_seed(0)
    layer = EncoderLayer(8, 2, 12, dropout=0.0, attn_dropout=0.0).double().eval()
    with torch.no_grad():  # distinct biases: a swapped Q/K/V block would show
        layer.qkv.bias.normal_()
    h = torch.randn(2, 5, 8, dtype=torch.float64)
    # Eq. (2b): rows 0-7 of the fused weight are W_Q, 8-15 W_K, 16-23 W_V.
    w, b = layer.qkv.weight, layer.qkv.bias
    q, k, v = h @ w[:8].T + b[:8], h @ w[8:16].T + b[8:16], h @ w[16:].T + b[16:]
    # Eq. (2a)-(3) by hand: per-head softmax(q k^T / sqrt(d)) v, post-LN residuals, exact GELU.
    heads = []
    for i in range(2):
        sl = slice(4 * i, 4 * i + 4)
        att = torch.softmax(q[..., sl] @ k[..., sl].transpose(1, 2) / 2.0, dim=-1)
        heads.append(att @ v[..., sl])
    a = F.layer_norm(h + layer.o(torch.cat(heads, -1)), (8,), layer.attn_norm.weight,
                     layer.attn_norm.bias, 1e-12)  # fmt: skip
    ff = layer.ff2(0.5 * layer.ff1(a) * (1 + torch.erf(layer.ff1(a) / math.sqrt(2))))
    want = F.layer_norm(a + ff, (8,), layer.ff_norm.weight, layer.ff_norm.bias, 1e-12)
    torch.testing.assert_close(layer(h), want, rtol=0, atol=1e-12)
    assert "heads=2" in repr(layer)


def test_pretraining_loss_reads_only_masked_positions():
    g = torch.Generator().manual_seed(0)
    mlm = torch.randn(2, 5, 7, generator=g, dtype=torch.float64)
    labels = torch.full((2, 5), -100)
    labels[0, 1], labels[1, 3] = 4, 2
    nsp, nsp_labels = torch.randn(2, 2, dtype=torch.float64, generator=g), torch.tensor([0, 1])
    want_mlm = -(mlm[0, 1].log_softmax(-1)[4] + mlm[1, 3].log_softmax(-1)[2]) / 2
    want = want_mlm - (nsp[0].log_softmax(-1)[0] + nsp[1].log_softmax(-1)[1]) / 2
    got = pretraining_loss(mlm, labels, nsp, nsp_labels)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)  # float64 stays float64
    # an unlabelled term contributes 0, not NaN
    none = torch.full((2,), -100)
    torch.testing.assert_close(pretraining_loss(mlm, labels, nsp, none).double(), want_mlm)
    assert pretraining_loss(mlm, torch.full((2, 5), -100)).item() == 0.0


@settings(max_examples=15, deadline=None)
@given(b=st.integers(1, 4), n=st.integers(1, 9), p=st.floats(0.0, 1.0), seed=st.integers(0, 99))
def test_select_labelled_reads_what_boolean_indexing_reads(b, n, p, seed):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(b, n, 3, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 9, (b, n), generator=g)
    labels[torch.rand(b, n, generator=g) >= p] = IGNORE_INDEX
    rows, targets = select_labelled(h, labels)
    sel = labels != IGNORE_INDEX
    assert torch.equal(rows, h[sel]) and torch.equal(targets, labels[sel])
    assert rows.shape == (int(sel.sum()), 3)


def _batch(b: int = 3, n: int = 9):
    g = torch.Generator().manual_seed(3)
    x = torch.randint(1, 40, (b, n), generator=g)
    mask = torch.ones(b, n, dtype=torch.long)
    mask[1, 6:] = 0
    tt = (torch.arange(n) >= n // 2).long().expand(b, n)
    labels = torch.where((torch.rand(b, n, generator=g) < 0.3) & mask.bool(), x, IGNORE_INDEX)
    return x, tt, mask, labels, torch.tensor([0, 1, 1][:b])


def _loss_and_grads(model: BERT, full: bool, nsp: bool, batch, seed: int = 5):
    x, tt, mask, labels, nsp_labels = batch
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)  # the same dropout masks on both paths
    if full:
        mlm, nsp_logits = model.pretraining_logits(x, tt, mask)
        loss = pretraining_loss(mlm, labels, nsp_logits if nsp else None, nsp_labels)
    else:
        loss = model.pretraining_loss(x, labels, tt, mask, nsp_labels if nsp else None)
    loss.backward()
    return loss.detach(), {
        k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None
    }


@pytest.mark.parametrize("nsp", [True, False], ids=["mlm+nsp", "mlm"])
@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_gathered_loss_and_gradients_equal_full_logits_path(nsp, dropout):
    torch.manual_seed(0)
    model = BERT(**SMALL, dropout=dropout, attn_dropout=dropout).double().train()
    batch = _batch()
    want, want_grads = _loss_and_grads(model, True, nsp, batch)
    got, got_grads = _loss_and_grads(model, False, nsp, batch)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    assert got_grads.keys() == want_grads.keys()
    assert ("nsp.weight" in got_grads) is nsp and "mlm_dense.weight" in got_grads
    for name, g in want_grads.items():
        torch.testing.assert_close(got_grads[name], g, rtol=0, atol=1e-12, msg=name)
    # the decoder (tied embedding) gradient is non-zero only through labelled rows and tokens
    assert got_grads["mlm_bias"].abs().sum() > 0


def test_gathered_loss_with_no_labelled_position_is_zero_with_gradients():
    torch.manual_seed(0)
    model = BERT(**SMALL).double().eval()
    x, tt, mask, _, nsp_labels = _batch()
    none = torch.full_like(x, IGNORE_INDEX)
    loss = model.pretraining_loss(x, none, tt, mask)
    loss.backward()
    assert loss.item() == 0.0 and model.mlm_bias.grad is not None
    model.zero_grad()
    with_nsp = model.pretraining_loss(x, none, tt, mask, nsp_labels)
    with torch.no_grad():
        want = F.cross_entropy(model.nsp(model.pooled(model(x, tt, mask))), nsp_labels)
    torch.testing.assert_close(with_nsp.detach(), want, rtol=0, atol=1e-12)


def test_nsp_labels_without_nsp_head_is_an_error():
    model = BERT(**SMALL, nsp_head=False)
    x, tt, mask, labels, nsp_labels = _batch()
    with pytest.raises(RuntimeError, match="nsp_head"):
        model.pretraining_loss(x, labels, tt, mask, nsp_labels)
