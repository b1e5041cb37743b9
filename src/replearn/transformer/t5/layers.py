r"""The layers of :class:`~replearn.transformer.t5.T5`: Eqs. (1)-(3) and the stacks.

See :mod:`replearn.transformer.t5.model` for the paper, the equations and the deviations. This file
holds the configuration, one pure function per equation (:func:`rms_layer_norm`,
:func:`t5_attention`, :func:`feed_forward`) and the modules over them; the parameter names
(``q, k, v, o``, ``wi``/``wi_0``/``wi_1``/``wo``) follow Hugging Face's so that
:mod:`replearn.transformer.t5.hf` maps the state dicts one to one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.transformer.attention import (
    causal_mask,
    scaled_dot_product_attention,
    to_additive_mask,
)
from replearn.transformer.gpt.model import merge_heads, split_heads
from replearn.transformer.positions import T5RelativeBias

__all__ = [
    "KV", "T5Attention", "T5Block", "T5Config", "T5FeedForward", "T5LayerNorm", "T5Stack",
    "feed_forward", "rms_layer_norm", "t5_attention",
]  # fmt: skip

KV = tuple[Tensor, Tensor, Tensor, Tensor]
"""One decoder layer's cache: self-attention keys, values, cross-attention keys, values."""


def rms_layer_norm(x: Tensor, weight: Tensor, eps: float = 1e-6) -> Tensor:
    r"""Eq. (1): :math:`g \odot x / \sqrt{\mathrm{mean}(x^2) + \epsilon}` (no mean, no bias).

    Shape:
        x: (..., d), weight: (d,) -> (..., d).
    """
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def t5_attention(
    q: Tensor, k: Tensor, v: Tensor, bias: Tensor | None, *, fast: bool = True,
    dropout: float = 0.0, training: bool = False,
) -> Tensor:  # fmt: skip
    r"""Eq. (2): :math:`\mathrm{softmax}(QK^\top + B)V`, unscaled (the scale is in :math:`W_Q`).

    ``bias`` holds the position bias plus the (additive, :math:`-\infty`) masks.

    Shape:
        q: (B, H, Lq, D); k, v: (B, H, Lk, D); bias broadcastable to (B, H, Lq, Lk)
        -> (B, H, Lq, D).
    """
    return scaled_dot_product_attention(
        q, k, v, bias, temperature=1.0 / math.sqrt(q.shape[-1]), dropout=dropout,
        fast=fast, training=training,
    )  # fmt: skip


_ACTIVATIONS = {"relu": "relu", "gelu": "gelu", "gated-relu": "relu", "gated-gelu": "gelu_tanh"}


def feed_forward(
    x: Tensor, wi: nn.Linear, wo: nn.Linear, *, activation: str = "relu",
    wi_linear: nn.Linear | None = None, dropout: nn.Module | None = None,
) -> Tensor:  # fmt: skip
    r"""Eq. (3): :math:`\sigma(x W_i) W_o`, gated: :math:`(\sigma(x W_{i,0}) \odot x W_{i,1}) W_o`.

    ``activation`` is ``"relu"``, ``"gelu"`` or ``"gelu_tanh"``; ``wi_linear`` makes it gated.

    Shape:
        x: (..., d_model) -> (..., d_model).
    """
    h = wi(x)  # (..., d_ff)
    if activation == "relu":
        h = F.relu(h)
    else:
        h = F.gelu(h, approximate="tanh" if activation == "gelu_tanh" else "none")
    if wi_linear is not None:
        h = h * wi_linear(x)
    return wo(h if dropout is None else dropout(h))


