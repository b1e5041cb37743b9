"""Fast path of :mod:`replearn.sequence.rnn.layers`: torch's fused multi-layer recurrent kernels.

``torch.nn.RNN/LSTM/GRU.forward`` end in one call to an ATen kernel, reached through
``torch._VF``: ``rnn_tanh``, ``rnn_relu``, ``lstm`` or ``gru``, each taking the input, the
initial state(s), the *flat* list of weights (for each layer, then each direction:
``weight_ih, weight_hh[, bias_ih, bias_hh]``), ``has_biases, num_layers, dropout, train,
bidirectional, batch_first``. On CPU this is a C++ loop over time (with the input projection of
all steps done at once); on CUDA it is cuDNN. :func:`fused_forward` calls that kernel with the
weights of our module in that order, so it computes the same function as the reference loop of
:func:`replearn.sequence.rnn.reference_forward` (tested equal in float64, values and
gradients).

Inter-layer dropout draws its masks inside the kernel, so with ``dropout > 0`` in training mode
the two paths agree in distribution only.
"""

from __future__ import annotations

from torch import _VF, Tensor

__all__ = ["fused_forward"]

_KERNELS = {"RNN_TANH": _VF.rnn_tanh, "RNN_RELU": _VF.rnn_relu, "GRU": _VF.gru}


def fused_forward(
    mode: str,
    x: Tensor,
    hx: Tensor | tuple[Tensor, Tensor],
    flat_weights: list[Tensor],
    *,
    bias: bool,
    num_layers: int,
    dropout: float,
    training: bool,
    bidirectional: bool,
    batch_first: bool,
) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
    """Run the fused kernel of ``mode`` ('RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU').

    Shape:
        x: (L, B, I) or (B, L, I) with ``batch_first``; hx: (num_layers·D, B, H), a pair for LSTM
        -> output (L, B, D·H) or (B, L, D·H), and the final state(s) like ``hx``.
    """
    args = (bias, num_layers, float(dropout), training, bidirectional, batch_first)
    if mode == "LSTM":
        out, h_n, c_n = _VF.lstm(x, tuple(hx), flat_weights, *args)
        return out, (h_n, c_n)
    out, h_n = _KERNELS[mode](x, hx, flat_weights, *args)
    return out, h_n
