"""Pieces of regularize-ls-erasing and regularize-retrain-gain: models, verdict rules."""

from __future__ import annotations

import pytest
import torch

from replearn.experiments.regularize import regularize_ls_erasing as lse
from replearn.experiments.regularize import regularize_retrain_gain as rg
from replearn.experiments.stats import compare_seeds


def test_small_cnn_shape_and_erasing_is_identity_in_eval():
    net = lse.small_cnn(8, 10, 4)
    assert net(torch.rand(3, 1, 8, 8)).shape == (3, 10)
    model = torch.nn.Sequential(lse.RandomErasing(p=1.0), net).eval()
    x = torch.rand(3, 1, 8, 8)
    torch.testing.assert_close(model(x), net(x))


def test_ls_verdict_uses_seed_comparison():
    acc = {"hard": [0.90, 0.91, 0.92], "smoothed": [0.93, 0.94, 0.95], "erasing": [0.9, 0.9, 0.9]}
    m = {"test_accuracy": acc}
    for key in ("smoothed", "erasing"):
        c = compare_seeds(acc[key], acc["hard"])
        m[f"{key}_vs_hard"], m[f"{key}_evidence"] = c.as_dict(), c.evidence()
    assert lse.CLAIMS[0].verdict(m)[0]  # +3 points on every seed
    assert not lse.CLAIMS[1].verdict(m)[0]


def test_retrain_verdict_needs_monotone_and_significant():
    c_yes = compare_seeds([0.05, 0.06, 0.04], [0.0, 0.01, 0.0]).as_dict()
    m = {"mean_gain": [0.05, 0.02, 0.003], "small_vs_large": c_yes, "sizes": [10, 20, 40],
         "evidence": "e"}  # fmt: skip
    assert rg._verdict(m)[0]
    assert not rg._verdict({**m, "mean_gain": [0.05, 0.06, 0.003]})[0]


def test_configs_validate():
    with pytest.raises(ValueError, match="seeds"):
        lse.Config(seeds=(0, 1))
    with pytest.raises(ValueError, match="increasing"):
        rg.Config(sizes=(300, 100))
