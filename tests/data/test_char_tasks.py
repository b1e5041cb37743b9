"""Generated character tasks: the right targets, determinism, the padded tensor layout."""

from __future__ import annotations

import datetime

import pytest
import torch

from replearn.data.char_tasks import (
    BOS,
    EOS,
    PAD,
    CharSeq2Seq,
    CharTaskVocab,
    generate_pairs,
)


@pytest.mark.parametrize("task", ["reverse", "sort"])
def test_string_tasks(task):
    pairs = generate_pairs(task, 200, seed=3, min_len=2, max_len=9, alphabet=5)
    for s, t in pairs:
        assert 2 <= len(s) <= 9 and set(s) <= set("abcde")
        assert t == (s[::-1] if task == "reverse" else "".join(sorted(s)))
    assert {len(s) for s, _ in pairs} == set(range(2, 10))


def test_dates_are_valid_and_reformatted():
    for s, t in generate_pairs("date", 300, seed=0):
        d = datetime.date.fromisoformat(s)
        assert 1950 <= d.year <= 2049
        assert t == d.strftime("%d %b %Y")  # C locale: "07 Mar 2024"


def test_same_seed_same_pairs_and_validation():
    assert generate_pairs("sort", 50, seed=1) == generate_pairs("sort", 50, seed=1)
    assert generate_pairs("sort", 50, seed=1) != generate_pairs("sort", 50, seed=2)
    with pytest.raises(ValueError, match="task"):
        generate_pairs("copy", 5)
    with pytest.raises(ValueError):
        generate_pairs("sort", 5, min_len=4, max_len=3)
    with pytest.raises(ValueError):
        generate_pairs("sort", 5, alphabet=27)


def test_vocab_round_trip():
    vocab = CharTaskVocab()
    assert vocab.itos[:3] == ["<pad>", "<bos>", "<eos>"] and len(vocab) == len(set(vocab.itos))
    text = "07 Mar 2024"
    ids = vocab.encode(text)
    assert min(ids) > EOS
    assert vocab.decode([BOS, *ids, EOS, 5, PAD]) == text
    assert vocab.decode(torch.tensor(ids)) == text
    with pytest.raises(ValueError, match="vocabulary"):
        vocab.encode("?")


def test_dataset_layout():
    data = CharSeq2Seq("reverse", 40, seed=0, min_len=3, max_len=8)
    assert data.src.shape == (40, 8) and data.tgt.shape == (40, 9)
    for i, (s, t) in enumerate(data.pairs):
        src, n, tgt = data[i]
        assert int(n) == len(s)
        assert data.vocab.decode(src) == s and (src[len(s) :] == PAD).all()
        assert tgt[len(t)] == EOS and (tgt[len(t) + 1 :] == PAD).all()
        assert data.vocab.decode(tgt) == t
