"""GPT, a decoder-only transformer (Radford et al. 2018/2019), nanoGPT-style.

Modules: ``model``, ``layers``, ``hf``. The public names of each are exported here.
"""

from replearn.transformer.gpt.hf import (
    config_from_hf,
    config_to_hf,
    gpt_from_hf,
    gpt_to_hf,
)
from replearn.transformer.gpt.layers import (
    MLP,
    Block,
    CausalSelfAttention,
    GPTConfig,
    merge_heads,
    split_heads,
)
from replearn.transformer.gpt.model import (
    GPT,
    lm_loss,
    mfu,
)

__all__ = [
    "GPT",
    "MLP",
    "Block",
    "CausalSelfAttention",
    "GPTConfig",
    "config_from_hf",
    "config_to_hf",
    "gpt_from_hf",
    "gpt_to_hf",
    "lm_loss",
    "merge_heads",
    "mfu",
    "split_heads",
]
