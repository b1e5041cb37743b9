"""Experiment ``optim-compare``: every optimizer on two test functions, a quadratic and a network.

    replearn run optim-compare                       # Fashion-MNIST (needs the files), ~1 CPU min
    replearn run optim-compare --preset quick        # 8x8 digits, no file

1. Rosenbrock and Beale from a fixed start, each optimizer with its own learning
   rate (``lrs_rosenbrock``, ``lrs_beale``): ``trajectories.png``.
2. An ill-conditioned quadratic (condition number ``quad_condition``): SGD, heavy-ball
   and Nesterov momentum with the same step :math:`1/L`, counted in steps until the
   loss falls below ``quad_tolerance`` times its start (claim ``momentum-faster``;
   ``quadratic.png``).
3. An MLP classifier trained with the engine, one sub-run per optimizer
   (``ctx.child(name)`` + ``fit``, same initial weights and batches): ``net_loss.png``.
   During Adagrad's run a callback logs the median effective step
   :math:`\\eta / (\\sqrt{G_t} + \\epsilon)` over the coordinates that had a gradient on the
   first step (claim ``adagrad-step-decays``; ``adagrad_step.png``). That claim is a property
   of one trained network, checked for every one of ``adagrad_seeds`` training seeds: the
   Adagrad run is repeated (sub-runs ``seed<s>/adagrad``) with seed ``s``'s initial weights
   and batch order (issue 21; two extra Adagrad runs, about a fifth of the network part).

Claim ``momentum-faster`` is deterministic (a fixed quadratic, start and step; no seeds).

Everything runs on one intra-op thread (:func:`~replearn.experiments.optim.tasks.single_thread`).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import matplotlib.pyplot as plt
import torch

from replearn.data import load_classification
from replearn.engine import Callback, ClassificationTask, EngineConfig, RunContext, evaluate, fit
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.optim.tasks import (
    BEALE_MIN,
    BEALE_START,
    OPTIMIZERS,
    ROSENBROCK_MIN,
    ROSENBROCK_START,
    beale,
    descend,
    quadratic,
    quadratic_eigenvalues,
    rosenbrock,
    roster_optimizer,
    single_thread,
    steps_to_tolerance,
)
from replearn.fundamentals.mlp import MLP
from replearn.optim.adagrad import adagrad_effective_lr
from replearn.report.plots import DPI, line_plot, save_figure


@dataclass(frozen=True)
class Config:
    """Config of ``optim-compare`` (learning rates are listed in the order of ``optimizers``).

    Attributes:
        optimizers: names from the roster (sgd, momentum, nesterov, adagrad, rmsprop, adam,
            adamw, amsgrad, adabound); momentum is 0.9, AdamW's decay 1e-2.
        steps_2d: updates on Rosenbrock and on Beale.
        lrs_rosenbrock: learning rate of each optimizer on Rosenbrock.
        lrs_beale: learning rate of each optimizer on Beale.
        final_lrs: AdaBound's final (SGD) learning rate on Rosenbrock, Beale and the network.
        gamma: AdaBound's bound convergence speed.
        quad_dim: dimension of the quadratic.
        quad_condition: its condition number (largest / smallest eigenvalue).
        quad_tolerance: target loss as a fraction of the initial loss.
        quad_max_steps: give up after this many steps.
        data: digits (embedded), fashion-mnist (file) or mnist1d (procedural).
        hidden: hidden widths of the MLP.
        lrs_net: learning rate of each optimizer on the network.
        adagrad_seeds: training seeds (``seed, seed + 1, ...``) of the Adagrad network run
            whose effective step the claim checks at every seed.
        engine: training-loop settings of every network run.
    """

    optimizers: tuple[str, ...] = OPTIMIZERS
    steps_2d: int = 1000
    lrs_rosenbrock: tuple[float, ...] = (5e-4, 5e-4, 5e-4, 0.5, 1e-2, 3e-2, 3e-2, 3e-2, 3e-2)
    lrs_beale: tuple[float, ...] = (1e-3, 1e-3, 1e-3, 0.5, 1e-2, 3e-2, 3e-2, 3e-2, 3e-2)
    final_lrs: tuple[float, ...] = (5e-4, 1e-3, 0.1)
    gamma: float = 1e-3
    quad_dim: int = 20
    quad_condition: float = 100.0
    quad_tolerance: float = 1e-6
    quad_max_steps: int = 3000
    data: Literal["digits", "fashion-mnist", "mnist1d"] = "fashion-mnist"
    hidden: tuple[int, ...] = (128,)
    lrs_net: tuple[float, ...] = (0.1, 0.02, 0.02, 0.05, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3)
    adagrad_seeds: int = 3
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=1500, batch_size=128, log_every=50, checkpoint_every=0
        )
    )

    def __post_init__(self) -> None:
        unknown = set(self.optimizers) - set(OPTIMIZERS)
        if unknown:
            raise ValueError(f"unknown optimizers {sorted(unknown)}; choose from {OPTIMIZERS}")
        for name in ("lrs_rosenbrock", "lrs_beale", "lrs_net"):
            if len(getattr(self, name)) != len(self.optimizers):
                raise ValueError(f"{name} needs one learning rate per optimizer")
        if len(self.final_lrs) != 3:
            raise ValueError("final_lrs needs 3 values: Rosenbrock, Beale, network")
        if self.adagrad_seeds < 1:
            raise ValueError(f"adagrad_seeds must be >= 1, got {self.adagrad_seeds}")
        if self.quad_condition < 1 or not 0 < self.quad_tolerance < 1:
            raise ValueError("need quad_condition >= 1 and quad_tolerance in (0, 1)")


def tiny() -> Config:
    """Seconds: three optimizers, short runs on digits."""
    return Config(
        optimizers=("sgd", "adagrad", "adam"),
        steps_2d=50,
        lrs_rosenbrock=(5e-4, 0.5, 3e-2),
        lrs_beale=(1e-3, 0.5, 3e-2),
        lrs_net=(0.1, 0.05, 1e-3),
        quad_max_steps=1000,
        data="digits",
        hidden=(32,),
        engine=EngineConfig(max_steps=20, batch_size=64, log_every=5, checkpoint_every=0),
    )


def quick() -> Config:
    """Seconds: digits instead of Fashion-MNIST, short runs (a smoke check)."""
    base = Config(steps_2d=200, quad_max_steps=1500, data="digits", hidden=(64,))
    return dataclasses.replace(base, engine=dataclasses.replace(base.engine, max_steps=40))


class AdagradProbe(Callback):
    """Logs the median effective step of Adagrad over the coordinates active at step 1."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.masks: list[torch.Tensor] | None = None

    def on_step_end(self, loop: Any) -> None:
        if loop.step != 1 and loop.step % self.every:
            return
        opt = loop.optimizer
        group = opt.param_groups[0]
        states = [opt.state[p] for p in group["params"] if p in opt.state]
        if self.masks is None:
            self.masks = [s["sum"] > 0 for s in states]
        hyper = {k: group[k] for k in ("lr", "lr_decay", "eps")}
        steps = [
            adagrad_effective_lr(s["sum"], int(s["step"]), **hyper)[mask]
            for s, mask in zip(states, self.masks, strict=True)
        ]
        loop.log(adagrad_effective_lr_median=float(torch.cat(steps).median()))

    def state_dict(self) -> dict[str, Any]:
        return {"masks": self.masks}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.masks = state["masks"]


