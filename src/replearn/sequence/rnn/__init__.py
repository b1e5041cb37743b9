"""Recurrent networks: cells and their equations, RNN/LSTM/GRU layers (drop-ins for torch.nn;
reference and fused paths), initialization, gradient clipping, bidirectional RNNs, ELMo.

Modules: ``layers``, ``cells``, ``cell_equations``, ``reference``, ``fast``, ``init``,
``clipping``, ``birnn``, ``elmo``. The public names of each are exported here.
"""

from replearn.sequence.rnn.birnn import (
    BiRNN,
    birnn_output,
    reverse_padded,
)
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
from replearn.sequence.rnn.cells import (
    GRUCell,
    LSTMCell,
    RNNCell,
)
from replearn.sequence.rnn.clipping import (
    clip_by_global_norm,
    clip_by_value,
    clip_grad_norm,
    clip_grad_value,
    global_norm,
)
from replearn.sequence.rnn.elmo import (
    BiLM,
    ScalarMix,
    bilm_nll,
    scalar_mix,
)
from replearn.sequence.rnn.fast import (
    fused_forward,
)
from replearn.sequence.rnn.init import (
    init_recurrent_,
    orthogonal,
    orthogonal_,
    scale_spectral_radius,
    spectral_radius,
)
from replearn.sequence.rnn.layers import (
    GRU,
    LSTM,
    RNN,
    RNNBase,
)
from replearn.sequence.rnn.reference import (
    recurrent_layer,
    reference_forward,
)

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "BiLM",
    "BiRNN",
    "GRUCell",
    "LSTMCell",
    "RNNBase",
    "RNNCell",
    "ScalarMix",
    "bilm_nll",
    "birnn_output",
    "clip_by_global_norm",
    "clip_by_value",
    "clip_grad_norm",
    "clip_grad_value",
    "fused_forward",
    "global_norm",
    "gru_candidate",
    "gru_hidden",
    "gru_hidden_course",
    "gru_reset_gate",
    "gru_step",
    "gru_update_gate",
    "init_recurrent_",
    "lstm_cell_candidate",
    "lstm_cell_state",
    "lstm_forget_gate",
    "lstm_gates",
    "lstm_hidden",
    "lstm_input_gate",
    "lstm_output_gate",
    "lstm_step",
    "orthogonal",
    "orthogonal_",
    "recurrent_layer",
    "reference_forward",
    "reverse_padded",
    "rnn_hidden",
    "rnn_step",
    "scalar_mix",
    "scale_spectral_radius",
    "spectral_radius",
]
