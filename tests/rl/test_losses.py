"""Returns, GAE and the PPO losses against direct formulas and hand-computed values (float64)."""

from __future__ import annotations

import math

import pytest
import torch

from replearn.rl.losses import (
    approx_kl,
    clip_fraction,
    clipped_surrogate,
    discounted_returns,
    entropy_bonus,
    gae_advantages,
    masked_mean,
    policy_loss,
    value_loss,
)

F64 = torch.float64


def _random_rollout(T: int = 17, N: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    rewards = torch.randn(T, N, generator=g, dtype=F64)
    values = torch.randn(T, N, generator=g, dtype=F64)
    dones = (torch.rand(T, N, generator=g) < 0.2).to(F64)
    last_value = torch.randn(N, generator=g, dtype=F64)
    return rewards, values, dones, last_value


def _direct_returns(rewards, dones, gamma, last_value):
    """G_t = sum_{k=t}^{end of episode} gamma^{k-t} r_k (+ gamma^{T-t} V_T if not ended)."""
    T, N = rewards.shape
    out = torch.zeros_like(rewards)
    for n in range(N):
        for t in range(T):
            g, disc = 0.0, 1.0
            k = t
            while True:
                g += disc * float(rewards[k, n])
                if dones[k, n] or k == T - 1:
                    break
                disc *= gamma
                k += 1
            if not dones[k, n]:  # ran off the rollout: bootstrap
                g += disc * gamma * float(last_value[n])
            out[t, n] = g
    return out


def _direct_gae(rewards, values, dones, last_value, gamma, lam):
    """A_t = sum_l (gamma lam)^l delta_{t+l}, stopping at the end of the episode."""
    T, N = rewards.shape
    next_values = torch.cat([values[1:], last_value[None]], 0)
    deltas = rewards + gamma * (1 - dones) * next_values - values
    out = torch.zeros_like(rewards)
    for n in range(N):
        for t in range(T):
            a, w = 0.0, 1.0
            for k in range(t, T):
                a += w * float(deltas[k, n])
                if dones[k, n]:
                    break
                w *= gamma * lam
            out[t, n] = a
    return out


@pytest.mark.parametrize("gamma", [0.0, 0.9, 0.99, 1.0])
def test_discounted_returns_match_the_direct_sum(gamma):
    rewards, _, dones, last_value = _random_rollout()
    got = discounted_returns(rewards, dones, gamma, last_value)
    want = _direct_returns(rewards, dones, gamma, last_value)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_discounted_returns_by_hand():
    rewards = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=F64)
    dones = torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=F64)
    got = discounted_returns(rewards, dones, 0.5, torch.tensor(8.0, dtype=F64))
    # episode 1: G1 = 2, G0 = 1 + 0.5*2 = 2; episode 2: G3 = 4 + 0.5*8 = 8, G2 = 3 + 0.5*8 = 7
    torch.testing.assert_close(got, torch.tensor([2.0, 2.0, 7.0, 8.0], dtype=F64))


@pytest.mark.parametrize(("gamma", "lam"), [(0.99, 0.95), (0.9, 0.0), (0.9, 1.0), (1.0, 0.5)])
def test_gae_matches_the_direct_discounted_sum(gamma, lam):
    rewards, values, dones, last_value = _random_rollout(seed=1)
    got = gae_advantages(rewards, values, dones, last_value, gamma, lam)
    want = _direct_gae(rewards, values, dones, last_value, gamma, lam)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_gae_lambda_one_is_return_minus_baseline_and_zero_is_td_error():
    rewards, values, dones, last_value = _random_rollout(seed=2)
    gamma = 0.97
    a1 = gae_advantages(rewards, values, dones, last_value, gamma, 1.0)
    torch.testing.assert_close(
        a1, discounted_returns(rewards, dones, gamma, last_value) - values, rtol=0, atol=1e-12
    )
    a0 = gae_advantages(rewards, values, dones, last_value, gamma, 0.0)
    next_values = torch.cat([values[1:], last_value[None]], 0)
    torch.testing.assert_close(
        a0, rewards + gamma * (1 - dones) * next_values - values, rtol=0, atol=1e-12
    )


