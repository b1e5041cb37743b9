"""Experiment ``regularize-stochastic-depth``: residual MLPs with and without stochastic depth.

A residual MLP -- a linear embedding, ``blocks`` residual blocks
``h + DropPath(W2 relu(W1 h))`` (:class:`replearn.regularize.dropout.StochasticDepthBlock`)
and a linear head -- is trained from the same initial weights twice: with every
block kept, and with block :math:`\\ell` dropped per sample with probability
:math:`p_\\ell = \\tfrac{\\ell}{L} p_L` (Huang et al. 2016's linear decay, p_L = 0.5),
which trains an ensemble of networks of expected depth :math:`\\sum_\\ell (1 - p_\\ell)`.
In evaluation every block is kept (the kept branches were rescaled by
:math:`1/(1-p_\\ell)` during training).

Measured: training, validation and test accuracy and the train-validation gap, for
``seeds`` training seeds (3 by default; child runs ``seed<s>/<variant>``). Both claims are
judged by :func:`replearn.experiments.stats.compare_seeds` over the seeds (paired by seed;
the one-sided 95% Student-t lower bound of the mean difference must be above zero), so the
seed-to-seed spread of training enters the verdict, not only the finite test set.
Writes ``val_accuracy.png`` and ``gap.png``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from replearn.engine import EngineConfig, RunContext
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import load_data
from replearn.experiments.regularize.common import (
    comparison,
    curves_chart,
    evaluate_splits,
    fit_classifier,
    gap_chart,
    gap_comparison,
    improvement_over_seeds,
    metric_curve,
    over_seeds,
    record,
)
from replearn.regularize.dropout import (
    StochasticDepthBlock,
    expected_depth,
    stochastic_depth_rates,
)

VARIANTS = ("none", "stochastic-depth")


@dataclass(frozen=True)
class Config:
    """Config of ``regularize-stochastic-depth``.

    Attributes:
        data: fashion-mnist (file), digits (embedded) or mnist1d.
        n_train: training examples (a seeded subset; None: all).
        width: width of the residual stream.
        blocks: residual blocks L.
        final_rate: drop probability p_L of the last block (linear decay before it).
        lr: Adam learning rate.
        seeds: training seeds (``seed, seed + 1, ...``; >= 3): every variant is trained once per
            seed, from that seed's initial weights and data order; the data subset is fixed.
        engine: training-loop settings (shared by the variants).
    """

    data: Literal["fashion-mnist", "digits", "mnist1d"] = "fashion-mnist"
    n_train: int | None = 5000
    width: int = 128
    blocks: int = 12
    final_rate: float = 0.5
    lr: float = 1e-3
    seeds: int = 3
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=3000, batch_size=128, log_every=100, eval_every=250, checkpoint_every=0
        )
    )


def tiny() -> Config:
    """Seconds: digits, 10 steps per variant and seed (smoke tests)."""
    return Config(
        data="digits",
        n_train=None,
        width=16,
        blocks=3,
        engine=EngineConfig(
            max_steps=10, batch_size=32, log_every=5, eval_every=5, checkpoint_every=0
        ),
    )


def quick() -> Config:
    """Seconds: digits, 20 steps per variant and seed (a smoke check)."""
    base = Config(data="digits", n_train=None)
    return dataclasses.replace(
        base, engine=dataclasses.replace(base.engine, max_steps=20, log_every=5, eval_every=10)
    )


def residual_mlp(n_in: int, width: int, n_out: int, rates: list[float]) -> nn.Sequential:
    """Embedding, one :class:`StochasticDepthBlock` per drop rate, ReLU and a linear head."""
    blocks = [
        StochasticDepthBlock(
            nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width)), p
        )
        for p in rates
    ]
    return nn.Sequential(
        nn.Flatten(), nn.Linear(n_in, width), *blocks, nn.ReLU(), nn.Linear(width, n_out)
    )


def _verdict_gap(m: dict[str, Any]) -> tuple[bool, str]:
    sd = "stochastic-depth"
    c = gap_comparison(m, sd, "none", "stochastic depth", "all blocks kept")
    return c.holds, (
        f"train - validation accuracy (means): stochastic depth {m[f'{sd}_gap_accuracy']:.4f} "
        f"vs none {m['none_gap_accuracy']:.4f} (train {m[f'{sd}_train_accuracy']:.4f} vs "
        f"{m['none_train_accuracy']:.4f}); expected depth {m['expected_depth']:.2f} of "
        f"{m['blocks']} blocks; {c.evidence()}"
    )


def _verdict_test(m: dict[str, Any]) -> tuple[bool, str]:
    return improvement_over_seeds(m, "stochastic-depth", "none", "stochastic depth", "all kept")


CLAIMS = (
    Claim(
        "stochastic-depth-gap",
        "Stochastic depth regularizes: dropping residual blocks at random during training "
        "(linear decay to p_L = 0.5) shrinks the gap between training and validation accuracy "
        "(mean paired difference over training seeds, 95% lower bound > 0).",
        _verdict_gap,
        "gap.png",
    ),
    Claim(
        "stochastic-depth-test",
        "Stochastic depth improves test accuracy over the same residual network trained with "
        "every block (mean paired difference over training seeds, 95% lower bound > 0).",
        _verdict_test,
        "val_accuracy.png",
    ),
)


@experiment(
    "regularize-stochastic-depth",
    topic="regularize",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Huang, Sun, Liu, Sedra & Weinberger 2016, arXiv:1603.09382",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Train a residual MLP with and without stochastic depth; compare gaps and test accuracy."""
    data = load_data(cfg.data, n_train=cfg.n_train, n_val=2000, seed=ctx.seed, flatten=True)
    rates = stochastic_depth_rates(cfg.blocks, cfg.final_rate)
    curves: dict[str, tuple[list[float], list[float]]] = {}

    def one_seed(run: RunContext) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for variant in VARIANTS:
            torch.manual_seed(run.seed)
            used = rates if variant == "stochastic-depth" else [0.0] * cfg.blocks
            model = residual_mlp(data.input_shape[0], cfg.width, data.num_classes, used)
            model = model.to(ctx.device)
            loop = fit_classifier(run, variant, model, data, lr=cfg.lr, engine=cfg.engine)
            if run.seed == ctx.seed:
                curves[variant] = metric_curve(loop.history, "val_accuracy")
            m = evaluate_splits(model, data, device=ctx.device)
            m["gap_accuracy"] = m["train_accuracy"] - m["val_accuracy"]
            record(out, run, loop.step, variant, m)
        return out

    metrics: dict[str, Any] = {"blocks": cfg.blocks, "expected_depth": expected_depth(rates)}
    metrics.update(over_seeds(ctx, cfg.seeds, one_seed))
    metrics["test_comparison"] = comparison(
        metrics, "stochastic-depth", "none", "stochastic depth", "all kept"
    ).as_dict()
    plots = [
        curves_chart(
            curves,
            ctx.path("val_accuracy.png"),
            xlabel="step",
            ylabel="validation accuracy",
            title=f"{cfg.data}: residual MLP, {cfg.blocks} blocks (seed {ctx.seed})",
        ),
        gap_chart(
            metrics,
            VARIANTS,
            ctx.path("gap.png"),
            seeds=cfg.seeds,
            title=f"stochastic depth, p_L = {cfg.final_rate}",
        ),
    ]
    return Result(metrics=metrics, plots=plots)
