"""Improved precision/recall, density, coverage vs brute-force loops and sklearn radii."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestNeighbors

from replearn.metrics.precision_recall import knn_radii, precision_recall


def _brute(real, fake, k):
    def radii(a):
        d = np.sqrt(((a[:, None] - a[None]) ** 2).sum(-1))
        return np.sort(d, axis=1)[:, k]  # index 0 is the point itself

    rr, rg = radii(real), radii(fake)
    d_gr = np.sqrt(((fake[:, None] - real[None]) ** 2).sum(-1))  # (g, r)
    within = d_gr <= rr[None]
    precision = within.any(1).mean()
    d_rg = d_gr.T  # (r, g)
    recall = (d_rg <= rg[None]).any(1).mean()
    density = within.sum() / (k * len(fake))
    coverage = within.any(0).mean()
    return precision, recall, density, coverage


@pytest.mark.parametrize("k", [1, 3, 5])
def test_matches_brute_force(k):
    rng = np.random.default_rng(k)
    real = rng.standard_normal((80, 4))
    fake = rng.standard_normal((60, 4)) * 1.3 + 0.4
    got = precision_recall(real, fake, k=k)
    ref = _brute(real, fake, k)
    for name, value in zip(("precision", "recall", "density", "coverage"), ref, strict=True):
        assert got[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name


def test_radii_match_sklearn():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 3))
    dist, _ = NearestNeighbors(n_neighbors=4).fit(x).kneighbors(x)
    np.testing.assert_allclose(knn_radii(torch.from_numpy(x), 3), dist[:, 3])


def test_identical_sets_and_collapse():
    rng = np.random.default_rng(1)
    real = rng.standard_normal((200, 2))
    same = precision_recall(real, real.copy())
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    # a generator collapsed near one real point: high precision, recall near 0
    collapsed = real[:1] + 0.01 * rng.standard_normal((200, 2))
    out = precision_recall(real, collapsed)
    assert out["precision"] > 0.9 and out["recall"] < 0.1 and out["coverage"] < 0.1


def test_bad_k_raises():
    with pytest.raises(ValueError, match="k must be"):
        precision_recall(np.zeros((3, 2)), np.zeros((3, 2)), k=3)
