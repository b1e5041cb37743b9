"""Loading ``transformers`` T5 weights into :class:`~replearn.transformer.t5.T5`.

Hugging Face nests each block's sub-layers as ``block.N.layer.M`` (0 self-attention, 1
cross-attention in the decoder, last the feed-forward), keeps the relative-bias table in the
first block's self-attention, and calls the feed-forward ``DenseReluDense``. :func:`key_map`
writes the one-to-one correspondence of our names and theirs for a configuration; loading is
strict (every tensor of ours is found with the same shape, every tensor of theirs is used,
apart from the copies of the shared embedding).

Tying: ``transformers`` 5 always ties ``lm_head`` to ``shared`` and keeps the
:math:`d_{model}^{-1/2}` output scale as ``config.scale_decoder_outputs`` (False for
T5.1.1-style checkpoints, saved with ``tie_word_embeddings=False``). We tie when theirs is
tied and scale when they do; an untied head is copied.

Nothing here imports ``transformers``: :func:`t5_from_hf` only reads the model given.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from replearn.transformer.t5.model import T5, T5Config

__all__ = ["config_from_hf", "key_map", "t5_from_hf"]


def config_from_hf(hf_config: Any, *, tied: bool = True) -> T5Config:
    """The :class:`T5Config` of a ``transformers`` ``T5Config``.

    Raises:
        ValueError: for a feed-forward activation :class:`T5` does not implement.
    """
    c = hf_config
    proj = c.feed_forward_proj
    if proj not in ("relu", "gelu", "gated-relu", "gated-gelu"):
        raise ValueError(f"unsupported feed_forward_proj {proj!r}")
    if proj == "gelu" and getattr(c, "dense_act_fn", "gelu") != "gelu":
        raise ValueError(f"unsupported dense_act_fn {c.dense_act_fn!r}")
    start = getattr(c, "decoder_start_token_id", None)
    return T5Config(
        vocab_size=c.vocab_size,
        d_model=c.d_model,
        d_kv=c.d_kv,
        d_ff=c.d_ff,
        num_layers=c.num_layers,
        num_decoder_layers=c.num_decoder_layers,
        num_heads=c.num_heads,
        relative_attention_num_buckets=c.relative_attention_num_buckets,
        relative_attention_max_distance=c.relative_attention_max_distance,
        dropout_rate=float(c.dropout_rate),
        layer_norm_epsilon=c.layer_norm_epsilon,
        feed_forward_proj=proj,
        tie_word_embeddings=tied,
        scale_logits=bool(getattr(c, "scale_decoder_outputs", tied)),
        pad_token_id=c.pad_token_id if c.pad_token_id is not None else 0,
        eos_token_id=c.eos_token_id if isinstance(c.eos_token_id, int) else 1,
        decoder_start_token_id=start if start is not None else (c.pad_token_id or 0),
    )


def key_map(cfg: T5Config) -> dict[str, str]:
    """Our state-dict key -> the ``T5ForConditionalGeneration`` one (``lm_head`` excluded)."""
    ffn = ("wi_0", "wi_1", "wo") if cfg.feed_forward_proj.startswith("gated-") else ("wi", "wo")
    out = {"shared.weight": "shared.weight"}
    for stack, n in (("encoder", cfg.num_layers), ("decoder", cfg.num_decoder_layers)):
        bias = "relative_bias.relative_attention_bias.weight"
        out[f"{stack}.{bias}"] = (
            f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"
        )
        out[f"{stack}.ln_f.weight"] = f"{stack}.final_layer_norm.weight"
        for i in range(n):  # type: ignore[arg-type]
            ours, theirs = f"{stack}.blocks.{i}", f"{stack}.block.{i}.layer"
            subs = [("self_attn", "ln_self", "0.SelfAttention", "0.layer_norm")]
            if stack == "decoder":
                subs.append(("cross_attn", "ln_cross", "1.EncDecAttention", "1.layer_norm"))
            for attn, ln, their_attn, their_ln in subs:
                for p in "qkvo":
                    out[f"{ours}.{attn}.{p}.weight"] = f"{theirs}.{their_attn}.{p}.weight"
                out[f"{ours}.{ln}.weight"] = f"{theirs}.{their_ln}.weight"
            last = 2 if stack == "decoder" else 1
            for p in ffn:
                out[f"{ours}.ff.{p}.weight"] = f"{theirs}.{last}.DenseReluDense.{p}.weight"
            out[f"{ours}.ln_ff.weight"] = f"{theirs}.{last}.layer_norm.weight"
    return out


def t5_from_hf(hf_model: nn.Module) -> T5:
    """A :class:`T5` with the config and a copy of every tensor of a ``transformers`` T5.

    Args:
        hf_model: ``T5ForConditionalGeneration`` or ``T5Model`` (the latter has no head:
            ours is then tied to the shared embedding).

    Returns:
        The model, in the train/eval mode of ``hf_model``.
    """
    head = getattr(hf_model, "lm_head", None)
    tied = head is None or head.weight.data_ptr() == hf_model.shared.weight.data_ptr()
    model = T5(config_from_hf(hf_model.config, tied=tied))
    theirs = dict(hf_model.state_dict())
    for k in ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight"):
        theirs.pop(k, None)  # copies of shared.weight
    if tied:
        theirs.pop("lm_head.weight", None)
    mapping = key_map(model.cfg)
    if not tied:
        mapping["lm_head.weight"] = "lm_head.weight"
    ours = {k: v for k, v in model.state_dict().items() if tied is False or k != "lm_head.weight"}
    missing = sorted(set(ours) - set(mapping)) + sorted(set(mapping.values()) - set(theirs))
    unused = sorted(set(theirs) - set(mapping.values()))
    if missing or unused:
        raise ValueError(f"state dicts differ: missing {missing}, unused {unused}")
    with torch.no_grad():
        for k, t in ours.items():
            src = theirs[mapping[k]]
            if src.shape != t.shape:
                raise ValueError(f"{k}: shape {tuple(src.shape)} != ours {tuple(t.shape)}")
            t.copy_(src)
    return model.train(hf_model.training)
