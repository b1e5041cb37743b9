"""Experiment ``regularize-dropout``: dropout shrinks the gap between training and validation.

A wide two-hidden-layer MLP is trained on a small training subset (so that it
overfits) from the same initial weights, without dropout and with inverted
dropout (:class:`replearn.regularize.dropout.Dropout`, Srivastava et al. 2014: p =
0.5 after each hidden layer). After training, accuracy and cross-entropy are
measured in evaluation mode on the training subset, the validation split and
the test split; the *gap* is training minus validation accuracy (and validation
minus training loss). Both variants are trained for ``seeds`` training seeds (3 by default;
the subsets are fixed), and the claim is judged over the seeds by
:func:`replearn.experiments.stats.compare_seeds` (paired by seed; the one-sided 95%
Student-t lower bound of the mean gap reduction must be above zero).

Writes ``val_loss.png`` (validation loss during training, first seed) and ``gap.png`` (means).
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
    curves_chart,
    evaluate_splits,
    fit_classifier,
    gap_chart,
    gap_comparison,
    metric_curve,
    mlp,
    over_seeds,
    record,
)

VARIANTS = ("none", "dropout")


@dataclass(frozen=True)
class Config:
    """Config of ``regularize-dropout``.

    Attributes:
        data: fashion-mnist (file), digits (embedded) or mnist1d.
        n_train: training examples (a seeded subset, small so that the MLP overfits).
        n_val: validation examples.
        hidden: hidden widths of the MLP.
        p: drop probability after each hidden layer (variant ``dropout``).
        lr: Adam learning rate.
        seeds: training seeds (``seed, seed + 1, ...``; >= 3).
        engine: training-loop settings (shared by the variants).
    """

    data: Literal["fashion-mnist", "digits", "mnist1d"] = "fashion-mnist"
    n_train: int | None = 2000
    n_val: int | None = 2000
    hidden: tuple[int, ...] = (512, 512)
    p: float = 0.5
    lr: float = 1e-3
    seeds: int = 3
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=3000, batch_size=128, log_every=100, eval_every=250, checkpoint_every=0
        )
    )

    def __post_init__(self) -> None:
        if not 0.0 < self.p < 1.0:
            raise ValueError(f"p must be in (0, 1), got {self.p}")


def tiny() -> Config:
    """Seconds: digits, 10 steps per variant and seed (smoke tests)."""
    return Config(
        data="digits",
        n_train=None,
        n_val=None,
        hidden=(64,),
        engine=EngineConfig(
            max_steps=10, batch_size=32, log_every=5, eval_every=5, checkpoint_every=0
        ),
    )


def quick() -> Config:
    """Seconds: digits (all 1,294 training images), 25 steps per variant and seed (smoke check)."""
    base = Config(data="digits", n_train=None, n_val=None)
    return dataclasses.replace(
        base, engine=dataclasses.replace(base.engine, max_steps=25, log_every=5, eval_every=10)
    )


def _verdict(m: dict[str, Any]) -> tuple[bool, str]:
    c = gap_comparison(m, "dropout", "none", "dropout", "none")
    return c.holds, (
        f"means over seeds: train - validation accuracy: dropout "
        f"{m['dropout_gap_accuracy']:.4f} vs none {m['none_gap_accuracy']:.4f} (train "
        f"{m['dropout_train_accuracy']:.4f} / "
        f"{m['none_train_accuracy']:.4f}); validation - train loss: dropout "
        f"{m['dropout_gap_loss']:.3f} vs none {m['none_gap_loss']:.3f}; test accuracy dropout "
        f"{m['dropout_test_accuracy']:.4f} vs none {m['none_test_accuracy']:.4f}; {c.evidence()}"
    )


CLAIMS = (
    Claim(
        "dropout-gap",
        "Dropout regularizes: with p = 0.5 after each hidden layer the gap between training "
        "and validation accuracy is smaller than without dropout (mean paired difference over "
        "training seeds, one-sided 95% lower bound > 0).",
        _verdict,
        "gap.png",
    ),
)


@experiment(
    "regularize-dropout",
    topic="regularize",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov 2014, JMLR 15",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Train an MLP with and without dropout on a small subset; compare train-val gaps."""
    data = load_data(cfg.data, n_train=cfg.n_train, n_val=cfg.n_val, seed=ctx.seed, flatten=True)
    curves: dict[str, tuple[list[float], list[float]]] = {}

    def one_seed(run: RunContext) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for variant in VARIANTS:
            torch.manual_seed(run.seed)
            p = cfg.p if variant == "dropout" else 0.0
            trunk, head = mlp(data.input_shape[0], cfg.hidden, data.num_classes, dropout=p)
            model = torch.nn.Sequential(trunk, head).to(ctx.device)
            loop = fit_classifier(run, variant, model, data, lr=cfg.lr, engine=cfg.engine)
            if run.seed == ctx.seed:
                curves[variant] = metric_curve(loop.history, "val_loss")
            m = evaluate_splits(model, data, device=ctx.device)
            m["gap_accuracy"] = m["train_accuracy"] - m["val_accuracy"]
            m["gap_loss"] = m["val_loss"] - m["train_loss"]
            record(out, run, loop.step, variant, m)
        return out

    metrics: dict[str, Any] = {"p": cfg.p, "train_examples": len(data.train)}
    metrics.update(over_seeds(ctx, cfg.seeds, one_seed))
    plots = [
        curves_chart(
            curves,
            ctx.path("val_loss.png"),
            xlabel="step",
            ylabel="validation cross-entropy",
            title=f"{cfg.data}, {len(data.train)} training examples",
        ),
        gap_chart(
            metrics, VARIANTS, ctx.path("gap.png"), seeds=cfg.seeds, title=f"dropout p={cfg.p}"
        ),
    ]
    return Result(metrics=metrics, plots=plots)
