r"""S4 and its diagonal form S4D: structured state-space layers for long sequences.

Papers: A. Gu, K. Goel & C. Ré, "Efficiently Modeling Long Sequences with Structured State
Spaces" (S4), ICLR 2022, arXiv:2111.00396; A. Gu, A. Gupta, K. Goel & C. Ré, "On the
Parameterization and Initialization of Diagonal State Space Models" (S4D), NeurIPS 2022,
arXiv:2206.11893.

An S4 layer runs H independent SISO state-space models (:mod:`~replearn.sequence.ssm.continuous`),
one per channel, with a HiPPO-initialised state matrix (:mod:`replearn.sequence.ssm.hippo`).
Training uses the convolution mode :math:`y = \bar{K} * u + Du` (FFT, :math:`O(L\log L)`);
generation uses the recurrence :math:`x_k = \bar{A}x_{k-1} + \bar{B}u_k` (:meth:`S4Layer.step`, O(1)
per token). Everything hinges on computing the kernel :math:`\bar{K}_l = C\bar{A}^l\bar{B}` fast.

**S4D (what the layer uses).** With a diagonal :math:`A = \mathrm{diag}(\lambda)` in conjugate
pairs (only the :math:`N/2` modes with :math:`\mathrm{Im}\,\lambda > 0` are stored) and ZOH:

.. math::

    \bar{\lambda}_n = e^{\Delta\lambda_n}, \qquad
    \bar{B}_n = \frac{e^{\Delta\lambda_n} - 1}{\lambda_n} B_n                     \qquad (1)

    \bar{K}_l = 2\,\mathrm{Re} \sum_{n<N/2} C_n \bar{B}_n \bar{\lambda}_n^{\,l}
    = 2\,\mathrm{Re}\,\big[(C \odot \bar{B})\, \mathcal{V}_L(\bar\lambda)\big]_l  \qquad (2)

a product with the Vandermonde matrix :math:`\mathcal{V}_{nl} = e^{\Delta\lambda_n l}`,
:math:`O(NL)` (S4D Eq. 5), computed in :math:`\sqrt{L}` blocks as one matrix product
(:func:`s4d_kernel`). :math:`\mathrm{Re}\,\lambda = -e^{a}` is kept negative (stable).

**S4 (NPLR, implemented as a function, not used by the layer).** For
:math:`A = \Lambda - PQ^*` (HiPPO-LegS in its eigenbasis, Eq. 4 of ``hippo``) and the bilinear
discretization, S4 evaluates the kernel's truncated generating function at the L roots of
unity :math:`z_k = e^{-2\pi ik/L}` and inverts it with one FFT (S4 Sec. 3.3, Alg. 1):

.. math::

    \hat{K}(z) = \tilde{C}\big[\tfrac{1-z}{\Delta} - \tfrac{1+z}{2}(\Lambda - PQ^*)\big]^{-1}B,
    \qquad \tilde{C} = C(I - \bar{A}^L)                                          \qquad (3)

a diagonal-plus-rank-one inverse, so Woodbury's identity reduces it to four Cauchy sums
:math:`\sum_n a_n b_n / (\frac{1-z}{\Delta} - \frac{1+z}{2}\lambda_n)`,
:math:`\hat{K} = k_{00} - k_{01}k_{10}/(1 + k_{11})`. (This is S4's :math:`\frac{2}{1+z}
(g(z) - A)^{-1}` with the factor moved inside, which stays finite at :math:`z = -1`.)

Deviations: the layer uses the S4D kernel (2) (simpler; on par with S4 in the S4D paper's
experiments) rather than the NPLR kernel of S4; the NPLR kernel (3)
is :func:`nplr_kernel`, verified but computed with naive :math:`O(NL)` Cauchy sums (the paper's
fast Cauchy algorithms are not implemented) and with :math:`\tilde C` passed in rather than
learned. :math:`B` is fixed at its initial value and only :math:`C` is learned (as in the S4D
paper's minimal implementation, where :math:`B = 1` is folded into :math:`C`).

Tests check: (2) (Vandermonde and the readable power loop) equals :func:`ssm.ssm_kernel` of
the equivalent dense real block-diagonal system discretized by :func:`ssm.discretize_zoh`
(float64, 1e-10); (3) equals the dense kernel of the bilinear system; the FFT convolution
equals the recurrence :meth:`S4Layer.step` (float64); causality by gradient.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.reference import use_reference
from replearn.registry import Example, register
from replearn.sequence.ssm.continuous import ssm_convolve
from replearn.sequence.ssm.hippo import s4d_legs, s4d_lin

__all__ = [
    "S4DKernel",
    "S4Layer",
    "nplr_kernel",
    "s4d_discretize",
    "s4d_kernel",
    "s4d_recurrence",
]


def s4d_discretize(Lambda: Tensor, B: Tensor, dt: Tensor) -> tuple[Tensor, Tensor]:
    r"""Diagonal ZOH, Eq. (1): :math:`\bar\lambda = e^{\Delta\lambda}`,
    :math:`\bar{B} = (e^{\Delta\lambda} - 1)/\lambda \cdot B`.

    Shape:
        Lambda, B: (H, N/2) complex; dt: (H,) -> dA, dB (H, N/2) complex.
    """
    dtA = Lambda * dt[:, None]  # (H, N/2)
    dA = torch.exp(dtA)
    return dA, (dA - 1) / Lambda * B


def s4d_kernel(
    Lambda: Tensor, B: Tensor, C: Tensor, dt: Tensor, length: int, *, fast: bool = True
) -> Tensor:
    r"""The S4D kernel, Eq. (2): :math:`\bar{K}_l = 2\,\mathrm{Re}\sum_n C_n\bar{B}_n
    \bar\lambda_n^l`.

    ``fast=False``: the readable loop multiplying by :math:`\bar\lambda` L times.
    ``fast=True``: the Vandermonde product of Eq. (2) with the Vandermonde matrix factored in
    blocks of :math:`m = \lceil\sqrt{L}\,\rceil`: writing :math:`l = am + b`,
    :math:`\bar\lambda^{l} = \bar\lambda^{am}\bar\lambda^{b}`, so
    :math:`\bar{K}_{am+b} = 2\,\mathrm{Re}\sum_n \bar\lambda_n^{am}\,(C_n\bar{B}_n
    \bar\lambda_n^{b})`: one batched matrix product (H, L/m, N) x (H, N, m), still
    :math:`O(NL)` multiply-adds but only :math:`O(N\sqrt{L})` complex exponentials (the
    plain Vandermonde matrix needs NL of them, ~40x slower on a CPU at L = 16k).

    Shape:
        Lambda, B, C: (H, N/2) complex; dt: (H,) -> K (H, L) real.
    """
    dA, dB = s4d_discretize(Lambda, B, dt)
    CB = C * dB  # (H, N/2)
    if not fast or use_reference():
        out = []
        for _ in range(length):
            out.append(2 * CB.sum(-1).real)
            CB = CB * dA
        return torch.stack(out, dim=-1)
    m = math.isqrt(max(length - 1, 0)) + 1  # m * m >= L
    a = -(-length // m)  # blocks: a * m >= L
    dtA = (Lambda * dt[:, None])[..., None]  # (H, N/2, 1)
    steps = torch.arange(m, device=dt.device, dtype=dt.dtype)
    inner = CB[..., None] * torch.exp(dtA * steps)  # (H, N/2, m): C B lambda^b
    outer = torch.exp(dtA * (m * steps[:a]))  # (H, N/2, a): lambda^(a m)
    K = torch.matmul(outer.transpose(-1, -2), inner)  # (H, a, m)
    return 2 * K.flatten(-2)[..., :length].real


def s4d_recurrence(dA: Tensor, dB: Tensor, C: Tensor, u: Tensor, D: Tensor | float = 0.0) -> Tensor:
    r"""Recurrent mode of the diagonal SSM: :math:`x_k = \bar\lambda \odot x_{k-1} + \bar{B}u_k`,
    :math:`y_k = 2\,\mathrm{Re}(C x_k) + Du_k`, one step at a time from :math:`x_{-1} = 0`.

    Shape:
        dA, dB, C: (H, N/2) complex; u: (..., H, L); D: scalar or (H,) -> (..., H, L).
    """
    x = torch.zeros(*u.shape[:-1], dA.shape[-1], dtype=dA.dtype, device=u.device)
    ys = []
    for k in range(u.shape[-1]):
        x = dA * x + dB * u[..., k, None]  # (..., H, N/2)
        ys.append(2 * (C * x).sum(-1).real)
    return torch.stack(ys, dim=-1) + (D[..., None] if isinstance(D, Tensor) else D) * u


def nplr_kernel(
    Lambda: Tensor, P: Tensor, Q: Tensor, B: Tensor, C_tilde: Tensor, dt: float, length: int
) -> Tensor:
    r"""S4's kernel of :math:`A = \mathrm{diag}(\Lambda) - PQ^*` (bilinear), Eq. (3) + iFFT.

    Returns :math:`\bar{K}_l = C\bar{A}^l\bar{B}`, l < L, of the bilinear discretization
    with step ``dt``, given ``C_tilde`` :math:`= C(I - \bar{A}^L)` (S4 learns
    :math:`\tilde{C}` directly); complex in general, real for a real system.

    Shape:
        Lambda, P, Q, B, C_tilde: (..., N) complex -> (..., L) complex.
    """
    k = torch.arange(length, device=Lambda.device, dtype=torch.float64)
    z = torch.exp(-2j * math.pi * k / length).to(Lambda.dtype)  # (L,) roots of unity
    s = ((1 + z) / 2)[:, None]  # (L, 1)
    r = 1.0 / ((1 - z)[:, None] / dt - s * Lambda[..., None, :])  # (..., L, N) Cauchy terms

    def cauchy(a: Tensor, b: Tensor) -> Tensor:
        return (r * (a * b)[..., None, :]).sum(-1)  # (..., L)

    k00 = cauchy(C_tilde, B)
    k01 = s[:, 0] * cauchy(C_tilde, P)
    k10 = cauchy(Q.conj(), B)
    k11 = s[:, 0] * cauchy(Q.conj(), P)
    K_hat = k00 - k01 * k10 / (1 + k11)  # Woodbury, rank one
    return torch.fft.ifft(K_hat, n=length)


def _to_complex(x: Tensor) -> Tensor:
    return torch.view_as_complex(x)


class S4DKernel(nn.Module):
    """The S4D convolution kernel of H independent diagonal SSMs with learnable Δ, A, C.

    Args:
        d_model: H, the number of channels (one SSM each).
        d_state: N, the state size (N/2 conjugate pairs are stored).
        init: ``"legs"`` (S4D-LegS, diagonal of HiPPO-LegS) or ``"lin"`` (S4D-Lin).
        dt_min, dt_max: log-uniform range of the initial step sizes Δ.

    Shape:
        forward(L) -> K (H, L).
    """

    def __init__(
        self,
        d_model: int,
        *,
        d_state: int = 64,
        init: str = "legs",
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
    ) -> None:
        super().__init__()
        if d_model < 1 or d_state < 2 or d_state % 2:
            raise ValueError(
                f"need d_model >= 1 and an even d_state >= 2, got {d_model}, {d_state}"
            )
        if init not in ("legs", "lin"):
            raise ValueError(f"init must be 'legs' or 'lin', got {init!r}")
        if not 0 < dt_min <= dt_max:
            raise ValueError(f"need 0 < dt_min <= dt_max, got {dt_min}, {dt_max}")
        self.d_model, self.d_state, self.init = d_model, d_state, init
        Lambda, B = (s4d_legs if init == "legs" else s4d_lin)(d_state)  # (N/2,) complex128
        H = d_model
        u = torch.rand(H)
        self.log_dt = nn.Parameter(math.log(dt_min) + u * (math.log(dt_max) - math.log(dt_min)))
        self.log_neg_re = nn.Parameter(torch.log(-Lambda.real).float().repeat(H, 1))  # (H, N/2)
        self.im = nn.Parameter(Lambda.imag.float().repeat(H, 1))
        C = torch.randn(H, d_state // 2, dtype=torch.complex64)  # E|C_n|^2 = 1
        self.C = nn.Parameter(torch.view_as_real(C))  # (H, N/2, 2)
        self.register_buffer("B", torch.view_as_real(B.to(torch.complex64)).repeat(H, 1, 1))

    def parts(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(Λ, B, C, Δ) as complex (H, N/2) tensors and a real (H,) step."""
        Lambda = torch.complex(-torch.exp(self.log_neg_re), self.im)
        return Lambda, _to_complex(self.B), _to_complex(self.C), torch.exp(self.log_dt)

    def forward(self, length: int, *, fast: bool = True) -> Tensor:
        Lambda, B, C, dt = self.parts()
        return s4d_kernel(Lambda, B, C, dt, length, fast=fast)

    def discrete(self) -> tuple[Tensor, Tensor, Tensor]:
        """(λ̄, B̄, C) for the recurrence, each (H, N/2) complex."""
        Lambda, B, C, dt = self.parts()
        return (*s4d_discretize(Lambda, B, dt), C)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, d_state={self.d_state}, init={self.init!r}"


