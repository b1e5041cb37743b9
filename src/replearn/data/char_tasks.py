"""Generated character-level sequence-to-sequence tasks: reversal, sorting, date formats.

Every data set draws its pairs at construction from a ``random.Random(seed)``, so the
same arguments give the same strings and tensors. The tasks (:data:`TASKS`):

- ``reverse``: a random string over the first ``alphabet`` letters, reversed
  (``"fbdab" -> "badbf"``);
- ``sort``: the same strings with their letters in alphabetical order
  (``"fbdab" -> "abbdf"``);
- ``date``: an ISO date between 1950 and 2049 in the long form
  (``"2024-03-07" -> "07 Mar 2024"``); ``min_len``, ``max_len`` and ``alphabet`` do
  not apply.

One fixed vocabulary (:class:`CharTaskVocab`) covers the three tasks: ``PAD = 0``,
``BOS = 1``, ``EOS = 2`` and one id per character of :data:`CHARS`. Item ``i`` of
:class:`CharSeq2Seq` is ``(src, src_length, tgt)``: the source ids right-padded with
``PAD`` to the longest source, its length, and the target ids followed by ``EOS`` and
right-padded with ``PAD`` to the longest target + 1. A decoder reads
``[BOS, tgt[:-1]]`` and predicts ``tgt``; ``PAD`` positions are ignored by the loss.
"""

from __future__ import annotations

import calendar
import random
from collections.abc import Iterable

import torch
from torch.utils.data import Dataset

__all__ = ["BOS", "CHARS", "EOS", "PAD", "TASKS", "CharSeq2Seq", "CharTaskVocab", "generate_pairs"]

PAD, BOS, EOS = 0, 1, 2
CHARS = " -0123456789ABCDEFGJMNOSabcdefghijklmnopqrstuvwxyz"
"""The characters of the three tasks (the capitals are the first letters of the months)."""
TASKS = ("reverse", "sort", "date")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class CharTaskVocab:
    """Ids of the character tasks: ``<pad>``, ``<bos>``, ``<eos>``, then :data:`CHARS`."""

    def __init__(self) -> None:
        self.itos: list[str] = ["<pad>", "<bos>", "<eos>", *CHARS]
        self.stoi: dict[str, int] = {c: i + 3 for i, c in enumerate(CHARS)}

    def __len__(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return f"CharTaskVocab(size={len(self)})"

    def encode(self, text: str) -> list[int]:
        """Characters -> ids (no specials added).

        Raises:
            ValueError: If ``text`` holds a character outside :data:`CHARS`.
        """
        try:
            return [self.stoi[c] for c in text]
        except KeyError as err:
            raise ValueError(f"character {err.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        """Ids -> text, stopping at the first ``EOS``; ``PAD`` and ``BOS`` are dropped."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        out = []
        for i in ids:
            if i == EOS:
                break
            if i > EOS:
                out.append(self.itos[i])
        return "".join(out)


def _date_pair(rng: random.Random) -> tuple[str, str]:
    y, m = rng.randint(1950, 2049), rng.randint(1, 12)
    d = rng.randint(1, calendar.monthrange(y, m)[1])
    return f"{y}-{m:02d}-{d:02d}", f"{d:02d} {MONTHS[m - 1]} {y}"


def generate_pairs(
    task: str,
    n: int,
    *,
    seed: int = 0,
    min_len: int = 3,
    max_len: int = 12,
    alphabet: int = 8,
) -> list[tuple[str, str]]:
    """``n`` (source, target) strings of ``task`` (see the module docstring).

    Lengths of the random strings are uniform in ``[min_len, max_len]``, letters
    uniform over the first ``alphabet`` letters ``a, b, ...``.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    if not 1 <= min_len <= max_len:
        raise ValueError(f"need 1 <= min_len <= max_len, got {min_len}, {max_len}")
    if not 2 <= alphabet <= 26:
        raise ValueError(f"alphabet must be in [2, 26], got {alphabet}")
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"[:alphabet]
    pairs = []
    for _ in range(n):
        if task == "date":
            pairs.append(_date_pair(rng))
            continue
        s = "".join(rng.choice(letters) for _ in range(rng.randint(min_len, max_len)))
        pairs.append((s, s[::-1] if task == "reverse" else "".join(sorted(s))))
    return pairs


class CharSeq2Seq(Dataset):
    """A generated character task as padded id tensors.

    Args:
        task: ``"reverse"``, ``"sort"`` or ``"date"``.
        n: number of pairs.
        seed: seed of the generator.
        min_len: shortest random string (reverse, sort).
        max_len: longest random string (reverse, sort).
        alphabet: letters the random strings draw from (reverse, sort).

    Attributes:
        pairs: the (source, target) strings.
        vocab: the shared :class:`CharTaskVocab`.
        src: (N, S) int64 source ids, right-padded with ``PAD``.
        src_lengths: (N,) int64 source lengths.
        tgt: (N, T) int64 target ids + ``EOS``, right-padded with ``PAD``.
    """

    def __init__(
        self,
        task: str,
        n: int,
        *,
        seed: int = 0,
        min_len: int = 3,
        max_len: int = 12,
        alphabet: int = 8,
    ) -> None:
        self.task = task
        self.pairs = generate_pairs(
            task, n, seed=seed, min_len=min_len, max_len=max_len, alphabet=alphabet
        )
        self.vocab = CharTaskVocab()
        s_max = max(len(s) for s, _ in self.pairs)
        t_max = max(len(t) for _, t in self.pairs) + 1
        self.src = torch.full((n, s_max), PAD, dtype=torch.int64)
        self.tgt = torch.full((n, t_max), PAD, dtype=torch.int64)
        self.src_lengths = torch.tensor([len(s) for s, _ in self.pairs], dtype=torch.int64)
        for i, (s, t) in enumerate(self.pairs):
            self.src[i, : len(s)] = torch.tensor(self.vocab.encode(s))
            self.tgt[i, : len(t) + 1] = torch.tensor([*self.vocab.encode(t), EOS])

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.src[i], self.src_lengths[i], self.tgt[i]

    def __repr__(self) -> str:
        return f"CharSeq2Seq(task={self.task!r}, n={len(self)})"