def _plot_trajectories(path: Any, paths: dict[str, dict[str, list]]) -> Any:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), dpi=DPI)
    panels = (
        ("rosenbrock", rosenbrock, (-2, 2, -1, 3), ROSENBROCK_MIN),
        ("beale", beale, (-0.5, 4, -1.5, 2), BEALE_MIN),
    )
    for ax, (key, f, (x0, x1, y0, y1), minimum) in zip(axes, panels, strict=True):
        xx, yy = torch.meshgrid(
            torch.linspace(x0, x1, 200), torch.linspace(y0, y1, 200), indexing="xy"
        )
        zz = torch.log10(f(torch.stack([xx, yy], -1)) + 1e-3)
        ax.contourf(xx.numpy(), yy.numpy(), zz.numpy(), levels=30, cmap="Greys")
        for name, pts in paths[key].items():
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            ax.plot(xs, ys, linewidth=1.2, label=f"{name} ({pts[-1][2]:.2g})")
        ax.plot(*minimum, marker="*", color="gold", markersize=14, markeredgecolor="k")
        ax.set(xlim=(x0, x1), ylim=(y0, y1), title=f"{key}: path and final f", xlabel="x")
        ax.legend(fontsize="x-small", loc="lower right")
    fig.tight_layout()
    return save_figure(fig, path)


def _momentum_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    sgd, mom, nest = (
        math.inf if m[f"quad_steps_{k}"] is None else m[f"quad_steps_{k}"]
        for k in ("sgd", "momentum", "nesterov")
    )
    holds = mom < sgd and nest < sgd
    return holds, (
        f"steps to reach {m['quad_tolerance']:g} x the initial loss on a quadratic with "
        f"condition number {m['quad_condition']:g}, same step 1/L (inf: not within "
        f"{m['quad_max_steps']}): SGD {sgd}, momentum {mom} ({sgd / mom:.1f}x fewer), "
        f"Nesterov {nest} ({sgd / nest:.1f}x fewer)"
    )


