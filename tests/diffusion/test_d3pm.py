"""D3PM transitions, posteriors and sampling against closed forms and Bayes' rule."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from replearn.diffusion.d3pm import (
    D3PM,
    SequenceDenoiser,
    absorbing_transitions,
    cumulative_transitions,
    d3pm_q_posterior,
    d3pm_q_sample,
    uniform_transitions,
)
from replearn.diffusion.schedules import alpha_bar, cosine_betas

F64 = torch.float64


def test_cumulative_matrices_have_closed_forms():
    K, T = 5, 12
    betas = cosine_betas(T)
    ab = alpha_bar(betas)
    qb = cumulative_transitions(uniform_transitions(betas, K))
    eye, ones = torch.eye(K, dtype=F64), torch.ones(K, K, dtype=F64)
    for t in range(T):
        torch.testing.assert_close(qb[t], ab[t] * eye + (1 - ab[t]) * ones / K)
    abs_betas = 1.0 / (T - torch.arange(T, dtype=F64))
    qb = cumulative_transitions(absorbing_transitions(abs_betas, K))
    keep = torch.cumprod(1 - abs_betas, 0)
    mask = torch.zeros(K, K, dtype=F64)
    mask[:, -1] = 1
    for t in range(T):
        torch.testing.assert_close(
            qb[t], keep[t] * eye + (1 - keep[t]) * mask, rtol=1e-12, atol=1e-12
        )
    torch.testing.assert_close(qb[-1], mask)  # everything is [MASK] at the last step
    for q in (qb, uniform_transitions(betas, K)):
        torch.testing.assert_close(q.sum(-1), torch.ones(T, K, dtype=F64))


@pytest.mark.parametrize("kind", ["uniform", "absorbing"])
def test_posterior_equals_bayes_rule(kind):
    K, T = 4, 6
    betas = cosine_betas(T) if kind == "uniform" else 1.0 / (T - torch.arange(T, dtype=F64))
    q = uniform_transitions(betas, K) if kind == "uniform" else absorbing_transitions(betas, K)
    qb = cumulative_transitions(q)
    data = K if kind == "uniform" else K - 1
    for t in range(1, T):
        for x0 in range(data):
            for xt in range(K):
                if qb[t, x0, xt] == 0:
                    continue
                post = d3pm_q_posterior(
                    F.one_hot(torch.tensor([[x0]]), K).to(F64),
                    torch.tensor([[xt]]),
                    torch.tensor([t]),
                    q,
                    qb,
                )[0, 0]
                bayes = torch.stack(
                    [q[t, i, xt] * qb[t - 1, x0, i] / qb[t, x0, xt] for i in range(K)]
                )
                torch.testing.assert_close(post, bayes, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["uniform", "absorbing"])
def test_q_sample_frequencies_match_q_bar(kind):
    torch.manual_seed(0)
    net = SequenceDenoiser(num_classes=5, length=8, dim=8, depth=1, heads=2, timesteps=10)
    m = D3PM(net, num_classes=5, timesteps=10, kind=kind)
    n, x0, t = 20_000, 2, 4
    xt = d3pm_q_sample(
        torch.full((n, 8), x0), torch.full((n,), t), m.q_bar, torch.Generator().manual_seed(1)
    )
    freq = torch.bincount(xt.flatten(), minlength=5).double() / (n * 8)
    torch.testing.assert_close(freq, m.q_bar[t, x0].double(), rtol=0, atol=0.01)


@pytest.mark.parametrize("kind", ["uniform", "absorbing"])
def test_perfect_x0_predictor_has_zero_kl(kind):
    """With p(x0|x_t) one-hot at the truth, Eq. (4) is Eq. (3): the L_vb terms at t > 0 vanish."""

    class Oracle(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.x0: torch.Tensor | None = None

        def forward(self, x_t, t):
            return F.one_hot(self.x0, 5).float() * 60 - 30

    oracle = Oracle()
    m = D3PM(oracle, num_classes=5, timesteps=10, kind=kind)
    x0 = torch.randint(0, 4, (64, 6), generator=torch.Generator().manual_seed(2))
    oracle.x0 = x0
    vb, ce = m.loss_terms(x0, torch.randint(1, 10, (64,)))
    assert float(vb.abs().max()) < 1e-5 and float(ce.max()) < 1e-5


def test_training_and_sampling_run():
    torch.manual_seed(0)
    net = SequenceDenoiser(num_classes=3, length=6, dim=16, depth=1, heads=2, timesteps=8)
    m = D3PM(net, num_classes=3, timesteps=8, kind="absorbing")
    x0 = torch.tensor([[0, 1, 0, 1, 0, 1]]).repeat(64, 1)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    before = float(m.bits_per_token(x0).mean())
    for _ in range(150):
        loss = m(x0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = float(m.bits_per_token(x0).mean())
    assert after < before / 2
    samples = m.sample(16, 6, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (16, 6) and int(samples.max()) <= 1  # never [MASK] at the end
    assert float((samples == x0[:16]).float().mean()) > 0.9


def test_validation():
    net = SequenceDenoiser(num_classes=3, length=4, dim=8, depth=1, heads=2, timesteps=4)
    with pytest.raises(ValueError, match="kind"):
        D3PM(net, num_classes=3, timesteps=4, kind="gaussian")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_classes"):
        D3PM(net, num_classes=1, timesteps=4)
    with pytest.raises(ValueError, match="length"):
        net(torch.zeros(1, 5, dtype=torch.long), torch.zeros(1, dtype=torch.long))
    assert "absorbing" in repr(D3PM(net, num_classes=3, timesteps=4, kind="absorbing"))
