r"""Tokenizers: characters, words, and byte-level byte-pair encoding (BPE).

A language model sees integer ids; a tokenizer maps text to ids and back. Three
granularities, one interface (``encode(str) -> list[int]``, ``decode(list[int]) ->
str``, ``vocab_size``, ``save(path)`` / ``load(path)`` as JSON):

* :class:`CharTokenizer`: one id per distinct character (sorted, as
  :class:`replearn.data.text.CharVocab`); lossless, long sequences, tiny vocabulary.
* :class:`WordTokenizer`: one id per word or punctuation mark (split by the regular
  expression ``\w+|[^\w\s]``), the ``vocab_size`` most frequent ones, the rest
  ``<unk>``; short sequences, large vocabulary, lossy: :meth:`WordTokenizer.decode`
  joins tokens with single spaces.
* :class:`BPETokenizer`: byte-level BPE (R. Sennrich, B. Haddow & A. Birch, "Neural
  Machine Translation of Rare Words with Subword Units", 2016, arXiv:1508.07909,
  Algorithm 1; the byte-level variant of GPT-2, A. Radford et al. 2019). Start from
  the 256 bytes and repeatedly merge the most frequent adjacent pair of symbols into
  a new symbol until the vocabulary has ``vocab_size`` entries:

  .. math::

      (a, b)^\ast = \arg\max_{(a, b)} \mathrm{count}(a\,b),\quad
      V \leftarrow V \cup \{ab\}                                             \qquad (1)

  Any string is encodable (every byte is a symbol) and decoding is exact. Trained
  locally with Hugging Face ``tokenizers`` (``ByteLevel`` pre-tokenizer and decoder,
  ``BPE`` model, ``BpeTrainer`` with the 256-byte initial alphabet).
  :func:`learn_bpe_merges` writes Eq. (1) out in plain Python for reading.

Deviations: the word tokenizer lowercases optionally and is not reversible; the BPE
pre-tokenizer splits on GPT-2's regular expression before merging (merges never
cross a word boundary), as GPT-2 does.

Tests check: round trips (characters and BPE exact on Tiny Shakespeare and on
arbitrary Unicode via hypothesis), ids equal to ``CharVocab``'s, ``<unk>`` handling,
BPE shorter than characters, the vocabulary size, save/load giving the same ids,
and the first merges of :func:`learn_bpe_merges` on a hand-made corpus.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from replearn.registry import register

__all__ = [
    "BPETokenizer",
    "CharTokenizer",
    "WordTokenizer",
    "learn_bpe_merges",
    "load_tokenizer",
]

WORD_RE = re.compile(r"\w+|[^\w\s]")


def _write(path: str | Path, payload: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")


def _read(path: str | Path, kind: str) -> dict[str, Any]:
    payload = json.loads(Path(path).read_text(encoding="utf-8"))
    if payload.get("type") != kind:
        raise ValueError(f"{path} holds a {payload.get('type')!r} tokenizer, not {kind!r}")
    return payload


class CharTokenizer:
    """One id per character, in sorted order of the characters of the training text."""

    def __init__(self, chars: Iterable[str]) -> None:
        self.itos: list[str] = sorted(set(chars))
        if any(len(c) != 1 for c in self.itos):
            raise ValueError("CharTokenizer needs single characters")
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def train(cls, texts: str | Iterable[str]) -> CharTokenizer:
        """The distinct characters of ``texts`` (a string or an iterable of strings)."""
        return cls("".join([texts] if isinstance(texts, str) else texts))

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        """Character ids; a character outside the vocabulary is a ``ValueError``."""
        try:
            return [self.stoi[c] for c in text]
        except KeyError as err:
            raise ValueError(f"character {err.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.itos[int(i)] for i in ids)

    def save(self, path: str | Path) -> None:
        _write(path, {"type": "char", "chars": self.itos})

    @classmethod
    def load(cls, path: str | Path) -> CharTokenizer:
        return cls(_read(path, "char")["chars"])

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


class WordTokenizer:
    """Words and punctuation marks; id 0 is ``<pad>``, 1 is ``<unk>``, then by frequency.

    Args:
        words: the vocabulary after the two special tokens.
        lower: lowercase text before splitting.
    """

    PAD, UNK = "<pad>", "<unk>"

    def __init__(self, words: Iterable[str], *, lower: bool = True) -> None:
        self.itos = [self.PAD, self.UNK, *(w for w in words if w not in (self.PAD, self.UNK))]
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.lower = lower

    @classmethod
    def train(
        cls,
        texts: str | Iterable[str],
        vocab_size: int | None = None,
        *,
        min_freq: int = 1,
        lower: bool = True,
    ) -> WordTokenizer:
        """The most frequent words (ties alphabetical), at most ``vocab_size`` ids in all."""
        if vocab_size is not None and vocab_size < 3:
            raise ValueError(f"vocab_size must be >= 3 (two special tokens), got {vocab_size}")
        counts: Counter[str] = Counter()
        for text in [texts] if isinstance(texts, str) else texts:
            counts.update(cls.split(text, lower))
        ranked = sorted(
            (w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w)
        )
        return cls(ranked[: None if vocab_size is None else vocab_size - 2], lower=lower)

    @staticmethod
    def split(text: str, lower: bool = True) -> list[str]:
        """Words (``\\w+``) and single punctuation marks."""
        return WORD_RE.findall(text.lower() if lower else text)

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(w, 1) for w in self.split(text, self.lower)]

    def decode(self, ids: Iterable[int]) -> str:
        """Tokens joined by single spaces (the original spacing is lost)."""
        return " ".join(self.itos[int(i)] for i in ids)

    def save(self, path: str | Path) -> None:
        _write(path, {"type": "word", "words": self.itos[2:], "lower": self.lower})

    @classmethod
    def load(cls, path: str | Path) -> WordTokenizer:
        payload = _read(path, "word")
        return cls(payload["words"], lower=payload["lower"])

    def __repr__(self) -> str:
        return f"WordTokenizer(vocab_size={self.vocab_size}, lower={self.lower})"


class BPETokenizer:
    """Byte-level BPE (Eq. 1) through Hugging Face ``tokenizers``; exact round trips.

    Build with :meth:`train` or :meth:`load`; ``tokenizer`` is the ``tokenizers.Tokenizer``.
    """

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    @classmethod
    def train(
        cls,
        texts: str | Iterable[str],
        vocab_size: int,
        *,
        min_frequency: int = 2,
        special_tokens: tuple[str, ...] = (),
    ) -> BPETokenizer:
        """Learn merges on ``texts`` up to ``vocab_size`` symbols (256 bytes, merges, specials)."""
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        if vocab_size < 256 + len(special_tokens):
            raise ValueError(f"vocab_size must cover the 256 bytes, got {vocab_size}")
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            special_tokens=list(special_tokens),
            show_progress=False,
        )
        tok.train_from_iterator([texts] if isinstance(texts, str) else texts, trainer=trainer)
        return cls(tok)

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text).ids

    def decode(self, ids: Iterable[int]) -> str:
        return self.tokenizer.decode([int(i) for i in ids], skip_special_tokens=False)

    def tokens(self, text: str) -> list[str]:
        """The symbols of ``text`` (bytes shown as GPT-2's printable stand-ins, e.g. Ġ = space)."""
        return self.tokenizer.encode(text).tokens

    def save(self, path: str | Path) -> None:
        _write(path, {"type": "bpe", "tokenizer": json.loads(self.tokenizer.to_str())})

    @classmethod
    def load(cls, path: str | Path) -> BPETokenizer:
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_str(json.dumps(_read(path, "bpe")["tokenizer"])))

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size})"


