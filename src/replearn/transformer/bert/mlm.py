r"""Masked-language-model inputs: the 15% / 80-10-10 corruption, and sentence-pair builders.

Papers: Devlin et al. 2019, arXiv:1810.04805 (BERT, Sec. 3.1 and Appendix A.1); Liu et al. 2019,
arXiv:1907.11692 (RoBERTa: dynamic masking, no NSP, Sec. 4.1-4.2); Lan et al. 2019,
arXiv:1909.11942 (ALBERT: sentence-order prediction, Sec. 3.1).

Masking (BERT Sec. 3.1): each eligible token (not ``[CLS]``, ``[SEP]``, padding, ...) is
selected independently with probability :math:`p = 0.15`,

.. math::

    m_i \sim \mathrm{Bernoulli}(p) \cdot \mathbb 1[x_i \text{ eligible}]          \qquad (1)

and a selected token is replaced by ``[MASK]`` with probability 0.8, by a token drawn uniformly
from the vocabulary with probability 0.1, and kept with probability 0.1:

.. math::

    \tilde x_i = \begin{cases} \texttt{[MASK]} & u_i < 0.8 \\ r_i \sim U\{V_{lo}, \dots, V - 1\}
    & 0.8 \le u_i < 0.9 \\ x_i & \text{otherwise} \end{cases}, \qquad
    y_i = \begin{cases} x_i & m_i = 1 \\ -100 & m_i = 0 \end{cases}            \qquad (2)

The loss reads only the selected positions (label ``-100`` elsewhere). BERT masked each sequence
once when the data were written (*static*, duplicated ten times with different masks); RoBERTa
draws a new mask every time a sequence is fed (*dynamic*): :class:`MLMCollator` does either.

Next-sentence prediction (BERT Sec. 3.1, Task #2): for a sentence A, B is the sentence that
follows A in its document with probability 0.5 (label 0, IsNext, the ``transformers``
convention) and a random sentence of another document otherwise (label 1, NotNext):
:func:`nsp_pairs`. Sentence-order prediction (ALBERT): two consecutive sentences in order
(label 0) or swapped (label 1): :func:`sop_pairs`. :func:`encode_pair` writes
``[CLS] A [SEP] B [SEP]`` with segment ids 0 then 1, truncating the longer segment first.

Deviations: a random replacement token is drawn from ``[random_low, V)`` (``random_low = 0``
draws from the whole vocabulary as BERT does; a larger value leaves out the special tokens).
Selection is per token (Bernoulli), as Google's and Hugging Face's code do, not an exact 15% per
sequence.

Tests (``tests/transformer/test_mlm.py``): selection and 80/10/10 rates on a large batch within
binomial tolerances computed from the counts; special and padding tokens never selected; labels;
static masks repeat and dynamic ones change; NSP/SOP label balance and pair structure.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "MLMCollator", "encode_pair", "mask_tokens", "masking_statistics", "nsp_pairs", "pad_pairs",
    "select_tokens", "sop_pairs",
]  # fmt: skip

IGNORE_INDEX = -100
Pair = tuple[list[int], list[int] | None, int]
"""``(segment A, segment B or None, sentence-pair label or -100)``."""


def select_tokens(eligible: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    """Eq. (1): each eligible position selected independently with probability ``p``.

    Shape:
        (B, L) bool -> (B, L) bool.
    """
    u = torch.rand(eligible.shape, generator=generator, device=eligible.device)
    return (u < p) & eligible


def mask_tokens(
    input_ids: Tensor,
    eligible: Tensor,
    *,
    mask_id: int,
    vocab_size: int,
    p: float = 0.15,
    p_mask: float = 0.8,
    p_random: float = 0.1,
    random_low: int = 0,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Eqs. (1)-(2): corrupted inputs and labels (original id where selected, -100 elsewhere).

    Shape:
        input_ids (B, L) int64, eligible (B, L) bool -> inputs (B, L), labels (B, L).
    """
    if not (0 <= p <= 1 and p_mask >= 0 and p_random >= 0 and p_mask + p_random <= 1):
        raise ValueError(f"bad probabilities p={p}, p_mask={p_mask}, p_random={p_random}")
    if not 0 <= random_low < vocab_size:
        raise ValueError(f"random_low must be in [0, {vocab_size}), got {random_low}")
    selected = select_tokens(eligible, p, generator)  # (B, L)
    labels = torch.where(selected, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    u = torch.rand(input_ids.shape, generator=generator, device=input_ids.device)
    rand = torch.randint(
        random_low, vocab_size, input_ids.shape, generator=generator, device=input_ids.device
    )
    out = torch.where(selected & (u < p_mask), torch.full_like(input_ids, mask_id), input_ids)
    out = torch.where(selected & (u >= p_mask) & (u < p_mask + p_random), rand, out)
    return out, labels


def masking_statistics(original: Tensor, inputs: Tensor, labels: Tensor, mask_id: int) -> dict:
    """Counts of a corruption: eligible-free summary of what :func:`mask_tokens` did.

    Returns ``selected`` (labels != -100), and among them ``masked`` (now ``[MASK]``),
    ``replaced`` (another token, not ``[MASK]``) and ``kept`` (unchanged), as ints.
    """
    sel = labels != IGNORE_INDEX
    masked = sel & (inputs == mask_id)
    kept = sel & (inputs == original)
    return {
        "selected": int(sel.sum()),
        "masked": int(masked.sum()),
        "replaced": int((sel & ~masked & ~kept).sum()),
        "kept": int(kept.sum()),
    }


def encode_pair(
    a: Sequence[int], b: Sequence[int] | None, *, cls_id: int, sep_id: int, max_len: int
) -> tuple[list[int], list[int]]:
    """``[CLS] A [SEP] (B [SEP])`` and its segment ids, truncating the longer segment first.

    Returns:
        ``(ids, token_type_ids)`` of equal length ``<= max_len``.
    """
    a, b = list(a), (list(b) if b is not None else None)
    budget = max_len - (3 if b is not None else 2)
    if budget < 0:
        raise ValueError(f"max_len {max_len} leaves no room for the special tokens")
    while len(a) + len(b or []) > budget:
        if b is not None and len(b) > len(a):
            b.pop()
        else:
            a.pop()
    ids = [cls_id, *a, sep_id]
    types = [0] * len(ids)
    if b is not None:
        ids += [*b, sep_id]
        types += [1] * (len(b) + 1)
    return ids, types


def nsp_pairs(
    documents: Sequence[Sequence[list[int]]], *, p_random: float = 0.5, seed: int = 0
) -> list[Pair]:
    """BERT's NSP pairs: (A, next sentence, 0) or (A, sentence of another document, 1).

    Every sentence that has a successor in its document is an A once. Needs >= 2 documents.
    """
    if len(documents) < 2:
        raise ValueError("NSP needs at least two documents (random B comes from another one)")
    rng = random.Random(seed)
    pairs: list[Pair] = []
    for d, doc in enumerate(documents):
        for i in range(len(doc) - 1):
            if rng.random() < p_random:
                other = rng.randrange(len(documents) - 1)
                other += other >= d  # a document other than d
                pairs.append((doc[i], rng.choice(documents[other]), 1))
            else:
                pairs.append((doc[i], doc[i + 1], 0))
    return pairs


def sop_pairs(documents: Sequence[Sequence[list[int]]], *, seed: int = 0) -> list[Pair]:
    """ALBERT's sentence-order pairs: consecutive sentences in order (0) or swapped (1)."""
    rng = random.Random(seed)
    pairs: list[Pair] = []
    for doc in documents:
        for i in range(len(doc) - 1):
            swap = rng.random() < 0.5
            a, b = (doc[i + 1], doc[i]) if swap else (doc[i], doc[i + 1])
            pairs.append((a, b, int(swap)))
    return pairs


def pad_pairs(
    pairs: Sequence[Pair], *, cls_id: int, sep_id: int, pad_id: int, max_len: int
) -> dict[str, Tensor]:
    """Encode and pad pairs to the longest one: ``input_ids``, ``token_type_ids``,
    ``attention_mask`` (1 on tokens) and ``pair_labels`` (B,).

    Shape:
        -> (B, T) int64 each, ``pair_labels`` (B,), with T the longest encoded pair.
    """
    enc = [encode_pair(a, b, cls_id=cls_id, sep_id=sep_id, max_len=max_len) for a, b, _ in pairs]
    width = max(len(ids) for ids, _ in enc)
    ids = torch.tensor([row + [pad_id] * (width - len(row)) for row, _ in enc], dtype=torch.int64)
    types = torch.tensor([tt + [0] * (width - len(tt)) for _, tt in enc], dtype=torch.int64)
    attn = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r, _ in enc])
    labels = torch.tensor([lab for _, _, lab in pairs], dtype=torch.int64)
    return {
        "input_ids": ids,
        "token_type_ids": types,
        "attention_mask": attn,
        "pair_labels": labels,
    }


