"""Experiment ``regularize-ls-erasing``: label smoothing's and Random Erasing's effect on accuracy.

The calibration claims of label smoothing live in ``regularize-label-smoothing``; this
experiment measures what the course also says about it, that it *improves accuracy*
(Szegedy et al. 2016, arXiv:1512.00567, §7: +0.2 top-1 points on ImageNet), and gives
Random Erasing (Zhong et al. 2020, arXiv:1708.04896: p = 0.5, erased area 2-40%, aspect
0.3-3.3, :class:`replearn.regularize.RandomErasing`) its claim. Both are judged over
training seeds with :func:`replearn.experiments.stats.compare_seeds` (paired by seed: the
three variants of a seed share initial weights, data order and training subset).

Network: a small CNN (3x3 conv 16, ReLU, 3x3 stride-2 conv 32, ReLU, dense 128, ReLU,
linear), Adam, trained with the engine for a fixed number of steps on 8x8 digits (the
1,294 training images), scored on the 359 test images. Hyperparameters are the papers'
(epsilon = 0.1; Random Erasing's defaults), chosen before any run.

Writes ``accuracy.png`` (test accuracy per seed and variant).

replearn run regularize-ls-erasing
replearn run regularize-ls-erasing --set data=fashion-mnist --set n_train=5000
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import matplotlib.pyplot as plt
import torch
from torch import nn

from replearn.data import load_classification
from replearn.engine import ClassificationTask, EngineConfig, RunContext
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import accuracy, predict, seeded, subset, train_variant
from replearn.experiments.stats import compare_seeds
from replearn.regularize.mixing import RandomErasing
from replearn.report.plots import DPI, save_figure

VARIANTS = ("hard", "smoothed", "erasing")


@dataclass(frozen=True)
class Config:
    """Config of ``regularize-ls-erasing``.

    Attributes:
        data: digits (embedded) or fashion-mnist (file).
        n_train: training images (a seeded subset per seed; None: all).
        seeds: training seeds (>= 3).
        smoothing: label-smoothing epsilon of the ``smoothed`` variant.
        erasing_p: probability of Random Erasing per image (``erasing`` variant).
        width: channels of the first convolution (the second has twice as many).
        lr: Adam learning rate.
        engine: training-loop settings (shared by every variant and seed).
    """

    data: Literal["digits", "fashion-mnist"] = "digits"
    n_train: int | None = None
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    smoothing: float = 0.1
    erasing_p: float = 0.5
    width: int = 16
    lr: float = 1e-3
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=1500, batch_size=64, log_every=100, checkpoint_every=0, progress=False
        )
    )

    def __post_init__(self) -> None:
        if len(self.seeds) < 3:
            raise ValueError(f"need >= 3 seeds, got {self.seeds}")
        if not 0.0 < self.smoothing < 1.0 or not 0.0 < self.erasing_p <= 1.0:
            raise ValueError("smoothing must be in (0, 1) and erasing_p in (0, 1]")


def tiny() -> Config:
    """Seconds: 3 seeds of 15 steps on 300 images (a smoke check, not a verdict)."""
    return Config(
        n_train=300,
        seeds=(0, 1, 2),
        width=4,
        engine=EngineConfig(max_steps=15, batch_size=32, log_every=5, checkpoint_every=0),
    )


def quick() -> Config:
    """Seconds: 3 seeds of 25 steps (a smoke check)."""
    return Config(
        seeds=(0, 1, 2),
        engine=EngineConfig(max_steps=25, batch_size=64, log_every=25, checkpoint_every=0),
    )


def small_cnn(side: int, k: int, width: int) -> nn.Sequential:
    """3x3 conv, ReLU, 3x3 stride-2 conv, ReLU, dense 128, ReLU, linear (1-channel images)."""
    h = (side + 1) // 2
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),  # (B, w, H, W)
        nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),  # (B, 2w, H/2, W/2)
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(2 * width * h * h, 128),
        nn.ReLU(),
        nn.Linear(128, k),
    )


def _verdict(m: dict[str, Any], *, key: str, what: str) -> tuple[bool, str]:
    c = m[f"{key}_vs_hard"]
    acc = m["test_accuracy"]
    return c["holds"], (
        f"mean test accuracy {what} {sum(acc[key]) / len(acc[key]):.4f} vs hard targets / no "
        f"augmentation {sum(acc['hard']) / len(acc['hard']):.4f}; {m[f'{key}_evidence']}"
    )


CLAIMS = (
    Claim(
        "ls-improves-accuracy",
        "Label smoothing (epsilon = 0.1) improves test accuracy over hard targets (same CNN, "
        "data and initial weights; paired over >= 3 training seeds, t lower bound > 0).",
        lambda m: _verdict(m, key="smoothed", what="label smoothing"),
        "accuracy.png",
    ),
    Claim(
        "erasing-improves",
        "Random Erasing (p = 0.5, area 2-40%, aspect 0.3-3.3) improves test accuracy over no "
        "augmentation (same CNN, data and initial weights; paired over >= 3 training seeds, "
        "t lower bound > 0).",
        lambda m: _verdict(m, key="erasing", what="Random Erasing"),
        "accuracy.png",
    ),
)


@experiment(
    "regularize-ls-erasing",
    topic="regularize",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Szegedy et al. 2016, arXiv:1512.00567; Zhong et al. 2020, arXiv:1708.04896",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Train hard / label-smoothed / Random-Erasing CNNs over seeds; compare test accuracy."""
    data = load_classification(cfg.data, val_fraction=0.1, seed=ctx.seed)
    side, k = data.input_shape[-1], data.num_classes
    acc: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for s in cfg.seeds:
        train = subset(data.train, cfg.n_train, 1000 + s)
        for variant in VARIANTS:
            cnn = seeded(lambda: small_cnn(side, k, cfg.width), s)
            model = (
                nn.Sequential(RandomErasing(p=cfg.erasing_p), cnn) if variant == "erasing" else cnn
            )
            eps = cfg.smoothing if variant == "smoothed" else 0.0
            task = ClassificationTask(model, label_smoothing=eps)
            opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
            train_variant(ctx, variant, task, opt, train, engine=cfg.engine, seed=s)
            logits = predict(model, data.test)
            acc[variant].append(accuracy(logits, data.test.tensors[1]))
            ctx.log(s, **{f"{variant}_test_accuracy": acc[variant][-1]})
    metrics: dict[str, Any] = {"test_accuracy": acc, "train_examples": len(train)}
    for key, label in (("smoothed", "label smoothing"), ("erasing", "Random Erasing")):
        c = compare_seeds(acc[key], acc["hard"], label_x=label, label_y="baseline", unit="points")
        metrics[f"{key}_vs_hard"], metrics[f"{key}_evidence"] = c.as_dict(), c.evidence()
    fig, ax = plt.subplots(figsize=(6.0, 4.0), dpi=DPI)
    for i, variant in enumerate(VARIANTS):
        ax.scatter([i] * len(acc[variant]), acc[variant], label=variant)
        for s, a in zip(cfg.seeds, acc[variant], strict=True):
            ax.annotate(str(s), (i + 0.05, a), fontsize=7)
    for j in range(len(cfg.seeds)):
        ax.plot(range(len(VARIANTS)), [acc[v][j] for v in VARIANTS], color="grey", alpha=0.4)
    ax.set_xticks(range(len(VARIANTS)), VARIANTS)
    ax.set(ylabel="test accuracy", title=f"{cfg.data}: per seed (lines pair a seed)")
    fig.tight_layout()
    return Result(metrics=metrics, plots=[save_figure(fig, ctx.path("accuracy.png"))])