def _adagrad_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    if "adagrad_step_first" not in m:
        return False, "adagrad was not among the optimizers"
    first, last = m["adagrad_step_first_seeds"], m["adagrad_step_last_seeds"]
    ratios = [b / a for a, b in zip(first, last, strict=True)]
    monotone = m["adagrad_step_monotone_seeds"]
    holds = all(monotone) and max(ratios) <= 0.5
    return holds, (
        f"every one of the seeds {m['adagrad_seeds']}: median effective step at step 1 "
        f"{', '.join(f'{v:.3g}' for v in first)} -> at step {m['adagrad_last_step']} "
        f"{', '.join(f'{v:.3g}' for v in last)} (x{', x'.join(f'{r:.3f}' for r in ratios)}; "
        f"each must be <= 0.5); never increased: {', '.join(map(str, monotone))}; log-log "
        f"slope vs t {', '.join(f'{v:.2f}' for v in m['adagrad_step_slope_seeds'])} "
        "(1/sqrt(t) would be -0.5)"
    )


CLAIMS = (
    Claim(
        "momentum-faster",
        "Heavy-ball and Nesterov momentum converge faster than plain SGD on an ill-conditioned "
        "problem (fewer steps to the same tolerance at the same learning rate).",
        _momentum_verdict,
        "quadratic.png",
    ),
    Claim(
        "adagrad-step-decays",
        "Adagrad's effective step eta / (sqrt(G_t) + eps) decays over training; holds if the "
        "median over coordinates never increases and halves at least over the run, for the "
        "network trained from every one of 3 training seeds.",
        _adagrad_verdict,
        "adagrad_step.png",
    ),
)


def _test_functions(cfg: Config, ctx: RunContext, metrics: dict[str, Any]) -> Any:
    """Part 1: every optimizer on Rosenbrock and Beale."""
    paths: dict[str, dict[str, list]] = {"rosenbrock": {}, "beale": {}}
    problems = (
        ("rosenbrock", rosenbrock, ROSENBROCK_START, cfg.lrs_rosenbrock, cfg.final_lrs[0]),
        ("beale", beale, BEALE_START, cfg.lrs_beale, cfg.final_lrs[1]),
    )
    for key, f, start, lrs, final_lr in problems:
        for name, lr in zip(cfg.optimizers, lrs, strict=True):
            pts = descend(f, start, name, lr, cfg.steps_2d, final_lr=final_lr, gamma=cfg.gamma)
            paths[key][name] = pts
            metrics[f"{key}_final_{name}"] = pts[-1][-1]
    return _plot_trajectories(ctx.path("trajectories.png"), paths)


def _quadratic(cfg: Config, ctx: RunContext, metrics: dict[str, Any]) -> Any:
    """Part 2: SGD, momentum and Nesterov with step 1/L on the ill-conditioned quadratic."""
    eig = quadratic_eigenvalues(cfg.quad_dim, cfg.quad_condition)
    start = (1.0,) * cfg.quad_dim
    target = cfg.quad_tolerance * float(quadratic(torch.tensor(start, dtype=eig.dtype), eig))
    curves = {}
    for name in ("sgd", "momentum", "nesterov"):
        pts = descend(
            lambda x: quadratic(x, eig),
            start,
            name,
            1.0 / cfg.quad_condition,
            cfg.quad_max_steps,
            stop_below=target,
        )
        curves[name] = [p[-1] for p in pts]
        metrics[f"quad_steps_{name}"] = steps_to_tolerance(curves[name], cfg.quad_tolerance)
    metrics.update(
        quad_condition=cfg.quad_condition,
        quad_tolerance=cfg.quad_tolerance,
        quad_max_steps=cfg.quad_max_steps,
    )
    length = max(len(c) for c in curves.values())
    padded = {k: c + [math.nan] * (length - len(c)) for k, c in curves.items()}
    title = f"quadratic, condition number {cfg.quad_condition:g}, lr = 1/L"
    path = ctx.path("quadratic.png")
    return line_plot(
        range(length), padded, path, xlabel="step", ylabel="loss", title=title, logy=True
    )


