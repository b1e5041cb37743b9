"""A key/value cache for decoding with :mod:`replearn.transformer.attention`.

Paper: A. Vaswani et al., "Attention Is All You Need", 2017, arXiv:1706.03762 (Sec. 3.2.3,
decoder self-attention). Decoding one token at a time, step ``t`` attends over the keys and
values of steps ``1..t``; caching them makes a step cost O(t) instead of re-running the prefix.

Tests: tests/transformer/test_attention.py (step-by-step decoding with a cache == the full
causal forward, float64).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["KVCache"]


class KVCache:
    """Keys and values of the positions already processed, for one attention layer.

    Decoding one token at a time, each step appends its key/value and attends over
    all of them, so step ``t`` costs O(t) instead of re-running the prefix (O(t^2)).

    Shape:
        keys, values: (B, H, t, d_head) after ``t`` positions.
    """

    def __init__(self) -> None:
        self.keys: Tensor | None = None
        self.values: Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.keys is None else self.keys.shape[-2]

    def __repr__(self) -> str:
        return f"KVCache(length={len(self)})"

    def update(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append new keys/values along the position axis; return all of them.

        Shape:
            k, v: (B, H, L_new, d) -> (B, H, t + L_new, d) each.
        """
        first = self.keys is None
        self.keys = k if first else torch.cat([self.keys, k], dim=-2)  # (B, H, t + L_new, d)
        self.values = v if first else torch.cat([self.values, v], dim=-2)
        return self.keys, self.values

    def reorder(self, index: Tensor) -> None:
        """Keep the batch rows ``index`` (beam search: follow the surviving beams)."""
        if self.keys is not None:
            self.keys, self.values = self.keys[index], self.values[index]
