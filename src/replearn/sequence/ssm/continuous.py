r"""Linear state-space models: continuous system, discretization, recurrence and convolution.

Background: A. Gu, K. Goel & C. Ré, "Efficiently Modeling Long Sequences with Structured State
Spaces" (S4), 2022, arXiv:2111.00396, Sec. 2; the discretizations are the classical ones of
control theory (zero-order hold; the bilinear / Tustin transform).

A continuous single-input single-output (SISO) state-space model maps an input signal
:math:`u(t)` to an output :math:`y(t)` through a state :math:`x(t) \in \mathbb{R}^N`:

.. math::

    x'(t) = A x(t) + B u(t), \qquad y(t) = C x(t) + D u(t)                       \qquad (1)

Sampling the input every :math:`\Delta` turns (1) into the discrete recurrence

.. math::

    x_k = \bar{A} x_{k-1} + \bar{B} u_k, \qquad y_k = C x_k + D u_k              \qquad (2)

with, for the zero-order hold (ZOH, the input held constant over each step, exact for such
inputs):

.. math::

    \bar{A} = e^{\Delta A}, \qquad \bar{B} = A^{-1}(e^{\Delta A} - I) B           \qquad (3)

and for the bilinear (trapezoidal) transform used by S4:

.. math::

    \bar{A} = (I - \tfrac{\Delta}{2} A)^{-1}(I + \tfrac{\Delta}{2} A), \qquad
    \bar{B} = (I - \tfrac{\Delta}{2} A)^{-1} \Delta B                            \qquad (4)

Unrolling (2) from :math:`x_{-1} = 0` gives :math:`y_k = \sum_{j=0}^{k} C\bar{A}^j\bar{B}\,
u_{k-j} + D u_k`: the same map is a causal convolution :math:`y = \bar{K} * u + D u` with the
SSM convolution kernel

.. math::

    \bar{K} = (C\bar{B},\ C\bar{A}\bar{B},\ \dots,\ C\bar{A}^{L-1}\bar{B})        \qquad (5)

The recurrence (2) costs :math:`O(N^2)` per step with a sequential dependency (what generation
needs); the convolution (5) sees the whole sequence at once and with the FFT costs
:math:`O(L \log L)` once :math:`\bar{K}` is known (what training needs).

Deviations: SISO only (S4 runs H independent SISO systems, one per channel); the ZOH formula
(3) needs an invertible :math:`A` (true of every HiPPO matrix).

Tests check: (3) against ``scipy.signal.cont2discrete(method="zoh")`` and ``scipy.linalg.expm``,
(4) against ``cont2discrete(method="bilinear")``, ZOH against a fine Euler integration of (1)
with a piecewise-constant input; recurrence == direct convolution == FFT convolution in float64.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from replearn.reference import use_reference
from replearn.registry import Example, register

__all__ = [
    "SSM",
    "causal_convolve",
    "discretize_bilinear",
    "discretize_zoh",
    "ssm_convolve",
    "ssm_kernel",
    "ssm_recurrent",
]


def _dt(dt: float | Tensor, like: Tensor) -> Tensor:
    """Step size as a tensor broadcastable against (..., N, N) matrices."""
    return torch.as_tensor(dt, dtype=like.dtype, device=like.device)[..., None, None]


def discretize_zoh(A: Tensor, B: Tensor, dt: float | Tensor) -> tuple[Tensor, Tensor]:
    r"""Zero-order hold, Eq. (3): :math:`\bar{A} = e^{\Delta A}`, :math:`\bar{B} = A^{-1}(\bar{A}
    - I)B`.

    Shape:
        A: (..., N, N); B: (..., N); dt: float or (...) -> Ab (..., N, N), Bb (..., N).
    """
    dA = _dt(dt, A) * A  # (..., N, N)
    Ab = torch.linalg.matrix_exp(dA)
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    Bb = torch.linalg.solve(A, (Ab - eye) @ B[..., None])[..., 0]  # (..., N)
    return Ab, Bb


def discretize_bilinear(A: Tensor, B: Tensor, dt: float | Tensor) -> tuple[Tensor, Tensor]:
    r"""Bilinear transform, Eq. (4): :math:`\bar{A} = (I - \frac{\Delta}{2}A)^{-1}(I +
    \frac{\Delta}{2}A)`, :math:`\bar{B} = (I - \frac{\Delta}{2}A)^{-1}\Delta B`.

    Shape:
        A: (..., N, N); B: (..., N); dt: float or (...) -> Ab (..., N, N), Bb (..., N).
    """
    half = _dt(dt, A) / 2 * A  # (..., N, N)
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    Ab = torch.linalg.solve(eye - half, eye + half)
    dB = _dt(dt, A)[..., 0] * B  # (..., N)
    Bb = torch.linalg.solve(eye - half, dB[..., None])[..., 0]
    return Ab, Bb


def ssm_kernel(Ab: Tensor, Bb: Tensor, C: Tensor, length: int) -> Tensor:
    r"""The SSM convolution kernel, Eq. (5): :math:`\bar{K}_l = C\bar{A}^l\bar{B}`, l < L.

    Dense reference: L matrix-vector products, :math:`O(L N^2)`. Works for complex systems too.

    Shape:
        Ab: (..., N, N); Bb, C: (..., N) -> (..., L).
    """
    if length < 1:
        raise ValueError(f"kernel length must be >= 1, got {length}")
    v, out = Bb, []
    for _ in range(length):
        out.append((C * v).sum(-1))  # C A^l B
        v = (Ab @ v[..., None])[..., 0]
    return torch.stack(out, dim=-1)


def ssm_recurrent(
    Ab: Tensor, Bb: Tensor, C: Tensor, u: Tensor, D: Tensor | float = 0.0, x0: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    r"""Run the recurrence, Eq. (2), one step at a time from ``x0`` (default zero).

    Shape:
        Ab: (..., N, N); Bb, C: (..., N); u: (..., L); D: scalar or (...);
        x0: (..., N) -> y (..., L), last state (..., N).
    """
    batch = torch.broadcast_shapes(Bb.shape[:-1], C.shape[:-1], u.shape[:-1], Ab.shape[:-2])
    x = u.new_zeros(*batch, Bb.shape[-1]).to(torch.promote_types(u.dtype, Ab.dtype))
    if x0 is not None:
        x = x + x0
    ys = []
    for k in range(u.shape[-1]):
        x = (Ab @ x[..., None])[..., 0] + Bb * u[..., k, None]  # (..., N)
        ys.append((C * x).sum(-1) + D * u[..., k])
    return torch.stack(ys, dim=-1), x


def causal_convolve(u: Tensor, K: Tensor) -> Tensor:
    r"""Direct causal convolution :math:`y_k = \sum_{j=0}^{k} K_j u_{k-j}` (reference, O(L^2)).

    Shape:
        u: (..., L); K: (..., L) broadcastable -> (..., L).
    """
    L = u.shape[-1]
    ys = [(K[..., : k + 1].flip(-1) * u[..., : k + 1]).sum(-1) for k in range(L)]
    return torch.stack(ys, dim=-1)


def ssm_convolve(u: Tensor, K: Tensor, D: Tensor | float = 0.0, *, fast: bool = True) -> Tensor:
    r"""Convolution mode of Eq. (5): :math:`y = \bar{K} * u + D u`.

    ``fast=True`` multiplies the spectra of ``u`` and ``K`` zero-padded to 2L (so the circular
    convolution of the FFT equals the causal linear one), :math:`O(L \log L)`; ``fast=False``
    is :func:`causal_convolve`. A kernel shorter than ``u`` is zero-padded.

    Shape:
        u: (..., L) real; K: (..., L_K) with L_K <= L, broadcastable; D: scalar or (...)
        -> (..., L).
    """
    L = u.shape[-1]
    if K.shape[-1] > L:
        K = K[..., :L]
    if not fast or use_reference():
        K = torch.nn.functional.pad(K, (0, L - K.shape[-1]))
        return causal_convolve(u, K) + D * u
    n = 2 * L
    y = torch.fft.irfft(torch.fft.rfft(u, n=n) * torch.fft.rfft(K, n=n), n=n)[..., :L]
    return y + D * u


def _example() -> Example:
    return Example(SSM(d_state=4), (torch.randn(2, 12),), (2, 12))


@register(
    "sequence.ssm",
    paper="Gu, Goel & Ré 2022, arXiv:2111.00396 (Sec. 2); ZOH and bilinear discretization",
    reference="scipy.signal.cont2discrete (zoh, bilinear), Euler ODE integration; "
    "recurrence == convolution (float64)",
    example=_example,
)
class SSM(nn.Module):
    """A learnable SISO state-space model (1) run as a recurrence or a convolution (2)-(5).

    Args:
        d_state: N, the state size.
        dt: the step size Δ (fixed).
        method: ``"zoh"`` or ``"bilinear"`` discretization.
        mode: ``"convolution"`` (FFT, default) or ``"recurrent"`` in :meth:`forward`.

    Shape:
        forward: u (B, L) -> y (B, L).
    """

    def __init__(
        self, *, d_state: int = 16, dt: float = 0.1, method: str = "zoh", mode: str = "convolution"
    ) -> None:
        super().__init__()
        if d_state < 1:
            raise ValueError(f"d_state must be >= 1, got {d_state}")
        if dt <= 0:
            raise ValueError(f"dt must be > 0, got {dt}")
        if method not in ("zoh", "bilinear"):
            raise ValueError(f"method must be 'zoh' or 'bilinear', got {method!r}")
        if mode not in ("convolution", "recurrent"):
            raise ValueError(f"mode must be 'convolution' or 'recurrent', got {mode!r}")
        self.d_state, self.dt, self.method, self.mode = d_state, dt, method, mode
        # A stable start: -I plus a small random part (eigenvalues near -1).
        self.A = nn.Parameter(-torch.eye(d_state) + 0.1 * torch.randn(d_state, d_state))
        self.B = nn.Parameter(torch.randn(d_state) / d_state**0.5)
        self.C = nn.Parameter(torch.randn(d_state) / d_state**0.5)
        self.D = nn.Parameter(torch.zeros(()))

    def discrete(self) -> tuple[Tensor, Tensor]:
        """(Ā, B̄) of the chosen discretization."""
        fn = discretize_zoh if self.method == "zoh" else discretize_bilinear
        return fn(self.A, self.B, self.dt)

    def forward(self, u: Tensor) -> Tensor:
        Ab, Bb = self.discrete()
        if self.mode == "recurrent":
            return ssm_recurrent(Ab, Bb, self.C, u, self.D)[0]
        return ssm_convolve(u, ssm_kernel(Ab, Bb, self.C, u.shape[-1]), self.D)

    def extra_repr(self) -> str:
        return f"d_state={self.d_state}, dt={self.dt}, method={self.method!r}, mode={self.mode!r}"
