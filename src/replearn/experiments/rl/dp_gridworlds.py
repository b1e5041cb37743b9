"""Experiment ``dp-gridworlds``: value iteration and policy iteration on FrozenLake and
CliffWalking, and the optimality of the greedy policy of Q* by exhaustive search.

    replearn run dp-gridworlds

Value iteration applies the Bellman optimality operator until the values move by less
than ``tol`` (sup norm); policy iteration alternates exact evaluation (a linear solve)
and greedy improvement until the policy is stable (:mod:`replearn.rl.dp`). Both start
from zero / "always action 0". The iteration counts are compared per world: a VI
iteration is one sweep of :math:`T^*`, a PI iteration one evaluation plus improvement
(each far more expensive than a sweep; the claim is about iterations, as the course
states it). The greedy policy of VI's Q* is then compared with every deterministic policy
of small MDPs (a 2x3 grid, a slippery 5-state chain, a two-state MDP) by exact
evaluation.

No training, so no engine loop: dynamic programming needs no gradient steps.
Writes ``dp_values.png`` (V* heatmaps with the greedy actions) and
``dp_convergence.png`` (sup-norm change per VI sweep, PI's policy changes).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import torch

from replearn.engine import RunContext
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.report.plots import DPI, save_figure
from replearn.rl.dp import (
    bellman_optimality,
    policy_evaluation_exact,
    policy_iteration,
    value_iteration,
)
from replearn.rl.mdp import TabularMDP, chain_mdp, from_gymnasium, gridworld_mdp, two_state_mdp

ARROWS = "↑→↓←"  # CliffWalking's action order (up, right, down, left)
FROZEN_ARROWS = "←↓→↑"  # FrozenLake's (left, down, right, up)


@dataclass(frozen=True)
class Config:
    """Settings of the dynamic-programming experiment.

    Attributes:
        envs: gymnasium toy-text worlds to solve.
        gamma: discount (< 1 so that every policy, even one that never ends, has a value).
        tol: value iteration stops when a sweep changes V by less than this.
        frozen_slippery: FrozenLake's stochastic ice.
        exhaustive_grid: (rows, cols) of the small grid searched exhaustively (4^(rows*cols)
            deterministic policies).
    """

    envs: tuple[str, ...] = ("FrozenLake-v1", "CliffWalking-v1")
    gamma: float = 0.95
    tol: float = 1e-8
    frozen_slippery: bool = True
    exhaustive_grid: tuple[int, int] = (2, 3)

    def __post_init__(self) -> None:
        if not 0 < self.gamma < 1:
            raise ValueError(f"gamma must be in (0, 1), got {self.gamma}")


def tiny() -> Config:
    """Seconds (the whole experiment is fast)."""
    return Config(tol=1e-6, exhaustive_grid=(2, 2))


def quick() -> Config:
    """The default."""
    return Config()


def _vi_trace(mdp: TabularMDP, gamma: float, tol: float) -> list[float]:
    V = torch.zeros(mdp.n_states, dtype=torch.float64)
    deltas = []
    while True:
        V_new = bellman_optimality(mdp, V, gamma)
        deltas.append(float((V_new - V).abs().max()))
        V = V_new
        if deltas[-1] < tol or len(deltas) > 100_000:
            return deltas


def _exhaustive_gap(mdp: TabularMDP, gamma: float) -> tuple[float, int]:
    """max over states of (best deterministic policy's value - V of greedy(Q*))."""
    _, pi, _ = value_iteration(mdp, gamma, tol=1e-13)
    v_greedy = policy_evaluation_exact(mdp, pi, gamma)
    best = torch.full((mdp.n_states,), -float("inf"), dtype=torch.float64)
    n = 0
    for acts in itertools.product(range(mdp.n_actions), repeat=mdp.n_states):
        det = torch.nn.functional.one_hot(torch.tensor(acts), mdp.n_actions).double()
        best = torch.maximum(best, policy_evaluation_exact(mdp, det, gamma))
        n += 1
    return float((best - v_greedy).max()), n


def _heatmaps(path: Any, solved: list[tuple[str, TabularMDP, torch.Tensor, torch.Tensor]]) -> Any:
    fig, axes = plt.subplots(1, len(solved), figsize=(5.2 * len(solved), 3.4), dpi=DPI)
    axes = [axes] if len(solved) == 1 else list(axes)
    for ax, (name, mdp, V, pi) in zip(axes, solved, strict=True):
        rows, cols = mdp.shape or (1, mdp.n_states)
        grid = V.reshape(rows, cols).numpy()
        im = ax.imshow(grid, cmap="viridis")
        arrows = FROZEN_ARROWS if name.startswith("FrozenLake") else ARROWS
        for s in range(mdp.n_states):
            r, c = divmod(s, cols)
            ax.text(c, r, arrows[int(pi[s].argmax())], ha="center", va="center",
                    color="w", fontsize=9)  # fmt: skip
        ax.set_title(f"{name}: V* and greedy actions", fontsize="small")
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.03)
    fig.tight_layout()
    return save_figure(fig, path)


