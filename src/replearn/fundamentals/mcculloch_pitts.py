r"""The McCulloch–Pitts threshold unit: fixed weights, a threshold, Boolean logic.

Paper: W. S. McCulloch & W. Pitts, "A logical calculus of the ideas immanent in
nervous activity", *Bulletin of Mathematical Biophysics* 5, 1943. The unit is
theirs; the *learning rule* for such a unit (the perceptron) is Rosenblatt's,
1958 (see :mod:`replearn.fundamentals.perceptron` and ``docs/corrections.md``).

A McCulloch–Pitts (MP) unit has binary inputs :math:`x \in \{0, 1\}^d`, fixed
real weights :math:`w` and a threshold :math:`\theta`; nothing is learned:

.. math::

    a(x) = \sum_i w_i x_i                                       \qquad (1)\ \text{net input}

    y(x) = \mathbb{1}[a(x) \ge \theta] \in \{0, 1\}             \qquad (2)\ \text{threshold}

With these, the gates are single units:
AND :math:`(w = (1, 1), \theta = 2)`, OR :math:`(w = (1, 1), \theta = 1)`,
NOT :math:`(w = (-1), \theta = 0)`, NAND :math:`(w = (-1, -1), \theta = -1)`.
XOR is not linearly separable, so no single unit computes it; two layers do:

.. math::

    \mathrm{XOR}(x_1, x_2) = \mathrm{AND}(\mathrm{OR}(x_1, x_2), \mathrm{NAND}(x_1, x_2))
                                                                \qquad (3)\ \text{two layers}

Deviations: the 1943 paper uses excitatory inputs of weight 1 and *absolute*
inhibition (any active inhibitory input silences the unit); real weights with a
threshold, as here, are the usual modern reading and compute the same gates.

Tests check every gate's truth table, the two-layer XOR, and that no unit with
weights and threshold on a grid computes XOR (a brute-force witness of Eq. 3's need
for depth).
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from replearn.registry import Example, register

__all__ = [
    "GATES",
    "McCullochPittsUnit",
    "ThresholdNetwork",
    "gate",
    "mp_net_input",
    "mp_output",
    "truth_table",
    "xor_network",
]

GATES: dict[str, tuple[tuple[float, ...], float]] = {
    "and": ((1.0, 1.0), 2.0),
    "or": ((1.0, 1.0), 1.0),
    "not": ((-1.0,), 0.0),
    "nand": ((-1.0, -1.0), -1.0),
    "nor": ((-1.0, -1.0), 0.0),
}
"""Weights and threshold ``(w, theta)`` of the logic gates as single MP units."""


def mp_net_input(x: Tensor, w: Tensor) -> Tensor:
    r"""Eq. (1): the net input :math:`a = \sum_i w_i x_i`.

    Shape:
        x: (N, d); w: (d,) or (d, M) for M units -> (N,) or (N, M).
    """
    return x @ w


def mp_output(x: Tensor, w: Tensor, theta: Tensor | float) -> Tensor:
    r"""Eq. (2): the unit fires, :math:`y = \mathbb{1}[a \ge \theta]`, as 0/1 in the dtype of x.

    Shape:
        x: (N, d); w: (d,) or (d, M); theta: scalar or (M,) -> (N,) or (N, M).
    """
    return (mp_net_input(x, w) >= theta).to(x.dtype)


def truth_table(d: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """All :math:`2^d` binary inputs in lexicographic order, e.g. 00, 01, 10, 11.

    Shape:
        -> (2**d, d).
    """
    if d < 1:
        raise ValueError(f"d must be >= 1, got {d}")
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=d)), dtype=dtype)


def _unit_example() -> Example:
    return Example(McCullochPittsUnit((1.0, 1.0), 2.0), (truth_table(2),), (4,))


@register(
    "fundamentals.mcculloch_pitts",
    paper="McCulloch & Pitts 1943, Bull. Math. Biophysics 5 (the threshold unit)",
    reference="closed-form truth tables of AND/OR/NOT/NAND/NOR; two-layer XOR (Eq. 3)",
    example=_unit_example,
)
class McCullochPittsUnit(nn.Module):
    """One threshold unit with fixed weights (Eqs. 1-2); no parameters, nothing to learn.

    Args:
        weights: the fixed weights :math:`w` (one per input).
        threshold: :math:`\\theta`; the unit fires when :math:`w \\cdot x \\ge \\theta`.

    Shape:
        (N, d) -> (N,) with values in {0, 1}.
    """

    def __init__(self, weights: tuple[float, ...] | list[float], threshold: float) -> None:
        super().__init__()
        if len(weights) < 1:
            raise ValueError("a unit needs at least one weight")
        self.register_buffer("weight", torch.tensor(weights, dtype=torch.float32))
        self.threshold = float(threshold)

    def forward(self, x: Tensor) -> Tensor:
        """Eq. (2)."""
        if x.shape[-1] != self.weight.numel():
            raise ValueError(f"expected {self.weight.numel()} inputs, got {x.shape[-1]}")
        return mp_output(x, self.weight.to(x.dtype), self.threshold)

    def extra_repr(self) -> str:
        return f"weights={tuple(self.weight.tolist())}, threshold={self.threshold}"


def gate(name: str) -> McCullochPittsUnit:
    """The MP unit computing logic gate ``name`` (``and``, ``or``, ``not``, ``nand``, ``nor``)."""
    if name not in GATES:
        raise ValueError(f"unknown gate {name!r}; choose one of {', '.join(GATES)}")
    w, theta = GATES[name]
    return McCullochPittsUnit(w, theta)


class ThresholdNetwork(nn.Module):
    """Layers of MP units: each layer is a weight matrix (d_in, d_out) and thresholds (d_out,).

    Args:
        layers: ``[(W, theta), ...]`` with ``W`` of shape (d_in, d_out) and ``theta`` (d_out,).

    Shape:
        (N, d_0) -> (N, d_L) with values in {0, 1}.
    """

    def __init__(self, layers: list[tuple[Tensor, Tensor]]) -> None:
        super().__init__()
        if not layers:
            raise ValueError("a network needs at least one layer")
        for i, (w, theta) in enumerate(layers):
            if w.ndim != 2 or theta.shape != (w.shape[1],):
                raise ValueError(f"layer {i}: need W (d_in, d_out) and theta (d_out,)")
            if i and w.shape[0] != layers[i - 1][0].shape[1]:
                raise ValueError(
                    f"layer {i}: {w.shape[0]} inputs after {layers[i - 1][0].shape[1]}"
                )
            self.register_buffer(f"w{i}", w.float())
            self.register_buffer(f"theta{i}", theta.float())
        self.depth = len(layers)

    def forward(self, x: Tensor) -> Tensor:
        """Eq. (2) layer after layer."""
        h = x
        for i in range(self.depth):
            w, theta = getattr(self, f"w{i}"), getattr(self, f"theta{i}")
            h = mp_output(h, w.to(h.dtype), theta.to(h.dtype))  # (N, d_i)
        return h

    def extra_repr(self) -> str:
        return f"depth={self.depth}"


def xor_network() -> ThresholdNetwork:
    """Eq. (3): hidden units OR and NAND, output AND of the two.

    Shape:
        (N, 2) -> (N, 1).
    """
    (w_or, t_or), (w_nand, t_nand), (w_and, t_and) = GATES["or"], GATES["nand"], GATES["and"]
    hidden_w = torch.tensor([w_or, w_nand]).T  # (2, 2): columns OR, NAND
    hidden_t = torch.tensor([t_or, t_nand])
    out_w = torch.tensor([w_and]).T  # (2, 1)
    out_t = torch.tensor([t_and])
    return ThresholdNetwork([(hidden_w, hidden_t), (out_w, out_t)])
