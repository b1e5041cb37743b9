"""Helpers of the CNN experiments: metrics vs sklearn / by hand, shifts, networks, verdicts."""

from __future__ import annotations

import math

import pytest
import torch
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from torch import nn
from torch.utils.data import TensorDataset

from replearn.cnn.arithmetic import conv_flops, receptive_field, separable_conv_params
from replearn.experiments.cnn import bytenet_chars as bytenet
from replearn.experiments.cnn import cnn_arithmetic as claims
from replearn.experiments.cnn import cnn_invariance as invariance
from replearn.experiments.cnn import cnn_residual as residual
from replearn.experiments.cnn import cnn_se as se
from replearn.experiments.cnn import cnn_separable as separable
from replearn.experiments.cnn.cnn_fashion import build_model
from replearn.experiments.cnn.common import (
    confusion_matrix,
    count_flops,
    shift_images,
    tail_mean_by_step,
)
from replearn.experiments.common import count_params, subset
from replearn.experiments.stats import paired_difference


@pytest.mark.parametrize("k, n", [(10, 500), (3, 7), (5, 1)])
def test_confusion_matrix_matches_sklearn(k, n):
    gen = torch.Generator().manual_seed(k * n)
    y_true = torch.randint(0, k, (n,), generator=gen)
    y_pred = torch.randint(0, k, (n,), generator=gen)
    ours = confusion_matrix(y_true, y_pred, k)
    ref = sk_confusion_matrix(y_true.numpy(), y_pred.numpy(), labels=list(range(k)))
    assert ours.dtype == torch.int64
    assert ours.tolist() == ref.tolist()
    assert int(ours.sum()) == n


def test_confusion_matrix_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="differ"):
        confusion_matrix(torch.zeros(3, dtype=torch.long), torch.zeros(4, dtype=torch.long), 2)


def test_paired_difference_by_hand():
    a = torch.tensor([1, 1, 0, 1, 0, 1], dtype=torch.bool)
    b = torch.tensor([1, 0, 0, 0, 1, 1], dtype=torch.bool)
    d = [0.0, 1.0, 0.0, 1.0, -1.0, 0.0]
    mean = sum(d) / 6
    sd = math.sqrt(sum((v - mean) ** 2 for v in d) / 5)
    diff, se_ = paired_difference(a, b)
    assert diff == pytest.approx(mean)
    assert se_ == pytest.approx(sd / math.sqrt(6))
    assert paired_difference(a, a) == (0.0, 0.0)


@pytest.mark.parametrize("dy, dx", [(0, 0), (2, 0), (0, -3), (-1, 4), (5, 5)])
def test_shift_images_matches_roll_with_zero_fill(dy, dx):
    x = torch.rand(2, 3, 7, 9) + 0.1
    ref = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
    rows, cols = torch.arange(7), torch.arange(9)
    valid = ((rows - dy >= 0) & (rows - dy < 7))[:, None] & ((cols - dx >= 0) & (cols - dx < 9))
    ref = ref * valid
    assert torch.equal(shift_images(x, dy, dx), ref)


def test_shift_images_out_of_frame_is_zero():
    assert not shift_images(torch.ones(1, 1, 4, 4), 0, 4).any()


def test_subset_is_seeded_and_complete_when_large():
    ds = TensorDataset(torch.arange(100).float(), torch.arange(100))
    a, b = subset(ds, 10, seed=3), subset(ds, 10, seed=3)
    assert len(a) == 10 and torch.equal(a.tensors[0], b.tensors[0])
    assert torch.equal(a.tensors[0].long(), a.tensors[1])  # rows stay aligned
    assert subset(ds, None, 0) is ds and subset(ds, 1000, 0) is ds


def test_tail_mean_by_step_uses_last_quarter():
    steps = [10, 20, 30, 40, 50, 60, 70, 80]
    values = [8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0]
    assert tail_mean_by_step(values, steps) == pytest.approx(1.5)  # steps 70 and 80 (> 60)


