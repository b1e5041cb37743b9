"""The shared seed-verdict helper against closed forms and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from replearn.experiments.stats import (
    compare_seeds,
    compare_seeds_examples,
    mean_se,
    paired_difference,
)


def test_paired_t_matches_scipy_one_sided_test() -> None:
    x = [0.91, 0.93, 0.92, 0.95]
    y = [0.90, 0.90, 0.91, 0.92]
    c = compare_seeds(x, y, label_x="mixup", label_y="plain")
    d = np.subtract(x, y)
    assert c.mean == pytest.approx(d.mean(), abs=1e-12)
    assert c.se == pytest.approx(d.std(ddof=1) / 2, abs=1e-12)
    # the lower bound is positive exactly when scipy's one-sided paired t-test rejects at 5%
    p = stats.ttest_rel(x, y, alternative="greater").pvalue
    assert (c.lower > 0) == (p < 0.05)
    lo = scipy_lower(d)
    assert c.lower == pytest.approx(lo, abs=1e-12)
    assert c.n_seeds == 4 and c.holds


def scipy_lower(d: np.ndarray) -> float:
    n = len(d)
    return d.mean() - stats.t.ppf(0.95, n - 1) * d.std(ddof=1) / math.sqrt(n)


def test_lower_is_better_flips_sign_and_margin_is_respected() -> None:
    loss_x, loss_y = [1.0, 1.1, 0.9], [1.5, 1.6, 1.4]
    c = compare_seeds(loss_x, loss_y, higher_is_better=False)
    assert c.mean == pytest.approx(0.5) and c.holds
    assert not compare_seeds(loss_x, loss_y, higher_is_better=False, margin=0.6).holds


def test_large_spread_does_not_hold_even_with_positive_mean() -> None:
    c = compare_seeds([0.95, 0.80, 0.97], [0.90, 0.90, 0.90])
    assert c.mean > 0 and not c.holds
    assert "3 seeds" in c.evidence() and "paired-t" in c.evidence()


def test_too_few_seeds_or_unpaired_is_an_error() -> None:
    with pytest.raises(ValueError, match=">= 3 seeds"):
        compare_seeds([1.0, 2.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="paired"):
        compare_seeds([1.0, 2.0, 3.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="finite"):
        compare_seeds([1.0, float("nan"), 3.0], [0.0, 1.0, 2.0])


def test_points_unit_in_evidence() -> None:
    c = compare_seeds([0.9, 0.91, 0.92], [0.8, 0.8, 0.81], unit="points")
    assert "+10.67 points" in c.evidence()
    assert c.as_dict()["diffs"] == pytest.approx([0.1, 0.11, 0.11])


def test_lower_is_better_evidence_names_the_difference_it_prints() -> None:
    # losses: X = 1.0, Y = 1.5 -> the improvement Y - X = +0.5, written as such
    c = compare_seeds([1.0, 1.1, 0.9], [1.5, 1.6, 1.4], higher_is_better=False,
                      label_x="new", label_y="old")  # fmt: skip
    assert c.holds and c.mean == pytest.approx(0.5)
    assert c.evidence().startswith("old - new = +0.5 ")
    assert compare_seeds([2.0, 3.0, 4.0], [1.0, 1.0, 1.0]).evidence().startswith("X - Y = +2 ")


def test_bootstrap_includes_both_noise_sources() -> None:
    rng = np.random.default_rng(1)
    s, n = 5, 400
    # X is better by 5 points on average; the per-seed shift makes seeds disagree
    base = rng.random((s, n))
    x = (base < 0.85 + rng.normal(0, 0.01, (s, 1))).astype(float)
    y = (base < 0.80).astype(float)
    c = compare_seeds_examples(x, y, n_boot=500)
    assert c.mean == pytest.approx((x - y).mean(), abs=1e-12)
    assert c.holds and c.lower < c.mean
    # spread at least the test-set-only SE of the pooled difference would give
    assert c.se >= 0.5 * (x - y).std() / math.sqrt(s * n)
    # identical variants never hold
    assert not compare_seeds_examples(x, x, n_boot=200).holds


def test_bootstrap_shape_errors() -> None:
    with pytest.raises(ValueError, match="seeds, examples"):
        compare_seeds_examples(np.zeros((3, 4)), np.zeros((3, 5)))
    with pytest.raises(ValueError, match=">= 3 seeds"):
        compare_seeds_examples(np.zeros((2, 4)), np.zeros((2, 4)))


def test_mean_se_matches_scipy_sem() -> None:
    v = np.random.default_rng(1).normal(3.0, 2.0, size=7)
    m, se = mean_se(list(v))
    np.testing.assert_allclose(m, v.mean(), rtol=1e-15, atol=0)
    np.testing.assert_allclose(se, stats.sem(v, ddof=1), rtol=1e-13, atol=0)
    # closed form for [1, 2, 3]: mean 2, s = 1, SE = 1/sqrt(3)
    assert mean_se([1.0, 2.0, 3.0]) == pytest.approx((2.0, 1 / math.sqrt(3)), rel=1e-15)
    # tensors (any shape, any dtype) give the float64 answer
    t = torch.tensor(v, dtype=torch.float64).reshape(7, 1)
    np.testing.assert_allclose(mean_se(t), (m, se), rtol=1e-15, atol=0)


def test_mean_se_of_one_value_has_infinite_se_and_empty_is_an_error() -> None:
    assert mean_se([4.5]) == (4.5, math.inf)
    with pytest.raises(ValueError):
        mean_se([])


def test_paired_difference_is_mean_se_of_differences() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=5), rng.normal(size=5)
    d, se = paired_difference(a, b)
    res = stats.ttest_rel(a, b)
    np.testing.assert_allclose(d, (a - b).mean(), rtol=1e-14, atol=1e-15)
    # the paired t statistic is d / SE
    np.testing.assert_allclose(d / se, res.statistic, rtol=1e-12, atol=0)
    # per-example 0/1 correctness as bool tensors
    ca = torch.tensor([1, 1, 0, 1, 0, 1], dtype=torch.bool)
    cb = torch.tensor([1, 0, 0, 0, 0, 1], dtype=torch.bool)
    d2, se2 = paired_difference(ca, cb)
    diffs = np.array([0, 1, 0, 1, 0, 0], dtype=np.float64)
    assert d2 == pytest.approx(2 / 6, rel=1e-15)
    assert se2 == pytest.approx(diffs.std(ddof=1) / math.sqrt(6), rel=1e-14)
    with pytest.raises(ValueError):
        paired_difference([1.0, 2.0], [1.0])


def test_median_interval_is_the_sign_test_interval() -> None:
    from replearn.experiments.stats import median_interval

    # n = 30: P(Bin(30, 1/2) < 10) = 0.0214 <= 0.025 < P(< 11) = 0.0494 -> (x_10, x_21)
    assert median_interval([float(i) for i in range(30, 0, -1)]) == (10.0, 21.0)
    # n = 6: coverage 1 - 2/64 = 0.969 with k = 1; the whole range
    assert median_interval([5.0, 1.0, 2.0, 3.0, 4.0, 6.0]) == (1.0, 6.0)
    assert median_interval([1.0, 2.0, 3.0, 4.0, 5.0]) is None  # 1 - 2/32 = 0.9375 < 0.95
    assert median_interval([1.0] * 5, confidence=0.9) == (1.0, 1.0)


def test_time_rounds_alternates_the_order_and_time_ratio_reads_the_interval() -> None:
    from replearn.experiments.stats import time_ratio, time_rounds

    calls: list[str] = []
    times = time_rounds({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3, 1)
    assert calls == ["b", "a", "a", "b", "b", "a", "a", "b"]  # reversed on even rounds
    assert [len(v) for v in times.values()] == [3, 3]
    fake = {"fast": [1.0, 1.1, 0.9, 1.0, 1.2, 1.0, 1.05], "slow": [2.0] * 7}
    r = time_ratio(fake, "fast", "slow")
    assert r.ratio == 0.5 and r.rounds == 7 and r.t_b == 2.0
    assert (r.lo, r.hi) == (0.45, 0.6) and r.below(1.0) and not r.below(0.6)
    assert not r.above(0.45) and time_ratio(fake, "slow", "fast").above(1.5)
    assert "95% interval 0.45-0.6, 7 paired rounds" in r.evidence()
    few = time_ratio({"a": [1.0] * 5, "b": [2.0] * 5}, "a", "b")
    assert few.lo is None and not few.below(10.0) and not few.above(0.0)
    assert "no 95% interval" in few.evidence()
    with pytest.raises(ValueError):
        time_rounds({"a": lambda: None}, 0)


def test_too_few_seeds_reads_not_measured_below_three() -> None:
    from replearn.experiments.stats import too_few_seeds

    assert too_few_seeds(1) == "not measured: needs >= 3 training seeds, got 1"
    assert too_few_seeds(3) is None and too_few_seeds(5) is None


def test_time_rounds_reads_the_given_clock() -> None:
    from replearn.experiments.stats import time_rounds

    ticks = iter(range(100))
    times = time_rounds({"a": lambda: None}, 3, 0, clock=lambda: float(next(ticks)))
    assert times == {"a": [1.0, 1.0, 1.0]}
