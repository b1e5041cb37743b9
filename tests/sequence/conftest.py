"""Shared helpers of the selective-scan tests (test_scan.py, test_scan_chunked.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

F64 = torch.float64
TOL = dict(rtol=1e-10, atol=1e-12)


def _inputs(b, L, d, n, *, seed=0, dtype=F64, extras=True, grad=False):
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


def _call(fn, x, **kw):
    x = dict(x)
    args = [x.pop(k) for k in ("u", "delta", "A", "B", "C")]
    return fn(*args, **x, delta_softplus=True, **kw)


@pytest.fixture(scope="session")
def scan():
    """``scan.inputs(b, L, d, n, ...)``: random float64 scan inputs; ``scan.call(fn, x, **kw)``;
    ``scan.F64``, ``scan.TOL``."""
    return SimpleNamespace(inputs=_inputs, call=_call, F64=F64, TOL=TOL)
