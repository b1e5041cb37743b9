"""Both gradient estimators are unbiased: their means equal the exact gradient."""

from __future__ import annotations

import torch

from replearn.vae.gradients import reparameterization_gradient, score_function_gradient

F64 = torch.float64


def _f(z: torch.Tensor) -> torch.Tensor:
    return (z**2).sum(-1)  # E_q[f] = sum(mu^2 + sigma^2)


def test_estimators_are_unbiased_for_a_quadratic() -> None:
    mu = torch.tensor([0.5, -1.0, 2.0], dtype=F64)
    log_var = torch.tensor([0.0, -1.0, 0.5], dtype=F64)
    exact = (2 * mu, torch.exp(log_var))  # d/dmu, d/dlog_var of sum(mu^2 + e^v)
    eps = torch.randn(200_000, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    for est in (
        reparameterization_gradient(_f, mu, log_var, eps),
        score_function_gradient(_f, mu, log_var, eps),
        score_function_gradient(_f, mu, log_var, eps, baseline=_f(mu + 0 * eps[:1]).item()),
    ):
        for g, want in zip(est, exact, strict=True):
            se = g.std(0) / g.shape[0] ** 0.5
            assert ((g.mean(0) - want).abs() < 4 * se + 1e-12).all(), (g.mean(0), want, se)
    # for this f the reparameterization estimate of d/dmu has variance 4 sigma^2
    g_mu, _ = reparameterization_gradient(_f, mu, log_var, eps)
    torch.testing.assert_close(g_mu.var(0), 4 * torch.exp(log_var), rtol=0.02, atol=0)


def test_score_function_estimate_is_far_noisier_here() -> None:
    mu = torch.zeros(10, dtype=F64)
    log_var = torch.zeros(10, dtype=F64)
    eps = torch.randn(20_000, 10, generator=torch.Generator().manual_seed(1), dtype=F64)
    rep = reparameterization_gradient(_f, mu, log_var, eps)[0].var(0).sum()
    sf = score_function_gradient(_f, mu, log_var, eps)[0].var(0).sum()
    assert sf > 10 * rep
