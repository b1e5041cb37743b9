"""Synthetic sequence tasks that probe memory, generated deterministically from a seed.

Every data set draws all its examples at construction from a
``torch.Generator`` seeded with ``seed``, so the same arguments give bitwise the
same tensors. The token tasks share one layout so one model fits them all: item
``i`` is ``(x, y)``, two int64 tensors of the same length ``T``; ``y`` is
:data:`IGNORE_INDEX` (-100, what ``nn.CrossEntropyLoss`` skips) except at the
positions where the model must answer, so the loss is
``cross_entropy(logits.reshape(-1, V), y.reshape(-1))`` with ``V = vocab_size``.

- :class:`CopyTask`: ``x = s_1..s_L, DELIM, BLANK x L``; answer ``s_1..s_L`` at the end.
- :class:`SelectiveCopy`: ``K`` symbols scattered among noise, then ``K`` ``MARK``
  tokens; answer the ``K`` symbols in order at the end.
- :class:`AssociativeRecall`: ``x = k_1 v_1 .. k_P v_P q``; answer the value of ``q``
  at the last position.
- :class:`AddingProblem` (regression): ``x`` float ``(T, 2)``, values and two markers;
  ``y`` the sum of the two marked values.
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

__all__ = ["IGNORE_INDEX", "AddingProblem", "AssociativeRecall", "CopyTask", "SelectiveCopy"]

IGNORE_INDEX = -100


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be positive, got {value}")


class _TensorTask(Dataset):
    """Base: items are rows of pre-generated tensors ``x`` and ``y``."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]


class CopyTask(_TensorTask):
    """Copy task (Graves, Wayne & Danihelka 2014, "Neural Turing Machines", arXiv:1410.5401).

    The model reads ``seq_len`` random symbols, then a delimiter, then blanks, during
    which it must output the symbols in the same order. Symbols are tokens here
    rather than the paper's random 8-bit vectors.

    Format (``T = 2 * seq_len + 1``, vocabulary ``num_symbols + 2``):
        - ``x`` int64 ``(T,)``: ``s_1 .. s_L, DELIM, BLANK .. BLANK`` (``L`` blanks).
        - ``y`` int64 ``(T,)``: ``-100`` at the first ``L + 1`` positions, then ``s_1 .. s_L``.
        - Tokens: ``BLANK = 0``, ``DELIM = 1``, symbols ``2 .. num_symbols + 1``,
          uniform and independent.

    Args:
        n: Number of examples.
        seq_len: Number of symbols to copy, ``L``.
        num_symbols: Alphabet size.
        seed: Seed of the generator.
    """

    BLANK, DELIM = 0, 1

    def __init__(self, n: int, *, seq_len: int = 10, num_symbols: int = 8, seed: int = 0) -> None:
        _check_positive(n=n, seq_len=seq_len, num_symbols=num_symbols)
        g = _generator(seed)
        symbols = torch.randint(2, num_symbols + 2, (n, seq_len), generator=g)  # (n, L)
        delim = torch.full((n, 1), self.DELIM)
        self.x = torch.cat([symbols, delim, torch.full_like(symbols, self.BLANK)], dim=1)
        self.y = torch.cat([torch.full((n, seq_len + 1), IGNORE_INDEX), symbols], dim=1)
        self.vocab_size = num_symbols + 2
        self.seq_len = seq_len


class SelectiveCopy(_TensorTask):
    """Selective copying (Gu & Dao 2023, "Mamba", arXiv:2312.00752, section 3.1).

    ``num_tokens`` symbols sit at random positions among ``seq_len`` noise tokens;
    after them come ``num_tokens`` marker tokens, during which the model must output
    the symbols in order. Solving it needs content-aware selection: the spacing is
    random, so a time-invariant filter cannot do it.

    Format (``T = seq_len + num_tokens``, vocabulary ``num_symbols + 2``):
        - ``x`` int64 ``(T,)``: ``seq_len`` tokens, all ``NOISE`` except ``num_tokens``
          distinct positions (uniformly chosen) that hold the symbols, then ``MARK`` x
          ``num_tokens``.
        - ``y`` int64 ``(T,)``: ``-100`` for the first ``seq_len`` positions, then the
          symbols in their order of appearance.
        - Tokens: ``NOISE = 0``, ``MARK = 1``, symbols ``2 .. num_symbols + 1``, uniform.

    Args:
        n: Number of examples.
        seq_len: Length of the noisy part (at least ``num_tokens``).
        num_tokens: Number of symbols to remember.
        num_symbols: Alphabet size.
        seed: Seed of the generator.
    """

    NOISE, MARK = 0, 1

    def __init__(
        self,
        n: int,
        *,
        seq_len: int = 64,
        num_tokens: int = 8,
        num_symbols: int = 8,
        seed: int = 0,
    ) -> None:
        _check_positive(n=n, seq_len=seq_len, num_tokens=num_tokens, num_symbols=num_symbols)
        if num_tokens > seq_len:
            raise ValueError(f"num_tokens ({num_tokens}) cannot exceed seq_len ({seq_len})")
        g = _generator(seed)
        symbols = torch.randint(2, num_symbols + 2, (n, num_tokens), generator=g)  # (n, K)
        # K distinct positions per row, sorted so the symbols keep their order.
        positions = torch.rand(n, seq_len, generator=g).argsort(dim=1)[:, :num_tokens]
        positions = positions.sort(dim=1).values  # (n, K)
        noisy = torch.full((n, seq_len), self.NOISE).scatter(1, positions, symbols)
        self.x = torch.cat([noisy, torch.full((n, num_tokens), self.MARK)], dim=1)
        self.y = torch.cat([torch.full((n, seq_len), IGNORE_INDEX), symbols], dim=1)
        self.vocab_size = num_symbols + 2
        self.seq_len, self.num_tokens = seq_len, num_tokens


