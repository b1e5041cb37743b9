"""Loading ``transformers`` weights into :mod:`replearn.transformer.vit.model` (and Swin).

:func:`vit_hf_keys` names, for each tensor of :class:`~replearn.transformer.vit.ViT`, the
``transformers`` ``ViTModel`` / ``ViTForImageClassification`` tensors it is made of (the fused
``qkv`` is the concatenation of the query, key and value projections); :func:`load_hf_tensors`
copies them, strictly both ways (also used by :mod:`replearn.transformer.swin.hf`).

Tests (``tests/transformer/test_vit_hf.py``): every ViT key maps to existing tensors and every
tensor is used once; a missing, mis-shaped or unused tensor raises; ``ViT.from_hf`` equals
``transformers`` (``tests/transformer/test_vit.py``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["HF_ACTIVATIONS", "load_hf_tensors", "vit_hf_keys"]


HF_ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh"}
"""``transformers`` ``hidden_act`` -> our ``act``."""


def vit_hf_keys(ours: str, p: str) -> list[str]:
    """The ``transformers`` ViT keys whose concatenation is our tensor ``ours`` (``p``: the
    ``"vit."`` prefix of a model with a head, else empty)."""
    parts = ours.split(".")
    if parts[0] == "blocks":
        i, name, leaf = parts[1], ".".join(parts[2:-1]), parts[-1]
        layer = f"{p}layers.{i}."
        if name == "qkv":
            return [f"{layer}attention.{x}_proj.{leaf}" for x in "qkv"]
        table = {
            "norm1": "layernorm_before",
            "norm2": "layernorm_after",
            "proj": "attention.o_proj",
        }
        return [f"{layer}{table.get(name, name)}.{leaf}"]  # mlp.fc1 / mlp.fc2 keep their names
    table = {"patch_embed.proj": f"{p}embeddings.patch_embeddings.projection", "norm": "layernorm",
             "pooler": "pooler.dense", "head": "classifier"}  # fmt: skip
    if ours in ("cls_token", "pos_embed"):
        return [f"{p}embeddings.{'cls_token' if ours == 'cls_token' else 'position_embeddings'}"]
    name, leaf = ours.rsplit(".", 1)
    prefix = "" if name in ("patch_embed.proj", "head") else p
    return [f"{prefix}{table[name]}.{leaf}"]


def load_hf_tensors(model: nn.Module, theirs: dict[str, Any], source: Any, reshape=()) -> None:
    """Copy ``cat(theirs[k] for k in source(key))`` into each tensor ``key`` of ``model``.

    Strict both ways: a missing or mis-shaped tensor (unless its key is in ``reshape``) or an
    unused tensor of theirs (relative position indices aside: not state) raises ValueError.
    """
    used: set[str] = set()
    with torch.no_grad():
        for k, t in model.state_dict().items():
            keys = source(k)
            if any(key not in theirs for key in keys):
                raise ValueError(f"{k}: no {keys} in the transformers model")
            src = torch.cat([theirs[key] for key in keys]) if len(keys) > 1 else theirs[keys[0]]
            if k in reshape and src.numel() == t.numel():
                src = src.reshape(t.shape)
            if src.shape != t.shape:
                raise ValueError(f"{k} <- {keys}: shape {tuple(src.shape)} != {tuple(t.shape)}")
            t.copy_(src)
            used.update(keys)
    if unused := {k for k in set(theirs) - used if not k.endswith("relative_position_index")}:
        raise ValueError(f"tensors of the transformers model not used: {sorted(unused)[:5]}")
