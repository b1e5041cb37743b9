"""Experiment ``ppo-clip-kl``: how far does one PPO update move the policy, with and without
the clipped surrogate?

    replearn run ppo-clip-kl

PPO (:mod:`replearn.rl.ppo`) is trained on CartPole-v1 twice per seed with everything
equal (rollouts, epochs, minibatches, learning rate, advantage normalization, gradient
clipping) except the policy objective: the clipped surrogate :math:`L^{CLIP}` with
:math:`\\epsilon` = ``clip``, or the unclipped importance-weighted surrogate
:math:`\\hat{\\mathbb E}[\\rho_t \\hat A_t]`. After each update the policy change is
measured on that update's rollout: the k3 estimate of :math:`\\mathrm{KL}(\\pi_{old}\\|\\pi_{new})`
and the largest :math:`|\\rho - 1|`.

The KL claim compares two stochastic procedures, so it is judged over the ``n_seeds`` seeds
with :func:`replearn.experiments.stats.compare_seeds` on the log of the mean KL per update,
paired by seed (the two objectives share each seed's initialization and environment seeds):
the one-sided 95% Student-t lower bound of the mean log reduction must be above zero. The
"does not bound" claim is checked on every seed.

Writes ``ppo_kl_per_update.png`` (KL per update, every seed, both objectives, log scale).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import matplotlib.pyplot as plt

from replearn.engine import EngineConfig, RunContext
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import engine_config
from replearn.experiments.rl import ppo_cartpole
from replearn.experiments.stats import MIN_SEEDS, compare_seeds, too_few_seeds
from replearn.report.plots import DPI, save_figure

_engine = partial(engine_config, 1, 1, log_every=5, checkpoint_every=50, grad_clip_norm=0.5)


@dataclass(frozen=True)
class Config:
    """Settings of the clipping ablation (each field as in ``ppo-cartpole``).

    Attributes:
        env_id: gymnasium environment.
        total_env_steps: environment steps per run.
        n_seeds: seeds; each trains both objectives.
        n_envs: parallel environments.
        n_steps: rollout length per environment.
        minibatch_size: samples per gradient step.
        epochs: passes over each rollout (many, so that the objectives can differ).
        lr: Adam learning rate (constant).
        clip: the clipped variant's epsilon.
        engine: training-loop settings.
    """

    env_id: str = "CartPole-v1"
    total_env_steps: int = 20_480
    n_seeds: int = 3
    n_envs: int = 4
    n_steps: int = 128
    minibatch_size: int = 64
    epochs: int = 10
    lr: float = 3e-4
    clip: float = 0.2
    engine: EngineConfig = field(default_factory=_engine)


def tiny() -> Config:
    """Seconds: one seed, two updates per objective."""
    return Config(total_env_steps=256, n_seeds=1, n_steps=64, epochs=1)


def quick() -> Config:
    """Seconds: three seeds, 1,024 steps, 4 epochs (a smoke check)."""
    return Config(total_env_steps=1_024, epochs=4)


def _ppo_cfg(cfg: Config, clip: float | None) -> ppo_cartpole.Config:
    return ppo_cartpole.Config(
        env_id=cfg.env_id, total_env_steps=cfg.total_env_steps, n_seeds=1, n_envs=cfg.n_envs,
        n_steps=cfg.n_steps, minibatch_size=cfg.minibatch_size, epochs=cfg.epochs, lr=cfg.lr,
        gamma=0.99, gae_lambda=0.95, clip=clip, anneal_clip=False, eval_episodes=0,
        engine=cfg.engine,
    )  # fmt: skip


def _comparison(m: dict[str, Any]) -> Any:
    """compare_seeds of log mean KL per update, paired by seed: unclipped's minus clipped's
    (positive: the clipped surrogate moves the policy less)."""
    n = m["n_seeds"]
    return compare_seeds(
        [math.log(m[f"kl_unclipped_seed{i}"]) for i in range(n)],
        [math.log(m[f"kl_clipped_seed{i}"]) for i in range(n)],
        label_x="log KL unclipped",
        label_y="log KL clipped",
    )


def _smaller(m: dict[str, Any]) -> tuple[bool, str]:
    n = m["n_seeds"]
    if (why := too_few_seeds(n)) is not None:
        return False, why
    c = _comparison(m)
    return c.holds, (
        f"mean KL per update: clipped {m['kl_clipped']:.4f}, unclipped {m['kl_unclipped']:.4f}; "
        f"{c.evidence()}"
    )


def _not_bounded(m: dict[str, Any]) -> tuple[bool, str]:
    eps = m["clip"]
    devs = [m[f"max_ratio_dev_clipped_seed{i}"] for i in range(m["n_seeds"])]
    holds = all(d > eps for d in devs)
    return holds, (
        f"with clip {eps}: largest |ratio - 1| after an update per seed "
        f"{', '.join(f'{d:.2f}' for d in devs)}; largest KL per update "
        f"{m['kl_clipped_max']:.4f}; mean fraction of samples outside the clip range "
        f"after the update {m['outside_fraction_clipped']:.3f}"
    )


CLAIMS = (
    Claim(
        "ppo-clip-smaller-kl",
        "With the same epochs and minibatches, PPO's clipped surrogate keeps the policy "
        "change per update (KL between successive policies) smaller than the unclipped "
        "surrogate (log mean KL paired over >= 3 seeds, 95% lower bound of the reduction "
        "above 0).",
        _smaller,
        "ppo_kl_per_update.png",
    ),
    Claim(
        "ppo-clip-does-not-bound-kl",
        "Clipping does not strictly bound the policy change: after an update some "
        "probability ratios lie outside [1 - eps, 1 + eps] (so neither the ratio nor the KL "
        "is capped; clipping only removes the incentive to move further).",
        _not_bounded,
        "ppo_kl_per_update.png",
    ),
)


def _plot(path: Any, kls: dict[str, list[list[float]]]) -> Any:
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=DPI)
    for (name, runs), color in zip(kls.items(), ("tab:blue", "tab:red"), strict=True):
        for i, ys in enumerate(runs):
            ax.semilogy(range(1, len(ys) + 1), [max(y, 1e-8) for y in ys], color=color,
                        alpha=0.7, label=name if i == 0 else None)  # fmt: skip
    ax.set_xlabel("update")
    ax.set_ylabel("KL(old || new) on the update's rollout (k3)")
    ax.set_title("Policy change per PPO update", fontsize="medium")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


@experiment(
    "ppo-clip-kl",
    topic="rl",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Schulman et al. 2017, arXiv:1707.06347; Engstrom et al. 2020, arXiv:2005.12729",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """PPO with and without clipping: KL per update and ratios outside the clip range."""
    metrics: dict[str, Any] = {"n_seeds": cfg.n_seeds, "clip": cfg.clip}
    kls: dict[str, list[list[float]]] = {"clipped": [], "unclipped": []}
    outside = []  # per clipped run, mean outside_after
    for i in range(cfg.n_seeds):
        for name, clip in (("clipped", cfg.clip), ("unclipped", None)):
            with ctx.child(f"{name}_seed{i}", seed=ctx.seed + i) as sub, single_thread():
                task, _ = ppo_cartpole.train_ppo(_ppo_cfg(cfg, clip), sub, ctx.seed + i)
            kl = [u["kl_after"] for u in task.update_history]
            kls[name].append(kl)
            metrics[f"kl_{name}_seed{i}"] = statistics.fmean(kl)
            metrics[f"max_ratio_dev_{name}_seed{i}"] = max(
                u["max_ratio_dev"] for u in task.update_history
            )
            if name == "clipped":
                metrics[f"kl_clipped_max_seed{i}"] = max(kl)
                outside.append(statistics.fmean(u["outside_after"] for u in task.update_history))
    for name in kls:
        metrics[f"kl_{name}"] = statistics.fmean(metrics[f"kl_{name}_seed{i}"]
                                                 for i in range(cfg.n_seeds))  # fmt: skip
    metrics["kl_clipped_max"] = max(metrics[f"kl_clipped_max_seed{i}"] for i in range(cfg.n_seeds))
    if cfg.n_seeds >= MIN_SEEDS:
        metrics["kl_comparison"] = _comparison(metrics).as_dict()
    metrics["outside_fraction_clipped"] = statistics.fmean(outside)
    plot = _plot(ctx.path("ppo_kl_per_update.png"), kls)
    return Result(metrics=metrics, plots=[plot])
