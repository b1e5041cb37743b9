"""BERT and its family: RoBERTa settings, ALBERT, DistilBERT, masked-LM data.

Modules: ``model``, ``layers``, ``albert``, ``distil``, ``mlm``, ``hf``. The public names of
each are exported here.
"""

from replearn.transformer.bert.albert import (
    ALBERT,
    albert_num_parameters,
)
from replearn.transformer.bert.distil import (
    cosine_loss,
    distillation_loss,
    soft_cross_entropy,
    student_from_teacher,
)
from replearn.transformer.bert.hf import (
    albert_from_hf,
    bert_from_hf,
    hf_key,
    load_mapped,
)
from replearn.transformer.bert.layers import (
    EncoderLayer,
    bert_num_parameters,
    cls_pool,
    embed,
    mlm_logits,
    padding_mask,
    post_ln,
    pretraining_loss,
    roberta_position_ids,
    select_labelled,
)
from replearn.transformer.bert.mlm import (
    MLMCollator,
    encode_pair,
    mask_tokens,
    masking_statistics,
    nsp_pairs,
    pad_pairs,
    select_tokens,
    sop_pairs,
)
from replearn.transformer.bert.model import (
    BERT,
)

__all__ = [
    "ALBERT",
    "BERT",
    "EncoderLayer",
    "MLMCollator",
    "albert_from_hf",
    "albert_num_parameters",
    "bert_from_hf",
    "bert_num_parameters",
    "cls_pool",
    "cosine_loss",
    "distillation_loss",
    "embed",
    "encode_pair",
    "hf_key",
    "load_mapped",
    "mask_tokens",
    "masking_statistics",
    "mlm_logits",
    "nsp_pairs",
    "pad_pairs",
    "padding_mask",
    "post_ln",
    "pretraining_loss",
    "roberta_position_ids",
    "select_labelled",
    "select_tokens",
    "soft_cross_entropy",
    "sop_pairs",
    "student_from_teacher",
]
