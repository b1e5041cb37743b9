"""Experiment ``dqn-cartpole``: DQN on CartPole-v1 with RL-zoo's tuned hyperparameters.

    replearn run dqn-cartpole                      # 3 seeds x 100k environment steps
    replearn run dqn-cartpole --set double=true target_network=false

Each seed trains a Q-network through the engine: one ``update`` = ``train_freq``
ε-greedy environment steps into the replay buffer, then ``gradient_steps`` Huber-loss
steps on minibatches (:mod:`replearn.rl.dqn`); the target network is copied every
``target_update_interval`` environment steps (RL-zoo's CartPole settings: 256 steps,
then 128 gradient steps; ε from 1 to 0.04 over the first 16% of the steps; gradient norm
clipped at 10 as stable-baselines3). The greedy policy is evaluated over
``eval_episodes`` episodes. Target of the benchmark: mean return >= 475 within 100k
environment steps on every seed.

Writes ``dqn_returns.png``; ``result.json`` as ``ppo-cartpole``'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import torch

from replearn.engine import EngineConfig, RunContext, fit
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import engine_config
from replearn.experiments.rl.common import (
    DQNTask,
    last_eval,
    run_seeds,
    seeded_envs,
    solves_verdict,
)
from replearn.rl.agents import QNetwork

_engine = partial(engine_config, 1, 1, log_every=10, checkpoint_every=100, grad_clip_norm=10.0)


@dataclass(frozen=True)
class Config:
    """Settings of DQN on a gymnasium environment with discrete actions.

    Attributes:
        env_id: gymnasium environment.
        total_env_steps: environment steps per seed; ``engine.max_steps`` is set to
            ceil(total_env_steps / train_freq).
        n_seeds: independent training runs.
        n_envs: parallel environments (train_freq counts steps over all of them).
        lr: Adam learning rate.
        gamma: discount.
        buffer_size: replay capacity.
        batch_size: minibatch size of a gradient step.
        learning_starts: environment steps before the first gradient step.
        train_freq: environment steps per update.
        gradient_steps: gradient steps per update.
        target_update_interval: environment steps between target-network copies.
        target_network: use a target network (False: bootstrap from the online network).
        double: Double DQN targets.
        exploration_fraction: share of total_env_steps over which ε decays linearly.
        eps_start: initial ε.
        eps_end: final ε.
        hidden: hidden widths of the Q-network.
        eval_episodes: episodes of the final greedy evaluation.
        engine: training-loop settings (``max_steps`` derived; ``grad_clip_norm``).
    """

    env_id: str = "CartPole-v1"
    total_env_steps: int = 100_000
    n_seeds: int = 3
    n_envs: int = 1
    lr: float = 2.3e-3
    gamma: float = 0.99
    buffer_size: int = 100_000
    batch_size: int = 64
    learning_starts: int = 1000
    train_freq: int = 256
    gradient_steps: int = 128
    target_update_interval: int = 10
    target_network: bool = True
    double: bool = False
    exploration_fraction: float = 0.16
    eps_start: float = 1.0
    eps_end: float = 0.04
    hidden: tuple[int, ...] = (256, 256)
    eval_episodes: int = 100
    engine: EngineConfig = field(default_factory=_engine)

    def __post_init__(self) -> None:
        if self.n_seeds < 1 or self.total_env_steps < 1 or self.train_freq < self.n_envs:
            raise ValueError("n_seeds, total_env_steps >= 1 and train_freq >= n_envs needed")

    @property
    def updates(self) -> int:
        """Engine steps: collection phases needed for ``total_env_steps``."""
        return math.ceil(self.total_env_steps / self.train_freq)


def tiny() -> Config:
    """Seconds: one seed, 4 short updates, a 2-episode evaluation."""
    return Config(
        n_seeds=1, total_env_steps=512, train_freq=128, gradient_steps=4, learning_starts=128,
        hidden=(32, 32), eval_episodes=2,
    )  # fmt: skip


def quick() -> Config:
    """Seconds: one seed, 1.5k steps, a 5-episode evaluation (a smoke check, not RL-zoo's 50k)."""
    return Config(n_seeds=1, total_env_steps=1_500, eval_episodes=5)


def train_dqn(cfg: Config, ctx: RunContext, seed: int) -> tuple[DQNTask, dict[str, Any], Any]:
    """Train one seed in ``ctx``; returns the task, its final evaluation and the history."""
    envs, make_eval = seeded_envs(cfg, ctx, seed)
    q = QNetwork(envs.obs_dim, envs.n_actions, hidden=cfg.hidden)
    task = DQNTask(
        q, envs, make_eval, gamma=cfg.gamma, buffer_size=cfg.buffer_size,
        batch_size=cfg.batch_size, learning_starts=cfg.learning_starts,
        train_freq=cfg.train_freq, gradient_steps=cfg.gradient_steps,
        target_update_interval=cfg.target_update_interval,
        exploration_steps=int(cfg.exploration_fraction * cfg.total_env_steps),
        eps_start=cfg.eps_start, eps_end=cfg.eps_end, target_network=cfg.target_network,
        double=cfg.double, eval_episodes=0, final_eval_episodes=cfg.eval_episodes,
    )  # fmt: skip
    opt = torch.optim.Adam(q.parameters(), lr=cfg.lr, foreach=True)
    engine = replace(cfg.engine, max_steps=cfg.updates, batch_size=cfg.batch_size)
    loop = fit(task, opt, None, cfg=engine, ctx=ctx)
    return task, last_eval(loop.history), loop.history


CLAIMS = (
    Claim(
        "dqn-solves-cartpole",
        "DQN with RL-zoo's CartPole hyperparameters reaches a mean evaluation return >= 475 "
        "(over 100 episodes) within 100k environment steps, on every seed.",
        solves_verdict,
        "dqn_returns.png",
    ),
)


@experiment(
    "dqn-cartpole",
    topic="rl",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Mnih et al. 2015, Nature 518; RL-zoo CartPole-v1 hyperparameters",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """DQN on CartPole-v1 (RL-zoo hyperparameters), several seeds, greedy evaluation."""
    return run_seeds("dqn", train_dqn, cfg, ctx, lambda t: t.q)
