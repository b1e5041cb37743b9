"""Continuous SSM: ZOH / bilinear vs scipy and an Euler ODE solve; recurrence == convolution."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from replearn.sequence.ssm.continuous import (
    SSM,
    causal_convolve,
    discretize_bilinear,
    discretize_zoh,
    ssm_convolve,
    ssm_kernel,
    ssm_recurrent,
)

F64 = torch.float64


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def system(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A random stable-ish system (A shifted by -2I), B and C."""
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(n, n, dtype=F64, generator=g) - 2 * torch.eye(n, dtype=F64)
    return A, torch.randn(n, dtype=F64, generator=g), torch.randn(n, dtype=F64, generator=g)


@pytest.mark.parametrize("method", ["zoh", "bilinear"])
@pytest.mark.parametrize("dt", [0.01, 0.3])
def test_discretization_matches_scipy_cont2discrete(method, dt):
    signal = pytest.importorskip("scipy.signal")
    A, B, C = system(5)
    fn = discretize_zoh if method == "zoh" else discretize_bilinear
    Ab, Bb = fn(A, B, dt)
    ad, bd, *_ = signal.cont2discrete(
        (A.numpy(), B.numpy()[:, None], C.numpy()[None], np.zeros((1, 1))), dt, method=method
    )
    np.testing.assert_allclose(Ab.numpy(), ad, rtol=0, atol=1e-12)
    np.testing.assert_allclose(Bb.numpy(), bd[:, 0], rtol=0, atol=1e-12)


def test_zoh_state_matrix_is_expm():
    linalg = pytest.importorskip("scipy.linalg")
    A, B, _ = system(6, seed=1)
    Ab, _ = discretize_zoh(A, B, 0.7)
    np.testing.assert_allclose(Ab.numpy(), linalg.expm(0.7 * A.numpy()), rtol=0, atol=1e-12)


def test_zoh_is_exact_for_piecewise_constant_input_fine_euler():
    """Integrate x' = Ax + Bu with 5000 Euler substeps per step, u held over each step."""
    A, B, _ = system(4, seed=2)
    dt, sub = 0.2, 5000
    u = torch.tensor([1.0, -0.5, 2.0, 0.0, 0.3], dtype=F64)
    Ab, Bb = discretize_zoh(A, B, dt)
    x_euler = torch.zeros(4, dtype=F64)
    x_zoh = torch.zeros(4, dtype=F64)
    h = dt / sub
    for u_k in u:
        for _ in range(sub):
            x_euler = x_euler + h * (A @ x_euler + B * u_k)
        x_zoh = Ab @ x_zoh + Bb * u_k
    torch.testing.assert_close(x_zoh, x_euler, rtol=1e-3, atol=1e-4)
    Ab2, _ = discretize_bilinear(A, B, dt)  # bilinear is an approximation: close, not exact
    assert (Ab2 - Ab).abs().max() > 1e-6


def test_batched_dt_equals_one_system_at_a_time():
    A, B, _ = system(3)
    A3, B3 = A.expand(3, 3, 3), B.expand(3, 3)
    dts = torch.tensor([0.05, 0.1, 0.5], dtype=F64)
    for fn in (discretize_zoh, discretize_bilinear):
        Ab, Bb = fn(A3, B3, dts)
        for i, dt in enumerate(dts.tolist()):
            a, b = fn(A, B, dt)
            torch.testing.assert_close(Ab[i], a, rtol=0, atol=1e-14)
            torch.testing.assert_close(Bb[i], b, rtol=0, atol=1e-14)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 6), length=st.integers(1, 40), batch=st.integers(1, 3))
def test_recurrence_equals_convolution(n, length, batch):
    A, B, C = system(n, seed=n + length)
    Ab, Bb = discretize_zoh(A, B, 0.1)
    u = torch.randn(batch, length, dtype=F64)
    y_rec, _ = ssm_recurrent(Ab, Bb, C, u, 0.3)
    K = ssm_kernel(Ab, Bb, C, length)  # (L,)
    torch.testing.assert_close(ssm_convolve(u, K, 0.3), y_rec, rtol=0, atol=1e-10)
    torch.testing.assert_close(ssm_convolve(u, K, 0.3, fast=False), y_rec, rtol=0, atol=1e-10)


def test_kernel_entries_are_c_a_power_b():
    A, B, C = system(3)
    Ab, Bb = discretize_bilinear(A, B, 0.2)
    K = ssm_kernel(Ab, Bb, C, 5)
    for k in range(5):
        assert torch.allclose(K[k], C @ torch.linalg.matrix_power(Ab, k) @ Bb, atol=1e-14)
    with pytest.raises(ValueError):
        ssm_kernel(Ab, Bb, C, 0)


def test_initial_state_adds_the_free_response():
    A, B, C = system(3)
    Ab, Bb = discretize_zoh(A, B, 0.3)
    x0 = torch.tensor([1.0, -2.0, 0.5], dtype=F64)
    u = torch.randn(7, dtype=F64)
    y0, _ = ssm_recurrent(Ab, Bb, C, u)
    y1, _ = ssm_recurrent(Ab, Bb, C, u, x0=x0)
    free = torch.stack([C @ torch.linalg.matrix_power(Ab, k + 1) @ x0 for k in range(7)])
    torch.testing.assert_close(y1 - y0, free, rtol=0, atol=1e-12)


def test_fft_convolution_gradients_equal_direct_convolution():
    u = torch.randn(2, 25, dtype=F64, requires_grad=True)
    K = torch.randn(25, dtype=F64, requires_grad=True)
    w = torch.randn(2, 25, dtype=F64)
    g_fast = torch.autograd.grad((ssm_convolve(u, K) * w).sum(), (u, K))
    g_ref = torch.autograd.grad((causal_convolve(u, K) * w).sum(), (u, K))
    for a, b in zip(g_fast, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


def test_short_kernel_is_zero_padded_and_long_kernel_truncated():
    u = torch.randn(10, dtype=F64)
    K = torch.randn(4, dtype=F64)
    padded = torch.cat([K, torch.zeros(6, dtype=F64)])
    torch.testing.assert_close(ssm_convolve(u, K), causal_convolve(u, padded), atol=1e-12, rtol=0)
    torch.testing.assert_close(ssm_convolve(u, K, fast=False), causal_convolve(u, padded))
    long = torch.randn(30, dtype=F64)
    torch.testing.assert_close(
        ssm_convolve(u, long), causal_convolve(u, long[:10]), atol=1e-12, rtol=0
    )


def test_discretize_gradcheck():
    A, B, _ = system(3)
    A.requires_grad_(True)
    B.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: discretize_zoh(a, b, 0.2), (A, B))
    assert torch.autograd.gradcheck(lambda a, b: discretize_bilinear(a, b, 0.2), (A, B))


@pytest.mark.parametrize("method", ["zoh", "bilinear"])
def test_module_modes_agree_and_validate(method):
    torch.manual_seed(0)
    conv = SSM(d_state=4, method=method).double()
    rec = SSM(d_state=4, method=method, mode="recurrent").double()
    rec.load_state_dict(conv.state_dict())
    u = torch.randn(2, 20, dtype=F64)
    torch.testing.assert_close(conv(u), rec(u), rtol=0, atol=1e-10)
    assert "d_state=4" in repr(conv)
    for kwargs in ({"d_state": 0}, {"dt": 0.0}, {"method": "euler"}, {"mode": "scan"}):
        with pytest.raises(ValueError):
            SSM(**kwargs)