@dataclass(frozen=True)
class T5Config:
    """Hyperparameters of :class:`T5` (Hugging Face ``T5Config`` names; defaults: t5-small).

    Attributes:
        vocab_size: tokens V.
        d_model: model width.
        d_kv: width of each head's queries, keys and values (heads * d_kv need not be d_model).
        d_ff: hidden width of the feed-forward layers.
        num_layers: encoder blocks.
        num_decoder_layers: decoder blocks (None: as many as the encoder).
        num_heads: attention heads.
        relative_attention_num_buckets: buckets of relative distance (32).
        relative_attention_max_distance: distances beyond share the last bucket (128).
        dropout_rate: dropout on embeddings, residual branches, attention probabilities, FFN.
        layer_norm_epsilon: epsilon of Eq. (1).
        feed_forward_proj: ``"relu"``, ``"gated-gelu"``, ``"gelu"`` or ``"gated-relu"``.
        tie_word_embeddings: the output layer is the input embedding (T5.1.0) or its own.
        scale_logits: multiply the decoder output by d_model^-1/2 (None: when tied).
        pad_token_id: padding id (also the decoder start in T5).
        eos_token_id: end of sequence; generation stops there.
        decoder_start_token_id: the first decoder input.
        fast: attention through ``F.scaled_dot_product_attention`` (else the explicit formula).
    """

    vocab_size: int = 32128
    d_model: int = 512
    d_kv: int = 64
    d_ff: int = 2048
    num_layers: int = 6
    num_decoder_layers: int | None = None
    num_heads: int = 8
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    dropout_rate: float = 0.1
    layer_norm_epsilon: float = 1e-6
    feed_forward_proj: str = "relu"
    tie_word_embeddings: bool = True
    scale_logits: bool | None = None
    pad_token_id: int = 0
    eos_token_id: int = 1
    decoder_start_token_id: int = 0
    fast: bool = True

    def __post_init__(self) -> None:
        if self.num_decoder_layers is None:
            object.__setattr__(self, "num_decoder_layers", self.num_layers)
        if self.scale_logits is None:
            object.__setattr__(self, "scale_logits", self.tie_word_embeddings)
        for name in ("vocab_size", "d_model", "d_kv", "d_ff", "num_layers",
                     "num_decoder_layers", "num_heads"):  # fmt: skip
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if self.relative_attention_num_buckets < 4:
            raise ValueError("relative_attention_num_buckets must be >= 4")
        if self.relative_attention_max_distance < self.relative_attention_num_buckets // 2:
            raise ValueError("relative_attention_max_distance must be >= num_buckets / 2")
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ValueError(f"dropout_rate must be in [0, 1), got {self.dropout_rate}")
        if self.feed_forward_proj not in _ACTIVATIONS:
            raise ValueError(f"feed_forward_proj must be one of {sorted(_ACTIVATIONS)}, "
                             f"got {self.feed_forward_proj!r}")  # fmt: skip
        for name in ("pad_token_id", "eos_token_id", "decoder_start_token_id"):
            if not 0 <= getattr(self, name) < self.vocab_size:
                raise ValueError(f"{name}={getattr(self, name)} is outside the vocabulary")


