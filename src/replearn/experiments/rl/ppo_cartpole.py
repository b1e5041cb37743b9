"""Experiment ``ppo-cartpole``: PPO on CartPole-v1 with RL-zoo's tuned hyperparameters.

    replearn run ppo-cartpole                      # 3 seeds x 100k environment steps
    replearn run ppo-cartpole --set n_seeds=1 total_env_steps=50000

Each seed trains :func:`replearn.rl.ppo.ppo_update` through the engine (one ``update`` =
one rollout of ``n_steps`` in each of ``n_envs`` environments plus ``epochs`` minibatch
epochs; the learning rate and the clip range decay linearly to 0 over the budget, as
RL-zoo's ``lin_0.001`` / ``lin_0.2``; gradient norm clipped at 0.5 by the engine), then
evaluates the greedy policy over ``eval_episodes`` episodes. Target of the benchmark:
mean return >= 475 within 100k environment steps on every seed.

Writes ``ppo_returns.png`` (training episode returns per seed, smoothed over 20 episodes).
``result.json``: ``eval_mean_return`` (mean over seeds of each seed's mean evaluation
return), ``eval_min_seed_return``, ``env_steps`` (per seed), ``train_time_s`` (per seed,
mean; time inside the updates), one ``eval_return_seed<i>`` per seed.
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
    PPOTask,
    last_eval,
    run_seeds,
    seeded_envs,
    solves_verdict,
)
from replearn.rl.agents import ActorCritic
from replearn.rl.ppo import PPOHyperparameters

_engine = partial(
    engine_config,
    1,
    1,
    log_every=10,
    checkpoint_every=100,
    lr_schedule="linear",
    grad_clip_norm=0.5,
)


@dataclass(frozen=True)
class Config:
    """Settings of PPO on a gymnasium environment with discrete actions.

    Attributes:
        env_id: gymnasium environment.
        total_env_steps: environment steps per seed; ``engine.max_steps`` is set to the
            updates this takes, ceil(total_env_steps / (n_envs * n_steps)).
        n_seeds: independent training runs (seeds ``seed .. seed + n_seeds - 1``).
        n_envs: parallel environments.
        n_steps: rollout length per environment per update.
        minibatch_size: samples per gradient step.
        epochs: passes over each rollout.
        lr: Adam learning rate (decays with ``engine.lr_schedule``).
        adam_eps: Adam's epsilon (1e-5 as SB3 and CleanRL).
        gamma: discount.
        gae_lambda: GAE's lambda.
        clip: clip range epsilon (None: the unclipped surrogate).
        anneal_clip: decay the clip range linearly to 0 over the budget.
        clip_value: clip range of the value loss (None: plain squared error).
        vf_coef: value-loss weight.
        ent_coef: entropy-bonus weight.
        hidden: hidden widths of the actor and of the critic.
        eval_episodes: episodes of the final greedy evaluation.
        engine: training-loop settings (``max_steps`` is derived, see above;
            ``grad_clip_norm`` is PPO's max gradient norm).
    """

    env_id: str = "CartPole-v1"
    total_env_steps: int = 100_000
    n_seeds: int = 3
    n_envs: int = 8
    n_steps: int = 32
    minibatch_size: int = 256
    epochs: int = 20
    lr: float = 1e-3
    adam_eps: float = 1e-5
    gamma: float = 0.98
    gae_lambda: float = 0.8
    clip: float | None = 0.2
    anneal_clip: bool = True
    clip_value: float | None = None
    vf_coef: float = 0.5
    ent_coef: float = 0.0
    hidden: tuple[int, ...] = (64, 64)
    eval_episodes: int = 100
    engine: EngineConfig = field(default_factory=_engine)

    def __post_init__(self) -> None:
        if self.n_seeds < 1 or self.total_env_steps < 1:
            raise ValueError("n_seeds and total_env_steps must be >= 1")
        if (self.n_envs * self.n_steps) % self.minibatch_size:
            raise ValueError(
                f"minibatch_size {self.minibatch_size} must divide n_envs * n_steps "
                f"= {self.n_envs * self.n_steps}"
            )

    @property
    def updates(self) -> int:
        """Engine steps: rollouts needed for ``total_env_steps``."""
        return math.ceil(self.total_env_steps / (self.n_envs * self.n_steps))


def tiny() -> Config:
    """Seconds: one seed, two short updates, a 2-episode evaluation."""
    return Config(n_seeds=1, total_env_steps=512, epochs=2, eval_episodes=2)


def quick() -> Config:
    """Seconds: one seed, 4k steps, a 5-episode evaluation (a smoke check)."""
    return Config(n_seeds=1, total_env_steps=4_096, eval_episodes=5)


def train_ppo(cfg: Config, ctx: RunContext, seed: int) -> tuple[PPOTask, dict[str, Any]]:
    """Train one seed in ``ctx``; returns the task and its final evaluation row."""
    envs, make_eval = seeded_envs(cfg, ctx, seed)
    agent = ActorCritic(envs.obs_dim, envs.n_actions, hidden=cfg.hidden)
    hp = PPOHyperparameters(
        gamma=cfg.gamma, gae_lambda=cfg.gae_lambda, epochs=cfg.epochs,
        minibatch_size=cfg.minibatch_size, clip=cfg.clip, clip_value=cfg.clip_value,
        vf_coef=cfg.vf_coef, ent_coef=cfg.ent_coef,
    )  # fmt: skip
    task = PPOTask(
        agent, envs, make_eval, hp=hp, n_steps=cfg.n_steps, anneal_clip=cfg.anneal_clip,
        eval_episodes=0, final_eval_episodes=cfg.eval_episodes,
    )  # fmt: skip
    opt = torch.optim.Adam(agent.parameters(), lr=cfg.lr, eps=cfg.adam_eps, foreach=True)
    engine = replace(cfg.engine, max_steps=cfg.updates, batch_size=cfg.n_envs * cfg.n_steps)
    loop = fit(task, opt, None, cfg=engine, ctx=ctx)
    return task, last_eval(loop.history)


CLAIMS = (
    Claim(
        "ppo-solves-cartpole",
        "PPO with RL-zoo's CartPole hyperparameters reaches a mean evaluation return >= 475 "
        "(over 100 episodes) within 100k environment steps, on every seed.",
        solves_verdict,
        "ppo_returns.png",
    ),
)


@experiment(
    "ppo-cartpole",
    topic="rl",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Schulman et al. 2017, arXiv:1707.06347; RL-zoo CartPole-v1 hyperparameters",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """PPO on CartPole-v1 (RL-zoo hyperparameters), several seeds, greedy evaluation."""
    return run_seeds("ppo", train_ppo, cfg, ctx, lambda t: t.agent)
