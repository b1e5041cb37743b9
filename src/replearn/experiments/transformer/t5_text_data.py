"""Data of the ``t5-text`` experiment: the generated text-to-text tasks and the streams.

* :func:`make_example` -- one (input, answer) pair of a task (``reverse``, ``sort``,
  ``date``), the prefix naming the task as in Raffel et al. 2020 (arXiv:1910.10683);
* :func:`is_test`, :func:`sample_split` -- the held-out side of the split (CRC-32 of the
  input), never trained on;
* :class:`Codec` -- characters <-> ids (0 pad, 1 eos, the characters, then T5's sentinels);
* :class:`TaskStream`, :class:`SpanCorruptionStream` -- the engine's endless, resumable
  batch streams of the task mixture and of span-corrupted Tiny Shakespeare windows;
* :class:`TextToTextTask` -- T5's cross-entropy as an engine task.

``cfg`` arguments are :class:`replearn.experiments.transformer.t5_text.Config` objects.
"""

from __future__ import annotations

import datetime as dt
import random
import zlib
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from replearn.data.text import TinyShakespeare
from replearn.engine import Stream, Task
from replearn.transformer.t5.model import T5
from replearn.transformer.t5.span_corruption import span_corruption
from replearn.transformer.tokenizers import CharTokenizer

if TYPE_CHECKING:
    from replearn.experiments.transformer.t5_text import Config

__all__ = [
    "EOS", "MONTHS", "N_SENTINELS", "PAD", "TASKS", "Codec", "SpanCorruptionStream",
    "TaskStream", "TextToTextTask", "is_test", "make_example", "pad", "sample_split",
    "shakespeare_ids",
]  # fmt: skip

TASKS = ("reverse", "sort", "date")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")  # fmt: skip
PAD, EOS = 0, 1
N_SENTINELS = 16


def make_example(task: str, rng: random.Random, max_letters: int = 8) -> tuple[str, str]:
    """One (input, answer) pair of ``task``, prefix included."""
    if task == "date":
        day = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(36525))
        return f"date: {day.day} {MONTHS[day.month - 1]} {day.year}", day.isoformat()
    letters = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz")
                      for _ in range(rng.randint(3, max_letters)))  # fmt: skip
    return f"{task}: {letters}", letters[::-1] if task == "reverse" else "".join(sorted(letters))


def is_test(text: str, inv: int) -> bool:
    """The held-out examples: CRC-32 of the input in the last 1/inv of the range."""
    return zlib.crc32(text.encode()) % inv == 0


def sample_split(task: str, n: int, *, test: bool, rng: random.Random, cfg: Config):
    """``n`` examples of ``task`` from the train or the test side of the split."""
    out = []
    while len(out) < n:
        x, y = make_example(task, rng, cfg.max_letters)
        if is_test(x, cfg.test_fraction_inv) == test:
            out.append((x, y))
    return out


class Codec:
    """Characters <-> ids with 0 = pad, 1 = eos, then the characters, then the sentinels."""

    def __init__(self, text: str) -> None:
        self.chars = CharTokenizer.train(text)
        self.sentinels = [2 + self.chars.vocab_size + i for i in range(N_SENTINELS)]
        self.vocab_size = 2 + self.chars.vocab_size + N_SENTINELS

    def encode(self, s: str, eos: bool = True) -> list[int]:
        return [2 + i for i in self.chars.encode(s)] + ([EOS] if eos else [])

    def decode(self, ids: list[int]) -> str:
        out = []
        for i in ids:
            if i == EOS:
                break
            if 2 <= i < 2 + self.chars.vocab_size:
                out.append(self.chars.decode([i - 2]))
        return "".join(out)


def pad(rows: list[list[int]], value: int) -> Tensor:
    """Right-pad int lists to one (B, T) int64 tensor."""
    width = max(len(r) for r in rows)
    return torch.tensor([r + [value] * (width - len(r)) for r in rows], dtype=torch.long)


class TextToTextTask(Task):
    """T5's cross-entropy on ``(inputs, labels)`` batches (pad masked, labels -100 ignored)."""

    def __init__(self, model: T5) -> None:
        super().__init__()
        self.model = model

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        x, labels = batch
        return self.model.loss(x, labels, x != PAD), {}


def _python_rng_state(rng: random.Random) -> list[Any]:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


class TaskStream(Stream):
    """Endless batches mixing the tasks evenly (train side of the split), from a seeded RNG."""

    def __init__(self, cfg: Config, codec: Codec, seed: int) -> None:
        self.cfg, self.codec, self.rng = cfg, codec, random.Random(seed)

    def next_batch(self) -> tuple[Tensor, Tensor]:
        per_task, cfg = self.cfg.batch_size // len(self.cfg.tasks), self.cfg
        ex = [e for t in cfg.tasks
              for e in sample_split(t, per_task, test=False, rng=self.rng, cfg=cfg)]  # fmt: skip
        return (
            pad([self.codec.encode(x) for x, _ in ex], PAD),
            pad([self.codec.encode(y) for _, y in ex], -100),
        )

    def state_dict(self) -> dict[str, Any]:
        return {"rng": _python_rng_state(self.rng)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))


class SpanCorruptionStream(Stream):
    """Endless span-corruption batches of random Tiny Shakespeare windows (then eos)."""

    def __init__(self, cfg: Config, codec: Codec, text_ids: list[int], seed: int) -> None:
        self.cfg, self.codec, self.text_ids = cfg, codec, text_ids
        self.gen = torch.Generator().manual_seed(seed)

    def next_batch(self) -> tuple[Tensor, Tensor]:
        n = self.cfg.pretrain_chars
        starts = torch.randint(len(self.text_ids) - n, (self.cfg.batch_size,), generator=self.gen)
        pairs = [
            span_corruption(self.text_ids[s : s + n], self.codec.sentinels, generator=self.gen)
            for s in starts.tolist()
        ]
        inputs = pad([[*i.tolist(), EOS] for i, _ in pairs], PAD)
        return inputs, pad([[*t.tolist(), EOS] for _, t in pairs], -100)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gen.set_state(state["generator"])


def shakespeare_ids(codec: Codec, split: str = "train") -> Tensor:
    """Tiny Shakespeare's ``split`` in the codec's ids (a lookup table from its own ids)."""
    ds = TinyShakespeare(split, block_size=8)
    table = torch.tensor([codec.encode(c, eos=False)[0] for c in ds.vocab.itos])
    return table[ds.data]
