"""Bradley-Terry: recovery of synthetic utilities, the loss by hand, the reward model's head."""

from __future__ import annotations

import math

import pytest
import torch

from replearn.rlhf.reward_model import (
    RewardModel,
    bradley_terry_loss,
    preference_probability,
)
from replearn.transformer.gpt.model import GPT, GPTConfig


def _spearman(a, b):
    ra, rb = a.argsort().argsort().double(), b.argsort().argsort().double()
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()))


def _comparisons(u, n, temperature, seed):
    g = torch.Generator().manual_seed(seed)
    i = torch.randint(0, u.numel(), (n,), generator=g)
    j = (i + torch.randint(1, u.numel(), (n,), generator=g)) % u.numel()
    i_wins = torch.rand(n, generator=g, dtype=torch.float64) < torch.sigmoid(
        (u[i] - u[j]) / temperature
    )
    return torch.where(i_wins, i, j), torch.where(i_wins, j, i)


def _fit_scores(w, lo, n_items, *, l2=1e-4):
    s = torch.zeros(n_items, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([s], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = bradley_terry_loss(s[w], s[lo], l2=l2)
        loss.backward()
        return loss

    opt.step(closure)
    return s.detach()


def test_bradley_terry_recovers_utilities():
    g = torch.Generator().manual_seed(0)
    u = 2.0 * torch.randn(30, generator=g, dtype=torch.float64)
    w, lo = _comparisons(u, 8000, 1.0, seed=1)
    s = _fit_scores(w, lo, 30)
    assert _spearman(s, u) >= 0.95
    # and the scale: with the true temperature the fitted gaps match the true ones
    slope = float(((s - s.mean()) * (u - u.mean())).sum() / (u - u.mean()).square().sum())
    assert slope == pytest.approx(1.0, abs=0.15)
    few = _fit_scores(*_comparisons(u, 60, 1.0, seed=2), 30)
    assert _spearman(few, u) < _spearman(s, u)  # fewer comparisons, a worse ranking


def test_learned_temperature_recovers_the_annotator_noise():
    g = torch.Generator().manual_seed(3)
    u = torch.randn(40, generator=g, dtype=torch.float64)
    w, lo = _comparisons(u, 20_000, 2.0, seed=4)  # annotator temperature 2
    log_tau = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_tau], max_iter=100, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = bradley_terry_loss(u[w], u[lo], log_tau.exp())
        loss.backward()
        return loss

    opt.step(closure)
    assert float(log_tau.detach().exp()) == pytest.approx(2.0, rel=0.1)


def test_loss_and_gradient_by_hand():
    r_w = torch.tensor([1.0, 0.0, -2.0], dtype=torch.float64, requires_grad=True)
    r_l = torch.tensor([0.0, 1.0, -1.0], dtype=torch.float64)
    tau, lam = 0.5, 0.1
    loss = bradley_terry_loss(r_w, r_l, tau, l2=lam)
    d = [2.0, -2.0, -2.0]  # (r_w - r_l) / tau
    nll = sum(math.log1p(math.exp(-x)) for x in d) / 3
    pen = lam * (1 + 0 + 4 + 0 + 1 + 1) / 3
    assert loss.item() == pytest.approx(nll + pen, rel=1e-14)
    loss.backward()
    want = [
        (-1 / (1 + math.exp(x)) / tau + 2 * lam * rw) / 3
        for x, rw in zip(d, [1.0, 0.0, -2.0], strict=True)
    ]
    torch.testing.assert_close(r_w.grad, torch.tensor(want, dtype=torch.float64), rtol=1e-12,
                               atol=1e-14)  # fmt: skip
    p = preference_probability(r_w.detach(), r_l, tau)
    torch.testing.assert_close(p, torch.sigmoid(torch.tensor(d, dtype=torch.float64)))
    with pytest.raises(ValueError):
        bradley_terry_loss(r_w, r_l, l2=-1.0)


def test_reward_model_reads_the_last_token_only():
    torch.manual_seed(0)
    rm = RewardModel(GPT(GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=8, vocab_size=7)))
    x = torch.randint(0, 7, (4, 8))
    last = torch.tensor([3, 7, 5, 2])
    r = rm(x, last)
    y = x.clone()
    for i, t in enumerate(last.tolist()):
        y[i, t + 1 :] = (y[i, t + 1 :] + 1) % 7  # change everything after the last token
    torch.testing.assert_close(rm(y, last), r)
    assert rm(x).shape == (4,)
    loss, acc = rm.loss(x[:2], x[2:], l2=0.01)
    loss.backward()
    assert rm.head.weight.grad is not None and rm.log_tau.grad is not None
    assert 0.0 <= float(acc) <= 1.0
    assert float(RewardModel(rm.backbone, tau=2.0).tau.detach()) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        RewardModel(rm.backbone, tau=0.0)
