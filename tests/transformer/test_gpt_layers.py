"""GPT layers: attention vs torch.nn.MultiheadAttention, cache, Eqs. (2)-(3), heads, config."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from replearn.transformer.gpt.layers import (
    MLP,
    Block,
    CausalSelfAttention,
    GPTConfig,
    merge_heads,
    split_heads,
)

D = torch.float64
TOL = dict(rtol=1e-10, atol=1e-12)


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def cfg(**kw) -> GPTConfig:
    return GPTConfig(**{**dict(n_layer=1, n_head=2, n_embd=8, block_size=16), **kw})


@pytest.mark.parametrize(
    "kw",
    [
        {"n_embd": 10, "n_head": 3},
        {"n_layer": 0},
        {"vocab_size": True},
        {"dropout": 1.0},
        {"position": "alibi"},
        {"activation": "relu"},
        {"n_embd": 6, "n_head": 2, "position": "rotary"},
    ],
)
def test_config_rejects_bad_values(kw):
    with pytest.raises(ValueError):
        GPTConfig(**kw)


@given(b=st.integers(1, 3), t=st.integers(1, 9), h=st.sampled_from([1, 2, 4]))
@settings(max_examples=20, deadline=None)
def test_split_and_merge_heads_are_inverse(b, t, h):
    x = torch.randn(b, t, 8)
    heads = split_heads(x, h)
    assert heads.shape == (b, h, t, 8 // h)
    torch.testing.assert_close(heads[:, 1 % h, :, :], x[..., (1 % h) * 8 // h :][..., : 8 // h])
    torch.testing.assert_close(merge_heads(heads), x, rtol=0, atol=0)


@pytest.mark.parametrize("fast", [False, True], ids=["reference", "sdpa"])
def test_attention_matches_torch_multihead_attention(fast):
    """Same fused q/k/v rows and output projection as nn.MultiheadAttention (float64, grads)."""
    torch.manual_seed(0)
    ours = CausalSelfAttention(cfg(fast=fast)).to(D)
    ref = nn.MultiheadAttention(8, 2, batch_first=True).to(D)
    with torch.no_grad():
        ref.in_proj_weight.copy_(ours.c_attn.weight)
        ref.in_proj_bias.copy_(ours.c_attn.bias)
        ref.out_proj.weight.copy_(ours.c_proj.weight)
        ref.out_proj.bias.copy_(ours.c_proj.bias)
    x = torch.randn(3, 7, 8, dtype=D, requires_grad=True)
    mask = torch.ones(7, 7, dtype=torch.bool).triu(1)  # True: may not attend (the future)
    y, (k, v) = ours(x)
    y_ref, _ = ref(x, x, x, attn_mask=mask, need_weights=False)
    torch.testing.assert_close(y, y_ref, **TOL)
    assert k.shape == v.shape == (3, 2, 7, 4)
    w = torch.randn_like(y)
    g = torch.autograd.grad((y * w).sum(), [x, ours.c_attn.weight, ours.c_proj.weight])
    g_ref = torch.autograd.grad((y_ref * w).sum(), [x, ref.in_proj_weight, ref.out_proj.weight])
    for a, b in zip(g, g_ref, strict=True):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("fast", [False, True], ids=["reference", "sdpa"])
def test_attention_with_a_cache_equals_the_full_pass(fast):
    torch.manual_seed(0)
    attn = CausalSelfAttention(cfg(fast=fast)).to(D).eval()
    x = torch.randn(2, 9, 8, dtype=D)
    full, (k, v) = attn(x)
    y1, kv = attn(x[:, :4])
    y2, kv = attn(x[:, 4:5], kv)
    y3, kv = attn(x[:, 5:], kv)
    torch.testing.assert_close(torch.cat([y1, y2, y3], dim=1), full, **TOL)
    torch.testing.assert_close(kv[0], k, **TOL)
    torch.testing.assert_close(kv[1], v, **TOL)


@pytest.mark.parametrize("activation", ["gelu_tanh", "gelu"])
def test_mlp_and_block_follow_eqs_2_and_3(activation):
    """MLP(x) = GELU(x W_fc + b) W_proj + b; a = h + Attn(LN1 h); h' = a + MLP(LN2 a)."""
    torch.manual_seed(0)
    block = Block(cfg(activation=activation)).to(D).eval()
    m = block.mlp
    assert isinstance(m, MLP)
    x = torch.randn(2, 5, 8, dtype=D)
    approx = "tanh" if activation == "gelu_tanh" else "none"
    hidden = F.gelu(x @ m.c_fc.weight.T + m.c_fc.bias, approximate=approx)
    torch.testing.assert_close(m(x), hidden @ m.c_proj.weight.T + m.c_proj.bias, **TOL)
    a = x + block.attn(F.layer_norm(x, (8,), block.ln_1.weight, block.ln_1.bias))[0]
    expected = a + m(F.layer_norm(a, (8,), block.ln_2.weight, block.ln_2.bias))
    out, (k, _) = block(x)
    torch.testing.assert_close(out, expected, **TOL)
    assert k.shape == (2, 2, 5, 4)


def test_no_bias_option_and_repr():
    attn = CausalSelfAttention(cfg(bias=False, dropout=0.1, fast=False))
    assert attn.c_attn.bias is None and attn.c_proj.bias is None
    assert Block(cfg(bias=False)).ln_1.bias is None
    assert repr(attn).count("n_head=2, dropout=0.1, fast=False") == 1
