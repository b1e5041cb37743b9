"""RL tasks through the engine: a run killed after an update resumes bitwise identically
(environments, their generators, episode statistics and the replay buffer are declared state)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from replearn.engine import Callback, EngineConfig, Loop, RunContext, fit
from replearn.engine.checkpoint import find_resumable
from replearn.engine.seed import seed_everything
from replearn.experiments.rl.common import (
    A2CTask,
    DQNTask,
    PPOTask,
    ReinforceTask,
    env_factory,
)
from replearn.rl.agents import ActorCritic, QNetwork
from replearn.rl.ppo import PPOHyperparameters

CFG = EngineConfig(
    max_steps=4, batch_size=1, log_every=1, eval_every=2, checkpoint_every=2,
    keep_checkpoints=10, progress=False, lr_schedule="linear", grad_clip_norm=0.5,
)  # fmt: skip


class _Crash(Exception):
    pass


class CrashAt(Callback):
    def __init__(self, step: int) -> None:
        self.at = step

    def on_step_end(self, loop: Loop) -> None:
        if loop.step == self.at:
            raise _Crash


def _ppo_task():
    envs = env_factory("CartPole-v1", 2)(3)
    agent = ActorCritic(4, 2, hidden=(16, 16))
    hp = PPOHyperparameters(epochs=2, minibatch_size=16, gamma=0.98, gae_lambda=0.8)
    task = PPOTask(agent, envs, env_factory("CartPole-v1", 2), hp=hp, n_steps=16,
                   anneal_clip=True, eval_episodes=2, final_eval_episodes=3)  # fmt: skip
    return task, torch.optim.Adam(agent.parameters(), lr=1e-3)


def _dqn_task():
    envs = env_factory("Acrobot-v1", 2)(5)
    q = QNetwork(6, 3, hidden=(16,))
    task = DQNTask(
        q, envs, env_factory("Acrobot-v1", 2), gamma=0.99, buffer_size=100, batch_size=8,
        learning_starts=40, train_freq=32, gradient_steps=3, target_update_interval=20,
        exploration_steps=100, eps_start=1.0, eps_end=0.1, double=True,
        eval_episodes=0, final_eval_episodes=1,
    )  # fmt: skip
    return task, torch.optim.Adam(q.parameters(), lr=1e-3)


def _a2c_task():
    envs = env_factory("CartPole-v1", 2)(7)
    agent = ActorCritic(4, 2, hidden=(16,))
    task = A2CTask(agent, envs, env_factory("CartPole-v1", 2), n_steps=8, gamma=0.99,
                   gae_lambda=0.9, vf_coef=0.5, ent_coef=0.01, final_eval_episodes=1)  # fmt: skip
    return task, torch.optim.Adam(agent.parameters(), lr=1e-3)


def _reinforce_task():
    envs = env_factory("ProxyBonusGrid", 2, grid_size=3, grid_max_steps=10)(9)
    agent = ActorCritic(9, 4, hidden=(16,))
    task = ReinforceTask(agent, envs, env_factory("ProxyBonusGrid", 2, grid_size=3),
                         n_steps=16, gamma=0.99, baseline=True, final_eval_episodes=1)  # fmt: skip
    return task, torch.optim.Adam(agent.parameters(), lr=1e-3)


def _train(make, out: Path, *, crash_at: int | None = None, resume: bool = False):
    seed_everything(4)
    task, opt = make()
    state = find_resumable(out / "checkpoints")[1] if resume else None
    ctx = RunContext(out=out, seed=4, progress=False, resume_state=state)
    ctx.logger.open(keep_lines=state["metrics_lines"] if state else None)
    try:
        loop = fit(task, opt, None, cfg=CFG, ctx=ctx, callbacks=[CrashAt(crash_at or -1)])
    finally:
        ctx.logger.close()
    return loop, task


@pytest.mark.parametrize(
    "make", [_ppo_task, _dqn_task, _a2c_task, _reinforce_task],
    ids=["ppo", "dqn", "a2c", "reinforce"],
)  # fmt: skip
def test_killed_rl_run_resumes_bitwise(make, tmp_path):
    whole, task_a = _train(make, tmp_path / "a")
    with pytest.raises(_Crash):
        _train(make, tmp_path / "b", crash_at=3)  # last checkpoint at step 2
    resumed, task_b = _train(make, tmp_path / "b", resume=True)
    assert resumed.step == whole.step == CFG.max_steps
    sa, sb = task_a.state_dict(), task_b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        if isinstance(sa[key], torch.Tensor):
            assert torch.equal(sa[key], sb[key]), key
    assert task_a.env_steps == task_b.env_steps > 0
    assert task_a.episodes == task_b.episodes
    assert torch.equal(task_a.envs.obs, task_b.envs.obs)
    assert resumed.history == whole.history
    assert (tmp_path / "a/metrics.jsonl").read_bytes() == (
        tmp_path / "b/metrics.jsonl"
    ).read_bytes()
    assert any("eval_return" in r for r in whole.history)
