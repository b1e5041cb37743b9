r"""GPT: a decoder-only transformer language model (GPT-2 layout).

Papers: A. Radford, K. Narasimhan, T. Salimans & I. Sutskever, "Improving Language Understanding
by Generative Pre-Training" (2018, OpenAI report); A. Radford, J. Wu, R. Child, D. Luan,
D. Amodei & I. Sutskever, "Language Models are Unsupervised Multitask Learners" (2019, OpenAI
report; no arXiv id). Attention from Vaswani et al. 2017, arXiv:1706.03762.

With tokens :math:`u_1..u_T`, token embedding :math:`W_e` (V × C) and positions :math:`W_p`:

.. math::

    h_0 = W_e[u] + W_p[1..T]                                         \qquad (1)

    a_l = h_{l-1} + \mathrm{Attn}(\mathrm{LN}_1(h_{l-1}))               \qquad (2)\ \text{pre-LN}

    h_l = a_l + \mathrm{MLP}(\mathrm{LN}_2(a_l)),\quad
    \mathrm{MLP}(x) = \mathrm{GELU}(x W_{fc} + b_{fc}) W_{proj} + b_{proj}   \qquad (3)

    P(u_{t+1} \mid u_{\le t}) = \mathrm{softmax}(\mathrm{LN}_f(h_L)\, W_e^\top)   \qquad (4)

:math:`\mathrm{Attn}` is multi-head causal self-attention: position :math:`t` attends to
:math:`s \le t` only. GPT-2 (Sec. 2.3) moved layer norm to the input of each sub-block, added a
final layer norm, and scaled the initialisation of the residual projections by
:math:`1/\sqrt{2L}` (two residual additions per layer).

The configuration and the layers of Eqs. (2)-(3) (:class:`GPTConfig`,
:class:`CausalSelfAttention`, :class:`MLP`, :class:`Block`, :func:`split_heads`,
:func:`merge_heads`) are defined in :mod:`replearn.transformer.gpt.layers` and re-exported here;
this file holds the model: embeddings (Eq. 1), the stack of blocks, the tied head (Eq. 4), the
loss, cached decoding, generation, optimizer groups and FLOP counts.

Generation (:meth:`GPT.generate`) keeps every layer's keys and values (a KV cache): a new token
costs one pass of one position instead of a pass over the whole context.

Options and deviations: ``position`` may be ``"learned"`` (GPT-2), ``"sinusoidal"`` (fixed, as
Vaswani et al.) or ``"rotary"`` (RoFormer, Su et al. 2021, arXiv:2104.09864: rotate queries and
keys, no added positions); ``bias=False`` drops the biases of linear layers and layer norms;
``activation`` is GPT-2's tanh GELU by default (``"gelu"`` for the exact one). The
sinusoidal table is scaled to a standard deviation of 0.02 per coordinate, the scale of the
token embeddings (Vaswani et al. multiply the embeddings by :math:`\sqrt{C}` instead; unscaled
unit sinusoids next to 0.02-scale embeddings drown the token identity). Past
``block_size`` tokens, generation crops the context to the last ``block_size`` tokens, and with
a cache re-reads that window, so cached and uncached generation stay identical.

Tests: :meth:`GPT.from_hf` against ``transformers`` ``GPT2LMHeadModel`` (random small configs,
logits atol 1e-5) and the :meth:`GPT.to_hf` round trip; cached vs uncached generation (same
greedy tokens, same logits at every step); reference attention path vs the
``scaled_dot_product_attention`` fast path; causality; the optimizer groups.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.norm.layernorm import LayerNorm
from replearn.registry import Example, register
from replearn.transformer.decoding import sample_next
from replearn.transformer.gpt.layers import (
    KV,
    MLP,
    Block,
    CausalSelfAttention,
    GPTConfig,
    merge_heads,
    split_heads,
)
from replearn.transformer.positions import rotary_embedding, sinusoidal_encoding

# MLP, Block, CausalSelfAttention, GPTConfig, merge_heads, split_heads: re-exported from
# replearn.transformer.gpt.layers, where they are defined.
__all__ = [
    "GPT", "MLP", "Block", "CausalSelfAttention", "GPTConfig", "lm_loss",
    "merge_heads", "mfu", "split_heads",
]  # fmt: skip


def lm_loss(logits: Tensor, targets: Tensor, ignore_index: int = -1) -> Tensor:
    r"""Mean next-token negative log-likelihood :math:`-\frac1N\sum \log P(u_{t+1}|u_{\le t})`.

    Shape:
        logits (B, T, V), targets (B, T) int64 -> () nats.
    """
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=ignore_index)


def _example() -> Example:
    cfg = GPTConfig(n_layer=2, n_head=2, n_embd=16, block_size=8, vocab_size=11)
    return Example(GPT(cfg), (torch.randint(0, 11, (2, 8)),), (2, 8, 11))


@register(
    "transformer.gpt",
    paper="Radford et al. 2018 (GPT) and 2019 (GPT-2), OpenAI reports",
    reference="transformers GPT2LMHeadModel with copied weights (from_hf / to_hf); cached vs "
    "uncached generation; reference vs SDPA attention",
    example=_example,
)
class GPT(nn.Module):
    """Decoder-only transformer language model with GPT-2's parameter names.

    Args:
        cfg: a :class:`GPTConfig` (or pass its fields as keywords).

    Shape:
        idx (B, T) int64, T <= block_size -> logits (B, T, vocab_size).
    """

    def __init__(self, cfg: GPTConfig | None = None, **kwargs: Any) -> None:
        super().__init__()
        cfg = replace(cfg or GPTConfig(), **kwargs) if kwargs else (cfg or GPTConfig())
        self.cfg = cfg
        modules: dict[str, nn.Module] = {"wte": nn.Embedding(cfg.vocab_size, cfg.n_embd)}
        if cfg.position == "learned":
            modules["wpe"] = nn.Embedding(cfg.block_size, cfg.n_embd)
        modules["drop"] = nn.Dropout(cfg.dropout)
        modules["h"] = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        modules["ln_f"] = LayerNorm(cfg.n_embd, eps=cfg.layer_norm_eps, bias=cfg.bias, fast=True)
        self.transformer = nn.ModuleDict(modules)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # Eq. (4): tied
        if cfg.position != "learned":
            table = (
                torch.stack(rotary_embedding(cfg.block_size, cfg.n_embd // cfg.n_head), dim=-1)
                if cfg.position == "rotary"
                else sinusoidal_encoding(cfg.block_size, cfg.n_embd) * (0.02 * math.sqrt(2))
            )  # (block_size, D, 2) cos and sin, or (block_size, C) at the scale of wte
            self.register_buffer("pos_table", table, persistent=False)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: residual projections / sqrt(2L)
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def num_parameters(self, non_embedding: bool = True) -> int:
        """Parameters, without the position table by default (as the GPT-2 paper counts)."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding and self.cfg.position == "learned":
            n -= self.transformer.wpe.weight.numel()
        return n

    def forward_cached(self, idx: Tensor, cache: list[KV] | None = None) -> tuple[Tensor, list[KV]]:
        """Logits of ``idx`` continuing the cached prefix, and the extended cache.

        Shape:
            idx (B, T), cache of P positions (P + T <= block_size) -> (B, T, V), cache of P + T.
        """
        past = 0 if cache is None else cache[0][0].shape[-2]
        t = idx.shape[1]
        if past + t > self.cfg.block_size:
            raise ValueError(f"{past + t} positions exceed block_size={self.cfg.block_size}")
        x = self.transformer.wte(idx)  # (B, T, C)
        rotary = None
        if self.cfg.position == "learned":
            pos = torch.arange(past, past + t, device=idx.device)
            x = x + self.transformer.wpe(pos)  # Eq. (1)
        elif self.cfg.position == "sinusoidal":
            x = x + self.pos_table[past : past + t].to(x.dtype)
        else:
            cos, sin = self.pos_table[past : past + t].to(x.dtype).unbind(-1)
            rotary = (cos, sin)
        x = self.transformer.drop(x)
        new_cache = []
        for i, block in enumerate(self.transformer.h):
            x, kv = block(x, None if cache is None else cache[i], rotary)
            new_cache.append(kv)
        return self.lm_head(self.transformer.ln_f(x)), new_cache  # Eq. (4)

    def forward(self, idx: Tensor) -> Tensor:
        """Next-token logits at every position (the full causal pass)."""
        if idx.ndim != 2:
            raise ValueError(f"expected (B, T) token ids, got shape {tuple(idx.shape)}")
        return self.forward_cached(idx)[0]

    def loss(self, idx: Tensor, targets: Tensor) -> Tensor:
        """Mean next-token cross-entropy (nats) of ``targets`` (B, T) given ``idx`` (B, T)."""
        return lm_loss(self(idx), targets)

    def step(self, tokens: Tensor, cache: list[KV] | None) -> tuple[Tensor, list[KV]]:
        """``step_fn`` for decoding: logits (B, V) after ``tokens`` (B, t), reading new ones only.

        Past ``block_size`` the cache is dropped and the last ``block_size`` tokens are re-read.
        """
        past = 0 if cache is None else cache[0][0].shape[-2]
        if tokens.shape[1] > self.cfg.block_size:  # the window moved: re-read it
            tokens, cache, past = tokens[:, -self.cfg.block_size :], None, 0
        logits, cache = self.forward_cached(tokens[:, past:], cache)
        return logits[:, -1], cache

    @torch.no_grad()
    def generate(
        self,
        idx: Tensor,
        max_new_tokens: int,
        *,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        use_cache: bool = True,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Continue ``idx`` by ``max_new_tokens`` sampled tokens (temperature 0: greedy).

        Shape:
            idx (B, T0) -> (B, T0 + max_new_tokens).
        """
        if max_new_tokens < 0 or temperature < 0:
            raise ValueError("need max_new_tokens >= 0 and temperature >= 0")
        cache: list[KV] | None = None
        for _ in range(max_new_tokens):
            if use_cache:
                logits, cache = self.step(idx, cache)
            else:
                logits = self(idx[:, -self.cfg.block_size :])[:, -1]  # (B, V)
            nxt = sample_next(  # temperature 0: the most likely token
                logits, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator
            )
            idx = torch.cat([idx, nxt[:, None].to(idx.dtype)], dim=1)
        return idx

    def configure_optimizers(
        self,
        *,
        lr: float,
        weight_decay: float = 0.1,
        betas: tuple[float, float] = (0.9, 0.95),
        fused: bool | None = None,
    ) -> torch.optim.AdamW:
        """AdamW with weight decay on >= 2-D tensors only (matrices, embeddings), as nanoGPT."""
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=fused)

    def estimate_flops(self, seq_len: int | None = None) -> float:
        """Training FLOPs per token: ``6N + 12 L H D T`` (Kaplan et al. 2020; PaLM App. B)."""
        c, t = self.cfg, seq_len or self.cfg.block_size
        return 6 * self.num_parameters() + 12 * c.n_layer * c.n_embd * t

    def extra_repr(self) -> str:
        c = self.cfg
        return (
            f"n_layer={c.n_layer}, n_head={c.n_head}, n_embd={c.n_embd}, "
            f"block_size={c.block_size}, vocab_size={c.vocab_size}, position={c.position!r}"
        )

    @classmethod
    def from_hf(cls, hf_model: nn.Module) -> GPT:
        """The network of a ``transformers`` ``GPT2LMHeadModel`` / ``GPT2Model``, weights copied."""
        from replearn.transformer.gpt.hf import gpt_from_hf

        return gpt_from_hf(hf_model)

    def to_hf(self) -> nn.Module:
        """A ``transformers`` ``GPT2LMHeadModel`` holding a copy of these weights."""
        from replearn.transformer.gpt.hf import gpt_to_hf

        return gpt_to_hf(self)


def mfu(flops_per_token: float, tokens_per_s: float, peak_flops: float) -> float:
    """Model FLOPs utilisation: achieved training FLOP/s over the hardware peak."""
    return flops_per_token * tokens_per_s / peak_flops
