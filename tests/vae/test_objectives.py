"""Reparameterization, Gaussian KL (analytic vs Monte Carlo vs torch.distributions), likelihoods."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from replearn.vae.objectives import (
    bernoulli_log_likelihood,
    elbo,
    gaussian_kl,
    gaussian_kl_mc,
    gaussian_log_likelihood,
    log_normal_diag,
    log_standard_normal,
    reparameterize,
)

F64 = torch.float64


def _params(b: int = 4, d: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(b, d, generator=g, dtype=F64), torch.randn(b, d, generator=g, dtype=F64)


def test_analytic_kl_matches_torch_distributions() -> None:
    mu, log_var = _params()
    q = Normal(mu, torch.exp(0.5 * log_var))
    p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    want = kl_divergence(q, p).sum(-1)
    torch.testing.assert_close(gaussian_kl(mu, log_var), want, rtol=1e-12, atol=1e-12)


def test_monte_carlo_kl_agrees_with_analytic() -> None:
    mu, log_var = _params()
    g = torch.Generator().manual_seed(1)
    n = 200_000
    eps = torch.randn(n, *mu.shape, generator=g, dtype=F64)
    z = reparameterize(mu, log_var, eps=eps)
    mc = gaussian_kl_mc(z, mu, log_var)
    per_sample = log_normal_diag(z, mu, log_var) - log_standard_normal(z)
    se = per_sample.std(0) / n**0.5
    assert ((mc - gaussian_kl(mu, log_var)).abs() < 4 * se).all(), (mc, gaussian_kl(mu, log_var))


def test_reparameterized_samples_have_the_moments_of_q() -> None:
    mu, log_var = _params(2, 2)
    g = torch.Generator().manual_seed(2)
    z = reparameterize(mu, log_var, eps=torch.randn(100_000, 2, 2, generator=g, dtype=F64))
    torch.testing.assert_close(z.mean(0), mu, atol=0.03, rtol=0)
    torch.testing.assert_close(z.var(0).log(), log_var, atol=0.03, rtol=0)
    # gradients flow to both parameters through the sample
    mu.requires_grad_(True)
    log_var.requires_grad_(True)
    reparameterize(mu, log_var).sum().backward()
    assert mu.grad is not None and log_var.grad is not None


def test_likelihoods_match_torch_distributions() -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.bernoulli(torch.full((5, 7), 0.3, dtype=F64), generator=g)
    logits = 4 * torch.randn(5, 7, generator=g, dtype=F64)
    want = Bernoulli(logits=logits).log_prob(x).sum(-1)
    torch.testing.assert_close(bernoulli_log_likelihood(x, logits), want, rtol=1e-12, atol=1e-10)
    xr, mean, lv = (torch.randn(5, 7, generator=g, dtype=F64) for _ in range(3))
    want = Normal(mean, torch.exp(0.5 * lv)).log_prob(xr).sum(-1)
    torch.testing.assert_close(gaussian_log_likelihood(xr, mean, lv), want, rtol=1e-12, atol=1e-12)


def test_elbo_subtracts_the_weighted_kl() -> None:
    rec = torch.tensor([-10.0, -20.0], dtype=F64)
    kl = torch.tensor([2.0, 3.0], dtype=F64)
    torch.testing.assert_close(elbo(rec, kl), rec - kl)
    torch.testing.assert_close(elbo(rec, kl, beta=4.0), rec - 4 * kl)
    torch.testing.assert_close(elbo(rec, kl, beta=0.0), rec)
    with pytest.raises(ValueError, match="beta"):
        elbo(rec, kl, beta=-1.0)
