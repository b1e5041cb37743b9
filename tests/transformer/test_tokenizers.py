"""Tokenizers: round trips, vocabularies, save/load, BPE merges by hand."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replearn.data.text import CharVocab
from replearn.transformer.tokenizers import (
    BPETokenizer,
    CharTokenizer,
    WordTokenizer,
    learn_bpe_merges,
    load_tokenizer,
)

SAMPLE = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"


@pytest.fixture(scope="module")
def shakespeare() -> str:
    root = os.environ.get("REPLEARN_DATA")
    path = Path(root or "/nonexistent") / "tinyshakespeare" / "input.txt"
    if not path.is_file():
        pytest.skip("REPLEARN_DATA does not hold tinyshakespeare/input.txt")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def bpe(shakespeare) -> BPETokenizer:
    return BPETokenizer.train(shakespeare[:200_000], vocab_size=400)


def test_char_round_trip_and_ids_of_char_vocab(tmp_path):
    tok = CharTokenizer.train(SAMPLE)
    assert tok.itos == CharVocab(SAMPLE).itos
    assert tok.encode(SAMPLE) == CharVocab(SAMPLE).encode(SAMPLE)
    assert tok.decode(tok.encode(SAMPLE)) == SAMPLE
    assert tok.vocab_size == len(set(SAMPLE))
    with pytest.raises(ValueError, match="vocabulary"):
        tok.encode("Z")
    tok.save(tmp_path / "c.json")
    again = load_tokenizer(tmp_path / "c.json")
    assert isinstance(again, CharTokenizer) and again.encode(SAMPLE) == tok.encode(SAMPLE)
    with pytest.raises(ValueError, match="not 'word'"):
        WordTokenizer.load(tmp_path / "c.json")


def test_word_tokenizer_vocabulary_unknowns_and_save(tmp_path):
    tok = WordTokenizer.train([SAMPLE, "speak speak"], vocab_size=6)
    assert tok.itos == ["<pad>", "<unk>", "speak", ",", ".", ":"]  # by count, then alphabetical
    ids = tok.encode("Speak, Citizen.")
    assert ids == [2, 3, 1, 4]
    assert tok.decode(ids) == "speak , <unk> ."
    full = WordTokenizer.train(SAMPLE)
    assert full.decode(full.encode(SAMPLE)) == " ".join(WordTokenizer.split(SAMPLE))
    assert WordTokenizer.train(SAMPLE, min_freq=2).itos[2:] == ["speak", ",", ".", ":"]
    tok.save(tmp_path / "w.json")
    assert load_tokenizer(tmp_path / "w.json").encode("Speak, Citizen.") == ids
    with pytest.raises(ValueError):
        WordTokenizer.train(SAMPLE, vocab_size=2)


def test_learn_bpe_merges_by_hand():
    # Sennrich et al.'s example: low x5, lower x2, newest x6, widest x3 (with an end marker).
    words = {"low_": 5, "lower_": 2, "newest_": 6, "widest_": 3}
    merges = learn_bpe_merges(words, 4)
    # counts: (e, s) 9, (s, t) 9, (t, _) 9 -> ties broken lexicographically; then (es, t) 9.
    assert merges == [("e", "s"), ("es", "t"), ("est", "_"), ("l", "o")]


def test_bpe_round_trip_vocab_and_compression_on_shakespeare(shakespeare, bpe, tmp_path):
    text = shakespeare[-20_000:]  # held out from training
    ids = bpe.encode(text)
    assert bpe.decode(ids) == text
    assert bpe.vocab_size == 400 and max(ids) < 400
    assert len(ids) < 0.65 * len(text)  # 144 merges shorten it (measured: 0.61)
    assert bpe.tokens(" the")[0] == "Ġthe"  # a frequent word with its space is one symbol
    bpe.save(tmp_path / "b.json")
    again = load_tokenizer(tmp_path / "b.json")
    assert isinstance(again, BPETokenizer) and again.encode(text) == ids


@settings(max_examples=40, deadline=None)
@given(text=st.text(max_size=60))
def test_bpe_round_trips_any_unicode(text):
    tok = _small_bpe()
    assert tok.decode(tok.encode(text)) == text


_CACHE: dict[str, BPETokenizer] = {}


def _small_bpe() -> BPETokenizer:
    if "t" not in _CACHE:
        _CACHE["t"] = BPETokenizer.train([SAMPLE] * 20, vocab_size=300, special_tokens=("<eos>",))
    return _CACHE["t"]


def test_bpe_special_tokens_and_validation():
    tok = _small_bpe()
    eos = tok.tokenizer.token_to_id("<eos>")
    assert eos is not None and tok.encode("<eos>") == [eos]
    assert tok.decode(tok.encode("speak<eos>")) == "speak<eos>"
    with pytest.raises(ValueError, match="256"):
        BPETokenizer.train(SAMPLE, vocab_size=100)
