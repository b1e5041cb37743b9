"""Text data: Tiny Shakespeare characters and SST-2 sentences.

Tiny Shakespeare (Karpathy's char-rnn) is modelled one character at a time as in
nanoGPT's ``shakespeare_char``: the vocabulary is the sorted set of the 65 characters
of the whole text, the first 90% of the characters is the train split and the last
10% the val split.

SST-2 (binary Stanford Sentiment Treebank, GLUE) is a list of lowercased,
space-tokenized sentences with a 0/1 label (1 = positive). Words are mapped to ids
by a :class:`WordVocab` built on the train split only, and :func:`collate` pads a
batch of sentences to its longest one.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import torch
from torch.utils.data import Dataset

from replearn.data.sources import DataError, file_path

__all__ = [
    "SST2",
    "CharVocab",
    "TinyShakespeare",
    "WordVocab",
    "collate",
    "read_sst2_tsv",
    "tiny_shakespeare_text",
]

TRAIN_FRACTION = 0.9  # nanoGPT's shakespeare_char split


class CharVocab:
    """Character-level vocabulary: id ``i`` is the ``i``-th character in sorted order.

    Args:
        text: Text whose distinct characters make up the vocabulary.
    """

    def __init__(self, text: str) -> None:
        self.itos: list[str] = sorted(set(text))
        self.stoi: dict[str, int] = {ch: i for i, ch in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return f"CharVocab(size={len(self)})"

    def encode(self, text: str) -> list[int]:
        """Map a string to character ids.

        Raises:
            ValueError: If ``text`` holds a character outside the vocabulary.
        """
        try:
            return [self.stoi[ch] for ch in text]
        except KeyError as err:
            raise ValueError(f"character {err.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        """Map character ids (ints or a 1-D tensor) back to a string."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return "".join(self.itos[i] for i in ids)


def tiny_shakespeare_text() -> str:
    """Return the full Tiny Shakespeare text (1,115,394 characters), verified.

    The file is located (and its digest checked) on every call; its content is cached per
    path, so a change of ``$REPLEARN_DATA`` within a process is honoured.
    """
    return _read_text(file_path("tinyshakespeare", "input.txt"))


@lru_cache(maxsize=2)
def _read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _encoded_shakespeare() -> tuple[CharVocab, torch.Tensor]:
    return _encode_text(file_path("tinyshakespeare", "input.txt"))


@lru_cache(maxsize=2)
def _encode_text(path: Path) -> tuple[CharVocab, torch.Tensor]:
    text = _read_text(path)
    vocab = CharVocab(text)
    return vocab, torch.tensor(vocab.encode(text), dtype=torch.int64)


class TinyShakespeare(Dataset):
    """Next-character blocks of Tiny Shakespeare.

    Item ``i`` is ``(x, y)`` with ``x = data[i : i + block_size]`` and
    ``y = data[i + 1 : i + 1 + block_size]``: int64 tensors of shape ``(block_size,)``,
    ``y`` being ``x`` shifted by one character. Every start position is an item, so
    consecutive items overlap (nanoGPT samples random start positions instead, which
    a shuffling sampler reproduces).

    Args:
        split: ``"train"`` (first 90% of the characters) or ``"val"`` (last 10%).
        block_size: Context length.

    Attributes:
        vocab: The :class:`CharVocab` of the full text (65 characters).
        data: The split as an int64 tensor of character ids.
    """

    def __init__(self, split: str = "train", block_size: int = 256) -> None:
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        if block_size < 1:
            raise ValueError(f"block_size must be positive, got {block_size}")
        self.vocab, encoded = _encoded_shakespeare()
        n = int(TRAIN_FRACTION * len(encoded))
        self.data = encoded[:n] if split == "train" else encoded[n:]
        if len(self.data) <= block_size:
            raise ValueError(f"block_size {block_size} leaves no block in the {split} split")
        self.split, self.block_size = split, block_size

    def __len__(self) -> int:
        return len(self.data) - self.block_size

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} blocks")
        i %= len(self)
        chunk = self.data[i : i + self.block_size + 1]
        return chunk[:-1], chunk[1:]


