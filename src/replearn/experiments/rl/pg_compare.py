"""Experiment ``pg-compare``: REINFORCE, REINFORCE with a baseline, A2C and PPO on the same
budget, return curves over several seeds.

    replearn run pg-compare                               # CartPole-v1, 3 seeds x 50k steps
    replearn run pg-compare --set env_id=Acrobot-v1 total_env_steps=100000

Every agent is the same actor-critic (64-64 tanh, orthogonal init), trained through the
engine with Adam and gradient-norm clipping 0.5, ``n_envs`` parallel environments:

* REINFORCE (:func:`~replearn.rl.pg.reinforce_loss`): rollouts of ``reinforce_steps`` per
  environment, reward-to-go over the complete episodes in them, one gradient step;
* REINFORCE + baseline: the same with a learned value baseline (regressed on the returns);
* A2C (:func:`~replearn.rl.pg.a2c_loss`): rollouts of ``a2c_steps``, GAE, entropy bonus,
  one gradient step (learning rate 7e-4, as stable-baselines3);
* PPO (:func:`~replearn.rl.ppo.ppo_update`): ``ppo-cartpole``'s settings at this budget.

No claim is attached; the plot ``pg_returns.png`` (training episode returns, mean over seeds
with the seed-to-seed range) and the final greedy evaluations are the result.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch

from replearn.engine import EngineConfig, RunContext, fit
from replearn.engine.context import single_thread
from replearn.experiments.base import Result, experiment
from replearn.experiments.common import engine_config
from replearn.experiments.rl import ppo_cartpole
from replearn.experiments.rl.common import A2CTask, ReinforceTask, last_eval, seeded_envs, smooth
from replearn.report.plots import DPI, save_figure
from replearn.rl.agents import ActorCritic

AGENTS = ("reinforce", "reinforce_baseline", "a2c", "ppo")


_engine = partial(engine_config, 1, 1, log_every=20, checkpoint_every=500, grad_clip_norm=0.5)


@dataclass(frozen=True)
class Config:
    """Settings of the comparison.

    Attributes:
        env_id: gymnasium environment.
        total_env_steps: environment steps per agent and seed.
        n_seeds: seeds.
        n_envs: parallel environments (every agent).
        reinforce_steps: rollout length per environment of REINFORCE.
        reinforce_lr: Adam learning rate of REINFORCE.
        a2c_steps: rollout length per environment of A2C.
        a2c_lr: Adam learning rate of A2C.
        gamma: discount.
        ent_coef: A2C's entropy weight.
        eval_episodes: greedy evaluation episodes at the end.
        agents: which agents to train.
        engine: training-loop settings (``max_steps`` derived per agent).
    """

    env_id: str = "CartPole-v1"
    total_env_steps: int = 50_000
    n_seeds: int = 3
    n_envs: int = 8
    reinforce_steps: int = 256
    reinforce_lr: float = 1e-3
    a2c_steps: int = 5
    a2c_lr: float = 7e-4
    gamma: float = 0.99
    ent_coef: float = 0.0
    eval_episodes: int = 20
    agents: tuple[str, ...] = AGENTS
    engine: EngineConfig = field(default_factory=_engine)

    def __post_init__(self) -> None:
        unknown = set(self.agents) - set(AGENTS)
        if unknown:
            raise ValueError(f"unknown agents {sorted(unknown)}; choose from {AGENTS}")


def tiny() -> Config:
    """Seconds: one seed, a few updates per agent."""
    return Config(total_env_steps=256, n_seeds=1, n_envs=2, reinforce_steps=64, a2c_steps=32,
                  eval_episodes=1)  # fmt: skip


def quick() -> Config:
    """One seed, 30k steps."""
    return Config(total_env_steps=30_000, n_seeds=1)


def _train(agent_name: str, cfg: Config, ctx: RunContext, seed: int) -> tuple[Any, dict]:
    if agent_name == "ppo":
        pcfg = ppo_cartpole.Config(env_id=cfg.env_id, total_env_steps=cfg.total_env_steps,
                                   n_seeds=1, eval_episodes=cfg.eval_episodes)  # fmt: skip
        return ppo_cartpole.train_ppo(pcfg, ctx, seed)
    envs, make_eval = seeded_envs(cfg, ctx, seed)
    agent = ActorCritic(envs.obs_dim, envs.n_actions)
    kw = {"eval_episodes": 0, "final_eval_episodes": cfg.eval_episodes}
    if agent_name == "a2c":
        steps, lr = cfg.a2c_steps, cfg.a2c_lr
        task: Any = A2CTask(agent, envs, make_eval, n_steps=steps, gamma=cfg.gamma,
                            gae_lambda=1.0, vf_coef=0.5, ent_coef=cfg.ent_coef, **kw)  # fmt: skip
    else:
        steps, lr = cfg.reinforce_steps, cfg.reinforce_lr
        task = ReinforceTask(agent, envs, make_eval, n_steps=steps, gamma=cfg.gamma,
                             baseline=agent_name == "reinforce_baseline", **kw)  # fmt: skip
    opt = torch.optim.Adam(agent.parameters(), lr=lr, foreach=True)
    updates = math.ceil(cfg.total_env_steps / (cfg.n_envs * steps))
    loop = fit(task, opt, None, cfg=replace(cfg.engine, max_steps=updates), ctx=ctx)
    return task, last_eval(loop.history)


def _plot(path: Any, curves: dict[str, list[tuple[list[float], list[float]]]], top: float) -> Any:
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=DPI)
    grid = np.linspace(0, top, 100)
    for name, runs in curves.items():
        ys = np.stack([np.interp(grid, xs, vals) if xs else np.zeros_like(grid)
                       for xs, vals in runs])  # fmt: skip
        line = ax.plot(grid, ys.mean(0), label=name)
        ax.fill_between(grid, ys.min(0), ys.max(0), color=line[0].get_color(), alpha=0.15)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("training episode return (20-episode mean)")
    ax.set_title("Policy-gradient methods: mean over seeds, range shaded", fontsize="medium")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


@experiment(
    "pg-compare",
    topic="rl",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    paper="Williams 1992; Mnih et al. 2016, arXiv:1602.01783; Schulman et al. 2017",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """REINFORCE (with and without baseline), A2C and PPO: return curves over seeds."""
    metrics: dict[str, Any] = {"n_seeds": cfg.n_seeds, "env_steps": cfg.total_env_steps}
    curves: dict[str, list[tuple[list[float], list[float]]]] = {a: [] for a in cfg.agents}
    for name in cfg.agents:
        evals = []
        for i in range(cfg.n_seeds):
            with ctx.child(f"{name}_seed{i}", seed=ctx.seed + i) as sub, single_thread():
                task, ev = _train(name, cfg, sub, ctx.seed + i)
            eps = task.episodes
            curves[name].append(([e["env_step"] for e in eps],
                                 smooth([e["return"] for e in eps], 20)))  # fmt: skip
            evals.append(float(ev.get("eval_return", float("nan"))))
        metrics[f"eval_return_{name}"] = statistics.fmean(evals)
        metrics[f"eval_return_min_{name}"] = min(evals)
    plot = _plot(ctx.path("pg_returns.png"), curves, cfg.total_env_steps)
    return Result(metrics=metrics, plots=[plot])
