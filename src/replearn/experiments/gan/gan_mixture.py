"""Experiment ``gan-mixture``: mode collapse on the ring of 8 and the grid of 25 Gaussians.

The benchmark of Metz et al. (2017, unrolled GANs), Srivastava et al. (2017,
VEEGAN) and Lin et al. (2018, PacGAN): a generator of 2-D points is trained
against a discriminator on samples of a Gaussian mixture (``ring8``: 8 modes on a
circle of radius 2, std 0.2; ``grid25``: a 5x5 grid, std 0.1; see
:mod:`replearn.data.toy2d`), and scored by :mod:`replearn.metrics.modes`: the
number of modes that receive high-quality samples (within 3 std) and the fraction
of such samples, on 2,500 samples drawn with a fixed seed after training.

Methods (``method=all`` trains every one; otherwise only the named one), all with
the same MLPs (3 hidden layers of 64), the same batch and the same number of
generator steps (one engine step = ``n_critic`` critic steps + one generator step;
see :mod:`replearn.experiments.gan.toy`): ``minimax``, ``nonsaturating``,
``unrolled`` (5 look-ahead steps), ``minibatch`` (minibatch discrimination),
``pacgan`` (packing 2), ``wgan`` (clipping 0.01, 5 critic steps, RMSprop),
``wgan-gp`` (lambda = 0.1 as in Gulrajani et al.'s 2-D code ``gan_toy.py``, 5
critic steps). Each method is trained from ``seeds`` (three by default), each seed
in its own child run. Hyperparameters were fixed before any verdict was seen.

Writes ``samples.png`` (data and the first seed's samples of every method) and
``modes.png`` (modes covered per method, mean and each seed).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import matplotlib.pyplot as plt
import numpy as np
import torch

from replearn.data import toy2d
from replearn.engine import EngineConfig, RunContext, SampleStream, fit, single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.gan.toy import METHODS, ToyGANTask, build_players, optimizers
from replearn.experiments.stats import SeedComparison, compare_seeds, too_few_seeds
from replearn.metrics.modes import mode_coverage
from replearn.report.plots import save_figure


def _ring_centres() -> torch.Tensor:
    angles = torch.arange(8) * (2 * math.pi / 8)
    return toy2d.EIGHT_RADIUS * torch.stack([angles.cos(), angles.sin()], dim=1)  # (8, 2)


def _grid_centres() -> torch.Tensor:
    axis = torch.arange(-2.0, 3.0)
    return torch.cartesian_prod(axis, axis)  # (25, 2)


DATA = {
    "ring8": ("8gaussians", _ring_centres, toy2d.EIGHT_STD),
    "grid25": ("25gaussians", _grid_centres, toy2d.GRID_STD),
}
STABILIZERS = ("unrolled", "minibatch", "pacgan", "wgan-gp")


@dataclass(frozen=True)
class Config:
    """Config of ``gan-mixture``.

    Attributes:
        data: ``ring8`` (8 Gaussians on a circle) or ``grid25`` (5x5 grid).
        method: one of the methods, or ``all`` (every method: needed by the claim).
        seeds: training seeds (initialization, noise and data stream of each run).
        z_dim: latent dimension.
        hidden: width of the hidden layers of both players.
        depth: hidden layers of both players.
        lr: learning rate of both players.
        n_critic: critic steps per generator step for ``wgan`` and ``wgan-gp``.
        unroll_steps: look-ahead discriminator steps of ``unrolled``.
        unroll_lr: step size of the look-ahead steps.
        pack_m: samples packed together for ``pacgan``.
        n_eval: generated samples scored after training.
        tau: a mode is covered with at least ``tau`` times its share of the samples.
        engine: training-loop settings; ``batch_size`` is the batch of one critic step.
    """

    data: Literal["ring8", "grid25"] = "ring8"
    method: Literal[
        "all", "minimax", "nonsaturating", "unrolled", "minibatch", "pacgan", "wgan", "wgan-gp"
    ] = "all"
    seeds: tuple[int, ...] = (0, 1, 2)
    z_dim: int = 8
    hidden: int = 64
    depth: int = 3
    lr: float = 1e-3
    n_critic: int = 5
    unroll_steps: int = 5
    unroll_lr: float = 0.1
    pack_m: int = 2
    n_eval: int = 2500
    tau: float = 0.1
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=400, batch_size=128, log_every=100, checkpoint_every=0
        )
    )

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ValueError("seeds must not be empty")
        if self.engine.batch_size % self.pack_m:
            raise ValueError(f"engine.batch_size must be divisible by pack_m={self.pack_m}")


def tiny() -> Config:
    """Seconds: every method, one seed, 10 steps, small players."""
    return Config(
        seeds=(0,),
        hidden=16,
        depth=2,
        n_eval=200,
        unroll_steps=2,
        engine=EngineConfig(max_steps=10, batch_size=32, log_every=5, checkpoint_every=0),
    )


def quick() -> Config:
    """Seconds: three seeds, 10 steps, 300 evaluation samples (a smoke check)."""
    base = Config(n_eval=300)
    return dataclasses.replace(base, engine=dataclasses.replace(base.engine, max_steps=10))


def _comparisons(m: dict[str, Any]) -> dict[str, SeedComparison]:
    """Each stabilizer against minimax: modes covered, paired by seed (compare_seeds)."""
    return {
        method: compare_seeds(
            m[f"{method}_modes_covered_seeds"],
            m["minimax_modes_covered_seeds"],
            label_x=method,
            label_y="minimax",
        )
        for method in STABILIZERS
    }


def _verdict_stabilizers(m: dict[str, Any]) -> tuple[bool, str]:
    if any(f"{k}_modes_covered_seeds" not in m for k in ("minimax", *STABILIZERS)):
        return False, "not measured: run with method=all"
    n = len(m["minimax_modes_covered_seeds"])
    if (why := too_few_seeds(n)) is not None:
        return False, why
    comparisons = _comparisons(m)
    holds = all(c.holds for c in comparisons.values())
    cover = ", ".join(f"{k} {m[f'{k}_modes_covered_mean']:.1f}" for k in ("minimax", *STABILIZERS))
    parts = "; ".join(c.evidence() for c in comparisons.values())
    return holds, f"modes covered (mean over {n} seeds): {cover}; {parts}"


CLAIMS = (
    Claim(
        "stabilizers-cover-more-modes",
        "Unrolling, minibatch discrimination, packing (PacGAN) and WGAN-GP each cover more "
        "modes of the mixture than the minimax GAN (each: modes covered paired by training "
        "seed, one-sided 95% Student-t lower bound of the mean difference > 0, >= 3 seeds).",
        _verdict_stabilizers,
        "modes.png",
    ),
)


def _plot_samples(points: dict[str, torch.Tensor], path: Any, title: str) -> Any:
    n = len(points)
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.6 * rows), dpi=100, squeeze=False)
    for ax, (label, pts) in zip(axes.flat, points.items(), strict=False):
        p = pts.detach().cpu().numpy()
        ax.scatter(p[:, 0], p[:, 1], s=2, alpha=0.4, linewidths=0)
        ax.set(xlim=(-3, 3), ylim=(-3, 3), title=label, xticks=[], yticks=[])
        ax.set_aspect("equal")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def _plot_modes(m: dict[str, Any], methods: list[str], k: int, path: Any) -> Any:
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
    for i, method in enumerate(methods):
        seeds = m[f"{method}_modes_covered_seeds"]
        ax.bar(i, np.mean(seeds), color="C0", alpha=0.6)
        ax.scatter([i] * len(seeds), seeds, color="k", s=12, zorder=3)
    ax.axhline(k, color="gray", ls="--", lw=1)
    ax.set_xticks(range(len(methods)), methods, rotation=30, fontsize=8)
    ax.set(ylabel=f"modes covered (of {k})", title="bars: mean over seeds; dots: seeds")
    fig.tight_layout()
    return save_figure(fig, path)


@experiment(
    "gan-mixture",
    topic="gan",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Metz et al. 2017 (arXiv:1611.02163); Lin et al. 2018 (arXiv:1712.04086); "
    "Gulrajani et al. 2017 (arXiv:1704.00028); Salimans et al. 2016 (arXiv:1606.03498)",
)
@single_thread()  # small tensors: a second thread only adds synchronisation
def run(cfg: Config, ctx: RunContext) -> Result:
    """Train GANs with each stabilizer on a Gaussian mixture; count the modes they cover."""
    name, centres_fn, std = DATA[cfg.data]
    centres = centres_fn().float()
    methods = list(METHODS) if cfg.method == "all" else [cfg.method]
    metrics: dict[str, Any] = {"data": cfg.data, "modes_total": len(centres)}
    first: dict[str, torch.Tensor] = {
        "data": toy2d.sample(name, cfg.n_eval, generator=torch.Generator().manual_seed(0))
    }
    for method in methods:
        wass = method in ("wgan", "wgan-gp")
        n_critic = cfg.n_critic if wass else 1
        engine = dataclasses.replace(cfg.engine, batch_size=cfg.engine.batch_size * n_critic)
        covered, quality = [], []
        for seed in cfg.seeds:
            torch.manual_seed(seed)
            g, d = build_players(
                method, z_dim=cfg.z_dim, hidden=cfg.hidden, depth=cfg.depth, pack_m=cfg.pack_m
            )
            task = ToyGANTask(
                method, g, d, z_dim=cfg.z_dim, n_critic=n_critic, unroll_steps=cfg.unroll_steps,
                unroll_lr=cfg.unroll_lr, pack_m=cfg.pack_m,
            )  # fmt: skip
            stream = SampleStream(
                lambda n, gen: toy2d.sample(name, n, generator=gen),
                batch_size=engine.batch_size,
                seed=seed,
            )
            with ctx.child(f"{method}-seed{seed}", seed=seed) as sub:
                fit(task, optimizers(task, cfg.lr), stream, cfg=engine, ctx=sub)
            with torch.no_grad():
                task.eval()
                pts = task.sample(cfg.n_eval, torch.Generator().manual_seed(10_000 + seed)).cpu()
            score = mode_coverage(pts, centres, std, tau=cfg.tau)
            covered.append(score["modes_covered"])
            quality.append(score["high_quality_fraction"])
            if seed == cfg.seeds[0]:
                first[method] = pts
        metrics[f"{method}_modes_covered_seeds"] = covered
        metrics[f"{method}_high_quality_fraction_seeds"] = quality
        metrics[f"{method}_modes_covered_mean"] = float(np.mean(covered))
        metrics[f"{method}_high_quality_fraction_mean"] = float(np.mean(quality))
    if cfg.method == "all" and len(cfg.seeds) >= 3:
        comparisons = _comparisons(metrics)
        metrics["stabilizer_vs_minimax"] = {k: c.as_dict() for k, c in comparisons.items()}
    if len(methods) == 1:
        metrics["modes_covered"] = metrics[f"{methods[0]}_modes_covered_mean"]
        metrics["high_quality_fraction"] = metrics[f"{methods[0]}_high_quality_fraction_mean"]
    plots = [
        _plot_samples(first, ctx.path("samples.png"), f"{cfg.data}: seed {cfg.seeds[0]}"),
        _plot_modes(metrics, methods, len(centres), ctx.path("modes.png")),
    ]
    return Result(metrics=metrics, plots=plots)
