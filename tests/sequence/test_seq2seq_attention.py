"""Additive (Bahdanau) attention: Eq. (1) by a loop, masked weights, context, gradcheck."""

from __future__ import annotations

import pytest
import torch

from replearn.sequence.seq2seq.attention import (
    AdditiveAttention,
    additive_scores,
    attention_context,
    masked_softmax,
)
from replearn.sequence.seq2seq.model import length_mask

D = torch.float64


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_additive_scores_against_a_loop_over_positions():
    g = torch.Generator().manual_seed(0)
    s, h = torch.randn(3, 5, generator=g, dtype=D), torch.randn(3, 7, 4, generator=g, dtype=D)
    w1, w2 = torch.randn(6, 5, generator=g, dtype=D), torch.randn(6, 4, generator=g, dtype=D)
    v = torch.randn(6, generator=g, dtype=D)
    e = additive_scores(s, h, w1, w2, v)
    for b in range(3):
        for j in range(7):
            expected = v @ torch.tanh(w1 @ s[b] + w2 @ h[b, j])
            torch.testing.assert_close(e[b, j], expected, rtol=0, atol=1e-12)


def test_masked_weights_sum_to_one_and_are_zero_on_padding():
    torch.manual_seed(0)
    attn = AdditiveAttention(query_size=5, key_size=4, attention_size=3).double()
    q, keys = torch.randn(3, 5, dtype=D), torch.randn(3, 6, 4, dtype=D)
    mask = length_mask(torch.tensor([6, 2, 1]), 6)
    w = attn.weights(q, keys, mask)
    torch.testing.assert_close(w.sum(-1), torch.ones(3, dtype=D), rtol=0, atol=1e-12)
    assert (w[~mask] == 0).all() and (w[mask] > 0).all()
    assert w[2, 0] == 1.0  # one real position takes all the weight
    context = attn(q, keys, mask)
    expected = torch.stack([sum(w[b, j] * keys[b, j] for j in range(6)) for b in range(3)])
    torch.testing.assert_close(context, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(attention_context(w, keys), context, rtol=0, atol=0)
    # Padding invariance: garbage in the padded keys changes nothing.
    noisy = keys.clone()
    noisy[~mask] = 1e3
    torch.testing.assert_close(attn(q, noisy, mask), context, rtol=0, atol=1e-12)
    torch.testing.assert_close(masked_softmax(torch.zeros(1, 4)), torch.full((1, 4), 0.25))
    with pytest.raises(ValueError):
        AdditiveAttention(query_size=0, key_size=4, attention_size=3)


def test_additive_attention_gradcheck():
    torch.manual_seed(0)
    attn = AdditiveAttention(query_size=3, key_size=2, attention_size=4).double()
    mask = length_mask(torch.tensor([4, 2]), 4)
    q = torch.randn(2, 3, dtype=D, requires_grad=True)
    k = torch.randn(2, 4, 2, dtype=D, requires_grad=True)
    assert torch.autograd.gradcheck(lambda q, k: attn(q, k, mask), (q, k))
