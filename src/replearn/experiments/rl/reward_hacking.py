"""Experiment ``reward-hacking``: PPO trained on a misspecified proxy reward games it.

    replearn run reward-hacking

The agent is trained by PPO (:mod:`replearn.rl.ppo`, through the engine) on the *proxy*
reward of :class:`~replearn.rl.hacking.ProxyBonusGrid`: the goal pays 1 (the true
reward) and a bonus tile next to it pays ``bonus`` every time it is entered. The true
return of every training episode is recorded next to the proxy return. Reference points:
the intended policy (walk to the goal, collecting the bonus once) earns proxy ``1 + bonus``
and true 1; the looping policy earns proxy about ``bonus * max_steps / 2`` and true 0.

Writes ``hacking_returns.png`` (proxy and true return per training episode, smoothed,
every seed).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import torch

from replearn.engine import EngineConfig, RunContext, fit
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import engine_config
from replearn.experiments.rl.common import PPOTask, env_factory, plot_xy, smooth
from replearn.rl.agents import ActorCritic
from replearn.rl.ppo import PPOHyperparameters

_engine = partial(engine_config, 1, 1, log_every=5, checkpoint_every=50, grad_clip_norm=0.5)


@dataclass(frozen=True)
class Config:
    """Settings of the reward-hacking experiment.

    Attributes:
        size: side of the grid.
        bonus: proxy bonus for entering the bonus tile.
        max_steps: time limit of an episode.
        total_env_steps: environment steps per seed (``engine.max_steps`` derived).
        n_seeds: independent training runs.
        n_envs: parallel environments.
        n_steps: rollout length per environment.
        minibatch_size: samples per gradient step.
        epochs: PPO epochs per rollout.
        lr: Adam learning rate.
        gamma: discount.
        gae_lambda: GAE's lambda.
        clip: PPO clip range.
        ent_coef: entropy-bonus weight.
        final_fraction: share of the training episodes at the end that count as "final".
        engine: training-loop settings.
    """

    size: int = 5
    bonus: float = 0.3
    max_steps: int = 40
    total_env_steps: int = 60_000
    n_seeds: int = 3
    n_envs: int = 8
    n_steps: int = 64
    minibatch_size: int = 128
    epochs: int = 4
    lr: float = 1e-3
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    ent_coef: float = 0.01
    final_fraction: float = 0.2
    engine: EngineConfig = field(default_factory=_engine)

    @property
    def updates(self) -> int:
        """Engine steps (rollouts)."""
        return math.ceil(self.total_env_steps / (self.n_envs * self.n_steps))


def tiny() -> Config:
    """Seconds: one seed, a few updates."""
    return Config(total_env_steps=2048, n_seeds=1, epochs=1)


def quick() -> Config:
    """Seconds: two seeds, 10k steps (a smoke check)."""
    return Config(total_env_steps=10_240, n_seeds=2)


def train_seed(cfg: Config, ctx: RunContext, seed: int) -> PPOTask:
    """PPO on the proxy reward for one seed."""
    torch.manual_seed(seed)
    make = env_factory("ProxyBonusGrid", cfg.n_envs, grid_size=cfg.size, grid_bonus=cfg.bonus,
                       grid_max_steps=cfg.max_steps)  # fmt: skip
    envs = make(1000 * seed + 100 * ctx.dist.rank)
    agent = ActorCritic(envs.obs_dim, envs.n_actions)
    hp = PPOHyperparameters(gamma=cfg.gamma, gae_lambda=cfg.gae_lambda, epochs=cfg.epochs,
                            minibatch_size=cfg.minibatch_size, clip=cfg.clip,
                            ent_coef=cfg.ent_coef)  # fmt: skip
    task = PPOTask(agent, envs, make, hp=hp, n_steps=cfg.n_steps, eval_episodes=0,
                   final_eval_episodes=0)  # fmt: skip
    opt = torch.optim.Adam(agent.parameters(), lr=cfg.lr, eps=1e-5, foreach=True)
    engine = replace(cfg.engine, max_steps=cfg.updates, batch_size=cfg.n_envs * cfg.n_steps)
    fit(task, opt, None, cfg=engine, ctx=ctx)
    return task


def _window_means(xs: list[float], w: int) -> list[float]:
    return [statistics.fmean(xs[i : i + w]) for i in range(0, max(len(xs) - w + 1, 1), w)]


def _hacked(m: dict[str, Any]) -> tuple[bool, str]:
    n, b = m["n_seeds"], m["bonus"]
    ok = []
    parts = []
    for i in range(n):
        fp, ft = m[f"final_proxy_return_seed{i}"], m[f"final_true_return_seed{i}"]
        peak = m[f"peak_true_return_seed{i}"]
        ok.append(fp > 1 + b and ft < 0.5 and ft < peak)
        parts.append(f"seed {i}: final proxy {fp:.2f}, final true {ft:.2f}, peak true {peak:.2f}")
    return all(ok), (
        "; ".join(parts) + f" (intended policy: proxy {1 + b:.2f}, true 1.00; holds if on every "
        "seed the final proxy return beats the intended policy's while the final true return "
        "is below 0.5 and below its peak during training)"
    )


CLAIMS = (
    Claim(
        "proxy-reward-is-hacked",
        "An agent trained on a misspecified proxy reward (a respawning bonus tile next to "
        "the goal) learns to farm the bonus: its proxy return rises above that of the "
        "intended behaviour while its true return (reaching the goal) falls.",
        _hacked,
        "hacking_returns.png",
    ),
)


@experiment(
    "reward-hacking",
    topic="rl",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Amodei et al. 2016, arXiv:1606.06565; Skalse et al. 2022, arXiv:2209.13085",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """PPO on a gridworld with a respawning proxy bonus: proxy vs true return."""
    metrics: dict[str, Any] = {"n_seeds": cfg.n_seeds, "bonus": cfg.bonus}
    curves: dict[str, tuple[list[float], list[float]]] = {}
    model = None
    for i in range(cfg.n_seeds):
        with ctx.child(f"seed{i}", seed=ctx.seed + i) as sub, single_thread():
            task = train_seed(cfg, sub, ctx.seed + i)
        model = model or task.agent
        eps = task.episodes
        proxy = [e["return"] for e in eps]
        true = [e["true_reward"] for e in eps]
        k = max(1, int(cfg.final_fraction * len(eps)))
        w = max(1, len(eps) // 20)
        metrics[f"final_proxy_return_seed{i}"] = statistics.fmean(proxy[-k:]) if eps else 0.0
        metrics[f"final_true_return_seed{i}"] = statistics.fmean(true[-k:]) if eps else 0.0
        metrics[f"peak_true_return_seed{i}"] = max(_window_means(true, w)) if eps else 0.0
        metrics[f"episodes_seed{i}"] = len(eps)
        xs = [e["env_step"] for e in eps]
        curves[f"proxy, seed {i}"] = (xs, smooth(proxy, 50))
        curves[f"true, seed {i}"] = (xs, smooth(true, 50))
    plot = plot_xy(ctx.path("hacking_returns.png"), curves, xlabel="environment steps",
                   ylabel="return per episode (50-episode mean)",
                   title=f"PPO on the proxy reward (bonus {cfg.bonus})",
                   hline=1 + cfg.bonus)  # fmt: skip
    return Result(metrics=metrics, model=model, plots=[plot])
