"""Noise schedules against diffusers' DDPMScheduler and their closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from replearn.diffusion.schedules import (
    NoiseSchedule,
    alpha_bar,
    cosine_betas,
    extract,
    linear_betas,
    posterior_variance,
)


@pytest.mark.parametrize(("kind", "name"), [("linear", "linear"), ("cosine", "squaredcos_cap_v2")])
@pytest.mark.parametrize("timesteps", [10, 1000])
def test_schedule_equals_diffusers(kind, name, timesteps):
    diffusers = pytest.importorskip("diffusers")
    ref = diffusers.DDPMScheduler(num_train_timesteps=timesteps, beta_schedule=name)
    ours = NoiseSchedule(timesteps, kind=kind, dtype=torch.float64)
    # diffusers builds its betas in float32: compare at float32 precision
    tol = {"rtol": 1e-5, "atol": 1e-7}
    torch.testing.assert_close(ours.betas, ref.betas.double(), **tol)
    torch.testing.assert_close(ours.alphas, ref.alphas.double(), **tol)
    torch.testing.assert_close(ours.alpha_bar, ref.alphas_cumprod.double(), **tol)
    ref_var = torch.stack([ref._get_variance(t) for t in range(timesteps)]).double()
    # diffusers clamps the variance at 1e-20 (t = 0 is exactly 0 here); its float32
    # 1 - alpha_bar_t / alpha_bar_{t-1} loses ~4 more digits on the cosine schedule
    var_tol = {"rtol": 1e-4, "atol": 1e-6}
    torch.testing.assert_close(ours.posterior_variance.clamp_min(1e-20), ref_var, **var_tol)


def test_cosine_alpha_bar_closed_form():
    T, s = 200, 0.008
    ab = alpha_bar(cosine_betas(T, max_beta=1.0))
    f = [math.cos((u / T + s) / (1 + s) * math.pi / 2) ** 2 for u in range(T + 1)]
    expected = torch.tensor([f[t + 1] / f[0] for t in range(T)], dtype=torch.float64)
    torch.testing.assert_close(ab[:-1], expected[:-1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_alpha_bar_decreases_from_one_to_zero(kind):
    s = NoiseSchedule(1000, kind=kind, dtype=torch.float64)
    assert (s.alpha_bar[1:] < s.alpha_bar[:-1]).all()
    assert s.alpha_bar[0] > 0.99 and s.alpha_bar[-1] < 1e-3
    assert s.posterior_variance[0] == 0
    assert (s.posterior_variance[1:] <= s.betas[1:]).all()  # tilde beta <= beta


def test_posterior_variance_formula():
    b = linear_betas(50, 1e-3, 0.1)
    ab = alpha_bar(b)
    t = 17
    expected = b[t] * (1 - ab[t - 1]) / (1 - ab[t])
    torch.testing.assert_close(posterior_variance(b)[t], expected)


def test_extract_and_validation():
    v = torch.arange(5.0)
    out = extract(v, torch.tensor([4, 0]), 4)
    assert out.shape == (2, 1, 1, 1) and out.flatten().tolist() == [4.0, 0.0]
    with pytest.raises(ValueError, match="timesteps"):
        linear_betas(0)
    with pytest.raises(ValueError, match="beta_start"):
        linear_betas(10, 0.1, 0.01)
    with pytest.raises(ValueError, match="kind"):
        NoiseSchedule(10, kind="quadratic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="t must be"):
        NoiseSchedule(10)(torch.tensor([10]))
    assert "timesteps=10" in repr(NoiseSchedule(10))
