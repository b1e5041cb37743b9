"""diffusion-text-shapes: the checker's scores (text_shapes_checker), and the verdicts on
synthetic runs."""

from __future__ import annotations

import math

import pytest
import torch

from replearn.experiments.diffusion import diffusion_text_shapes as X
from replearn.experiments.diffusion import text_shapes_checker as C


def test_scores_split_attributes_and_relation() -> None:
    want = torch.tensor([[0, 0, 1, 2]] * 4)  # red square on the left, blue circle on the right
    pred = torch.tensor(
        [
            [0, 0, 1, 2],  # the scene
            [1, 2, 0, 0],  # both objects, sides exchanged
            [0, 0, 1, 1],  # wrong colour on the right
            [1, 2, 0, 0],  # exchanged again
        ]
    )
    s = C.scores(pred, want)
    assert s["scene"] == pytest.approx(0.25)
    assert s["attributes"] == pytest.approx(0.75)
    assert s["relation"] == pytest.approx(1 / 3)
    assert s["kappa_attributes"] == pytest.approx((0.75 - 1 / 36) / (35 / 36))
    assert s["kappa_relation"] == pytest.approx((1 / 3 - 0.5) / 0.5)
    assert math.isnan(C.scores(torch.tensor([[2, 2, 2, 2]]), want[:1])["relation"])


def _run(tf_scene: list[float], bag_scene: list[float], attr: list[float], rel: list[float]):
    return {
        "seeds": [0, 1, 2],
        "transformer_scene": tf_scene,
        "bag_scene": bag_scene,
        "transformer_kappa_attributes": attr,
        "transformer_kappa_relation": rel,
        "transformer_attributes": attr,
        "transformer_relation": rel,
        "bag_swap_distance_max": [1e-8, 2e-8, 1e-8],
        "transformer_swap_distance_min": [0.05, 0.2, 0.1],
    }


def test_verdicts_read_the_seed_comparison() -> None:
    m = _run([0.6, 0.7, 0.65], [0.3, 0.31, 0.29], [0.9, 0.8, 0.85], [0.5, 0.4, 0.45])
    assert X._verdict_separates(m)[0] and X._verdict_relations(m)[0]
    assert X._verdict_swaps(m)[0]
    noisy = _run([0.6, 0.2, 0.65], [0.3, 0.5, 0.29], [0.9, 0.3, 0.85], [0.5, 0.6, 0.45])
    assert not X._verdict_separates(noisy)[0] and not X._verdict_relations(noisy)[0]
    m["bag_swap_distance_max"] = [1e-8, 1e-3, 1e-8]  # an order-sensitive "bag" fails the claim
    assert not X._verdict_swaps(m)[0]
    m["transformer_kappa_relation"] = [0.5, float("nan"), 0.4]
    holds, text = X._verdict_relations(m)
    assert not holds and text.startswith("not measured")


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="3 seeds"):
        X.Config(seeds=(0, 1))
    with pytest.raises(ValueError, match="captions"):
        X.Config(captions=145)
    assert X.evaluated_captions(144).unique(dim=0).shape == (144, 5)
