"""Sequence models (course chapter 6): recurrent networks, Seq2Seq, ELMo, state spaces, Mamba.

One folder per family: ``rnn/`` (cells and their equations, RNN/LSTM/GRU layers with
reference and fused paths, initialization, clipping, BiRNN, ELMo), ``seq2seq/`` (encoder-
decoder, attention, search), ``ssm/`` (continuous SSMs, HiPPO-LegS, S4/S4D), ``mamba/``
(selective scan, Mamba, the Hugging Face converter). The main classes are exported here::

    from replearn.sequence import LSTM
    lstm = LSTM(8, 16, batch_first=True)  # a drop-in for torch.nn.LSTM
"""

from replearn.sequence.mamba import MambaLM, MambaModel
from replearn.sequence.rnn import GRU, LSTM, RNN, BiLM, BiRNN, GRUCell, LSTMCell, RNNCell
from replearn.sequence.seq2seq import Seq2Seq
from replearn.sequence.ssm import S4Layer, S4Model

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "BiLM",
    "BiRNN",
    "GRUCell",
    "LSTMCell",
    "MambaLM",
    "MambaModel",
    "RNNCell",
    "S4Layer",
    "S4Model",
    "Seq2Seq",
]
