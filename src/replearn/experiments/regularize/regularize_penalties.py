"""Experiment ``regularize-penalties``: L1 makes weights sparse, L2 makes them small.

The same one-hidden-layer MLP is trained three times from the same initial
weights with SGD + momentum (not Adam: Adam rescales the penalty's gradient per
weight, see :mod:`replearn.regularize.penalties`): without penalty, with
:math:`\\lambda_1 \\lVert W \\rVert_1` and with :math:`\\tfrac{\\lambda_2}{2}
\\lVert W \\rVert_2^2` on the weight matrices (not the biases). Reported per
variant: the fraction of weights with :math:`|w| \\le` ``zero_tol`` (the
subgradient method leaves L1-penalised weights oscillating within about
:math:`\\eta\\lambda_1/(1-\\text{momentum})` of zero rather than exactly at it),
:math:`\\lVert W \\rVert_2`, the largest :math:`|w|`, and test accuracy.

Writes ``weights.png`` (histograms of :math:`\\log_{10}|w|`) and ``accuracy.png``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from replearn.engine import EngineConfig, RunContext
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import load_data
from replearn.experiments.regularize.common import (
    accuracy,
    bar_chart,
    fit_classifier,
    mlp,
    predict,
)
from replearn.regularize.penalties import sparsity, weight_norm, weight_parameters
from replearn.report.plots import save_figure

VARIANTS = ("none", "l1", "l2")


@dataclass(frozen=True)
class Config:
    """Config of ``regularize-penalties``.

    Attributes:
        data: fashion-mnist (file), digits (embedded) or mnist1d.
        n_train: training examples (a seeded subset; None: all).
        hidden: hidden widths of the MLP.
        lr: SGD learning rate.
        momentum: SGD momentum.
        l1: weight lambda_1 of the L1 penalty (variant ``l1``).
        l2: weight lambda_2 of the L2 penalty (variant ``l2``; equals SGD weight decay).
        zero_tol: a weight with |w| <= zero_tol counts as zero.
        engine: training-loop settings (shared by the variants).
    """

    data: Literal["fashion-mnist", "digits", "mnist1d"] = "fashion-mnist"
    n_train: int | None = 10000
    hidden: tuple[int, ...] = (256,)
    lr: float = 0.05
    momentum: float = 0.9
    l1: float = 1e-4
    l2: float = 1e-3
    zero_tol: float = 1e-3
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=3000, batch_size=128, log_every=100, eval_every=500, checkpoint_every=0
        )
    )


def tiny() -> Config:
    """Seconds: digits, 30 steps (smoke tests)."""
    return Config(
        data="digits",
        n_train=None,
        hidden=(32,),
        engine=EngineConfig(max_steps=30, batch_size=32, log_every=10, checkpoint_every=0),
    )


def quick() -> Config:
    """Seconds: digits, 120 steps (a smoke check)."""
    base = Config(data="digits", n_train=None)
    return dataclasses.replace(
        base,
        engine=dataclasses.replace(
            base.engine, max_steps=120, batch_size=64, log_every=40, eval_every=0
        ),
    )


def _verdict_l1(m: dict[str, Any]) -> tuple[bool, str]:
    s = {v: m[f"{v}_sparsity"] for v in VARIANTS}
    holds = s["l1"] > 2 * s["none"] and s["l1"] > 2 * s["l2"]
    return holds, (
        f"fraction of weights with |w| <= {m['zero_tol']:g}: L1 {s['l1']:.3f}, none "
        f"{s['none']:.3f}, L2 {s['l2']:.3f} (needs L1 > 2x both); test accuracy L1 "
        f"{m['l1_test_accuracy']:.4f} vs none {m['none_test_accuracy']:.4f}"
    )


def _verdict_l2(m: dict[str, Any]) -> tuple[bool, str]:
    holds = m["l2_weight_norm"] < m["none_weight_norm"] and m["l2_sparsity"] < m["l1_sparsity"]
    return holds, (
        f"||W||_2: L2 {m['l2_weight_norm']:.2f} vs none {m['none_weight_norm']:.2f} (L1 "
        f"{m['l1_weight_norm']:.2f}); max |w|: L2 {m['l2_max_abs_weight']:.3f} vs none "
        f"{m['none_max_abs_weight']:.3f}; near-zero fraction L2 {m['l2_sparsity']:.3f} vs L1 "
        f"{m['l1_sparsity']:.3f}; test accuracy L2 {m['l2_test_accuracy']:.4f}"
    )


CLAIMS = (
    Claim(
        "l1-sparse",
        "An L1 penalty drives many weights to (near) zero: at least twice the fraction of "
        "near-zero weights of the unpenalised and of the L2-penalised network.",
        _verdict_l1,
        "weights.png",
    ),
    Claim(
        "l2-small",
        "An L2 penalty (weight decay) shrinks the weights -- a smaller ||W||_2 than without "
        "penalty -- without making them sparse (fewer near-zero weights than L1).",
        _verdict_l2,
        "weights.png",
    ),
)


def _histograms(weights: dict[str, torch.Tensor], path: Any, tol: float) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 4.0), dpi=100)
    for name, w in weights.items():
        ax.hist(
            torch.log10(w.abs() + 1e-12).numpy(),
            bins=80,
            range=(-8, 0),
            histtype="step",
            label=name,
            linewidth=1.5,
        )
    ax.axvline(float(torch.log10(torch.tensor(tol))), color="grey", ls="--", label="zero_tol")
    ax.set(xlabel="log10 |w|", ylabel="weights", title="weight magnitudes after training")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


@experiment(
    "regularize-penalties",
    topic="regularize",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Goodfellow et al. 2016, Deep Learning §7.1; Tibshirani 1996 (lasso)",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Train an MLP without penalty, with L1 and with L2; compare sparsity and weight norms."""
    data = load_data(cfg.data, n_train=cfg.n_train, n_val=2000, seed=ctx.seed, flatten=True)
    metrics: dict[str, Any] = {"zero_tol": cfg.zero_tol, "train_examples": len(data.train)}
    weights: dict[str, torch.Tensor] = {}
    for variant in VARIANTS:
        torch.manual_seed(ctx.seed)  # the same initial weights for every variant
        trunk, head = mlp(data.input_shape[0], cfg.hidden, data.num_classes)
        model = torch.nn.Sequential(trunk, head).to(ctx.device)
        fit_classifier(
            ctx,
            variant,
            model,
            data,
            lr=cfg.lr,
            engine=cfg.engine,
            optimizer=torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum),
            l1=cfg.l1 if variant == "l1" else 0.0,
            l2=cfg.l2 if variant == "l2" else 0.0,
        )
        params = weight_parameters(model)
        weights[variant] = torch.cat([p.detach().flatten().cpu() for p in params])
        metrics[f"{variant}_sparsity"] = sparsity(params, cfg.zero_tol)
        metrics[f"{variant}_weight_norm"] = weight_norm(params)
        metrics[f"{variant}_max_abs_weight"] = float(weights[variant].abs().max())
        metrics[f"{variant}_test_accuracy"] = accuracy(
            *predict(model, data.test, device=ctx.device)
        )
        metrics[f"{variant}_train_accuracy"] = accuracy(
            *predict(model, data.train, device=ctx.device)
        )
        ctx.log(VARIANTS.index(variant), **{k: v for k, v in metrics.items() if variant in k})
    plots = [
        _histograms(weights, ctx.path("weights.png"), cfg.zero_tol),
        bar_chart(
            {v: metrics[f"{v}_test_accuracy"] for v in VARIANTS},
            ctx.path("accuracy.png"),
            ylabel="test accuracy",
            title=f"{cfg.data}: penalties",
        ),
    ]
    return Result(metrics=metrics, plots=plots)
