"""Unbiased MMD² and KID vs explicit loops, sklearn kernels and the Gaussian closed form."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics.pairwise import polynomial_kernel as sk_poly
from sklearn.metrics.pairwise import rbf_kernel as sk_rbf

from replearn.metrics.mmd import kid, median_bandwidth, mmd2


def _loop_mmd2(x, y, k):
    m, n = len(x), len(y)
    kxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kyy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return kxx + kyy - 2 * kxy


def test_rbf_matches_double_loop():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((12, 3)), rng.standard_normal((9, 3)) + 0.5
    sigma = 1.3
    ref = _loop_mmd2(x, y, lambda a, b: np.exp(-np.sum((a - b) ** 2) / (2 * sigma**2)))
    assert mmd2(x, y, kernel="rbf", sigma=sigma) == pytest.approx(ref, rel=1e-12)


def test_polynomial_matches_double_loop_and_sklearn():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((10, 4)), rng.standard_normal((11, 4)) * 2
    d = 4
    ref = _loop_mmd2(x, y, lambda a, b: (a @ b / d + 1.0) ** 3)
    assert mmd2(x, y, kernel="polynomial") == pytest.approx(ref, rel=1e-12)
    # sklearn's kernels give the same Gram matrices
    pairs = ((x, x), (y, y), (x, y))
    kxx, kyy, kxy = (sk_poly(a, b, degree=3, gamma=1 / d, coef0=1) for a, b in pairs)
    m, n = len(x), len(y)
    sk = (
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
        - 2 * kxy.mean()
    )
    assert mmd2(x, y, kernel="polynomial") == pytest.approx(sk, rel=1e-12)
    g = 0.7
    kxx, kyy, kxy = (sk_rbf(a, b, gamma=g) for a, b in ((x, x), (y, y), (x, y)))
    sk = (
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
        - 2 * kxy.mean()
    )
    assert mmd2(x, y, kernel="rbf", sigma=(1 / (2 * g)) ** 0.5) == pytest.approx(sk, rel=1e-12)


def _gauss_rbf_expectation(delta, c, sigma, d):
    """E exp(-|z|^2/2s^2), z ~ N(delta, c I_d)."""
    return (1 + c / sigma**2) ** (-d / 2) * np.exp(-np.sum(delta**2) / (2 * (sigma**2 + c)))


def test_rbf_mmd2_of_gaussians_closed_form():
    """Population MMD^2 between N(0, I) and N(mu, s^2 I) vs the mean of the unbiased estimator."""
    d, s, sigma = 2, 1.5, 1.0
    mu = np.array([0.7, -0.3])
    exact = (
        _gauss_rbf_expectation(np.zeros(d), 2.0, sigma, d)
        + _gauss_rbf_expectation(np.zeros(d), 2 * s**2, sigma, d)
        - 2 * _gauss_rbf_expectation(mu, 1 + s**2, sigma, d)
    )
    gen = torch.Generator().manual_seed(0)
    vals = []
    for _ in range(40):
        x = torch.randn(300, d, generator=gen, dtype=torch.float64)
        y = torch.randn(300, d, generator=gen, dtype=torch.float64) * s + torch.from_numpy(mu)
        vals.append(mmd2(x, y, kernel="rbf", sigma=sigma))
    v = np.array(vals)
    se = v.std(ddof=1) / np.sqrt(len(v))
    assert abs(v.mean() - exact) < 4 * se + 1e-4, (v.mean(), exact, se)


def test_unbiased_under_null():
    gen = torch.Generator().manual_seed(1)
    vals = [
        mmd2(torch.randn(50, 3, generator=gen), torch.randn(50, 3, generator=gen), "polynomial")
        for _ in range(200)
    ]
    v = np.array(vals)
    assert (v < 0).any()  # unbiased: can be negative
    assert abs(v.mean()) < 4 * v.std(ddof=1) / np.sqrt(len(v))


def test_kid_one_full_subset_equals_mmd2_and_detects_shift():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((60, 8)), rng.standard_normal((60, 8)) + 1.0
    mean, std = kid(a, b, n_subsets=1, subset_size=60)
    assert mean == pytest.approx(mmd2(a, b, kernel="polynomial"), rel=1e-12)
    assert std == 0.0
    near, _ = kid(a, rng.standard_normal((60, 8)), n_subsets=20, subset_size=40)
    far, _ = kid(a, b, n_subsets=20, subset_size=40)
    assert far > 10 * abs(near)


def test_callable_kernel_median_bandwidth_and_errors():
    x, y = torch.randn(5, 2, dtype=torch.float64), torch.randn(6, 2, dtype=torch.float64)
    lin = mmd2(x, y, kernel=lambda a, b: a @ b.T)
    assert np.isfinite(lin)
    d = torch.cdist(torch.cat([x, y]), torch.cat([x, y]))
    med = float(d[~torch.eye(11, dtype=torch.bool)].median())
    assert median_bandwidth(x, y) == pytest.approx(med)
    with pytest.raises(ValueError, match="kernel"):
        mmd2(x, y, kernel="laplace")
    with pytest.raises(ValueError, match="at least 2"):
        mmd2(x[:1], y)
