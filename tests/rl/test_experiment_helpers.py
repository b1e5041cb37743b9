"""Helpers shared by the RL experiments: the "solves CartPole" verdict, seeded environments and
the actor-critic tasks' common base."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from replearn.engine import RunContext
from replearn.experiments.rl.common import (
    A2CTask,
    ActorCriticTask,
    PPOTask,
    ReinforceTask,
    seeded_envs,
    solves_verdict,
)
from replearn.rl.agents import ActorCritic, mlp_forward


def _metrics(returns: list[float]) -> dict[str, float]:
    m = {f"eval_return_seed{i}": r for i, r in enumerate(returns)}
    return {**m, "eval_min_seed_return": min(returns), "n_seeds": len(returns),
            "eval_mean_return": sum(returns) / len(returns), "env_steps": 100}  # fmt: skip


def test_solves_verdict_needs_every_seed_at_the_threshold() -> None:
    holds, evidence = solves_verdict(_metrics([500.0, 475.0]))
    assert holds and "500.0, 475.0" in evidence and "threshold 475)" in evidence
    assert not solves_verdict(_metrics([500.0, 474.9]))[0]


@dataclass(frozen=True)
class _Cfg:
    env_id: str = "CartPole-v1"
    n_envs: int = 2
    eval_episodes: int = 30


def test_seeded_envs_are_reproducible_and_seed_torch(tmp_path: Path) -> None:
    ctx = RunContext(out=tmp_path)
    envs, make_eval = seeded_envs(_Cfg(), ctx, 5)
    draw = torch.rand(3)
    envs2, _ = seeded_envs(_Cfg(), ctx, 5)
    assert torch.equal(torch.rand(3), draw) and torch.equal(envs.obs, envs2.obs)
    assert envs.num_envs == 2 and make_eval(0).num_envs == 10  # at most 10 evaluation envs
    assert not torch.equal(seeded_envs(_Cfg(), ctx, 6)[0].obs, envs.obs)


def test_actor_critic_tasks_share_rollout_and_greedy_action(tmp_path: Path) -> None:
    assert all(issubclass(t, ActorCriticTask) for t in (PPOTask, A2CTask, ReinforceTask))
    envs, make_eval = seeded_envs(_Cfg(), RunContext(out=tmp_path), 0)
    agent = ActorCritic(envs.obs_dim, envs.n_actions)
    task = A2CTask(agent, envs, make_eval, n_steps=8, gamma=0.99, gae_lambda=0.95,
                   vf_coef=0.5, ent_coef=0.0)  # fmt: skip
    ro = task.rollout(0.99)
    assert task.env_steps == ro.env_steps == 16 and ro.obs.shape[:2] == (8, 2)
    obs = envs.obs
    assert torch.equal(task.greedy_action(obs), mlp_forward(agent.actor, obs).argmax(-1))
