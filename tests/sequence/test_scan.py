"""Selective scan: the loop == the hand-written recurrence; skip and gate; dispatch.

Random inputs and the call helper: the ``scan`` fixture of ``conftest.py``.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from replearn.sequence.mamba.scan import discretize, selective_scan, selective_scan_ref
from replearn.sequence.mamba.scan_chunked import selective_scan_chunked


def test_loop_is_the_hand_written_recurrence(scan):
    """Scalar state (D = N = 1): h_t = exp(delta_t a) h_{t-1} + delta_t b_t u_t, y_t = c_t h_t."""
    x = scan.inputs(1, 9, 1, 1, seed=3, extras=False)
    a = x["A"].item()
    delta = F.softplus(x["delta"][0, :, 0])
    u, b, c = x["u"][0, :, 0], x["B"][0, :, 0], x["C"][0, :, 0]
    h, expected = 0.0, []
    for t in range(9):
        h = math.exp(delta[t].item() * a) * h + delta[t].item() * b[t].item() * u[t].item()
        expected.append(c[t].item() * h)
    y = scan.call(selective_scan_ref, x)
    torch.testing.assert_close(y[0, :, 0], torch.tensor(expected, dtype=scan.F64), **scan.TOL)


def test_skip_and_gate(scan):
    """D and z act after the scan: y = (scan + D u) * silu(z)."""
    x = scan.inputs(2, 7, 3, 2, seed=4)
    plain = {k: v for k, v in x.items() if k not in ("D", "z")}
    y0 = scan.call(selective_scan_ref, plain)
    y = scan.call(selective_scan_ref, x)
    torch.testing.assert_close(y, (y0 + x["D"] * x["u"]) * F.silu(x["z"]), **scan.TOL)


def test_discretize(scan):
    delta = torch.rand(2, 5, 3, dtype=scan.F64)
    A, B = -torch.rand(3, 4, dtype=scan.F64), torch.randn(2, 5, 4, dtype=scan.F64)
    A_bar, B_bar = discretize(delta, A, B)
    assert A_bar.shape == B_bar.shape == (2, 5, 3, 4)
    torch.testing.assert_close(A_bar[1, 2, 0, 3], torch.exp(delta[1, 2, 0] * A[0, 3]))
    torch.testing.assert_close(B_bar[1, 2, 0, 3], delta[1, 2, 0] * B[1, 2, 3])


def test_dispatch_and_validation(scan):
    x = scan.inputs(1, 10, 2, 3, seed=6)
    args = [x[k] for k in ("u", "delta", "A", "B", "C")]
    torch.testing.assert_close(
        selective_scan(*args, fast=True, chunk_size=3),
        selective_scan(*args, fast=False),
        **scan.TOL,
    )
    with pytest.raises(ValueError, match="chunk_size"):
        selective_scan_chunked(*args, chunk_size=0)
    with pytest.raises(ValueError, match="block_size"):
        selective_scan_chunked(*args, block_size=0)
