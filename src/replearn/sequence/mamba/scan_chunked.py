r"""The selective scan's fast path on a CPU: a chunked parallel scan, blocked for the cache.

Paper: A. Gu & T. Dao, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", 2023,
arXiv:2312.00752 (Sec. 3.3, Appendix D: the parallel scan, kernel fusion and recomputation).

The recurrence of :mod:`~replearn.sequence.mamba.scan`, Eq. (2a) with :math:`\bar{A}_t =
\exp(\Delta_t A)` and :math:`\bar{B}_t x_t = \Delta_t B_t x_t` (Eq. 4),

.. math::

    h_t = \bar{A}_t \odot h_{t-1} + \bar{B}_t x_t, \qquad y_t = C_t^\top h_t,

is linear in :math:`h`, so over a chunk of :math:`T` steps starting at :math:`s`

.. math::

    h_t = \tilde{h}_t + \Big(\prod_{r=s}^{t} \bar{A}_r\Big) \odot h_{s-1},

where :math:`\tilde{h}` is the chunk scanned from zero. :func:`linear_scan` scans every chunk
from zero at once (:math:`T` vectorised steps, keeping the running products), carries the
chunk-entry states :math:`h_{s-1}` across the chunks in a short sequential pass and adds the
correction: :math:`T + L/T` Python steps instead of :math:`L`, every factor a product of
:math:`\bar{A} \le 1` (no division, stable in float32).

What a fused GPU kernel does in on-chip memory is done here with blocks that fit the CPU cache:
the chunks are grouped into blocks of about a megabyte (:func:`block_length`) processed one
after the other with the state carried across, and the states are laid out (B, L, N, D) so
that the sums over :math:`n` are batched products. The backward pass (:class:`_ChunkedScan`) is
written by hand: only the block-entry states are saved, each block's states are recomputed,
and the adjoint state runs the same chunked scan backwards in time.

Tests (``tests/sequence/test_scan_chunked.py``): equal to
:func:`~replearn.sequence.mamba.scan.selective_scan_ref` in float64 (random shapes, chunk and
block sizes, D skip, z gate, delta bias and softplus, initial and last states), gradients of
every input (and ``gradcheck`` of the hand-written backward); :func:`linear_scan` equals the
plain loop in both directions; large steps do not overflow.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from replearn.sequence.mamba.scan import gate_output, step_size

__all__ = [
    "BLOCK_ELEMENTS",
    "DEFAULT_CHUNK",
    "block_length",
    "linear_scan",
    "selective_scan_chunked",
]

LOG2E = 1 / math.log(2)
r""":math:`\log_2 e`: the fast path stores :math:`A \log_2 e` and computes
:math:`\bar{A} = \exp(\Delta A) = 2^{\Delta A \log_2 e}` with ``exp2``, which costs about 0.6x of
``exp`` per element on an AVX2 CPU (the exponential is the scan's costliest pass)."""

BLOCK_ELEMENTS = 1 << 19
"""Elements of a (B, steps, N, D) block tensor of the fast path (2 MiB in float32). Picked on
the benchmark's inputs (batch 2, length 2048, D = 128, N = 16; blocks of 64-512 steps, chunks of
8 to 32, 1 and 2 threads, on a quiet 2-core machine): 128-step blocks were the best or within
noise of it everywhere; smaller blocks pay more Python steps, larger ones leave the cache."""

DEFAULT_CHUNK = 16
"""Chunk length of the fast path (see :data:`BLOCK_ELEMENTS`; 8, 16 and 32 were within noise:
``benchmarks/results/sequence_mamba_scan_*.md``)."""


def _pad_time(x: Tensor, pad: int) -> Tensor:
    """Zeros appended along dim 1 (time). Shape: (B, L, ...) -> (B, L + pad, ...)."""
    return F.pad(x, (0, 0) * (x.ndim - 2) + (0, pad)) if pad else x


def linear_scan(
    a: Tensor, b: Tensor, h0: Tensor | None, chunk_size: int, *, reverse: bool = False
) -> Tensor:
    r"""Every state of :math:`h_t = a_t \odot h_{t-1} + b_t`, chunked, in place (no autograd).

    With ``reverse`` the recurrence runs backwards in time, :math:`h_t = a_t \odot h_{t+1} + b_t`
    (the adjoint of the backward pass), with ``h0`` the state after the last step.

    1. Each chunk of :math:`T` steps is scanned from zero (the first from ``h0``), all chunks at
       once (:math:`T` vectorised steps); the same loop turns :math:`a` into the running
       products from the chunk's entry, :math:`P_t = \prod_{s \le t} a_s`.
    2. The chunk-entry states by a sequential pass over the chunks.
    3. Each, times :math:`P_t`, is added to its chunk.

    Every factor is a product of :math:`a \le 1` for a stable system (no division, no
    :math:`\exp` of a positive number). Padding with :math:`a = 1, b = 0` keeps the states exact.
    ``a`` and ``b`` are overwritten (the states are written into ``b`` unless padding was needed).

    Shape:
        a, b: (B, L, *S) for any state shape S; h0: (B, *S) or None -> (B, L, *S).
    """
    batch, length, *state = b.shape
    nc = -(-length // chunk_size)  # chunks, then the shortest chunk length that covers L
    T = -(-length // nc)
    if pad := nc * T - length:
        a = torch.cat([a, a.new_ones(batch, pad, *state)], dim=1)
        b = _pad_time(b, pad)
    a, h = a.view(batch, nc, T, *state), b.view(batch, nc, T, *state)
    first, step = (T - 1, 1) if reverse else (0, -1)  # a chunk's entry step; previous state
    if h0 is not None:
        entry = nc - 1 if reverse else 0
        h[:, entry, first].addcmul_(a[:, entry, first], h0)
    rest = slice(0, nc - 1) if reverse else slice(1, nc)  # the chunks not entered from h0
    h_t, a_t = h.unbind(2), a.unbind(2)  # every chunk's step t: (B, nc, *S)
    p_t = a[:, rest].unbind(2)  # the decays are needed in these chunks only
    for t in range(T - 2, -1, -1) if reverse else range(1, T):  # 1.
        h_t[t].addcmul_(a_t[t], h_t[t + step])  # (2a)
        p_t[t].mul_(p_t[t + step])  # P_t (after a_t[t] was used)
    if nc > 1:
        last = T - 1 - first  # the chunk's exit step
        h_exit, a_exit = h[:, :, last].unbind(1), a[:, :, last].unbind(1)  # (B, *S) each
        order = list(range(nc - 1, -1, -1) if reverse else range(nc))
        start, entries = h_exit[order[0]], []
        for c in order[1:]:  # 2.
            entries.append(start)
            start = torch.addcmul(h_exit[c], a_exit[c], start)
        entry = torch.stack(entries[::-1] if reverse else entries, dim=1)  # (B, nc - 1, *S)
        h[:, rest].addcmul_(a[:, rest], entry[:, :, None])  # 3.
    return h.view(batch, nc * T, *state)[:, :length]


def block_length(batch: int, d: int, n: int, chunk_size: int) -> int:
    """Time steps per block of the fast path: a multiple of ``chunk_size`` with about
    :data:`BLOCK_ELEMENTS` elements in a (B, steps, N, D) tensor (at least one chunk)."""
    return max(1, BLOCK_ELEMENTS // (batch * d * n * chunk_size)) * chunk_size


def _transition(delta: Tensor, A_t: Tensor) -> Tensor:
    r"""Eq. (4) in the fast path's layout: :math:`\bar{A} = \exp(\Delta A) = 2^{\Delta A_2}`.

    Shape:
        delta: (B, S, D); A_t (:math:`A_2 = A \log_2 e`, transposed): (N, D) -> (B, S, N, D).
    """
    return (delta[:, :, None, :] * A_t).exp2_()


def _input(delta: Tensor, u: Tensor, B: Tensor) -> Tensor:
    r""":math:`\bar{B}_t x_t = \Delta_t B_t x_t` in the fast path's layout.

    Shape:
        delta, u: (B, S, D); B: (B, S, N) -> (B, S, N, D).
    """
    return (delta * u)[:, :, None, :] * B[..., None]


class _ChunkedScan(torch.autograd.Function):
    r"""Eq. (2) by :func:`linear_scan`, block by block in time, with a hand-written backward.

    States are laid out (B, L, N, D), channels last: the sums over the state index :math:`n`
    (for :math:`y` and the gradients) become batched products with the (N,) vectors
    :math:`B_t, C_t`. The sequence is cut into blocks of :func:`block_length` steps (several
    chunks), processed in order with the state carried across: every (B, S, N, D) temporary
    stays in the CPU cache and is recycled by the allocator, instead of one pass over a
    (B, L, N, D) tensor per operation. Only the block-entry states are saved; the backward pass
    recomputes each block's states.

    The adjoint :math:`g_t = \partial\mathcal{L}/\partial h_t` obeys the same recurrence
    backwards in time, :math:`g_t = C_t\,\bar{y}_t + \bar{A}_{t+1} g_{t+1}` (with
    :math:`\bar{y} = \partial\mathcal{L}/\partial y`): :func:`linear_scan` in reverse, started
    from the adjoint carried back from the next block. Then, with
    :math:`q_t = g_t \odot \bar{A}_t h_{t-1} = g_t \odot (h_t - \bar{B}_t x_t)`:
    :math:`\partial\Delta_t = \sum_n q_t A + x_t \sum_n g_t B_t`,
    :math:`\partial A = \sum_{b,t} q_t \Delta_t`, :math:`\partial x_t = \Delta_t \sum_n g_t
    B_t`, :math:`\partial B_t = \sum_d g_t \Delta_t x_t`, :math:`\partial C_t = \sum_d h_t
    \bar{y}_t`, :math:`\partial h_0 = \bar{A}_0 g_0`.
    """

    @staticmethod
    def forward(ctx, u, delta, A, B, C, h0, chunk_size, block):  # type: ignore[override]
        batch, length, d = u.shape
        A_t = A.t().contiguous() * LOG2E  # A_2 = A log2(e): (N, D)
        y = u.new_empty(batch, length, d)
        h = None if h0 is None else h0.transpose(1, 2)  # (B, N, D)
        starts = []
        for s in range(0, length, block):
            e = min(s + block, length)
            starts.append(h if h is not None else u.new_zeros(batch, *A_t.shape))
            b = _input(delta[:, s:e], u[:, s:e], B[:, s:e])
            hs = linear_scan(_transition(delta[:, s:e], A_t), b, h, chunk_size)  # (B, S, N, D)
            y[:, s:e] = torch.einsum("bsn,bsnd->bsd", C[:, s:e], hs)  # (2b): sum over n
            h = hs[:, -1].clone()
        ctx.save_for_backward(u, delta, A_t, B, C, h0, torch.stack(starts, dim=1))
        ctx.chunk_size, ctx.block = chunk_size, block
        return y, h.transpose(1, 2).contiguous()  # y (B, L, D), h_L (B, D, N)

    @staticmethod
    def backward(ctx, dy, dh_last):  # type: ignore[override]
        u, delta, A_t, B, C, h0, starts = ctx.saved_tensors
        chunk, block, length = ctx.chunk_size, ctx.block, u.shape[1]
        du, ddelta = torch.empty_like(u), torch.empty_like(delta)
        dB, dC, dA_t = torch.empty_like(B), torch.empty_like(C), torch.zeros_like(A_t)
        g_next = dh_last.transpose(1, 2)  # adjoint g_e carried into the block [s, e)
        for i, s in reversed(list(enumerate(range(0, length, block)))):
            e = min(s + block, length)
            ub, db, Bb, dyb = u[:, s:e], delta[:, s:e], B[:, s:e], dy[:, s:e]
            after = delta[:, e : e + 1] if e < length else torch.zeros_like(delta[:, :1])
            a = _transition(torch.cat([db, after], dim=1), A_t)  # A_bar_s .. A_bar_e
            a_next = a[:, 1:].clone()  # A_bar_{t+1}: factors of the adjoint recurrence
            h = linear_scan(a[:, :-1], _input(db, ub, Bb), starts[:, i], chunk)  # recomputed
            c = C[:, s:e, :, None] * dyb[:, :, None, :]  # C_t y_bar_t: (B, S, N, D)
            g = linear_scan(a_next, c, g_next, chunk, reverse=True)  # adjoint states
            g_next = g[:, 0].clone()
            dC[:, s:e] = (h @ dyb[..., None])[..., 0]  # sum over d
            du_ = db * ub  # (B, S, D)
            q = (h - du_[:, :, None, :] * Bb[..., None]).mul_(g)  # (B, S, N, D)
            gB = (Bb[:, :, None, :] @ g)[:, :, 0]  # sum over n: (B, S, D)
            du[:, s:e] = db * gB
            ddelta[:, s:e] = (q * A_t).sum(2).div_(LOG2E) + ub * gB  # A = A_2 / log2(e)
            dA_t += (q * db[:, :, None, :]).sum((0, 1))
            dB[:, s:e] = (g @ du_[..., None])[..., 0]  # sum over d
        dh0 = None if h0 is None else (g_next * _transition(delta[:, :1], A_t)[:, 0]).mT
        return du, ddelta, dA_t.t(), dB, dC, dh0, None, None


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
    block_size: int | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """Fast path of :func:`~replearn.sequence.mamba.selective_scan_ref` (same arguments, plus
    ``chunk_size`` and ``block_size``, the time steps per block; default :func:`block_length`).

    The states come from :func:`linear_scan`; the gradients from the adjoint scan of
    :class:`_ChunkedScan` (first order only).

    Shape:
        as :func:`selective_scan_ref`.
    """
    if chunk_size < 1 or (block_size is not None and block_size < 1):
        raise ValueError(f"chunk_size and block_size must be >= 1, got {chunk_size}, {block_size}")
    delta = step_size(delta, delta_bias, delta_softplus)
    block = block_size or block_length(u.shape[0], u.shape[2], A.shape[1], chunk_size)
    y, h = _ChunkedScan.apply(u, delta, A, B, C, initial_state, chunk_size, block)
    y = gate_output(y, u, D, z)
    return (y, h) if return_last_state else y
