"""T5 layers: Eqs. (1)-(3) against explicit formulas and torch references, float64."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from replearn.transformer.t5.layers import (
    T5Attention,
    T5Config,
    T5FeedForward,
    T5LayerNorm,
    T5Stack,
    feed_forward,
    rms_layer_norm,
    t5_attention,
)


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: one intra-op thread (a busy machine makes thread syncs costly)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 4), st.integers(1, 33), st.floats(1e-8, 1e-2))
def test_rms_layer_norm_matches_torch_rms_norm(b: int, d: int, eps: float) -> None:
    x = torch.randn(b, 3, d, dtype=torch.float64) * 5
    w = torch.randn(d, dtype=torch.float64)
    want = F.rms_norm(x, (d,), w, eps)
    torch.testing.assert_close(rms_layer_norm(x, w, eps), want, rtol=1e-12, atol=1e-12)
    explicit = w * x / torch.sqrt((x**2).mean(-1, keepdim=True) + eps)  # Eq. (1)
    torch.testing.assert_close(T5LayerNorm(d, eps=eps).double()(x) * w, explicit, rtol=1e-12,
                               atol=1e-12)  # fmt: skip


@pytest.mark.parametrize("fast", [True, False])
def test_t5_attention_is_unscaled_softmax_with_bias(fast: bool) -> None:
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, n, 5, dtype=torch.float64, generator=g) for n in (4, 6, 6))
    bias = torch.randn(1, 3, 4, 6, dtype=torch.float64, generator=g).requires_grad_(True)
    pad = torch.zeros(2, 1, 1, 6, dtype=torch.float64)
    pad[1, ..., 4:] = -math.inf
    want = torch.softmax(q @ k.transpose(-1, -2) + bias + pad, -1) @ v  # Eq. (2), no 1/sqrt(d)
    got = t5_attention(q, k, v, bias + pad, fast=fast)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    (gw,) = torch.autograd.grad(want.sum(), bias)
    (gg,) = torch.autograd.grad(got.sum(), bias)
    torch.testing.assert_close(gg, gw, rtol=0, atol=1e-12)  # the position bias is learned


def test_feed_forward_relu_and_gated_gelu() -> None:
    cfg = T5Config(d_model=8, d_ff=12, feed_forward_proj="relu", dropout_rate=0.0)
    ff = T5FeedForward(cfg).double()
    x = torch.randn(3, 8, dtype=torch.float64)
    torch.testing.assert_close(ff(x), F.relu(x @ ff.wi.weight.T) @ ff.wo.weight.T)
    gated = T5FeedForward(T5Config(d_model=8, d_ff=12, feed_forward_proj="gated-gelu")).double()
    gated.eval()
    gelu = F.gelu(x @ gated.wi_0.weight.T, approximate="tanh")
    want = (gelu * (x @ gated.wi_1.weight.T)) @ gated.wo.weight.T
    torch.testing.assert_close(gated(x), want, rtol=0, atol=1e-12)
    with pytest.raises(AttributeError):
        _ = gated.wi  # the gated variant has wi_0 and wi_1 only
    exact = feed_forward(x, gated.wi_0, gated.wo, activation="gelu")
    assert not torch.allclose(exact, feed_forward(x, gated.wi_0, gated.wo, activation="gelu_tanh"))


def test_query_init_folds_the_attention_scale() -> None:
    torch.manual_seed(0)
    attn = T5Attention(T5Config(d_model=256, d_kv=16, num_heads=8))
    std_q, std_k = attn.q.weight.std().item(), attn.k.weight.std().item()
    assert abs(std_q / std_k - 1 / math.sqrt(16)) < 0.02  # W_Q is 1/sqrt(d_kv) smaller
    assert not any(m.bias is not None for m in attn.modules() if isinstance(m, torch.nn.Linear))


def test_stack_shares_one_relative_bias_table() -> None:
    cfg = T5Config(vocab_size=11, d_model=8, d_kv=4, d_ff=8, num_layers=3, num_heads=2,
                   dropout_rate=0.0)  # fmt: skip
    stack = T5Stack(cfg, decoder=False).double()
    tables = [n for n, _ in stack.named_parameters() if "relative_attention_bias" in n]
    assert tables == ["relative_bias.relative_attention_bias.weight"]
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    stack(x)[0].sum().backward()
    grad = stack.relative_bias.relative_attention_bias.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    with pytest.raises(ValueError, match="memory"):
        T5Stack(cfg, decoder=True).double()(x)
