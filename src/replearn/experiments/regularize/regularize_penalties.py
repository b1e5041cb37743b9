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

The three variants are trained for ``seeds`` training seeds (3 by default; at each seed they
share the initial weights and the batches; the subset is fixed), and both claims are judged
over the seeds by :func:`replearn.experiments.stats.compare_seeds` (paired by seed; the
one-sided 95% Student-t lower bound of the mean difference must be above zero). Before
issue 21 one seed was trained; three seeds cost three times that.

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
    over_seeds,
    predict,
)
from replearn.experiments.stats import MIN_SEEDS, SeedComparison, compare_seeds
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
        seeds: training seeds (``seed, seed + 1, ...``; >= 3), each training every variant.
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
    seeds: int = 3
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=3000, batch_size=128, log_every=100, eval_every=500, checkpoint_every=0
        )
    )

    def __post_init__(self) -> None:
        if self.seeds < MIN_SEEDS:
            raise ValueError(f"seeds must be >= {MIN_SEEDS} (the claims), got {self.seeds}")


def tiny() -> Config:
    """Seconds: digits, 30 steps per variant and seed (smoke tests)."""
    return Config(
        data="digits",
        n_train=None,
        hidden=(32,),
        engine=EngineConfig(max_steps=30, batch_size=32, log_every=10, checkpoint_every=0),
    )


def quick() -> Config:
    """Seconds: digits, 120 steps per variant and seed (a smoke check)."""
    base = Config(data="digits", n_train=None)
    return dataclasses.replace(
        base,
        engine=dataclasses.replace(
            base.engine, max_steps=120, batch_size=64, log_every=40, eval_every=0
        ),
    )


def _comparisons(m: dict[str, Any]) -> dict[str, SeedComparison]:
    sp = {v: m[f"{v}_sparsity_seeds"] for v in VARIANTS}
    return {
        "l1_vs_none": compare_seeds(
            sp["l1"], [2 * x for x in sp["none"]], label_x="L1", label_y="2 x none"
        ),
        "l1_vs_l2": compare_seeds(
            sp["l1"], [2 * x for x in sp["l2"]], label_x="L1", label_y="2 x L2"
        ),
        "l2_norm": compare_seeds(
            m["l2_weight_norm_seeds"],
            m["none_weight_norm_seeds"],
            higher_is_better=False,
            label_x="L2",
            label_y="none",
        ),
        "l2_vs_l1_sparsity": compare_seeds(
            sp["l2"], sp["l1"], higher_is_better=False, label_x="L2", label_y="L1"
        ),
    }


def _verdict_l1(m: dict[str, Any]) -> tuple[bool, str]:
    c = _comparisons(m)
    none, l2 = c["l1_vs_none"], c["l1_vs_l2"]
    return none.holds and l2.holds, (
        f"fraction of weights with |w| <= {m['zero_tol']:g} (means over seeds {m['seeds']}): "
        f"L1 {m['l1_sparsity']:.3f}, none {m['none_sparsity']:.3f}, L2 {m['l2_sparsity']:.3f}; "
        f"needs L1 > 2x none: {none.evidence()}; and L1 > 2x L2: {l2.evidence()}; test "
        f"accuracy L1 {m['l1_test_accuracy']:.4f} vs none {m['none_test_accuracy']:.4f}"
    )


def _verdict_l2(m: dict[str, Any]) -> tuple[bool, str]:
    c = _comparisons(m)
    norm, sparse = c["l2_norm"], c["l2_vs_l1_sparsity"]
    return norm.holds and sparse.holds, (
        f"means over seeds {m['seeds']}: ||W||_2 L2 {m['l2_weight_norm']:.2f} vs none "
        f"{m['none_weight_norm']:.2f} (L1 {m['l1_weight_norm']:.2f}); max |w| L2 "
        f"{m['l2_max_abs_weight']:.3f} vs none {m['none_max_abs_weight']:.3f}; near-zero "
        f"fraction L2 {m['l2_sparsity']:.3f} vs L1 {m['l1_sparsity']:.3f}; test accuracy L2 "
        f"{m['l2_test_accuracy']:.4f}; smaller norm (lower is better): {norm.evidence()}; "
        f"fewer near-zero weights than L1 (lower is better): {sparse.evidence()}"
    )


_SEEDS = (
    "(judged over 3 training seeds, the variants sharing each seed's initial weights and "
    "batches: mean paired difference, one-sided 95% Student-t lower bound > 0)"
)
CLAIMS = (
    Claim(
        "l1-sparse",
        "An L1 penalty drives many weights to (near) zero: at least twice the fraction of "
        f"near-zero weights of the unpenalised and of the L2-penalised network {_SEEDS}.",
        _verdict_l1,
        "weights.png",
    ),
    Claim(
        "l2-small",
        "An L2 penalty (weight decay) shrinks the weights -- a smaller ||W||_2 than without "
        f"penalty -- without making them sparse (fewer near-zero weights than L1) {_SEEDS}.",
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
    weights: dict[str, torch.Tensor] = {}  # the first seed's, for the histograms

    def one_seed(run: RunContext) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for variant in VARIANTS:
            torch.manual_seed(run.seed)  # the same initial weights for every variant
            trunk, head = mlp(data.input_shape[0], cfg.hidden, data.num_classes)
            model = torch.nn.Sequential(trunk, head).to(ctx.device)
            fit_classifier(
                run,
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
            flat = torch.cat([p.detach().flatten().cpu() for p in params])
            if run.seed == ctx.seed:
                weights[variant] = flat
            row = {
                "sparsity": sparsity(params, cfg.zero_tol),
                "weight_norm": weight_norm(params),
                "max_abs_weight": float(flat.abs().max()),
                "test_accuracy": accuracy(*predict(model, data.test, device=ctx.device)),
                "train_accuracy": accuracy(*predict(model, data.train, device=ctx.device)),
            }
            run.log(VARIANTS.index(variant), **{f"{variant}_{k}": v for k, v in row.items()})
            out.update({f"{variant}_{k}": v for k, v in row.items()})
        return out

    metrics.update(over_seeds(ctx, cfg.seeds, one_seed))
    metrics.update({f"{k}_comparison": c.as_dict() for k, c in _comparisons(metrics).items()})
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
