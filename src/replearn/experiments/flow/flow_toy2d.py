"""Experiment ``flow-toy2d``: a normalizing flow fitted by maximum likelihood to a 2-D toy density.

A flow (``--set flow=planar|realnvp|glow|iresnet``) is trained through the engine on
``n_train`` points of a toy density (``--set data=moons|8gaussians|rings|checkerboard``,
:mod:`replearn.data.toy2d`), minimizing the exact negative log-likelihood of Eq. (1) of
:mod:`replearn.flow.base`. ``result.json``: ``test_nll`` (nats, on ``n_test`` fresh
points, exact log-determinants) and, where the density has a closed form,
``true_test_nll`` (the data's own NLL on the same points; the gap estimates KL(p || q)).

Measured claims (all with the trained model or at the model's size):

1. exact likelihood: the learned density integrates to 1 over a grid (trapezoid rule);
2. log-determinants of composed flows add: the sum of the layers' log-determinants
   equals the model's and the log|det| of the autograd Jacobian of the whole model;
3. a coupling layer's determinant is cheap: the layer's pass (which gives its
   log-determinant) against the full Jacobian and ``slogdet`` at growing dimension D, every
   contender timed once per round in the same rounds (order reversed each round,
   :func:`~replearn.experiments.stats.time_rounds`); the verdict reads 95% sign-test
   intervals: the paired ratio's at the largest D must lie at or above 10, and for each
   pair of adjacent dimensions the interval of the median per-round growth of the
   advantage (ratio at the larger D over ratio at the smaller) must lie above 1;
4. i-ResNet's fixed-point inverse converges when Lip(g) < 1 and fails beyond: a random
   residual function rescaled so that its measured Lipschitz constant (the largest
   spectral norm of its Jacobian over the data) takes given values.

Writes ``density.png`` (data, model density, model samples), ``coupling_cost.png`` and
``iresnet_inverse.png``.
"""

from __future__ import annotations

import copy
import itertools
import statistics
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import matplotlib.pyplot as plt
import torch
from torch.utils.data import TensorDataset

from replearn.data import toy2d
from replearn.engine import EngineConfig, RunContext, fit
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import count_params, engine_config
from replearn.experiments.flow.common import (
    FlowNLLTask,
    build_flow,
    exact_log_dets,
    mean_nll,
)
from replearn.experiments.stats import median_interval, time_ratio, time_rounds
from replearn.flow import FlowChain
from replearn.flow.coupling import AffineCoupling, half_mask, mlp_conditioner
from replearn.flow.iresnet import LipschitzMLP, fixed_point_inverse
from replearn.report.plots import DPI, line_plot, save_figure

_engine = partial(engine_config, batch_size=256, log_every=50)


@dataclass(frozen=True)
class Config:
    """Config of ``flow-toy2d``.

    Attributes:
        data: the toy density (moons, 8gaussians, rings, checkerboard).
        flow: planar, realnvp, glow or iresnet.
        n_train: training points (drawn once from the run's seed).
        n_test: test points (drawn from seed + 1).
        hidden: width of the conditioners / residual functions.
        depth: couplings (realnvp), steps (glow) or residual blocks (iresnet).
        planar_layers: planar layers (flow=planar).
        iresnet_log_det: i-ResNet training log-determinant, 'series' or 'exact'.
        iresnet_terms: terms of the power series.
        lr: Adam learning rate.
        grid_half_width: the grid of the integral is [-w, w]^2.
        grid_n: grid points per axis.
        timing_dims: dimensions D of the coupling-cost measurement.
        timing_rounds: timed rounds of the coupling-cost measurement (each times every
            contender once; >= 6 for a 95% interval).
        timing_warmup: untimed rounds before them.
        lip_values: measured Lipschitz constants of g in the inverse measurement.
        lip_points: test points inverted per Lipschitz constant.
        engine: training-loop settings.
    """

    data: Literal["moons", "8gaussians", "rings", "checkerboard"] = "moons"
    flow: Literal["planar", "realnvp", "glow", "iresnet"] = "realnvp"
    n_train: int = 20000
    n_test: int = 5000
    hidden: int = 64
    depth: int = 8
    planar_layers: int = 32
    iresnet_log_det: Literal["series", "exact"] = "series"
    iresnet_terms: int = 5
    lr: float = 1e-3
    grid_half_width: float = 10.0
    grid_n: int = 501
    timing_dims: tuple[int, ...] = (4, 16, 64, 256)
    timing_rounds: int = 20
    timing_warmup: int = 2
    lip_values: tuple[float, ...] = (0.5, 0.9, 0.99, 1.5, 3.0)
    lip_points: int = 1000
    engine: EngineConfig = field(default_factory=lambda: _engine(3000))

    def __post_init__(self) -> None:
        if self.n_train < self.engine.batch_size:
            raise ValueError("n_train must be at least engine.batch_size")
        if self.grid_n < 3 or self.grid_half_width <= 0:
            raise ValueError("grid_n must be >= 3 and grid_half_width > 0")
        if len(self.timing_dims) < 2 or min(self.timing_dims) < 2:
            raise ValueError("timing_dims needs at least two dimensions >= 2")


