"""HiPPO-LegS: entries, the NPLR decomposition, Legendre polynomials, the memory's projection."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from replearn.sequence.ssm.hippo import (
    hippo_legs,
    hippo_legs_nplr,
    legendre,
    legs_memory,
    legs_reconstruct,
    s4d_legs,
    s4d_lin,
)

F64 = torch.float64


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_legs_entries():
    A, B = hippo_legs(4)
    s = math.sqrt
    expected = torch.tensor(
        [
            [-1.0, 0.0, 0.0, 0.0],
            [-s(3) * s(1), -2.0, 0.0, 0.0],
            [-s(5) * s(1), -s(5) * s(3), -3.0, 0.0],
            [-s(7) * s(1), -s(7) * s(3), -s(7) * s(5), -4.0],
        ],
        dtype=F64,
    )
    torch.testing.assert_close(A, expected, rtol=0, atol=1e-15)
    torch.testing.assert_close(B, torch.tensor([1.0, s(3), s(5), s(7)], dtype=F64))
    assert hippo_legs(3, dtype=torch.float32)[0].dtype == torch.float32
    with pytest.raises(ValueError):
        hippo_legs(0)


@pytest.mark.parametrize("N", [1, 2, 7, 16, 64])
def test_nplr_decomposition_reconstructs_a(N):
    Lambda, V, P, Q = hippo_legs_nplr(N)
    A, _ = hippo_legs(N)
    rebuilt = (V * Lambda) @ V.conj().T - (P[:, None] * Q[None, :]).to(torch.complex128)
    torch.testing.assert_close(rebuilt.real, A, rtol=0, atol=1e-10 * N)
    assert rebuilt.imag.abs().max() < 1e-10 * N
    eye = torch.eye(N, dtype=torch.complex128)
    torch.testing.assert_close(V.conj().T @ V, eye, rtol=0, atol=1e-10)  # unitary
    torch.testing.assert_close(Lambda.real, torch.full((N,), -0.5, dtype=F64))
    torch.testing.assert_close(P, torch.sqrt(torch.arange(N, dtype=F64) + 0.5))


def test_s4d_initializations():
    Lambda, B = s4d_legs(16)
    assert Lambda.shape == B.shape == (8,)
    assert (Lambda.imag > 0).all()
    full, _, _, _ = hippo_legs_nplr(16)  # the kept half and its conjugates are the spectrum
    both = torch.cat([Lambda, Lambda.conj()])
    assert torch.allclose(both.imag.sort().values, full.imag.sort().values, atol=1e-10)
    Lambda, B = s4d_lin(8)
    expected = torch.complex(
        torch.full((4,), -0.5, dtype=F64), math.pi * torch.arange(4.0, dtype=F64)
    )
    torch.testing.assert_close(Lambda, expected)
    torch.testing.assert_close(B, torch.ones(4, dtype=torch.complex128))
    for fn in (s4d_legs, s4d_lin):
        with pytest.raises(ValueError):
            fn(7)


def test_legendre_matches_numpy():
    x = torch.linspace(-1, 1, 41, dtype=F64)
    P = legendre(9, x)
    for n in range(9):
        coef = np.zeros(n + 1)
        coef[n] = 1.0
        expected = np.polynomial.legendre.legval(x.numpy(), coef)
        np.testing.assert_allclose(P[n].numpy(), expected, rtol=0, atol=1e-12)


def signal(t: torch.Tensor) -> torch.Tensor:
    return torch.sin(6 * t) + 0.5 * torch.cos(15 * t**2)


def test_legs_memory_approaches_the_optimal_projection():
    """After L samples, c equals the projection (1/t) int f g_n ds up to O(1/L)."""
    L, N = 1000, 12
    t = torch.arange(1, L + 1, dtype=F64) / L
    c = legs_memory(signal(t), N)[-1]  # (N,)
    s = (torch.arange(20000, dtype=F64) + 0.5) / 20000  # midpoint quadrature on [0, 1]
    g = torch.sqrt(2 * torch.arange(N, dtype=F64) + 1)[:, None] * legendre(N, 2 * s - 1)
    projection = (g * signal(s)).mean(-1)  # (N,)
    assert (c - projection).abs().max() < 5.0 / L
    # measured max error ~1.8e-3 at L = 1000 (0.9e-3 at L = 2000: first order)


def test_legs_memory_reconstructs_a_smooth_input():
    L = 1000
    t = torch.arange(1, L + 1, dtype=F64) / L
    f = signal(t)
    c = legs_memory(f, 16)  # (L, 16)
    rms = (legs_reconstruct(c[-1], t) - f).square().mean().sqrt()
    assert rms < 0.02  # measured 0.0057
    coarse = (legs_reconstruct(c[-1, :4], t) - f).square().mean().sqrt()
    assert coarse > 5 * rms  # fewer polynomials, worse memory
    # halfway through, the memory holds the first half of the signal on [0, t]
    half = legs_reconstruct(c[L // 2 - 1], t[: L // 2] / t[L // 2 - 1])
    assert (half - f[: L // 2]).square().mean().sqrt() < 0.02


def test_legs_memory_of_a_constant_is_the_constant():
    """c = (f, 0, ..., 0) is a fixed point of (2); the start-up error of step 1 decays as 1/t."""
    c = legs_memory(torch.full((3, 400), 2.0, dtype=F64), 8)  # batched
    assert c.shape == (3, 400, 8)
    torch.testing.assert_close(c[:, -1, 0], torch.full((3,), 2.0, dtype=F64), rtol=0, atol=1e-2)
    late, early = c[:, -1, 1:].abs().max(), c[:, 199, 1:].abs().max()
    assert late < 5.0 / 400  # measured 0.0096
    assert 0.4 < late / early < 0.6  # halves when t doubles
