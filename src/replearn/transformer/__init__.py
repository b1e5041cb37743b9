"""Transformers (course chapter 7): attention, position encodings, decoding, tokenizers, models.

One folder per model family, each with its model, its layers and its Hugging Face converter
(``hf.py``: ``from_hf`` / ``to_hf``): ``gpt/``, ``bert/`` (with ALBERT, DistilBERT and the
masked-LM data), ``t5/`` (with span corruption), ``vit/``, ``swin/``; shared modules
``attention``, ``positions``, ``decoding``, ``tokenizers`` and ``transformer_xl``. The main
classes are exported here::

    from replearn.transformer import GPT, GPTConfig
    model = GPT(GPTConfig(n_layer=4, n_head=4, n_embd=128, block_size=128, vocab_size=65))
"""

from replearn.transformer.attention import MultiHeadAttention, scaled_dot_product_attention
from replearn.transformer.bert import ALBERT, BERT
from replearn.transformer.gpt import GPT, GPTConfig
from replearn.transformer.swin import Swin
from replearn.transformer.t5 import T5, T5Config
from replearn.transformer.tokenizers import BPETokenizer, CharTokenizer, WordTokenizer
from replearn.transformer.transformer_xl import TransformerXL
from replearn.transformer.vit import ViT

__all__ = [
    "ALBERT",
    "BERT",
    "GPT",
    "T5",
    "BPETokenizer",
    "CharTokenizer",
    "GPTConfig",
    "MultiHeadAttention",
    "Swin",
    "T5Config",
    "TransformerXL",
    "ViT",
    "WordTokenizer",
    "scaled_dot_product_attention",
]
