"""DDIM against diffusers' DDIMScheduler, DDPM ancestral sampling and Gaussian-data oracles."""

from __future__ import annotations

import pytest
import torch

from replearn.diffusion.ddim import ddim_invert, ddim_sample, ddim_sigma, ddim_step, ddim_timesteps
from replearn.diffusion.ddpm import ancestral_sample, ancestral_step
from replearn.diffusion.oracles import gaussian_eps_matrices, gaussian_optimal_eps
from replearn.diffusion.schedules import NoiseSchedule

F64 = torch.float64
MEAN = torch.tensor([1.0, -0.5], dtype=F64)
COV = torch.tensor([[1.5, 0.6], [0.6, 0.5]], dtype=F64)


@pytest.mark.parametrize("spacing", ["leading", "trailing", "linspace"])
@pytest.mark.parametrize(("T", "n"), [(1000, 50), (1000, 7), (100, 100), (30, 4)])
def test_timesteps_equal_diffusers(spacing, T, n):
    diffusers = pytest.importorskip("diffusers")
    ref = diffusers.DDIMScheduler(num_train_timesteps=T, timestep_spacing=spacing)
    ref.set_timesteps(n)
    assert ddim_timesteps(T, n, spacing) == ref.timesteps.tolist()


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_step_equals_diffusers(eta):
    diffusers = pytest.importorskip("diffusers")
    T, n = 1000, 20
    ours = NoiseSchedule(T, dtype=F64)
    ref = diffusers.DDIMScheduler(num_train_timesteps=T, clip_sample=False)
    ref.alphas_cumprod = ours.alpha_bar  # float64 on both sides: compares the arithmetic
    ref.final_alpha_cumprod = torch.tensor(1.0, dtype=F64)
    ref.set_timesteps(n)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 1, 4, 4, generator=g, dtype=F64)
    ts = ddim_timesteps(T, n)
    for i, t in enumerate(ts):
        eps = torch.randn(x.shape, generator=g, dtype=F64)
        noise = torch.randn(x.shape, generator=g, dtype=F64)
        expected = ref.step(eps, t, x, eta=eta, variance_noise=noise).prev_sample
        ab_s = ours.alpha_bar[ts[i + 1]] if i + 1 < len(ts) else torch.tensor(1.0, dtype=F64)
        got = ddim_step(x, eps, ours.alpha_bar[t], ab_s, eta=eta, noise=noise)
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)
        x = got


def test_eta_one_with_every_step_is_the_ddpm_ancestral_step():
    s = NoiseSchedule(100, dtype=F64)
    g = torch.Generator().manual_seed(1)
    x, eps, z = (torch.randn(4, 3, generator=g, dtype=F64) for _ in range(3))
    for t in (99, 50, 1):
        ab_t, ab_s = s.alpha_bar[t], s.alpha_bar[t - 1]
        torch.testing.assert_close(ddim_sigma(ab_t, ab_s, 1.0) ** 2, s.posterior_variance[t])
        got = ddim_step(x, eps, ab_t, ab_s, eta=1.0, noise=z)
        torch.testing.assert_close(got, ancestral_step(x, t, eps, s, z), rtol=1e-10, atol=1e-12)
    # the last step (to alpha_bar = 1) is deterministic and returns the predicted x0
    last = ddim_step(x, eps, s.alpha_bar[0], torch.tensor(1.0, dtype=F64), eta=1.0, noise=z)
    torch.testing.assert_close(last, ancestral_step(x, 0, eps, s, z))


def _oracle(s: NoiseSchedule):
    a, b = gaussian_eps_matrices(s.alpha_bar, MEAN, COV)  # Eq. (1) of oracles, once
    return lambda x, t: (a[t] @ x[:, :, None]).squeeze(-1) + b[t]


def test_precomputed_oracle_equals_gaussian_optimal_eps():
    s = NoiseSchedule(50, dtype=F64)
    x, t = torch.randn(7, 2, dtype=F64), torch.randint(0, 50, (7,))
    expected = gaussian_optimal_eps(x, t, s.alpha_bar, MEAN, COV)
    torch.testing.assert_close(_oracle(s)(x, t), expected)


