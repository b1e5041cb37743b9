r"""Transformer-XL: segment-level recurrence with memory and relative position attention.

Paper: Z. Dai, Z. Yang, Y. Yang, J. Carbonell, Q. V. Le & R. Salakhutdinov,
"Transformer-XL: Attentive Language Models Beyond a Fixed-Length Context", 2019,
arXiv:1901.02860.

A vanilla transformer LM trained on fixed-length segments sees no context across a
segment boundary. Transformer-XL caches the hidden states of the previous segment
(the *memory*, without gradient) and lets every layer attend to them (Sec. 3.2):

.. math::

    \tilde h^{n-1}_{\tau+1} = [\mathrm{SG}(m^{n-1}_{\tau}) \circ h^{n-1}_{\tau+1}],\quad
    q = h^{n-1}_{\tau+1} W_q,\ k = \tilde h^{n-1}_{\tau+1} W_{k,E},\
    v = \tilde h^{n-1}_{\tau+1} W_v                                            \qquad (1)

where :math:`m^{n-1}_\tau` are the last ``mem_len`` inputs of layer ``n`` so far.
Absolute positions would clash across segments, so the score of query ``i`` and key
``j`` uses the sinusoid :math:`R_{i-j}` of their distance (Sec. 3.3):

.. math::

    A^{rel}_{i,j} = \underbrace{q_i^\top k_j}_{(a)}
      + \underbrace{q_i^\top W_{k,R} R_{i-j}}_{(b)}
      + \underbrace{u^\top k_j}_{(c)}
      + \underbrace{v^\top W_{k,R} R_{i-j}}_{(d)}                               \qquad (2)

with learned global biases ``u`` and ``v`` (one per head, shared by all layers as in
the authors' code). Then masked softmax over :math:`A^{rel}/\sqrt{d_{head}}`, the
output projection, residual and LayerNorm, and a position-wise feed-forward block
with residual and LayerNorm (post-norm, Sec. 3.4). Terms (b) + (d) are computed for
all ``L_k`` distances at once and aligned with :func:`~replearn.transformer.positions.rel_shift`.

Deviations: batch-first tensors (the authors' code is time-major); no adaptive
softmax / adaptive input; memory and segment length are free at evaluation (as in
the paper's evaluation with a longer memory). ``mem_len=0`` gives the same model
without recurrence (a vanilla segment-level LM with relative positions).

No library oracle: Hugging Face ``transformers`` 5.x removed ``TransfoXL``. Tests
check :func:`relative_attention_scores` (both paths) against the four terms of Eq. (2)
computed pair by pair with hand-built sinusoids; that the memory carries no gradient;
that two segments with memory equal the causal pass over their concatenation.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from replearn.norm.layernorm import LayerNorm
from replearn.reference import use_reference
from replearn.registry import Example, register
from replearn.transformer.attention import causal_mask
from replearn.transformer.positions import RelativeSinusoidalPositions, rel_shift

__all__ = [
    "RelativeMultiHeadAttention",
    "TransformerXL",
    "TransformerXLLayer",
    "relative_attention_scores",
    "update_memory",
]


def relative_attention_scores(
    q: Tensor, k: Tensor, r: Tensor, u: Tensor, v: Tensor, *, fast: bool = True
) -> Tensor:
    r"""Eq. (2): :math:`(q_i + u)^\top k_j + (q_i + v)^\top r_{i-j}`, terms (a) + (c) + (b) + (d).

    ``r`` holds the projected sinusoids :math:`W_{k,R} R_\delta` for distances
    ``L_k - 1 .. 0``; the queries are the last ``L_q`` of the ``L_k`` positions. The
    reference path gathers :math:`r_{i-j}` for every pair; the fast path scores
    against every distance and applies ``rel_shift``. Entries of future keys
    (``j > i + L_k - L_q``) differ between the paths and must be masked.

    Shape:
        q: (B, H, Lq, d); k: (B, H, Lk, d); r: (H, Lk, d); u, v: (H, d) -> (B, H, Lq, Lk).
    """
    lq, lk = q.shape[-2], k.shape[-2]
    ac = (q + u[:, None, :]) @ k.transpose(-2, -1)  # (B, H, Lq, Lk), terms (a) + (c)
    qv = q + v[:, None, :]  # (B, H, Lq, d)
    if fast and not use_reference():
        return ac + rel_shift(qv @ r.transpose(-2, -1))  # terms (b) + (d)
    i = torch.arange(lq, device=q.device)[:, None]
    j = torch.arange(lk, device=q.device)[None, :]
    row = (j + lq - 1 - i).clamp(0, lk - 1)  # (Lq, Lk): table row of distance i - j
    r_ij = r[:, row]  # (H, Lq, Lk, d)
    return ac + torch.einsum("bhqd,hqkd->bhqk", qv, r_ij)


def update_memory(memory: Tensor | None, hidden: Tensor, mem_len: int) -> Tensor | None:
    """The last ``mem_len`` positions of ``[memory; hidden]``, detached (the SG of Eq. 1).

    Shape:
        memory (B, M, D) or None; hidden (B, L, D) -> (B, min(M + L, mem_len), D) or None.
    """
    if mem_len == 0:
        return None
    cat = hidden if memory is None else torch.cat([memory, hidden], dim=1)
    return cat[:, -mem_len:].detach()


class RelativeMultiHeadAttention(nn.Module):
    """Multi-head attention over ``[memory; h]`` with the relative scores of Eq. (2).

    Args: model width ``d_model``, ``n_head`` heads of size ``d_head``, ``dropatt``
    (on the attention weights), ``dropout`` (on the output); ``fast`` scores by rel_shift.
    """

    def __init__(
        self, *, d_model: int, n_head: int, d_head: int, dropout: float, dropatt: float, fast: bool
    ) -> None:
        super().__init__()
        self.n_head, self.d_head, self.fast = n_head, d_head, fast
        self.qkv = nn.Linear(d_model, 3 * n_head * d_head, bias=False)  # W_q, W_{k,E}, W_v
        self.r_net = nn.Linear(d_model, n_head * d_head, bias=False)  # W_{k,R}
        self.out = nn.Linear(n_head * d_head, d_model, bias=False)
        self.norm = LayerNorm(d_model, fast=True)
        self.drop, self.dropatt = nn.Dropout(dropout), nn.Dropout(dropatt)

    def forward(
        self, h: Tensor, pos: Tensor, u: Tensor, v: Tensor, memory: Tensor | None = None
    ) -> Tensor:
        """Shape: h (B, L, D); pos (M + L, D) sinusoids; memory (B, M, D) -> (B, L, D)."""
        cat = h if memory is None else torch.cat([memory, h], dim=1)  # (B, M + L, D)
        lq, lk = h.shape[1], cat.shape[1]
        heads = (self.n_head, self.d_head)
        q = self.qkv(h).chunk(3, dim=-1)[0]
        _, k, val = self.qkv(cat).chunk(3, dim=-1)  # (B, M + L, H*d) each
        q, k, val = (x.unflatten(-1, heads).transpose(1, 2) for x in (q, k, val))  # (B, H, ., d)
        r = self.r_net(pos).unflatten(-1, heads).transpose(0, 1)  # (H, M + L, d)
        scores = relative_attention_scores(q, k, r, u, v, fast=self.fast) / math.sqrt(self.d_head)
        scores = scores.masked_fill(~causal_mask(lq, lk, h.device), -math.inf)
        attn = self.dropatt(scores.softmax(dim=-1))  # (B, H, L, M + L)
        out = self.out((attn @ val).transpose(1, 2).flatten(2))  # (B, L, D)
        return self.norm(h + self.drop(out))


class TransformerXLLayer(nn.Module):
    """Relative attention over memory, then a position-wise feed-forward block (post-norm)."""

    def __init__(self, *, d_model: int, n_head: int, d_head: int, d_inner: int, dropout: float,
                 dropatt: float, fast: bool) -> None:  # fmt: skip
        super().__init__()
        self.attn = RelativeMultiHeadAttention(
            d_model=d_model, n_head=n_head, d_head=d_head, dropout=dropout, dropatt=dropatt,
            fast=fast,
        )  # fmt: skip
        self.ff = nn.Sequential(
            nn.Linear(d_model, d_inner), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(d_inner, d_model), nn.Dropout(dropout),
        )  # fmt: skip
        self.norm = LayerNorm(d_model, fast=True)

    def forward(
        self, h: Tensor, pos: Tensor, u: Tensor, v: Tensor, memory: Tensor | None
    ) -> Tensor:
        """Shape: (B, L, D) -> (B, L, D)."""
        o = self.attn(h, pos, u, v, memory)
        return self.norm(o + self.ff(o))


def _example() -> Example:
    model = TransformerXL(vocab_size=11, d_model=16, n_layer=2, n_head=2, d_inner=24, mem_len=4)
    return Example(model, (torch.randint(0, 11, (2, 6)),), (2, 6, 11))


@register(
    "transformer.transformer_xl",
    paper="Dai et al. 2019, arXiv:1901.02860",
    reference="Eq. (2) term by term with hand-built sinusoids; two segments with memory == "
    "causal pass over their concatenation; no gradient through memory (no HF oracle in 5.x)",
    example=_example,
)
class TransformerXL(nn.Module):
    """A Transformer-XL language model: embeddings, relative-attention layers with memory, logits.

    Args:
        vocab_size: tokens.
        d_model: width D.
        n_layer: layers.
        n_head: heads; ``d_head`` defaults to ``d_model // n_head``.
        d_inner: feed-forward hidden width.
        mem_len: positions of memory kept per layer (0: no recurrence).
        dropout: dropout on embeddings, attention output and feed-forward.
        dropatt: dropout on attention weights.
        fast: relative scores by ``rel_shift`` (True) or by explicit gathering.

    Shape:
        forward: tokens (B, L), memory (list of n_layer (B, M, D) or None) -> logits
        (B, L, vocab_size), new memory. ``forward`` returns only logits when ``memory``
        is not passed and ``return_memory`` is False.
    """

    def __init__(
        self,
        *,
        vocab_size: int,
        d_model: int = 128,
        n_layer: int = 4,
        n_head: int = 4,
        d_head: int | None = None,
        d_inner: int = 512,
        mem_len: int = 64,
        dropout: float = 0.1,
        dropatt: float = 0.0,
        fast: bool = True,
    ) -> None:
        super().__init__()
        if min(vocab_size, d_model, n_layer, n_head, d_inner) < 1 or mem_len < 0:
            raise ValueError("sizes must be >= 1 and mem_len >= 0")
        if d_head is None and d_model % n_head:
            raise ValueError(f"d_model {d_model} is not divisible by n_head {n_head}")
        if not (0 <= dropout < 1 and 0 <= dropatt < 1):
            raise ValueError(f"dropouts must be in [0, 1), got {dropout}, {dropatt}")
        self.d_model, self.n_layer, self.mem_len = d_model, n_layer, mem_len
        d_head = d_head or d_model // n_head
        self.embed = nn.Embedding(vocab_size, d_model)
        self.pos = RelativeSinusoidalPositions(d_model)
        self.u = nn.Parameter(torch.zeros(n_head, d_head))  # r_w_bias of the authors' code
        self.v = nn.Parameter(torch.zeros(n_head, d_head))  # r_r_bias
        nn.init.normal_(self.u, std=0.02)
        nn.init.normal_(self.v, std=0.02)
        self.layers = nn.ModuleList(
            TransformerXLLayer(d_model=d_model, n_head=n_head, d_head=d_head, d_inner=d_inner,
                               dropout=dropout, dropatt=dropatt, fast=fast)
            for _ in range(n_layer)
        )  # fmt: skip
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(
        self,
        tokens: Tensor,
        memory: list[Tensor] | None = None,
        *,
        mem_len: int | None = None,
        return_memory: bool = False,
    ) -> Tensor | tuple[Tensor, list[Tensor] | None]:
        """Logits of the next token at every position, attending to ``memory`` (Eq. 1).

        ``mem_len`` overrides the memory kept for the next segment (e.g. longer at
        evaluation); the new memory holds each layer's input, detached.
        """
        mem_len = self.mem_len if mem_len is None else mem_len
        h = self.drop(self.embed(tokens) * math.sqrt(self.d_model))  # (B, L, D)
        m = 0 if memory is None else memory[0].shape[1]
        pos = self.drop(self.pos(m + tokens.shape[1], h.dtype, h.device))  # (M + L, D)
        new_memory = []
        for n, layer in enumerate(self.layers):
            mem_n = None if memory is None else memory[n]
            new_memory.append(update_memory(mem_n, h, mem_len))
            h = layer(h, pos, self.u, self.v, mem_n)
        logits = self.head(self.drop(h))  # (B, L, V)
        if memory is None and not return_memory:
            return logits
        return logits, (None if mem_len == 0 else new_memory)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, n_layer={self.n_layer}, mem_len={self.mem_len}"