class T5LayerNorm(nn.Module):
    """Eq. (1) with a learned gain ``weight`` (ones at init)."""

    def __init__(self, dim: int, *, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return rms_layer_norm(x, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"


class T5Attention(nn.Module):
    """Multi-head attention of Eq. (2) with bias-free projections ``q, k, v, o``."""

    def __init__(self, cfg: T5Config) -> None:
        super().__init__()
        self.n_heads, self.dropout, self.fast = cfg.num_heads, cfg.dropout_rate, cfg.fast
        inner = cfg.num_heads * cfg.d_kv
        self.q = nn.Linear(cfg.d_model, inner, bias=False)
        self.k = nn.Linear(cfg.d_model, inner, bias=False)
        self.v = nn.Linear(cfg.d_model, inner, bias=False)
        self.o = nn.Linear(inner, cfg.d_model, bias=False)
        nn.init.normal_(self.q.weight, 0.0, (cfg.d_model * cfg.d_kv) ** -0.5)  # 1/sqrt(d_kv) here
        nn.init.normal_(self.k.weight, 0.0, cfg.d_model**-0.5)
        nn.init.normal_(self.v.weight, 0.0, cfg.d_model**-0.5)
        nn.init.normal_(self.o.weight, 0.0, inner**-0.5)

    def keys_values(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Shape: (B, L, d_model) -> keys, values (B, H, L, d_kv)."""
        return split_heads(self.k(x), self.n_heads), split_heads(self.v(x), self.n_heads)

    def forward(self, x: Tensor, k: Tensor, v: Tensor, bias: Tensor | None) -> Tensor:
        """Shape: x (B, Lq, d_model), k, v (B, H, Lk, d_kv), bias (., H|1, Lq, Lk) -> (B, Lq, d)."""
        q = split_heads(self.q(x), self.n_heads)  # (B, H, Lq, d_kv)
        y = t5_attention(q, k, v, bias, fast=self.fast, dropout=self.dropout,
                         training=self.training)  # fmt: skip
        return self.o(merge_heads(y))

    def extra_repr(self) -> str:
        return f"n_heads={self.n_heads}, fast={self.fast}"


class T5FeedForward(nn.Module):
    """Eq. (3): ``wi`` (or gated ``wi_0``, ``wi_1``) then ``wo``, no biases."""

    def __init__(self, cfg: T5Config) -> None:
        super().__init__()
        self.activation = _ACTIVATIONS[cfg.feed_forward_proj]
        self.gated = cfg.feed_forward_proj.startswith("gated-")
        names = ("wi_0", "wi_1") if self.gated else ("wi",)
        for name in names:
            setattr(self, name, nn.Linear(cfg.d_model, cfg.d_ff, bias=False))
            nn.init.normal_(getattr(self, name).weight, 0.0, cfg.d_model**-0.5)
        self.wo = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)
        nn.init.normal_(self.wo.weight, 0.0, cfg.d_ff**-0.5)
        self.dropout = nn.Dropout(cfg.dropout_rate)

    def forward(self, x: Tensor) -> Tensor:
        if self.gated:
            return feed_forward(x, self.wi_0, self.wo, activation=self.activation,
                                wi_linear=self.wi_1, dropout=self.dropout)  # fmt: skip
        return feed_forward(x, self.wi, self.wo, activation=self.activation, dropout=self.dropout)

    def extra_repr(self) -> str:
        return f"activation={self.activation!r}, gated={self.gated}"


class T5Block(nn.Module):
    """Pre-norm residual sub-layers (Eq. 4): self-attention, [cross-attention,] feed-forward."""

    def __init__(self, cfg: T5Config, *, decoder: bool) -> None:
        super().__init__()
        self.decoder = decoder
        self.ln_self = T5LayerNorm(cfg.d_model, eps=cfg.layer_norm_epsilon)
        self.self_attn = T5Attention(cfg)
        if decoder:
            self.ln_cross = T5LayerNorm(cfg.d_model, eps=cfg.layer_norm_epsilon)
            self.cross_attn = T5Attention(cfg)
        self.ln_ff = T5LayerNorm(cfg.d_model, eps=cfg.layer_norm_epsilon)
        self.ff = T5FeedForward(cfg)
        self.dropout = nn.Dropout(cfg.dropout_rate)

    def forward(
        self, x: Tensor, bias: Tensor, memory: Tensor | None = None,
        memory_bias: Tensor | None = None, cache: KV | None = None,
    ) -> tuple[Tensor, KV | tuple[Tensor, Tensor]]:  # fmt: skip
        h = self.ln_self(x)
        k, v = self.self_attn.keys_values(h)  # (B, H, T, d_kv)
        if cache is not None:
            k, v = torch.cat([cache[0], k], dim=-2), torch.cat([cache[1], v], dim=-2)
        x = x + self.dropout(self.self_attn(h, k, v, bias))
        if not self.decoder:
            return x + self.dropout(self.ff(self.ln_ff(x))), (k, v)
        if cache is not None:
            ck, cv = cache[2], cache[3]  # the encoder output does not change while decoding
        elif memory is not None:
            ck, cv = self.cross_attn.keys_values(memory)  # (B, H, S, d_kv)
        else:
            raise ValueError("a decoder block needs the encoder output (memory)")
        x = x + self.dropout(self.cross_attn(self.ln_cross(x), ck, cv, memory_bias))
        return x + self.dropout(self.ff(self.ln_ff(x))), (k, v, ck, cv)


class T5Stack(nn.Module):
    """The encoder (bidirectional) or decoder (causal, with cross-attention) stack.

    The relative bias of Eq. (2) is computed once from ``relative_bias`` and added in
    every block (Hugging Face keeps that table in the first block).
    """

    def __init__(self, cfg: T5Config, *, decoder: bool) -> None:
        super().__init__()
        self.decoder = decoder
        n = cfg.num_decoder_layers if decoder else cfg.num_layers
        self.relative_bias = T5RelativeBias(
            num_heads=cfg.num_heads, num_buckets=cfg.relative_attention_num_buckets,
            max_distance=cfg.relative_attention_max_distance, bidirectional=not decoder,
        )  # fmt: skip
        nn.init.normal_(self.relative_bias.relative_attention_bias.weight, 0.0, cfg.d_model**-0.5)
        self.blocks = nn.ModuleList(T5Block(cfg, decoder=decoder) for _ in range(n))  # type: ignore[arg-type]
        self.ln_f = T5LayerNorm(cfg.d_model, eps=cfg.layer_norm_epsilon)
        self.dropout = nn.Dropout(cfg.dropout_rate)

    def forward(
        self, x: Tensor, *, mask: Tensor | None = None, memory: Tensor | None = None,
        memory_mask: Tensor | None = None, cache: list[KV] | None = None,
    ) -> tuple[Tensor, list[Any]]:  # fmt: skip
        """Hidden states of embedded tokens ``x`` after ``cache``; masks: True = a real token.

        Shape:
            x (B, T, C), mask (B, P + T) bool, memory (B, S, C), memory_mask (B, S) bool
            -> (B, T, C) and the per-block keys/values.
        """
        past = 0 if cache is None else cache[0][0].shape[-2]
        t = x.shape[1]
        bias = self.relative_bias(t, past + t, offset=past).to(x.dtype)  # (1, H, T, P + T)
        if self.decoder:
            bias = bias + to_additive_mask(causal_mask(t, past + t, x.device), x.dtype)
        if mask is not None:
            bias = bias + to_additive_mask(mask[:, None, None, :].bool(), x.dtype)
        memory_bias = None
        if memory_mask is not None:
            memory_bias = to_additive_mask(memory_mask[:, None, None, :].bool(), x.dtype)
        x = self.dropout(x)
        new_cache = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, bias, memory, memory_bias, None if cache is None else cache[i])
            new_cache.append(kv)
        return self.dropout(self.ln_f(x)), new_cache

    def extra_repr(self) -> str:
        return f"decoder={self.decoder}"