@pytest.mark.parametrize(("eta", "steps"), [(0.0, 100), (1.0, 200), (0.0, 200)])
def test_ddim_samples_have_the_data_distribution(eta, steps):
    """Same marginals: DDIM (deterministic or not) with the exact eps recovers N(mean, cov)."""
    s = NoiseSchedule(200, beta_end=0.1, dtype=F64)
    g = torch.Generator().manual_seed(2)
    x_T = torch.randn(20_000, 2, generator=g, dtype=F64)
    x = ddim_sample(_oracle(s), x_T, s.alpha_bar, ddim_timesteps(200, steps), eta=eta, generator=g)
    torch.testing.assert_close(x.mean(0), MEAN, rtol=0, atol=0.04)
    torch.testing.assert_close(torch.cov(x.T), COV, rtol=0.06, atol=0.04)


def test_eta_one_matches_ddpm_ancestral_in_distribution():
    s = NoiseSchedule(200, beta_end=0.1, dtype=F64)
    g = torch.Generator().manual_seed(3)
    a = ancestral_sample(_oracle(s), torch.randn(20_000, 2, generator=g, dtype=F64), s, generator=g)
    b = ddim_sample(_oracle(s), torch.randn(20_000, 2, generator=g, dtype=F64), s.alpha_bar,
                    ddim_timesteps(200, 200), eta=1.0, generator=g)  # fmt: skip
    torch.testing.assert_close(a.mean(0), b.mean(0), rtol=0, atol=0.05)
    torch.testing.assert_close(torch.cov(a.T), torch.cov(b.T), rtol=0.06, atol=0.04)


def test_inversion_then_sampling_reconstructs_the_input():
    s = NoiseSchedule(1000, dtype=F64)
    g = torch.Generator().manual_seed(4)
    x0 = MEAN + torch.randn(256, 2, generator=g, dtype=F64) @ torch.linalg.cholesky(COV).T
    errors = []
    for steps in (10, 100, 1000):
        ts = ddim_timesteps(1000, steps)
        latent = ddim_invert(_oracle(s), x0, s.alpha_bar, ts)
        back = ddim_sample(_oracle(s), latent, s.alpha_bar, ts, eta=0.0)
        errors.append(float((back - x0).abs().max()))
    # the Euler steps of the ODE make an error that vanishes with the step size
    # (measured: 1.02, 0.12, 0.012)
    assert errors[2] < 0.03 and errors[2] < errors[1] < errors[0]
    assert abs(float(latent.std()) - 1) < 0.05  # latents ~ N(0, I), the marginal at T


def test_few_deterministic_steps_shrink_the_variance():
    """Fewer DDIM steps (eta = 0): the sample covariance shrinks towards the data's from
    below as the steps grow (measured 1.05, 1.24, 1.42, 1.45 for Sigma_11 = 1.5)."""
    s = NoiseSchedule(200, beta_end=0.1, dtype=F64)
    x_T = torch.randn(20_000, 2, generator=torch.Generator().manual_seed(5), dtype=F64)
    var = [
        float(torch.cov(ddim_sample(_oracle(s), x_T, s.alpha_bar, ddim_timesteps(200, n)).T)[0, 0])
        for n in (10, 20, 100, 200)
    ]
    assert var == sorted(var) and var[-1] < 1.5 * 1.02


def test_validation():
    with pytest.raises(ValueError, match="steps"):
        ddim_timesteps(10, 11)
    with pytest.raises(ValueError, match="spacing"):
        ddim_timesteps(10, 2, "cubic")  # type: ignore[arg-type]
    x = torch.zeros(1, 2)
    with pytest.raises(ValueError, match="noise"):
        ddim_step(x, x, torch.tensor(0.5), torch.tensor(0.9), eta=1.0)
    with pytest.raises(ValueError, match="eta"):
        ddim_sample(lambda x, t: x, x, torch.ones(3), [2, 1, 0], eta=-1.0)
