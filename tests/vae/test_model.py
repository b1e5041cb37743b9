"""The MLP VAE: both decoders, both KL estimators, IWAE, the estimator, sampling, validation."""

from __future__ import annotations

import pytest
import torch

from replearn.vae.model import VAE
from replearn.vae.objectives import bernoulli_log_likelihood, gaussian_kl

F64 = torch.float64


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@torch.no_grad()
def test_analytic_and_monte_carlo_kl_give_the_same_elbo(likelihood: str) -> None:
    torch.manual_seed(0)
    model = VAE(10, 3, hidden=(16,), likelihood=likelihood).double()
    x = torch.rand(4, 10, dtype=F64).round()
    reps = 20_000
    xr = x.repeat(reps, 1)
    a = model.elbo(xr, kl="analytic").elbo.reshape(reps, -1)
    m = model.elbo(xr, kl="mc").elbo.reshape(reps, -1)
    se = (a.var(0) / reps + m.var(0) / reps).sqrt()
    assert ((a.mean(0) - m.mean(0)).abs() < 4 * se).all()
    # the analytic ELBO is reconstruction minus the closed-form KL of the encoder
    terms = model.elbo(x, beta=2.0)
    torch.testing.assert_close(terms.kl, gaussian_kl(*model.encode(x)))
    torch.testing.assert_close(terms.elbo, terms.log_px_z - 2.0 * terms.kl)


@torch.no_grad()
def test_bernoulli_decoder_likelihood_and_mean() -> None:
    torch.manual_seed(1)
    model = VAE(6, 2, hidden=(8, 8)).double()
    x = torch.rand(3, 6, dtype=F64).round()
    z = torch.randn(5, 3, 2, dtype=F64)
    logits, none = model.decoder_params(z)
    assert none is None
    torch.testing.assert_close(model.log_px_given_z(x, z), bernoulli_log_likelihood(x, logits))
    torch.testing.assert_close(model.decode_mean(z), torch.sigmoid(logits))
    assert model.sample(7).shape == (7, 6)


def test_iwae_objective_trains_and_bounds_are_ordered_on_average() -> None:
    torch.manual_seed(2)
    model = VAE(8, 2, hidden=(16,))
    x = torch.rand(64, 8).round()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(30):
        loss = -model.iwae(x, 5).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    for p in model.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all()
    with torch.no_grad():
        elbo = torch.stack([model.elbo(x).elbo.mean() for _ in range(50)]).mean()
        iwae50 = torch.stack([model.iwae(x, 50).mean() for _ in range(10)]).mean()
        ll = model.log_likelihood(x, 2000, chunk=256).mean()
    assert elbo < iwae50 < ll + 0.05


def test_images_are_flattened_and_validation() -> None:
    model = VAE(16, 2, hidden=(8,))
    assert model(torch.rand(3, 1, 4, 4)).shape == (3,)
    assert "z_dim=2" in repr(model)
    with pytest.raises(ValueError, match="z_dim"):
        VAE(16, 0)
    with pytest.raises(ValueError, match="likelihood"):
        VAE(16, 2, likelihood="poisson")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kl"):
        model.elbo(torch.rand(3, 16), kl="exact")  # type: ignore[arg-type]
