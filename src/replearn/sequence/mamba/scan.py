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
- :func:`~replearn.sequence.mamba.selective_scan_chunked` (module
  :mod:`replearn.sequence.mamba.scan_chunked`): the chunked, blocked fast path with a hand-written
  backward pass, tested equal to the loop.

Layout (batch first, as everywhere in replearn; the CUDA kernels use channels first):
``u, delta, z`` (B, L, D); ``A`` (D, N); ``B, C`` (B, L, N); ``D`` (D,); states (B, D, N).

Tests (``tests/sequence/test_scan.py``): the loop equals the recurrence written out by hand for
a scalar system; the skip and the gate act after the scan; :func:`selective_scan` dispatches to
either path.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from replearn.reference import use_reference
from replearn.registry import register

__all__ = [
    "discretize",
    "gate_output",
    "selective_scan",
    "selective_scan_ref",
    "selective_step",
    "step_size",
]


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
    """The selective scan: the chunked fast path if ``fast`` else the loop.

    Keyword arguments as :func:`selective_scan_ref` (and ``chunk_size`` for the fast path).

    Shape:
        u, delta, z: (B, L, D); A: (D, N); B, C: (B, L, N) -> (B, L, D).
    """
    if fast and not use_reference():
        from replearn.sequence.mamba.scan_chunked import (
            selective_scan_chunked,  # it imports this file
        )

        return selective_scan_chunked(u, delta, A, B, C, D, z, **kwargs)  # type: ignore[arg-type]
    kwargs.pop("chunk_size", None)
    return selective_scan_ref(u, delta, A, B, C, D, z, **kwargs)  # type: ignore[arg-type]
