"""Pieces of the optim-adam-anatomy and optim-training experiments, against closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from replearn.experiments.optim.digits_bench import IndexClassifier, index_batches, load_bench, mlp
from replearn.experiments.optim.optim_adam_anatomy import AdamNoBiasCorrection, Config
from replearn.experiments.optim.optim_training import Config as TrainingConfig
from replearn.optim import Adam, RMSprop


def test_first_uncorrected_step_is_316_percent_of_adams():
    # t = 1: Adam moves every coordinate by lr (sign of g); without correction by
    # lr (1 - b1) / sqrt(1 - b2) = 3.162 lr.
    g = torch.tensor([0.3, -2.0, 1e-3], dtype=torch.float64)
    sizes = []
    for cls in (Adam, AdamNoBiasCorrection):
        p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
        opt = cls([p], lr=1e-2, eps=1e-12)
        p.grad = g.clone()
        opt.step()
        sizes.append(p.detach().abs())
    torch.testing.assert_close(sizes[0], torch.full((3,), 1e-2, dtype=torch.float64))
    torch.testing.assert_close(sizes[1] / sizes[0], torch.full((3,), 0.1 / math.sqrt(1e-3),
                                                               dtype=torch.float64))  # fmt: skip


def test_adam_beta1_zero_equals_rmsprop_with_corrected_rate_and_eps():
    gen = torch.Generator().manual_seed(0)
    grads = torch.randn(30, 4, generator=gen, dtype=torch.float64)
    a = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    r = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    adam = Adam([a], lr=0.01, betas=(0.0, 0.99), eps=1e-8)
    rms = RMSprop([r], lr=0.01, alpha=0.99, eps=1e-8)
    for t, g in enumerate(grads, start=1):
        c = math.sqrt(1 - 0.99**t)
        rms.param_groups[0]["lr"], rms.param_groups[0]["eps"] = 0.01 * c, 1e-8 * c
        a.grad, r.grad = g.clone(), g.clone()
        adam.step()
        rms.step()
    torch.testing.assert_close(a, r, rtol=1e-13, atol=1e-15)


def test_bench_and_index_classifier():
    bench = load_bench(0)
    assert bench.x_train.shape[1] == 64 and len(bench.y_val) > 0 and len(bench.y_test) == 359
    assert len(load_bench(0, train_size=100).y_train) == 100
    task = IndexClassifier(mlp((64, 10)), bench.x_train, bench.y_train)
    idx = index_batches(len(bench.y_train), 3, 8, seed=1)
    assert idx.shape == (3, 8) and torch.equal(idx, index_batches(len(bench.y_train), 3, 8, 1))
    loss, _ = task.training_step(idx[0])
    assert loss.ndim == 0 and 0 <= task.accuracy(bench.x_test, bench.y_test) <= 1
    with torch.no_grad():
        expected = torch.nn.functional.cross_entropy(task.model(bench.x_train), bench.y_train)
    assert task.full_loss() == pytest.approx(float(expected))


def test_configs_refuse_fewer_than_three_seeds():
    with pytest.raises(ValueError, match="seeds"):
        Config(seeds=(0, 1))
    with pytest.raises(ValueError, match="seeds"):
        TrainingConfig(seeds=(0,))
