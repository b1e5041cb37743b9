"""REINFORCE and A2C losses: the two-armed bandit's closed-form gradient; masks; A2C terms."""

from __future__ import annotations

import torch

from replearn.rl.agents import ActorCritic
from replearn.rl.losses import entropy_bonus, value_loss
from replearn.rl.pg import a2c_loss, complete_episode_mask, pg_surrogate, reinforce_loss

F64 = torch.float64


def _bandit_grads(baseline: float | None, n: int = 20000, seed: int = 0):
    """Per-sample REINFORCE gradients on a bandit with pi = softmax(theta), r ~ N(mu_a, 1)."""
    g = torch.Generator().manual_seed(seed)
    theta = torch.tensor([0.3, -0.2], dtype=F64, requires_grad=True)
    mu = torch.tensor([1.0, 2.0], dtype=F64)
    pi = torch.softmax(theta, 0).detach()
    a = torch.multinomial(pi, n, replacement=True, generator=g)
    r = mu[a] + torch.randn(n, generator=g, dtype=F64)
    logp = torch.log_softmax(theta, 0)[a]
    b = None if baseline is None else torch.full((n,), baseline, dtype=F64)
    (grad,) = torch.autograd.grad(-reinforce_loss(logp, r, baseline=b), theta)
    # per-sample gradient of log pi(a) * psi: (onehot(a) - pi) * psi
    psi = r if baseline is None else r - baseline
    per = (torch.nn.functional.one_hot(a, 2).to(F64) - pi) * psi[:, None]
    torch.testing.assert_close(grad, per.mean(0), rtol=1e-10, atol=1e-12)
    exact = pi * (mu - (pi * mu).sum())  # grad of J = sum_a pi_a mu_a
    return per, exact


def test_reinforce_is_unbiased_and_a_baseline_reduces_its_variance():
    per, exact = _bandit_grads(None)
    per_b, _ = _bandit_grads(1.5)
    for p in (per, per_b):
        se = p.std(0) / p.shape[0] ** 0.5
        assert torch.all((p.mean(0) - exact).abs() < 4 * se), (p.mean(0), exact, se)
    assert per_b.var(0).sum() < 0.5 * per.var(0).sum()


def test_complete_episode_mask_by_hand():
    dones = torch.tensor([[0, 0], [1, 0], [0, 0], [0, 1], [0, 0]], dtype=F64)
    want = torch.tensor([[1, 1], [1, 1], [0, 1], [0, 1], [0, 0]], dtype=F64)
    torch.testing.assert_close(complete_episode_mask(dones), want)
    logp = torch.zeros(5, 2, dtype=F64)
    assert float(pg_surrogate(logp, torch.ones(5, 2, dtype=F64), mask=want)) == 0.0


def test_a2c_loss_is_the_sum_of_its_terms():
    torch.manual_seed(0)
    agent = ActorCritic(4, 3, hidden=(8,)).double()
    obs = torch.randn(6, 4, dtype=F64)
    actions = torch.randint(3, (6,))
    logp, logits, v = agent.evaluate_actions(obs, actions)
    adv, ret = torch.randn(6, dtype=F64), torch.randn(6, dtype=F64)
    loss, terms = a2c_loss(logp, logits, v, adv, ret, vf_coef=0.25, ent_coef=0.1)
    want = -(logp * adv).mean() + 0.25 * value_loss(v, ret) - 0.1 * entropy_bonus(logits)
    torch.testing.assert_close(loss, want, rtol=1e-12, atol=1e-12)
    assert set(terms) == {"policy_loss", "value_loss", "entropy"}
    loss.backward()
    assert all(p.grad is not None for p in agent.parameters())
