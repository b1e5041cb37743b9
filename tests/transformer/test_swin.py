"""Swin pieces: windows, relative index (vs a loop), shift mask (vs brute force), merging, paths."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from replearn.transformer.swin.model import (
    Swin,
    SwinBlock,
    merge_patches,
    relative_position_index,
    shift_region_labels,
    shifted_window_mask,
    window_partition,
    window_reverse,
)

F64 = {"rtol": 1e-10, "atol": 1e-10}


@settings(max_examples=30, deadline=None)
@given(b=st.integers(1, 2), m=st.integers(1, 4), nh=st.integers(1, 3), nw=st.integers(1, 3),
       c=st.integers(1, 3))  # fmt: skip
def test_window_partition_shapes_contents_and_round_trip(b, m, nh, nw, c):
    x = torch.randn(b, nh * m, nw * m, c)
    win = window_partition(x, m)
    assert win.shape == (b, nh * nw, m * m, c)
    for wi, wj in itertools.product(range(nh), range(nw)):  # window (wi, wj), row-major
        block = x[:, wi * m : (wi + 1) * m, wj * m : (wj + 1) * m].reshape(b, m * m, c)
        torch.testing.assert_close(win[:, wi * nw + wj], block, rtol=0, atol=0)
    torch.testing.assert_close(window_reverse(win, m, nh * m, nw * m), x, rtol=0, atol=0)


@pytest.mark.parametrize("m", [1, 2, 3, 4, 7])
def test_relative_position_index_matches_explicit_loop(m):
    expected = torch.empty(m * m, m * m, dtype=torch.long)
    for yi, xi, yj, xj in itertools.product(range(m), repeat=4):
        expected[yi * m + xi, yj * m + xj] = (yi - yj + m - 1) * (2 * m - 1) + (xi - xj + m - 1)
    index = relative_position_index(m)
    assert torch.equal(index, expected)
    assert index.unique().numel() == (2 * m - 1) ** 2  # every table entry is used


def brute_force_mask(h: int, w: int, m: int, s: int) -> torch.Tensor:
    """Two tokens of a window of the rolled map may attend iff, in the original (unrolled)
    coordinates, they lie in the same window of the partition displaced by (s, s) (Fig. 2)."""

    def label(i: int, n: int) -> int:
        return ((i + s) % n + m - s) // m  # original coordinate, then its shifted window

    nw = (h // m) * (w // m)
    mask = torch.zeros(nw, m * m, m * m, dtype=torch.bool)
    for wi, wj in itertools.product(range(h // m), range(w // m)):
        cells = [(wi * m + a, wj * m + b) for a in range(m) for b in range(m)]
        for p, (yi, xi) in enumerate(cells):
            for q, (yj, xj) in enumerate(cells):
                same = label(yi, h) == label(yj, h) and label(xi, w) == label(xj, w)
                mask[wi * (w // m) + wj, p, q] = same
    return mask


@pytest.mark.parametrize("h,w,m,s", [(8, 8, 4, 2), (12, 8, 4, 2), (14, 14, 7, 3), (6, 9, 3, 1),
                                     (8, 8, 4, 1), (8, 8, 4, 3)])  # fmt: skip
def test_shifted_window_mask_matches_brute_force_labelling(h, w, m, s):
    mask = shifted_window_mask(h, w, m, s)
    assert torch.equal(mask, brute_force_mask(h, w, m, s))
    assert mask.diagonal(dim1=1, dim2=2).all()  # every token sees itself: no empty row
    assert mask[: (h // m - 1) * (w // m)].reshape(-1, (w // m), m * m, m * m)[:, :-1].all()


def test_shift_region_labels_has_nine_regions():
    labels = shift_region_labels(8, 8, 4, 2)
    assert labels.unique().tolist() == list(range(9))
    assert labels[:4, :4].eq(0).all() and labels[6:, 6:].eq(8).all() and labels[4:6, 6:].eq(5).all()


def test_merge_patches_order_and_odd_padding():
    x = torch.arange(2 * 3 * 5 * 2, dtype=torch.float64).reshape(2, 3, 5, 2)
    out = merge_patches(x)
    assert out.shape == (2, 2, 3, 8)
    # token (0, 1) groups x[0,2], x[1,2], x[0,3], x[1,3] (paper's x0, x1, x2, x3)
    expected = torch.cat([x[:, 0, 2], x[:, 1, 2], x[:, 0, 3], x[:, 1, 3]], -1)
    torch.testing.assert_close(out[:, 0, 1], expected, rtol=0, atol=0)
    # padded row 3 and column 5 are zeros
    assert out[:, 1, 2, 2:].eq(0).all() and torch.equal(out[:, 1, 2, :2], x[:, 2, 4])


def test_shifted_window_attention_matches_explicit_per_window_loop_float64():
    """SW-MSA = roll, per window and head softmax(q k^T / sqrt(d) + B) over same-region keys,
    roll back (Sec. 3.2, Eq. 4), written out with loops in float64."""
    torch.manual_seed(0)
    blk = SwinBlock(6, 2, 4, 2).double().eval()
    x = torch.randn(1, 8, 8, 6, dtype=torch.float64)
    h = torch.roll(blk.norm1(x), (-2, -2), (1, 2))
    win = window_partition(h, 4)[0]  # (4, 16, 6)
    mask = shifted_window_mask(8, 8, 4, 2)
    q, k, v = blk.attn.qkv(win).chunk(3, -1)
    bias = blk.attn.relative_bias()
    out = torch.zeros_like(win)
    for n in range(4):  # each window, each head, the softmax over allowed keys only
        for hd in range(2):
            sl = slice(3 * hd, 3 * hd + 3)
            s = q[n, :, sl] @ k[n, :, sl].T / 3**0.5 + bias[hd]
            s = s.masked_fill(~mask[n], float("-inf"))
            out[n, :, sl] = s.softmax(-1) @ v[n, :, sl]
    out = blk.attn.proj(out)
    attn = torch.roll(window_reverse(out[None], 4, 8, 8), (2, 2), (1, 2))
    torch.testing.assert_close(blk.windowed_attention(blk.norm1(x)), attn, **F64)


def test_reference_and_sdpa_paths_agree_with_gradients_float64():
    torch.manual_seed(1)
    m = Swin(image_size=18, patch_size=2, in_chans=1, num_classes=4, embed_dim=6, depths=(2, 2),
             heads=(2, 3), window_size=4, drop_path_rate=0.0).double()  # fmt: skip
    x = torch.randn(2, 1, 18, 18, dtype=torch.float64)  # 9x9 grid: window and merge padding
    outs, grads = [], []
    for fast in (True, False):
        for mod in m.modules():
            if hasattr(mod, "fast"):
                mod.fast = fast
        out = m(x)
        outs.append(out)
        grads.append(torch.autograd.grad(out.square().sum(), list(m.parameters())))
    torch.testing.assert_close(outs[0], outs[1], **F64)
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, **F64)


def test_window_clamped_to_small_stages_and_shift_alternates():
    m = Swin(image_size=16, patch_size=2, in_chans=1, embed_dim=8, depths=(2, 2, 2),
             heads=(2, 2, 2), window_size=4, num_classes=0)  # fmt: skip
    cfg = [[(b.window, b.shift) for b in s.blocks] for s in m.stages]
    assert cfg == [[(4, 0), (4, 2)], [(4, 0), (4, 0)], [(2, 0), (2, 0)]]  # res 8, 4, 2
    assert m(torch.randn(2, 1, 16, 16)).shape == (2, 32)
    assert m.stages[2].blocks[0].attn.bias_table.shape == (9, 2)  # (2M - 1)^2 entries


def test_drop_path_rates_rise_linearly():
    m = Swin(image_size=8, patch_size=1, in_chans=1, embed_dim=4, depths=(2, 3), heads=(1, 1),
             window_size=4, drop_path_rate=0.4)  # fmt: skip
    rates = [b.drop_path for s in m.stages for b in s.blocks]
    assert rates == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


@pytest.mark.parametrize(
    "kwargs",
    [dict(depths=(2,), heads=(2, 2)), dict(heads=(3, 3)), dict(act="relu"), dict(num_classes=-1),
     dict(drop_path_rate=1.0), dict(window_size=0)],
)  # fmt: skip
def test_invalid_arguments_raise(kwargs):
    base = dict(image_size=8, patch_size=1, embed_dim=8, depths=(1, 1), heads=(2, 2),
                window_size=4)  # fmt: skip
    with pytest.raises(ValueError):
        Swin(**{**base, **kwargs})
    with pytest.raises(ValueError, match="shift"):
        SwinBlock(4, 1, 4, 4)