def test_count_flops_matches_arithmetic():
    conv = nn.Conv2d(4, 6, 3, padding=1, bias=False)
    assert count_flops(conv, torch.zeros(1, 4, 5, 5)) == conv_flops(4, 6, 3, 5)


def test_separable_network_counts():
    std = separable.vgg_net((8, 16, 32), 1, 10, separable=False)
    sep = separable.vgg_net((8, 16, 32), 1, 10, separable=True)
    replaced = [(8, 16), (16, 16), (16, 32), (32, 32)]
    saved = sum(9 * ci * co - separable_conv_params(ci, co, 3) for ci, co in replaced)
    assert count_params(std) - count_params(sep) == saved
    x = torch.rand(2, 1, 28, 28)
    assert std(x).shape == sep(x).shape == (2, 10)


@pytest.mark.parametrize("size", [8, 28])
@pytest.mark.parametrize("pooled", [True, False])
def test_shift_net_shapes(size, pooled):
    net = invariance.shift_net((4, 8, 8), 1, 10, size, pooled=pooled)
    assert net(torch.rand(3, 1, size, size)).shape == (3, 10)


def test_relative_change_is_zero_without_shift_and_global_pool_is_invariant():
    features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
    x = torch.zeros(5, 1, 16, 16)
    x[:, :, 6:10, 6:10] = torch.rand(5, 1, 4, 4)  # content away from the border
    assert invariance.relative_change(features, x, 0, "none") == 0.0
    # zero bias: the background stays zero, so a global average cannot change
    nn.init.zeros_(features[0].bias)
    assert invariance.relative_change(features, x, 2, "global") < 1e-6
    assert invariance.relative_change(features, x, 2, "none") > 0.1


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("dilated", [False, True])
def test_measured_receptive_field_matches_eq4(depth, dilated):
    measured, grad = claims.measured_receptive_field(depth, dilated)
    layers = [(3, 1, 2**i if dilated else 1) for i in range(depth)]
    assert measured == receptive_field(layers)
    assert grad.ndim == 2


def test_conv_jacobian_has_one_value_per_weight():
    nonzero, distinct, entries = claims.conv_jacobian_distinct(2, 3, size=5)
    assert distinct == 2 * 3 * 9
    assert entries == (3 * 25) * (2 * 25)
    assert distinct < nonzero < entries


@pytest.mark.parametrize("name", ["resnet", "plain", "se-resnet", "convnext", "efficientnet"])
def test_build_model_on_digits_size(name):
    model = build_model(name, 8, 10)
    assert model(torch.rand(2, 1, 8, 8)).shape == (2, 10)


def _residual_metrics(p20, p56, r20, r56) -> dict:
    m = {"shallow_depth": 20, "deep_depth": 56, "seeds": list(range(len(p20)))}
    for name, v in (("plain20", p20), ("plain56", p56), ("resnet20", r20), ("resnet56", r56)):
        m[f"{name}_final_train_loss_seeds"] = v
        m[f"{name}_final_train_loss"] = sum(v) / len(v)
    return m


