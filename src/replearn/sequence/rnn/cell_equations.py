r"""The equations of the recurrent cells (Elman RNN, LSTM, GRU): one pure function each.

Papers: J. L. Elman, "Finding Structure in Time", Cognitive Science 14, 1990; S. Hochreiter &
J. Schmidhuber, "Long Short-Term Memory", Neural Computation 9(8), 1997, with the forget gate of
F. A. Gers, J. Schmidhuber & F. Cummins, "Learning to Forget", 2000; K. Cho, B. van Merriënboer,
C. Gulcehre, D. Bahdanau, F. Bougares, H. Schwenk & Y. Bengio, "Learning Phrase Representations
using RNN Encoder-Decoder for Statistical Machine Translation", EMNLP 2014, arXiv:1406.1078.

Every cell first projects the input, :math:`a^x = W_{ih} x_t + b_{ih}`, and the previous state,
:math:`a^h = W_{hh} h_{t-1} + b_{hh}` (gate blocks stacked along the rows, in torch's order), then
applies the equations below (:math:`\sigma` the logistic sigmoid, :math:`\odot` elementwise).

Elman RNN (:func:`rnn_hidden`):

.. math::

    h_t = \phi(a^x + a^h), \qquad \phi \in \{\tanh, \mathrm{ReLU}\}          \qquad (1)

LSTM, gates in the row order ``i, f, g, o`` (:func:`lstm_input_gate`, :func:`lstm_forget_gate`,
:func:`lstm_cell_candidate`, :func:`lstm_output_gate`, :func:`lstm_cell_state`,
:func:`lstm_hidden`):

.. math::

    i_t = \sigma(a^x_i + a^h_i),\ f_t = \sigma(a^x_f + a^h_f),\
    g_t = \tanh(a^x_g + a^h_g),\ o_t = \sigma(a^x_o + a^h_o)                  \qquad (2a-d)

    c_t = f_t \odot c_{t-1} + i_t \odot g_t                                    \qquad (3)

    h_t = o_t \odot \tanh(c_t)                                                 \qquad (4)

GRU, gates in the row order ``r, z, n`` (:func:`gru_reset_gate`, :func:`gru_update_gate`,
:func:`gru_candidate`, :func:`gru_hidden`):

.. math::

    r_t = \sigma(a^x_r + a^h_r)                                                \qquad (5)

    z_t = \sigma(a^x_z + a^h_z)                                                \qquad (6)

    \tilde h_t = n_t = \tanh\big(a^x_n + r_t \odot a^h_n\big)                  \qquad (7)

    h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}                              \qquad (8)

**The two GRU conventions.** The course (and Cho et al.'s Eq. 7 read with :math:`z` as the
weight of the *new* state) writes :math:`h_t = (1 - z_t) h_{t-1} + z_t \tilde h_t`; torch (and
this file, Eq. 8) lets :math:`z` weigh the *old* state. They are the same family with
:math:`z^{\text{course}}_t = 1 - z^{\text{torch}}_t`, i.e. the course's update gate has
pre-activation :math:`-(a^x_z + a^h_z)`: negate the ``z`` rows of both weights and biases to move
between them. We keep torch's layout so that ``state_dict`` s load both ways;
:func:`gru_hidden_course` is Eq. (8) written in the course's form and is tested equal.
Eq. (7) puts :math:`r_t` *after* the recurrent product (:math:`r \odot (W_{hn} h + b_{hn})`, as
cuDNN and torch do); Cho et al. put it before (:math:`W_{hn}(r \odot h)`), a small deviation.

The ``*_step`` functions chain the equations from an input projection :math:`a^x` that the
caller computes, so a sequence model can project all time steps at once
(:mod:`replearn.sequence.rnn.reference`); the modules over these functions are
:class:`~replearn.sequence.rnn.RNNCell`, ``LSTMCell`` and ``GRUCell``.

Tests: each ``*_step`` against ``torch.nn.RNNCell`` / ``LSTMCell`` / ``GRUCell`` (same weights,
float64, values and gradients); the LSTM equations by hand on saturated gates; ReLU Elman; the
course form of the GRU equals torch's with the update gate flipped (and differs without the flip).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "gru_candidate", "gru_hidden", "gru_hidden_course", "gru_reset_gate", "gru_step",
    "gru_update_gate", "lstm_cell_candidate", "lstm_cell_state", "lstm_forget_gate", "lstm_gates",
    "lstm_hidden", "lstm_input_gate", "lstm_output_gate", "lstm_step", "rnn_hidden", "rnn_step",
]  # fmt: skip


# -- Eq. (1): Elman RNN ---------------------------------------------------------------------
def rnn_hidden(ax: Tensor, ah: Tensor, nonlinearity: str = "tanh") -> Tensor:
    r"""Eq. (1): :math:`h_t = \phi(a^x + a^h)`.

    Shape:
        ax, ah: (B, H) -> (B, H).
    """
    a = ax + ah
    return torch.tanh(a) if nonlinearity == "tanh" else torch.relu(a)


def rnn_step(
    ax: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None, nonlinearity: str = "tanh"
) -> Tensor:
    """One Elman step from the input projection ``ax`` and the previous state ``h``.

    Shape:
        ax: (B, H), h: (B, H), w_hh: (H, H) -> (B, H).
    """
    return rnn_hidden(ax, F.linear(h, w_hh, b_hh), nonlinearity)


# -- Eqs. (2)-(4): LSTM -----------------------------------------------------------------------
def lstm_input_gate(ax_i: Tensor, ah_i: Tensor) -> Tensor:
    r"""Eq. (2a): :math:`i_t = \sigma(a^x_i + a^h_i)`, how much of the candidate to write.

    Shape:
        (B, H), (B, H) -> (B, H).
    """
    return torch.sigmoid(ax_i + ah_i)


def lstm_forget_gate(ax_f: Tensor, ah_f: Tensor) -> Tensor:
    r"""Eq. (2b): :math:`f_t = \sigma(a^x_f + a^h_f)`, how much of the old cell to keep.

    Shape:
        (B, H), (B, H) -> (B, H).
    """
    return torch.sigmoid(ax_f + ah_f)


def lstm_cell_candidate(ax_g: Tensor, ah_g: Tensor) -> Tensor:
    r"""Eq. (2c): :math:`g_t = \tanh(a^x_g + a^h_g)`, the candidate cell content.

    Shape:
        (B, H), (B, H) -> (B, H).
    """
    return torch.tanh(ax_g + ah_g)


def lstm_output_gate(ax_o: Tensor, ah_o: Tensor) -> Tensor:
    r"""Eq. (2d): :math:`o_t = \sigma(a^x_o + a^h_o)`, how much of the cell to expose.

    Shape:
        (B, H), (B, H) -> (B, H).
    """
    return torch.sigmoid(ax_o + ah_o)


def lstm_gates(ax: Tensor, ah: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Eqs. (2a-d) on the stacked projections: ``(i, f, g, o)``.

    Shape:
        ax, ah: (B, 4H) -> four (B, H).
    """
    ax_i, ax_f, ax_g, ax_o = ax.chunk(4, dim=-1)  # each (B, H)
    ah_i, ah_f, ah_g, ah_o = ah.chunk(4, dim=-1)
    return (
        lstm_input_gate(ax_i, ah_i),
        lstm_forget_gate(ax_f, ah_f),
        lstm_cell_candidate(ax_g, ah_g),
        lstm_output_gate(ax_o, ah_o),
    )


