"""The generated tasks of attention-dk, bert-heads and icl-regression: labels and layouts."""

from __future__ import annotations

import torch

from replearn.experiments.transformer.attention_dk import Config as DKConfig
from replearn.experiments.transformer.attention_dk import KeyQueryAttention, recall_batch
from replearn.experiments.transformer.bert_heads import (
    FIRST_WORD,
    REC,
    SEP,
    context_free_accuracy,
    qa_data,
    tagging_data,
)
from replearn.experiments.transformer.bert_heads import Config as HeadsConfig
from replearn.experiments.transformer.icl_regression import baseline_curves
from replearn.transformer.icl import linear_regression_prompts


def test_recall_batch_labels_are_the_query_keys_values():
    cfg = DKConfig()
    x, y = recall_batch(50, cfg, seed=0).tensors
    assert x.shape == (50, cfg.n_pairs + 1, 2)
    for b in range(50):
        keys = x[b, :-1, 0]
        assert len(set(keys.tolist())) == cfg.n_pairs  # distinct
        (where,) = (keys == x[b, -1, 0]).nonzero(as_tuple=True)
        assert x[b, where.item(), 1] == y[b]
    assert (x[:, -1, 1] == cfg.n_values).all()
    out = KeyQueryAttention(n_keys=cfg.n_keys, n_values=cfg.n_values, d_model=8, d_k=1)(x)
    assert out.shape == (50, cfg.n_values)


def test_tagging_tags_mark_repeated_words():
    cfg = HeadsConfig()
    ids, tags = tagging_data(20, cfg, seed=1).tensors
    assert (tags[:, 0] == -100).all() and (tags[:, -1] == -100).all()
    for b in range(20):
        words = ids[b, 1:-1].tolist()
        expected = [int(words.count(w) > 1) for w in words]
        assert tags[b, 1:-1].tolist() == expected


def test_context_free_baseline_is_the_majority_rate():
    cfg = HeadsConfig()
    train, test = tagging_data(3000, cfg, 0), tagging_data(1000, cfg, 1)
    p = 1 - (1 - 1 / cfg.n_words) ** (cfg.tag_length - 1)  # P(a word repeats)
    assert abs(context_free_accuracy(train, test) - max(p, 1 - p)) < 0.02


def test_qa_answer_span_is_the_questions_values():
    cfg = HeadsConfig()
    ids, start, end = qa_data(30, cfg, seed=2).tensors
    for b in range(30):
        seq = ids[b].tolist()
        key = seq[1]
        k_pos = seq.index(key, 3)  # the key's record in the context
        assert start[b] == k_pos + 1
        assert seq[end[b] + 1] == REC and all(
            FIRST_WORD <= t < FIRST_WORD + cfg.n_words for t in seq[start[b] : end[b] + 1]
        )
        assert SEP in seq[end[b] :]


def test_least_squares_curve_is_zero_from_d_examples():
    xs, ys, _ = linear_regression_prompts(200, 5, 2, generator=torch.Generator().manual_seed(0))
    curves = baseline_curves(xs, ys, d=2, knn=3)
    assert curves["least_squares"][0] > 0.5  # no example: predict 0
    assert max(curves["least_squares"][2:]) < 1e-8
    assert curves["averaging"][-1] < curves["averaging"][1]
