"""PPO-RLHF: KL-shaped rewards through GAE, masking, and the loss vs the shared functions."""

from __future__ import annotations

import torch

from replearn.rl.losses import clipped_surrogate, value_loss
from replearn.rlhf.kl import kl_shaped_rewards
from replearn.rlhf.ppo import ppo_rlhf_advantages, ppo_rlhf_loss, whiten


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    b, r = 3, 5
    logp = -torch.rand(b, r, generator=g, dtype=torch.float64)
    ref = -torch.rand(b, r, generator=g, dtype=torch.float64)
    values = torch.randn(b, r, generator=g, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=torch.float64)
    score = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    return score, logp, ref, values, mask


def test_gamma_lambda_one_is_reward_to_go_minus_value():
    score, logp, ref, values, mask = _batch()
    adv, ret, rewards = ppo_rlhf_advantages(score, logp, ref, values, mask, beta=0.3, lam=1.0)
    want_r = kl_shaped_rewards(score, logp, ref, mask, beta=0.3)
    torch.testing.assert_close(rewards, want_r)
    for i in range(3):
        n = int(mask[i].sum())
        for t in range(n):
            togo = float(want_r[i, t:n].sum())
            assert abs(float(adv[i, t]) - (togo - float(values[i, t]))) < 1e-12
            assert abs(float(ret[i, t]) - togo) < 1e-12
        if n < 5:
            assert adv[i, n:].abs().max() == 0


def test_padding_does_not_leak():
    score, logp, ref, values, mask = _batch(1)
    adv, _, _ = ppo_rlhf_advantages(score, logp, ref, values, mask, beta=0.1)
    values2, logp2 = values.clone(), logp.clone()
    values2[mask == 0] = 100.0
    logp2[mask == 0] = -50.0
    adv2, _, _ = ppo_rlhf_advantages(score, logp2, ref, values2, mask, beta=0.1)
    torch.testing.assert_close(adv2, adv, rtol=0, atol=1e-12)


def test_loss_matches_the_shared_ppo_functions():
    score, logp, ref, values, mask = _batch(2)
    adv, ret, _ = ppo_rlhf_advantages(score, logp, ref, values, mask, beta=0.1)
    adv = whiten(adv, mask)
    new_logp = (logp + 0.1 * torch.randn(logp.shape, dtype=torch.float64)).requires_grad_()
    new_v = values + 0.3
    loss, stats = ppo_rlhf_loss(new_logp, logp, adv, new_v, values, ret, mask, clip=0.2,
                                value_clip=0.2, vf_coef=0.5)  # fmt: skip
    want = -clipped_surrogate(new_logp, logp, adv, 0.2, mask=mask) + 0.5 * value_loss(
        new_v, ret, old_values=values, clip=0.2, mask=mask
    )
    torch.testing.assert_close(loss, want, rtol=1e-12, atol=1e-12)
    assert set(stats) == {"policy_loss", "value_loss", "clip_fraction"}
    m = mask.bool()
    assert abs(float(adv[m].mean())) < 1e-12 and abs(float(adv[m].std(unbiased=False)) - 1) < 1e-6