class MLMCollator:
    """Batches of pairs -> padded, masked tensors; dynamic (RoBERTa) or static (BERT) masks.

    Args:
        vocab_size: V. mask_id, cls_id, sep_id, pad_id: special token ids.
        special_ids: ids never selected (``cls``, ``sep``, ``pad`` and ``mask`` always are).
        max_len: longest encoded pair. p, p_mask, p_random, random_low: as :func:`mask_tokens`.
        dynamic: a new mask at every call (RoBERTa); else a mask fixed per sequence (seeded by
            its content and ``seed``), the same every epoch (BERT's static masking).
        seed: seed of the generator.
    """

    def __init__(
        self, *, vocab_size: int, mask_id: int, cls_id: int, sep_id: int, pad_id: int,
        special_ids: Sequence[int] = (), max_len: int = 128, p: float = 0.15,
        p_mask: float = 0.8, p_random: float = 0.1, random_low: int = 0, dynamic: bool = True,
        seed: int = 0,
    ) -> None:  # fmt: skip
        self.special = torch.tensor(sorted({mask_id, cls_id, sep_id, pad_id, *special_ids}))
        self.ids = {"cls_id": cls_id, "sep_id": sep_id, "pad_id": pad_id, "max_len": max_len}
        self.kw = dict(mask_id=mask_id, vocab_size=vocab_size, p=p, p_mask=p_mask)
        self.kw.update(p_random=p_random, random_low=random_low)
        self.dynamic, self.seed = dynamic, seed
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, pairs: Sequence[Pair]) -> dict[str, Tensor]:
        batch = pad_pairs(pairs, **self.ids)
        x = batch["input_ids"]  # (B, T)
        eligible = ~torch.isin(x, self.special)
        if self.dynamic:
            x, labels = mask_tokens(x, eligible, generator=self.generator, **self.kw)
            batch["input_ids"], batch["labels"] = x, labels
            return batch
        inputs, labels = x.clone(), torch.full_like(x, IGNORE_INDEX)
        for r, n in enumerate(batch["attention_mask"].sum(dim=1).tolist()):
            row = x[r : r + 1, :n]  # (1, n): the unpadded sequence keys its mask
            g = torch.Generator().manual_seed(zlib.crc32(row.numpy().tobytes()) ^ self.seed)
            ok = eligible[r : r + 1, :n]
            inputs[r, :n], labels[r, :n] = mask_tokens(row, ok, generator=g, **self.kw)
        batch["input_ids"], batch["labels"] = inputs, labels
        return batch
