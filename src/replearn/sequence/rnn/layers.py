r"""Multi-layer, optionally bidirectional recurrent networks: ``RNN``, ``LSTM``, ``GRU``.

Papers: the cells of :mod:`replearn.sequence.rnn.cells` (Elman 1990; Hochreiter & Schmidhuber 1997;
Cho et al. 2014, arXiv:1406.1078); stacking and bidirectionality: M. Schuster & K. K. Paliwal,
"Bidirectional Recurrent Neural Networks", IEEE Trans. Signal Processing 45(11), 1997;
A. Graves, A. Mohamed & G. Hinton, "Speech Recognition with Deep Recurrent Neural Networks",
ICASSP 2013, arXiv:1303.5778; dropout between layers: W. Zaremba, I. Sutskever & O. Vinyals,
"Recurrent Neural Network Regularization", 2014, arXiv:1409.2329.

Layer :math:`\ell` reads the output sequence of layer :math:`\ell - 1` (the input for
:math:`\ell = 1`), after dropout in training mode, and runs its cell forwards in time; a
bidirectional layer also runs a second cell (suffix ``_reverse``) backwards and concatenates:

.. math::

    \overrightarrow{h}^{\ell}_t = \mathrm{cell}(h^{\ell-1}_t, \overrightarrow{h}^{\ell}_{t-1}),\quad
    \overleftarrow{h}^{\ell}_t = \mathrm{cell}'(h^{\ell-1}_t, \overleftarrow{h}^{\ell}_{t+1}),\quad
    h^\ell_t = [\overrightarrow{h}^{\ell}_t ; \overleftarrow{h}^{\ell}_t]          \qquad (1)

The final state stacks, for each layer then each direction, the last state reached
(:math:`\overrightarrow{h}^\ell_L` and :math:`\overleftarrow{h}^\ell_1`).

Two paths with the same weights and signature: the *reference* path (``fast=False``,
:func:`~replearn.sequence.rnn.reference_forward`, re-exported here) is the readable
loop over layers, directions and time steps over the cell equations, with the input projection
of all steps done in one product; the *fast* path (``fast=True``, default) is torch's fused
kernel (:mod:`replearn.sequence.rnn.fast`). This file holds the modules: argument and shape
validation, torch's parameter layout, the dispatch to one path or the other.

The constructor, the forward signature, the parameter names (``weight_ih_l0``,
``weight_hh_l1_reverse``, ``bias_ih_l0``, ...) and the initialisation (all ~
:math:`U(-1/\sqrt H, 1/\sqrt H)`) are those of ``torch.nn.RNN/LSTM/GRU``, so ``state_dict`` s load
both ways. Deviations: no ``PackedSequence`` input and no LSTM ``proj_size``; hyperparameters
after ``num_layers`` are keyword-only; shape errors raise ``ValueError``.

Tests: against ``torch.nn.RNN/LSTM/GRU`` with loaded state_dicts in float64 (outputs, final
states, gradients of inputs, initial states and every parameter; 1-3 layers, bidirectional,
``batch_first``, unbatched); reference path == fast path; argument validation.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from replearn.registry import Example, register
from replearn.sequence.rnn.cells import GATES
from replearn.sequence.rnn.fast import fused_forward
from replearn.sequence.rnn.reference import State, recurrent_layer, reference_forward

# recurrent_layer and reference_forward are re-exported from replearn.sequence.rnn.reference
__all__ = ["GRU", "LSTM", "RNN", "RNNBase", "recurrent_layer", "reference_forward"]


class RNNBase(nn.Module):
    """Stacked recurrent network with torch's constructor, parameters and forward (see module doc).

    A subclass names its recurrence in the class attribute ``MODE`` ('RNN_TANH', 'RNN_RELU',
    'LSTM' or 'GRU'), so it inherits this constructor unchanged.

    Args:
        input_size: features per step of the input.
        hidden_size: features of the state of each layer and direction.
        num_layers: stacked layers.
        bias: use ``bias_ih`` and ``bias_hh``.
        batch_first: input/output are (B, L, ·) instead of (L, B, ·) (states are never).
        dropout: dropout probability on the outputs of every layer but the last (training only).
        bidirectional: add a reverse-time cell per layer and concatenate the outputs.
        fast: use torch's fused kernel instead of the reference loop.
    """

    MODE: str = ""  # set by each subclass: a key of GATES

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        *,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        fast: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        mode = self.MODE
        if mode not in GATES:
            raise ValueError(f"MODE must be one of {sorted(GATES)}, got {mode!r}")
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size),
                            ("num_layers", num_layers)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
            raise ValueError(f"dropout must be a number in [0, 1], got {dropout!r}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout must be in [0, 1], got {dropout}")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bool(bias), bool(batch_first)
        self.dropout, self.bidirectional, self.fast = float(dropout), bool(bidirectional), fast
        num_dirs = 2 if bidirectional else 1
        rows, kw = GATES[mode] * hidden_size, {"device": device, "dtype": dtype}
        self._cell_names: list[list[str]] = []
        for layer in range(num_layers):
            in_features = input_size if layer == 0 else hidden_size * num_dirs
            for d in range(num_dirs):
                sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
                shapes = {f"weight_ih{sfx}": (rows, in_features)}
                shapes[f"weight_hh{sfx}"] = (rows, hidden_size)
                if bias:
                    shapes |= {f"bias_ih{sfx}": (rows,), f"bias_hh{sfx}": (rows,)}
                for name, shape in shapes.items():
                    self.register_parameter(name, nn.Parameter(torch.empty(shape, **kw)))
                self._cell_names.append(list(shapes))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/√H, 1/√H), as torch does."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def flatten_parameters(self) -> None:
        """No-op, for drop-in compatibility with ``torch.nn.RNNBase``."""

    def cell_weights(self) -> list[list[Tensor | None]]:
        """``[w_ih, w_hh, b_ih, b_hh]`` of each cell, ordered layer-major then direction."""
        cells = [[getattr(self, n) for n in names] for names in self._cell_names]
        return [c if self.bias else [*c, None, None] for c in cells]

    def _check(self, x: Tensor, hx: State | None) -> tuple[Tensor, State, bool]:
        """Validate shapes; return time-major batched input, initial state(s), batched flag."""
        if x.dim() not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"expected input (L, B, {self.input_size}) (or (B, L, ·) with batch_first, "
                f"or unbatched (L, ·)), got {tuple(x.shape)}"
            )
        batched = x.dim() == 3
        x = (x.transpose(0, 1) if self.batch_first else x) if batched else x.unsqueeze(1)
        shape = ((2 if self.bidirectional else 1) * self.num_layers, x.shape[1], self.hidden_size)
        if hx is None:
            zeros = x.new_zeros(shape)
            return x, ((zeros, zeros) if self.mode == "LSTM" else zeros), batched
        states = list(hx) if isinstance(hx, (tuple, list)) else [hx]
        if (self.mode == "LSTM") != (len(states) == 2) or len(states) > 2:
            raise ValueError("the initial state is a pair (h_0, c_0) for an LSTM, else a tensor")
        states = [s if batched else s.unsqueeze(1) for s in states]
        for s in states:
            if not isinstance(s, Tensor) or tuple(s.shape) != shape:
                got = tuple(s.shape) if isinstance(s, Tensor) else type(s).__name__
                raise ValueError(f"expected an initial state of shape {shape}, got {got}")
        return x, (tuple(states) if self.mode == "LSTM" else states[0]), batched

    def forward(self, input: Tensor, hx: State | None = None) -> tuple[Tensor, State]:
        """Run the network; returns ``(output, h_n)`` or, for LSTM, ``(output, (h_n, c_n))``.

        Shape:
            input: (L, B, I), (B, L, I) with ``batch_first``, or unbatched (L, I);
            hx: (num_layers·D, B, H) (a pair for LSTM; (num_layers·D, H) unbatched)
            -> output (L, B, D·H) / (B, L, D·H) / (L, D·H), states like hx.
        """
        x, h0, batched = self._check(input, hx)  # x: (L, B, I)
        if self.fast:
            flat = [w for cell in self.cell_weights() for w in cell if w is not None]
            out, states = fused_forward(
                self.mode, x, h0, flat, bias=self.bias, num_layers=self.num_layers,
                dropout=self.dropout, training=self.training,
                bidirectional=self.bidirectional, batch_first=False,
            )  # fmt: skip
        else:
            out, states = reference_forward(
                self.mode, x, h0, self.cell_weights(), dropout=self.dropout,
                training=self.training, bidirectional=self.bidirectional,
            )  # fmt: skip
        if not batched:
            out = out.squeeze(1)
            if self.mode == "LSTM":
                states = (states[0].squeeze(1), states[1].squeeze(1))
            else:
                states = states.squeeze(1)  # type: ignore[union-attr]
        elif self.batch_first:
            out = out.transpose(0, 1)  # (B, L, D·H)
        return out, states

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.mode.startswith("RNN_"):
            s += f", nonlinearity={self.mode[4:].lower()!r}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False)):  # fmt: skip
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        return s + f", fast={self.fast}"


def _example(cls: type[RNNBase]) -> Example:
    model = cls(5, 6, 2, batch_first=True, bidirectional=True)
    return Example(model, (torch.randn(3, 4, 5),), (3, 4, 12))


_PAPERS = "Schuster & Paliwal 1997; Graves et al. 2013, arXiv:1303.5778; "
_REF = " with a loaded state_dict (float64: outputs, states, all gradients); reference == fast"


@register(
    "sequence.rnn",
    paper=_PAPERS + "Elman 1990",
    reference="torch.nn.RNN" + _REF,
    example=lambda: _example(RNN),
)
class RNN(RNNBase):
    """Stacked Elman RNN (tanh or ReLU), ``torch.nn.RNN``-compatible; see :class:`RNNBase`."""

    MODE = "RNN_TANH"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        *,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        fast: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(
            input_size, hidden_size, num_layers, bias=bias, batch_first=batch_first,
            dropout=dropout, bidirectional=bidirectional, fast=fast, device=device, dtype=dtype,
        )  # fmt: skip
        # tanh and ReLU share one parameter layout (GATES): only the mode the forward runs changes
        self.mode, self.nonlinearity = f"RNN_{nonlinearity.upper()}", nonlinearity


@register(
    "sequence.lstm",
    paper=_PAPERS + "Hochreiter & Schmidhuber 1997",
    reference="torch.nn.LSTM" + _REF,
    example=lambda: _example(LSTM),
)
class LSTM(RNNBase):
    """Stacked LSTM, ``torch.nn.LSTM``-compatible (no ``proj_size``); see :class:`RNNBase`."""

    MODE = "LSTM"


@register(
    "sequence.gru",
    paper=_PAPERS + "Cho et al. 2014, arXiv:1406.1078",
    reference="torch.nn.GRU" + _REF,
    example=lambda: _example(GRU),
)
class GRU(RNNBase):
    """Stacked GRU (torch's gate convention), ``torch.nn.GRU``-compatible; see :class:`RNNBase`."""

    MODE = "GRU"
