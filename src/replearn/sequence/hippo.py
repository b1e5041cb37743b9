r"""The HiPPO-LegS memory as a layer: online compression of a signal's whole history.

Paper: A. Gu, T. Dao, S. Ermon, A. Rudra & C. Ré, "HiPPO: Recurrent Memory with Optimal
Polynomial Projections", NeurIPS 2020, arXiv:2008.07669. HiPPO stands for *High-order
Polynomial Projection Operators* (see docs/corrections.md#sequence-models).

The equations live in :mod:`replearn.sequence.ssm.hippo`; this module wraps them as a fixed
(parameter-free) ``nn.Module`` so that the method is registered (``sequence.hippo``), appears in
``replearn list`` and ``replearn arch``, and can be dropped into a model as a feature extractor
(the HiPPO-RNN of the paper, Sec. 5, feeds these coefficients to a gated cell). At every step
:math:`k = 1..L` the coefficients :math:`c_k \in \mathbb{R}^N` of the best degree-:math:`<N`
approximation of :math:`f_1..f_k` under the scaled Legendre measure follow

.. math::

    \frac{d}{dt} c(t) = \frac{1}{t} A c(t) + \frac{1}{t} B f(t)                   \qquad (2)

with the LegS matrices :math:`A, B` of Eq. (3) of :mod:`~replearn.sequence.ssm.hippo`,
discretized by the bilinear rule at :math:`t = k` (:func:`hippo_legs_step` is one step,
:func:`~replearn.sequence.ssm.hippo.legs_memory` the loop over a signal). The history is read
back from :math:`c_k` through the Legendre basis, Eq. (1) (:meth:`HiPPOLegS.reconstruct`).

Deviations: none beyond those of :mod:`replearn.sequence.ssm.hippo` (bilinear step).

Tests (``tests/sequence/test_hippo_layer.py``; the functional core in
``tests/sequence/test_hippo.py``): the layer equals :func:`legs_memory` and a loop of
:func:`hippo_legs_step`; the step equals ``scipy.signal.cont2discrete(..., method="bilinear")`` of
:math:`(A/k, B/k)` applied to the state (float64); the reconstruction error of a smooth signal
falls with N; LegS is timescale-robust (the final coefficients of one signal sampled at two
rates agree, up to the discretization error).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from replearn.registry import Example, register
from replearn.sequence.ssm.hippo import hippo_legs, legs_memory, legs_reconstruct

__all__ = ["HiPPOLegS", "hippo_legs_step"]


def hippo_legs_step(c: Tensor, f_k: Tensor, k: int, A: Tensor, B: Tensor) -> Tensor:
    r"""One bilinear step of Eq. (2) at :math:`t = k` with :math:`\Delta = 1`:

    .. math::

        c_k = (I - \tfrac{1}{2k}A)^{-1}\big[(I + \tfrac{1}{2k}A)\,c_{k-1}
        + \tfrac{1}{k} B f_k\big]

    Shape:
        c: (..., N); f_k: (...); A: (N, N); B: (N,) -> (..., N).
    """
    if k < 1:
        raise ValueError(f"the LegS step starts at k = 1, got {k}")
    eye = torch.eye(A.shape[0], dtype=A.dtype, device=A.device)
    lhs = eye - A / (2 * k)  # (N, N)
    rhs = c @ (eye + A / (2 * k)).T + (B / k) * f_k[..., None]  # (..., N)
    return torch.linalg.solve(lhs, rhs.unsqueeze(-1)).squeeze(-1)


def _example() -> Example:
    # no parameters: the input carries the gradient (the memory is linear in f)
    return Example(HiPPOLegS(d_state=8), (torch.randn(2, 20).requires_grad_(),), (2, 20, 8))


@register(
    "sequence.hippo",
    paper="Gu, Dao, Ermon, Rudra & Ré 2020, arXiv:2008.07669 (HiPPO: High-order Polynomial "
    "Projection Operators, LegS)",
    reference="step == scipy.signal.cont2discrete bilinear of (A/k, B/k) (float64); layer == "
    "legs_memory loop; closed-form LegS matrices; numpy legval Legendre basis",
    example=_example,
)
class HiPPOLegS(nn.Module):
    """The HiPPO-LegS memory: the Legendre coefficients of a signal's history after every step.

    Args:
        d_state: N, the number of Legendre coefficients kept (the polynomial degree is < N).

    Shape:
        forward: f (B, L) -> c (B, L, N); reconstruct: c (..., N), s (S,) in [0, 1] -> (..., S).
    """

    def __init__(self, *, d_state: int = 32) -> None:
        super().__init__()
        if d_state < 1:
            raise ValueError(f"d_state must be >= 1, got {d_state}")
        self.d_state = d_state
        A, B = hippo_legs(d_state)  # fixed, not learned (the HiPPO-RNN's memory)
        self.register_buffer("A", A.float(), persistent=False)
        self.register_buffer("B", B.float(), persistent=False)

    def forward(self, f: Tensor) -> Tensor:
        """The coefficients :math:`c_1..c_L` of Eq. (2) for a batch of signals."""
        if f.ndim < 1:
            raise ValueError("f must have a time axis (..., L)")
        return legs_memory(f, self.d_state)

    def reconstruct(self, c: Tensor, s: Tensor) -> Tensor:
        """Eq. (1): the history at relative times ``s`` (0 = the start, 1 = now) from ``c``."""
        return legs_reconstruct(c, s)

    def extra_repr(self) -> str:
        return f"d_state={self.d_state}"