class WordVocab:
    """Word vocabulary over whitespace-separated tokens.

    Id 0 is ``<pad>``, id 1 is ``<unk>`` (any word not in the vocabulary); the other
    words follow by decreasing count, ties broken alphabetically.

    Args:
        itos: The id -> word list, starting with ``<pad>`` and ``<unk>``.
    """

    PAD, UNK = "<pad>", "<unk>"
    PAD_ID, UNK_ID = 0, 1

    def __init__(self, itos: Sequence[str]) -> None:
        if list(itos[:2]) != [self.PAD, self.UNK]:
            raise ValueError("a WordVocab must start with '<pad>', '<unk>'")
        self.itos = list(itos)
        self.stoi = {word: i for i, word in enumerate(self.itos)}

    @classmethod
    def build(cls, texts: Iterable[str], min_freq: int = 1) -> WordVocab:
        """Build a vocabulary of the words occurring at least ``min_freq`` times in ``texts``."""
        counts = Counter(word for text in texts for word in text.split())
        kept = [word for word, count in counts.items() if count >= min_freq]
        words = sorted(kept, key=lambda word: (-counts[word], word))
        return cls([cls.PAD, cls.UNK, *words])

    def __len__(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return f"WordVocab(size={len(self)})"

    def encode(self, text: str) -> list[int]:
        """Split ``text`` on whitespace and map each word to its id (``<unk>`` if unknown)."""
        return [self.stoi.get(word, self.UNK_ID) for word in text.split()]

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        """Map ids back to space-separated words, dropping ``<pad>``."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return " ".join(self.itos[i] for i in ids if i != self.PAD_ID)


def read_sst2_tsv(path: str | Path) -> tuple[list[str], list[int]]:
    """Read an SST-2 tab-separated file with a header row.

    Columns are found by name, in any order: the text is ``sentence`` (GLUE) or
    ``content``; the label is ``label``; any other column (GLUE test's ``index``) is
    ignored. The GLUE test split has no label column: its labels are all ``-1``.

    Returns:
        ``(sentences, labels)``.

    Raises:
        DataError: If the header lacks a text column, a row is malformed or a label is
            not 0 or 1.
    """
    path = Path(path)
    with path.open(encoding="utf-8", newline="") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(rows, None)
        if header is None:
            raise DataError(f"{path} is empty")
        text_col = next((header.index(c) for c in ("sentence", "content") if c in header), None)
        if text_col is None:
            raise DataError(f"{path}: no 'sentence' or 'content' column in header {header}")
        label_col = header.index("label") if "label" in header else None
        sentences, labels = [], []
        for line, row in enumerate(rows, start=2):
            if len(row) != len(header):
                raise DataError(f"{path}:{line}: {len(row)} fields, header has {len(header)}")
            sentences.append(row[text_col].strip())
            if label_col is None:
                labels.append(-1)
            elif row[label_col] in ("0", "1"):
                labels.append(int(row[label_col]))
            else:
                raise DataError(f"{path}:{line}: label {row[label_col]!r} is not 0 or 1")
    return sentences, labels


def _sst2_split(split: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    return _read_sst2(file_path("sst2", f"{split}.tsv"))


@lru_cache(maxsize=6)
def _read_sst2(path: Path) -> tuple[tuple[str, ...], tuple[int, ...]]:
    sentences, labels = read_sst2_tsv(path)
    return tuple(sentences), tuple(labels)


class SST2(Dataset):
    """SST-2 sentences as word ids with their 0/1 labels.

    Item ``i`` is ``(ids, label)``: an int64 tensor of shape ``(length,)`` and an int
    (``-1`` where the split has no labels). Batch items with :func:`collate`.

    Args:
        split: ``"train"`` (67,349 phrases), ``"dev"`` (872 sentences) or ``"test"``
            (1,821 sentences).
        vocab: Word vocabulary; by default built from the train split with ``min_freq``
            (never from dev or test).
        min_freq: Minimum count of a word in the train split to get its own id.

    Attributes:
        sentences: The raw sentences.
        labels: The labels.
        vocab: The :class:`WordVocab` in use.
    """

    def __init__(
        self, split: str = "train", *, vocab: WordVocab | None = None, min_freq: int = 1
    ) -> None:
        if split not in ("train", "dev", "test"):
            raise ValueError(f"split must be 'train', 'dev' or 'test', got {split!r}")
        sentences, labels = _sst2_split(split)
        self.split = split
        self.sentences, self.labels = list(sentences), list(labels)
        if vocab is None:
            vocab = WordVocab.build(_sst2_split("train")[0], min_freq=min_freq)
        self.vocab = vocab

    def __len__(self) -> int:
        return len(self.sentences)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        ids = torch.tensor(self.vocab.encode(self.sentences[i]), dtype=torch.int64)
        return ids, self.labels[i]


def collate(
    batch: Sequence[tuple[torch.Tensor, int]], pad_id: int = WordVocab.PAD_ID
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad a batch of ``(ids, label)`` items to its longest sequence.

    Args:
        batch: Items as returned by :class:`SST2`.
        pad_id: Id written after the end of shorter sequences.

    Returns:
        ``(ids, lengths, labels)``: int64 tensors of shapes ``(B, T)``, ``(B,)`` and
        ``(B,)``, with ``T`` the longest length in the batch.
    """
    lengths = torch.tensor([len(ids) for ids, _ in batch], dtype=torch.int64)
    width = int(lengths.max()) if len(batch) else 0
    padded = torch.full((len(batch), width), pad_id, dtype=torch.int64)
    for row, (ids, _) in enumerate(batch):
        padded[row, : len(ids)] = ids
    labels = torch.tensor([label for _, label in batch], dtype=torch.int64)
    return padded, lengths, labels
