"""Loading ``transformers`` Swin models into :class:`~replearn.transformer.swin.Swin` (``from_hf``).

:func:`swin_from_hf` reads the configuration of a ``SwinModel`` or
``SwinForImageClassification``, builds the same :class:`Swin` and copies every tensor, strict
both ways (:func:`hf_keys` names the tensors of theirs that make up each tensor of ours: the
fused ``qkv`` is their ``q_proj``, ``k_proj``, ``v_proj`` concatenated). Their relative position
indices are not state (recomputed from the window size), like ours.

Limits: ``transformers`` builds every relative position table at ``config.window_size`` and
fails when a stage's resolution is below it (its own clamping to one smaller window then
mismatches the table), so such configurations are refused here; ours clamps as the paper's
code does. Their stochastic depth skips the MLP branch; ours drops both branches (identical in
eval mode or with ``drop_path_rate=0``). Nothing here imports ``transformers``.
"""

from __future__ import annotations

import math
import re

from torch import nn

from replearn.transformer.swin.model import Swin
from replearn.transformer.vit.hf import HF_ACTIVATIONS, load_hf_tensors

__all__ = ["hf_keys", "swin_from_hf"]

_BLOCK = {
    "norm1": "layernorm_before",
    "norm2": "layernorm_after",
    "attn.proj": "attention.o_proj",
    "attn.bias_table": "attention.relative_position_bias.relative_position_bias_table",
    "mlp.fc1": "mlp.fc1",
    "mlp.fc2": "mlp.fc2",
}
_TOP = {
    "patch_embed": "embeddings.patch_embeddings.projection",
    "patch_norm": "embeddings.norm",
    "pos_embed": "embeddings.position_embeddings",
    "norm": "layernorm",
}


def hf_keys(ours: str, prefix: str) -> list[str]:
    """The ``transformers`` keys whose concatenation is our tensor ``ours``.

    Args:
        ours: e.g. ``"stages.1.blocks.0.attn.qkv.weight"``.
        prefix: ``"swin."`` inside ``SwinForImageClassification``, else ``""``.
    """
    if m := re.fullmatch(r"stages\.(\d+)\.blocks\.(\d+)\.(.+?)\.?(weight|bias|)", ours):
        base = f"{prefix}encoder.layers.{m[1]}.blocks.{m[2]}."
        if m[3] == "attn.bias_table":
            return [f"{base}{_BLOCK[m[3]]}"]
        if m[3] == "attn.qkv":
            return [f"{base}attention.{x}_proj.{m[4]}" for x in "qkv"]
        return [f"{base}{_BLOCK[m[3]]}.{m[4]}"]
    if m := re.fullmatch(r"stages\.(\d+)\.downsample\.(\w+\.\w+)", ours):
        return [f"{prefix}encoder.layers.{m[1]}.downsample.{m[2]}"]
    if ours.startswith("head."):
        return ["classifier." + ours.split(".", 1)[1]]
    name, _, leaf = ours.partition(".")
    return [f"{prefix}{_TOP[name]}" + (f".{leaf}" if leaf else "")]


def swin_from_hf(hf_model: nn.Module) -> Swin:
    """:class:`Swin` with the config and every tensor of a ``transformers`` Swin model.

    The train/eval mode is copied. A ``SwinModel`` gives ``num_classes=0``: :meth:`Swin.forward`
    is its ``pooler_output`` and :meth:`Swin.forward_features` its ``last_hidden_state``.
    """
    cfg, theirs = hf_model.config, hf_model.state_dict()
    if getattr(cfg, "model_type", None) != "swin":
        raise ValueError(f"expected a Swin model, got {getattr(cfg, 'model_type', None)!r}")
    prefix = "swin." if any(k.startswith("swin.") for k in theirs) else ""
    sizes = (cfg.image_size, cfg.patch_size)
    if not all(isinstance(s, int) for s in sizes) or cfg.hidden_act not in HF_ACTIVATIONS:
        raise ValueError(f"need int image/patch sizes and gelu, got {sizes}, {cfg.hidden_act}")
    res = math.ceil(cfg.image_size / cfg.patch_size)
    for _ in cfg.depths:
        if res < cfg.window_size:
            raise ValueError(
                f"a stage of resolution {res} < window {cfg.window_size}: transformers "
                "cannot run this configuration"
            )
        res = math.ceil(res / 2)
    if cfg.use_absolute_embeddings and cfg.image_size % cfg.patch_size:
        raise ValueError("absolute positions need image_size divisible by patch_size")
    model = Swin(
        image_size=cfg.image_size, patch_size=cfg.patch_size, in_chans=cfg.num_channels,
        num_classes=theirs["classifier.weight"].shape[0] if "classifier.weight" in theirs else 0,
        embed_dim=cfg.embed_dim, depths=cfg.depths, heads=cfg.num_heads,
        window_size=cfg.window_size, mlp_ratio=cfg.mlp_ratio, qkv_bias=cfg.qkv_bias,
        dropout=cfg.hidden_dropout_prob, attn_dropout=cfg.attention_probs_dropout_prob,
        drop_path_rate=cfg.drop_path_rate, eps=cfg.layer_norm_eps,
        act=HF_ACTIVATIONS[cfg.hidden_act], absolute_positions=cfg.use_absolute_embeddings,
    )  # fmt: skip
    load_hf_tensors(model, theirs, lambda k: hf_keys(k, prefix), reshape={"pos_embed"})
    return model.train(hf_model.training)
