"""Tests of replearn.data.text: vocabularies, the SST-2 reader, collate, and the real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from replearn.data.sources import DataError
from replearn.data.text import (
    SST2,
    CharVocab,
    TinyShakespeare,
    WordVocab,
    collate,
    read_sst2_tsv,
)


def test_char_vocab_round_trip():
    vocab = CharVocab("hello world\n")
    assert vocab.itos == ["\n", " ", "d", "e", "h", "l", "o", "r", "w"]
    assert len(vocab) == 9
    ids = vocab.encode("world hello")
    assert ids == [8, 6, 7, 5, 2, 1, 4, 3, 5, 5, 6]
    assert vocab.decode(ids) == "world hello"
    assert vocab.decode(torch.tensor(ids)) == "world hello"
    with pytest.raises(ValueError, match="'z'"):
        vocab.encode("z")


def test_word_vocab_build_order_and_unknowns():
    texts = ["the cat sat", "the dog sat", "the cat ran"]
    vocab = WordVocab.build(texts, min_freq=2)
    # Specials, then by decreasing count (the: 3; cat, sat: 2, ties alphabetical).
    assert vocab.itos == ["<pad>", "<unk>", "the", "cat", "sat"]
    assert vocab.encode("the dog sat") == [2, 1, 4]
    assert vocab.decode([2, 3, 0, 0]) == "the cat"
    assert len(WordVocab.build(texts, min_freq=1)) == 2 + 5
    with pytest.raises(ValueError, match="<pad>"):
        WordVocab(["a", "b"])


@pytest.mark.parametrize(
    ("content", "sentences", "labels"),
    [
        ("label\tsentence\n1\ta fine film .\n0\tdull\n", ["a fine film .", "dull"], [1, 0]),
        ("sentence\tlabel\na fine film . \t1\ndull \t0\n", ["a fine film .", "dull"], [1, 0]),
        ("label\tcontent\n0\tdull\n", ["dull"], [0]),
        (
            "index\tsentence\n0\tno labels here\n1\tnor here\n",
            ["no labels here", "nor here"],
            [-1, -1],
        ),
        ('label\tsentence\n1\tthe " quote " stays\n', ['the " quote " stays'], [1]),
    ],
)
def test_read_sst2_tsv_formats(tmp_path, content, sentences, labels):
    path = tmp_path / "split.tsv"
    path.write_text(content, encoding="utf-8")
    assert read_sst2_tsv(path) == (sentences, labels)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("label\ttext\n1\tx\n", "no 'sentence' or 'content'"),
        ("label\tsentence\n2\tx\n", "label '2'"),
        ("label\tsentence\n1\tx\ty\n", ":2: 3 fields"),
    ],
)
def test_read_sst2_tsv_rejects_malformed(tmp_path, content, message):
    path = tmp_path / "bad.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_sst2_tsv(path)


def test_collate_pads_to_longest():
    batch = [(torch.tensor([5, 6, 7]), 1), (torch.tensor([8]), 0), (torch.tensor([9, 4]), -1)]
    ids, lengths, labels = collate(batch)
    assert ids.dtype == lengths.dtype == labels.dtype == torch.int64
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0], [9, 4, 0]]
    assert lengths.tolist() == [3, 1, 2] and labels.tolist() == [1, 0, -1]
    assert collate(batch, pad_id=-1)[0][1].tolist() == [8, -1, -1]


def shared(dataset: str, filename: str) -> None:
    """Skip unless $REPLEARN_DATA holds the file (the tests never download)."""
    root = os.environ.get("REPLEARN_DATA")
    if not root or not (Path(root) / dataset / filename).is_file():
        pytest.skip(f"REPLEARN_DATA does not hold {dataset}/{filename}")


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("REPLEARN_OFFLINE", "1")


def test_tiny_shakespeare(offline):
    shared("tinyshakespeare", "input.txt")
    train, val = TinyShakespeare("train", block_size=64), TinyShakespeare("val", block_size=64)
    n = 1_115_394
    assert len(train.data) == int(0.9 * n) == 1_003_854 and len(val.data) == n - 1_003_854
    assert len(train) == len(train.data) - 64
    assert len(train.vocab) == 65 and train.vocab.itos[:2] == ["\n", " "]
    assert train.vocab is val.vocab
    x, y = train[0]
    assert x.dtype == torch.int64 and x.shape == y.shape == (64,)
    assert train.vocab.decode(x).startswith("First Citizen:\nBefore we proceed")
    assert torch.equal(x[1:], y[:-1])  # y is x shifted by one character
    _, y_last = val[-1]
    assert torch.equal(y_last, val.data[-64:])
    with pytest.raises(IndexError):
        val[len(val)]
    with pytest.raises(ValueError, match="split"):
        TinyShakespeare("test")


def test_sst2_splits(offline):
    for split in ("train", "dev", "test"):
        shared("sst2", f"{split}.tsv")
    train, dev = SST2("train", min_freq=2), SST2("dev", min_freq=2)
    test = SST2("test", vocab=train.vocab)
    assert (len(train), len(dev), len(test)) == (67_349, 872, 1_821)
    assert set(train.labels) == {0, 1} and set(test.labels) <= {-1, 0, 1}
    assert sum(dev.labels) == 444  # positives in the dev set
    assert train.vocab.itos == dev.vocab.itos  # built from the train split only
    train_words = {w for s in train.sentences for w in s.split()}
    assert not set(train.vocab.itos[2:]) - train_words
    ids, label = dev[0]
    assert label == 0 and train.vocab.decode(ids) == "one long string of cliches ."
    ids, lengths, labels = next(iter(DataLoader(dev, batch_size=8, collate_fn=collate)))
    assert ids.shape == (8, int(lengths.max())) and labels.tolist() == dev.labels[:8]
