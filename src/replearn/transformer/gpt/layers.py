r"""The layers of :class:`~replearn.transformer.gpt.GPT`: its config, attention, MLP and block.

Papers: A. Radford, K. Narasimhan, T. Salimans & I. Sutskever, "Improving Language Understanding
by Generative Pre-Training" (2018, OpenAI report); A. Radford, J. Wu, R. Child, D. Luan,
D. Amodei & I. Sutskever, "Language Models are Unsupervised Multitask Learners" (2019, OpenAI
report; no arXiv id). Attention from Vaswani et al. 2017, arXiv:1706.03762.

One pre-LN block (GPT-2, Sec. 2.3: layer norm at the input of each sub-block), numbered as in
:mod:`replearn.transformer.gpt.model`:

.. math::

    a_l = h_{l-1} + \mathrm{Attn}(\mathrm{LN}_1(h_{l-1}))                     \qquad (2)

    h_l = a_l + \mathrm{MLP}(\mathrm{LN}_2(a_l)),\quad
    \mathrm{MLP}(x) = \mathrm{GELU}(x W_{fc} + b_{fc}) W_{proj} + b_{proj}   \qquad (3)

:math:`\mathrm{Attn}` (:class:`CausalSelfAttention`) is multi-head causal self-attention with one
fused projection to queries, keys and values (GPT-2's ``c_attn``), heads cut by
:func:`split_heads` and joined by :func:`merge_heads` (Vaswani et al. Eq. 2's ``Concat``), then
``c_proj``. It takes and returns one layer's key/value cache (``KV``) so that generation feeds new
positions only, and optional rotary ``(cos, sin)`` tables (RoFormer, Su et al. 2021,
arXiv:2104.09864) applied to queries and keys. :class:`GPTConfig` holds every hyperparameter and
validates it. Parameter names are GPT-2's (``attn.c_attn``, ``attn.c_proj``, ``ln_1``, ``ln_2``,
``mlp.c_fc``, ``mlp.c_proj``), so weights move to and from ``transformers``
(:mod:`replearn.transformer.gpt.hf`).

Tests: :class:`CausalSelfAttention` against ``torch.nn.MultiheadAttention`` with a causal mask
and copied weights (float64, values and gradients), reference and SDPA paths, and with a cache
against the full pass; Eqs. (2)-(3) of :class:`Block` and :class:`MLP` recomputed by hand;
split/merge of heads are inverse (hypothesis); :class:`GPTConfig` validation. The whole model
against ``transformers``' GPT-2: ``tests/transformer/test_gpt_hf.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from replearn.norm.layernorm import LayerNorm
from replearn.transformer.attention import scaled_dot_product_attention
from replearn.transformer.positions import apply_rotary

__all__ = [
    "KV", "MLP", "Block", "CausalSelfAttention", "GPTConfig", "merge_heads", "split_heads",
]  # fmt: skip

KV = tuple[Tensor, Tensor]
"""One layer's cached keys and values, each (B, H, P, D)."""


def split_heads(x: Tensor, n_head: int) -> Tensor:
    """Cut the channels into heads.

    Shape:
        (B, T, C) -> (B, n_head, T, C / n_head).
    """
    return x.unflatten(-1, (n_head, -1)).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """Concatenate the heads again (Vaswani et al. Eq. 2's ``Concat``).

    Shape:
        (B, H, T, D) -> (B, T, H * D).
    """
    return x.transpose(1, 2).flatten(2)


@dataclass(frozen=True)
class GPTConfig:
    """Hyperparameters of :class:`~replearn.transformer.gpt.GPT`.

    Attributes:
        n_layer: transformer blocks L.
        n_head: attention heads (must divide ``n_embd``).
        n_embd: model width C.
        block_size: longest context (rows of the learned position table).
        vocab_size: tokens V.
        dropout: dropout on embeddings, attention probabilities and residual branches.
        bias: biases in linear layers and layer norms (GPT-2: True).
        position: ``"learned"`` (GPT-2), ``"sinusoidal"`` or ``"rotary"``.
        activation: ``"gelu_tanh"`` (GPT-2's approximation) or ``"gelu"`` (exact).
        layer_norm_eps: epsilon of every layer norm.
        fast: attention through ``F.scaled_dot_product_attention`` (else the explicit formula).
    """

    n_layer: int = 6
    n_head: int = 6
    n_embd: int = 384
    block_size: int = 256
    vocab_size: int = 65
    dropout: float = 0.0
    bias: bool = True
    position: Literal["learned", "sinusoidal", "rotary"] = "learned"
    activation: Literal["gelu_tanh", "gelu"] = "gelu_tanh"
    layer_norm_eps: float = 1e-5
    fast: bool = True

    def __post_init__(self) -> None:
        for name in ("n_layer", "n_head", "n_embd", "block_size", "vocab_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_head={self.n_head} must divide n_embd={self.n_embd}")
        if self.position == "rotary" and (self.n_embd // self.n_head) % 2:
            raise ValueError("rotary positions need an even head size")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.position not in ("learned", "sinusoidal", "rotary"):
            raise ValueError(f"position must be learned/sinusoidal/rotary, got {self.position!r}")
        if self.activation not in ("gelu_tanh", "gelu"):
            raise ValueError(f"activation must be 'gelu_tanh' or 'gelu', got {self.activation!r}")


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with a fused QKV projection (GPT-2's ``attn``).

    Shape:
        x: (B, T, C), cache (k, v) of (B, H, P, D) or None -> (B, T, C), new (k, v).
    """

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.n_head, self.dropout, self.fast = cfg.n_head, cfg.dropout, cfg.fast
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(
        self, x: Tensor, cache: KV | None = None, rotary: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, KV]:
        q, k, v = self.c_attn(x).split(x.shape[-1], dim=-1)  # 3 x (B, T, C)
        q, k, v = (split_heads(t, self.n_head) for t in (q, k, v))  # (B, H, T, D)
        if rotary is not None:
            q, k = apply_rotary(q, *rotary), apply_rotary(k, *rotary)
        if cache is not None:
            k, v = torch.cat([cache[0], k], dim=-2), torch.cat([cache[1], v], dim=-2)
        # causal, aligned bottom-right: query i (position past + i) sees keys j <= past + i
        y = scaled_dot_product_attention(q, k, v, dropout=self.dropout, is_causal=q.shape[-2] > 1,
                                         fast=self.fast, training=self.training)  # fmt: skip
        return self.resid_dropout(self.c_proj(merge_heads(y))), (k, v)

    def extra_repr(self) -> str:
        return f"n_head={self.n_head}, dropout={self.dropout}, fast={self.fast}"


class MLP(nn.Module):
    """Eq. (3): ``c_fc`` to 4C, GELU, ``c_proj`` back to C, dropout."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=cfg.bias)
        self.gelu = nn.GELU(approximate="tanh" if cfg.activation == "gelu_tanh" else "none")
        self.c_proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """One pre-LN transformer block, Eqs. (2)-(3)."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = LayerNorm(cfg.n_embd, eps=cfg.layer_norm_eps, bias=cfg.bias, fast=True)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = LayerNorm(cfg.n_embd, eps=cfg.layer_norm_eps, bias=cfg.bias, fast=True)
        self.mlp = MLP(cfg)

    def forward(
        self, x: Tensor, cache: KV | None = None, rotary: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, KV]:
        a, kv = self.attn(self.ln_1(x), cache, rotary)
        x = x + a  # Eq. (2)
        return x + self.mlp(self.ln_2(x)), kv  # Eq. (3)
