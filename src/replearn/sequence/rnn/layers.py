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

Two paths with the same weights and signature: the *reference* path (``fast=False``) is the
readable loop over layers, directions and time steps over the cell equations
(:func:`~replearn.sequence.rnn.reference_forward`; with packed input or ``proj_size`` the masked
loop of :mod:`~replearn.sequence.rnn.packed`); the *fast* path (``fast=True``, default) is torch's
fused kernel (:mod:`~replearn.sequence.rnn.fast`, :func:`~.packed.packed_fused_forward`).

Drop-ins for ``torch.nn.RNN/LSTM/GRU``: the constructor (arguments in torch's order, checked as
torch does, :mod:`~replearn.sequence.rnn.checks`), the forward (batched, ``batch_first``,
unbatched (L, I), ``PackedSequence``; LSTM ``proj_size``), the parameter names (``weight_ih_l0``,
``weight_hh_l1_reverse``, ``bias_ih_l0``, ``weight_hr_l0``, ...) and the initialisation (all ~
:math:`U(-1/\sqrt H, 1/\sqrt H)`), so ``state_dict`` s load both ways. Deviations (the table of
docs/deviations.md): the extra keyword ``fast``; errors are torch's with both exception types.

Tests: tests/sequence/test_rnn*.py and tests/dropins/test_rnn_dropins.py: against
``torch.nn.RNN/LSTM/GRU`` with loaded state_dicts in float64 (outputs, final states, gradients of
inputs, initial states and every parameter) for every input form, both paths; argument errors.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from replearn.reference import use_reference
from replearn.registry import Example, register
from replearn.sequence.rnn.cells import GATES
from replearn.sequence.rnn.checks import (
    RNNArgumentError,
    RNNInputError,
    check_initial_state,
    check_input,
    check_rnn_arguments,
    refuse_proj_size,
)
from replearn.sequence.rnn.fast import fused_forward
from replearn.sequence.rnn.packed import (
    packed_fused_forward,
    repack,
    unpack,
    varlen_reference_forward,
)
from replearn.sequence.rnn.reference import State, recurrent_layer, reference_forward

# recurrent_layer and reference_forward are re-exported from replearn.sequence.rnn.reference
__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "RNNArgumentError",
    "RNNBase",
    "RNNInputError",
    "recurrent_layer",
    "reference_forward",
]


