"""The data of ``t5-text`` (``replearn.experiments.transformer.t5_text_data``): tasks, split,
codec and the resumable task stream."""

from __future__ import annotations

import random

import torch

from replearn.experiments.transformer import t5_text
from replearn.experiments.transformer.t5_text_data import (
    EOS,
    MONTHS,
    PAD,
    TASKS,
    Codec,
    TaskStream,
    is_test,
    make_example,
    pad,
)


def test_examples_are_correct_for_every_task() -> None:
    rng = random.Random(0)
    for _ in range(50):
        x, y = make_example("reverse", rng, 6)
        assert x.startswith("reverse: ") and y == x.removeprefix("reverse: ")[::-1]
        x, y = make_example("sort", rng, 6)
        assert y == "".join(sorted(x.removeprefix("sort: ")))
        x, y = make_example("date", rng)
        day, month, year = x.removeprefix("date: ").split()
        assert y == f"{year}-{MONTHS.index(month) + 1:02d}-{int(day):02d}"
    assert set(TASKS) == {"reverse", "sort", "date"}


def test_split_codec_and_padding() -> None:
    texts = [f"reverse: {i}" for i in range(400)]
    held = sum(is_test(t, 10) for t in texts)
    assert 10 < held < 80  # about 1 in 10, decided by the text alone
    assert all(is_test(t, 10) == is_test(t, 10) for t in texts)
    codec = Codec("abc:- 0123456789")
    ids = codec.encode("cab: 12")
    assert ids[-1] == EOS and min(ids[:-1]) >= 2 and codec.decode(ids) == "cab: 12"
    assert codec.vocab_size == 2 + codec.chars.vocab_size + len(codec.sentinels)
    batch = pad([[3, 4], [5]], PAD)
    assert batch.tolist() == [[3, 4], [5, PAD]] and batch.dtype == torch.long


def test_task_stream_resumes_exactly() -> None:
    cfg = t5_text.Config()
    codec = Codec("abcdefghijklmnopqrstuvwxyz0123456789:- " + "".join(MONTHS))
    a = TaskStream(cfg, codec, seed=3)
    a.next_batch()
    state = a.state_dict()
    x1, y1 = a.next_batch()
    b = TaskStream(cfg, codec, seed=99)
    b.load_state_dict(state)
    x2, y2 = b.next_batch()
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert x1.shape[0] == cfg.batch_size // len(cfg.tasks) * len(cfg.tasks)
