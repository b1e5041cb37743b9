"""Fréchet distance / FID vs closed forms and the pytorch-fid formula (scipy.linalg.sqrtm)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from replearn.metrics.fid import (
    fid_from_features,
    frechet_distance,
    gaussian_statistics,
    sqrtm_psd,
    trace_sqrt_product,
)


def _random_cov(rng: np.random.Generator, d: int, rank: int | None = None) -> np.ndarray:
    a = rng.standard_normal((d, rank or 2 * d))
    return a @ a.T / a.shape[1]


def _scipy_fid(mu1, s1, mu2, s2, eps=1e-6):
    """pytorch-fid's calculate_frechet_distance (the formula users compare against)."""
    diff = mu1 - mu2
    covmean = scipy.linalg.sqrtm(s1.dot(s2))
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((s1 + offset).dot(s2 + offset))
    covmean = covmean.real
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_diagonal_gaussians_closed_form():
    rng = np.random.default_rng(0)
    d = 7
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    v1, v2 = rng.uniform(0.1, 3, d), rng.uniform(0.1, 3, d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
    got = frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2))
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_commuting_covariances_closed_form():
    """Same eigenvectors: d^2 = |dmu|^2 + ||S1^1/2 - S2^1/2||_F^2."""
    rng = np.random.default_rng(1)
    d = 6
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    l1, l2 = rng.uniform(0.2, 2, d), rng.uniform(0.2, 2, d)
    s1, s2 = q @ np.diag(l1) @ q.T, q @ np.diag(l2) @ q.T
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(l1) - np.sqrt(l2)) ** 2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-10)


def test_one_dimensional_is_squared_w2():
    got = frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([-2.0]), np.array([[9.0]]))
    assert got == pytest.approx(9.0 + (2.0 - 3.0) ** 2, rel=1e-12)


@pytest.mark.parametrize("d", [3, 16, 64])
def test_matches_scipy_sqrtm(d):
    rng = np.random.default_rng(d)
    s1, s2 = _random_cov(rng, d), _random_cov(rng, d)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    ours = frechet_distance(mu1, s1, mu2, s2)
    ref = _scipy_fid(mu1, s1, mu2, s2)
    assert ours == pytest.approx(ref, rel=1e-8, abs=1e-8)


def test_rank_deficient_covariances_match_scipy():
    rng = np.random.default_rng(3)
    d = 12
    s1, s2 = _random_cov(rng, d, rank=4), _random_cov(rng, d, rank=5)
    mu = np.zeros(d)
    ours = frechet_distance(mu, s1, mu, s2)
    assert ours == pytest.approx(_scipy_fid(mu, s1, mu, s2), rel=1e-5, abs=1e-6)
    assert ours >= 0


def test_symmetric_and_zero_on_itself():
    rng = np.random.default_rng(4)
    d = 10
    s1, s2 = _random_cov(rng, d), _random_cov(rng, d)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(
        frechet_distance(mu2, s2, mu1, s1), rel=1e-10
    )
    assert abs(frechet_distance(mu1, s1, mu1, s1)) < 1e-9


def test_sqrtm_psd_squares_back_and_trace():
    rng = np.random.default_rng(5)
    a = _random_cov(rng, 8)
    r = sqrtm_psd(a).numpy()
    np.testing.assert_allclose(r @ r, a, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(r, scipy.linalg.sqrtm(a).real, rtol=1e-8, atol=1e-10)
    b = _random_cov(rng, 8)
    ref = np.trace(scipy.linalg.sqrtm(a @ b)).real
    assert trace_sqrt_product(a, b) == pytest.approx(ref, rel=1e-9)


def test_fid_from_features_matches_numpy_statistics():
    rng = np.random.default_rng(6)
    fa = rng.standard_normal((300, 5))
    fb = rng.standard_normal((200, 5)) * 1.5 + 0.3
    mu, sigma = gaussian_statistics(torch.from_numpy(fa).float())
    np.testing.assert_allclose(mu.numpy(), fa.astype(np.float32).mean(0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        sigma.numpy(), np.cov(fa.astype(np.float32), rowvar=False), rtol=1e-5, atol=1e-6
    )
    ref = _scipy_fid(fa.mean(0), np.cov(fa, rowvar=False), fb.mean(0), np.cov(fb, rowvar=False))
    assert fid_from_features(fa, fb) == pytest.approx(ref, rel=1e-8)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="shapes"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="n >= 2"):
        fid_from_features(np.zeros((1, 3)), np.zeros((4, 3)))
