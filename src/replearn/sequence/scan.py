r"""Selective scan: the input-dependent linear recurrence at the heart of Mamba.

Paper: A. Gu & T. Dao, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", 2023,
arXiv:2312.00752 (Sec. 2-3, Algorithm 2).

Per channel :math:`d` and state index :math:`n` (diagonal :math:`A`), with step sizes
:math:`\Delta_t`, input and output vectors :math:`B_t, C_t` that depend on the input:

.. math::

    \bar{A}_t = \exp(\Delta_t A), \qquad \bar{B}_t = \Delta_t B_t
    \qquad (4)\ \text{ZOH for } A\text{, simplified (Euler) } \bar{B}

    h_t = \bar{A}_t \odot h_{t-1} + \bar{B}_t\, x_t                    \qquad (2a)

    y_t = C_t^\top h_t \;(+\, D\, x_t)\; (\cdot\, \mathrm{SiLU}(z_t))    \qquad (2b)

:math:`\Delta_t = \mathrm{softplus}(\text{dt}_t + \text{bias})` (Algorithm 2,
:math:`\tau_\Delta`). The :math:`D` skip and the :math:`\mathrm{SiLU}(z)` gate belong to the
Mamba block (Fig. 3) but are applied here, as the reference kernels do.

Two paths with the same signature:

- :func:`selective_scan_ref`: the readable sequential loop over :math:`t` (the reference).
- :func:`selective_scan_chunked`: the sequence is cut into chunks of :math:`T` steps. Within a
  chunk the states are scanned from zero with every chunk at once (:math:`T` vectorised steps);
  the cumulative sum of :math:`\log\bar{A} = \Delta A` gives in closed form the decay from the
  chunk's start, :math:`\prod_{s\le t}\bar{A}_s = \exp(A\sum_{s\le t}\Delta_s)`; a short
  sequential pass over the chunks carries the state across them, and the chunk-start state,
  times that decay, is added back (:func:`linear_scan`). :math:`T + L/T` Python steps instead
  of :math:`L`, every factor a product of :math:`\bar{A}\le 1` (no division, stable in
  float32). Its backward pass is written by hand: the adjoint state runs the same chunked
  scan backwards in time (:class:`_ChunkedScan`).

Speed on a CPU (measured, ``benchmarks/bench_sequence_mamba.py``): the chunked path does the same
O(BLDN) work as the loop but in passes over (B, L, D, N) tensors, which are memory-bound, while
the loop's per-step (B, D, N) tensors stay in cache and pay only the per-operation overhead. At
length 2048, batch 2, D = 128, N = 16, on an idle 2-core machine, a training step (forward and
backward) took 0.52 s against 0.64 s for the loop (1.22x faster), the forward alone 0.15 s
against 0.10 s (slower): far from the speed-ups of a fused GPU kernel, which this layout is
written for.

Layout (batch first, as everywhere in replearn; the CUDA kernels use channels first):
``u, delta, z`` (B, L, D); ``A`` (D, N); ``B, C`` (B, L, N); ``D`` (D,); states (B, D, N).

Tests: the chunked path equals the loop in float64 (random shapes and chunk sizes, D skip, z
gate, delta bias and softplus, initial and last states), gradients of every input included
(and ``gradcheck`` of the hand-written backward); :func:`linear_scan` equals the plain loop;
the loop equals the recurrence written out by hand for a scalar system.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from replearn.registry import register

__all__ = [
    "discretize",
    "gate_output",
    "linear_scan",
    "selective_scan",
    "selective_scan_chunked",
    "selective_scan_ref",
    "selective_step",
    "step_size",
]

DEFAULT_CHUNK = 32
"""Chunk length of the fast path: the best of 16/32/64 for training at length 2048
(``benchmarks/results/sequence_mamba_scan_train.md``, all three within noise; 128 was slower)."""


def step_size(dt: Tensor, bias: Tensor | None = None, softplus: bool = False) -> Tensor:
    r""":math:`\Delta = \mathrm{softplus}(\text{dt} + \text{bias})` (Algorithm 2, line 5).

    Shape:
        dt: (..., D); bias: (D,) -> (..., D).
    """
    if bias is not None:
        dt = dt + bias
    return F.softplus(dt) if softplus else dt


def discretize(delta: Tensor, A: Tensor, B: Tensor) -> tuple[Tensor, Tensor]:
    r"""Eq. (4): :math:`\bar{A} = \exp(\Delta A)` (ZOH), :math:`\bar{B} = \Delta B` (Euler).

    Shape:
        delta: (..., D); A: (D, N); B: (..., N) -> A_bar, B_bar: (..., D, N).
    """
    A_bar = torch.exp(delta[..., None] * A)  # (..., D, N)
    B_bar = delta[..., None] * B[..., None, :]  # (..., D, N)
    return A_bar, B_bar


def gate_output(y: Tensor, u: Tensor, D: Tensor | None, z: Tensor | None) -> Tensor:
    r"""The skip and the gate: :math:`(y + D\,u) \cdot \mathrm{SiLU}(z)`.

    Shape:
        y, u, z: (..., D); D: (D,) -> (..., D).
    """
    if D is not None:
        y = y + D * u
    return y * F.silu(z) if z is not None else y


def selective_step(
    h: Tensor, u_t: Tensor, delta_t: Tensor, A: Tensor, B_t: Tensor, C_t: Tensor
) -> tuple[Tensor, Tensor]:
    r"""One step of Eq. (2): :math:`h_t = \bar{A}_t h_{t-1} + \bar{B}_t x_t`,
    :math:`y_t = C_t^\top h_t` (no skip, no gate).

    Shape:
        h: (B, D, N); u_t, delta_t: (B, D); A: (D, N); B_t, C_t: (B, N) -> y_t (B, D), h (B, D, N).
    """
    A_bar, B_bar = discretize(delta_t, A, B_t)  # (B, D, N)
    h = A_bar * h + B_bar * u_t[..., None]  # (2a)
    y_t = (h * C_t[:, None, :]).sum(-1)  # (2b): (B, D)
    return y_t, h


def selective_scan_ref(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    *,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
    initial_state: Tensor | None = None,
    return_last_state: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """The selective scan as a readable loop over time (the reference path).

    Args:
        u: inputs x of the SSMs, (B, L, D).
        delta: step sizes, or their pre-activations with ``delta_bias``/``delta_softplus``.
        A: diagonal state matrices, negative for stability, (D, N).
        B, C: input-dependent input and output vectors, (B, L, N).
        D: skip weights (D,), or None.
        z: gate pre-activations (B, L, D), or None.
        delta_bias: added to ``delta`` before the softplus.
        delta_softplus: apply softplus to get Δ.
        initial_state: h_0 (B, D, N); zero if None.
        return_last_state: also return h_L.

    Shape:
        -> y (B, L, D) [, h_L (B, D, N)].
    """
    delta = step_size(delta, delta_bias, delta_softplus)
    batch, _, d_inner = u.shape
    h = initial_state
    if h is None:
        h = u.new_zeros(batch, d_inner, A.shape[1])
    ys = []
    steps = zip(u.unbind(1), delta.unbind(1), B.unbind(1), C.unbind(1), strict=True)
    for u_t, delta_t, B_t, C_t in steps:
        y_t, h = selective_step(h, u_t, delta_t, A, B_t, C_t)  # time step t
        ys.append(y_t)
    y = gate_output(torch.stack(ys, dim=1), u, D, z)  # (B, L, D)
    return (y, h) if return_last_state else y


def _pad_time(x: Tensor, pad: int) -> Tensor:
    """Zeros appended along dim 1 (time). Shape: (B, L, ...) -> (B, L + pad, ...)."""
    return F.pad(x, (0, 0) * (x.ndim - 2) + (0, pad)) if pad else x


def linear_scan(delta: Tensor, A: Tensor, b: Tensor, h0: Tensor | None, chunk_size: int) -> Tensor:
    r"""Every state of :math:`h_t = \exp(\Delta_t A) \odot h_{t-1} + b_t`, chunked (no autograd).

    1. Each chunk of :math:`T` steps is scanned from zero, all chunks at once (:math:`T`
       vectorised steps, in place).
    2. Closed-form decay from the chunk start, the cumulative sum of
       :math:`\log\bar{A} = \Delta A`: :math:`\prod_{s \le t}\bar{A}_s = \exp(A \sum_{s\le t}
       \Delta_s)`.
    3. The chunk-start states by a sequential pass over the chunks; each, times that decay, is
       added to its chunk.

    The chunks have equal length (at most ``chunk_size``); padding with :math:`\Delta = 0,
    b = 0` keeps the states exact.

    Shape:
        delta: (B, L, D); A: (D, N); b: (B, L, D, N); h0: (B, D, N) or None -> (B, L, D, N).
    """
    batch, length, d = delta.shape
    n = A.shape[1]
    nc = -(-length // chunk_size)  # chunks, then the shortest chunk length that covers L
    T = -(-length // nc)
    pad = nc * T - length
    dl = _pad_time(delta, pad).view(batch, nc, T, d)  # (B, c, T, D)
    h = _pad_time(b, pad).view(batch, nc, T, d, n).clone()  # b, overwritten by the states
    A_bar = torch.exp(dl[..., None] * A)  # (B, c, T, D, N), Eq. (4)
    for t in range(1, T):  # 1.
        h[:, :, t].addcmul_(A_bar[:, :, t], h[:, :, t - 1])  # (2a)
    if nc > 1 or h0 is not None:
        decay = torch.exp(dl.cumsum(dim=2)[..., None] * A)  # 2.: (B, c, T, D, N)
        start = h0 if h0 is not None else b.new_zeros(batch, d, n)
        starts = []
        for c in range(nc):  # 3.
            starts.append(start)
            start = torch.addcmul(h[:, c, -1], decay[:, c, -1], start)
        h.addcmul_(decay, torch.stack(starts, dim=1)[:, :, None])
    return h.view(batch, nc * T, d, n)[:, :length]


class _ChunkedScan(torch.autograd.Function):
    r"""Eq. (2) by :func:`linear_scan`, with a hand-written backward pass.

    The adjoint :math:`g_t = \partial\mathcal{L}/\partial h_t` obeys the same recurrence
    backwards in time, :math:`g_t = C_t\,\bar{y}_t + \bar{A}_{t+1} g_{t+1}` (with
    :math:`\bar{y} = \partial\mathcal{L}/\partial y`), so it is :func:`linear_scan` on the
    reversed sequence. Then, with :math:`q_t = g_t \odot \bar{A}_t h_{t-1} = g_t \odot (h_t -
    \bar{B}_t x_t)`: :math:`\partial\Delta_t = \sum_n q_t A + x_t \sum_n g_t B_t`,
    :math:`\partial A = \sum_{b,t} q_t \Delta_t`, :math:`\partial x_t = \Delta_t \sum_n g_t
    B_t`, :math:`\partial B_t = \sum_d g_t \Delta_t x_t`, :math:`\partial C_t = \sum_d h_t
    \bar{y}_t`, :math:`\partial h_0 = \bar{A}_0 g_0`.
    """

    @staticmethod
    def forward(ctx, u, delta, A, B, C, h0, chunk_size):  # type: ignore[override]
        b = (delta * u)[..., None] * B[:, :, None, :]  # B_bar x: (B, L, D, N)
        h = linear_scan(delta, A, b, h0, chunk_size)  # (B, L, D, N)
        ctx.save_for_backward(u, delta, A, B, C, h0, h)
        ctx.chunk_size = chunk_size
        return (h @ C[..., None])[..., 0], h[:, -1].clone()  # (2b): y (B, L, D), h_L

    @staticmethod
    def backward(ctx, dy, dh_last):  # type: ignore[override]
        u, delta, A, B, C, h0, h = ctx.saved_tensors
        c = dy[..., None] * C[:, :, None, :]  # (B, L, D, N)
        c[:, -1] += dh_last
        shifted = torch.cat([delta[:, 1:], torch.zeros_like(delta[:, :1])], dim=1)  # Delta_t+1
        g = linear_scan(shifted.flip(1), A, c.flip(1), None, ctx.chunk_size).flip(1)
        dC = (h.transpose(-1, -2) @ dy[..., None])[..., 0]  # (B, L, N)
        du_ = delta * u  # (B, L, D)
        q = (h - du_[..., None] * B[:, :, None, :]).mul_(g)  # (B, L, D, N)
        gB = (g @ B[..., None])[..., 0]  # (B, L, D)
        dh0 = None if h0 is None else g[:, 0] * torch.exp(delta[:, 0, :, None] * A)
        return (
            delta * gB,  # u
            (q * A).sum(-1) + u * gB,  # delta
            (q * delta[..., None]).sum((0, 1)),  # A
            (g.transpose(-1, -2) @ du_[..., None])[..., 0],  # B
            dC,
            dh0,
            None,
        )


def selective_scan_chunked(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    *,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
    initial_state: Tensor | None = None,
    return_last_state: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
) -> Tensor | tuple[Tensor, Tensor]:
    """Fast path of :func:`selective_scan_ref` (same arguments, plus ``chunk_size``).

    The states come from :func:`linear_scan`; the gradients from the adjoint scan of
    :class:`_ChunkedScan` (first order only).

    Shape:
        as :func:`selective_scan_ref`.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    delta = step_size(delta, delta_bias, delta_softplus)
    y, h = _ChunkedScan.apply(u, delta, A, B, C, initial_state, chunk_size)
    y = gate_output(y, u, D, z)
    return (y, h) if return_last_state else y


@register(
    "sequence.selective_scan",
    paper="Gu & Dao 2023, arXiv:2312.00752 (selective SSM, Algorithm 2)",
    reference="chunked scan == sequential loop (float64, gradients); loop == hand recurrence",
)
def selective_scan(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    *,
    fast: bool = True,
    **kwargs: object,
) -> Tensor | tuple[Tensor, Tensor]:
    """The selective scan: :func:`selective_scan_chunked` if ``fast`` else the loop.

    Keyword arguments as :func:`selective_scan_ref` (and ``chunk_size`` for the fast path).

    Shape:
        u, delta, z: (B, L, D); A: (D, N); B, C: (B, L, N) -> (B, L, D).
    """
    if fast:
        return selective_scan_chunked(u, delta, A, B, C, D, z, **kwargs)  # type: ignore[arg-type]
    kwargs.pop("chunk_size", None)
    return selective_scan_ref(u, delta, A, B, C, D, z, **kwargs)  # type: ignore[arg-type]
