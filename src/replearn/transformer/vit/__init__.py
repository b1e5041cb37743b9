"""The Vision Transformer (Dosovitskiy et al. 2021).

Modules: ``model``, ``hf``. The public names of each are exported here.
"""

from replearn.transformer.vit.hf import (
    load_hf_tensors,
    vit_hf_keys,
)
from replearn.transformer.vit.model import (
    MLP,
    EncoderBlock,
    PatchEmbedding,
    ViT,
    num_patches,
    patchify,
    unpatchify,
)

__all__ = [
    "MLP",
    "EncoderBlock",
    "PatchEmbedding",
    "ViT",
    "load_hf_tensors",
    "num_patches",
    "patchify",
    "unpatchify",
    "vit_hf_keys",
]
