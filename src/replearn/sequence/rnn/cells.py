r"""Recurrent cells: the Elman RNN, the LSTM and the GRU as ``nn.Module`` s, one time step each.

Papers: J. L. Elman, "Finding Structure in Time", Cognitive Science 14, 1990; S. Hochreiter &
J. Schmidhuber, "Long Short-Term Memory", Neural Computation 9(8), 1997, with the forget gate of
F. A. Gers, J. Schmidhuber & F. Cummins, "Learning to Forget", 2000; K. Cho, B. van Merriënboer,
C. Gulcehre, D. Bahdanau, F. Bougares, H. Schwenk & Y. Bengio, "Learning Phrase Representations
using RNN Encoder-Decoder for Statistical Machine Translation", EMNLP 2014, arXiv:1406.1078.

The equations live in :mod:`replearn.sequence.rnn.cell_equations`, one pure function each (Eq. 1,
Elman: :math:`h_t = \phi(a^x + a^h)`; Eqs. 2a-d, 3, 4, LSTM gates
:math:`i, f, g, o`, cell :math:`c_t = f_t \odot c_{t-1} + i_t \odot g_t` and
:math:`h_t = o_t \odot \tanh(c_t)`; Eqs. 5-8, GRU gates :math:`r, z`, candidate
:math:`n_t` and :math:`h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}` in torch's convention, with
the course's convention next to it). They are re-exported here. A cell computes the input
projection :math:`a^x = W_{ih} x_t + b_{ih}` and applies the ``*_step`` function of its kind.

Parameters (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``, gate blocks stacked along the
rows in torch's order), initialisation (:math:`U(-1/\sqrt H, 1/\sqrt H)`) and forward
signatures are those of ``torch.nn.RNNCell`` / ``LSTMCell`` / ``GRUCell``, so ``state_dict`` s
load both ways. Deviation: shape errors raise ``ValueError``.

Tests: :class:`RNNCell`, :class:`LSTMCell`, :class:`GRUCell` against ``torch.nn.RNNCell`` /
``LSTMCell`` / ``GRUCell`` with copied weights in float64 (outputs and the gradients of inputs,
states and every parameter), batched and unbatched; zero default state; parameter shapes, init
range, argument and shape validation.

See docs/corrections.md#sequence-models (who introduced the LSTM (not RNNs)).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.registry import Example, register
from replearn.sequence.rnn.cell_equations import (
    gru_candidate,
    gru_hidden,
    gru_hidden_course,
    gru_reset_gate,
    gru_step,
    gru_update_gate,
    lstm_cell_candidate,
    lstm_cell_state,
    lstm_forget_gate,
    lstm_gates,
    lstm_hidden,
    lstm_input_gate,
    lstm_output_gate,
    lstm_step,
    rnn_hidden,
    rnn_step,
)

__all__ = [
    "GATES", "GRUCell", "LSTMCell", "RNNCell",
    # re-exported from replearn.sequence.rnn.cell_equations
    "gru_candidate", "gru_hidden", "gru_hidden_course", "gru_reset_gate", "gru_step",
    "gru_update_gate", "lstm_cell_candidate", "lstm_cell_state", "lstm_forget_gate", "lstm_gates",
    "lstm_hidden", "lstm_input_gate", "lstm_output_gate", "lstm_step", "rnn_hidden", "rnn_step",
]  # fmt: skip

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
"""Gate blocks stacked in ``weight_ih`` / ``weight_hh`` for each mode."""


# -- modules --------------------------------------------------------------------------------
class _CellBase(nn.Module):
    """Parameters ``weight_ih`` (G·H, I), ``weight_hh`` (G·H, H), ``bias_ih``, ``bias_hh`` (G·H)."""

    gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bool(bias)
        kw = {"device": device, "dtype": dtype}
        rows = self.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(rows, hidden_size, **kw))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(rows, **kw))
            self.bias_hh = nn.Parameter(torch.empty(rows, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/√H, 1/√H), as torch does."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def _prepare(self, x: Tensor, hx: Tensor | None) -> tuple[Tensor, Tensor, bool]:
        if x.dim() not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"expected input (B, {self.input_size}) or ({self.input_size},), "
                             f"got {tuple(x.shape)}")  # fmt: skip
        batched = x.dim() == 2
        x = x if batched else x.unsqueeze(0)
        if hx is None:
            hx = x.new_zeros(x.shape[0], self.hidden_size)
        elif not batched:
            hx = hx.unsqueeze(0)
        if tuple(hx.shape) != (x.shape[0], self.hidden_size):
            raise ValueError(f"expected a state of shape {(x.shape[0], self.hidden_size)}, "
                             f"got {tuple(hx.shape)}")  # fmt: skip
        return x, hx, batched

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"


def _example(cls: type[_CellBase]) -> Example:
    return Example(cls(5, 7), (torch.randn(3, 5),), (3, 7))


@register(
    "sequence.rnn_cell",
    paper="Elman 1990, Cognitive Science 14",
    reference="torch.nn.RNNCell with copied weights (float64, values and gradients)",
    example=lambda: _example(RNNCell),
)
class RNNCell(_CellBase):
    """Elman cell, Eq. (1): ``forward(x, h=None) -> h_t``; ``nonlinearity`` 'tanh' or 'relu'."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, h, batched = self._prepare(input, hx)
        ax = F.linear(x, self.weight_ih, self.bias_ih)  # (B, H)
        h = rnn_step(ax, h, self.weight_hh, self.bias_hh, self.nonlinearity)
        return h if batched else h.squeeze(0)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, nonlinearity={self.nonlinearity!r}"


@register(
    "sequence.lstm_cell",
    paper="Hochreiter & Schmidhuber 1997; forget gate: Gers, Schmidhuber & Cummins 2000",
    reference="torch.nn.LSTMCell with copied weights (float64, values and gradients)",
    example=lambda: _example(LSTMCell),
)
class LSTMCell(_CellBase):
    """LSTM cell, Eqs. (2a-d), (3), (4): ``forward(x, (h, c)=None) -> (h_t, c_t)``."""

    gates = 4

    def forward(
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        x, h, batched = self._prepare(input, None if hx is None else hx[0])
        c = self._prepare(input, None if hx is None else hx[1])[1]
        ax = F.linear(x, self.weight_ih, self.bias_ih)  # (B, 4H)
        h, c = lstm_step(ax, h, c, self.weight_hh, self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


@register(
    "sequence.gru_cell",
    paper="Cho et al. 2014, arXiv:1406.1078",
    reference="torch.nn.GRUCell with copied weights (float64, values and gradients)",
    example=lambda: _example(GRUCell),
)
class GRUCell(_CellBase):
    """GRU cell, Eqs. (5)-(8) in torch's convention: ``forward(x, h=None) -> h_t``."""

    gates = 3

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, h, batched = self._prepare(input, hx)
        ax = F.linear(x, self.weight_ih, self.bias_ih)  # (B, 3H)
        h = gru_step(ax, h, self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)
