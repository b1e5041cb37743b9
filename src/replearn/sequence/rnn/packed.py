r"""Variable-length batches (``PackedSequence``) and LSTM projections for :mod:`~.layers`.

Papers: LSTM with a recurrent projection layer: H. Sak, A. Senior & F. Beaufays, "Long Short-Term
Memory Based Recurrent Neural Network Architectures for Large Vocabulary Speech Recognition",
2014, arXiv:1402.1128 (LSTMP); the stacked, bidirectional loop of :mod:`~.reference` (Schuster &
Paliwal 1997; Graves et al. 2013, arXiv:1303.5778).

**Projection** (``proj_size = P > 0``, LSTM only). The LSTM cell of
:func:`~replearn.sequence.rnn.lstm_step` keeps a cell state of ``H`` features but the state it
passes on (to the next step and to the next layer) is projected to ``P < H`` features:

.. math::

    h_t = W_{hr}\,\big(o_t \odot \tanh(c_t)\big), \qquad W_{hr} \in \mathbb R^{P\times H}
    \qquad (1)

so ``weight_hh`` is ``(4H, P)`` and the next layer reads ``D·P`` features.

**Variable lengths.** Sequence ``b`` of a batch has ``n_b \le L`` steps. Its forward direction
must stop at step ``n_b`` and its reverse direction must *start* at step ``n_b`` (not at the
padding): with the mask :math:`m_{t,b} = [t < n_b]`, both directions update only where the mask
is on,

.. math::

    h_{t,b} = m_{t,b}\,\mathrm{cell}(x_{t,b}, h_{t\mp1,b}) + (1 - m_{t,b})\,h_{t\mp1,b}
    \qquad (2)

so the forward state carried past ``n_b`` and the reverse state carried down to ``n_b`` are the
initial ones; ``h_n`` of each sequence is the state at its true end (``t = n_b`` forwards, ``t = 1``
backwards), exactly as torch's packed kernels. Outputs at padding are 0.

:func:`masked_recurrent_layer` and :func:`varlen_reference_forward` are the reference path
(Python loop over time, Eqs. 1-2); :func:`packed_fused_forward` is the fast path (torch's fused
kernel over ``(data, batch_sizes)``, the same call ``torch.nn.LSTM`` makes);
:func:`unpack` / :func:`repack` convert between a ``PackedSequence`` and a time-major padded
batch in the *original* batch order.

Tests (tests/dropins/test_rnn_dropins.py): both paths against ``torch.nn.RNN/LSTM/GRU`` with
copied weights, float64, packed (sorted and unsorted) and padded inputs, ``proj_size`` 0 and > 0,
outputs, final states and the gradients of inputs, initial states and every parameter.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import _VF, Tensor
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from replearn.sequence.rnn.cell_equations import gru_step, lstm_step, rnn_step
from replearn.sequence.rnn.reference import State

__all__ = [
    "masked_recurrent_layer",
    "packed_fused_forward",
    "repack",
    "unpack",
    "varlen_reference_forward",
]


def unpack(seq: PackedSequence) -> tuple[Tensor, Tensor]:
    """A packed batch as time-major padding (zeros) in the original order, and its lengths.

    Shape:
        seq.data: (sum n_b, I) -> (L, B, I) and lengths (B,) int64 (on the CPU).
    """
    padded, lengths = pad_packed_sequence(seq, batch_first=False)
    return padded, lengths


def repack(padded: Tensor, like: PackedSequence) -> PackedSequence:
    """Pack a time-major padded batch (original order) with the layout of ``like``.

    Step ``t`` of the packed data holds the rows ``sorted_indices[:batch_sizes[t]]``.

    Shape:
        padded: (L, B, F) -> a PackedSequence with data (sum n_b, F).
    """
    order = like.sorted_indices
    if order is None:
        order = torch.arange(padded.shape[1], device=padded.device)
    sizes = like.batch_sizes.tolist()
    data = torch.cat([padded[t, order[:n]] for t, n in enumerate(sizes)])
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)


def masked_recurrent_layer(
    mode: str,
    x: Tensor,
    lengths: Tensor | None,
    h: Tensor,
    c: Tensor | None,
    weights: list[Tensor | None],
    *,
    reverse: bool = False,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """One direction of one layer over sequences of lengths ``lengths`` (Eqs. 1-2).

    Args:
        mode: 'RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU'.
        x: the layer's input, time-major, zero-padded.
        lengths: steps of each sequence (None: all ``L``).
        h, c: initial states (``c`` for LSTM only).
        weights: ``[w_ih, w_hh, b_ih, b_hh, w_hr]`` (biases and ``w_hr`` may be None).
        reverse: run from each sequence's last step to its first.

    Shape:
        x: (L, B, I); h: (B, P or H); c: (B, H) -> outputs (L, B, P or H) (0 at padding),
        the states at each sequence's end.
    """
    w_ih, w_hh, b_ih, b_hh, w_hr = weights
    ax = F.linear(x, w_ih, b_ih).unbind(0)  # L tensors (B, G·H)
    steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    outputs: list[Tensor] = [h] * x.shape[0]
    for t in steps:
        if mode == "LSTM":
            h_new, c_new = lstm_step(ax[t], h, c, w_hh, b_hh)
            if w_hr is not None:
                h_new = F.linear(h_new, w_hr)  # Eq. (1)
        elif mode == "GRU":
            h_new, c_new = gru_step(ax[t], h, w_hh, b_hh), None
        else:
            act = "tanh" if mode == "RNN_TANH" else "relu"
            h_new, c_new = rnn_step(ax[t], h, w_hh, b_hh, act), None
        if lengths is None:
            h, c, outputs[t] = h_new, c_new, h_new
            continue
        on = (t < lengths).to(x.device)[:, None]  # m_t of Eq. (2), (B, 1)
        h = torch.where(on, h_new, h)
        c = torch.where(on, c_new, c) if c is not None and c_new is not None else c
        outputs[t] = torch.where(on, h_new, torch.zeros_like(h_new))
    return torch.stack(outputs), h, c


def varlen_reference_forward(
    mode: str,
    x: Tensor,
    lengths: Tensor | None,
    hx: State,
    weights: list[list[Tensor | None]],
    *,
    dropout: float = 0.0,
    training: bool = False,
    bidirectional: bool = False,
) -> tuple[Tensor, State]:
    """The stacked (bi)directional loop over padded sequences of given lengths (Eqs. 1-2).

    ``weights[layer * D + direction]`` is that cell's ``[w_ih, w_hh, b_ih, b_hh, w_hr]``.

    Shape:
        x: (L, B, I); lengths: (B,) or None; hx: (num_layers·D, B, P or H), for LSTM a pair
        with c_0 (num_layers·D, B, H) -> (L, B, D·(P or H)) and states like hx.
    """
    num_dirs = 2 if bidirectional else 1
    h0, c0 = hx if mode == "LSTM" else (hx, None)
    h_n: list[Tensor] = []
    c_n: list[Tensor] = []
    layer_input = x
    for layer in range(len(weights) // num_dirs):
        if layer > 0:
            layer_input = F.dropout(layer_input, dropout, training)  # between layers only
        outs = []
        for d in range(num_dirs):
            k = layer * num_dirs + d
            c_k = c0[k] if c0 is not None else None
            out, h, c = masked_recurrent_layer(
                mode, layer_input, lengths, h0[k], c_k, weights[k], reverse=d == 1
            )
            outs.append(out)
            h_n.append(h)
            if c is not None:
                c_n.append(c)
        layer_input = torch.cat(outs, dim=-1)  # (L, B, D·H)
    states: State = (torch.stack(h_n), torch.stack(c_n)) if mode == "LSTM" else torch.stack(h_n)
    return layer_input, states


def packed_fused_forward(
    mode: str,
    seq: PackedSequence,
    hx: State,
    flat_weights: list[Tensor],
    *,
    bias: bool,
    num_layers: int,
    dropout: float,
    training: bool,
    bidirectional: bool,
) -> tuple[PackedSequence, State]:
    """Fast path on a packed batch: torch's fused kernel over ``(data, batch_sizes)``.

    ``hx`` is in the original batch order; the kernel works in the sorted order, so the states
    are permuted in (``sorted_indices``) and out (``unsorted_indices``), as ``torch.nn`` does.

    Shape:
        seq.data: (sum n_b, I); hx: (num_layers·D, B, ·) -> data (sum n_b, D·(P or H)), states.
    """

    def permute(s: Tensor, index: Tensor | None) -> Tensor:
        return s if index is None else s.index_select(1, index)

    data, sizes, order, inverse = (
        seq.data,
        seq.batch_sizes,
        seq.sorted_indices,
        seq.unsorted_indices,
    )
    args = (bias, num_layers, float(dropout), training, bidirectional)
    if mode == "LSTM":
        h0, c0 = (permute(s, order) for s in hx)
        out, h_n, c_n = _VF.lstm(data, sizes, (h0, c0), flat_weights, *args)
        states: State = (permute(h_n, inverse), permute(c_n, inverse))
    else:
        kernel = {"RNN_TANH": _VF.rnn_tanh, "RNN_RELU": _VF.rnn_relu, "GRU": _VF.gru}[mode]
        out, h_n = kernel(data, sizes, permute(hx, order), flat_weights, *args)  # type: ignore[arg-type]
        states = permute(h_n, inverse)
    return PackedSequence(out, sizes, order, inverse), states
