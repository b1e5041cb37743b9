"""PPO update: equal to a hand-written minibatch loop; first step is the vanilla gradient."""

from __future__ import annotations

import copy

import pytest
import torch

from replearn.rl.agents import ActorCritic
from replearn.rl.envs import VectorEnv
from replearn.rl.losses import clipped_surrogate, entropy_bonus
from replearn.rl.ppo import PPOHyperparameters, ppo_update, rollout_batch
from replearn.rl.rollout import collect_rollout

F64 = torch.float64


def _batch(seed: int = 0):
    torch.manual_seed(seed)
    agent = ActorCritic(4, 2, hidden=(16, 16))
    envs = VectorEnv("CartPole-v1", 2, seed=seed)
    ro = collect_rollout(agent, envs, 16, gamma=0.99)
    return agent, rollout_batch(ro, 0.99, 0.95)


def test_ppo_update_equals_a_hand_written_loop():
    agent, batch = _batch()
    hp = PPOHyperparameters(epochs=3, minibatch_size=8, clip=0.2, clip_value=0.2, ent_coef=0.01)
    ref = copy.deepcopy(agent)
    opt = torch.optim.Adam(agent.parameters(), lr=3e-3)
    opt_ref = torch.optim.Adam(ref.parameters(), lr=3e-3)

    def optimize(loss):
        opt.zero_grad()
        loss.backward()
        opt.step()

    stats = ppo_update(agent, batch, hp, optimize, generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(1)
    n = batch["actions"].shape[0]
    for _ in range(3):
        perm = torch.randperm(n, generator=g)
        for s in range(0, n, 8):
            i = perm[s : s + 8]
            logits = ref.actor(batch["obs"][i])
            logp = torch.log_softmax(logits, -1).gather(-1, batch["actions"][i, None]).squeeze(-1)
            adv = batch["advantages"][i]
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            v = ref.critic(batch["obs"][i]).squeeze(-1)
            v_clip = batch["values"][i] + (v - batch["values"][i]).clamp(-0.2, 0.2)
            vl = (
                0.5
                * torch.maximum(
                    (v - batch["returns"][i]) ** 2, (v_clip - batch["returns"][i]) ** 2
                ).mean()
            )
            loss = -clipped_surrogate(logp, batch["logp"][i], adv, 0.2) + 0.5 * vl
            loss = loss - 0.01 * entropy_bonus(logits)
            opt_ref.zero_grad()
            loss.backward()
            opt_ref.step()
    for p, q in zip(agent.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-6)
    assert stats["kl_after"] > 0 and stats["max_ratio_dev"] > 0
    assert set(stats) >= {"policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction"}


@pytest.mark.parametrize("clip", [0.2, None])
def test_first_step_is_the_vanilla_policy_gradient(clip):
    agent, batch = _batch(seed=3)
    hp = PPOHyperparameters(epochs=1, minibatch_size=32, clip=clip, vf_coef=0.0, norm_adv=False)
    grads = {}

    def capture(loss):
        loss.backward()
        grads.update({n: p.grad.clone() for n, p in agent.actor.named_parameters()})
        raise StopIteration

    with pytest.raises(StopIteration):
        ppo_update(agent, batch, hp, capture)
    agent.zero_grad()
    logp, _, _ = agent.evaluate_actions(batch["obs"], batch["actions"])
    (-(logp * batch["advantages"]).mean()).backward()
    for n, p in agent.actor.named_parameters():
        torch.testing.assert_close(grads[n], p.grad, rtol=1e-4, atol=1e-7)


def test_hyperparameters_are_validated():
    with pytest.raises(ValueError, match="clip"):
        PPOHyperparameters(clip=0.0)
    agent, batch = _batch()
    with pytest.raises(ValueError, match="divide"):
        ppo_update(agent, batch, PPOHyperparameters(minibatch_size=5), lambda loss: None)