def _convergence(path: Any, traces: dict[str, list[float]], pi_iters: dict[str, int]) -> Any:
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=DPI)
    for name, d in traces.items():
        line = ax.semilogy(range(1, len(d) + 1), [max(x, 1e-16) for x in d], label=f"VI {name}")
        ax.axvline(pi_iters[name], color=line[0].get_color(), linestyle="--",
                   label=f"PI {name}: {pi_iters[name]} iterations")  # fmt: skip
    ax.set_xlabel("iteration")
    ax.set_ylabel("sup-norm change of V per VI sweep")
    ax.set_title("Value iteration sweeps vs policy iteration steps", fontsize="medium")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


def _fewer(m: dict[str, Any]) -> tuple[bool, str]:
    names = m["worlds"].split(",")
    holds = all(m[f"pi_iterations_{n}"] < m[f"vi_iterations_{n}"] for n in names)
    parts = [f"{n}: PI {m[f'pi_iterations_{n}']} vs VI {m[f'vi_iterations_{n}']}" for n in names]
    return holds, "; ".join(parts) + f" (VI tolerance {m['tol']:g}, gamma {m['gamma']})"


def _greedy_optimal(m: dict[str, Any]) -> tuple[bool, str]:
    holds = m["exhaustive_max_gap"] <= 1e-9 and m["vi_pi_max_value_gap"] <= 1e-6
    return holds, (
        f"greedy policy of Q* vs the best of {m['exhaustive_policies']} deterministic "
        f"policies on 3 small MDPs: largest value gap {m['exhaustive_max_gap']:.2e}; "
        f"VI vs PI values on the gymnasium worlds differ by at most "
        f"{m['vi_pi_max_value_gap']:.2e}"
    )


CLAIMS = (
    Claim(
        "pi-fewer-iterations-than-vi",
        "Policy iteration converges in fewer iterations than value iteration (on FrozenLake "
        "and CliffWalking, from the same start).",
        _fewer,
        "dp_convergence.png",
    ),
    Claim(
        "greedy-q-star-is-optimal",
        "The greedy policy of Q* is optimal: no deterministic policy has a higher value in "
        "any state (exhaustive exact evaluation on small MDPs).",
        _greedy_optimal,
        "dp_values.png",
    ),
)


@experiment(
    "dp-gridworlds",
    topic="rl",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Bellman 1957; Howard 1960; Sutton & Barto 2018, Ch. 4",
)
@single_thread()  # tiny tensors: a second thread only adds synchronisation
def run(cfg: Config, ctx: RunContext) -> Result:
    """Value and policy iteration on FrozenLake and CliffWalking; greedy Q* optimality."""
    metrics: dict[str, Any] = {"gamma": cfg.gamma, "tol": cfg.tol}
    solved, traces, pi_iters, names = [], {}, {}, []
    gap_vi_pi = 0.0
    for env_id in cfg.envs:
        kw = {"is_slippery": cfg.frozen_slippery} if env_id.startswith("FrozenLake") else {}
        mdp = from_gymnasium(env_id, **kw)
        name = env_id.split("-")[0]
        names.append(name)
        V_vi, pi_vi, k_vi = value_iteration(mdp, cfg.gamma, tol=cfg.tol)
        V_pi, _, k_pi = policy_iteration(mdp, cfg.gamma)
        traces[name] = _vi_trace(mdp, cfg.gamma, cfg.tol)
        pi_iters[name] = k_pi
        gap_vi_pi = max(gap_vi_pi, float((V_vi - V_pi).abs().max()))
        metrics[f"vi_iterations_{name}"] = k_vi
        metrics[f"pi_iterations_{name}"] = k_pi
        start = int(mdp.mu.argmax())
        metrics[f"v_star_start_{name}"] = float(V_pi[start])
        solved.append((env_id, mdp, V_pi, pi_vi))
    metrics["worlds"] = ",".join(names)
    metrics["vi_pi_max_value_gap"] = gap_vi_pi
    rows, cols = cfg.exhaustive_grid
    small = [gridworld_mdp(rows, cols, goal=(rows - 1, cols - 1)), chain_mdp(5, slip=0.2),
             two_state_mdp()]  # fmt: skip
    gaps = [_exhaustive_gap(m, cfg.gamma) for m in small]
    metrics["exhaustive_max_gap"] = max(g for g, _ in gaps)
    metrics["exhaustive_policies"] = sum(n for _, n in gaps)
    for step, (name, d) in enumerate(traces.items()):
        ctx.log(step, **{f"vi_final_delta_{name}": d[-1]})
    plots = [
        _heatmaps(ctx.path("dp_values.png"), solved),
        _convergence(ctx.path("dp_convergence.png"), traces, pi_iters),
    ]
    return Result(metrics=metrics, plots=plots)