def test_time_major_shapes_are_checked():
    with pytest.raises(ValueError, match="last_value"):
        gae_advantages(
            torch.zeros(4, 2), torch.zeros(4, 2), torch.zeros(4, 2), torch.zeros(3), 1, 1
        )
    with pytest.raises(ValueError, match="dones"):
        discounted_returns(torch.zeros(4, 2), torch.zeros(4, 3), 0.9, torch.zeros(2))


def test_clipped_surrogate_hand_values_and_boundaries():
    clip = 0.2
    ratio = torch.tensor([1.0, 1.1, 1.5, 0.5, 1.5, 0.5, 1.2, 0.8, 0.9], dtype=F64)
    adv = torch.tensor([2.0, 2.0, 2.0, 2.0, -1.0, -1.0, 3.0, -3.0, -1.0], dtype=F64)
    # min(r A, clip(r) A):
    want = torch.tensor(
        [
            2.0,  # r = 1: r A
            2.2,  # inside the band
            2.4,  # r > 1 + eps, A > 0: clipped to 1.2 * 2
            1.0,  # r < 1 - eps, A > 0: unclipped r A = 1.0 (the pessimistic min)
            -1.5,  # r > 1 + eps, A < 0: unclipped r A = -1.5
            -0.8,  # r < 1 - eps, A < 0: clipped to 0.8 * -1
            3.6,  # exactly at 1 + eps
            -2.4,  # exactly at 1 - eps
            -0.9,  # inside
        ],
        dtype=F64,
    )
    logp_old = torch.full_like(ratio, -1.3)
    logp_new = (logp_old + ratio.log()).requires_grad_(True)
    per = clipped_surrogate(logp_new, logp_old, adv, clip, reduction="none")
    torch.testing.assert_close(per, want, rtol=1e-12, atol=1e-12)
    mean = clipped_surrogate(logp_new, logp_old, adv, clip)
    torch.testing.assert_close(mean, want.mean(), rtol=1e-12, atol=1e-12)
    # gradient d/dlogp of r A is r A where unclipped, 0 where the clipped branch is active
    (grad,) = torch.autograd.grad(per.sum(), logp_new)
    clipped_away = torch.tensor([0, 0, 1, 0, 0, 1, 0, 0, 0], dtype=torch.bool)
    assert torch.all(grad[clipped_away] == 0)
    torch.testing.assert_close(
        grad[~clipped_away], (ratio * adv)[~clipped_away], rtol=1e-12, atol=1e-12
    )
    torch.testing.assert_close(
        policy_loss(logp_new, logp_old, adv, clip), -want.mean(), rtol=1e-12, atol=1e-12
    )
    torch.testing.assert_close(
        policy_loss(logp_new, logp_old, adv, None), -(ratio * adv).mean(), rtol=1e-12, atol=1e-12
    )
    # 1.5, 0.5, 1.5, 0.5 are outside; 1.2 and 0.8 sit on the boundary (inside up to rounding)
    frac = clip_fraction(logp_new, logp_old, clip)
    assert 4 / 9 <= float(frac) <= 6 / 9


def test_clipped_surrogate_with_mask_and_bad_clip():
    logp_old = torch.zeros(4, dtype=F64)
    logp_new = torch.log(torch.tensor([1.0, 2.0, 1.0, 1.0], dtype=F64))
    adv = torch.tensor([1.0, 1.0, 3.0, 5.0], dtype=F64)
    mask = torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=F64)
    got = clipped_surrogate(logp_new, logp_old, adv, 0.1, mask=mask)
    torch.testing.assert_close(got, torch.tensor((1.0 + 1.1 + 3.0) / 3, dtype=F64))
    with pytest.raises(ValueError, match="clip"):
        clipped_surrogate(logp_new, logp_old, adv, 0.0)


