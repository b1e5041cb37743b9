"""Classifier-free and classifier guidance against exact Gaussian-mixture scores."""

from __future__ import annotations

import pytest
import torch

from replearn.diffusion.guidance import (
    NoisyClassifier,
    cfg_eps,
    classifier_guided_eps,
    classifier_log_prob_grad,
    drop_labels,
)
from replearn.diffusion.oracles import gaussian_log_prob, gaussian_optimal_eps
from replearn.diffusion.schedules import NoiseSchedule

F64 = torch.float64


def test_drop_labels_rate_and_null_label():
    y = torch.randint(0, 10, (100_000,), generator=torch.Generator().manual_seed(0))
    out = drop_labels(y, 0.2, 10, generator=torch.Generator().manual_seed(1))
    dropped = out == 10
    assert abs(float(dropped.float().mean()) - 0.2) < 0.005
    assert torch.equal(out[~dropped], y[~dropped])
    assert torch.equal(drop_labels(y, 0.0, 10), y)
    with pytest.raises(ValueError, match="p_uncond"):
        drop_labels(y, 1.5, 10)


def test_cfg_eps_endpoints_and_linearity():
    g = torch.Generator().manual_seed(2)
    c, u = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    torch.testing.assert_close(cfg_eps(c, u, 0.0), u)
    torch.testing.assert_close(cfg_eps(c, u, 1.0), c)
    torch.testing.assert_close(cfg_eps(c, u, 3.0), u + 3.0 * (c - u))  # Eq. (6)
    torch.testing.assert_close(cfg_eps(c, u, 3.0) - cfg_eps(c, u, 2.0), c - u)


def _two_class_mixture():
    means = torch.tensor([[2.0, 0.0], [-2.0, 1.0]], dtype=F64)
    cov = torch.tensor([[0.3, 0.1], [0.1, 0.4]], dtype=F64)
    return means, cov


def test_classifier_guidance_with_the_exact_classifier_gives_the_conditional_eps():
    """eps(x_t) - sqrt(1 - ab) grad log p(y|x_t) = eps(x_t | y) for an equal 2-component mixture."""
    s = NoiseSchedule(100, dtype=F64)
    means, cov = _two_class_mixture()
    g = torch.Generator().manual_seed(3)
    x = torch.randn(16, 2, generator=g, dtype=F64) * 2
    t = torch.randint(0, 100, (16,), generator=g)
    y = torch.randint(0, 2, (16,), generator=g)

    def log_q_components(xt, tt):  # (B, 2)
        return torch.stack([gaussian_log_prob(xt, tt, s.alpha_bar, m, cov) for m in means], -1)

    def classifier(xt, tt):  # logits of the Bayes classifier (equal priors)
        return log_q_components(xt, tt)

    # unconditional eps = -sqrt(1 - ab) grad log q(x_t) of the mixture
    with torch.enable_grad():
        xr = x.clone().requires_grad_(True)
        (grad_mix,) = torch.autograd.grad(torch.logsumexp(log_q_components(xr, t), -1).sum(), xr)
    sigma = (1 - s.alpha_bar[t]).sqrt()[:, None]
    eps_uncond = -sigma * grad_mix
    grad = classifier_log_prob_grad(classifier, x, t, y)
    guided = classifier_guided_eps(eps_uncond, grad, t, s.alpha_bar, 1.0)
    expected = torch.stack(
        [
            gaussian_optimal_eps(x[i : i + 1], t[i : i + 1], s.alpha_bar, means[y[i]], cov)[0]
            for i in range(16)
        ]
    )
    torch.testing.assert_close(guided, expected, rtol=1e-8, atol=1e-10)


def test_classifier_gradient_against_finite_differences():
    torch.manual_seed(0)
    clf = NoisyClassifier(in_features=3, num_classes=4, hidden=8, timesteps=5).double()
    x = torch.randn(2, 3, dtype=F64)
    t, y = torch.tensor([1, 4]), torch.tensor([3, 0])
    grad = classifier_log_prob_grad(clf, x, t, y)
    h = 1e-6
    for i in range(3):
        d = torch.zeros_like(x)
        d[:, i] = h
        lp = [torch.log_softmax(clf(x + s * d, t), -1).gather(1, y[:, None])[:, 0] for s in (1, -1)]
        torch.testing.assert_close(grad[:, i], (lp[0] - lp[1]) / (2 * h), rtol=1e-5, atol=1e-7)


def test_noisy_classifier_shapes_and_validation():
    clf = NoisyClassifier(in_features=64, num_classes=10, timesteps=100)
    assert clf(torch.randn(3, 1, 8, 8), torch.tensor([0, 50, 99])).shape == (3, 10)
    assert "num_classes=10" in repr(clf)
    with pytest.raises(ValueError, match="timesteps"):
        NoisyClassifier(in_features=4, num_classes=2, timesteps=0)
