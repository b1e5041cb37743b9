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
from dataclasses import dataclass, replace
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.registry import Example, register
from replearn.transformer.attention import scaled_dot_product_attention
from replearn.transformer.decoding import sample_next
from replearn.transformer.positions import apply_rotary, rotary_embedding, sinusoidal_encoding

__all__ = [
    "GPT", "MLP", "Block", "CausalSelfAttention", "GPTConfig", "lm_loss",
    "merge_heads", "mfu", "split_heads",
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


def lm_loss(logits: Tensor, targets: Tensor, ignore_index: int = -1) -> Tensor:
    r"""Mean next-token negative log-likelihood :math:`-\frac1N\sum \log P(u_{t+1}|u_{\le t})`.

    Shape:
        logits (B, T, V), targets (B, T) int64 -> () nats.
    """
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=ignore_index)


@dataclass(frozen=True)
class GPTConfig:
    """Hyperparameters of :class:`GPT`.

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
        self.ln_1 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_eps, bias=cfg.bias)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_eps, bias=cfg.bias)
        self.mlp = MLP(cfg)

    def forward(
        self, x: Tensor, cache: KV | None = None, rotary: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, KV]:
        a, kv = self.attn(self.ln_1(x), cache, rotary)
        x = x + a  # Eq. (2)
        return x + self.mlp(self.ln_2(x)), kv  # Eq. (3)


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
        modules["ln_f"] = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_eps, bias=cfg.bias)
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
        from replearn.transformer.gpt_hf import gpt_from_hf

        return gpt_from_hf(hf_model)

    def to_hf(self) -> nn.Module:
        """A ``transformers`` ``GPT2LMHeadModel`` holding a copy of these weights."""
        from replearn.transformer.gpt_hf import gpt_to_hf

        return gpt_to_hf(self)


def mfu(flops_per_token: float, tokens_per_s: float, peak_flops: float) -> float:
    """Model FLOPs utilisation: achieved training FLOP/s over the hardware peak."""
    return flops_per_token * tokens_per_s / peak_flops