class RNNBase(nn.Module):
    """Stacked recurrent network with torch's constructor, parameters and forward (see module doc).

    A subclass names its recurrence in the class attribute ``MODE`` ('RNN_TANH', 'RNN_RELU',
    'LSTM' or 'GRU'), so it inherits this constructor unchanged. The arguments, their order and
    their checks (types, ranges, the warning for ``dropout`` with one layer) are torch's.

    Args:
        input_size: features per step of the input.
        hidden_size: features of the state of each layer and direction.
        num_layers: stacked layers.
        bias: use ``bias_ih`` and ``bias_hh``.
        batch_first: input/output are (B, L, ·) instead of (L, B, ·) (states are never).
        dropout: dropout probability on the outputs of every layer but the last (training only).
        bidirectional: add a reverse-time cell per layer and concatenate the outputs.
        proj_size: LSTM only: project the hidden state to this many features (0: none).
        device, dtype: of the parameters.
        fast: use torch's fused kernel instead of the reference loop.
    """

    MODE: str = ""  # set by each subclass: a key of GATES

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        fast: bool = True,
    ) -> None:
        super().__init__()
        mode = self.MODE
        check_rnn_arguments(
            mode, modes=tuple(GATES), input_size=input_size, hidden_size=hidden_size,
            num_layers=num_layers, bias=bias, batch_first=batch_first, dropout=dropout,
            proj_size=proj_size,
        )  # fmt: skip
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.fast = float(dropout), bool(bidirectional), fast
        self.proj_size = proj_size
        num_dirs = 2 if bidirectional else 1
        out_size = proj_size or hidden_size  # the state passed on: h_t (P or H features)
        rows, kw = GATES[mode] * hidden_size, {"device": device, "dtype": dtype}
        self._cell_names: list[list[str]] = []
        self._proj_names: list[str | None] = []
        for layer in range(num_layers):
            in_features = input_size if layer == 0 else out_size * num_dirs
            for d in range(num_dirs):
                sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
                shapes = {f"weight_ih{sfx}": (rows, in_features)}
                shapes[f"weight_hh{sfx}"] = (rows, out_size)
                if bias:
                    shapes |= {f"bias_ih{sfx}": (rows,), f"bias_hh{sfx}": (rows,)}
                cell = list(shapes)
                if proj_size:
                    shapes[f"weight_hr{sfx}"] = (proj_size, hidden_size)
                for name, shape in shapes.items():
                    self.register_parameter(name, nn.Parameter(torch.empty(shape, **kw)))
                self._cell_names.append(cell)
                self._proj_names.append(f"weight_hr{sfx}" if proj_size else None)
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

    def projection_weights(self) -> list[Tensor | None]:
        """``weight_hr`` of each cell (None without ``proj_size``), in the order of cells."""
        return [None if n is None else getattr(self, n) for n in self._proj_names]

    @property
    def all_weights(self) -> list[list[nn.Parameter]]:
        """The parameters of each cell in torch's order (``w_ih, w_hh[, b_ih, b_hh][, w_hr]``)."""
        cells = zip(self.cell_weights(), self.projection_weights(), strict=True)
        return [[w for w in (*c, p) if w is not None] for c, p in cells]  # type: ignore[misc]

    def _state_shapes(self, batch: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """Shapes of h_0 and (LSTM) c_0 for a batch of ``batch`` sequences."""
        rows = (2 if self.bidirectional else 1) * self.num_layers
        return (rows, batch, self.proj_size or self.hidden_size), (rows, batch, self.hidden_size)

    def _initial_state(self, hx: State | None, x: Tensor, batched: bool) -> State:
        """Validate ``hx`` against the time-major batched input ``x``, or make zeros."""
        h_shape, c_shape = self._state_shapes(x.shape[1])
        if hx is None:
            h0 = x.new_zeros(h_shape)
            return (h0, x.new_zeros(c_shape)) if self.mode == "LSTM" else h0
        states = check_initial_state(
            hx, lstm=self.mode == "LSTM", batched=batched, shapes=(h_shape, c_shape)
        )
        states = [s if batched else s.unsqueeze(1) for s in states]
        return (states[0], states[1]) if self.mode == "LSTM" else states[0]

    def _flat_weights(self) -> list[Tensor]:
        """Weights in the order of torch's fused kernels (``all_weights`` flattened)."""
        return [w for cell in self.all_weights for w in cell]

    def _reference_weights(self) -> list[list[Tensor | None]]:
        cells = zip(self.cell_weights(), self.projection_weights(), strict=True)
        return [[*c, p] for c, p in cells]

    def forward(
        self, input: Tensor | PackedSequence, hx: State | None = None
    ) -> tuple[Tensor | PackedSequence, State]:
        """Run the network; returns ``(output, h_n)`` or, for LSTM, ``(output, (h_n, c_n))``.

        Shape:
            input: (L, B, I), (B, L, I) with ``batch_first``, unbatched (L, I), or a
            ``PackedSequence`` of B sequences; hx: (num_layers·D, B, P or H) ((num_layers·D, P or H)
            unbatched; LSTM: a pair with c_0 (num_layers·D, B, H)), B in the original order
            -> output (L, B, D·(P or H)) / (B, L, ·) / (L, ·) / packed like the input,
            states like hx (each sequence's state at its true end).
        """
        kw = dict(dropout=self.dropout, training=self.training, bidirectional=self.bidirectional)
        fast = self.fast and not use_reference()  # replearn.reference switches every layer
        if isinstance(input, PackedSequence):
            check_input(input.data, (2,), self.input_size, self.weight_ih_l0)
            batch = int(input.batch_sizes[0])
            h0 = self._initial_state(hx, input.data.new_empty(0, batch, 0), True)
            if fast:
                return packed_fused_forward(
                    self.mode, input, h0, self._flat_weights(), bias=self.bias,
                    num_layers=self.num_layers, **kw,
                )  # fmt: skip
            padded, lengths = unpack(input)  # (L, B, I), original order
            out, states = varlen_reference_forward(
                self.mode, padded, lengths, h0, self._reference_weights(), **kw
            )
            return repack(out, input), states
        check_input(input, (2, 3), self.input_size, self.weight_ih_l0)
        batched = input.dim() == 3
        x = (input.transpose(0, 1) if self.batch_first else input) if batched else input[:, None]
        h0 = self._initial_state(hx, x, batched)  # x: (L, B, I)
        if fast:
            out, states = fused_forward(
                self.mode, x, h0, self._flat_weights(), bias=self.bias,
                num_layers=self.num_layers, batch_first=False, **kw,
            )  # fmt: skip
        elif self.proj_size:
            out, states = varlen_reference_forward(
                self.mode, x, None, h0, self._reference_weights(), **kw
            )
        else:
            out, states = reference_forward(self.mode, x, h0, self.cell_weights(), **kw)
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
                              ("bidirectional", False), ("proj_size", 0)):  # fmt: skip
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
    """Stacked Elman RNN (tanh or ReLU), ``torch.nn.RNN``-compatible; see :class:`RNNBase`.

    ``nonlinearity`` is the fourth positional argument, as in torch; ``proj_size`` is refused
    (torch: "only supported for LSTM").
    """

    MODE = "RNN_TANH"

    # fmt: off
    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1,
        nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
        dropout: float = 0.0, bidirectional: bool = False,
        device: torch.device | str | None = None, dtype: torch.dtype | None = None,
        *, proj_size: int | None = None, fast: bool = True,
    ) -> None:
        # fmt: on
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"Unknown nonlinearity {nonlinearity!r}. Select from 'tanh' or 'relu'."
            )
        refuse_proj_size(proj_size)
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            device=device, dtype=dtype, fast=fast,
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
    """Stacked LSTM, ``torch.nn.LSTM``-compatible (``proj_size``: LSTMP, Sak et al. 2014,
    arXiv:1402.1128, see :mod:`~replearn.sequence.rnn.packed`); see :class:`RNNBase`."""

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

    # fmt: off
    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
        batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
        device: torch.device | str | None = None, dtype: torch.dtype | None = None,
        *, proj_size: int | None = None, fast: bool = True,
    ) -> None:
        # fmt: on
        refuse_proj_size(proj_size)
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            device=device, dtype=dtype, fast=fast,
        )  # fmt: skip
