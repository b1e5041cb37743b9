"""VRNN and the Gaussian RNN baseline: KL, bounds, causality, the chain rule."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from replearn.vae.objectives import gaussian_log_likelihood
from replearn.vae.vrnn import VRNN, GaussianRNN, gaussian_kl_diag

F64 = torch.float64


def test_kl_of_two_diagonal_gaussians() -> None:
    g = torch.Generator().manual_seed(0)
    mq, lq, mp, lp = (torch.randn(3, 4, generator=g, dtype=F64) for _ in range(4))
    want = kl_divergence(Normal(mq, (0.5 * lq).exp()), Normal(mp, (0.5 * lp).exp())).sum(-1)
    torch.testing.assert_close(gaussian_kl_diag(mq, lq, mp, lp), want, rtol=1e-12, atol=1e-12)


@torch.no_grad()
def test_vrnn_bounds_are_ordered() -> None:
    torch.manual_seed(1)
    model = VRNN(2, 2, h_dim=8, hidden=8).double()
    x = torch.randn(3, 6, 2, dtype=F64)
    reps = 400
    xr = x.repeat(reps, 1, 1)
    elbo = model.elbo(xr).elbo.reshape(reps, -1)
    iwae = model.iwae(xr, 8).reshape(reps, -1)
    se = (elbo.var(0) / reps + iwae.var(0) / reps).sqrt()
    assert (iwae.mean(0) > elbo.mean(0) + 2 * se).all()
    ll = model.log_likelihood(x, 2000, chunk=500)
    assert (ll > iwae.mean(0) - 4 * iwae.std(0) / reps**0.5).all()
    # the analytic-KL ELBO and the one-sample IWAE (Monte-Carlo KL) estimate the same bound
    iw1 = model.iwae(xr, 1).reshape(reps, -1)
    se1 = (elbo.var(0) / reps + iw1.var(0) / reps).sqrt()
    assert ((elbo.mean(0) - iw1.mean(0)).abs() < 4 * se1).all()


def test_vrnn_is_causal_and_trains() -> None:
    torch.manual_seed(2)
    model = VRNN(2, 2, h_dim=8, hidden=8).double()
    x = torch.randn(2, 5, 2, dtype=F64)
    y = x.clone()
    y[:, 3:] += 1.0  # change the future only
    with torch.no_grad():
        torch.manual_seed(3)
        a = model.elbo(x[:, :3]).elbo
        torch.manual_seed(3)
        b = model.elbo(y[:, :3]).elbo
    torch.testing.assert_close(a, b)  # the first 3 steps' bound ignores steps 4-5
    (-model(x).mean()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name


def test_gaussian_rnn_is_the_chain_rule() -> None:
    torch.manual_seed(4)
    model = GaussianRNN(2, h_dim=8, hidden=8).double()
    x = torch.randn(3, 4, 2, dtype=F64)
    total = torch.zeros(3, dtype=F64)
    h = torch.zeros(3, 8, dtype=F64)
    for t in range(4):  # recompute p(x_t | x_<t) from the cell directly
        mu, lv = model.out(h).chunk(2, -1)
        total += gaussian_log_likelihood(x[:, t], mu, lv)
        h = model.cell(model.phi_x(x[:, t]), h)
    torch.testing.assert_close(model.log_likelihood(x), total, rtol=1e-12, atol=1e-12)
    # the first step has no past: its density is the same for every sequence
    steps = model.step_log_likelihoods(x)
    mu0, lv0 = model.out(torch.zeros(1, 8, dtype=F64)).chunk(2, -1)
    torch.testing.assert_close(steps[:, 0], gaussian_log_likelihood(x[:, 0], mu0, lv0))


def test_validation() -> None:
    with pytest.raises(ValueError, match="z_dim"):
        VRNN(2, 0)
    with pytest.raises(ValueError, match="expected x"):
        VRNN(2, 2, h_dim=4, hidden=4).elbo(torch.randn(3, 2))
    with pytest.raises(ValueError, match="h_dim"):
        GaussianRNN(2, h_dim=0)
    assert "z_dim=2" in repr(VRNN(2, 2, h_dim=4, hidden=4))
