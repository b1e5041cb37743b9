"""Selective scan: chunked path == sequential loop (float64, gradients); loop == hand recurrence."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from replearn.sequence.scan import (
    discretize,
    linear_scan,
    selective_scan,
    selective_scan_chunked,
    selective_scan_ref,
)

F64 = torch.float64
TOL = dict(rtol=1e-10, atol=1e-12)


def inputs(b, L, d, n, *, seed=0, dtype=F64, extras=True, grad=False):
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=dtype)

    out = {
        "u": r(b, L, d),
        "delta": r(b, L, d),  # pre-softplus
        "A": -torch.exp(r(d, n)),
        "B": r(b, L, n),
        "C": r(b, L, n),
    }
    if extras:
        out |= {"D": r(d), "z": r(b, L, d), "delta_bias": r(d), "initial_state": r(b, d, n)}
    if grad:
        for v in out.values():
            v.requires_grad_(True)
    return out


def call(fn, x, **kw):
    x = dict(x)
    args = [x.pop(k) for k in ("u", "delta", "A", "B", "C")]
    return fn(*args, **x, delta_softplus=True, **kw)


@settings(max_examples=25, deadline=None)
@given(
    b=st.integers(1, 3),
    L=st.integers(1, 40),
    d=st.integers(1, 5),
    n=st.integers(1, 4),
    chunk=st.integers(1, 17),
    extras=st.booleans(),
)
def test_chunked_equals_loop(b, L, d, n, chunk, extras):
    x = inputs(b, L, d, n, seed=L * 7 + d, extras=extras)
    y_ref, h_ref = call(selective_scan_ref, x, return_last_state=True)
    y, h = call(selective_scan_chunked, x, return_last_state=True, chunk_size=chunk)
    assert y.shape == (b, L, d) and h.shape == (b, d, n)
    torch.testing.assert_close(y, y_ref, **TOL)
    torch.testing.assert_close(h, h_ref, **TOL)


@pytest.mark.parametrize("chunk", [1, 5, 16])
def test_gradients_equal(chunk):
    x = inputs(2, 23, 3, 4, seed=1, grad=True)
    w = torch.randn(2, 23, 3, dtype=F64)
    grads = []
    for fn, kw in ((selective_scan_ref, {}), (selective_scan_chunked, {"chunk_size": chunk})):
        y, h = call(fn, x, return_last_state=True, **kw)
        g = torch.autograd.grad((y * w).sum() + h.square().sum(), list(x.values()))
        grads.append(g)
    for name, a, b in zip(x, *grads, strict=True):
        torch.testing.assert_close(a, b, **TOL, msg=name)


def test_gradcheck_chunked():
    x = inputs(1, 6, 2, 2, seed=2, grad=True)
    names = list(x)

    def f(*vals):
        return call(selective_scan_chunked, dict(zip(names, vals, strict=True)), chunk_size=4)

    assert torch.autograd.gradcheck(f, tuple(x.values()))


def test_loop_is_the_hand_written_recurrence():
    """Scalar state (D = N = 1): h_t = exp(delta_t a) h_{t-1} + delta_t b_t u_t, y_t = c_t h_t."""
    x = inputs(1, 9, 1, 1, seed=3, extras=False)
    a = x["A"].item()
    delta = F.softplus(x["delta"][0, :, 0])
    u, b, c = x["u"][0, :, 0], x["B"][0, :, 0], x["C"][0, :, 0]
    h, expected = 0.0, []
    for t in range(9):
        h = math.exp(delta[t].item() * a) * h + delta[t].item() * b[t].item() * u[t].item()
        expected.append(c[t].item() * h)
    y = call(selective_scan_ref, x)
    torch.testing.assert_close(y[0, :, 0], torch.tensor(expected, dtype=F64), **TOL)


@pytest.mark.parametrize(("chunk", "with_h0"), [(1, True), (4, False), (6, True), (30, False)])
def test_linear_scan_equals_loop(chunk, with_h0):
    g = torch.Generator().manual_seed(7)
    delta = torch.rand(2, 13, 3, generator=g, dtype=F64)
    A, b = (
        -torch.rand(3, 2, generator=g, dtype=F64),
        torch.randn(2, 13, 3, 2, generator=g, dtype=F64),
    )
    h0 = torch.randn(2, 3, 2, generator=g, dtype=F64) if with_h0 else None
    h, expected = (h0 if with_h0 else torch.zeros(2, 3, 2, dtype=F64)), []
    for t in range(13):
        h = torch.exp(delta[:, t, :, None] * A) * h + b[:, t]
        expected.append(h)
    out = linear_scan(delta, A, b, h0, chunk)
    torch.testing.assert_close(out, torch.stack(expected, dim=1), **TOL)


def test_skip_and_gate():
    """D and z act after the scan: y = (scan + D u) * silu(z)."""
    x = inputs(2, 7, 3, 2, seed=4)
    plain = {k: v for k, v in x.items() if k not in ("D", "z")}
    y0 = call(selective_scan_ref, plain)
    y = call(selective_scan_ref, x)
    torch.testing.assert_close(y, (y0 + x["D"] * x["u"]) * F.silu(x["z"]), **TOL)


def test_discretize():
    delta = torch.rand(2, 5, 3, dtype=F64)
    A, B = -torch.rand(3, 4, dtype=F64), torch.randn(2, 5, 4, dtype=F64)
    A_bar, B_bar = discretize(delta, A, B)
    assert A_bar.shape == B_bar.shape == (2, 5, 3, 4)
    torch.testing.assert_close(A_bar[1, 2, 0, 3], torch.exp(delta[1, 2, 0] * A[0, 3]))
    torch.testing.assert_close(B_bar[1, 2, 0, 3], delta[1, 2, 0] * B[1, 2, 3])


def test_float32_strong_decay_stays_finite():
    """Large steps (Delta * |A| ~ 1000 per chunk) must not overflow: no exp(+S) anywhere."""
    x = inputs(2, 64, 4, 8, seed=5, dtype=torch.float32, extras=False)
    x["delta"] = x["delta"] + 30.0
    y_ref = call(selective_scan_ref, x)
    y = call(selective_scan_chunked, x, chunk_size=32)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y, y_ref, rtol=1e-4, atol=1e-4)


def test_dispatch_and_validation():
    x = inputs(1, 10, 2, 3, seed=6)
    args = [x[k] for k in ("u", "delta", "A", "B", "C")]
    torch.testing.assert_close(
        selective_scan(*args, fast=True, chunk_size=3), selective_scan(*args, fast=False), **TOL
    )
    with pytest.raises(ValueError, match="chunk_size"):
        selective_scan_chunked(*args, chunk_size=0)