def test_residual_verdicts_are_judged_over_training_seeds():
    # steady per-seed gaps: every claim's t bound clears its threshold
    m = _residual_metrics(
        [0.50, 0.52, 0.48], [0.60, 0.61, 0.59], [0.50, 0.52, 0.48], [0.50, 0.515, 0.49]
    )
    verdicts = {c.id: c.verdict(m) for c in residual.CLAIMS}
    assert {k: v[0] for k, v in verdicts.items()} == {
        "plain-net-degrades": True,
        "shortcuts-train-deep-net": True,  # 16-18% lower per seed
        "deep-resnet-no-degradation": True,  # ratios 1.0, 0.99, 1.02
    }
    assert all("3 seeds" in e and "paired-t" in e for _, e in verdicts.values())
    # ResNet-56 only 8% below plain-56 on every seed: the 10% cut fails, and 1.10x ResNet-20
    m = _residual_metrics(
        [0.50, 0.52, 0.48], [0.60, 0.61, 0.59], [0.50, 0.52, 0.48], [0.552, 0.561, 0.543]
    )
    verdicts = {c.id: c.verdict(m)[0] for c in residual.CLAIMS}
    assert verdicts["plain-net-degrades"]
    assert not verdicts["shortcuts-train-deep-net"]
    assert not verdicts["deep-resnet-no-degradation"]
    # the same mean degradation (+0.1) but one seed reversed: the t bound is below zero
    m = _residual_metrics(
        [0.50, 0.52, 0.48], [0.75, 0.72, 0.38], [0.50, 0.52, 0.48], [0.50, 0.52, 0.48]
    )
    assert not residual.CLAIMS[0].verdict(m)[0]
    # one seed (the tiny preset): not measured, reported False
    one = _residual_metrics([0.5], [0.6], [0.5], [0.5])
    for claim in residual.CLAIMS:
        ok, evidence = claim.verdict(one)
        assert not ok and evidence.startswith("not measured: needs >= 3")


def test_separable_accuracy_is_non_inferiority_over_seeds():
    verdict = next(c for c in separable.CLAIMS if c.id == "separable-accuracy-cost").verdict

    def judge(sep: list[float], std: list[float]) -> tuple[bool, str]:
        m = {"seeds": list(range(len(sep))), "test_examples": 10_000}
        m |= {"separable_test_accuracy_seeds": sep, "standard_test_accuracy_seeds": std}
        m |= {"separable_test_accuracy": sum(sep) / len(sep)}
        m |= {"standard_test_accuracy": sum(std) / len(std)}
        return verdict(m)

    std = [0.90, 0.91, 0.89]
    # 1 point below on every seed: lower bound -1 point > -2 points
    ok, evidence = judge([0.89, 0.90, 0.88], std)
    assert ok and "margin -2.00" in evidence and "3 seeds" in evidence
    # 1 point below on average, but spread over seeds: the bound falls below -2 points
    assert not judge([0.87, 0.91, 0.89], std)[0]
    assert not judge([0.875, 0.885, 0.865], std)[0]  # 2.5 points below
    ok, evidence = judge([0.9], [0.9])
    assert not ok and evidence.startswith("not measured")


def _invariance_metrics(pooled: list[list[float]], unpooled: list[list[float]]) -> dict:
    """Per seed, accuracies at shifts 0, 2, 3 px; the feature changes are not used."""
    m = {"seeds": list(range(len(pooled)))}
    for net, accs in (("pooled", pooled), ("unpooled", unpooled)):
        for i, s in enumerate((0, 2, 3)):
            m[f"{net}_accuracy_s{s}_seeds"] = [a[i] for a in accs]
            m[f"{net}_accuracy_s{s}"] = sum(a[i] for a in accs) / len(accs)
    return m


def test_invariance_robustness_is_judged_over_seeds_at_each_shift():
    verdict = next(c for c in invariance.CLAIMS if c.id == "pooling-network-robustness").verdict
    unpooled = [[0.90, 0.70, 0.50], [0.91, 0.72, 0.52], [0.89, 0.68, 0.49]]  # drops 20, 40 pts
    ok, evidence = verdict(
        _invariance_metrics([[0.90, 0.85, 0.80], [0.91, 0.85, 0.80], [0.89, 0.85, 0.80]], unpooled)
    )
    assert ok and evidence.count("paired-t") == 2
    # at 3 px the pooled net loses 25 points on one seed (> half of 39): fails as a whole
    pooled = [[0.90, 0.85, 0.80], [0.91, 0.85, 0.66], [0.89, 0.85, 0.80]]
    assert not verdict(_invariance_metrics(pooled, unpooled))[0]
    one = _invariance_metrics([[0.9, 0.85, 0.8]], [[0.9, 0.7, 0.5]])
    ok, evidence = verdict(one)
    assert not ok and evidence.startswith("not measured")


