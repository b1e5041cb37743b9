"""The linear-Gaussian oracle: ELBO <= IWAE_k <= log p(x), exactly known log p(x) and ELBO gap.

Every bound is the code the VAEs train with (``LatentVariableModel``); only log p(x), p(z|x)
and KL(q || p(z|x)) come from closed forms. Float64 throughout; Monte-Carlo averages are
compared with tolerances of a few standard errors.
"""

from __future__ import annotations

import pytest
import torch

from replearn.vae.linear_gaussian import LinearGaussianVAE, gaussian_kl_full
from replearn.vae.objectives import log_normal_diag, log_standard_normal

F64 = torch.float64


def _model(perturb: float) -> tuple[LinearGaussianVAE, torch.Tensor]:
    torch.manual_seed(0)
    model = LinearGaussianVAE(6, 3, noise_std=0.7).double()
    with torch.no_grad():
        model.b.copy_(torch.randn(6, dtype=F64))
        model.optimal_encoder()
        model.A.mul_(1 + perturb * torch.randn_like(model.A))  # a sub-optimal encoder
        model.c.add_(perturb * torch.randn_like(model.c))
        model.log_var.add_(1.0)  # wider than p(z|x): importance weights of finite variance
    x = model.marginal().sample((4,))
    return model, x


def _mean_and_se(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return values.mean(0), values.std(0) / values.shape[0] ** 0.5


@torch.no_grad()
def test_exact_marginal_and_posterior_satisfy_bayes_rule() -> None:
    model, x = _model(0.3)
    mean, cov = model.exact_posterior(x)
    z = torch.randn(5, 4, 3, dtype=F64)
    log_post = torch.distributions.MultivariateNormal(mean, covariance_matrix=cov).log_prob(z)
    # log p(x) = log p(x|z) + log p(z) - log p(z|x) for every z
    bayes = model.log_px_given_z(x, z) + log_standard_normal(z) - log_post  # (5, 4)
    torch.testing.assert_close(
        bayes, model.exact_log_likelihood(x).expand(5, 4), rtol=0, atol=1e-10
    )


@torch.no_grad()
def test_kl_full_matches_torch_and_diagonal_case() -> None:
    g = torch.Generator().manual_seed(1)
    m0, m1 = torch.randn(2, 3, generator=g, dtype=F64), torch.randn(2, 3, generator=g, dtype=F64)
    a = torch.randn(3, 3, generator=g, dtype=F64)
    s1 = a @ a.T + torch.eye(3, dtype=F64)
    s0 = torch.diag_embed(torch.rand(2, 3, generator=g, dtype=F64) + 0.5)
    MVN = torch.distributions.MultivariateNormal
    want = torch.distributions.kl_divergence(MVN(m0, s0), MVN(m1, s1))
    torch.testing.assert_close(gaussian_kl_full(m0, s0, m1, s1), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kl", ["analytic", "mc"])
@torch.no_grad()
def test_elbo_gap_is_kl_to_the_true_posterior(kl: str) -> None:
    model, x = _model(0.3)
    reps = 20_000
    torch.manual_seed(2)
    terms = model.elbo(x.repeat(reps, 1), kl=kl).elbo.reshape(reps, -1)  # (reps, B)
    mean, se = _mean_and_se(terms)
    want = model.exact_log_likelihood(x) - model.elbo_gap(x)
    assert (model.elbo_gap(x) > 0.05).all()  # a real gap, not a trivially tight encoder
    assert ((mean - want).abs() < 4 * se + 1e-9).all(), (mean, want, se)


@torch.no_grad()
def test_iwae_bounds_are_ordered_increasing_in_k_and_converge() -> None:
    model, x = _model(0.3)
    log_px = model.exact_log_likelihood(x)
    torch.manual_seed(3)
    reps = 600
    xr = x.repeat(reps, 1)
    means, ses = [], []
    for k in (1, 2, 5, 20, 100, 300):
        m, s = _mean_and_se(model.iwae(xr, k).reshape(reps, -1))
        means.append(m)
        ses.append(s)
    for i in range(len(means)):
        assert (means[i] <= log_px + 4 * ses[i]).all()  # every bound below log p(x)
    for i in range(1, len(means)):  # non-decreasing in k (independent draws: 4 SE)
        tol = 4 * (ses[i] ** 2 + ses[i - 1] ** 2) ** 0.5
        assert (means[i] >= means[i - 1] - tol).all(), (i, means[i], means[i - 1])
    gap1, gap_last = log_px - means[0], log_px - means[-1]
    assert (gap1 > 0.05).all()
    assert (gap_last < 0.05 * gap1 + 4 * ses[-1]).all(), (gap1, gap_last)
    # the ELBO (k = 1 of the IWAE bound) agrees with the analytic-KL ELBO
    e = model.elbo(xr).elbo.reshape(reps, -1)
    em, es = _mean_and_se(e)
    assert ((em - means[0]).abs() < 4 * (es**2 + ses[0] ** 2) ** 0.5).all()


@torch.no_grad()
def test_importance_sampled_log_likelihood_with_5000_samples() -> None:
    model, x = _model(0.1)
    torch.manual_seed(4)
    est = model.log_likelihood(x, 5000, chunk=700)
    # delta-method standard error of log mean w: std(w) / (sqrt(k) mean(w))
    w = torch.exp(model.log_weights(x, 5000) - model.exact_log_likelihood(x))  # (k, B)
    se = w.std(0) / (w.mean(0) * 5000**0.5)
    err = (est - model.exact_log_likelihood(x)).abs()
    assert (err < 4 * se).all(), (err, se)
    assert (err < 0.05 * model.elbo_gap(x)).all()  # 5000 samples close >95% of the ELBO's gap


def test_log_q_of_samples_is_the_diagonal_gaussian_density() -> None:
    model, x = _model(0.3)
    z, log_q = model.sample_posterior(x, 3)
    mu, log_var = model.encode(x)
    torch.testing.assert_close(log_q, log_normal_diag(z, mu, log_var))


def test_validation() -> None:
    with pytest.raises(ValueError, match="x_dim"):
        LinearGaussianVAE(0, 2)
    with pytest.raises(ValueError, match="noise_std"):
        LinearGaussianVAE(3, 2, noise_std=0.0)
