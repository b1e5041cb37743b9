"""GRPO: group-relative advantages and the clipped objective with the k3 KL, by hand."""

from __future__ import annotations

import math

import pytest
import torch

from replearn.rlhf.grpo import group_relative_advantages, grpo_loss


def test_group_relative_advantages_by_hand():
    r = torch.tensor([1.0, 0.0, 0.0, 1.0, 3.0, 3.0, 3.0, 3.0], dtype=torch.float64)
    adv = group_relative_advantages(r, 4)
    std = math.sqrt(1 / 3)  # unbiased std of (1, 0, 0, 1)
    want = [0.5 / (std + 1e-4), -0.5 / (std + 1e-4)] * 2
    torch.testing.assert_close(adv[:4], torch.tensor(want[:1] + want[1:2] * 2 + want[:1],
                               dtype=torch.float64), rtol=1e-12, atol=0)  # fmt: skip
    assert adv[4:].abs().max() == 0  # identical rewards: no signal
    torch.testing.assert_close(
        group_relative_advantages(r, 4, scale_rewards=False)[:4],
        torch.tensor([0.5, -0.5, -0.5, 0.5], dtype=torch.float64),
    )
    with pytest.raises(ValueError):
        group_relative_advantages(r, 3)


def test_grpo_loss_by_hand():
    lp = torch.tensor([[-1.0, -0.5, -2.0], [-0.2, -0.1, -0.3]], dtype=torch.float64)
    old = torch.tensor([[-1.0, -0.9, -2.0], [-0.2, -0.1, -0.3]], dtype=torch.float64)
    ref = torch.tensor([[-1.2, -0.5, -1.0], [-0.2, -0.4, -0.3]], dtype=torch.float64)
    adv = torch.tensor([1.0, -2.0], dtype=torch.float64)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.float64)
    eps, beta = 0.2, 0.1
    loss, stats = grpo_loss(lp, old, ref, adv, mask, clip_eps=eps, beta=beta)
    total, kls, n, clipped = 0.0, 0.0, 0, 0
    for i in range(2):
        s, m = 0.0, 0
        for t in range(3):
            if not mask[i, t]:
                continue
            ratio = math.exp(lp[i, t] - old[i, t])
            a = float(adv[i])
            surr = min(ratio * a, min(max(ratio, 1 - eps), 1 + eps) * a)
            rho = math.exp(ref[i, t] - lp[i, t])
            kl = rho - math.log(rho) - 1
            s += surr - beta * kl
            m += 1
            kls += kl
            n += 1
            clipped += abs(ratio - 1) > eps
        total += s / m
    assert loss.item() == pytest.approx(-total / 2, rel=1e-12)
    assert stats["kl"].item() == pytest.approx(kls / n, rel=1e-12)
    assert stats["clip_fraction"].item() == pytest.approx(clipped / n)
    tok, _ = grpo_loss(lp, old, ref, adv, mask, clip_eps=eps, beta=0.0, length_norm="token")
    assert torch.isfinite(tok)
    with pytest.raises(ValueError):
        grpo_loss(lp, old, ref, adv, mask, clip_eps=0.0)


def test_on_policy_gradient_is_reinforce_with_group_baseline():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 3, 5, generator=g, dtype=torch.float64, requires_grad=True)
    tokens = torch.randint(0, 5, (4, 3), generator=g)
    mask = torch.ones(4, 3, dtype=torch.float64)
    r = torch.tensor([1.0, 0.0, 1.0, 1.0], dtype=torch.float64)
    adv = group_relative_advantages(r, 4)
    lp = torch.log_softmax(logits, -1).gather(-1, tokens[..., None]).squeeze(-1)
    loss, _ = grpo_loss(lp, lp.detach(), lp.detach(), adv, mask, beta=0.04)
    (g1,) = torch.autograd.grad(loss, logits, retain_graph=True)
    pg = -(adv[:, None] * lp).sum(1).div(3).mean()  # REINFORCE, baseline = group mean
    (g2,) = torch.autograd.grad(pg, logits)
    torch.testing.assert_close(g1, g2, rtol=1e-12, atol=1e-14)  # k3's gradient is 0 at p = q
