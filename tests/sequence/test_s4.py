"""S4/S4D: Vandermonde kernel == loop == dense SSM kernel; NPLR kernel; convolution == step."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from replearn.sequence.ssm.continuous import (
    discretize_bilinear,
    discretize_zoh,
    ssm_convolve,
    ssm_kernel,
)
from replearn.sequence.ssm.hippo import hippo_legs, hippo_legs_nplr
from replearn.sequence.ssm.s4 import (
    S4DKernel,
    S4Layer,
    nplr_kernel,
    s4d_discretize,
    s4d_kernel,
    s4d_recurrence,
)

F64, C128 = torch.float64, torch.complex128


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def diagonal_system(H: int, n: int, seed: int = 0):
    """Random stable complex modes Λ (H, n), complex B and C, steps Δ (H,)."""
    g = torch.Generator().manual_seed(seed)
    re = -torch.rand(H, n, dtype=F64, generator=g) - 0.05
    im = 4 * torch.randn(H, n, dtype=F64, generator=g)
    B = torch.complex(*torch.randn(2, H, n, dtype=F64, generator=g))
    C = torch.complex(*torch.randn(2, H, n, dtype=F64, generator=g))
    dt = 0.01 + 0.2 * torch.rand(H, dtype=F64, generator=g)
    return torch.complex(re, im), B, C, dt


def real_block_system(Lambda, B, C):
    """The real 2n-state system whose output is 2 Re(C z), z' = Λz + Bu (2x2 rotation blocks)."""
    n = Lambda.shape[-1]
    A = torch.zeros(2 * n, 2 * n, dtype=F64)
    for i in range(n):
        a, w = Lambda[i].real, Lambda[i].imag
        A[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = torch.stack(
            [torch.stack([a, -w]), torch.stack([w, a])]
        )
    Bv = torch.stack([B.real, B.imag], dim=-1).reshape(2 * n)
    Cv = torch.stack([2 * C.real, -2 * C.imag], dim=-1).reshape(2 * n)
    return A, Bv, Cv


@settings(max_examples=10, deadline=None)
@given(H=st.integers(1, 3), n=st.integers(1, 5), length=st.integers(1, 50))
def test_s4d_kernel_equals_dense_zoh_kernel_of_the_same_system(H, n, length):
    Lambda, B, C, dt = diagonal_system(H, n, seed=H * 100 + n)
    fast = s4d_kernel(Lambda, B, C, dt, length)
    loop = s4d_kernel(Lambda, B, C, dt, length, fast=False)
    dense = []
    for h in range(H):
        A, Bv, Cv = real_block_system(Lambda[h], B[h], C[h])
        dense.append(ssm_kernel(*discretize_zoh(A, Bv, dt[h]), Cv, length))
    dense = torch.stack(dense)  # (H, L)
    assert fast.shape == (H, length) and fast.dtype == F64
    torch.testing.assert_close(fast, dense, rtol=0, atol=1e-10)
    torch.testing.assert_close(loop, dense, rtol=0, atol=1e-10)


@pytest.mark.parametrize("N,length", [(8, 64), (16, 100), (5, 33)])
def test_nplr_kernel_of_hippo_legs_equals_dense_bilinear_kernel(N, length):
    """S4's Cauchy + Woodbury kernel in the eigenbasis vs powers of the dense real HiPPO system."""
    Lambda, V, P, Q = hippo_legs_nplr(N)
    A, B = hippo_legs(N)
    C = torch.randn(N, dtype=F64, generator=torch.Generator().manual_seed(N))
    dt = 0.05
    Ab, Bb = discretize_bilinear(A, B, dt)
    dense = ssm_kernel(Ab, Bb, C, length)
    C_tilde = C @ (torch.eye(N, dtype=F64) - torch.linalg.matrix_power(Ab, length))
    Vh = V.conj().T
    K = nplr_kernel(
        Lambda, Vh @ P.to(C128), Vh @ Q.to(C128), Vh @ B.to(C128), C_tilde.to(C128) @ V, dt, length
    )
    torch.testing.assert_close(K.real, dense, rtol=0, atol=1e-10)
    assert K.imag.abs().max() < 1e-10  # a real system has a real kernel


def test_nplr_kernel_general_complex_low_rank():
    g = torch.Generator().manual_seed(3)
    n, length, dt = 6, 40, 0.1

    def c(*shape):
        return torch.complex(*torch.randn(2, *shape, dtype=F64, generator=g))

    Lambda = torch.complex(
        -torch.rand(n, dtype=F64, generator=g) - 0.1, 3 * torch.randn(n, dtype=F64, generator=g)
    )
    P, Q, B, C = c(n), 0.3 * c(n), c(n), c(n)
    A = torch.diag(Lambda) - P[:, None] * Q.conj()[None, :]
    Ab, Bb = discretize_bilinear(A, B, dt)  # complex dense system
    dense = ssm_kernel(Ab, Bb, C, length)
    C_tilde = C @ (torch.eye(n, dtype=C128) - torch.linalg.matrix_power(Ab, length))
    torch.testing.assert_close(
        nplr_kernel(Lambda, P, Q, B, C_tilde, dt, length), dense, rtol=0, atol=1e-10
    )


def layer(**kw) -> S4Layer:
    torch.manual_seed(0)
    return S4Layer(6, **{"d_state": 8, **kw}).double()


@pytest.mark.parametrize("init", ["legs", "lin"])
@pytest.mark.parametrize("output", ["glu", "linear"])
def test_convolution_equals_reference_and_step_recurrence(init, output):
    m = layer(init=init, output=output)
    x = torch.randn(3, 40, 6, dtype=F64)
    y = m(x)
    assert y.shape == (3, 40, 6)
    torch.testing.assert_close(m(x, fast=False), y, rtol=0, atol=1e-10)
    state = m.default_state(3)
    assert state.shape == (3, 6, 4) and state.dtype == C128
    steps = []
    for t in range(40):
        y_t, state = m.step(x[:, t], state)
        steps.append(y_t)
    torch.testing.assert_close(torch.stack(steps, dim=1), y, rtol=0, atol=1e-10)


def test_layer_kernel_equals_dense_system_of_its_parameters():
    m = layer()
    Lambda, B, C, dt = (t.detach() for t in m.kernel.parts())
    K = m.kernel(30).detach()
    for h in range(6):
        A, Bv, Cv = real_block_system(Lambda[h], B[h], C[h])
        dense = ssm_kernel(*discretize_zoh(A, Bv, dt[h]), Cv, 30)
        torch.testing.assert_close(K[h], dense, rtol=0, atol=1e-9)


def test_causal_by_gradient_and_every_parameter_learns():
    m = layer()
    x = torch.randn(1, 20, 6, dtype=F64, requires_grad=True)
    (grad,) = torch.autograd.grad(m(x, fast=False)[0, 9].sum(), x)
    assert grad[0, 10:].abs().max() == 0  # exactly causal
    assert grad[0, :10].abs().sum(-1).min() > 0  # the SSM sees the whole past
    y = m(x)
    (grad_fft,) = torch.autograd.grad(y[0, 9].sum(), x, retain_graph=True)
    assert grad_fft[0, 10:].abs().max() < 1e-14  # the FFT leaks rounding only
    y.square().mean().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_kernel_module_init_and_validation():
    k = S4DKernel(4, d_state=6, init="lin", dt_min=0.01, dt_max=0.1)
    Lambda, B, C, dt = k.parts()
    assert Lambda.shape == B.shape == C.shape == (4, 3)
    assert torch.allclose(Lambda.real, torch.full((4, 3), -0.5))
    assert ((dt >= 0.01 - 1e-6) & (dt <= 0.1 + 1e-6)).all()
    assert k(7).shape == (4, 7)
    assert "init='lin'" in repr(k)
    for kwargs in ({"d_state": 5}, {"init": "foo"}, {"dt_min": 0.2, "dt_max": 0.1}):
        with pytest.raises(ValueError):
            S4DKernel(4, **kwargs)
    for kwargs in ({"dropout": 1.0}, {"output": "relu"}):
        with pytest.raises(ValueError):
            S4Layer(4, **kwargs)


def test_long_kernel_float32_is_close_to_float64():
    """The float32 Vandermonde at L = 4096 (phases up to ~1e3 rad) stays near float64."""
    torch.manual_seed(0)
    k = S4DKernel(4, d_state=16)
    K32 = k(4096).detach()
    K64 = k.double()(4096).detach()
    assert torch.isfinite(K32).all()
    assert (K32.double() - K64).abs().max() < 1e-3 * K64.abs().max()


@pytest.mark.parametrize("length", [1, 2, 17, 64, 101])
def test_diagonal_recurrence_equals_fft_convolution_of_the_kernel(length):
    """Convolution mode (blocked Vandermonde + FFT) == recurrent mode, float64, odd lengths too."""
    Lambda, B, C, dt = diagonal_system(3, 4, seed=length)
    u = torch.randn(2, 3, length, dtype=F64)
    D = torch.randn(3, dtype=F64)
    K = s4d_kernel(Lambda, B, C, dt, length)
    y = s4d_recurrence(*s4d_discretize(Lambda, B, dt), C, u, D)
    torch.testing.assert_close(ssm_convolve(u, K, D[:, None]), y, rtol=0, atol=1e-10)
