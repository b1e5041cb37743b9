"""Experiment ``perceptron``: what Rosenblatt's rule can and cannot learn.

1. A linearly separable 2-D data set (uniform points in [-1, 1]^2 labelled by a
   fixed hyperplane, points closer than ``margin`` to it removed) is learned
   exactly: the rule converges to training accuracy 1.0, within Novikoff's
   mistake bound (R / gamma)^2.
2. XOR is not linearly separable: after many epochs the perceptron still makes
   mistakes (at most 3 of the 4 points can be right).
3. The hyperplane it ends on depends on the order of the examples: the same data
   visited in ``n_orders`` random orders give different separators (angles
   between the normalized (w, b) vectors are measured).

Writes ``perceptron.png`` (boundaries for several orders, and the XOR failure).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import torch
from torch import Tensor

from replearn.engine.context import RunContext
from replearn.experiments.base import Claim, Result, experiment
from replearn.fundamentals.perceptron import (
    augment,
    novikoff_bound,
    perceptron_predict,
    perceptron_score,
    train_perceptron,
)
from replearn.report.plots import DPI, save_figure


@dataclass
class Config:
    """Settings of the perceptron experiment.

    Attributes:
        n_points: size of the separable 2-D training set.
        margin: points closer than this (Euclidean distance) to the true
            hyperplane are rejected, so the data have at least this margin.
        true_angle_deg: direction of the true normal vector w*, in degrees.
        true_bias: offset b* of the true hyperplane w*.x + b* = 0 (|w*| = 1).
        lr: learning rate eta of the update (with w0 = 0 it never changes the
            decisions, only the scale of (w, b)).
        max_epochs: epoch cap for the separable runs (they stop at convergence).
        xor_epochs: epochs the perceptron is trained on XOR.
        xor_shuffle: visit the 4 XOR points in a fresh random order every epoch (in
            the fixed order 00, 01, 10, 11 the rule returns to w = 0, b = 0 after
            each epoch, a degenerate cycle with no boundary to draw).
        n_orders: random visiting orders of the separable data compared in part 3.
        n_plot_orders: how many of those boundaries are drawn.
        distinct_decimals: two normalized solutions count as the same if they
            agree to this many decimals.
    """

    n_points: int = 100
    margin: float = 0.05
    true_angle_deg: float = 30.0
    true_bias: float = 0.1
    lr: float = 1.0
    max_epochs: int = 1000
    xor_epochs: int = 200
    xor_shuffle: bool = True
    n_orders: int = 20
    n_plot_orders: int = 6
    distinct_decimals: int = 9


def tiny() -> Config:
    """Seconds: a small data set, few orders, few XOR epochs."""
    return Config(n_points=30, xor_epochs=20, n_orders=4, n_plot_orders=3)


def quick() -> Config:
    """The claims at reduced cost."""
    return Config(n_points=60, xor_epochs=100, n_orders=10)


def separable_data(cfg: Config, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor, float]:
    """Uniform points in [-1, 1]^2 at distance >= ``margin`` from w*.x + b* = 0.

    Returns:
        x (N, 2) float64, y (N,) in {-1, +1}, w* (2,), b*.
    """
    angle = math.radians(cfg.true_angle_deg)
    w_star = torch.tensor([math.cos(angle), math.sin(angle)], dtype=torch.float64)
    kept: list[Tensor] = []
    count = 0
    while count < cfg.n_points:
        cand = 2 * torch.rand(4 * cfg.n_points, 2, generator=generator, dtype=torch.float64) - 1
        cand = cand[(cand @ w_star + cfg.true_bias).abs() >= cfg.margin]
        kept.append(cand)
        count += len(cand)
    x = torch.cat(kept)[: cfg.n_points]  # (N, 2)
    y = torch.where(x @ w_star + cfg.true_bias > 0, 1.0, -1.0).to(torch.float64)
    return x, y, w_star, cfg.true_bias


def xor_data() -> tuple[Tensor, Tensor]:
    """The four XOR points in {0, 1}^2 with labels +1 where exactly one input is 1."""
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([-1.0, 1.0, 1.0, -1.0], dtype=torch.float64)
    return x, y


def accuracy(x: Tensor, y: Tensor, w: Tensor, b: Tensor) -> float:
    """Fraction of points with the right decision."""
    return float((perceptron_predict(x, w, b) == y).double().mean())


def _unit(w: Tensor, b: Tensor) -> Tensor:
    """The augmented (w, b) scaled to unit norm: the hyperplane without its scale."""
    v = torch.cat([w, b.reshape(1)])
    return v / torch.linalg.vector_norm(v)


def _boundary(ax: Any, w: Tensor, b: Tensor, lim: tuple[float, float], **kwargs: Any) -> None:
    """Draw the line w.x + b = 0 inside the square ``lim`` x ``lim``."""
    grid = torch.linspace(lim[0], lim[1], 200, dtype=torch.float64)
    xx, yy = torch.meshgrid(grid, grid, indexing="xy")
    score = perceptron_score(torch.stack([xx, yy], -1).reshape(-1, 2), w, b).reshape(xx.shape)
    if score.min() < 0 < score.max():
        ax.contour(xx.numpy(), yy.numpy(), score.numpy(), levels=[0.0], **kwargs)


def _plot(
    path: Any, x: Tensor, y: Tensor, solutions: list[tuple[Tensor, Tensor]], xor: dict
) -> Any:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.0, 4.8), dpi=DPI)
    for label, marker, color in ((1.0, "o", "tab:blue"), (-1.0, "x", "tab:red")):
        pts = x[y == label]
        ax1.scatter(pts[:, 0], pts[:, 1], marker=marker, c=color, s=18, label=f"y = {label:+.0f}")
    colors = plt.get_cmap("tab10").colors
    for i, (w, b) in enumerate(solutions):
        _boundary(ax1, w, b, (-1.0, 1.0), colors=[colors[(i + 2) % 10]], linewidths=1.2)
    ax1.set(xlim=(-1, 1), ylim=(-1, 1), aspect="equal")
    ax1.set_title(f"separable: boundaries after {len(solutions)} data orders", fontsize="medium")
    ax1.legend(fontsize="small", loc="lower left")
    xo, yo = xor["x"], xor["y"]
    for label, marker, color in ((1.0, "o", "tab:blue"), (-1.0, "x", "tab:red")):
        pts = xo[yo == label]
        ax2.scatter(pts[:, 0], pts[:, 1], marker=marker, c=color, s=80, label=f"y = {label:+.0f}")
    _boundary(ax2, xor["w"], xor["b"], (-1.5, 2.0), colors=["k"], linewidths=1.2)
    w_txt = ", ".join(f"{v:g}" for v in xor["w"].tolist())
    ax2.text(
        0.25, 1.75, f"final w = ({w_txt}), b = {float(xor['b']):g}", ha="center", fontsize="small"
    )
    ax2.set(xlim=(-1.5, 2.0), ylim=(-1.5, 2.0), aspect="equal")
    ax2.set_title(
        f"XOR after {xor['epochs']} epochs: accuracy {xor['accuracy']:.2f}", fontsize="medium"
    )
    ax2.legend(fontsize="small", loc="lower right")
    fig.tight_layout()
    return save_figure(fig, path)


def _verdict_separable(m: dict[str, Any]) -> tuple[bool, str]:
    holds = m["separable_train_accuracy"] == 1.0 and bool(m["separable_converged"])
    return holds, (
        f"train accuracy {m['separable_train_accuracy']:.3f}, converged={m['separable_converged']} "
        f"after {m['separable_epochs']} epochs, {m['separable_mistakes']} mistakes"
    )


def _verdict_xor(m: dict[str, Any]) -> tuple[bool, str]:
    holds = m["xor_best_accuracy"] < 1.0 and not m["xor_converged"]
    return holds, (
        f"after {m['xor_epochs']} epochs ({m['xor_updates']} updates): final accuracy "
        f"{m['xor_train_accuracy']:.2f}, best of all visited hyperplanes "
        f"{m['xor_best_accuracy']:.2f}, mistakes in the last epoch "
        f"{m['xor_mistakes_last_epoch']}/4, an epoch without mistakes: {m['xor_converged']}"
    )


def _verdict_order(m: dict[str, Any]) -> tuple[bool, str]:
    holds = m["order_distinct_solutions"] >= 2 and m["order_angle_spread_deg"] >= 1.0
    return holds, (
        f"{m['order_distinct_solutions']} distinct hyperplanes from {m['order_runs']} orders "
        f"(all converged: {m['order_all_converged']}); max pairwise angle "
        f"{m['order_angle_spread_deg']:.2f} deg, mean angle to the mean direction "
        f"{m['order_mean_angle_deg']:.2f} deg; the line's normal direction spans "
        f"{m['order_normal_angle_range_deg']:.2f} deg and its offset b/|w| spans "
        f"{m['order_offset_range']:.3f} (true normal {m['true_angle_deg']:.0f} deg)"
    )


def _verdict_bound(m: dict[str, Any]) -> tuple[bool, str]:
    holds = m["order_max_mistakes"] <= m["novikoff_bound"]
    return holds, (
        f"max mistakes over {m['order_runs']} orders {m['order_max_mistakes']} "
        f"<= (R/gamma)^2 = {m['novikoff_bound']:.1f}"
    )


CLAIMS = (
    Claim(
        "perceptron-separable",
        "The perceptron learning rule converges on linearly separable data and then "
        "classifies every training point correctly.",
        _verdict_separable,
        "perceptron.png",
    ),
    Claim(
        "perceptron-xor-fails",
        "A perceptron cannot learn XOR: after many epochs its training accuracy is still "
        "below 1 (at most 3 of the 4 points).",
        _verdict_xor,
        "perceptron.png",
    ),
    Claim(
        "perceptron-order-dependent",
        "The hyperplane the perceptron ends on depends on the order of the examples: "
        "random orders of the same separable data give at least two different separators, "
        "at least 1 degree apart.",
        _verdict_order,
        "perceptron.png",
    ),
    Claim(
        "perceptron-mistake-bound",
        "Novikoff (1962): on data separable with margin gamma inside radius R the rule makes "
        "at most (R/gamma)^2 mistakes, in any order.",
        _verdict_bound,
        None,
    ),
)


@experiment(
    "perceptron",
    topic="fundamentals",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Rosenblatt 1958, Psychological Review 65(6); Novikoff 1962",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Rosenblatt's perceptron: separable data, XOR, and the effect of the data order."""
    gen = torch.Generator().manual_seed(ctx.seed)
    x, y, w_star, b_star = separable_data(cfg, gen)

    # 1. separable data, in the order they were drawn.
    sep = train_perceptron(x, y, epochs=cfg.max_epochs, lr=cfg.lr)
    for epoch, mistakes in enumerate(sep.mistakes_per_epoch, 1):
        ctx.log(epoch, separable_mistakes=mistakes)

    # 2. XOR, one example at a time (a one-point "epoch" of the same rule), so that the
    #    accuracy of every hyperplane the rule visits is measured.
    xo, yo = xor_data()
    w, b = torch.zeros(2, dtype=torch.float64), torch.zeros((), dtype=torch.float64)
    visited_acc: list[float] = []
    epoch_mistakes: list[int] = []
    for epoch in range(1, cfg.xor_epochs + 1):
        order = torch.randperm(4, generator=gen) if cfg.xor_shuffle else torch.arange(4)
        mistakes = 0
        for i in order.tolist():
            step = train_perceptron(xo[i : i + 1], yo[i : i + 1], epochs=1, lr=cfg.lr, init=(w, b))
            w, b = step.w, step.b
            mistakes += step.mistakes_per_epoch[0]
            visited_acc.append(accuracy(xo, yo, w, b))
        epoch_mistakes.append(mistakes)
        ctx.log(epoch, xor_mistakes=mistakes, xor_train_accuracy=visited_acc[-1])

    # 3. the same separable data in random orders.
    runs = [
        train_perceptron(
            x, y, epochs=cfg.max_epochs, lr=cfg.lr, order=torch.randperm(len(x), generator=gen)
        )
        for _ in range(cfg.n_orders)
    ]
    units = torch.stack([_unit(r.w, r.b) for r in runs])  # (P, 3)
    cos = (units @ units.T).clamp(-1.0, 1.0)
    spread = math.degrees(float(torch.arccos(cos).max()))
    mean_dir = units.mean(0) / torch.linalg.vector_norm(units.mean(0))
    mean_angle = math.degrees(float(torch.arccos((units @ mean_dir).clamp(-1.0, 1.0)).mean()))
    normal_deg = [math.degrees(math.atan2(float(r.w[1]), float(r.w[0]))) for r in runs]
    offsets = [float(r.b / torch.linalg.vector_norm(r.w)) for r in runs]  # signed distance to 0
    distinct = len({tuple(u) for u in units.round(decimals=cfg.distinct_decimals).tolist()})
    for i, r in enumerate(runs):
        ctx.log(
            i,
            order_mistakes=r.total_mistakes,
            order_epochs=len(r.mistakes_per_epoch),
            order_angle_to_mean_deg=math.degrees(
                float(torch.arccos((units[i] @ mean_dir).clamp(-1.0, 1.0)))
            ),
        )

    radius = float(torch.linalg.vector_norm(augment(x), dim=1).max())
    metrics: dict[str, Any] = {
        "separable_train_accuracy": accuracy(x, y, sep.w, sep.b),
        "separable_converged": sep.converged,
        "separable_epochs": len(sep.mistakes_per_epoch),
        "separable_mistakes": sep.total_mistakes,
        "true_angle_deg": cfg.true_angle_deg,
        "radius": radius,
        "novikoff_bound": novikoff_bound(x, y, w_star, b_star),
        "xor_train_accuracy": visited_acc[-1],
        "xor_best_accuracy": max(visited_acc),
        "xor_converged": 0 in epoch_mistakes,
        "xor_epochs": cfg.xor_epochs,
        "xor_updates": sum(epoch_mistakes),
        "xor_mistakes_last_epoch": epoch_mistakes[-1],
        "order_runs": cfg.n_orders,
        "order_all_converged": all(r.converged for r in runs),
        "order_min_accuracy": min(accuracy(x, y, r.w, r.b) for r in runs),
        "order_distinct_solutions": distinct,
        "order_angle_spread_deg": spread,
        "order_mean_angle_deg": mean_angle,
        "order_normal_angle_range_deg": max(normal_deg) - min(normal_deg),
        "order_offset_range": max(offsets) - min(offsets),
        "order_max_mistakes": max(r.total_mistakes for r in runs),
    }
    plot = _plot(
        ctx.path("perceptron.png"),
        x,
        y,
        [(r.w, r.b) for r in runs[: cfg.n_plot_orders]],
        {"x": xo, "y": yo, "w": w, "b": b, "epochs": cfg.xor_epochs, "accuracy": visited_acc[-1]},
    )
    return Result(metrics=metrics, model=None, plots=[plot])
