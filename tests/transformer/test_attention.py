"""Attention: reference == fast == formula; MultiHeadAttention == torch's; KV cache == full pass."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from replearn.transformer.attention import (
    KVCache,
    MultiHeadAttention,
    attention_weights,
    causal_mask,
    scaled_dot_product_attention,
)

D64 = dict(dtype=torch.float64)


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def qkv(b=2, h=3, lq=5, lk=7, dk=8, dv=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(b, h, lq, dk, generator=g, **D64),
        torch.randn(b, h, lk, dk, generator=g, **D64),
        torch.randn(b, h, lk, dv, generator=g, **D64),
    )


def formula(q, k, v, mask_bool=None, temperature=1.0):
    """Eq. (1) written element by element in a loop over (query, key) for one (b, h)."""
    out = torch.empty((*q.shape[:-1], v.shape[-1]), **D64)
    for idx in torch.cartesian_prod(*[torch.arange(n) for n in q.shape[:-2]]):
        i0 = tuple(idx.tolist())
        for i in range(q.shape[-2]):
            logits = [
                float(q[i0][i] @ k[i0][j]) / (temperature * math.sqrt(q.shape[-1]))
                for j in range(k.shape[-2])
            ]
            keep = [True] * len(logits) if mask_bool is None else mask_bool[i].tolist()
            m = max(x for x, ok in zip(logits, keep, strict=True) if ok)
            w = [math.exp(x - m) if ok else 0.0 for x, ok in zip(logits, keep, strict=True)]
            out[i0][i] = sum(wj / sum(w) * v[i0][j] for j, wj in enumerate(w))
    return out


@pytest.mark.parametrize("temperature", [1.0, 0.5, 3.0])
def test_reference_fast_and_formula_agree(temperature):
    q, k, v = qkv(b=1, h=2, lq=3, lk=4)
    expected = formula(q, k, v, temperature=temperature)
    for fast in (False, True):
        y = scaled_dot_product_attention(q, k, v, temperature=temperature, fast=fast)
        torch.testing.assert_close(y, expected, rtol=0, atol=1e-12)


def test_matches_torch_sdpa_default_scale():
    q, k, v = qkv()
    expected = F.scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, fast=False), expected)


@pytest.mark.parametrize("lq,lk", [(6, 6), (3, 7), (1, 5)])
def test_causal_is_bottom_right_and_paths_agree(lq, lk):
    q, k, v = qkv(lq=lq, lk=lk)
    m = causal_mask(lq, lk)
    assert m[-1].all() and m.sum() == sum(lk - lq + i + 1 for i in range(lq))
    expected = formula(q[:1, :1], k[:1, :1], v[:1, :1], mask_bool=m)
    ref = scaled_dot_product_attention(q, k, v, is_causal=True, fast=False)
    fast = scaled_dot_product_attention(q, k, v, is_causal=True, fast=True)
    torch.testing.assert_close(ref[:1, :1], expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(fast, ref, rtol=0, atol=1e-12)
    if lq == lk:  # torch's is_causal is the same triangle when square
        torch.testing.assert_close(fast, F.scaled_dot_product_attention(q, k, v, is_causal=True))


def test_boolean_and_additive_padding_masks_agree():
    q, k, v = qkv()
    lengths = torch.tensor([7, 4])
    keep = (torch.arange(7)[None, :] < lengths[:, None])[:, None, None, :]  # (B, 1, 1, Lk)
    additive = torch.zeros(keep.shape, **D64).masked_fill(~keep, -math.inf)
    ref = scaled_dot_product_attention(q, k, v, keep, fast=False)
    for mask in (keep, additive):
        for causal in (False, True):
            a = scaled_dot_product_attention(q, k, v, mask, is_causal=causal, fast=False)
            b = scaled_dot_product_attention(q, k, v, mask, is_causal=causal, fast=True)
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
        torch.testing.assert_close(scaled_dot_product_attention(q, k, v, mask), ref)
    # The padded batch row equals attention over its 4 real keys only.
    short = scaled_dot_product_attention(q[1:], k[1:, :, :4], v[1:, :, :4], fast=False)
    torch.testing.assert_close(ref[1:], short, rtol=0, atol=1e-12)
    w = attention_weights(q, k, keep)
    assert (w[1, ..., 4:] == 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1], **D64))


def test_gradients_of_both_paths_agree():
    q, k, v = (t.requires_grad_() for t in qkv())
    grads = []
    for fast in (False, True):
        y = scaled_dot_product_attention(q, k, v, is_causal=True, temperature=0.7, fast=fast)
        grads.append(torch.autograd.grad(y.square().sum(), (q, k, v)))
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
    assert torch.autograd.gradcheck(
        lambda q_, k_, v_: scaled_dot_product_attention(q_, k_, v_, fast=False),
        tuple(t.detach()[:1, :1, :3].requires_grad_() for t in (q, k, v)),
    )


def test_dropout_only_in_training_and_validation():
    q, k, v = qkv()
    a = scaled_dot_product_attention(q, k, v, dropout=0.5, training=False, fast=False)
    torch.testing.assert_close(a, scaled_dot_product_attention(q, k, v))
    torch.manual_seed(0)
    b = scaled_dot_product_attention(q, k, v, dropout=0.5, fast=False)
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="temperature"):
        scaled_dot_product_attention(q, k, v, temperature=0.0)
    with pytest.raises(ValueError, match="incompatible"):
        scaled_dot_product_attention(q, k[..., :3], v)


@settings(max_examples=15, deadline=None)
@given(lq=st.integers(1, 6), lk=st.integers(1, 6), dk=st.integers(1, 9), causal=st.booleans())
def test_paths_agree_over_shapes(lq, lk, dk, causal):
    q, k, v = qkv(b=1, h=2, lq=lq, lk=lk, dk=dk, dv=3)
    causal = causal and lk >= lq  # otherwise early queries see no key at all
    a = scaled_dot_product_attention(q, k, v, is_causal=causal, fast=False)
    b = scaled_dot_product_attention(q, k, v, is_causal=causal, fast=True)
    assert a.shape == (1, 2, lq, 3)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def copy_into(ours: MultiHeadAttention, theirs: nn.MultiheadAttention) -> None:
    missing = ours.load_state_dict(theirs.state_dict(), strict=True)
    assert not missing.missing_keys and not missing.unexpected_keys


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("fast", [False, True])
def test_mha_equals_torch_with_masks(batch_first, fast):
    torch.manual_seed(0)
    e, h, b, lq, lk = 12, 3, 2, 4, 6
    theirs = nn.MultiheadAttention(e, h, batch_first=batch_first).double().eval()
    ours = MultiHeadAttention(e, h, batch_first=batch_first, fast=fast).double().eval()
    copy_into(ours, theirs)
    shape = (b, lq, e) if batch_first else (lq, b, e)
    kshape = (b, lk, e) if batch_first else (lk, b, e)
    query, key, value = (
        torch.randn(shape, **D64),
        torch.randn(kshape, **D64),
        torch.randn(kshape, **D64),
    )
    pad = torch.tensor([[False] * 6, [False] * 3 + [True] * 3])  # (B, S), True = padding
    am = torch.triu(torch.ones(lq, lk, dtype=torch.bool), diagonal=3)  # True = forbidden
    am_float = torch.randn(b * h, lq, lk, **D64)
    for kw in (
        {},
        {"key_padding_mask": pad},
        {"attn_mask": am},
        {"attn_mask": am, "key_padding_mask": pad},
        {"attn_mask": am_float},
        {"attn_mask": am_float, "key_padding_mask": pad.double() * -1e9},
        {"average_attn_weights": False},
    ):
        for need in (True, False):
            y1, w1 = theirs(query, key, value, need_weights=need, **kw)
            y2, w2 = ours(query, key, value, need_weights=need, **kw)
            torch.testing.assert_close(y2, y1, rtol=0, atol=1e-12)
            if need:
                torch.testing.assert_close(w2, w1, rtol=0, atol=1e-12)
            else:
                assert w2 is None


def test_mha_kdim_vdim_and_no_bias_equal_torch():
    torch.manual_seed(1)
    theirs = nn.MultiheadAttention(8, 2, kdim=5, vdim=3, bias=False, batch_first=True).double()
    ours = MultiHeadAttention(8, 2, kdim=5, vdim=3, bias=False, batch_first=True).double()
    copy_into(ours, theirs)
    x, k, v = torch.randn(2, 4, 8, **D64), torch.randn(2, 6, 5, **D64), torch.randn(2, 6, 3, **D64)
    y1, w1 = theirs(x, k, v)
    y2, w2 = ours(x, k, v)
    torch.testing.assert_close(y2, y1, rtol=0, atol=1e-12)
    torch.testing.assert_close(w2, w1, rtol=0, atol=1e-12)
    # Gradients flow to the same parameters with the same values.
    y1.square().sum().backward()
    y2.square().sum().backward()
    for (n1, p1), (n2, p2) in zip(theirs.named_parameters(), ours.named_parameters(), strict=True):
        assert n1 == n2
        torch.testing.assert_close(p2.grad, p1.grad, rtol=0, atol=1e-10)


def test_mha_validation_and_repr():
    with pytest.raises(ValueError, match="multiple"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="dropout"):
        MultiHeadAttention(8, 2, dropout=1.0)
    assert "num_heads=2" in repr(MultiHeadAttention(8, 2))


@pytest.mark.parametrize("fast", [False, True])
def test_kv_cache_steps_equal_the_full_causal_pass(fast):
    torch.manual_seed(0)
    mha = MultiHeadAttention(12, 3, batch_first=True, fast=fast).double().eval()
    x = torch.randn(2, 9, 12, **D64)
    full, _ = mha(x, x, x, need_weights=False, is_causal=True)
    cache = KVCache()
    # A prompt of 4 positions at once, then one position at a time.
    first, _ = mha(x[:, :4], x[:, :4], x[:, :4], need_weights=False, is_causal=True, cache=cache)
    steps = [first]
    for t in range(4, 9):
        xt = x[:, t : t + 1]
        y, _ = mha(xt, xt, xt, need_weights=False, is_causal=True, cache=cache)
        steps.append(y)
    assert len(cache) == 9 and cache.keys.shape == (2, 3, 9, 4)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=0, atol=1e-12)
    cache.reorder(torch.tensor([1, 1]))
    assert torch.equal(cache.keys[0], cache.keys[1])
