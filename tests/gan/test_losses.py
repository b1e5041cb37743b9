"""GAN losses vs BCE, the optimal discriminator and V(G, D*) = -log 4 + 2 JS, exact 1-D W1."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

from replearn.gan import losses as L


@pytest.fixture(autouse=True)
def _f64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _logits(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, generator=g) * 3, torch.randn(n, generator=g) * 3 - 1


def test_minimax_losses_are_bce():
    real, fake = _logits()
    ref = F.binary_cross_entropy_with_logits(
        real, torch.ones_like(real)
    ) + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    torch.testing.assert_close(L.discriminator_minimax_loss(real, fake), ref, rtol=1e-12, atol=0)
    d = torch.sigmoid(fake)
    torch.testing.assert_close(L.generator_saturating_loss(fake), torch.log(1 - d).mean())
    torch.testing.assert_close(L.generator_nonsaturating_loss(fake), -torch.log(d).mean())


def test_other_losses_closed_forms():
    real, fake = _logits(seed=1)
    torch.testing.assert_close(L.wasserstein_critic_loss(real, fake), fake.mean() - real.mean())
    torch.testing.assert_close(L.wasserstein_generator_loss(fake), -fake.mean())
    hinge = torch.clamp(1 - real, min=0).mean() + torch.clamp(1 + fake, min=0).mean()
    torch.testing.assert_close(L.discriminator_hinge_loss(real, fake), hinge)
    torch.testing.assert_close(L.generator_hinge_loss(fake), -fake.mean())
    ls = 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean()
    torch.testing.assert_close(L.discriminator_ls_loss(real, fake), ls)
    torch.testing.assert_close(L.generator_ls_loss(fake), 0.5 * ((fake - 1) ** 2).mean())
    for name in L.LOSSES:
        assert torch.isfinite(L.d_loss(name, real, fake)) and torch.isfinite(L.g_loss(name, fake))
    with pytest.raises(ValueError, match="unknown GAN loss"):
        L.d_loss("bce", real, fake)


def test_saturating_gradient_vanishes_nonsaturating_does_not():
    """d/dl of the saturating loss is -sigmoid(l) -> 0; non-saturating -(1 - sigmoid(l)) -> -1."""
    logits = torch.tensor([-20.0, -5.0, 0.0, 3.0], requires_grad=True)
    (g_sat,) = torch.autograd.grad(L.generator_saturating_loss(logits) * 4, logits)
    (g_ns,) = torch.autograd.grad(L.generator_nonsaturating_loss(logits) * 4, logits)
    torch.testing.assert_close(g_sat, -torch.sigmoid(logits.detach()))
    torch.testing.assert_close(g_ns, -(1 - torch.sigmoid(logits.detach())))
    assert abs(g_sat[0]) < 1e-8 and abs(g_ns[0] + 1) < 1e-8


@pytest.mark.parametrize("seed", range(5))
def test_optimal_discriminator_and_value(seed):
    rng = np.random.default_rng(seed)
    k = 12
    p = torch.from_numpy(rng.dirichlet(np.ones(k)))
    q = torch.from_numpy(rng.dirichlet(np.ones(k)))
    q[rng.integers(k)] = 0.0  # a zero-probability outcome
    q = q / q.sum()
    d_star = L.optimal_discriminator(p, q)
    v_star = L.gan_value(p, q, d_star)
    # Eq. (5) with scipy's JS distance (sqrt of the divergence, natural log)
    js = jensenshannon(p.numpy(), q.numpy()) ** 2
    assert float(v_star) == pytest.approx(-math.log(4) + 2 * js, rel=1e-10, abs=1e-12)
    assert float(L.js_divergence(p, q)) == pytest.approx(js, rel=1e-10)
    torch.testing.assert_close(v_star, L.minimax_value_at_optimum(p, q))
    # D* maximizes V: random perturbations never increase V
    for _ in range(20):
        d = (d_star + 0.05 * torch.from_numpy(rng.standard_normal(k))).clamp(1e-6, 1 - 1e-6)
        assert L.gan_value(p, q, d) <= v_star + 1e-12
    # at p_G = p_data: D* = 1/2 and V = -log 4
    torch.testing.assert_close(L.optimal_discriminator(p, p), torch.full((k,), 0.5))
    assert float(L.gan_value(p, p, torch.full((k,), 0.5))) == pytest.approx(-math.log(4))


def test_js_is_log2_on_disjoint_supports():
    p = torch.tensor([0.5, 0.5, 0.0, 0.0])
    q = torch.tensor([0.0, 0.0, 0.3, 0.7])
    assert float(L.js_divergence(p, q)) == pytest.approx(math.log(2), rel=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_wasserstein_1d_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    u, v = rng.standard_normal(30), rng.standard_normal(17) * 2 + 1
    uw, vw = rng.uniform(0.1, 1, 30), rng.uniform(0.1, 1, 17)
    got = L.wasserstein_1d(torch.from_numpy(u), torch.from_numpy(v))
    assert float(got) == pytest.approx(wasserstein_distance(u, v), rel=1e-10)
    got_w = L.wasserstein_1d(*(torch.from_numpy(a) for a in (u, v, uw, vw)))
    assert float(got_w) == pytest.approx(wasserstein_distance(u, v, uw, vw), rel=1e-10)


def test_wasserstein_1d_shift_gradient():
    """W1(P, P + theta) = |theta| with gradient sign(theta)."""
    x = torch.linspace(0, 1, 11)
    theta = torch.tensor(0.3, requires_grad=True)
    w = L.wasserstein_1d(x, x + theta)
    (g,) = torch.autograd.grad(w, theta)
    assert float(w.detach()) == pytest.approx(0.3, rel=1e-10)
    assert float(g) == pytest.approx(1.0, rel=1e-10)
