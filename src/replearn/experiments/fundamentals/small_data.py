"""Experiment ``small-data``: learning curves of an SVM, an MLP, a CNN and a ViT on digits.

Training subsets of growing size ``sizes`` are drawn from the 8x8 digits (seeded: seed
``s`` draws the subset and initializes the networks, so the models are paired by seed)
and every model is tested on the fixed 359-image test split:

* ``svm`` -- :class:`~replearn.fundamentals.svm.SVMClassifier` (RBF kernel, C = 10,
  gamma "scale") on the 64 pixels: the classical baseline (Cortes & Vapnik 1995);
* ``mlp`` -- :class:`~replearn.fundamentals.mlp.MLP` 64-256-256-10 (ReLU): weak bias;
* ``cnn`` -- :class:`~replearn.fundamentals.lenet.LeNet5` (ReLU) on the digits upsampled to
  28x28: local connectivity and weight sharing, a strong spatial bias (LeCun et al. 1998);
* ``vit`` -- :class:`~replearn.transformer.vit.ViT` (2x2 patches, 4 layers, width 64):
  attention between patches, a weak spatial bias (Dosovitskiy et al. 2021,
  arXiv:2010.11929, note that ViTs need much data).

The networks are trained by the engine with Adam for a fixed number of steps (the same for
every size). Writes ``learning_curves.png`` (test accuracy vs training-set size).
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from replearn.data import load_classification
from replearn.engine import ClassificationTask, EngineConfig, RunContext
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import accuracy, engine_config, predict, subset, train_variant
from replearn.experiments.stats import compare_seeds
from replearn.fundamentals.lenet import LeNet5
from replearn.fundamentals.mlp import MLP
from replearn.fundamentals.svm import SVMClassifier
from replearn.report.plots import line_plot
from replearn.transformer.vit import ViT

MODELS = ("svm", "mlp", "cnn", "vit")
NETWORKS = ("mlp", "cnn", "vit")


_engine = partial(engine_config, batch_size=64, log_every=50, progress=False)


@dataclass(frozen=True)
class Config:
    """Settings of ``small-data``.

    Attributes:
        sizes: training-set sizes (ascending; capped at the 1,294 training images).
        n_seeds: subsets / initializations per size (>= 3).
        lr: Adam learning rate of the networks.
        svm_c: the SVM's soft-margin penalty C.
        parity_tolerance: the SVM is "competitive" if its accuracy is at most this much
            (fraction) below the MLP's at the 95% level, at every size.
        growth_tolerance: "accuracy grows" allows a dip of at most this (fraction) between
            consecutive sizes.
        engine: training-loop settings (``max_steps`` Adam steps for every size).
    """

    sizes: tuple[int, ...] = (30, 100, 300, 1000)
    n_seeds: int = 3
    lr: float = 1e-3
    svm_c: float = 10.0
    parity_tolerance: float = 0.03
    growth_tolerance: float = 0.01
    engine: EngineConfig = field(default_factory=lambda: _engine(300))

    def __post_init__(self) -> None:
        if len(self.sizes) < 2 or list(self.sizes) != sorted(self.sizes) or self.sizes[0] < 10:
            raise ValueError(f"sizes must be >= 2 ascending values >= 10, got {self.sizes}")
        if self.n_seeds < 3:
            raise ValueError(f"n_seeds must be >= 3, got {self.n_seeds}")


def tiny() -> Config:
    """Seconds: two sizes, three steps."""
    return Config(sizes=(30, 100), engine=_engine(3))


def quick() -> Config:
    """Seconds: two sizes, 15 training steps (a smoke check; 40 steps took 15 CPU s)."""
    return Config(sizes=(50, 200), engine=_engine(15))


class Upsample(nn.Module):
    """Bilinear resize to ``size`` x ``size`` in front of a model (digits 8x8 -> LeNet's 28x28)."""

    def __init__(self, model: nn.Module, size: int) -> None:
        super().__init__()
        self.model, self.size = model, size

    def forward(self, x: Tensor) -> Tensor:
        x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return self.model(x)


def build(name: str, num_classes: int) -> nn.Module:
    """One of the networks, on (B, 1, 8, 8) digits."""
    if name == "mlp":
        return MLP(64, (256, 256), num_classes, activation="relu")
    if name == "cnn":
        return Upsample(LeNet5(num_classes=num_classes, image_size=28, activation="relu"), 28)
    if name == "vit":
        return ViT(image_size=8, patch_size=2, in_chans=1, num_classes=num_classes, dim=64,
                   depth=4, heads=4, mlp_dim=128)  # fmt: skip
    raise ValueError(f"unknown network {name!r}")


def _verdict_growth(m: dict[str, Any]) -> tuple[bool, str]:
    tol, parts, holds = m["growth_tolerance"], [], True
    for model in MODELS:
        means = m[f"{model}_mean_accuracy"]
        monotone = all(b >= a - tol for a, b in itertools.pairwise(means))
        c = m[f"{model}_growth"]
        holds &= monotone and c["holds"]
        parts.append(
            f"{model} {' -> '.join(f'{100 * a:.1f}' for a in means)} "
            f"(largest - smallest {100 * c['mean']:+.1f} pts, SE {100 * c['se']:.1f}, "
            f"bound>0 {c['holds']}, no dip > {100 * tol:g}: {monotone})"
        )
    return holds, f"test accuracy at n = {m['sizes']}: " + "; ".join(parts)


def _verdict_svm(m: dict[str, Any]) -> tuple[bool, str]:
    cs = m["svm_vs_mlp"]
    holds = all(c["holds"] for c in cs)
    return holds, (
        f"SVM - MLP test accuracy per size {m['sizes']}: "
        + ", ".join(
            f"{100 * c['mean']:+.1f} pts (SE {100 * c['se']:.1f}, "
            f"95% bound {100 * c['lower']:+.1f})"
            for c in cs
        )
        + f"; competitive if every bound > -{100 * m['parity_tolerance']:g} points"
    )


def _verdict_cnn(m: dict[str, Any]) -> tuple[bool, str]:
    parts, holds = [], True
    for other in ("mlp", "vit"):
        c = m[f"cnn_vs_{other}"]
        holds &= c["holds"]
        parts.append(
            f"CNN - {other.upper()} {100 * c['mean']:+.1f} pts (SE {100 * c['se']:.1f}, "
            f"{c['n_seeds']} seeds, 95% bound {100 * c['lower']:+.1f} > 0: {c['holds']})"
        )
    return holds, f"at n = {m['sizes'][0]}: " + "; ".join(parts)


CLAIMS = (
    Claim(
        "accuracy-grows-with-data",
        "Test accuracy grows with the training-set size, for the SVM, the MLP, the CNN and the "
        "ViT: no dip of more than 1 point between consecutive sizes, and the largest size beats "
        "the smallest (paired over seeds, 95% bound).",
        _verdict_growth,
        "learning_curves.png",
    ),
    Claim(
        "svm-competitive-small-data",
        "An SVM is competitive with an MLP on small data: at every training-set size the SVM's "
        "test accuracy is at most 3 points below the MLP's (95% lower bound over seeds).",
        _verdict_svm,
        "learning_curves.png",
    ),
    Claim(
        "cnn-learns-faster-from-little-data",
        "A strong inductive bias learns more from little data: at the smallest training set the "
        "CNN beats both the MLP and the ViT (paired over seeds, 95% bound).",
        _verdict_cnn,
        "learning_curves.png",
    ),
)


@experiment(
    "small-data",
    topic="fundamentals",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Cortes & Vapnik 1995; LeCun et al. 1998; Dosovitskiy et al. 2021, arXiv:2010.11929",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """SVM, MLP, CNN and ViT test accuracy against the training-set size on digits."""
    with single_thread():  # small models: a second thread only adds waiting
        return _run(cfg, ctx)


def _run(cfg: Config, ctx: RunContext) -> Result:
    data = load_classification("digits", seed=ctx.seed)
    x_test, y_test = data.test.tensors
    sizes = [min(n, len(data.train)) for n in cfg.sizes]
    acc = {m: [[0.0] * cfg.n_seeds for _ in sizes] for m in MODELS}  # [size][seed]
    for i, n in enumerate(sizes):
        for s in range(cfg.n_seeds):
            seed = ctx.seed * 1000 + s
            train = subset(data.train, n, seed)
            assert isinstance(train, TensorDataset)
            svm = SVMClassifier(c=cfg.svm_c).fit(*train.tensors)
            acc["svm"][i][s] = svm.score(x_test, y_test)
            engine = dataclasses.replace(cfg.engine, batch_size=min(n, cfg.engine.batch_size))
            for name in NETWORKS:
                torch.manual_seed(seed)
                model = build(name, data.num_classes)
                opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
                train_variant(ctx, f"{name}-n{n}", ClassificationTask(model), opt, train,
                              engine=engine, seed=seed)  # fmt: skip
                acc[name][i][s] = accuracy(predict(model, data.test), y_test)
            ctx.log(n, **{f"{m}_accuracy_seed{s}": acc[m][i][s] for m in MODELS})
    metrics: dict[str, Any] = {
        "sizes": sizes, "parity_tolerance": cfg.parity_tolerance,
        "growth_tolerance": cfg.growth_tolerance,
    }  # fmt: skip
    for m in MODELS:
        metrics[f"{m}_accuracy"] = acc[m]
        metrics[f"{m}_mean_accuracy"] = [sum(a) / len(a) for a in acc[m]]
        metrics[f"{m}_growth"] = compare_seeds(
            acc[m][-1], acc[m][0], label_x=f"{m} n={sizes[-1]}", label_y=f"{m} n={sizes[0]}",
            unit="points",
        ).as_dict()  # fmt: skip
    metrics["svm_vs_mlp"] = [
        compare_seeds(acc["svm"][i], acc["mlp"][i], margin=-cfg.parity_tolerance,
                      label_x="SVM", label_y="MLP", unit="points").as_dict()
        for i in range(len(sizes))
    ]  # fmt: skip
    for other in ("mlp", "vit"):
        metrics[f"cnn_vs_{other}"] = compare_seeds(
            acc["cnn"][0], acc[other][0], label_x="CNN", label_y=other.upper(), unit="points"
        ).as_dict()
    plots = [
        line_plot(
            sizes,
            {m: metrics[f"{m}_mean_accuracy"] for m in MODELS},
            ctx.path("learning_curves.png"),
            xlabel="training images",
            ylabel=f"test accuracy (mean of {cfg.n_seeds} seeds)",
            title=f"digits: {cfg.engine.max_steps} Adam steps per network",
            logx=True,
        )
    ]
    return Result(metrics=metrics, plots=plots)
