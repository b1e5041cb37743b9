"""Transformer-XL: Eq. (2) term by term, stop-gradient memory, segments with memory == one pass.

No library oracle: Hugging Face transformers 5.x removed TransfoXL.
"""

from __future__ import annotations

import math

import pytest
import torch

from replearn.transformer.positions import RelativeSinusoidalPositions
from replearn.transformer.transformer_xl import (
    RelativeMultiHeadAttention,
    TransformerXL,
    relative_attention_scores,
    update_memory,
)

D64 = dict(dtype=torch.float64)


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def small(**kw) -> TransformerXL:
    args = dict(vocab_size=13, d_model=12, n_layer=2, n_head=3, d_inner=20, mem_len=5, dropout=0.0)
    return TransformerXL(**{**args, **kw}).double().eval()


@pytest.mark.parametrize("lq,lk", [(3, 3), (2, 6), (4, 9)])
def test_fast_and_gathered_relative_scores_agree_on_the_visible_keys(lq, lk):
    g = torch.Generator().manual_seed(0)
    q, k = (
        torch.randn(2, 3, lq, 4, generator=g, **D64),
        torch.randn(2, 3, lk, 4, generator=g, **D64),
    )
    r = torch.randn(3, lk, 4, generator=g, **D64)
    u, v = torch.randn(3, 4, generator=g, **D64), torch.randn(3, 4, generator=g, **D64)
    a = relative_attention_scores(q, k, r, u, v, fast=True)
    b = relative_attention_scores(q, k, r, u, v, fast=False)
    for i in range(lq):
        visible = i + lk - lq + 1
        torch.testing.assert_close(a[..., i, :visible], b[..., i, :visible], rtol=0, atol=1e-12)


