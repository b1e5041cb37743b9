"""The regularize experiments' verdicts over training seeds (experiments/regularize/common.py).

``over_seeds`` merges per-seed metrics into means and ``_seeds`` lists; every "X improves on Y"
claim of the topic is judged by ``improvement_over_seeds`` (the shared paired Student-t rule of
``replearn.experiments.stats.compare_seeds``), checked here on hand-made numbers.
"""

from __future__ import annotations

import pytest

from replearn.engine.context import RunContext
from replearn.experiments.regularize import (
    regularize_augment,
    regularize_early_stopping,
    regularize_multitask,
    regularize_stochastic_depth,
    regularize_transfer,
)
from replearn.experiments.regularize.common import improvement_over_seeds, over_seeds, seed_list


def test_seed_list_needs_three_seeds() -> None:
    assert seed_list(5, 3) == [5, 6, 7]
    with pytest.raises(ValueError, match=">= 3"):
        seed_list(0, 2)


def test_over_seeds_runs_a_child_per_seed_and_merges(tmp_path) -> None:
    ctx = RunContext(out=tmp_path, seed=10, progress=False)
    ctx.start()
    try:
        merged = over_seeds(ctx, 3, lambda run: {"acc": run.seed / 100, "ok": run.seed != 11})
    finally:
        ctx.close()
    assert merged["seeds"] == [10, 11, 12]
    assert merged["acc_seeds"] == [0.10, 0.11, 0.12]
    assert merged["acc"] == pytest.approx(0.11, abs=1e-12)
    assert merged["ok_seeds"] == [True, False, True]
    assert all((tmp_path / f"seed{s}").is_dir() for s in (10, 11, 12))


def _m(x: list[float], y: list[float]) -> dict:
    return {
        "x_test_accuracy_seeds": x,
        "y_test_accuracy_seeds": y,
        "x_test_accuracy": sum(x) / len(x),
        "y_test_accuracy": sum(y) / len(y),
    }


def test_improvement_needs_the_lower_bound_above_zero() -> None:
    # d = (+1, +1.2, +0.8) points: mean 1.0, SE 0.115, t(0.95, 2) = 2.920 -> lower bound 0.66
    holds, evidence = improvement_over_seeds(
        _m([0.81, 0.822, 0.798], [0.80, 0.81, 0.79]), "x", "y", "X", "Y"
    )
    assert holds
    assert "over 3 seeds" in evidence and "+1.00 points" in evidence and "+0.66" in evidence
    # the same mean, a large spread: d = (+4, -1, 0) points -> lower bound < 0
    holds, _ = improvement_over_seeds(
        _m([0.84, 0.80, 0.79], [0.80, 0.81, 0.79]), "x", "y", "X", "Y"
    )
    assert not holds


@pytest.mark.parametrize(
    ("module", "claim_id", "x", "y"),
    [
        (regularize_augment, "mixup-improves", "mixup", "none"),
        (regularize_stochastic_depth, "stochastic-depth-test", "stochastic-depth", "none"),
        (regularize_transfer, "transfer-finetune", "finetune", "scratch"),
    ],
)
def test_experiment_claims_read_the_per_seed_accuracies(module, claim_id, x, y) -> None:
    verdict = next(c for c in module.CLAIMS if c.id == claim_id).verdict
    m = {
        f"{x}_test_accuracy_seeds": [0.81, 0.822, 0.798],
        f"{y}_test_accuracy_seeds": [0.80, 0.81, 0.79],
        f"{x}_test_accuracy": 0.81,
        f"{y}_test_accuracy": 0.80,
        "target_train_examples": 100,
        "source_test_accuracy": 0.9,
    }
    assert verdict(m)[0]
    m[f"{x}_test_accuracy_seeds"] = [0.84, 0.80, 0.79]
    assert not verdict(m)[0]


def test_multitask_and_early_stopping_claims_are_judged_over_seeds() -> None:
    verdict = next(c for c in regularize_multitask.CLAIMS if c.id == "multitask-helps").verdict
    m = {
        "multi_test_accuracy_seeds": [0.70, 0.71, 0.69],
        "single-class_test_accuracy_seeds": [0.70, 0.71, 0.69],
        "multi_test_accuracy": 0.7,
        "single-class_test_accuracy": 0.7,
        "train_examples": 1000,
        "multi_test_recon_mse": 0.02,
        "single-recon_test_recon_mse": 0.02,
    }
    assert not verdict(m)[0]  # no difference at all
    gap = next(c for c in regularize_early_stopping.CLAIMS if c.id == "early-stopping-gap")
    m = {
        "early_gap_accuracy_seeds": [0.05, 0.06, 0.04],
        "full_gap_accuracy_seeds": [0.15, 0.17, 0.16],
        "early_gap_accuracy": 0.05,
        "full_gap_accuracy": 0.16,
        "best_step_seeds": [500, 600, 550],
        "stop_step_seeds": [1000, 1100, 1050],
        "full_steps_seeds": [3000] * 3,
        "early_test_loss": 0.4,
        "full_test_loss": 0.6,
        "early_test_accuracy": 0.85,
        "full_test_accuracy": 0.84,
    }
    holds, evidence = gap.verdict(m)
    assert holds and "3 seeds" in evidence
    m["early_gap_accuracy_seeds"] = [0.16, 0.17, 0.15]
    assert not gap.verdict(m)[0]


def test_dropout_gap_claim_is_judged_over_seeds() -> None:
    from replearn.experiments.regularize import regularize_dropout

    verdict = regularize_dropout.CLAIMS[0].verdict
    m = {
        f"{v}_{k}": 0.5
        for v in ("dropout", "none")
        for k in ("gap_accuracy", "train_accuracy", "gap_loss", "test_accuracy")
    }
    m["dropout_gap_accuracy_seeds"] = [0.05, 0.06, 0.04]
    m["none_gap_accuracy_seeds"] = [0.15, 0.17, 0.16]
    holds, evidence = verdict(m)
    assert holds and "over 3 seeds" in evidence
    m["dropout_gap_accuracy_seeds"] = [0.05, 0.20, 0.17]  # mean smaller, spread too large
    assert not verdict(m)[0]


def test_label_smoothing_claims_are_judged_over_seeds() -> None:
    from replearn.experiments.regularize import regularize_label_smoothing as ls

    m: dict = {"n_bins": 15}
    for v in ("hard", "smoothed"):
        for k in ("test_ece", "mean_confidence", "test_accuracy", "test_nll"):
            m[f"{v}_{k}"] = 0.5
        for k in ("scatter_ratio_test", "scatter_ratio_train"):
            m[f"{v}_{k}"] = 0.5
    m["hard_test_ece_seeds"] = [0.08, 0.09, 0.085]
    m["smoothed_test_ece_seeds"] = [0.02, 0.03, 0.025]
    m["hard_scatter_ratio_test_seeds"] = [0.30, 0.31, 0.29]
    m["smoothed_scatter_ratio_test_seeds"] = [0.30, 0.33, 0.26]  # same mean: no reduction
    verdicts = {c.id: c.verdict(m) for c in ls.CLAIMS}
    assert verdicts["ls-calibration"][0] and "over 3 seeds" in verdicts["ls-calibration"][1]
    assert not verdicts["ls-clusters"][0]
