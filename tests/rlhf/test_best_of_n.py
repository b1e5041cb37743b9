"""Best-of-n: selection, its KL formula vs the exact KL, expected maximum of normals."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from replearn.rlhf.best_of_n import best_of_n, best_of_n_kl


def test_best_of_n_picks_the_argmax():
    r = torch.tensor([[0.1, 0.5, 0.2], [3.0, -1.0, 2.0]])
    idx, best = best_of_n(r)
    assert idx.tolist() == [1, 0]
    assert best.tolist() == [0.5, 3.0]
    with pytest.raises(ValueError):
        best_of_n(torch.zeros(3))


@pytest.mark.parametrize("n", [1, 2, 4, 16, 64])
def test_kl_formula_vs_exact_kl(n):
    k = 20_000  # equally likely outcomes with distinct rewards: nearly continuous
    cdf = torch.arange(0, k + 1, dtype=torch.float64) / k
    p_bon = cdf[1:] ** n - cdf[:-1] ** n
    kl = float((p_bon * torch.log(p_bon * k)).sum())
    assert kl == pytest.approx(best_of_n_kl(n), abs=2e-3)
    assert kl <= best_of_n_kl(n) + 1e-12  # an upper bound for discrete outcomes


def test_expected_best_of_n_normal_grows_like_log_n():
    x = torch.linspace(-10, 10, 200_001, dtype=torch.float64)
    pdf = torch.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1 + torch.erf(x / math.sqrt(2)))
    means = []
    for n in (1, 2, 4, 8, 16, 32):
        dens = n * pdf * cdf ** (n - 1)
        means.append(float(torch.trapezoid(x * dens, x)))
    g = torch.Generator().manual_seed(0)
    mc = best_of_n(torch.randn(20_000, 8, generator=g, dtype=torch.float64))[1].mean()
    assert float(mc) == pytest.approx(means[3], abs=0.02)
    gains = [b - a for a, b in itertools.pairwise(means)]
    assert all(g2 < g1 for g1, g2 in itertools.pairwise(gains))  # diminishing gain per doubling
    assert means[-1] < math.sqrt(2 * math.log(32))
    with pytest.raises(ValueError):
        best_of_n_kl(0)
