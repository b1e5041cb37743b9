r"""Sentiment-steered continuation (Ziegler et al. 2019, arXiv:1909.08593, Sec. 3.1) with a
programmatic annotator.

A language model continues the first ``prompt_chars`` characters of a movie-review sentence; the
annotator prefers the more positive continuation. The ground-truth utility of a text is the logit
of a bag-of-words sentiment classifier (:class:`BagOfWordsClassifier`, trained by the
experiment), and the annotator is Bradley–Terry-noisy:

.. math::

    P(a \succ b) = \sigma\big((u(a) - u(b)) / T\big)                                \qquad (1)

so a ground truth exists against which a learned reward model's exploitation can be measured.

Data: the default is a built-in fixture, a small template language of movie-review sentences
(``the movie was really great and moving.``) with positive, negative and neutral adjectives, so
it runs offline with no file; each sentence's label is the sign of (positive - negative) words,
ties dropped. ``data="sst2"`` uses SST-2 (from the data folder; :class:`replearn.data.text.SST2`)
lower-cased sentences instead. Prompts are fixed-length character prefixes, so a batch generates
without attention masks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from replearn.rlhf.tasks.common import PromptBatch, decode_responses
from replearn.transformer.tokenizers import CharTokenizer

__all__ = ["BagOfWordsClassifier", "SentimentTask", "words"]

NOUNS = ("movie", "story", "music", "scene", "actor", "score", "album", "drama")
POSITIVE = ("great", "wonderful", "moving", "brilliant", "fun", "charming", "superb", "lovely")
NEGATIVE = ("dull", "boring", "awful", "bad", "weak", "tedious", "clumsy", "bland")
NEUTRAL = ("long", "french", "quiet", "loud", "slow", "old", "simple", "strange")
ADVERBS = ("very", "quite", "so", "really", "rather")
_WORD = re.compile(r"[a-z']+")


def words(text: str) -> list[str]:
    """Lower-case words of a text (letters and apostrophes)."""
    return _WORD.findall(text.lower())


def _fixture_sentence(g: torch.Generator) -> tuple[str, int]:
    def pick(options: Sequence[str]) -> str:
        return options[int(torch.randint(len(options), (1,), generator=g))]

    def adjective() -> tuple[str, int]:
        kind = int(torch.randint(5, (1,), generator=g))  # 2/5 positive, 2/5 negative, 1/5 neutral
        if kind < 2:
            return pick(POSITIVE), 1
        if kind < 4:
            return pick(NEGATIVE), -1
        return pick(NEUTRAL), 0

    (a1, p1), (a2, p2) = adjective(), adjective()
    adverb = pick(ADVERBS) + " " if torch.rand((), generator=g) < 0.5 else ""
    joint = "and" if p1 * p2 >= 0 else "but"
    return f"the {pick(NOUNS)} was {adverb}{a1} {joint} {a2}.", p1 + p2


class BagOfWordsClassifier(nn.Module):
    """Logistic regression on word counts: the annotator's sentiment logit :math:`u`.

    Args:
        vocab: the words with a weight (others are ignored).

    Shape:
        counts (N, V) -> logits (N,).
    """

    def __init__(self, vocab: Sequence[str]) -> None:
        super().__init__()
        self.vocab = list(vocab)
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.linear = nn.Linear(len(self.vocab), 1)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def featurize(self, texts: Sequence[str]) -> Tensor:
        """Word counts (N, V)."""
        counts = torch.zeros(len(texts), len(self.vocab))
        for i, t in enumerate(texts):
            for w in words(t):
                j = self.index.get(w)
                if j is not None:
                    counts[i, j] += 1
        return counts

    def forward(self, counts: Tensor) -> Tensor:
        return self.linear(counts).squeeze(-1)

    @torch.no_grad()
    def utility(self, texts: Sequence[str]) -> Tensor:
        """:math:`u(\\text{text})`, the positive-sentiment logit (N,), on the model's device."""
        return self(self.featurize(texts).to(self.linear.weight))

    def extra_repr(self) -> str:
        return f"vocab={len(self.vocab)}"


