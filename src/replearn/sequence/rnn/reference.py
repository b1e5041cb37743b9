r"""Reference path of :mod:`replearn.sequence.rnn.layers`: the readable stacked, bidirectional loop.

Papers: the cells of :mod:`replearn.sequence.rnn.cell_equations` (Elman 1990; Hochreiter &
Schmidhuber 1997; Cho et al. 2014, arXiv:1406.1078); stacking and bidirectionality: M. Schuster &
K. K. Paliwal, "Bidirectional Recurrent Neural Networks", IEEE Trans. Signal Processing 45(11),
1997; A. Graves, A. Mohamed & G. Hinton, "Speech Recognition with Deep Recurrent Neural
Networks", ICASSP 2013, arXiv:1303.5778; dropout between layers: W. Zaremba, I. Sutskever &
O. Vinyals, "Recurrent Neural Network Regularization", 2014, arXiv:1409.2329.

Layer :math:`\ell` reads the output sequence of layer :math:`\ell - 1` (the input for
:math:`\ell = 1`), after dropout in training mode, and runs its cell forwards in time; a
bidirectional layer also runs a second cell backwards and concatenates:

.. math::

    \overrightarrow{h}^{\ell}_t = \mathrm{cell}(h^{\ell-1}_t, \overrightarrow{h}^{\ell}_{t-1}),\quad
    \overleftarrow{h}^{\ell}_t = \mathrm{cell}'(h^{\ell-1}_t, \overleftarrow{h}^{\ell}_{t+1}),\quad
    h^\ell_t = [\overrightarrow{h}^{\ell}_t ; \overleftarrow{h}^{\ell}_t]          \qquad (1)

The final state stacks, for each layer then each direction, the last state reached
(:math:`\overrightarrow{h}^\ell_L` and :math:`\overleftarrow{h}^\ell_1`).

:func:`recurrent_layer` is one direction of one layer: the input projection of all steps in one
product, then a Python loop over time applying ``rnn_step`` / ``lstm_step`` / ``gru_step``.
:func:`reference_forward` stacks layers and directions (Eq. 1). It works on plain weight lists,
time-major; the module :class:`~replearn.sequence.rnn.RNNBase` (``fast=False``) validates shapes
and calls it, and its fast path (:mod:`replearn.sequence.rnn.fast`) is tested equal to it.

Tests: :func:`reference_forward` with the weights of ``torch.nn.RNN/LSTM/GRU`` equals their
output and final states in float64 on random shapes (hypothesis: 1-3 layers, bidirectional);
:func:`recurrent_layer` in reverse equals the forward direction on the time-flipped input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from replearn.sequence.rnn.cell_equations import gru_step, lstm_step, rnn_step

__all__ = ["State", "recurrent_layer", "reference_forward"]

State = Tensor | tuple[Tensor, Tensor]
"""The state of a recurrent network: ``h``, or ``(h, c)`` for an LSTM."""


def recurrent_layer(
    mode: str,
    x: Tensor,
    h: Tensor,
    c: Tensor | None,
    weights: list[Tensor | None],
    *,
    reverse: bool = False,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """One direction of one layer: the cell of ``mode`` applied along time (Eq. 1).

    Args:
        mode: 'RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU'.
        x: the layer's input sequence.
        h, c: initial hidden (and, for LSTM, cell) state.
        weights: ``[weight_ih, weight_hh, bias_ih, bias_hh]`` (biases may be None).
        reverse: run from the last step to the first.

    Shape:
        x: (L, B, I), h, c: (B, H) -> outputs (L, B, H), h_L (B, H), c_L (B, H) or None.
    """
    w_ih, w_hh, b_ih, b_hh = weights
    # Input projections of every step in one product, then split into steps with `unbind`
    # (one backward node; indexing ax[t] would scatter a full-size gradient at every step).
    ax = F.linear(x, w_ih, b_ih).unbind(0)  # L tensors (B, G·H)
    steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    outputs: list[Tensor] = [h] * x.shape[0]
    for t in steps:
        if mode == "LSTM":
            h, c = lstm_step(ax[t], h, c, w_hh, b_hh)
        elif mode == "GRU":
            h = gru_step(ax[t], h, w_hh, b_hh)
        else:
            h = rnn_step(ax[t], h, w_hh, b_hh, "tanh" if mode == "RNN_TANH" else "relu")
        outputs[t] = h
    return torch.stack(outputs), h, c


def reference_forward(
    mode: str,
    x: Tensor,
    hx: State,
    weights: list[list[Tensor | None]],
    *,
    dropout: float = 0.0,
    training: bool = False,
    bidirectional: bool = False,
) -> tuple[Tensor, State]:
    """The readable stacked (bi)directional loop (Eq. 1), time-major.

    ``weights[layer * D + direction]`` is that cell's ``[w_ih, w_hh, b_ih, b_hh]``.

    Shape:
        x: (L, B, I); hx: (num_layers·D, B, H), a pair for LSTM -> (L, B, D·H) and states like hx.
    """
    num_dirs = 2 if bidirectional else 1
    h0, c0 = hx if mode == "LSTM" else (hx, None)
    num_layers = len(weights) // num_dirs
    h_n: list[Tensor] = []
    c_n: list[Tensor] = []
    layer_input = x  # (L, B, I)
    for layer in range(num_layers):
        if layer > 0:
            layer_input = F.dropout(layer_input, dropout, training)  # between layers only
        outs = []
        for d in range(num_dirs):
            k = layer * num_dirs + d
            c_k = c0[k] if c0 is not None else None
            out, h, c = recurrent_layer(
                mode, layer_input, h0[k], c_k, weights[k], reverse=d == 1
            )  # (L, B, H)
            outs.append(out)
            h_n.append(h)
            if c is not None:
                c_n.append(c)
        layer_input = torch.cat(outs, dim=-1)  # (L, B, D·H)
    states: State = (torch.stack(h_n), torch.stack(c_n)) if mode == "LSTM" else torch.stack(h_n)
    return layer_input, states
