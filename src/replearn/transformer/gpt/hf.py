"""Moving weights between :class:`~replearn.transformer.gpt.GPT` and ``transformers``' GPT-2.

:class:`GPT` uses GPT-2's parameter names (``transformer.wte``, ``transformer.wpe``,
``transformer.h.N.ln_1``, ``attn.c_attn``, ``attn.c_proj``, ``ln_2``, ``mlp.c_fc``,
``mlp.c_proj``, ``transformer.ln_f``, ``lm_head`` tied to ``wte``), so the state dicts have the
same keys. One difference: ``transformers`` stores its projections as ``Conv1D`` modules whose
weight is (in, out), where ``nn.Linear`` holds (out, in); those four weights are transposed on
the way in and out. Loading is strict both ways (every tensor of ours is found with the same
shape, every tensor of theirs is used, apart from the tied ``lm_head.weight`` and old
non-persistent mask buffers).

Configurations with a GPT-2 option that :class:`GPT` does not implement
(``scale_attn_by_inverse_layer_idx``, ``reorder_and_upcast_attn``, no attention scaling,
cross-attention, a custom ``n_inner``, another activation) are refused with a ``ValueError``.

Nothing here imports ``transformers`` at module level: :func:`gpt_from_hf` only reads the
model given; :func:`gpt_to_hf` imports it when called.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from replearn.transformer.gpt.model import GPT, GPTConfig

__all__ = ["TRANSPOSED", "config_from_hf", "config_to_hf", "gpt_from_hf", "gpt_to_hf"]

TRANSPOSED = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
"""Keys whose ``Conv1D`` weight (in, out) is the transpose of our ``nn.Linear`` one."""

_ACTIVATIONS = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu"}


def config_from_hf(hf_config: Any) -> GPTConfig:
    """The :class:`GPTConfig` of a ``GPT2Config``.

    Raises:
        ValueError: for an option :class:`GPT` does not implement.
    """
    c = hf_config
    if getattr(c, "scale_attn_by_inverse_layer_idx", False) or getattr(
        c, "reorder_and_upcast_attn", False
    ):
        raise ValueError("scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn unsupported")
    if not getattr(c, "scale_attn_weights", True) or getattr(c, "add_cross_attention", False):
        raise ValueError("unscaled attention and cross-attention are not supported")
    if c.n_inner not in (None, 4 * c.n_embd):
        raise ValueError(f"n_inner must be 4 * n_embd, got {c.n_inner}")
    if c.activation_function not in _ACTIVATIONS:
        raise ValueError(f"unsupported activation_function {c.activation_function!r}")
    if not getattr(c, "tie_word_embeddings", True):
        raise ValueError("GPT ties lm_head to wte; got tie_word_embeddings=False")
    if len({c.embd_pdrop, c.attn_pdrop, c.resid_pdrop}) != 1:
        raise ValueError("GPT has one dropout rate; embd/attn/resid_pdrop differ")
    return GPTConfig(
        n_layer=c.n_layer,
        n_head=c.n_head,
        n_embd=c.n_embd,
        block_size=c.n_positions,
        vocab_size=c.vocab_size,
        dropout=float(c.resid_pdrop),
        bias=True,
        position="learned",
        activation=_ACTIVATIONS[c.activation_function],  # type: ignore[arg-type]
        layer_norm_eps=c.layer_norm_epsilon,
    )


def config_to_hf(cfg: GPTConfig) -> Any:
    """The ``transformers.GPT2Config`` of a :class:`GPTConfig` (learned positions, biases)."""
    if cfg.position != "learned" or not cfg.bias:
        raise ValueError("GPT-2 has learned positions and biases; cannot convert this GPT")
    import transformers

    return transformers.GPT2Config(
        vocab_size=cfg.vocab_size,
        n_positions=cfg.block_size,
        n_embd=cfg.n_embd,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        activation_function="gelu_new" if cfg.activation == "gelu_tanh" else "gelu",
        resid_pdrop=cfg.dropout,
        embd_pdrop=cfg.dropout,
        attn_pdrop=cfg.dropout,
        layer_norm_epsilon=cfg.layer_norm_eps,
        tie_word_embeddings=True,
    )


def _theirs(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Their state dict with ``transformer.`` keys (a bare ``GPT2Model`` has none)."""
    out = {}
    for k, v in state.items():
        if k.endswith((".attn.bias", ".attn.masked_bias")):
            continue  # causal-mask buffers of older transformers versions
        out[k if k.startswith(("transformer.", "lm_head.")) else f"transformer.{k}"] = v
    return out


def gpt_from_hf(hf_model: nn.Module) -> GPT:
    """A :class:`GPT` with the config and a copy of every tensor of a GPT-2 model.

    Args:
        hf_model: ``transformers`` ``GPT2LMHeadModel`` or ``GPT2Model``.

    Returns:
        The model, in the train/eval mode of ``hf_model``.
    """
    model = GPT(config_from_hf(hf_model.config))
    theirs = _theirs(hf_model.state_dict())
    theirs.pop("lm_head.weight", None)  # tied to wte
    ours = model.state_dict()
    ours.pop("lm_head.weight")
    missing, unused = sorted(set(ours) - set(theirs)), sorted(set(theirs) - set(ours))
    if missing or unused:
        raise ValueError(f"state dicts differ: missing {missing}, unused {unused}")
    with torch.no_grad():
        for k, t in ours.items():
            src = theirs[k].t() if k.endswith(TRANSPOSED) else theirs[k]
            if src.shape != t.shape:
                raise ValueError(f"{k}: shape {tuple(src.shape)} != ours {tuple(t.shape)}")
            t.copy_(src)
    return model.train(hf_model.training)


def gpt_to_hf(model: GPT) -> nn.Module:
    """A ``transformers`` ``GPT2LMHeadModel`` with a copy of ``model``'s weights.

    For tools that train ``transformers`` models (TRL, ``Trainer``); ``GPT.from_hf`` brings
    them back.
    """
    import transformers

    hf = transformers.GPT2LMHeadModel(config_to_hf(model.cfg))
    theirs = hf.state_dict()
    with torch.no_grad():
        for k, t in model.state_dict().items():
            if k == "lm_head.weight":
                continue
            dst = theirs[k]
            dst.copy_(t.t() if k.endswith(TRANSPOSED) else t)
    hf.tie_weights()
    return hf.train(model.training)