def load_tokenizer(path: str | Path) -> CharTokenizer | WordTokenizer | BPETokenizer:
    """Load whichever tokenizer ``save`` wrote to ``path``."""
    kind = json.loads(Path(path).read_text(encoding="utf-8")).get("type")
    classes = {"char": CharTokenizer, "word": WordTokenizer, "bpe": BPETokenizer}
    if kind not in classes:
        raise ValueError(f"{path} is not a replearn tokenizer file (type {kind!r})")
    return classes[kind].load(path)


def learn_bpe_merges(words: dict[str, int], num_merges: int) -> list[tuple[str, str]]:
    """Eq. (1) in plain Python (Sennrich et al., Algorithm 1): the merges, in order.

    ``words`` maps a word to its count; symbols start as its characters. Ties between
    equally frequent pairs go to the lexicographically smallest pair.
    """
    vocab = {tuple(w): c for w, c in words.items()}
    merges: list[tuple[str, str]] = []
    for _ in range(num_merges):
        pairs: Counter[tuple[str, str]] = Counter()
        for symbols, count in vocab.items():
            for pair in itertools.pairwise(symbols):
                pairs[pair] += count
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        merged = {}
        for symbols, count in vocab.items():
            out, i = [], 0
            while i < len(symbols):
                if symbols[i : i + 2] == best:
                    out.append(best[0] + best[1])
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            merged[tuple(out)] = count
        vocab = merged
    return merges


register(
    "transformer.bpe_tokenizer",
    paper="Sennrich et al. 2016, arXiv:1508.07909; Radford et al. 2019 (GPT-2, byte level)",
    reference="exact round trips on Tiny Shakespeare and arbitrary Unicode; save/load",
)(BPETokenizer)
