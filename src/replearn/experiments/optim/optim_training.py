r"""Experiment ``optim-training``: how the choice of optimizer and regularizer changes training.

    replearn run optim-training                   # a few minutes on 2 cores, no file
    replearn claims optim-training --quick

Digits (embedded), MLPs and a logistic regression, every run through the engine, each
claim over ``seeds`` (>= 3) training seeds with
:func:`~replearn.experiments.stats.compare_seeds` (paired by seed: same initialisation
and minibatches within a seed).

1. ``nesterov-beats-momentum``: Nesterov's look-ahead momentum vs heavy-ball momentum at
   the same rate and momentum, for SGD (Sutskever et al. 2013, arXiv-free ICML paper) and
   for Adam (NAdam, Dozat 2016, ``torch.optim.NAdam``; replearn has no NAdam): the full
   training loss after ``steps`` updates. ``momentum.png``.
2. ``adagrad-convex``: "Adagrad suits convex problems better than non-convex ones" made
   measurable: Adagrad's final training loss relative to Adam's (each at its best rate of
   a 4-point grid, per seed), :math:`\log(L_{Adagrad} / L_{Adam})`, is smaller on a convex
   problem (multinomial logistic regression) than on a non-convex one (a 3-hidden-layer
   tanh MLP). Adagrad's accumulated squares only grow, so its rates shrink like
   :math:`1/\sqrt t`: right for convex regret bounds (Duchi et al. 2011), too fast for a
   deep net that must travel far. ``adagrad.png``.
3. ``regularization-slows-training``: L2 weight decay and dropout each leave a higher
   training (data) loss after the same number of updates than no regularization (SGD
   with momentum). ``regularization.png``.
4. ``adamw-beats-adam-l2``: AdamW generalizes better than Adam + L2 at equal tuning
   (Loshchilov & Hutter 2019): a ReLU MLP on ``small_train`` digits, each method's decay
   coefficient picked from its own 3-point grid (a decade apart) by validation accuracy,
   test accuracy compared. ``adamw.png``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from replearn.engine import RunContext
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.optim.digits_bench import (
    mean_differences,
    mlp,
    seed_bars,
    train_on_bench,
)
from replearn.experiments.optim.tasks import single_thread
from replearn.experiments.stats import compare_seeds
from replearn.optim import SGD, Adagrad, Adam, AdamW
from replearn.regularize import Dropout

Maker = Callable[[list[nn.Parameter]], torch.optim.Optimizer]


@dataclass(frozen=True)
class Config:
    """Config of ``optim-training``.

    Attributes:
        seeds: training seeds (>= 3).
        steps: updates per run (claims 1-3).
        batch: examples per update.
        sgd_lr: SGD's rate (claims 1 and 3), momentum 0.9.
        adam_lr: Adam's and NAdam's rate (claim 1).
        adagrad_lrs: Adagrad's grid (claim 2).
        adam_lrs: Adam's grid (claim 2).
        weight_decay: L2 coefficient (claim 3).
        dropout: drop probability after each hidden layer (claim 3).
        small_train: training examples of claim 4.
        adamw_steps: updates of claim 4.
        l2_grid: Adam + L2's coefficients (claim 4).
        adamw_grid: AdamW's decoupled coefficients (claim 4).
    """

    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int = 400
    batch: int = 64
    sgd_lr: float = 0.05
    adam_lr: float = 1e-3
    adagrad_lrs: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3)
    adam_lrs: tuple[float, ...] = (1e-3, 3e-3, 1e-2, 3e-2)
    weight_decay: float = 1e-3
    dropout: float = 0.3
    small_train: int = 300
    adamw_steps: int = 600
    l2_grid: tuple[float, ...] = (1e-4, 1e-3, 1e-2)
    adamw_grid: tuple[float, ...] = (1e-2, 1e-1, 1.0)

    def __post_init__(self) -> None:
        if len(self.seeds) < 3:
            raise ValueError(f"seeds needs >= 3 seeds, got {self.seeds}")
        for name in ("steps", "batch", "small_train", "adamw_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


def tiny() -> Config:
    """Seconds: very short runs (verdicts not meaningful)."""
    return Config(steps=5, adamw_steps=5, adagrad_lrs=(0.1,), adam_lrs=(1e-2,),
                  l2_grid=(1e-3,), adamw_grid=(0.1,))  # fmt: skip


def quick() -> Config:
    """Seconds: 25 (AdamW 30) updates, 2-point grids (a smoke check)."""
    return Config(steps=25, adamw_steps=30, adagrad_lrs=(0.03, 0.3), adam_lrs=(3e-3, 3e-2),
                  l2_grid=(1e-4, 1e-2), adamw_grid=(1e-2, 1.0))  # fmt: skip


def _momentum(cfg: Config, ctx: RunContext, m: dict[str, Any]) -> Any:
    makers: dict[str, Maker] = {
        "sgd_heavy_ball": lambda p: SGD(p, lr=cfg.sgd_lr, momentum=0.9),
        "sgd_nesterov": lambda p: SGD(p, lr=cfg.sgd_lr, momentum=0.9, nesterov=True),
        "adam": lambda p: Adam(p, lr=cfg.adam_lr),
        "nadam": lambda p: torch.optim.NAdam(p, lr=cfg.adam_lr),
    }
    loss: dict[str, list[float]] = {k: [] for k in makers}
    for seed in cfg.seeds:
        for name, make in makers.items():
            task, _ = train_on_bench(ctx, f"momentum-{name}", lambda: mlp((64, 64, 64, 10)),
                                     make, seed=seed, steps=cfg.steps, batch=cfg.batch)  # fmt: skip
            loss[name].append(task.full_loss())
    for fam, (x, y) in {"sgd": ("sgd_nesterov", "sgd_heavy_ball"),
                        "adam": ("nadam", "adam")}.items():  # fmt: skip
        c = compare_seeds(loss[x], loss[y], higher_is_better=False, label_x=x, label_y=y)
        m[f"nesterov_{fam}"] = c.as_dict()
        m[f"nesterov_{fam}_evidence"] = c.evidence()
    m["nesterov_train_loss"] = loss
    return seed_bars(loss, ctx.path("momentum.png"), ylabel="training loss",
                     title="heavy ball vs Nesterov")  # fmt: skip


def _adagrad(cfg: Config, ctx: RunContext, m: dict[str, Any]) -> Any:
    problems = {"convex": lambda: mlp((64, 10)), "nonconvex": lambda: mlp((64, 64, 64, 64, 10))}
    grids = {"adagrad": (Adagrad, cfg.adagrad_lrs), "adam": (Adam, cfg.adam_lrs)}
    gaps: dict[str, list[float]] = {k: [] for k in problems}
    best: dict[str, list[float]] = {}
    for seed in cfg.seeds:
        for prob, build in problems.items():
            final = {}
            for name, (cls, lrs) in grids.items():
                runs = []
                for lr in lrs:
                    task, _ = train_on_bench(ctx, f"adagrad-{prob}-{name}-lr{lr:g}", build,
                                             lambda p, c=cls, r=lr: c(p, lr=r), seed=seed,
                                             steps=cfg.steps, batch=cfg.batch)  # fmt: skip
                    runs.append(task.full_loss())
                final[name] = min(runs)  # a diverged run counts as DIVERGED_LOSS
                best.setdefault(f"{prob}_{name}", []).append(final[name])
            gaps[prob].append(math.log(final["adagrad"] / final["adam"]))
    c = compare_seeds(gaps["nonconvex"], gaps["convex"], label_x="gap non-convex",
                      label_y="gap convex")  # fmt: skip
    m.update(adagrad_gap=gaps, adagrad_best_train_loss=best, adagrad=c.as_dict(),
             adagrad_evidence=c.evidence())  # fmt: skip
    return seed_bars(gaps, ctx.path("adagrad.png"), ylabel="log(L_Adagrad / L_Adam)",
                     title="Adagrad's gap to Adam (tuned), convex vs non-convex")  # fmt: skip


def _regularization(cfg: Config, ctx: RunContext, m: dict[str, Any]) -> Any:
    def drop_mlp() -> nn.Module:
        return nn.Sequential(nn.Linear(64, 64), nn.Tanh(), Dropout(cfg.dropout),
                             nn.Linear(64, 64), nn.Tanh(), Dropout(cfg.dropout),
                             nn.Linear(64, 10))  # fmt: skip

    variants: dict[str, tuple[Callable[[], nn.Module], float]] = {
        "none": (lambda: mlp((64, 64, 64, 10)), 0.0),
        "l2": (lambda: mlp((64, 64, 64, 10)), cfg.weight_decay),
        "dropout": (drop_mlp, 0.0),
    }
    loss: dict[str, list[float]] = {k: [] for k in variants}
    for seed in cfg.seeds:
        for name, (build, wd) in variants.items():
            task, _ = train_on_bench(
                ctx, f"reg-{name}", build,
                lambda p, w=wd: SGD(p, lr=cfg.sgd_lr, momentum=0.9, weight_decay=w),
                seed=seed, steps=cfg.steps, batch=cfg.batch,
            )  # fmt: skip
            loss[name].append(task.full_loss())  # data term only, eval mode
    for name in ("l2", "dropout"):
        c = compare_seeds(loss["none"], loss[name], higher_is_better=False, label_x="none",
                          label_y=name)  # fmt: skip
        m[f"reg_{name}"], m[f"reg_{name}_evidence"] = c.as_dict(), c.evidence()
    m["reg_train_loss"] = loss
    return seed_bars(loss, ctx.path("regularization.png"), ylabel="training loss (data term)",
                     title=f"after {cfg.steps} updates")  # fmt: skip


def _adamw(cfg: Config, ctx: RunContext, m: dict[str, Any]) -> Any:
    methods = {"adam_l2": (Adam, cfg.l2_grid), "adamw": (AdamW, cfg.adamw_grid)}
    test: dict[str, list[float]] = {k: [] for k in methods}
    chosen: dict[str, list[float]] = {k: [] for k in methods}
    for seed in cfg.seeds:
        for name, (cls, grid) in methods.items():
            scored = []
            for wd in grid:
                task, bench = train_on_bench(
                    ctx, f"decay-{name}-wd{wd:g}", lambda: mlp((64, 256, 256, 10), nn.ReLU),
                    lambda p, c=cls, w=wd: c(p, lr=cfg.adam_lr, weight_decay=w),
                    seed=seed, steps=cfg.adamw_steps, batch=cfg.batch, train_size=cfg.small_train,
                )  # fmt: skip
                scored.append((task.accuracy(bench.x_val, bench.y_val),
                               task.accuracy(bench.x_test, bench.y_test), wd))  # fmt: skip
            _val, acc, wd = max(scored, key=lambda r: r[0])  # first best on validation
            test[name].append(acc)
            chosen[name].append(wd)
    c = compare_seeds(test["adamw"], test["adam_l2"], label_x="AdamW", label_y="Adam+L2",
                      unit="points")  # fmt: skip
    m.update(adamw_test_accuracy=test, adamw_chosen_decay=chosen, adamw=c.as_dict(),
             adamw_evidence=c.evidence())  # fmt: skip
    return seed_bars(
        test,
        ctx.path("adamw.png"),
        ylabel="test accuracy",
        title=f"{cfg.small_train} training digits, decay tuned on validation",
    )


def _v_nesterov(m: dict[str, Any]) -> tuple[bool, str]:
    sgd, adam = m["nesterov_sgd"], m["nesterov_adam"]
    return sgd["holds"] and adam["holds"], (
        f"SGD: {m['nesterov_sgd_evidence']}; Adam: {m['nesterov_adam_evidence']}"
    )


def _v_adagrad(m: dict[str, Any]) -> tuple[bool, str]:
    g = m["adagrad_gap"]
    return m["adagrad"]["holds"], (
        f"log(L_Adagrad/L_Adam) convex {[round(v, 3) for v in g['convex']]}, non-convex "
        f"{[round(v, 3) for v in g['nonconvex']]}; {m['adagrad_evidence']}"
    )


def _v_reg(m: dict[str, Any]) -> tuple[bool, str]:
    return m["reg_l2"]["holds"] and m["reg_dropout"]["holds"], (
        f"training loss lower without regularization: vs L2 {m['reg_l2_evidence']}; "
        f"vs dropout {m['reg_dropout_evidence']}"
    )


def _v_adamw(m: dict[str, Any]) -> tuple[bool, str]:
    return m["adamw"]["holds"], (
        f"decay chosen on validation: Adam+L2 {m['adamw_chosen_decay']['adam_l2']}, AdamW "
        f"{m['adamw_chosen_decay']['adamw']}; test accuracy {m['adamw_evidence']}"
    )


CLAIMS = (
    Claim("nesterov-beats-momentum",
          "Nesterov momentum reaches a lower training loss than heavy-ball momentum at the "
          "same rate and momentum, both for SGD and for Adam (NAdam vs Adam), over >= 3 seeds.",
          _v_nesterov, "momentum.png"),
    Claim("adagrad-convex",
          "Adagrad suits convex problems better than non-convex ones: its training loss "
          "relative to tuned Adam, log(L_Adagrad/L_Adam), is larger on a non-convex MLP than "
          "on a convex logistic regression, over >= 3 seeds.",
          _v_adagrad, "adagrad.png"),
    Claim("regularization-slows-training",
          "Regularization slows training: after the same updates, L2 weight decay and dropout "
          "each leave a higher training loss than no regularization, over >= 3 seeds.",
          _v_reg, "regularization.png"),
    Claim("adamw-beats-adam-l2",
          "AdamW generalizes better than Adam + L2 at equal tuning (each decay from its own "
          "3-point grid, chosen on validation): higher test accuracy over >= 3 seeds.",
          _v_adamw, "adamw.png"),
)  # fmt: skip


@experiment(
    "optim-training",
    topic="optim",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Sutskever et al. 2013 (ICML, Nesterov); Dozat 2016 (NAdam); Duchi, Hazan & Singer "
    "2011 (JMLR, Adagrad); Loshchilov & Hutter 2019, arXiv:1711.05101 (AdamW)",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Optimizer and regularizer choices on digits: Nesterov, Adagrad, regularization, AdamW."""
    metrics: dict[str, Any] = {}
    with single_thread():
        plots = [_momentum(cfg, ctx, metrics), _adagrad(cfg, ctx, metrics),
                 _regularization(cfg, ctx, metrics), _adamw(cfg, ctx, metrics)]  # fmt: skip
    # flat numbers for result.json: each comparison's mean difference (favouring its X)
    metrics.update(mean_differences(metrics))
    return Result(metrics=metrics, plots=plots)