def test_value_loss_plain_and_clipped_by_hand():
    v = torch.tensor([1.0, 2.0, 0.0], dtype=F64)
    r = torch.tensor([0.0, 0.0, 1.0], dtype=F64)
    torch.testing.assert_close(value_loss(v, r), torch.tensor(0.5 * (1 + 4 + 1) / 3, dtype=F64))
    old = torch.tensor([0.5, 0.0, 0.5], dtype=F64)
    # clipped values with eps = 0.2: [0.7, 0.2, 0.3]; squared errors [0.49, 0.04, 0.49]
    # max with unclipped [1, 4, 1] -> [1, 4, 1]; a case where the clipped error is larger:
    v2 = torch.tensor([0.9], dtype=F64)
    old2 = torch.tensor([0.0], dtype=F64)
    r2 = torch.tensor([1.0], dtype=F64)
    # unclipped (0.9-1)^2 = 0.01, clipped (0.2-1)^2 = 0.64 -> 0.5 * 0.64
    torch.testing.assert_close(
        value_loss(v2, r2, old_values=old2, clip=0.2), torch.tensor(0.32, dtype=F64)
    )
    torch.testing.assert_close(
        value_loss(v, r, old_values=old, clip=0.2), torch.tensor(0.5 * 6 / 3, dtype=F64)
    )
    with pytest.raises(ValueError, match="old_values"):
        value_loss(v, r, clip=0.2)


def test_entropy_matches_torch_categorical():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(5, 7, 4, generator=g, dtype=F64)
    want = torch.distributions.Categorical(logits=logits).entropy().mean()
    torch.testing.assert_close(entropy_bonus(logits), want, rtol=1e-12, atol=1e-12)
    masked = torch.tensor([[0.0, -math.inf]], dtype=F64)
    torch.testing.assert_close(entropy_bonus(masked), torch.tensor(0.0, dtype=F64))
    uniform = torch.zeros(2, 3, dtype=F64)
    torch.testing.assert_close(entropy_bonus(uniform), torch.tensor(math.log(3), dtype=F64))


def test_approx_kl_estimators_are_unbiased_for_categorical_kl():
    g = torch.Generator().manual_seed(4)
    p_old = torch.softmax(torch.randn(6, generator=g, dtype=F64), 0)
    p_new = torch.softmax(torch.log(p_old) + 0.3 * torch.randn(6, generator=g, dtype=F64), 0)
    exact = float((p_old * (p_old.log() - p_new.log())).sum())
    a = torch.multinomial(p_old, 400_000, replacement=True, generator=g)
    lo, ln = p_old.log()[a], p_new.log()[a]
    k1 = float(approx_kl(ln, lo, estimator="k1"))
    k3 = float(approx_kl(ln, lo, estimator="k3"))
    # standard errors: about 1e-3 (k1) and 2e-4 (k3) here; tolerances are ~4 SE
    assert abs(k1 - exact) < 4e-3, (k1, exact)
    assert abs(k3 - exact) < 1e-3, (k3, exact)
    per = torch.expm1(ln - lo) - (ln - lo)
    assert torch.all(per >= 0)
    # by hand: ratio 2 -> k1 = -log 2, k3 = 1 - log 2
    one = torch.tensor([math.log(2.0)], dtype=F64)
    zero = torch.zeros(1, dtype=F64)
    assert float(approx_kl(one, zero, estimator="k1")) == pytest.approx(-math.log(2), abs=1e-15)
    assert float(approx_kl(one, zero)) == pytest.approx(1 - math.log(2), abs=1e-15)
    with pytest.raises(ValueError, match="estimator"):
        approx_kl(one, zero, estimator="k2")  # type: ignore[arg-type]


def test_masked_mean():
    x = torch.tensor([1.0, 2.0, 3.0], dtype=F64)
    assert float(masked_mean(x)) == 2.0
    assert float(masked_mean(x, torch.tensor([1, 0, 1]))) == 2.0
    assert float(masked_mean(x, torch.tensor([0, 1, 0]))) == 2.0
