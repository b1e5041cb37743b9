"""Experiment ``dqn-acrobot``: DQN on Acrobot-v1 with CleanRL's ``dqn.py`` defaults.

    replearn run dqn-acrobot                       # 3 seeds x 500k environment steps
    replearn run dqn-acrobot --preset quick        # 1 seed x 100k

Same code path as ``dqn-cartpole`` with CleanRL's settings: Q-network 120-84 (ReLU),
learning rate 2.5e-4, replay 10k, batch 128, a gradient step every 10 environment steps
after 10k, target copied every 500 steps, ε from 1 to 0.05 over half the budget, no
gradient clipping. For orientation, CleanRL reports a mean episodic return of about -92
for ``dqn.py`` on Acrobot-v1 after 500k steps (training episodes, not a greedy
evaluation as here). Writes ``dqn_returns.png``; ``result.json`` as ``dqn-cartpole``'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from replearn.engine import EngineConfig, RunContext
from replearn.experiments.base import Result, experiment
from replearn.experiments.common import engine_config
from replearn.experiments.rl import dqn_cartpole
from replearn.experiments.rl.common import run_seeds

_engine = partial(engine_config, 1, 1, log_every=100, checkpoint_every=2000)


@dataclass(frozen=True)
class Config(dqn_cartpole.Config):
    """``dqn-cartpole``'s settings (see there for every field) with CleanRL's Acrobot
    defaults: env_id, total_env_steps, lr, buffer_size, batch_size, learning_starts,
    train_freq, gradient_steps, target_update_interval, exploration_fraction, eps_end,
    hidden, engine (no gradient clipping)."""

    env_id: str = "Acrobot-v1"
    total_env_steps: int = 500_000
    lr: float = 2.5e-4
    buffer_size: int = 10_000
    batch_size: int = 128
    learning_starts: int = 10_000
    train_freq: int = 10
    gradient_steps: int = 1
    target_update_interval: int = 500
    exploration_fraction: float = 0.5
    eps_end: float = 0.05
    hidden: tuple[int, ...] = (120, 84)
    engine: EngineConfig = field(default_factory=_engine)


def tiny() -> Config:
    """Seconds: one seed, a few updates, a 1-episode evaluation."""
    return Config(n_seeds=1, total_env_steps=200, learning_starts=100, eval_episodes=1)


def quick() -> Config:
    """One seed, 100k steps."""
    return Config(n_seeds=1, total_env_steps=100_000)


@experiment(
    "dqn-acrobot",
    topic="rl",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    paper="Mnih et al. 2015, Nature 518; CleanRL dqn.py defaults",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """DQN on Acrobot-v1 (CleanRL defaults), several seeds, greedy evaluation."""
    return run_seeds("dqn", dqn_cartpole.train_dqn, cfg, ctx, lambda t: t.q)
