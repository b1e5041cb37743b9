"""Inception Score and Mode Score vs closed forms and scipy.stats.entropy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import entropy

from replearn.metrics.inception_score import inception_score, mode_score


def _dirichlet(rng, n, k, alpha=0.3):
    return rng.dirichlet(np.full(k, alpha), size=n)


def test_balanced_one_hot_gives_k_and_collapse_gives_one():
    k = 10
    probs = np.eye(k)[np.arange(200) % k]
    assert inception_score(probs)[0] == pytest.approx(k, rel=1e-9)
    assert mode_score(probs)[0] == pytest.approx(k, rel=1e-9)
    collapsed = np.eye(k)[np.zeros(200, dtype=int)]
    assert inception_score(collapsed)[0] == pytest.approx(1.0, rel=1e-9)
    # the Mode Score also pays KL(p(y) || U) = log K: exp(log K - log K) = 1
    assert mode_score(collapsed)[0] == pytest.approx(1.0, rel=1e-9)
    uniform = np.full((50, k), 1 / k)
    assert inception_score(uniform)[0] == pytest.approx(1.0, rel=1e-9)


def test_matches_scipy_entropy_and_identity():
    rng = np.random.default_rng(0)
    p = _dirichlet(rng, 300, 7)
    marginal = p.mean(0)
    ref = np.exp(np.mean([entropy(row, marginal) for row in p]))
    assert inception_score(p)[0] == pytest.approx(ref, rel=1e-10)
    # IS = exp(H[p(y)] - E H[p(y|x)])
    ident = np.exp(entropy(marginal) - np.mean([entropy(row) for row in p]))
    assert inception_score(p)[0] == pytest.approx(ident, rel=1e-10)


def test_mode_score_against_scipy_and_equal_to_is_at_matching_marginal():
    rng = np.random.default_rng(1)
    p = _dirichlet(rng, 400, 5)
    star = rng.dirichlet(np.ones(5))
    marginal = p.mean(0)
    ref = np.exp(np.mean([entropy(row, star) for row in p]) - entropy(marginal, star))
    assert mode_score(p, star)[0] == pytest.approx(ref, rel=1e-10)
    assert mode_score(p, marginal)[0] == pytest.approx(inception_score(p)[0], rel=1e-10)


def test_splits_mean_and_std():
    rng = np.random.default_rng(2)
    p = _dirichlet(rng, 100, 4)
    parts = [inception_score(p[i * 25 : (i + 1) * 25])[0] for i in range(4)]
    mean, std = inception_score(p, splits=4)
    assert mean == pytest.approx(np.mean(parts), rel=1e-12)
    assert std == pytest.approx(np.std(parts), rel=1e-12)


def test_invalid_inputs_raise():
    with pytest.raises(ValueError, match="sum to 1"):
        inception_score(np.ones((3, 4)))
    with pytest.raises(ValueError, match="splits"):
        inception_score(np.eye(3), splits=5)
    with pytest.raises(ValueError, match="train_marginal"):
        mode_score(np.eye(3), np.ones(3))