def lstm_cell_state(c: Tensor, i: Tensor, f: Tensor, g: Tensor) -> Tensor:
    r"""Eq. (3): :math:`c_t = f_t \odot c_{t-1} + i_t \odot g_t`.

    Shape:
        all (B, H) -> (B, H).
    """
    return f * c + i * g


def lstm_hidden(c: Tensor, o: Tensor) -> Tensor:
    r"""Eq. (4): :math:`h_t = o_t \odot \tanh(c_t)`.

    Shape:
        (B, H), (B, H) -> (B, H).
    """
    return o * torch.tanh(c)


def lstm_step(
    ax: Tensor, h: Tensor, c: Tensor, w_hh: Tensor, b_hh: Tensor | None
) -> tuple[Tensor, Tensor]:
    """One LSTM step (Eqs. 2a-d, 3, 4) from the input projection ``ax``; returns ``(h_t, c_t)``.

    Shape:
        ax: (B, 4H), h, c: (B, H), w_hh: (4H, H) -> two (B, H).
    """
    i, f, g, o = lstm_gates(ax, F.linear(h, w_hh, b_hh))
    c = lstm_cell_state(c, i, f, g)
    return lstm_hidden(c, o), c


# -- Eqs. (5)-(8): GRU ------------------------------------------------------------------------
def gru_reset_gate(ax_r: Tensor, ah_r: Tensor) -> Tensor:
    r"""Eq. (5): :math:`r_t = \sigma(a^x_r + a^h_r)`.

    Shape:
        (B, H), (B, H) -> (B, H).
    """
    return torch.sigmoid(ax_r + ah_r)


def gru_update_gate(ax_z: Tensor, ah_z: Tensor) -> Tensor:
    r"""Eq. (6): torch's update gate :math:`z_t = \sigma(a^x_z + a^h_z)` (course: ``1 - z_t``).

    Shape:
        (B, H), (B, H) -> (B, H).
    """
    return torch.sigmoid(ax_z + ah_z)


def gru_candidate(ax_n: Tensor, ah_n: Tensor, r: Tensor) -> Tensor:
    r"""Eq. (7): :math:`\tilde h_t = \tanh(a^x_n + r_t \odot a^h_n)`.

    Shape:
        (B, H), (B, H), (B, H) -> (B, H).
    """
    return torch.tanh(ax_n + r * ah_n)


def gru_hidden(h: Tensor, n: Tensor, z: Tensor) -> Tensor:
    r"""Eq. (8), torch's form: :math:`h_t = (1 - z_t) \odot \tilde h_t + z_t \odot h_{t-1}`.

    Shape:
        (B, H), (B, H), (B, H) -> (B, H).
    """
    return (1 - z) * n + z * h


def gru_hidden_course(h: Tensor, n: Tensor, z_course: Tensor) -> Tensor:
    r"""Eq. (8), the course's form: :math:`h_t = (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t`.

    With ``z_course = 1 - z_torch`` it equals :func:`gru_hidden`.

    Shape:
        (B, H), (B, H), (B, H) -> (B, H).
    """
    return (1 - z_course) * h + z_course * n


def gru_step(ax: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    """One GRU step (Eqs. 5-8) from the input projection ``ax``.

    Shape:
        ax: (B, 3H), h: (B, H), w_hh: (3H, H) -> (B, H).
    """
    ax_r, ax_z, ax_n = ax.chunk(3, dim=-1)  # each (B, H)
    ah_r, ah_z, ah_n = F.linear(h, w_hh, b_hh).chunk(3, dim=-1)
    r = gru_reset_gate(ax_r, ah_r)
    z = gru_update_gate(ax_z, ah_z)
    n = gru_candidate(ax_n, ah_n, r)
    return gru_hidden(h, n, z)