def _network(cfg: Config, ctx: RunContext, metrics: dict[str, Any]) -> list[Any]:
    """Part 3: an MLP per optimizer, each in its own sub-run."""
    data = load_classification(cfg.data, val_fraction=0.1, seed=ctx.seed, flatten=True)
    losses: dict[str, list[float]] = {}
    plots = []
    for name, lr in zip(cfg.optimizers, cfg.lrs_net, strict=True):
        torch.manual_seed(ctx.seed)  # the same initial weights for every optimizer
        model = MLP(data.input_shape[0], cfg.hidden, data.num_classes).to(ctx.device)
        task = ClassificationTask(model)
        opt = roster_optimizer(
            name, task.parameters(), lr, final_lr=cfg.final_lrs[2], gamma=cfg.gamma
        )
        probe = [AdagradProbe(cfg.engine.log_every)] if name == "adagrad" else []
        with ctx.child(name) as sub:
            loop = fit(task, opt, data.train, cfg=cfg.engine, ctx=sub, val_set=data.val,
                       callbacks=probe)  # fmt: skip
            test = evaluate(task, data.test, device=ctx.device, prefix="test_")
        rows = loop.history
        train = [r for r in rows if "train_loss" in r]
        losses[name] = [r["train_loss"] for r in train]
        metrics[f"net_{name}_final_train_loss"] = losses[name][-1]
        metrics[f"net_{name}_test_accuracy"] = test["test_accuracy"]
        if probe:
            probed = [r for r in rows if "adagrad_effective_lr_median" in r]
            plots.append(_adagrad_metrics(metrics, probed, ctx.path("adagrad_step.png"), cfg.data))
    if "adagrad" in cfg.optimizers:
        lr = cfg.lrs_net[cfg.optimizers.index("adagrad")]
        for s in range(ctx.seed + 1, ctx.seed + cfg.adagrad_seeds):
            torch.manual_seed(s)
            model = MLP(data.input_shape[0], cfg.hidden, data.num_classes).to(ctx.device)
            task = ClassificationTask(model)
            opt = roster_optimizer("adagrad", task.parameters(), lr)
            probe = [AdagradProbe(cfg.engine.log_every)]
            with ctx.child(f"seed{s}/adagrad", seed=s) as sub:
                rows = fit(task, opt, data.train, cfg=cfg.engine, ctx=sub, val_set=data.val,
                           callbacks=probe).history  # fmt: skip
            summary = _adagrad_summary([r for r in rows if "adagrad_effective_lr_median" in r])
            for k, v in summary.items():
                metrics[f"{k}_seeds"].append(v)
            metrics["adagrad_seeds"].append(s)
    steps = [r["step"] for r in train]
    title = f"MLP {cfg.hidden} on {cfg.data}"
    path = ctx.path("net_loss.png")
    plots.append(
        line_plot(
            steps, losses, path, xlabel="step", ylabel="training loss", title=title, logy=True
        )
    )
    return plots


def _adagrad_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """First, last, monotone and log-log slope of the probe's median effective step."""
    values = [r["adagrad_effective_lr_median"] for r in rows]
    steps = [r["step"] for r in rows]
    xs, ys = torch.tensor(steps).double().log(), torch.tensor(values).double().log()
    slope = float(((xs - xs.mean()) * (ys - ys.mean())).sum() / ((xs - xs.mean()) ** 2).sum())
    return {
        "adagrad_step_first": values[0],
        "adagrad_step_last": values[-1],
        "adagrad_step_monotone": all(b <= a for a, b in itertools.pairwise(values)),
        "adagrad_step_slope": slope,
    }


def _adagrad_metrics(
    metrics: dict[str, Any], rows: list[dict[str, Any]], path: Any, data: str
) -> Any:
    """Summarise the first seed's probe log (also as the first entry of ``*_seeds``); plot it."""
    values = [r["adagrad_effective_lr_median"] for r in rows]
    steps = [r["step"] for r in rows]
    summary = _adagrad_summary(rows)
    metrics.update(summary, adagrad_last_step=steps[-1], adagrad_seeds=[metrics["seed"]])
    metrics.update({f"{k}_seeds": [v] for k, v in summary.items()})
    curve = {"median effective step": values}
    return line_plot(
        steps,
        curve,
        path,
        xlabel="step",
        ylabel="eta / (sqrt(G) + eps)",
        title=f"Adagrad on {data}, seed {metrics['seed']}",
        logx=True,
        logy=True,
    )


@experiment(
    "optim-compare",
    topic="optim",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Rosenbrock 1960; Polyak 1964; Duchi et al. 2011; Kingma & Ba 2015",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Every optimizer on Rosenbrock, Beale, an ill-conditioned quadratic and an MLP."""
    metrics: dict[str, Any] = {"seed": ctx.seed}
    with single_thread():  # small tensors: a second thread only adds synchronisation
        plots = [_test_functions(cfg, ctx, metrics), _quadratic(cfg, ctx, metrics)]
        plots += _network(cfg, ctx, metrics)
    return Result(metrics=metrics, plots=plots)
