"""Text augmentation: word dropout, random swap, synonym replacement (properties, bounds)."""

from __future__ import annotations

import math

import pytest
import torch

from replearn.experiments.regularize import regularize_text_augment as exp
from replearn.regularize.text_augment import (
    SYNONYMS,
    random_swap,
    synonym_replace,
    synonym_table,
    word_dropout,
)


def _batch(b: int = 64, t: int = 20, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, t + 1, (b,), generator=gen)
    ids = torch.randint(2, 500, (b, t), generator=gen)
    ids[torch.arange(t)[None] >= lengths[:, None]] = 0  # padding after each sentence
    return ids, lengths


def _is_subsequence(sub: list[int], seq: list[int]) -> bool:
    it = iter(seq)
    return all(x in it for x in sub)


def test_word_dropout_keeps_an_ordered_subsequence_and_padding():
    ids, lengths = _batch()
    out, new_len = word_dropout(ids, lengths, 0.3, torch.Generator().manual_seed(1))
    assert out.shape == ids.shape
    for b in range(len(ids)):
        kept = out[b, : new_len[b]].tolist()
        assert 1 <= new_len[b] <= lengths[b]
        assert _is_subsequence(kept, ids[b, : lengths[b]].tolist())
        assert (out[b, new_len[b] :] == 0).all()


def test_word_dropout_rate_within_binomial_bound():
    ids, lengths = _batch(b=400, t=30, seed=2)
    p = 0.2
    _, new_len = word_dropout(ids, lengths, p, torch.Generator().manual_seed(3))
    n = int(lengths.sum())
    dropped = (n - int(new_len.sum())) / n
    assert abs(dropped - p) < 5 * math.sqrt(p * (1 - p) / n)


def test_word_dropout_p0_is_identity_and_validates():
    ids, lengths = _batch()
    out, new_len = word_dropout(ids, lengths, 0.0)
    assert torch.equal(out, ids) and torch.equal(new_len, lengths)
    with pytest.raises(ValueError, match="p must be"):
        word_dropout(ids, lengths, 1.0)
    with pytest.raises(ValueError, match="lengths"):
        word_dropout(ids, lengths[:-1], 0.1)


def test_random_swap_preserves_each_sentence_multiset():
    ids, lengths = _batch(seed=4)
    out = random_swap(ids, lengths, 3, torch.Generator().manual_seed(5))
    for b in range(len(ids)):
        n = int(lengths[b])
        assert sorted(out[b, :n].tolist()) == sorted(ids[b, :n].tolist())
        assert (out[b, n:] == 0).all()
    assert not torch.equal(out, ids)


def test_synonym_table_and_replacement():
    itos = ["<pad>", "<unk>", "good", "fine", "nice", "movie", "film", "the", "funny", "witty"]
    table = synonym_table(itos)
    assert set(table[2][table[2] >= 0].tolist()) == {3, 4}  # good -> fine, nice
    assert set(table[8][table[8] >= 0].tolist()) == {9}  # funny: union of its two groups
    assert (table[7] == -1).all() and (table[0] == -1).all()
    ids = torch.tensor([[7, 2, 5, 8, 0, 0]] * 200)
    out = synonym_replace(ids, table, 0.5, torch.Generator().manual_seed(6))
    assert (out[:, 0] == 7).all() and (out[:, 4:] == 0).all()  # no synonyms / padding
    for col in (1, 2, 3):
        allowed = {int(ids[0, col]), *table[ids[0, col]][table[ids[0, col]] >= 0].tolist()}
        assert set(out[:, col].tolist()) <= allowed
        changed = float((out[:, col] != ids[:, col]).double().mean())
        assert abs(changed - 0.5) < 5 * math.sqrt(0.25 / 200)
    assert torch.equal(synonym_replace(ids, table, 0.0), ids)


def test_synonym_groups_are_lowercase_words():
    assert all(w.isalpha() and w.islower() for g in SYNONYMS for w in g)


def test_toy_sentences_and_text_cnn_ignore_padding():
    sentences, labels = exp.toy_sentences(50, 0)
    assert len(sentences) == 50 and set(labels) <= {0, 1}
    assert all(("not" in s) == (lab != (s.split()[-1] in {"good", "great", "funny", "smart",
               "fun"})) for s, lab in zip(sentences, labels, strict=True))  # fmt: skip
    vocab = exp.WordVocab.build(sentences)
    ds = exp.encode(sentences, labels, vocab, 8)
    torch.manual_seed(0)
    model = exp.TextCNN(len(vocab), 8).double()
    ids, lengths, _ = ds.tensors
    wide = torch.cat([ids, torch.zeros(len(ids), 4, dtype=torch.int64)], dim=1)
    torch.testing.assert_close(model(ids, lengths), model(wide, lengths), rtol=0, atol=1e-12)


def test_text_verdict_reads_comparison():
    m = {"dev_accuracy": {"none": [0.5] * 3, "swap": [0.6] * 3}, "data": "toy",
         "n_train": 10, "synonym_coverage": 0.1, "comparisons": {"swap": {"holds": True}},
         "evidence": {"swap": "e"}}  # fmt: skip
    assert exp._verdict(m, aug="swap")[0]