@pytest.mark.parametrize("fast", [True, False])
def test_attention_equals_the_four_terms_computed_by_hand(fast):
    torch.manual_seed(0)
    d, nh, dh, m, lq = 8, 2, 3, 2, 3
    attn = RelativeMultiHeadAttention(
        d_model=d, n_head=nh, d_head=dh, dropout=0.0, dropatt=0.0, fast=fast
    ).double()
    h, mem = torch.randn(1, lq, d, **D64), torch.randn(1, m, d, **D64)
    u, v = torch.randn(nh, dh, **D64), torch.randn(nh, dh, **D64)
    pos = RelativeSinusoidalPositions(d)(m + lq, dtype=torch.float64)
    out = attn(h, pos, u, v, mem)

    wq, wk, wv = attn.qkv.weight.detach().chunk(3)  # (H*dh, D) each
    wr = attn.r_net.weight.detach()
    x = torch.cat([mem, h], dim=1)[0]  # (M + L, D)

    def sinusoid(delta):  # R_delta, [sin; cos] halves
        theta = [10000 ** (-2 * t / d) for t in range(d // 2)]
        return torch.tensor(
            [math.sin(delta * t) for t in theta] + [math.cos(delta * t) for t in theta], **D64
        )

    heads = []
    for n in range(nh):
        s = slice(n * dh, (n + 1) * dh)
        rows = []
        for i in range(lq):
            q_i = wq[s] @ h[0, i]
            scores, vals = [], []
            for j in range(m + i + 1):  # keys up to the query's own position M + i
                k_j = wk[s] @ x[j]
                r_ij = wr[s] @ sinusoid(m + i - j)
                a, b, c, dd = q_i @ k_j, q_i @ r_ij, u[n] @ k_j, v[n] @ r_ij
                scores.append(float(a + b + c + dd) / math.sqrt(dh))
                vals.append(wv[s] @ x[j])
            p = torch.tensor(scores, **D64).softmax(0)
            rows.append(sum(pj * vj for pj, vj in zip(p, vals, strict=True)))
        heads.append(torch.stack(rows))  # (L, dh)
    mixed = torch.cat(heads, dim=-1) @ attn.out.weight.detach().T  # (L, D)
    expected = torch.nn.functional.layer_norm(
        h[0] + mixed, (d,), attn.norm.weight.detach(), attn.norm.bias.detach()
    )
    torch.testing.assert_close(out[0], expected, rtol=0, atol=1e-12)


def test_two_segments_with_memory_equal_the_concatenation():
    torch.manual_seed(0)
    model = small(mem_len=5)
    x = torch.randint(0, 13, (2, 10))
    full = model(x)  # causal pass over 10 positions
    logits1, mem = model(x[:, :5], return_memory=True)
    assert len(mem) == 2 and mem[0].shape == (2, 5, 12)
    logits2, _ = model(x[:, 5:], mem)
    torch.testing.assert_close(logits1, full[:, :5], rtol=0, atol=1e-10)
    torch.testing.assert_close(logits2, full[:, 5:], rtol=0, atol=1e-10)


def test_longer_memory_at_evaluation_sees_further():
    torch.manual_seed(1)
    model = small(mem_len=4)
    x = torch.randint(0, 13, (1, 12))
    full = model(x)
    mem, outs = None, []
    for t in range(0, 12, 4):  # three segments of 4, memory of 8 (two segments)
        logits, mem = model(x[:, t : t + 4], mem, mem_len=8, return_memory=True)
        outs.append(logits)
    torch.testing.assert_close(torch.cat(outs, dim=1), full, rtol=0, atol=1e-10)
    mem, outs = None, []
    for t in range(0, 12, 4):  # memory of one segment only: the third one sees less context
        logits, mem = model(x[:, t : t + 4], mem, return_memory=True)
        outs.append(logits)
    torch.testing.assert_close(outs[1], full[:, 4:8], rtol=0, atol=1e-10)
    assert not torch.allclose(outs[2], full[:, 8:], atol=1e-6)


def test_memory_carries_no_gradient():
    torch.manual_seed(2)
    model = small()
    model.train()
    seg1 = torch.randint(0, 5, (2, 5))  # tokens 0..4 only in the first segment
    seg2 = torch.randint(5, 13, (2, 5))
    _, mem = model(seg1, return_memory=True)
    assert all(not m.requires_grad and m.grad_fn is None for m in mem)
    logits, _ = model(seg2, mem)
    logits.square().mean().backward()
    grad = model.embed.weight.grad
    assert (grad[:5] == 0).all()  # nothing flows back into the first segment
    assert (grad[seg2.unique()].abs().sum(-1) > 0).all()
    m = update_memory(torch.ones(1, 3, 2, requires_grad=True), torch.zeros(1, 4, 2), 5)
    assert m.shape == (1, 5, 2) and not m.requires_grad  # the last 5 of 3 + 4 positions
    assert m[0, 0].eq(1).all() and m[0, 1:].eq(0).all()
    assert update_memory(None, torch.zeros(1, 4, 2), 0) is None


def test_no_memory_is_a_segment_level_model_and_validation():
    torch.manual_seed(3)
    model = small(mem_len=0)
    x = torch.randint(0, 13, (1, 8))
    first, mem = model(x[:, :4], return_memory=True)
    assert mem is None
    # Without memory the second segment is read alone: the context of the first is lost.
    second, _ = model(x[:, 4:], mem, return_memory=True)
    torch.testing.assert_close(second, model(x[:, 4:]), rtol=0, atol=0)
    assert not torch.allclose(second, model(x)[:, 4:], atol=1e-6)
    torch.testing.assert_close(first, model(x)[:, :4], rtol=0, atol=1e-12)
    # causality: logits at t do not depend on later tokens
    y = x.clone()
    y[0, 6] = (y[0, 6] + 1) % 13
    torch.testing.assert_close(model(y)[:, :6], model(x)[:, :6], rtol=0, atol=0)
    with pytest.raises(ValueError):
        TransformerXL(vocab_size=5, d_model=10, n_head=3)
    with pytest.raises(ValueError):
        TransformerXL(vocab_size=5, mem_len=-1)
    assert "mem_len=0" in repr(model)


def test_rel_shift_path_equals_gathering_path_in_the_model():
    torch.manual_seed(4)
    fast = small(fast=True)
    slow = small(fast=False)
    slow.load_state_dict(fast.state_dict())
    x = torch.randint(0, 13, (2, 6))
    la, mem_a = fast(x[:, :3], return_memory=True)
    lb, mem_b = slow(x[:, :3], return_memory=True)
    torch.testing.assert_close(la, lb, rtol=0, atol=1e-12)
    torch.testing.assert_close(
        fast(x[:, 3:], mem_a)[0], slow(x[:, 3:], mem_b)[0], rtol=0, atol=1e-12
    )