class AssociativeRecall(_TensorTask):
    """Associative recall (Ba et al. 2016, "Using Fast Weights", arXiv:1610.06258).

    A list of key-value pairs with distinct keys, then a query key that is one of
    them; the model must output the value stored with it.

    Format (``T = 2 * num_pairs + 1``, vocabulary ``num_keys + num_values``):
        - ``x`` int64 ``(T,)``: ``k_1 v_1 .. k_P v_P q``.
        - ``y`` int64 ``(T,)``: ``-100`` everywhere except the last position, which holds
          the value paired with ``q``.
        - Tokens: keys ``0 .. num_keys - 1`` (distinct within a sequence), values
          ``num_keys .. num_keys + num_values - 1`` (independent, uniform); ``q`` is a
          uniformly chosen key of the sequence.

    Args:
        n: Number of examples.
        num_pairs: Number of key-value pairs, ``P`` (at most ``num_keys``).
        num_keys: Number of key tokens.
        num_values: Number of value tokens.
        seed: Seed of the generator.
    """

    def __init__(
        self,
        n: int,
        *,
        num_pairs: int = 8,
        num_keys: int = 16,
        num_values: int = 16,
        seed: int = 0,
    ) -> None:
        _check_positive(n=n, num_pairs=num_pairs, num_keys=num_keys, num_values=num_values)
        if num_pairs > num_keys:
            raise ValueError(f"num_pairs ({num_pairs}) cannot exceed num_keys ({num_keys})")
        g = _generator(seed)
        keys = torch.rand(n, num_keys, generator=g).argsort(dim=1)[:, :num_pairs]  # (n, P)
        values = torch.randint(num_keys, num_keys + num_values, (n, num_pairs), generator=g)
        which = torch.randint(0, num_pairs, (n, 1), generator=g)  # (n, 1)
        pairs = torch.stack([keys, values], dim=2).reshape(n, 2 * num_pairs)  # k1 v1 k2 v2 ..
        self.x = torch.cat([pairs, keys.gather(1, which)], dim=1)
        self.y = torch.full_like(self.x, IGNORE_INDEX)
        self.y[:, -1] = values.gather(1, which).squeeze(1)
        self.vocab_size = num_keys + num_values
        self.num_pairs = num_pairs


class AddingProblem(_TensorTask):
    """Adding problem (Hochreiter & Schmidhuber 1997, "Long Short-Term Memory", exp. 4).

    Uses the now-standard form of Le, Jaitly & Hinton (2015, arXiv:1504.00941): the
    values are uniform on ``[0, 1]``, one marker is in the first half of the sequence
    and one in the second half, and the target is the sum of the two marked values.
    Predicting the constant 1 gives a mean squared error of 1/6 (the variance of a sum
    of two uniforms), the baseline a model has to beat.

    Format:
        - ``x`` float32 ``(seq_len, 2)``: channel 0 the values ``u_t ~ U[0, 1]``,
          channel 1 the markers (exactly two 1s, at ``a < seq_len // 2 <= b``).
        - ``y`` float32 ``(1,)``: ``u_a + u_b``.

    Args:
        n: Number of examples.
        seq_len: Sequence length ``T`` (at least 2).
        seed: Seed of the generator.
    """

    def __init__(self, n: int, *, seq_len: int = 50, seed: int = 0) -> None:
        _check_positive(n=n)
        if seq_len < 2:
            raise ValueError(f"seq_len must be at least 2, got {seq_len}")
        g = _generator(seed)
        half = seq_len // 2
        values = torch.rand(n, seq_len, generator=g)  # (n, T)
        first = torch.randint(0, half, (n, 1), generator=g)
        second = torch.randint(half, seq_len, (n, 1), generator=g)
        markers = torch.zeros(n, seq_len).scatter(1, first, 1.0).scatter(1, second, 1.0)
        self.x = torch.stack([values, markers], dim=2)  # (n, T, 2)
        self.y = values.gather(1, first) + values.gather(1, second)  # (n, 1)
        self.seq_len = seq_len
