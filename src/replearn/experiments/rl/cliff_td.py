"""Experiment ``cliff-td``: Q-learning vs SARSA on CliffWalking (Sutton & Barto, Example 6.6).

    replearn run cliff-td

Both learn with the same ε-greedy behaviour (ε fixed) and step size. Q-learning's target
uses the greedy next action, so it learns the values of the optimal policy, which walks
along the cliff edge (13 steps, return -13) and, while exploring, falls off now and then;
SARSA's target uses the action actually taken, so it learns the values of the ε-greedy
policy and prefers a path away from the edge. Hence the classic picture: SARSA has the
higher *online* return during learning, Q-learning the better *greedy* policy.

The online-return claim compares two stochastic procedures, so it is judged over the
``n_seeds`` seeds with :func:`replearn.experiments.stats.compare_seeds` (paired by seed: the
one-sided 95% Student-t lower bound of the mean SARSA - Q-learning difference must be above
zero); the greedy-path claim is checked on every seed.

Tabular TD has no gradient step, so the episodes run in :func:`replearn.rl.tabular.run_episode`
(no engine loop). Writes ``cliff_returns.png`` (online return per episode, mean over seeds,
smoothed) and ``cliff_paths.png`` (each method's greedy path, seed 0).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from replearn.engine import RunContext
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.rl.common import smooth
from replearn.experiments.stats import MIN_SEEDS, compare_seeds, too_few_seeds
from replearn.report.plots import DPI, line_plot, save_figure
from replearn.rl.mdp import TabularMDP, from_gymnasium
from replearn.rl.tabular import TabularTD, run_episode

METHODS = ("q_learning", "sarsa")


@dataclass(frozen=True)
class Config:
    """Settings of the cliff-walking comparison.

    Attributes:
        episodes: training episodes per method and seed.
        n_seeds: independent runs (seeds ``seed .. seed + n_seeds - 1``).
        alpha: TD step size.
        eps: exploration rate of the ε-greedy behaviour (fixed).
        gamma: discount (1: undiscounted, as in the book).
        last: episodes at the end over which the online return is averaged.
        max_steps: step limit of an episode (a safety cap).
    """

    episodes: int = 500
    n_seeds: int = 5
    alpha: float = 0.5
    eps: float = 0.1
    gamma: float = 1.0
    last: int = 100
    max_steps: int = 1000

    def __post_init__(self) -> None:
        if self.n_seeds < 1 or self.episodes < self.last or self.last < 1:
            raise ValueError("need n_seeds >= 1 and episodes >= last >= 1")


def tiny() -> Config:
    """Seconds: three seeds (the verdict's minimum), 60 episodes."""
    return Config(episodes=60, n_seeds=3, last=20)


def quick() -> Config:
    """The default (a few seconds)."""
    return Config()


def greedy_path(agent: TabularTD, mdp: TabularMDP, limit: int = 100) -> tuple[list[int], float]:
    """States visited by the greedy policy from the start, and its return."""
    s, total, path = int(mdp.mu.argmax()), 0.0, []
    rng = np.random.default_rng(0)  # CliffWalking is deterministic; unused randomness
    for _ in range(limit):
        path.append(s)
        s, r, done = mdp.step(s, int(agent.Q[s].argmax()), rng)
        total += r
        if done:
            path.append(s)
            break
    return path, total


def _plot_paths(path: Any, paths: dict[str, list[int]], shape: tuple[int, int]) -> Any:
    rows, cols = shape
    fig, ax = plt.subplots(figsize=(7.0, 2.8), dpi=DPI)
    cliff = np.zeros((rows, cols))
    cliff[rows - 1, 1 : cols - 1] = 1
    ax.imshow(cliff, cmap="Greys", vmin=0, vmax=2)
    for (name, p), dy in zip(paths.items(), (-0.12, 0.12), strict=False):
        ys = [s // cols + dy for s in p]
        xs = [s % cols for s in p]
        ax.plot(xs, ys, marker="o", markersize=3, label=name)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize="small", loc="upper left")
    ax.set_title("greedy paths after training (grey: the cliff)", fontsize="medium")
    fig.tight_layout()
    return save_figure(fig, path)


def _paths_claim(m: dict[str, Any]) -> tuple[bool, str]:
    q = [m[f"greedy_return_q_learning_seed{i}"] for i in range(m["n_seeds"])]
    s = [m[f"greedy_return_sarsa_seed{i}"] for i in range(m["n_seeds"])]
    holds = all(x == m["optimal_return"] for x in q) and all(x < m["optimal_return"] for x in s)
    return holds, (
        f"greedy return per seed: Q-learning {q}, SARSA {s}; optimal {m['optimal_return']}"
    )


def _online_claim(m: dict[str, Any]) -> tuple[bool, str]:
    n, last = m["n_seeds"], m["last"]
    if (why := too_few_seeds(n)) is not None:
        return False, why
    c = compare_seeds(
        [m[f"online_return_sarsa_seed{i}"] for i in range(n)],
        [m[f"online_return_q_learning_seed{i}"] for i in range(n)],
        label_x="SARSA",
        label_y="Q-learning",
    )
    return c.holds, (
        f"mean online return over the last {last} episodes: SARSA "
        f"{m['online_return_sarsa']:.1f}, Q-learning {m['online_return_q_learning']:.1f}; "
        f"{c.evidence()}"
    )


CLAIMS = (
    Claim(
        "qlearning-optimal-sarsa-safe",
        "With the same ε-greedy behaviour, Q-learning's greedy policy takes the optimal "
        "path along the cliff edge while SARSA's greedy policy takes a longer, safer path "
        "(every seed).",
        _paths_claim,
        "cliff_paths.png",
    ),
    Claim(
        "sarsa-higher-online-return",
        "During learning with fixed ε, SARSA earns a higher online return than Q-learning "
        "(Q-learning's exploratory steps near the edge fall off the cliff), over >= 3 seeds "
        "(paired by seed, 95% lower bound of the mean difference above 0).",
        _online_claim,
        "cliff_returns.png",
    ),
)


@experiment(
    "cliff-td",
    topic="rl",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Watkins & Dayan 1992; Rummery & Niranjan 1994; Sutton & Barto 2018, Example 6.6",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Q-learning vs SARSA on CliffWalking: online returns and greedy paths."""
    mdp = from_gymnasium("CliffWalking-v1")
    metrics: dict[str, Any] = {"n_seeds": cfg.n_seeds, "last": cfg.last, "optimal_return": -13.0}
    curves: dict[str, list[list[float]]] = {m: [] for m in METHODS}
    paths: dict[str, list[int]] = {}
    online: dict[str, list[float]] = {m: [] for m in METHODS}
    for i in range(cfg.n_seeds):
        for method in METHODS:
            rng = np.random.default_rng([ctx.seed + i, METHODS.index(method)])
            agent = TabularTD(mdp.n_states, mdp.n_actions, method=method, alpha=cfg.alpha,
                              gamma=cfg.gamma, eps=cfg.eps)  # fmt: skip
            rets = [run_episode(agent, mdp, rng, max_steps=cfg.max_steps)[0]
                    for _ in range(cfg.episodes)]  # fmt: skip
            curves[method].append(rets)
            online[method].append(statistics.fmean(rets[-cfg.last :]))
            metrics[f"online_return_{method}_seed{i}"] = online[method][-1]
            path, g = greedy_path(agent, mdp)
            metrics[f"greedy_return_{method}_seed{i}"] = g
            if i == 0:
                paths[method] = path
    for method in METHODS:
        metrics[f"online_return_{method}"] = statistics.fmean(online[method])
    if cfg.n_seeds >= MIN_SEEDS:
        c = compare_seeds(online["sarsa"], online["q_learning"], label_x="SARSA",
                          label_y="Q-learning")  # fmt: skip
        metrics["online_comparison"] = c.as_dict()
    mean_curves = {m: smooth(np.mean(curves[m], 0).tolist(), 10) for m in METHODS}
    for ep in range(0, cfg.episodes, max(cfg.episodes // 50, 1)):
        ctx.log(ep, **{f"online_return_{m}": mean_curves[m][ep] for m in METHODS})
    plots = [
        line_plot(
            list(range(1, cfg.episodes + 1)),
            {"Q-learning": mean_curves["q_learning"], "SARSA": mean_curves["sarsa"]},
            ctx.path("cliff_returns.png"),
            xlabel="episode",
            ylabel=f"online return (mean of {cfg.n_seeds} seeds, 10-episode average)",
            title=f"CliffWalking, ε = {cfg.eps}, α = {cfg.alpha}",
        ),
        _plot_paths(ctx.path("cliff_paths.png"), paths, mdp.shape or (4, 12)),
    ]
    return Result(metrics=metrics, plots=plots)
