"""Experiment ``dqn-target-network``: DQN with and without a target network.

    replearn run dqn-target-network

Per seed, DQN (:mod:`replearn.rl.dqn`, RL-zoo's CartPole settings as in ``dqn-cartpole``
but a 64-64 Q-network and 30k steps)
is trained twice with everything equal except the bootstrap target: from a target network
refreshed every ``target_update_interval`` environment steps (so it stays frozen during
each phase of ``gradient_steps`` updates), or from the online network itself at every
gradient step. Stability is measured on the training episodes (ε-greedy behaviour): the
mean return over the second half of training, and how far the return falls from its best
20-episode window to the end (a collapse). Both parts of the claim are judged over the
``n_seeds`` seeds with :func:`replearn.experiments.stats.compare_seeds`, paired by seed (the
two variants share each seed's initialization and environment seeds): the one-sided 95%
Student-t lower bound of the mean difference must be above zero for the second-half return
(higher with the target) and for the drop (smaller with the target).

Writes ``dqn_target_returns.png`` (training returns of every run, smoothed).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field, replace
from typing import Any

from replearn.engine import RunContext
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.rl import dqn_cartpole
from replearn.experiments.rl.common import episode_curve, plot_xy
from replearn.experiments.stats import MIN_SEEDS, SeedComparison, compare_seeds, too_few_seeds

VARIANTS = (("target", True), ("no_target", False))


@dataclass(frozen=True)
class Config:
    """Settings of the target-network ablation.

    Attributes:
        total_env_steps: environment steps per run.
        n_seeds: seeds; each trains both variants.
        target_update_interval: environment steps between target copies (with target).
        eval_episodes: greedy evaluation episodes at the end of each run.
        dqn: the remaining DQN settings: ``dqn-cartpole``'s defaults with a 64-64 Q-network
            (stable-baselines3's default size, not RL-zoo's 256-256) so that the six runs
            take minutes on 2 CPU cores.
    """

    total_env_steps: int = 30_000
    n_seeds: int = 3
    target_update_interval: int = 10
    eval_episodes: int = 20
    dqn: dqn_cartpole.Config = field(
        default_factory=lambda: dqn_cartpole.Config(n_seeds=1, hidden=(64, 64))
    )


def tiny() -> Config:
    """Seconds: one seed, the tiny DQN."""
    small = replace(dqn_cartpole.tiny(), train_freq=64, gradient_steps=2, learning_starts=64)
    return Config(total_env_steps=128, n_seeds=1, eval_episodes=1, dqn=small)


def quick() -> Config:
    """Seconds: three seeds, 800 steps each, 3 evaluation episodes (a smoke check)."""
    return Config(total_env_steps=800, eval_episodes=3)


def _run_cfg(cfg: Config, target: bool) -> dqn_cartpole.Config:
    return replace(cfg.dqn, total_env_steps=cfg.total_env_steps, n_seeds=1,
                   target_network=target, target_update_interval=cfg.target_update_interval,
                   eval_episodes=cfg.eval_episodes)  # fmt: skip


def _comparisons(m: dict[str, Any]) -> tuple[SeedComparison, SeedComparison]:
    """Per-seed comparisons: second-half return (higher is better), drop (lower is better)."""
    n = m["n_seeds"]

    def seeds(key: str, name: str) -> list[float]:
        return [m[f"{key}_{name}_seed{i}"] for i in range(n)]

    half = compare_seeds(seeds("second_half", "target"), seeds("second_half", "no_target"),
                         label_x="target", label_y="no target")  # fmt: skip
    drop = compare_seeds(seeds("drop", "target"), seeds("drop", "no_target"),
                         higher_is_better=False, label_x="target", label_y="no target")  # fmt: skip
    return half, drop


def _claim(m: dict[str, Any]) -> tuple[bool, str]:
    n = m["n_seeds"]
    if (why := too_few_seeds(n)) is not None:
        return False, why
    half, drop = _comparisons(m)
    return half.holds and drop.holds, (
        f"mean training return over the second half: with target {m['second_half_target']:.1f}, "
        f"without {m['second_half_no_target']:.1f}; {half.evidence()}. Mean drop from the best "
        f"20-episode window to the last: with {m['collapse_target']:.1f}, without "
        f"{m['collapse_no_target']:.1f}; smaller drop: {drop.evidence()}. Greedy evaluation: "
        f"with {m['eval_target']:.1f}, without {m['eval_no_target']:.1f} (holds if both bounds "
        "are above 0)"
    )


CLAIMS = (
    Claim(
        "target-network-stabilizes-dqn",
        "A target network stabilizes DQN: with it, the training return over the second half "
        "of training is higher and falls less from its best level than when bootstrapping "
        "from the online network (each paired over >= 3 seeds, 95% lower bound of the "
        "difference above 0).",
        _claim,
        "dqn_target_returns.png",
    ),
)


def _windows(xs: list[float], w: int = 20) -> list[float]:
    return [statistics.fmean(xs[i : i + w]) for i in range(0, max(len(xs) - w + 1, 1))]


@experiment(
    "dqn-target-network",
    topic="rl",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Mnih et al. 2015, Nature 518 (Extended Data Table 3: without a target network)",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """DQN on CartPole with vs without a target network, several seeds."""
    metrics: dict[str, Any] = {"n_seeds": cfg.n_seeds}
    per: dict[str, dict[str, list[float]]] = {
        v: {"half": [], "drop": [], "eval": []} for v, _ in VARIANTS
    }
    curves = {}
    for i in range(cfg.n_seeds):
        for name, target in VARIANTS:
            with ctx.child(f"{name}_seed{i}", seed=ctx.seed + i) as sub, single_thread():
                task, ev, _ = dqn_cartpole.train_dqn(_run_cfg(cfg, target), sub, ctx.seed + i)
            rets = [e["return"] for e in task.episodes] or [0.0]
            half = statistics.fmean(rets[len(rets) // 2 :])
            w = _windows(rets)
            drop = max(w) - w[-1]
            per[name]["half"].append(half)
            per[name]["drop"].append(drop)
            per[name]["eval"].append(float(ev.get("eval_return", float("nan"))))
            metrics[f"second_half_{name}_seed{i}"] = half
            metrics[f"drop_{name}_seed{i}"] = drop
            curves[f"{name}, seed {i}"] = episode_curve(task.episodes)
    for name, _ in VARIANTS:
        metrics[f"second_half_{name}"] = statistics.fmean(per[name]["half"])
        metrics[f"collapse_{name}"] = statistics.fmean(per[name]["drop"])
        metrics[f"eval_{name}"] = statistics.fmean(per[name]["eval"])
    if cfg.n_seeds >= MIN_SEEDS:
        half, drop = _comparisons(metrics)
        metrics["second_half_comparison"] = half.as_dict()
        metrics["drop_comparison"] = drop.as_dict()
    plot = plot_xy(ctx.path("dqn_target_returns.png"), curves, xlabel="environment steps",
                   ylabel="training episode return (20-episode mean)",
                   title="DQN with and without a target network")  # fmt: skip
    return Result(metrics=metrics, plots=[plot])
