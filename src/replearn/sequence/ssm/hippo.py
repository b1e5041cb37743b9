r"""HiPPO-LegS: the state matrix that makes an SSM remember its whole input history.

Paper: A. Gu, T. Dao, S. Ermon, A. Rudra & C. Ré, "HiPPO: Recurrent Memory with Optimal
Polynomial Projections", NeurIPS 2020, arXiv:2008.07669. HiPPO stands for *High-order
Polynomial Projection Operators* (the paper's own expansion; the course slides expand the
acronym differently, and wrongly). The normal-plus-low-rank form is from A. Gu, K. Goel &
C. Ré, "Efficiently Modeling Long Sequences with Structured State Spaces" (S4), 2022,
arXiv:2111.00396, and the diagonal S4D initializations from A. Gu, A. Gupta, K. Goel & C. Ré,
"On the Parameterization and Initialization of Diagonal State Space Models" (S4D), 2022,
arXiv:2206.11893.

HiPPO keeps, at every time :math:`t`, the coefficients :math:`c(t) \in \mathbb{R}^N` of the
best approximation of the history :math:`f(s), s \le t` by polynomials of degree :math:`< N`
under a measure. For the *scaled Legendre* measure (uniform on :math:`[0, t]`, LegS) the
approximation is

.. math::

    f(s) \approx \sum_{n=0}^{N-1} c_n(t)\, \sqrt{2n+1}\, P_n\!\left(\tfrac{2s}{t} - 1\right),
    \qquad 0 \le s \le t                                                          \qquad (1)

(:math:`P_n` the Legendre polynomials) and the coefficients obey the linear ODE

.. math::

    \frac{d}{dt} c(t) = \frac{1}{t} A c(t) + \frac{1}{t} B f(t),                  \qquad (2)

    A_{nk} = -\begin{cases} \sqrt{2n+1}\sqrt{2k+1} & n > k \\ n + 1 & n = k \\ 0 & n < k
    \end{cases}, \qquad B_n = \sqrt{2n+1}                                          \qquad (3)

S4 uses (3) as the state matrix of a time-invariant SSM. It is not normal, but adding the
rank-one term :math:`P P^\top` with :math:`P_n = \sqrt{n + 1/2}` gives :math:`-\tfrac12 I + S`
with :math:`S` skew-symmetric, hence unitarily diagonalizable:

.. math::

    A = V \Lambda V^* - P Q^\top, \qquad Q = P, \qquad \operatorname{Re}\Lambda = -\tfrac12
    \qquad (4)

(normal plus low rank, NPLR). S4D keeps the diagonal part :math:`\Lambda` only (S4D-LegS) or
uses :math:`\lambda_n = -\tfrac12 + i\pi n` (S4D-Lin).

Deviations: the discrete LegS memory (:func:`legs_memory`) uses the bilinear step of (2) at
:math:`t = k` (the paper studies several discretizations; this one is stable and accurate).

Tests check: the entries of (3) for small N; (4) reconstructs :math:`A` to 1e-10 with a unitary
:math:`V`; :func:`legendre` against ``numpy.polynomial.legendre.legval``; the LegS memory of a
smooth signal reconstructs it through (1) with a small error that falls with N.

See docs/corrections.md#sequence-models (what HiPPO stands for).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from replearn.sequence.ssm.continuous import discretize_bilinear

__all__ = [
    "hippo_legs",
    "hippo_legs_nplr",
    "legendre",
    "legs_memory",
    "legs_reconstruct",
    "s4d_legs",
    "s4d_lin",
]


def hippo_legs(N: int, *, dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor]:
    r"""The HiPPO-LegS matrices (A, B) of Eq. (3).

    Shape:
        -> A (N, N), B (N,).
    """
    if N < 1:
        raise ValueError(f"N must be >= 1, got {N}")
    q = torch.sqrt(2 * torch.arange(N, dtype=torch.float64) + 1)  # sqrt(2n + 1)
    A = -torch.tril(q[:, None] * q[None, :], diagonal=-1)  # n > k
    A = A - torch.diag(torch.arange(1, N + 1, dtype=torch.float64))  # n = k: -(n + 1)
    return A.to(dtype), q.to(dtype)


def hippo_legs_nplr(N: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    r"""Normal plus low-rank form of HiPPO-LegS, Eq. (4): :math:`A = V\Lambda V^* - PQ^\top`.

    :math:`A + PP^\top = -\frac12 I + S` with :math:`S` skew-symmetric; :math:`iS` is Hermitian,
    so ``eigh`` gives :math:`iS = V\,\mathrm{diag}(w)\,V^*` and :math:`\Lambda = -\frac12 - iw`.

    Shape:
        -> Lambda (N,) complex128, V (N, N) complex128 unitary, P (N,), Q (N,) float64.
    """
    A, _ = hippo_legs(N)
    P = torch.sqrt(torch.arange(N, dtype=torch.float64) + 0.5)
    S = A + P[:, None] * P[None, :] + 0.5 * torch.eye(N, dtype=torch.float64)  # skew-symmetric
    w, V = torch.linalg.eigh(1j * S.to(torch.complex128))  # iS Hermitian
    Lambda = torch.complex(torch.full_like(w, -0.5), -w)
    return Lambda, V, P, P.clone()


def s4d_legs(N: int) -> tuple[Tensor, Tensor]:
    r"""S4D-LegS: the :math:`N/2` eigenvalues of (4) with positive imaginary part and
    :math:`V^* B` on those modes (the conjugate halves are implied by taking real parts).

    Shape:
        -> Lambda (N/2,) complex128, B (N/2,) complex128.
    """
    if N < 2 or N % 2:
        raise ValueError(f"N must be even and >= 2 (conjugate pairs), got {N}")
    Lambda, V, _, _ = hippo_legs_nplr(N)
    _, B = hippo_legs(N)
    Bt = V.conj().T @ B.to(torch.complex128)  # (N,)
    keep = torch.argsort(Lambda.imag, descending=True)[: N // 2]  # imag > 0
    return Lambda[keep], Bt[keep]


def s4d_lin(N: int) -> tuple[Tensor, Tensor]:
    r"""S4D-Lin: :math:`\lambda_n = -\frac12 + i\pi n`, :math:`B_n = 1`, n < N/2.

    Shape:
        -> Lambda (N/2,) complex128, B (N/2,) complex128.
    """
    if N < 2 or N % 2:
        raise ValueError(f"N must be even and >= 2 (conjugate pairs), got {N}")
    n = torch.arange(N // 2, dtype=torch.float64)
    Lambda = torch.complex(torch.full_like(n, -0.5), math.pi * n)
    return Lambda, torch.ones(N // 2, dtype=torch.complex128)


def legendre(N: int, x: Tensor) -> Tensor:
    r"""Legendre polynomials :math:`P_0..P_{N-1}` by Bonnet's recurrence
    :math:`(n+1)P_{n+1} = (2n+1)xP_n - nP_{n-1}`.

    Shape:
        x: (...) -> (N, ...).
    """
    polys = [torch.ones_like(x), x]
    for n in range(1, N - 1):
        polys.append(((2 * n + 1) * x * polys[n] - n * polys[n - 1]) / (n + 1))
    return torch.stack(polys[:N])


def legs_memory(f: Tensor, N: int) -> Tensor:
    r"""Run the LegS memory (2) over a sampled signal: the coefficients after every sample.

    Step k (t = k, k = 1..L) is the bilinear discretization of (2) with :math:`A/k, B/k`
    and :math:`\Delta = 1`: :math:`c_k = \bar{A}_k c_{k-1} + \bar{B}_k f_k`.

    Shape:
        f: (..., L) -> c (..., L, N).
    """
    A, B = hippo_legs(N, dtype=f.dtype)
    c = f.new_zeros(*f.shape[:-1], N)
    out = []
    for k in range(1, f.shape[-1] + 1):
        Ab, Bb = discretize_bilinear(A / k, B / k, 1.0)
        c = c @ Ab.T + Bb * f[..., k - 1, None]  # (..., N)
        out.append(c)
    return torch.stack(out, dim=-2)


def legs_reconstruct(c: Tensor, s: Tensor) -> Tensor:
    r"""Eq. (1): the history :math:`f(s)` at relative times :math:`s/t \in [0, 1]` from c(t).

    Shape:
        c: (..., N); s: (S,) in [0, 1] -> (..., S).
    """
    N = c.shape[-1]
    scale = torch.sqrt(2 * torch.arange(N, dtype=c.dtype, device=c.device) + 1)  # (N,)
    basis = scale[:, None] * legendre(N, 2 * s.to(c.dtype) - 1)  # (N, S)
    return c @ basis