def tiny() -> Config:
    """Seconds: 30 steps, a small model, a coarse grid, two small timing dimensions."""
    return Config(
        n_train=512,
        n_test=128,
        hidden=16,
        depth=2,
        planar_layers=4,
        grid_n=41,
        timing_dims=(4, 8),
        timing_rounds=1,
        timing_warmup=0,
        lip_values=(0.5, 3.0),
        lip_points=64,
        engine=_engine(30),
    )


def quick() -> Config:
    """Seconds: 50 steps of the default model, 6 timing rounds, a coarser grid (a smoke check)."""
    return Config(n_train=2000, n_test=1000, grid_n=151, timing_rounds=6, timing_warmup=1,
                  engine=_engine(50))  # fmt: skip


@torch.no_grad()
def grid_density(flow: Any, half_width: float, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The model density on an n x n grid over [-w, w]^2 (float64); returns (axis, p)."""
    axis = torch.linspace(-half_width, half_width, n, dtype=torch.float64)
    xx, yy = torch.meshgrid(axis, axis, indexing="xy")
    pts = torch.stack([xx, yy], -1).reshape(-1, 2)
    with exact_log_dets(flow):
        logp = torch.cat([flow.log_prob(c) for c in pts.split(16384)])
    return axis, logp.exp().reshape(n, n)


def log_det_additivity(flow: Any, x: torch.Tensor) -> dict[str, float]:
    """Sum of the parts' log-dets vs the model's vs the autograd Jacobian (float64)."""
    model = copy.deepcopy(flow).double().eval()
    x = x.double()
    body = getattr(model, "body", model)
    parts = list(body.flows) if isinstance(body, FlowChain) else [body]
    with exact_log_dets(model):
        _, total = model(x)
        h, summed = x, torch.zeros_like(total)
        for part in parts:
            h, ld = part(h)
            summed = summed + ld
        jac = torch.func.vmap(torch.func.jacrev(lambda v: model(v[None])[0][0]))(x)
        autograd = torch.linalg.slogdet(jac)[1]
    summed, total, autograd = summed.detach(), total.detach(), autograd.detach()
    return {
        "logdet_n_parts": len(parts),
        "logdet_sum_vs_model_max_abs": float((summed - total).abs().max()),
        "logdet_model_vs_autograd_max_abs": float((total - autograd).abs().max()),
    }


def coupling_cost(
    dims: tuple[int, ...], hidden: int, rounds: int, warmup: int = 2
) -> dict[str, Any]:
    """A coupling layer's pass (log-det included) vs its full Jacobian + slogdet, timed.

    Every (method, D) contender runs once per round, all in the same rounds
    (:func:`~replearn.experiments.stats.time_rounds`), on 32 examples. Returns the metrics
    :func:`_verdict_cost` reads: ``timing_dims``, median seconds ``coupling_s`` and
    ``full_jacobian_s``, ``cost_ratios`` (:class:`~replearn.experiments.stats.TimeRatio`
    dicts of Jacobian / coupling per D) and ``advantage_growth`` (median per-round growth of
    that ratio from each D to the next, with its 95% interval).
    """
    gen = torch.Generator().manual_seed(0)
    fns: dict[str, Any] = {}
    for d in dims:
        torch.manual_seed(0)
        layer = AffineCoupling(half_mask(d), mlp_conditioner(d, hidden), zero_init=False).eval()
        x = torch.randn(32, d, generator=gen)

        def by_coupling(layer: Any = layer, x: torch.Tensor = x) -> torch.Tensor:
            with torch.no_grad():
                return layer(x)[1]

        def by_jacobian(layer: Any = layer, x: torch.Tensor = x) -> torch.Tensor:
            with torch.no_grad():
                jac = torch.func.vmap(torch.func.jacrev(lambda v: layer(v[None])[0][0]))(x)
                return torch.linalg.slogdet(jac)[1]

        torch.testing.assert_close(by_coupling(), by_jacobian(), rtol=1e-3, atol=1e-3)
        fns[f"coupling@D{d}"], fns[f"jacobian@D{d}"] = by_coupling, by_jacobian
    times = time_rounds(fns, rounds=rounds, warmup=warmup)
    return cost_metrics(dims, times)


def cost_metrics(dims: tuple[int, ...], times: dict[str, list[float]]) -> dict[str, Any]:
    """:func:`coupling_cost`'s metrics from the per-round seconds of each contender."""
    ratios = [time_ratio(times, f"jacobian@D{d}", f"coupling@D{d}") for d in dims]
    per_round = [
        [j / c for j, c in zip(times[f"jacobian@D{d}"], times[f"coupling@D{d}"], strict=True)]
        for d in dims
    ]
    growth = []
    for small, large in itertools.pairwise(per_round):
        g = [b / a for a, b in zip(small, large, strict=True)]
        ci = median_interval(g)
        lo, hi = ci if ci is not None else (None, None)
        growth.append({"median": statistics.median(g), "lo": lo, "hi": hi})
    return {
        "timing_dims": list(dims),
        "timing_rounds": len(per_round[0]),
        "coupling_s": [r.t_b for r in ratios],
        "full_jacobian_s": [r.t_a for r in ratios],
        "cost_ratios": [r.as_dict() for r in ratios],
        "advantage_growth": growth,
    }


def inverse_vs_lipschitz(points: torch.Tensor, lips: tuple[float, ...]) -> dict[str, list[float]]:
    """Fixed-point inversion of x + L g(x) / Lip(g) for each target L (float64)."""
    torch.manual_seed(0)
    g = LipschitzMLP(2, 64, coeff=1.0).double()
    for _ in range(50):
        g.weights()  # converge the power iterations
    g.eval()
    with torch.no_grad():
        weights = g.weights()
    x = points.double()
    jac = torch.func.vmap(torch.func.jacrev(lambda v: LipschitzMLP.apply(v[None], weights)[0]))(x)
    lip_hat = float(torch.linalg.matrix_norm(jac.detach(), ord=2).max())  # measured Lip(g)
    out: dict[str, list[float]] = {"lip": [], "converged_fraction": [], "median_error": []}
    for lip in lips:
        scale = lip / lip_hat

        def g_scaled(v: torch.Tensor, s: float = scale) -> torch.Tensor:
            return s * LipschitzMLP.apply(v, weights)

        with torch.no_grad():
            y = x + g_scaled(x)
            x_rec, _ = fixed_point_inverse(g_scaled, y, n_iterations=200, atol=1e-10)
        err = (x_rec - x).abs().amax(dim=1).nan_to_num(nan=float("inf"))
        out["lip"].append(lip)
        out["converged_fraction"].append(float((err < 1e-4).double().mean()))
        out["median_error"].append(float(err.median()))
    return out


def _density_plot(path: Any, data: torch.Tensor, axis: Any, p: Any, samples: Any, title: str):
    fig, axes = plt.subplots(1, 3, figsize=(11.0, 3.8), dpi=DPI)
    lim = 4.5
    axes[0].scatter(data[:, 0], data[:, 1], s=1, alpha=0.3)
    axes[0].set_title("data")
    inside = axis.abs() <= lim
    a = axis[inside].numpy()
    axes[1].pcolormesh(a, a, p[inside][:, inside].numpy(), shading="auto", cmap="viridis")
    axes[1].set_title("model density p(x)")
    axes[2].scatter(samples[:, 0], samples[:, 1], s=1, alpha=0.3, color="tab:orange")
    axes[2].set_title("model samples")
    for ax in axes:
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
    fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    return save_figure(fig, path)


def _verdict_integral(m: dict[str, Any]) -> tuple[bool, str]:
    err = abs(m["grid_integral"] - 1)
    return err < 0.01, (
        f"integral of the learned density over [-{m['grid_half_width']:g}, "
        f"{m['grid_half_width']:g}]^2 = {m['grid_integral']:.5f} (|1 - integral| = {err:.2e}, "
        f"tolerance 0.01); test NLL {m['test_nll']:.4f} nats"
        + (f", the data's own {m['true_test_nll']:.4f}" if "true_test_nll" in m else "")
    )


def _verdict_additivity(m: dict[str, Any]) -> tuple[bool, str]:
    a, b = m["logdet_sum_vs_model_max_abs"], m["logdet_model_vs_autograd_max_abs"]
    return a < 1e-9 and b < 1e-6, (
        f"{m['logdet_n_parts']} parts: |sum of parts - model| <= {a:.1e}, "
        f"|model - autograd Jacobian| <= {b:.1e} (float64; tolerances 1e-9 and 1e-6)"
    )


def _ci(lo: float | None, hi: float | None, fmt: str = ".3g") -> str:
    return "no 95% interval" if lo is None else f"95% interval {lo:{fmt}}-{hi:{fmt}}"


def _verdict_cost(m: dict[str, Any]) -> tuple[bool, str]:
    ratios, growth, dims = m["cost_ratios"], m["advantage_growth"], m["timing_dims"]
    last = ratios[-1]
    big = last["lo"] is not None and last["lo"] >= 10
    grows = all(g["lo"] is not None and g["lo"] > 1 for g in growth)
    cells = ", ".join(
        f"D={d}: {r['ratio']:.3g}x ({_ci(r['lo'], r['hi'])})"
        for d, r in zip(dims, ratios, strict=True)
    )
    steps = ", ".join(
        f"D={a}->{b}: x{g['median']:.3g} ({_ci(g['lo'], g['hi'])})"
        for a, b, g in zip(dims, dims[1:], growth, strict=False)
    )
    return big and grows, (
        f"full Jacobian + slogdet / coupling pass, median paired ratio over "
        f"{m['timing_rounds']} rounds: {cells}; growth of that ratio per round: {steps} "
        f"(rule: interval at D={dims[-1]} >= 10, every growth interval above 1)"
    )


def _verdict_inverse(m: dict[str, Any]) -> tuple[bool, str]:
    rows = list(zip(m["lip"], m["converged_fraction"], m["median_error"], strict=True))
    below = [f for lip, f, _ in rows if lip < 1]
    above = [f for lip, f, _ in rows if lip > 1]
    holds = bool(below) and bool(above) and min(below) >= 0.99 and max(above) < 0.5
    cells = "; ".join(f"Lip {lip:g}: {f:.3f} converged, median error {e:.1e}" for lip, f, e in rows)
    return holds, f"fraction of points reconstructed to 1e-4 in 200 iterations: {cells}"


CLAIMS = (
    Claim(
        "flow-exact-likelihood",
        "A normalizing flow gives exact likelihoods: the learned density integrates to 1 "
        "(grid integral within 0.01).",
        _verdict_integral,
        "density.png",
    ),
    Claim(
        "flow-logdets-add",
        "Log-determinants of composed flows add: the sum over the layers equals the "
        "model's log-determinant and log|det| of the autograd Jacobian of the composition.",
        _verdict_additivity,
    ),
    Claim(
        "coupling-determinant-cheap",
        "A coupling layer's determinant is cheap: at the largest D its pass is >= 10x faster "
        "than the full Jacobian + slogdet, and the advantage grows with D (95% intervals of "
        "paired time ratios: at the largest D at or above 10; the ratio's growth between "
        "every pair of adjacent D above 1).",
        _verdict_cost,
        "coupling_cost.png",
    ),
    Claim(
        "iresnet-inverse-needs-lip-below-1",
        "i-ResNet's fixed-point inverse converges when Lip(g) < 1 (>= 99% of points to 1e-4) "
        "and fails beyond (< 50% of points for every measured Lip > 1).",
        _verdict_inverse,
        "iresnet_inverse.png",
    ),
)


@experiment(
    "flow-toy2d",
    topic="flow",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Rezende & Mohamed 2015; Dinh et al. 2017; Kingma & Dhariwal 2018; Behrmann et al. 2019",
)
@single_thread()  # small tensors: a second thread only adds waiting
def run(cfg: Config, ctx: RunContext) -> Result:
    """Fit a flow to a 2-D toy density by maximum likelihood; measure the flow claims."""
    train = toy2d.sample(cfg.data, cfg.n_train, generator=torch.Generator().manual_seed(ctx.seed))
    test = toy2d.sample(cfg.data, cfg.n_test, generator=torch.Generator().manual_seed(ctx.seed + 1))
    torch.manual_seed(ctx.seed)
    flow = build_flow(
        cfg.flow,
        (2,),
        hidden=cfg.hidden,
        depth=cfg.depth,
        planar_layers=cfg.planar_layers,
        iresnet_log_det=cfg.iresnet_log_det,
        iresnet_terms=cfg.iresnet_terms,
    )
    task = FlowNLLTask(flow).to(ctx.device)
    opt = torch.optim.Adam(task.parameters(), lr=cfg.lr)
    with single_thread():
        loop = fit(task, opt, TensorDataset(train), cfg=cfg.engine, ctx=ctx)
    task = task.cpu().eval()
    metrics: dict[str, Any] = {
        "data": cfg.data,
        "flow": cfg.flow,
        "n_parameters": count_params(flow),
        "train_steps": loop.step,
        "train_time_s": loop.wall_time_s,
        "test_nll": mean_nll(task, test),
    }
    if toy2d.has_density(cfg.data):
        metrics["true_test_nll"] = float(-toy2d.log_density(cfg.data, test.double()).mean())
    model64 = copy.deepcopy(flow).double().eval()
    axis, p = grid_density(model64, cfg.grid_half_width, cfg.grid_n)
    integral = torch.trapezoid(torch.trapezoid(p, axis, dim=1), axis)
    metrics.update(grid_integral=float(integral), grid_half_width=cfg.grid_half_width)
    metrics.update(log_det_additivity(flow, test[:64]))
    with single_thread():
        cost = coupling_cost(cfg.timing_dims, cfg.hidden, cfg.timing_rounds, cfg.timing_warmup)
    metrics.update(cost)
    metrics.update(inverse_vs_lipschitz(test[: cfg.lip_points], cfg.lip_values))
    ctx.log(loop.step, test_nll=metrics["test_nll"], grid_integral=metrics["grid_integral"])
    with torch.no_grad():
        samples = flow.sample(2000, generator=torch.Generator().manual_seed(ctx.seed))
    title = f"{cfg.flow} on {cfg.data}: test NLL {metrics['test_nll']:.3f} nats"
    plots = [
        _density_plot(ctx.path("density.png"), train[:5000], axis, p, samples, title),
        line_plot(
            cost["timing_dims"],
            {
                "coupling pass": cost["coupling_s"],
                "full Jacobian + slogdet": cost["full_jacobian_s"],
            },
            ctx.path("coupling_cost.png"),
            xlabel="dimension D",
            ylabel="median seconds (32 examples)",
            title="cost of a coupling layer's log-determinant",
            logx=True,
            logy=True,
        ),
        line_plot(
            metrics["lip"],
            {"fraction reconstructed to 1e-4": metrics["converged_fraction"]},
            ctx.path("iresnet_inverse.png"),
            xlabel="measured Lip(g)",
            ylabel="fraction of points",
            title="i-ResNet fixed-point inverse, 200 iterations",
        ),
    ]
    return Result(metrics=metrics, model=flow, plots=plots)