def test_invariance_features_must_hold_for_every_seed():
    verdict = next(c for c in invariance.CLAIMS if c.id == "pooling-feature-invariance").verdict
    good = {"none": 1.0, "max2": 0.6, "max4": 0.4, "global": 0.2}

    def metrics(per_seed: list[dict[str, float]]) -> dict:
        m = {"seeds": list(range(len(per_seed)))}
        for p in invariance.POOLINGS:
            for s in (1, 2, 3):
                values = [d[p] * s for d in per_seed]
                m[f"feature_change_{p}_s{s}_seeds"] = values
                m[f"feature_change_{p}_s{s}"] = sum(values) / len(values)
        return m

    assert verdict(metrics([good] * 3))[0]
    assert not verdict(metrics([good, good, {**good, "global": 0.3}]))[0]  # ratio 0.3 > 0.25
    assert not verdict(metrics([good, {**good, "max4": 0.7}, good]))[0]  # not decreasing
    assert not verdict(metrics([good]))[0]  # one seed: not measured


def test_bytenet_verdict_needs_a_gap_above_0_3_over_seeds():
    verdict = bytenet.CLAIMS[0].verdict

    def metrics(dil: list[float], undil: list[float]) -> dict:
        m = {"task": "sort", "seeds": list(range(len(dil))), "parameters": 100}
        m |= {"receptive_field": 31, "undilated_receptive_field": 9}
        m |= {"test_char_accuracy": 0.9, "undilated_test_char_accuracy": 0.5}
        m |= {"test_accuracy_seeds": dil, "undilated_test_accuracy_seeds": undil}
        m |= {"test_accuracy": sum(dil) / len(dil), "undilated_test_accuracy": sum(undil) / 3}
        return m

    ok, evidence = verdict(metrics([0.9, 0.92, 0.88], [0.1, 0.12, 0.09]))
    assert ok and "margin +0.3" in evidence
    assert not verdict(metrics([0.35, 0.37, 0.34], [0.1, 0.12, 0.09]))[0]  # gap 0.25 only
    # mean gap 0.33 but spread over seeds: the lower bound (0.12) is below 0.3
    assert not verdict(metrics([0.45, 0.32, 0.54], [0.1, 0.12, 0.09]))[0]
    ok, evidence = verdict({**metrics([0.9], [0.1]), "undilated_test_accuracy": 0.1})
    assert not ok and evidence.startswith("not measured")


def test_se_accuracy_verdict_is_judged_over_training_seeds():
    m = {"resnet_test_accuracy": 0.9, "se_test_accuracy": 0.903, "test_examples": 10_000}
    verdict = next(c for c in se.CLAIMS if c.id == "se-improves-accuracy").verdict

    def holds(se_acc: list[float], base: list[float]) -> bool:
        ok, evidence = verdict(
            {**m, "se_test_accuracy_seeds": se_acc, "resnet_test_accuracy_seeds": base}
        )
        assert "3 seeds" in evidence and "paired-t" in evidence
        return ok

    base = [0.90, 0.91, 0.89]
    # a steady +0.3 points: d = (0.003, 0.004, 0.002), mean 0.003, SE 0.00058, t(0.95, 2) = 2.92
    assert holds([0.903, 0.914, 0.892], base)
    # the same mean gain with a seed-to-seed spread of 1 point: the lower bound is negative
    assert not holds([0.913, 0.904, 0.892], base)
    assert not holds(base, base)
    assert not holds([0.89, 0.90, 0.88], base)
    with pytest.raises(ValueError, match=">= 3 seeds"):
        verdict(
            {**m, "se_test_accuracy_seeds": [0.9, 0.9], "resnet_test_accuracy_seeds": [0.8, 0.8]}
        )
