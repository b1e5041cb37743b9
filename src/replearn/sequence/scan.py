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
  times that decay, is added back. :math:`T + L/T` Python steps instead of :math:`L`, every
  factor a product of :math:`\bar{A}\le 1` (no division, stable in float32).

Speed on a CPU (measured, ``benchmarks/bench_sequence_mamba.py``): the chunked path does the same
O(BLDN) work as the loop but in a few passes over (B, L, D, N) tensors, which are memory-bound,
while the loop's per-step (B, D, N) tensors stay in cache and pay only the per-operation
overhead. It wins when that overhead dominates (small B·D·N, long L) and loses otherwise; at
length 2048, batch 2, D = 128, N = 16, on a shared 2-core machine under heavy load, it was not
faster than the loop. On a GPU the chunked form is the one that parallelises.

Layout (batch first, as everywhere in replearn; the CUDA kernels use channels first):
``u, delta, z`` (B, L, D); ``A`` (D, N); ``B, C`` (B, L, N); ``D`` (D,); states (B, D, N).

Tests: the chunked path equals the loop in float64 (random shapes and chunk sizes, D skip, z
gate, delta bias and softplus, initial and last states), gradients included; the loop equals
the recurrence written out by hand for a scalar system.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from replearn.registry import register

__all__ = [
    "discretize",
    "gate_output",
    "selective_scan",
    "selective_scan_chunked",
    "selective_scan_ref",
    "selective_step",
    "step_size",
]

DEFAULT_CHUNK = 32
"""Chunk length of the fast path: the best of 16/32/64/128 for training at length 2048
(``benchmarks/results/sequence_mamba_scan_train.md``; 16 and 32 within noise)."""


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
    return F.pad(x, (0, 0, 0, pad)) if pad else x


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
    r"""Fast path of :func:`selective_scan_ref` (same arguments, plus ``chunk_size``).

    With :math:`S_t = \sum_{s \le t} \Delta_s` inside a chunk, the state at step :math:`t` is
    the chunk's own scan from zero plus :math:`\exp(A S_t) \odot H`, where :math:`H` is the
    state at the chunk's start. The chunks have equal length (at most ``chunk_size``); the
    sequence is padded with :math:`\Delta = 0` (so :math:`\bar{A} = 1`, :math:`\bar{B} = 0`),
    which keeps the last state exact.

    Shape:
        as :func:`selective_scan_ref`.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    delta = step_size(delta, delta_bias, delta_softplus)
    batch, length, d_inner = u.shape
    n = A.shape[1]
    nc = -(-length // chunk_size)  # chunks, then the shortest chunk length that covers L
    T = -(-length // nc)
    pad = nc * T - length
    dl = _pad_time(delta, pad).view(batch, nc, T, d_inner)  # (B, c, T, D)
    ul = _pad_time(u, pad).view(batch, nc, T, d_inner)
    Bl = _pad_time(B, pad).view(batch, nc, T, 1, n)  # (B, c, T, 1, N)
    Cl = _pad_time(C, pad).view(batch, nc, T, n, 1)
    A_bar = torch.exp(dl[..., None] * A)  # (B, c, T, D, N), Eq. (4)
    Bx = (dl * ul)[..., None] * Bl  # B_bar x: (B, c, T, D, N)
    # 1. every chunk scanned from a zero state, all chunks at once (T steps)
    a_t, b_t = A_bar.unbind(2), Bx.unbind(2)
    local = [b_t[0]]
    for t in range(1, T):
        local.append(torch.addcmul(b_t[t], a_t[t], local[-1]))  # (2a)
    h_local = torch.stack(local, dim=2)  # (B, c, T, D, N)
    if nc == 1 and initial_state is None:  # one chunk from zero: nothing to carry
        y = gate_output((h_local @ Cl)[:, 0, :length, :, 0], u, D, z)
        return (y, local[-1][:, 0]) if return_last_state else y
    # 2. closed-form decay from the chunk start: prod_s exp(Delta_s A) = exp(A cumsum Delta)
    decay = torch.exp(dl.cumsum(dim=2)[..., None] * A)  # (B, c, T, D, N)
    # 3. carry the state across chunks (nc sequential steps)
    h0 = initial_state if initial_state is not None else u.new_zeros(batch, d_inner, n)
    ends, h_ends = decay[:, :, -1].unbind(1), h_local[:, :, -1].unbind(1)
    starts = [h0]
    for c in range(nc):
        starts.append(torch.addcmul(h_ends[c], ends[c], starts[-1]))
    h_start = torch.stack(starts[:-1], dim=1)  # (B, c, D, N)
    h = torch.addcmul(h_local, decay, h_start[:, :, None])  # (B, c, T, D, N)
    y = (h @ Cl)[..., 0].reshape(batch, nc * T, d_inner)[:, :length]  # (2b)
    y = gate_output(y, u, D, z)
    return (y, starts[-1]) if return_last_state else y


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
