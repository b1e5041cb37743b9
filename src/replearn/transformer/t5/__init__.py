"""T5, the text-to-text encoder-decoder, and span corruption (Raffel et al. 2020).

Modules: ``model``, ``layers``, ``span_corruption``, ``hf``. The public names of each are
exported here.
"""

from replearn.transformer.t5.hf import (
    config_from_hf,
    key_map,
    t5_from_hf,
)
from replearn.transformer.t5.layers import (
    T5Attention,
    T5Block,
    T5Config,
    T5FeedForward,
    T5LayerNorm,
    T5Stack,
    feed_forward,
    rms_layer_norm,
    t5_attention,
)
from replearn.transformer.t5.model import (
    T5,
    seq2seq_loss,
    shift_right,
)
from replearn.transformer.t5.span_corruption import (
    corrupt_spans,
    noise_span_counts,
    random_composition,
    random_spans_noise_mask,
    reconstruct,
    sentinel_ids,
    span_corruption,
    span_lengths,
)

__all__ = [
    "T5",
    "T5Attention",
    "T5Block",
    "T5Config",
    "T5FeedForward",
    "T5LayerNorm",
    "T5Stack",
    "config_from_hf",
    "corrupt_spans",
    "feed_forward",
    "key_map",
    "noise_span_counts",
    "random_composition",
    "random_spans_noise_mask",
    "reconstruct",
    "rms_layer_norm",
    "sentinel_ids",
    "seq2seq_loss",
    "shift_right",
    "span_corruption",
    "span_lengths",
    "t5_attention",
    "t5_from_hf",
]
