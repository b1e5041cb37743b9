"""Experiment ``regularize-retrain-gain``: retraining on train + validation helps less with more
data.

After model selection on a held-out validation split, the course (Goodfellow et al. 2016,
§7.8, Algorithm 7.2) retrains on *all* labelled data, training + validation: the final
model sees more examples. The benefit is largest when data are scarce: on a learning curve
that flattens, the 25% more examples that the validation split adds are worth less and
less. Measured here:

for each labelled-pool size N (a seeded subset of the 8x8 digits' training pool) and each
seed, the pool is split 80 / 20 into training and validation; the same MLP (same initial
weights) is trained for the same number of steps (a) on the 80% and (b) on all N
(Algorithm 7.2 with its step count fixed in advance, not selected by early stopping: a
deviation that keeps the comparison at equal steps). The *gain* is test accuracy (b) - (a).

The claim holds if the mean gain does not increase from one pool size to the next and the
gain at the smallest N exceeds the gain at the largest N over seeds (paired by seed,
:func:`replearn.experiments.stats.compare_seeds`, t lower bound > 0).

Writes ``gain.png`` (gain against N, per seed and mean).

replearn run regularize-retrain-gain
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Literal

import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.utils.data import ConcatDataset, TensorDataset

from replearn.data import load_classification
from replearn.engine import ClassificationTask, EngineConfig, RunContext
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import accuracy, predict, seeded, subset, train_variant
from replearn.experiments.stats import compare_seeds
from replearn.report.plots import DPI, save_figure


@dataclass(frozen=True)
class Config:
    """Config of ``regularize-retrain-gain``.

    Attributes:
        data: digits (embedded), mnist1d (embedded) or fashion-mnist (file).
        sizes: labelled-pool sizes N, increasing (each split 80 / 20).
        val_fraction: share of the pool held out as validation by variant (a).
        seeds: training seeds (>= 3; each draws its own pools and initial weights).
        hidden: hidden width of the one-hidden-layer ReLU MLP.
        lr: Adam learning rate.
        engine: training-loop settings (the same steps for every run).
    """

    data: Literal["digits", "mnist1d", "fashion-mnist"] = "digits"
    sizes: tuple[int, ...] = (100, 300, 1000)
    val_fraction: float = 0.2
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    hidden: int = 256
    lr: float = 1e-3
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=400, batch_size=64, log_every=100, checkpoint_every=0, progress=False
        )
    )

    def __post_init__(self) -> None:
        if len(self.seeds) < 3 or len(self.sizes) < 2 or list(self.sizes) != sorted(self.sizes):
            raise ValueError("need >= 3 seeds and >= 2 increasing sizes")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")


def tiny() -> Config:
    """Seconds: two sizes, 3 seeds of 10 steps (a smoke check)."""
    return Config(
        sizes=(50, 100),
        seeds=(0, 1, 2),
        hidden=32,
        engine=EngineConfig(max_steps=10, batch_size=32, log_every=5, checkpoint_every=0),
    )


def quick() -> Config:
    """Seconds: 3 seeds of 40 steps (a smoke check)."""
    return Config(
        seeds=(0, 1, 2),
        engine=EngineConfig(max_steps=40, batch_size=64, log_every=20, checkpoint_every=0),
    )


def _verdict(m: dict[str, Any]) -> tuple[bool, str]:
    means = m["mean_gain"]
    monotone = all(a >= b for a, b in itertools.pairwise(means))
    c = m["small_vs_large"]
    sizes = m["sizes"]
    table = ", ".join(f"N={n}: {100 * g:+.2f}" for n, g in zip(sizes, means, strict=True))
    return monotone and c["holds"], (
        f"mean gain of retraining on train + validation (test accuracy points): {table} "
        f"(non-increasing: {monotone}); gain at N={sizes[0]} vs N={sizes[-1]}: {m['evidence']}"
    )


CLAIMS = (
    Claim(
        "retrain-gain-shrinks",
        "The gain of retraining on training + validation data (vs training data only, same "
        "steps) shrinks as the labelled data grow: the mean gain does not increase with the "
        "pool size, and it is larger at the smallest pool than at the largest (paired over "
        ">= 3 seeds, t lower bound > 0).",
        _verdict,
        "gain.png",
    ),
)


@experiment(
    "regularize-retrain-gain",
    topic="regularize",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Goodfellow, Bengio & Courville 2016, Deep Learning §7.8, Algorithm 7.2",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """For each pool size and seed: train on 80% vs retrain on 100%; gain in test accuracy."""
    data = load_classification(cfg.data, val_fraction=0.1, seed=ctx.seed, flatten=True)
    pool = TensorDataset(
        *(torch.cat(t) for t in zip(data.train.tensors, data.val.tensors, strict=True))
    )
    if cfg.sizes[-1] > len(pool):
        raise ValueError(f"largest size {cfg.sizes[-1]} exceeds the pool ({len(pool)})")
    n_in, k = data.input_shape[0], data.num_classes
    gains: dict[int, list[float]] = {n: [] for n in cfg.sizes}
    accs: dict[str, list[float]] = {}
    for s in cfg.seeds:
        for n in cfg.sizes:
            labelled = subset(pool, n, 7919 * s + n)
            n_val = round(cfg.val_fraction * n)
            train = TensorDataset(*(t[n_val:] for t in labelled.tensors))
            sets = {"train-only": train, "retrained": ConcatDataset([train, TensorDataset(
                *(t[:n_val] for t in labelled.tensors))])}  # fmt: skip
            result = {}
            for variant, ds in sets.items():
                model = seeded(
                    lambda: nn.Sequential(nn.Linear(n_in, cfg.hidden), nn.ReLU(),
                                          nn.Linear(cfg.hidden, k)), s)  # fmt: skip
                opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
                train_variant(ctx, f"n{n}-{variant}", ClassificationTask(model), opt, ds,
                              engine=cfg.engine, seed=s)  # fmt: skip
                result[variant] = accuracy(predict(model, data.test), data.test.tensors[1])
                accs.setdefault(f"n{n}_{variant}", []).append(result[variant])
            gains[n].append(result["retrained"] - result["train-only"])
            ctx.log(s, **{f"n{n}_gain": gains[n][-1]})
    small, large = gains[cfg.sizes[0]], gains[cfg.sizes[-1]]
    c = compare_seeds(small, large, label_x=f"gain N={cfg.sizes[0]}",
                      label_y=f"gain N={cfg.sizes[-1]}", unit="points")  # fmt: skip
    metrics: dict[str, Any] = {
        "sizes": list(cfg.sizes),
        "gains": {str(n): g for n, g in gains.items()},
        "mean_gain": [sum(g) / len(g) for g in gains.values()],
        "test_accuracy": accs,
        "small_vs_large": c.as_dict(),
        "evidence": c.evidence(),
        "mean_gain_smallest": sum(small) / len(small),
        "mean_gain_largest": sum(large) / len(large),
    }
    fig, ax = plt.subplots(figsize=(6.0, 4.0), dpi=DPI)
    for j in range(len(cfg.seeds)):
        ax.plot(cfg.sizes, [100 * gains[n][j] for n in cfg.sizes], color="grey", alpha=0.4,
                marker=".", label="per seed" if j == 0 else None)  # fmt: skip
    ax.plot(cfg.sizes, [100 * g for g in metrics["mean_gain"]], color="black", marker="o",
            label="mean")  # fmt: skip
    ax.axhline(0.0, color="red", lw=0.8)
    ax.set(xscale="log", xlabel="labelled examples N", ylabel="gain (test accuracy points)",
           title=f"{cfg.data}: retrain on train + validation vs train only")  # fmt: skip
    ax.legend(fontsize="small")
    fig.tight_layout()
    return Result(metrics=metrics, plots=[save_figure(fig, ctx.path("gain.png"))])
