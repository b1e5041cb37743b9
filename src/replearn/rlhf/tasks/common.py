"""Pieces shared by the built-in tasks: a batch of prompts and decoding of sampled responses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from replearn.transformer.tokenizers import CharTokenizer

__all__ = ["PromptBatch", "decode_responses", "pad_right"]


@dataclass
class PromptBatch:
    """Prompts of one length (so a batch generates without attention masks) and their metadata.

    Attributes:
        ids: prompt token ids (N, P).
        info: per-prompt data the task's reward needs (answers, prompt texts), length N.
    """

    ids: Tensor
    info: list[Any]

    def repeat(self, group_size: int) -> PromptBatch:
        """Each prompt ``group_size`` times in a row (GRPO groups, best-of-n candidates)."""
        info = [x for x in self.info for _ in range(group_size)]
        return PromptBatch(self.ids.repeat_interleave(group_size, dim=0), info)


def decode_responses(tok: CharTokenizer, seq: Tensor, prompt_len: int, eos: str) -> list[str]:
    """The text generated after the prompt, cut after the first ``eos`` (kept)."""
    out = []
    for row in seq[:, prompt_len:].tolist():
        text = tok.decode(row)
        cut = text.find(eos)
        out.append(text if cut < 0 else text[: cut + len(eos)])
    return out


def pad_right(rows: list[list[int]], pad: int) -> Tensor:
    """Equal-length rows, padded with ``pad`` on the right.

    Shape:
        N lists -> (N, longest) int64.
    """
    width = max(len(r) for r in rows)
    return torch.tensor([r + [pad] * (width - len(r)) for r in rows], dtype=torch.long)
