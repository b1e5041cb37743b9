"""Hugging Face ``transformers`` Mamba -> :mod:`replearn.sequence.mamba.model` (weights copied).

Our parameter names are HF's, so the copy is a ``load_state_dict``; the LM's model sits under
``backbone`` as in ``MambaForCausalLM``:

==================================  ==============================  =======================
HF / replearn name                  shape                           meaning
==================================  ==============================  =======================
``embeddings.weight``               (V, H)                          token embedding
``layers.i.norm.weight``            (H,)                            pre-norm (RMSNorm)
``layers.i.mixer.in_proj.weight``   (2D, H)                         rows [x (D), z (D)]
``layers.i.mixer.conv1d.weight``    (D, 1, d_conv)                  causal depthwise conv
``layers.i.mixer.x_proj.weight``    (R + 2N, D)                     rows [δ (R), B (N), C (N)]
``layers.i.mixer.dt_proj.*``        (D, R), (D,)                    Δ = softplus(δ W + b)
``layers.i.mixer.A_log``            (D, N)                          A = -exp(A_log)
``layers.i.mixer.D``                (D,)                            skip
``layers.i.mixer.out_proj.weight``  (H, D)                          output projection
``norm_f.weight``                   (H,)                            final RMSNorm
``lm_head.weight``                  (V, H)                          tied to the embedding
==================================  ==============================  =======================

Only ``hidden_act="silu"`` is supported (the paper's and HF's default).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from replearn.sequence.mamba.model import MambaLM, MambaModel

__all__ = ["config_from_hf", "lm_from_hf", "model_from_hf"]


def config_from_hf(config: Any) -> dict[str, Any]:
    """Our constructor arguments for a ``transformers.MambaConfig``."""
    if getattr(config, "hidden_act", "silu") != "silu":
        raise ValueError(f"only hidden_act='silu' is supported, got {config.hidden_act!r}")
    if config.intermediate_size != config.expand * config.hidden_size:
        raise ValueError("intermediate_size must equal expand * hidden_size")
    return {
        "vocab_size": config.vocab_size,
        "d_model": config.hidden_size,
        "n_layers": config.num_hidden_layers,
        "eps": config.layer_norm_epsilon,
        "d_state": config.state_size,
        "d_conv": config.conv_kernel,
        "expand": config.expand,
        "dt_rank": int(config.time_step_rank),
        "bias": config.use_bias,
        "conv_bias": config.use_conv_bias,
    }


def _copy(ours: nn.Module, theirs: nn.Module) -> None:
    state = {k: v for k, v in theirs.state_dict().items()}
    ours.load_state_dict(state, strict=True)
    p = next(theirs.parameters())
    ours.to(device=p.device, dtype=p.dtype).train(theirs.training)


def model_from_hf(hf_model: nn.Module) -> MambaModel:
    """A :class:`MambaModel` with the config and every tensor of an HF ``MambaModel``."""
    model = MambaModel(**config_from_hf(hf_model.config))
    _copy(model, hf_model)
    return model


def lm_from_hf(hf_model: nn.Module) -> MambaLM:
    """A :class:`MambaLM` equal to an HF ``MambaForCausalLM`` (tied or untied head)."""
    cfg = hf_model.config
    tied = bool(getattr(cfg, "tie_word_embeddings", True))
    model = MambaLM(**config_from_hf(cfg), tie_embeddings=tied)
    _copy(model, hf_model)
    return model
