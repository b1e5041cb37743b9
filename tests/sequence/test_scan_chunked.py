"""Chunked, blocked selective scan == the sequential loop (float64, gradients, gradcheck)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from replearn.sequence.mamba.scan import selective_scan_ref
from replearn.sequence.mamba.scan_chunked import (
    BLOCK_ELEMENTS,
    block_length,
    linear_scan,
    selective_scan_chunked,
)


@settings(max_examples=25, deadline=None)
@given(
    b=st.integers(1, 3),
    L=st.integers(1, 40),
    d=st.integers(1, 5),
    n=st.integers(1, 4),
    chunk=st.integers(1, 17),
    block=st.one_of(st.none(), st.integers(1, 25)),
    extras=st.booleans(),
)
def test_chunked_equals_loop(b, L, d, n, chunk, block, extras, scan):
    x = scan.inputs(b, L, d, n, seed=L * 7 + d, extras=extras)
    y_ref, h_ref = scan.call(selective_scan_ref, x, return_last_state=True)
    y, h = scan.call(
        selective_scan_chunked, x, return_last_state=True, chunk_size=chunk, block_size=block
    )
    assert y.shape == (b, L, d) and h.shape == (b, d, n)
    torch.testing.assert_close(y, y_ref, **scan.TOL)
    torch.testing.assert_close(h, h_ref, **scan.TOL)


@pytest.mark.parametrize(("chunk", "block"), [(1, None), (5, None), (16, None), (3, 6), (4, 7)])
def test_gradients_equal(chunk, block, scan):
    """Every input's gradient, one block or several (the adjoint carried across blocks)."""
    x = scan.inputs(2, 23, 3, 4, seed=1, grad=True)
    w = torch.randn(2, 23, 3, dtype=scan.F64)
    grads = []
    fast = {"chunk_size": chunk, "block_size": block}
    for fn, kw in ((selective_scan_ref, {}), (selective_scan_chunked, fast)):
        y, h = scan.call(fn, x, return_last_state=True, **kw)
        g = torch.autograd.grad((y * w).sum() + h.square().sum(), list(x.values()))
        grads.append(g)
    for name, a, b in zip(x, *grads, strict=True):
        torch.testing.assert_close(a, b, **scan.TOL, msg=name)


def test_gradcheck_chunked(scan):
    x = scan.inputs(1, 6, 2, 2, seed=2, grad=True)
    names = list(x)

    def f(*vals):
        x = dict(zip(names, vals, strict=True))
        return scan.call(selective_scan_chunked, x, chunk_size=2, block_size=4)

    assert torch.autograd.gradcheck(f, tuple(x.values()))


@pytest.mark.parametrize(("chunk", "with_h0"), [(1, True), (4, False), (6, True), (30, False)])
def test_linear_scan_equals_loop(chunk, with_h0, scan):
    g = torch.Generator().manual_seed(7)
    delta = torch.rand(2, 13, 3, generator=g, dtype=scan.F64)
    A, b = (
        -torch.rand(3, 2, generator=g, dtype=scan.F64),
        torch.randn(2, 13, 3, 2, generator=g, dtype=scan.F64),
    )
    h0 = torch.randn(2, 3, 2, generator=g, dtype=scan.F64) if with_h0 else None
    h, expected = (h0 if with_h0 else torch.zeros(2, 3, 2, dtype=scan.F64)), []
    for t in range(13):
        h = torch.exp(delta[:, t, :, None] * A) * h + b[:, t]
        expected.append(h)
    a = torch.exp(delta[..., None] * A)
    out = linear_scan(a.clone(), b.clone(), h0, chunk)
    torch.testing.assert_close(out, torch.stack(expected, dim=1), **scan.TOL)
    h, expected = (h0 if with_h0 else torch.zeros(2, 3, 2, dtype=scan.F64)), []
    for t in reversed(range(13)):  # reverse: h_t = a_t h_{t+1} + b_t, h0 after the last step
        h = a[:, t] * h + b[:, t]
        expected.append(h)
    out = linear_scan(a.clone(), b.clone(), h0, chunk, reverse=True)
    torch.testing.assert_close(out, torch.stack(expected[::-1], dim=1), **scan.TOL)


def test_float32_strong_decay_stays_finite(scan):
    """Large steps (Delta * |A| ~ 1000 per chunk) must not overflow: no exp(+S) anywhere."""
    x = scan.inputs(2, 64, 4, 8, seed=5, dtype=torch.float32, extras=False)
    x["delta"] = x["delta"] + 30.0
    y_ref = scan.call(selective_scan_ref, x)
    y = scan.call(selective_scan_chunked, x, chunk_size=32)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y, y_ref, rtol=1e-4, atol=1e-4)


def test_block_length(scan):
    """A multiple of the chunk, about BLOCK_ELEMENTS elements per block, at least one chunk."""
    assert block_length(2, 128, 16, 16) == BLOCK_ELEMENTS // (2 * 128 * 16)
    assert block_length(2, 128, 16, 24) % 24 == 0
    assert block_length(2, 128, 16, 24) <= BLOCK_ELEMENTS // (2 * 128 * 16)
    assert block_length(64, 4096, 16, 8) == 8  # one chunk when a step alone is larger
