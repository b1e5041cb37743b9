"""DDPM's forward process, posterior, loss, sampler and bound against closed forms and diffusers."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from replearn.diffusion.ddpm import (
    ancestral_sample,
    ancestral_step,
    discretized_gaussian_log_likelihood,
    gaussian_log_likelihood,
    l_simple,
    normal_kl,
    p_mean_from_eps,
    predict_x0_from_eps,
    q_posterior,
    q_sample,
    q_step,
    vlb_bits_per_dim,
    vlb_terms,
)
from replearn.diffusion.oracles import gaussian_eps_matrices, gaussian_optimal_eps
from replearn.diffusion.schedules import NoiseSchedule

F64 = torch.float64
MEAN = torch.tensor([1.0, -0.5], dtype=F64)
COV = torch.tensor([[1.5, 0.6], [0.6, 0.5]], dtype=F64)


def _gaussian(n: int, g: torch.Generator) -> torch.Tensor:
    return MEAN + torch.randn(n, 2, generator=g, dtype=F64) @ torch.linalg.cholesky(COV).T


def test_q_sample_moments_match_eq4():
    s = NoiseSchedule(1000, dtype=F64)
    g = torch.Generator().manual_seed(0)
    n, x0 = 200_000, torch.tensor([0.7, -1.3], dtype=F64)
    for t in (0, 250, 999):
        tt = torch.full((n,), t)
        x = q_sample(x0.expand(n, 2), tt, s.alpha_bar, torch.randn(n, 2, generator=g, dtype=F64))
        ab = s.alpha_bar[t]
        se = math.sqrt((1 - ab) / n)
        torch.testing.assert_close(x.mean(0), ab.sqrt() * x0, rtol=0, atol=5 * se)
        torch.testing.assert_close(x.var(0), (1 - ab).expand(2), rtol=0.02, atol=1e-6)


def test_sequential_forward_steps_have_the_marginal_of_eq4():
    s = NoiseSchedule(100, beta_end=0.05, dtype=F64)
    g = torch.Generator().manual_seed(1)
    n, x0 = 100_000, torch.tensor([2.0], dtype=F64)
    x = x0.expand(n, 1)
    for t in range(60):
        x = q_step(x, torch.full((n,), t), s.betas, torch.randn(n, 1, generator=g, dtype=F64))
    ab = s.alpha_bar[59]
    assert abs(float(x.mean()) - float(ab.sqrt() * 2.0)) < 5 * math.sqrt((1 - ab) / n)
    assert abs(float(x.var()) / float(1 - ab) - 1) < 0.02


def test_posterior_equals_gaussian_conditioning():
    """Eqs. (6)-(7) against conditioning the joint Gaussian of (x_{t-1}, x_t) given x0."""
    s = NoiseSchedule(50, beta_end=0.2, dtype=F64)
    x0 = torch.tensor([[0.4], [-1.1]], dtype=F64)
    xt = torch.tensor([[0.9], [0.2]], dtype=F64)
    for t in (1, 10, 49):
        ab_prev, ab, alpha = s.alpha_bar[t - 1], s.alpha_bar[t], s.alphas[t]
        m1, v1 = ab_prev.sqrt() * x0, 1 - ab_prev  # x_{t-1} | x0
        m2, v2 = ab.sqrt() * x0, 1 - ab  # x_t | x0
        c = alpha.sqrt() * v1  # Cov(x_{t-1}, x_t | x0)
        mean, var = q_posterior(x0, xt, torch.full((2,), t), s.betas, s.alpha_bar)
        torch.testing.assert_close(mean, m1 + c / v2 * (xt - m2), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(var.flatten(), (v1 - c**2 / v2).expand(2), rtol=1e-12, atol=0)


def test_posterior_moments_by_regression_on_samples():
    """Monte Carlo: regress x_{t-1} on x_t for pairs drawn forward; slope, intercept, residual."""
    s = NoiseSchedule(20, beta_end=0.3, dtype=F64)
    g = torch.Generator().manual_seed(2)
    n, t, x0 = 400_000, 7, torch.tensor([1.5], dtype=F64)
    xp = q_sample(
        x0.expand(n, 1),
        torch.full((n,), t - 1),
        s.alpha_bar,
        torch.randn(n, 1, generator=g, dtype=F64),
    )
    xt = q_step(xp, torch.full((n,), t), s.betas, torch.randn(n, 1, generator=g, dtype=F64))
    design = torch.cat([xt, torch.ones_like(xt)], 1)
    coef = torch.linalg.lstsq(design, xp).solution.flatten()
    resid_var = (xp - design @ coef[:, None]).var()
    ref_at_0, var = q_posterior(
        x0[None], torch.zeros(1, 1, dtype=F64), torch.tensor([t]), s.betas, s.alpha_bar
    )
    ref_at_1, _ = q_posterior(
        x0[None], torch.ones(1, 1, dtype=F64), torch.tensor([t]), s.betas, s.alpha_bar
    )
    assert abs(float(coef[0] - (ref_at_1 - ref_at_0))) < 0.01
    assert abs(float(coef[1] - ref_at_0)) < 0.01
    assert abs(float(resid_var / var) - 1) < 0.02


def test_eq11_equals_posterior_mean_of_predicted_x0():
    s = NoiseSchedule(30, dtype=F64)
    g = torch.Generator().manual_seed(3)
    xt, eps = torch.randn(5, 3, generator=g, dtype=F64), torch.randn(5, 3, generator=g, dtype=F64)
    t = torch.tensor([1, 5, 9, 20, 29])
    x0 = predict_x0_from_eps(xt, t, s.alpha_bar, eps)
    mean, _ = q_posterior(x0, xt, t, s.betas, s.alpha_bar)
    torch.testing.assert_close(
        mean, p_mean_from_eps(xt, t, s.betas, s.alpha_bar, eps), rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize("kind", ["linear", "cosine"])
@pytest.mark.parametrize("variance", ["small", "large"])
def test_ancestral_step_equals_diffusers(kind, variance):
    diffusers = pytest.importorskip("diffusers")
    T = 50
    ours = NoiseSchedule(T, kind=kind, dtype=F64)
    ref = diffusers.DDPMScheduler(
        num_train_timesteps=T,
        beta_schedule="linear" if kind == "linear" else "squaredcos_cap_v2",
        clip_sample=False,
        variance_type="fixed_small" if variance == "small" else "fixed_large",
    )
    # the same alpha_bar in float64 on both sides: this compares the step arithmetic
    ref.betas, ref.alphas, ref.alphas_cumprod = ours.betas, ours.alphas, ours.alpha_bar
    ref.one = torch.tensor(1.0, dtype=F64)
    g = torch.Generator().manual_seed(4)
    x, eps = (
        torch.randn(3, 1, 4, 4, generator=g, dtype=F64),
        torch.randn(3, 1, 4, 4, generator=g, dtype=F64),
    )
    for t in (T - 1, 17, 1, 0):
        expected = ref.step(eps, t, x, generator=torch.Generator().manual_seed(t)).prev_sample
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(t), dtype=F64)
        got = ancestral_step(x, t, eps, ours, noise, variance=variance)
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


class PerStepLinear(nn.Module):
    """eps = A_t x + b_t with free (A_t, b_t) per step: contains the Gaussian-data optimum."""

    def __init__(self, timesteps: int, dim: int) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.zeros(timesteps, dim, dim, dtype=F64))
        self.b = nn.Parameter(torch.zeros(timesteps, dim, dtype=F64))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (self.a[t] @ x[:, :, None]).squeeze(-1) + self.b[t]


def test_training_with_l_simple_converges_to_the_optimal_linear_eps():
    s = NoiseSchedule(8, beta_start=0.02, beta_end=0.5, dtype=F64)
    a_star, b_star = gaussian_eps_matrices(s.alpha_bar, MEAN, COV)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(5)
    model = PerStepLinear(8, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    for step in range(1500):
        if step == 1000:
            opt.param_groups[0]["lr"] = 0.003
        x0 = _gaussian(1024, g)
        t = torch.randint(0, 8, (1024,), generator=g)
        eps = torch.randn(1024, 2, generator=g, dtype=F64)
        loss = l_simple(model(q_sample(x0, t, s.alpha_bar, eps), t), eps)
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.testing.assert_close(model.a.detach(), a_star, rtol=0, atol=0.05)
    torch.testing.assert_close(model.b.detach(), b_star, rtol=0, atol=0.05)


def test_ancestral_sampling_with_the_optimal_eps_reproduces_the_data():
    s = NoiseSchedule(200, beta_end=0.1, dtype=F64)
    g = torch.Generator().manual_seed(6)
    x_T = torch.randn(20_000, 2, generator=g, dtype=F64)
    x = ancestral_sample(
        lambda x, t: gaussian_optimal_eps(x, t, s.alpha_bar, MEAN, COV), x_T, s, generator=g
    )
    torch.testing.assert_close(x.mean(0), MEAN, rtol=0, atol=0.04)
    torch.testing.assert_close(torch.cov(x.T), COV, rtol=0.05, atol=0.03)


def test_densities_and_kl_against_torch_distributions():
    from torch.distributions import Normal, kl_divergence

    g = torch.Generator().manual_seed(7)
    m1, m2 = torch.randn(10, generator=g, dtype=F64), torch.randn(10, generator=g, dtype=F64)
    v1, v2 = (
        torch.rand(10, generator=g, dtype=F64) + 0.1,
        torch.rand(10, generator=g, dtype=F64) + 0.1,
    )
    expected = kl_divergence(Normal(m1, v1.sqrt()), Normal(m2, v2.sqrt()))
    torch.testing.assert_close(normal_kl(m1, v1, m2, v2), expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(
        gaussian_log_likelihood(m1, m2, v2), Normal(m2, v2.sqrt()).log_prob(m1)
    )
    # discretized decoder (Eq. 13): bins sum to one, interior bin = CDF difference
    levels = torch.linspace(-1, 1, 256, dtype=F64)
    mean, var = torch.tensor(0.13, dtype=F64), torch.tensor(0.04, dtype=F64)
    logp = discretized_gaussian_log_likelihood(levels, mean, var)
    assert abs(float(logp.exp().sum()) - 1) < 1e-9
    d = Normal(mean, var.sqrt())
    x = levels[100]
    torch.testing.assert_close(logp[100], (d.cdf(x + 1 / 255) - d.cdf(x - 1 / 255)).log())


def test_vlb_bounds_the_exact_nll_of_gaussian_data():
    s = NoiseSchedule(1000, dtype=F64)
    g = torch.Generator().manual_seed(8)
    mu, cov = torch.tensor([0.3], dtype=F64), torch.tensor([[0.25]], dtype=F64)
    x0 = mu + 0.5 * torch.randn(1000, 1, generator=g, dtype=F64)
    a, b = gaussian_eps_matrices(s.alpha_bar, mu, cov)
    terms = vlb_terms(
        lambda x, t: (a[t] @ x[:, :, None]).squeeze(-1) + b[t],
        x0, s, decoder="gaussian", variance="large", generator=g,
    )  # fmt: skip
    assert terms.shape == (1001, 1000)
    bound = vlb_bits_per_dim(terms, 1)
    nll = -torch.distributions.Normal(0.3, 0.5).log_prob(x0[:, 0]) / math.log(2)
    gap = bound - nll
    se = float(gap.std() / math.sqrt(len(gap)))
    assert float(gap.mean()) > -3 * se  # a bound, up to Monte Carlo error
    assert float(gap.mean()) < 0.1  # and nearly tight with T = 1000 and the exact eps
