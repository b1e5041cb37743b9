"""Positions: Eq. (1) entry by entry, rotary property, rel_shift by index, T5 buckets vs HF."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from replearn.transformer.positions import (
    LearnedPositions,
    RelativeSinusoidalPositions,
    SinusoidalPositions,
    T5RelativeBias,
    apply_rotary,
    rel_shift,
    rotary_embedding,
    sinusoidal_encoding,
    t5_relative_position_bucket,
)

D64 = dict(dtype=torch.float64)


def test_sinusoidal_entry_by_entry():
    pe = sinusoidal_encoding(50, 16, dtype=torch.float64)
    assert pe.shape == (50, 16)
    for pos in (0, 1, 7, 49):
        for i in range(8):
            angle = pos / 10000 ** (2 * i / 16)
            assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-12)
            assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-12)
    torch.testing.assert_close(sinusoidal_encoding(5, 16, offset=7, dtype=torch.float64), pe[7:12])
    # PE_{pos+k} is a fixed linear map (rotation per pair) of PE_pos (Sec. 3.5's motivation).
    k = 3
    for i in range(8):
        w = k / 10000 ** (2 * i / 16)
        rot = torch.tensor([[math.cos(w), -math.sin(w)], [math.sin(w), math.cos(w)]], **D64)
        torch.testing.assert_close(pe[10:20, 2 * i : 2 * i + 2] @ rot, pe[13:23, 2 * i : 2 * i + 2])
    with pytest.raises(ValueError, match="even"):
        sinusoidal_encoding(4, 7)


def test_position_modules_add_their_rows():
    x = torch.randn(2, 5, 8)
    sin = SinusoidalPositions(8, max_len=20)
    torch.testing.assert_close(sin(x, offset=3) - x, sinusoidal_encoding(8, 8)[3:8].expand(2, 5, 8))
    learned = LearnedPositions(max_len=10, dim=8)
    y = learned(x, offset=2)
    torch.testing.assert_close(y - x, learned.weight[2:7].detach().expand(2, 5, 8))
    y.sum().backward()
    used = learned.weight.grad.abs().sum(-1) > 0
    assert used.tolist() == [False] * 2 + [True] * 5 + [False] * 3
    with pytest.raises(ValueError, match="max_len"):
        learned(torch.randn(1, 9, 8), offset=2)
    with pytest.raises(ValueError):
        LearnedPositions(max_len=0, dim=3)


@pytest.mark.parametrize("interleaved", [False, True])
def test_rotary_is_a_rotation_per_pair(interleaved):
    d = 8
    x = torch.randn(3, 6, d, **D64)
    cos, sin = rotary_embedding(6, d, interleaved=interleaved, dtype=torch.float64)
    y = apply_rotary(x, cos, sin, interleaved=interleaved)
    for m in range(6):
        for i in range(d // 2):
            a, b = (2 * i, 2 * i + 1) if interleaved else (i, i + d // 2)
            t = m * 10000 ** (-2 * i / d)
            r = torch.tensor([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]], **D64)
            pair = x[:, m, [a, b]] @ r.T  # R_m applied to (x_a, x_b)
            torch.testing.assert_close(y[:, m, [a, b]], pair, rtol=0, atol=1e-12)
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1))  # rotations keep norms


@settings(max_examples=20, deadline=None)
@given(
    m=st.integers(0, 200), n=st.integers(0, 200), shift=st.integers(0, 300), half=st.integers(1, 6)
)
def test_rotary_scores_depend_on_distance_only(m, n, shift, half):
    d = 2 * half
    g = torch.Generator().manual_seed(m * 1000 + n)
    q, k = torch.randn(d, generator=g, **D64), torch.randn(d, generator=g, **D64)

    def score(mq, nk, interleaved):
        cq, sq = rotary_embedding(1, d, offset=mq, interleaved=interleaved, dtype=torch.float64)
        ck, sk = rotary_embedding(1, d, offset=nk, interleaved=interleaved, dtype=torch.float64)
        rq = apply_rotary(q[None], cq, sq, interleaved=interleaved)
        rk = apply_rotary(k[None], ck, sk, interleaved=interleaved)
        return float(rq @ rk.T)

    for interleaved in (False, True):
        s0 = score(m, n, interleaved)
        assert s0 == pytest.approx(score(m + shift, n + shift, interleaved), abs=1e-9)
    # At equal positions the rotations cancel: the plain dot product.
    assert score(m, m, False) == pytest.approx(float(q @ k), abs=1e-9)


@pytest.mark.parametrize("lq,lk", [(4, 4), (3, 7), (1, 5), (5, 9)])
def test_rel_shift_equals_explicit_indexing(lq, lk):
    x = torch.randn(2, 3, lq, lk, **D64)
    y = rel_shift(x)
    assert y.shape == x.shape
    for i in range(lq):
        for j in range(lk):
            if j <= i + lk - lq:  # the past and present keys: the entries used
                assert y[..., i, j].equal(x[..., i, j + lq - 1 - i])


def test_relative_table_rows_are_distances():
    rel = RelativeSinusoidalPositions(8)
    r = rel(6, dtype=torch.float64)
    assert r.shape == (6, 8)
    for row in range(6):
        dist = 5 - row
        for i in range(4):
            t = dist / 10000 ** (2 * i / 8)
            assert r[row, i].item() == pytest.approx(math.sin(t), abs=1e-6)
            assert r[row, 4 + i].item() == pytest.approx(math.cos(t), abs=1e-6)


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("num_buckets,max_distance", [(32, 128), (8, 20), (16, 40)])
def test_t5_buckets_equal_hugging_face(bidirectional, num_buckets, max_distance):
    t5 = pytest.importorskip("transformers.models.t5.modeling_t5")
    rel = torch.arange(-600, 601)[:, None] + torch.tensor([0, 1])[None, :]  # (1201, 2)
    expected = t5.T5Attention._relative_position_bucket(
        rel, bidirectional=bidirectional, num_buckets=num_buckets, max_distance=max_distance
    )
    ours = t5_relative_position_bucket(
        rel, bidirectional=bidirectional, num_buckets=num_buckets, max_distance=max_distance
    )
    assert torch.equal(ours, expected)
    assert ours.min() >= 0 and ours.max() < num_buckets


@pytest.mark.parametrize("bidirectional", [True, False])
def test_t5_bias_equals_hugging_face_compute_bias(bidirectional):
    transformers = pytest.importorskip("transformers")
    from transformers.models.t5.modeling_t5 import T5Attention

    cfg = transformers.T5Config(
        d_model=16, d_kv=4, num_heads=4, relative_attention_num_buckets=16,
        relative_attention_max_distance=40, is_decoder=not bidirectional,
    )  # fmt: skip
    torch.manual_seed(0)
    hf = T5Attention(cfg, has_relative_attention_bias=True).double()
    ours = T5RelativeBias(
        num_heads=4, num_buckets=16, max_distance=40, bidirectional=bidirectional
    ).double()
    ours.relative_attention_bias.load_state_dict(hf.relative_attention_bias.state_dict())
    torch.testing.assert_close(ours(7, 60), hf.compute_bias(7, 60), rtol=0, atol=0)
    # A decoder step at position 9: the query row of the full bias.
    torch.testing.assert_close(ours(1, 10, offset=9), ours(10, 10)[:, :, 9:])
    with pytest.raises(ValueError):
        T5RelativeBias(num_heads=0)