def _example() -> Example:
    return Example(S4Layer(8, d_state=8), (torch.randn(2, 16, 8),), (2, 16, 8))


@register(
    "sequence.s4",
    paper="Gu, Goel & Ré 2022, arXiv:2111.00396; Gu, Gupta, Goel & Ré 2022 (S4D), arXiv:2206.11893",
    reference="S4D kernel == dense ZOH ssm_kernel of the same system; NPLR (Cauchy + Woodbury) "
    "kernel == dense bilinear kernel; FFT convolution == step recurrence (float64)",
    example=_example,
)
class S4Layer(nn.Module):
    """An S4 layer (S4D kernel): H SSMs by FFT convolution, D skip, GELU, output linear or GLU.

    Args:
        d_model: H, channels in and out.
        d_state: N, the state size of each SSM.
        init: ``"legs"`` or ``"lin"`` (see :class:`S4DKernel`).
        dt_min, dt_max: initial range of the learnable step sizes Δ.
        dropout: dropout after the activation.
        output: ``"glu"`` (linear to 2H then a GLU, S4's default) or ``"linear"``.

    Shape:
        forward: u (B, L, H) -> (B, L, H); step: u_t (B, H), state (B, H, N/2) complex.
    """

    def __init__(
        self,
        d_model: int,
        *,
        d_state: int = 64,
        init: str = "legs",
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        dropout: float = 0.0,
        output: str = "glu",
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if output not in ("glu", "linear"):
            raise ValueError(f"output must be 'glu' or 'linear', got {output!r}")
        self.d_model, self.d_state, self.output = d_model, d_state, output
        self.kernel = S4DKernel(d_model, d_state=d_state, init=init, dt_min=dt_min, dt_max=dt_max)
        self.D = nn.Parameter(torch.randn(d_model))
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(d_model, 2 * d_model if output == "glu" else d_model)

    def _post(self, y: Tensor) -> Tensor:
        """GELU, dropout, output map. Shape: (..., H) -> (..., H)."""
        y = self.out(self.dropout(F.gelu(y)))
        return F.glu(y, dim=-1) if self.output == "glu" else y

    def forward(self, u: Tensor, *, fast: bool = True) -> Tensor:
        """Convolution mode; ``fast=False`` uses the loop kernel and the direct convolution."""
        K = self.kernel(u.shape[1], fast=fast)  # (H, L)
        y = ssm_convolve(u.transpose(1, 2), K, self.D[:, None], fast=fast)  # (B, H, L)
        return self._post(y.transpose(1, 2))

    def default_state(self, batch_size: int) -> Tensor:
        """The zero state the convolution mode starts from. Shape: (B, H, N/2) complex."""
        return torch.zeros(batch_size, self.d_model, self.d_state // 2, dtype=torch.complex64).to(
            self.kernel.C.device, torch.promote_types(self.kernel.C.dtype, torch.complex64)
        )

    def step(self, u_t: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        """Recurrent mode, one token: :math:`x = \\bar\\lambda x + \\bar{B}u_t`,
        :math:`y = 2\\mathrm{Re}(Cx) + Du_t`, then the same GELU/output as :meth:`forward`.

        Shape:
            u_t: (B, H); state: (B, H, N/2) complex -> y_t (B, H), new state.
        """
        dA, dB, C = self.kernel.discrete()  # (H, N/2) each
        state = dA * state + dB * u_t[..., None]
        y = 2 * (C * state).sum(-1).real + self.D * u_t  # (B, H)
        return self._post(y), state

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, d_state={self.d_state}, output={self.output!r}"
