"""train_on_bench and mean_differences (optim/digits_bench.py), shared by optim and norm."""

from __future__ import annotations

import torch

from replearn.engine import RunContext
from replearn.experiments.common import seeded
from replearn.experiments.optim.digits_bench import (
    IndexClassifier,
    load_bench,
    mean_differences,
    mlp,
    train_bench,
    train_on_bench,
)
from replearn.experiments.stats import compare_seeds


def test_mean_differences_flattens_every_comparison():
    c = compare_seeds([0.9, 0.8, 0.85], [0.7, 0.75, 0.7])
    m = {"a": c.as_dict(), "b": {"no_mean": 1.0}, "c": 3.0, "d_evidence": "text"}
    assert mean_differences(m) == {"a_diff": c.mean}
    assert abs(c.mean - 0.4 / 3) < 1e-12


def test_train_on_bench_equals_its_pieces(tmp_path):
    def build():
        return mlp((64, 16, 10))

    def make(p):
        return torch.optim.SGD(p, lr=0.1)

    ctx = RunContext(out=tmp_path / "a", seed=0, progress=False)
    task, bench = train_on_bench(ctx, "x", build, make, seed=3, steps=4, batch=8, train_size=50)
    ref_bench = load_bench(3, 50)
    ref = IndexClassifier(seeded(build, 3), ref_bench.x_train, ref_bench.y_train)
    train_bench(RunContext(out=tmp_path / "b", seed=0, progress=False), "x", ref, make,
                steps=4, batch=8, seed=3)  # fmt: skip
    assert not task.training and len(bench.y_train) == 50
    torch.testing.assert_close(bench.x_train, ref_bench.x_train, rtol=0, atol=0)
    for p, q in zip(task.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert task.full_loss() == ref.eval().full_loss()
