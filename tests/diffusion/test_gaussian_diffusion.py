"""GaussianDiffusion: its loss, label dropout and samplers against the pure functions."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from replearn.diffusion.ddim import ddim_sample, ddim_timesteps
from replearn.diffusion.ddpm import ancestral_sample, l_simple, q_sample
from replearn.diffusion.denoisers import MLPDenoiser
from replearn.diffusion.gaussian_diffusion import GaussianDiffusion


class Recorder(nn.Module):
    """eps = 0.1 x + label-dependent shift; records the labels it is called with."""

    num_classes = 3

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(0.1))
        self.seen: list[torch.Tensor | None] = []

    def forward(self, x, t, y=None):
        self.seen.append(y)
        shift = 0.0 if y is None else (y.float() - 1.0)[:, None]
        return self.scale * x + 0.01 * shift


def test_loss_is_l_simple_of_the_same_draws():
    torch.manual_seed(0)
    diff = GaussianDiffusion(MLPDenoiser(dim=2, hidden=8, depth=1), timesteps=30)
    x0 = torch.randn(16, 2)
    torch.manual_seed(1)
    loss = diff(x0)
    torch.manual_seed(1)
    t = torch.randint(0, 30, (16,))
    noise = torch.randn_like(x0)
    expected = l_simple(diff.model(q_sample(x0, t, diff.schedule.alpha_bar, noise), t), noise)
    torch.testing.assert_close(loss, expected)


def test_label_dropout_reaches_the_network_as_null():
    torch.manual_seed(0)
    rec = Recorder()
    diff = GaussianDiffusion(rec, timesteps=10, p_uncond=0.5)
    diff(torch.randn(4000, 2), torch.randint(0, 3, (4000,)))
    y = rec.seen[-1]
    assert abs(float((y == 3).float().mean()) - 0.5) < 0.03
    with pytest.raises(ValueError, match="conditional"):
        GaussianDiffusion(MLPDenoiser(), p_uncond=0.1)


def test_samplers_equal_the_pure_functions():
    torch.manual_seed(0)
    diff = GaussianDiffusion(MLPDenoiser(dim=2, hidden=8, depth=1), timesteps=40)
    x_T = torch.randn(5, 2)

    def eps(x, t):
        return diff.model(x, t, None)

    got = diff.sample((5, 2), x_T=x_T, generator=torch.Generator().manual_seed(3))
    ref = ancestral_sample(eps, x_T, diff.schedule, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(got, ref)
    got = diff.sample((5, 2), x_T=x_T, steps=8, eta=0.5, generator=torch.Generator().manual_seed(4))
    ts = ddim_timesteps(40, 8)
    ref = ddim_sample(
        eps, x_T, diff.schedule.alpha_bar, ts, eta=0.5, generator=torch.Generator().manual_seed(4)
    )
    torch.testing.assert_close(got, ref)


def test_guidance_scale_endpoints():
    rec = Recorder()
    diff = GaussianDiffusion(rec, timesteps=20)
    x_T, y = torch.randn(4, 2), torch.tensor([0, 1, 2, 0])
    cond = diff.sample((4, 2), x_T=x_T, y=y, steps=5)
    torch.testing.assert_close(diff.sample((4, 2), x_T=x_T, y=y, steps=5, guidance_scale=1.0), cond)
    uncond = diff.sample((4, 2), x_T=x_T, y=torch.full((4,), 3), steps=5)
    torch.testing.assert_close(
        diff.sample((4, 2), x_T=x_T, y=y, steps=5, guidance_scale=0.0), uncond
    )
    w2 = diff.sample((4, 2), x_T=x_T, y=y, steps=5, guidance_scale=2.0)
    assert not torch.allclose(w2, cond)


def test_classifier_guidance_pushes_towards_the_class():
    """An unconditional model guided by a classifier of sign(x_0): samples move to class 1."""
    torch.manual_seed(0)
    diff = GaussianDiffusion(MLPDenoiser(dim=2, hidden=8, depth=1), timesteps=20)

    def classifier(x, t):  # class 1 on the right, class 0 on the left
        return torch.stack([-x[:, 0], x[:, 0]], -1) * 3

    x_T = torch.randn(200, 2, generator=torch.Generator().manual_seed(1))
    y = torch.ones(200, dtype=torch.long)
    plain = diff.sample((200, 2), x_T=x_T, steps=10)
    guided = diff.sample(
        (200, 2), x_T=x_T, y=y, steps=10, classifier=classifier, classifier_scale=2.0
    )
    assert float(guided[:, 0].mean()) > float(plain[:, 0].mean()) + 0.3
    torch.testing.assert_close(diff.sample((200, 2), x_T=x_T, y=y, steps=10), plain)
    with pytest.raises(ValueError, match="labels"):
        diff.sample((200, 2), x_T=x_T, steps=10, classifier=classifier)
