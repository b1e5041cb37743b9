"""Sequence to sequence: encoder-decoder RNNs, Bahdanau/Luong attention, greedy and beam search.

Modules: ``model``, ``attention``, ``search``. The public names of each are exported here.
"""

from replearn.sequence.seq2seq.attention import (
    AdditiveAttention,
    additive_scores,
    attention_context,
    masked_softmax,
    project_scores,
)
from replearn.sequence.seq2seq.model import (
    Seq2Seq,
    decoder_inputs,
    length_mask,
    sequence_nll,
)
from replearn.sequence.seq2seq.search import (
    beam_search,
    greedy_search,
    length_normalised,
)

__all__ = [
    "AdditiveAttention",
    "Seq2Seq",
    "additive_scores",
    "attention_context",
    "beam_search",
    "decoder_inputs",
    "greedy_search",
    "length_mask",
    "length_normalised",
    "masked_softmax",
    "project_scores",
    "sequence_nll",
]
