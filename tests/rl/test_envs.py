"""VectorEnv: autoreset and truncation conventions, exact save/restore; rollouts; evaluation."""

from __future__ import annotations

import io

import gymnasium as gym
import numpy as np
import pytest
import torch

from replearn.rl.agents import ActorCritic
from replearn.rl.envs import VectorEnv
from replearn.rl.hacking import ProxyBonusGrid
from replearn.rl.rollout import collect_rollout, evaluate_policy


def _roundtrip(state):
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Acrobot-v1"])
def test_restored_pool_continues_identically(env_id):
    envs = VectorEnv(env_id, 3, seed=5)
    rng = np.random.default_rng(0)
    for _ in range(60):
        envs.step(rng.integers(envs.n_actions, size=3))
    state = _roundtrip(envs.get_state())
    acts = rng.integers(envs.n_actions, size=(80, 3))
    ref = [envs.step(a) for a in acts]
    other = VectorEnv(env_id, 3, seed=99)  # different seed: everything comes from the state
    other.set_state(state)
    for a, r in zip(acts, ref, strict=True):
        got = other.step(a)
        for x, y in zip(got, r, strict=True):
            assert torch.equal(x, y)


def test_same_step_autoreset_and_truncation():
    envs = VectorEnv("CartPole-v1", 2, seed=0, max_episode_steps=5)
    base = gym.make("CartPole-v1").unwrapped
    base.reset(seed=0)
    steps = [envs.step(np.array([0, 1])) for _ in range(5)]
    obs, _, term, trunc, final = steps[-1]
    # 5 steps reached (CartPole does not fall within 5 steps): truncated, not terminated
    assert trunc.tolist() == [True, True] and term.tolist() == [False, False]
    assert not torch.equal(obs, final)  # obs already belongs to the next episode
    eps = envs.drain_episodes()
    assert [e["length"] for e in eps] == [5.0, 5.0] and [e["return"] for e in eps] == [5.0, 5.0]
    # copy 0 followed exactly the single environment with seed 0
    for _ in range(5):
        o, *_ = base.step(0)
    np.testing.assert_array_equal(final[0].numpy(), o.astype(np.float32))


def test_rollout_bootstraps_truncated_steps():
    torch.manual_seed(0)
    envs = VectorEnv("CartPole-v1", 2, seed=0, max_episode_steps=4)
    agent = ActorCritic(4, 2, hidden=(8,))
    with torch.no_grad():
        agent.critic.layers[-1].bias.fill_(10.0)
        agent.critic.layers[-1].weight.zero_()  # V = 10 everywhere
    ro = collect_rollout(agent, envs, 6, gamma=0.5)
    assert ro.obs.shape == (6, 2, 4) and ro.rewards.shape == (6, 2) and ro.env_steps == 12
    # step index 3 is the 4th step: truncated -> reward 1 + 0.5 * 10, done
    assert torch.allclose(ro.rewards[3], torch.tensor([6.0, 6.0]))
    assert ro.dones[3].tolist() == [1.0, 1.0]
    assert torch.allclose(ro.last_value, torch.tensor([10.0, 10.0]))


def test_evaluate_policy_counts_whole_episodes():
    grid = lambda: VectorEnv(ProxyBonusGrid, 3, max_episode_steps=40)  # noqa: E731

    def goal_seeker(obs):  # right along the top row, then down the last column
        pos = obs.argmax(-1)
        col = pos % 5
        return torch.where(col < 4, torch.ones_like(pos), torch.full_like(pos, 2))

    returns = evaluate_policy(goal_seeker, grid, 7)
    assert len(returns) == 7 and all(r == pytest.approx(1.0) for r in returns)
