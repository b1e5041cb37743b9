"""MLM corruption statistics (binomial tolerances from the counts), special tokens, pairs."""

from __future__ import annotations

import math

import pytest
import torch

from replearn.transformer.bert.mlm import (
    MLMCollator,
    encode_pair,
    mask_tokens,
    masking_statistics,
    nsp_pairs,
    pad_pairs,
    sop_pairs,
)

PAD, UNK, CLS, SEP, MASK = range(5)
V = 1000
Z = 5.0  # tolerance in binomial standard deviations: a false alarm has probability < 1e-6


def within(count: int, n: int, p: float) -> bool:
    """``count`` is within Z standard deviations of Binomial(n, p)'s mean."""
    return abs(count - n * p) <= Z * math.sqrt(n * p * (1 - p))


def big_batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(5, V, (400, 128), generator=g)
    lengths = torch.randint(10, 127, (400,), generator=g)
    x[:, 0] = CLS
    x[torch.arange(400), lengths] = SEP
    x[torch.arange(128) > lengths[:, None]] = PAD
    return x, x >= 5


def test_selection_and_80_10_10_rates():
    x, eligible = big_batch()
    n = int(eligible.sum())
    g = torch.Generator().manual_seed(1)
    inputs, labels = mask_tokens(x, eligible, mask_id=MASK, vocab_size=V, random_low=5, generator=g)
    s = masking_statistics(x, inputs, labels, MASK)
    k = s["selected"]
    assert within(k, n, 0.15), (k, n)
    assert within(s["masked"], k, 0.8)
    # a random draw equal to the original token counts as kept: probability 1 / (V - 5)
    assert within(s["replaced"], k, 0.1 * (1 - 1 / (V - 5)))
    assert within(s["kept"], k, 0.1 + 0.1 / (V - 5))
    assert s["masked"] + s["replaced"] + s["kept"] == k


def test_rates_are_not_vacuous():
    # the same check rejects a corruption with 20% selection
    x, eligible = big_batch()
    n = int(eligible.sum())
    inputs, labels = mask_tokens(x, eligible, mask_id=MASK, vocab_size=V, p=0.2)
    assert not within(masking_statistics(x, inputs, labels, MASK)["selected"], n, 0.15)


def test_special_and_padding_tokens_are_never_selected():
    x, eligible = big_batch(seed=3)
    inputs, labels = mask_tokens(x, eligible, mask_id=MASK, vocab_size=V, p=0.9, random_low=5)
    assert torch.equal(inputs[~eligible], x[~eligible])
    assert (labels[~eligible] == -100).all()
    sel = labels != -100
    assert torch.equal(labels[sel], x[sel])  # labels are the original tokens
    changed = inputs != x
    assert ((inputs[changed] == MASK) | (inputs[changed] >= 5)).all()


def test_full_vocabulary_random_tokens_by_default():
    x, eligible = big_batch()
    inputs, _ = mask_tokens(x, eligible, mask_id=MASK, vocab_size=V, p=1.0, p_mask=0.0,
                                 p_random=1.0)  # fmt: skip
    assert (inputs[eligible] < 5).any()  # random_low=0: special ids can be drawn too


@pytest.mark.parametrize("kw", [{"p": 1.5}, {"p_mask": 0.8, "p_random": 0.3}, {"random_low": V}])
def test_invalid_probabilities(kw):
    x, eligible = big_batch()
    with pytest.raises(ValueError):
        mask_tokens(x, eligible, mask_id=MASK, vocab_size=V, **kw)


def test_encode_pair_layout_and_truncation():
    ids, types = encode_pair([10, 11, 12], [20, 21], cls_id=CLS, sep_id=SEP, max_len=20)
    assert ids == [CLS, 10, 11, 12, SEP, 20, 21, SEP]
    assert types == [0, 0, 0, 0, 0, 1, 1, 1]
    ids, types = encode_pair(list(range(10, 20)), [20, 21, 22], cls_id=CLS, sep_id=SEP, max_len=9)
    assert ids == [CLS, 10, 11, 12, SEP, 20, 21, 22, SEP]  # longer segment truncated first
    assert encode_pair([7], None, cls_id=CLS, sep_id=SEP, max_len=5) == ([CLS, 7, SEP], [0, 0, 0])
    with pytest.raises(ValueError):
        encode_pair([7], [8], cls_id=CLS, sep_id=SEP, max_len=2)


def documents(n_docs: int = 60, length: int = 20) -> list[list[list[int]]]:
    # sentence j of document d is [100 d + j]: where a segment comes from is readable
    return [[[100 * d + j] for j in range(length)] for d in range(n_docs)]


def test_nsp_pairs_are_half_random_from_other_documents():
    pairs = nsp_pairs(documents(), seed=0)
    n = len(pairs)
    assert n == 60 * 19
    random_ = [p for p in pairs if p[2] == 1]
    assert within(len(random_), n, 0.5)
    for a, b, label in pairs:
        if label == 0:
            assert b[0] == a[0] + 1  # the next sentence of the same document
        else:
            assert b[0] // 100 != a[0] // 100  # a sentence of another document


def test_sop_pairs_swap_half():
    pairs = sop_pairs(documents(), seed=0)
    assert within(sum(lab for *_, lab in pairs), len(pairs), 0.5)
    for a, b, label in pairs:
        assert b[0] - a[0] == (-1 if label else 1)


def test_pad_pairs_shapes_and_mask():
    batch = pad_pairs([([5, 6], [7], 0), ([5], None, -100)], cls_id=CLS, sep_id=SEP, pad_id=PAD,
                      max_len=10)  # fmt: skip
    assert batch["input_ids"].tolist() == [[CLS, 5, 6, SEP, 7, SEP], [CLS, 5, SEP, 0, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1] * 6, [1, 1, 1, 0, 0, 0]]
    assert batch["token_type_ids"].tolist() == [[0, 0, 0, 0, 1, 1], [0] * 6]
    assert batch["pair_labels"].tolist() == [0, -100]


def collator(dynamic: bool) -> MLMCollator:
    return MLMCollator(vocab_size=V, mask_id=MASK, cls_id=CLS, sep_id=SEP, pad_id=PAD,
                       special_ids=(UNK,), max_len=64, p=0.3, dynamic=dynamic, seed=0)  # fmt: skip


def sentences(n: int = 32) -> list[tuple[list[int], None, int]]:
    g = torch.Generator().manual_seed(5)
    return [(torch.randint(5, V, (20 + i,), generator=g).tolist(), None, -100) for i in range(n)]


def test_dynamic_masks_change_every_epoch_static_ones_do_not():
    data = sentences()
    dyn = collator(True)
    assert not torch.equal(dyn(data)["labels"], dyn(data)["labels"])
    static = collator(False)
    first = static(data)
    assert torch.equal(first["labels"], static(data)["labels"])
    # the mask belongs to the sequence, not to the batch it is in (other width, other rows)
    alone = static(data[3:4])
    assert torch.equal(alone["labels"][0], first["labels"][3, : alone["labels"].shape[1]])
    assert (first["labels"] != -100).any()


def test_collator_never_masks_specials():
    batch = collator(True)(sentences())
    assert (batch["labels"][batch["attention_mask"] == 0] == -100).all()
    assert (batch["labels"][:, 0] == -100).all()  # [CLS]
    lengths = batch["attention_mask"].sum(1)
    assert (batch["labels"][torch.arange(len(lengths)), lengths - 1] == -100).all()  # [SEP]