class SentimentTask:
    """Prompts, pretraining text, classifier data and the noisy annotator.

    Args:
        data: ``"fixture"`` (built in) or ``"sst2"`` (needs the data folder).
        prompt_chars: prompt length in characters (a prefix of a sentence).
        response_chars: characters generated after the prompt.
        annotator_temperature: :math:`T` of Eq. (1).
    """

    eos = "\n"

    def __init__(
        self,
        *,
        data: Literal["fixture", "sst2"] = "fixture",
        prompt_chars: int = 14,
        response_chars: int = 24,
        annotator_temperature: float = 1.0,
    ) -> None:
        if data not in ("fixture", "sst2"):
            raise ValueError(f"data must be 'fixture' or 'sst2', got {data!r}")
        if prompt_chars < 1 or response_chars < 1 or annotator_temperature <= 0:
            raise ValueError("need prompt_chars, response_chars >= 1 and a positive temperature")
        self.data, self.prompt_len, self.max_response_len = data, prompt_chars, response_chars
        self.temperature = annotator_temperature
        self._sst2: tuple[list[str], list[int]] | None = None
        if data == "sst2":
            from replearn.data.text import _sst2_split

            texts, labels = _sst2_split("train")
            self._sst2 = ([t.lower() + "." for t in texts], list(labels))
            chars = "".join(self._sst2[0]) + self.eos
        else:
            chars = " .\n" + "".join(NOUNS + POSITIVE + NEGATIVE + NEUTRAL + ADVERBS) + "thewasndbu"
        self.tokenizer = CharTokenizer(chars)
        self.eos_id = self.tokenizer.encode(self.eos)[0]

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size

    def sentences(self, n: int, generator: torch.Generator) -> tuple[list[str], list[int]]:
        """``n`` sentences and their labels (1 positive, 0 negative, -1 neutral / unknown)."""
        if self._sst2 is not None:
            texts, labels = self._sst2
            keep = [i for i, t in enumerate(texts) if len(t) > self.prompt_len]
            idx = torch.randint(len(keep), (n,), generator=generator).tolist()
            return [texts[keep[i]] for i in idx], [labels[keep[i]] for i in idx]
        out = [_fixture_sentence(generator) for _ in range(n)]
        return [s for s, _ in out], [1 if p > 0 else 0 if p < 0 else -1 for _, p in out]

    def pretraining_text(self, n: int, generator: torch.Generator) -> str:
        """``n`` sentences, one a line."""
        return "".join(s + self.eos for s in self.sentences(n, generator)[0])

    def classifier_vocab(self) -> list[str]:
        if self._sst2 is None:
            return sorted(set(words(" ".join(NOUNS + POSITIVE + NEGATIVE + NEUTRAL + ADVERBS))))
        counts: dict[str, int] = {}
        for t in self._sst2[0]:
            for w in words(t):
                counts[w] = counts.get(w, 0) + 1
        return sorted(w for w, c in counts.items() if c >= 3)

    def prompts(self, n: int, generator: torch.Generator) -> PromptBatch:
        """``n`` prompts, each a sentence's first ``prompt_chars`` characters (``info``: text)."""
        texts = [s[: self.prompt_len] for s in self.sentences(n, generator)[0]]
        ids = torch.tensor([self.tokenizer.encode(t) for t in texts])
        return PromptBatch(ids, texts)

    def decode(self, seq: Tensor) -> list[str]:
        return decode_responses(self.tokenizer, seq, self.prompt_len, self.eos)

    def texts(self, prompts: Sequence[str], responses: Sequence[str]) -> list[str]:
        return [p + r for p, r in zip(prompts, responses, strict=True)]

    def preferences(self, u_a: Tensor, u_b: Tensor, generator: torch.Generator) -> Tensor:
        """Eq. (1): True where the annotator prefers ``a`` (Bradley-Terry noise).

        Shape:
            (N,), (N,) -> (N,) bool.
        """
        p = torch.sigmoid((u_a - u_b) / self.temperature)
        return torch.rand(p.shape, generator=generator, dtype=p.dtype) < p
