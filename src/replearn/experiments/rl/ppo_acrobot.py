"""Experiment ``ppo-acrobot``: PPO on Acrobot-v1 with CleanRL's ``ppo.py`` defaults.

    replearn run ppo-acrobot                       # 3 seeds x 500k environment steps
    replearn run ppo-acrobot --preset quick        # 1 seed x 100k

Same code path as ``ppo-cartpole`` (:func:`replearn.experiments.rl.common.run_seeds`)
with CleanRL's settings: 4 environments x 128 steps, 4 epochs of 4 minibatches, learning
rate 2.5e-4 decaying linearly, clip 0.2 (constant), clipped value loss, entropy 0.01,
gamma 0.99, lambda 0.95, gradient norm 0.5. For orientation, CleanRL reports a mean
episodic return of about -86 for ``ppo.py`` on Acrobot-v1 after 500k steps (an average
over the training episodes at the end, not a greedy evaluation as here).
Writes ``ppo_returns.png``; ``result.json`` as ``ppo-cartpole``'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from replearn.engine import RunContext
from replearn.experiments.base import Result, experiment
from replearn.experiments.rl import ppo_cartpole
from replearn.experiments.rl.common import run_seeds


@dataclass(frozen=True)
class Config(ppo_cartpole.Config):
    """``ppo-cartpole``'s settings (see there for every field) with CleanRL's Acrobot
    defaults: env_id, total_env_steps, n_envs, n_steps, minibatch_size, epochs, lr, gamma,
    gae_lambda, anneal_clip, clip_value, ent_coef."""

    env_id: str = "Acrobot-v1"
    total_env_steps: int = 500_000
    n_envs: int = 4
    n_steps: int = 128
    minibatch_size: int = 128
    epochs: int = 4
    lr: float = 2.5e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    anneal_clip: bool = False
    clip_value: float | None = 0.2
    ent_coef: float = 0.01


def tiny() -> Config:
    """Seconds: one seed, one update, a 1-episode evaluation."""
    return Config(n_seeds=1, total_env_steps=512, epochs=1, eval_episodes=1)


def quick() -> Config:
    """One seed, 100k steps."""
    return Config(n_seeds=1, total_env_steps=100_000)


@experiment(
    "ppo-acrobot",
    topic="rl",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    paper="Schulman et al. 2017, arXiv:1707.06347; CleanRL ppo.py defaults",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """PPO on Acrobot-v1 (CleanRL defaults), several seeds, greedy evaluation."""
    return run_seeds("ppo", ppo_cartpole.train_ppo, cfg, ctx, lambda t: t.agent)
