r"""Experiment ``cnn-dilation``: dilated convolutions on redundant inputs.

Dilation (Yu & Koltun 2016, arXiv:1511.07122; WaveNet) spaces a kernel's taps :math:`D`
apart: a stack of 3x3 convolutions with dilations 1, 2, 4 sees 15 x 15 pixels where the
undilated stack sees 7 x 7, at the same parameters and FLOPs (``replearn.cnn.arithmetic``
Eq. 4). Skipping neighbours is harmless when neighbouring inputs are *redundant* (audio
samples, upsampled or smooth images): the taps between those read are near copies of the
ones read. Measured here on inputs made redundant on purpose: the 8x8 digits upsampled by
``upsample`` (nearest neighbour: every pixel repeated ``upsample``² times).

Two CNNs that differ only in their dilations (3 layers of 3x3 'same' convolutions, width
``width``, ReLU, global average pooling, linear; the receptive field bounds what a position
sees before the pooling) are trained with the engine from the same initial weights on the
same data order, over seeds, and scored on the same test images. The undilated network on
the original 8x8 images is trained too, as a reference (reported, not judged).

replearn run cnn-dilation
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from replearn.cnn.arithmetic import receptive_field
from replearn.data import load_classification
from replearn.engine import ClassificationTask, EngineConfig, RunContext
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.cnn.common import count_flops
from replearn.experiments.common import (
    accuracy,
    count_params,
    predict,
    seeded,
    subset,
    train_variant,
)
from replearn.experiments.stats import compare_seeds
from replearn.report.plots import DPI, save_figure


@dataclass(frozen=True)
class Config:
    """Settings of ``cnn-dilation``.

    Attributes:
        upsample: nearest-neighbour upsampling factor of the 8x8 digits (the redundancy).
        dilations: dilation of each 3x3 layer of the dilated network (the other has all 1s).
        width: channels of every convolution.
        n_train: training images (None: all 1,294).
        seeds: training seeds (>= 3).
        lr: Adam learning rate.
        engine: training-loop settings (shared by every network and seed).
    """

    upsample: int = 2
    dilations: tuple[int, ...] = (1, 2, 4)
    width: int = 16
    n_train: int | None = None
    seeds: tuple[int, ...] = (0, 1, 2)
    lr: float = 3e-3
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=500, batch_size=64, log_every=50, checkpoint_every=0, progress=False
        )
    )

    def __post_init__(self) -> None:
        if len(self.seeds) < 3 or self.upsample < 1 or min(self.dilations) < 1:
            raise ValueError("need >= 3 seeds, upsample >= 1 and dilations >= 1")


def tiny() -> Config:
    """Seconds: 3 seeds of 10 steps on 200 images (a smoke check)."""
    return Config(
        width=4,
        n_train=200,
        engine=EngineConfig(max_steps=10, batch_size=32, log_every=5, checkpoint_every=0),
    )


def quick() -> Config:
    """Seconds: 3 seeds of 15 steps (a smoke check)."""
    return Config(engine=EngineConfig(max_steps=15, batch_size=64, log_every=5, checkpoint_every=0))


def dilated_cnn(dilations: Sequence[int], width: int, num_classes: int) -> nn.Sequential:
    """3x3 'same' convolutions with the given dilations, ReLU, global average pool, linear."""
    layers: list[nn.Module] = []
    c = 1
    for d in dilations:
        layers += [nn.Conv2d(c, width, 3, padding=d, dilation=d), nn.ReLU()]
        c = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))


def _upsampled(ds: TensorDataset, factor: int) -> TensorDataset:
    x, y = ds.tensors
    return TensorDataset(F.interpolate(x, scale_factor=factor, mode="nearest"), y)


def _verdict(m: dict[str, Any]) -> tuple[bool, str]:
    c = m["dilated_vs_plain"]
    return c["holds"] and m["equal_cost"], (
        f"{m['side']}x{m['side']} inputs ({m['upsample']}x-upsampled digits): dilated "
        f"{m['dilated_mean']:.4f} vs undilated {m['plain_mean']:.4f} mean test accuracy "
        f"(receptive field {m['rf_dilated']} vs {m['rf_plain']} px; parameters "
        f"{m['params_dilated']} vs {m['params_plain']}, FLOPs {m['flops_dilated']} vs "
        f"{m['flops_plain']}); {m['evidence']}; reference: undilated on the original 8x8 "
        f"images {m['original_mean']:.4f}"
    )


CLAIMS = (
    Claim(
        "dilation-on-redundant-inputs",
        "On redundant inputs (digits upsampled 2x, every pixel repeated), 3x3 convolutions "
        "dilated 1, 2, 4 beat the same undilated stack at equal parameters and FLOPs (their "
        "receptive field is 15 instead of 7 pixels, and the skipped neighbours are copies); "
        "paired over >= 3 seeds, t lower bound > 0.",
        _verdict,
        "dilation.png",
    ),
)


@experiment(
    "cnn-dilation",
    topic="cnn",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Yu & Koltun 2016, arXiv:1511.07122; van den Oord et al. 2016, arXiv:1609.03499",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Train dilated vs undilated CNNs on upsampled digits over seeds; compare test accuracy."""
    data = load_classification("digits", val_fraction=0.1, seed=ctx.seed)
    k = data.num_classes
    base_train, base_test = subset(data.train, cfg.n_train, ctx.seed + 1), data.test
    train, test = _upsampled(base_train, cfg.upsample), _upsampled(base_test, cfg.upsample)
    plain_d = (1,) * len(cfg.dilations)
    nets = {
        "plain": (plain_d, train, test),
        "dilated": (cfg.dilations, train, test),
        "original": (plain_d, base_train, base_test),
    }
    acc: dict[str, list[float]] = {v: [] for v in nets}
    for s in cfg.seeds:
        for name, (dil, tr, te) in nets.items():
            model = seeded(lambda d=dil: dilated_cnn(d, cfg.width, k), s)
            opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
            train_variant(ctx, name, ClassificationTask(model), opt, tr, engine=cfg.engine, seed=s)
            acc[name].append(accuracy(predict(model, te), te.tensors[1]))
            ctx.log(s, **{f"{name}_test_accuracy": acc[name][-1]})
    side = train.tensors[0].shape[-1]
    x1 = train.tensors[0][:1]
    cost = {
        name: (
            count_params(dilated_cnn(d, cfg.width, k)),
            count_flops(dilated_cnn(d, cfg.width, k), x1),
        )
        for name, d in (("plain", plain_d), ("dilated", cfg.dilations))
    }
    c = compare_seeds(acc["dilated"], acc["plain"], label_x="dilated", label_y="undilated",
                      unit="points")  # fmt: skip
    metrics: dict[str, Any] = {
        "side": side, "upsample": cfg.upsample, "test_accuracy": acc,
        "dilated_mean": sum(acc["dilated"]) / len(acc["dilated"]),
        "plain_mean": sum(acc["plain"]) / len(acc["plain"]),
        "original_mean": sum(acc["original"]) / len(acc["original"]),
        "rf_plain": receptive_field([(3, 1, 1)] * len(cfg.dilations)),
        "rf_dilated": receptive_field([(3, 1, d) for d in cfg.dilations]),
        "params_plain": cost["plain"][0], "params_dilated": cost["dilated"][0],
        "flops_plain": cost["plain"][1], "flops_dilated": cost["dilated"][1],
        "equal_cost": cost["plain"] == cost["dilated"],
        "dilated_vs_plain": c.as_dict(), "evidence": c.evidence(),
    }  # fmt: skip
    fig, ax = plt.subplots(figsize=(6.0, 4.0), dpi=DPI)
    names = list(nets)
    for j in range(len(cfg.seeds)):
        ax.plot(range(len(names)), [acc[n][j] for n in names], marker="o", alpha=0.6,
                label=f"seed {cfg.seeds[j]}")  # fmt: skip
    ax.set_xticks(range(len(names)), [f"undilated\n{side}px", f"dilated {cfg.dilations}\n{side}px",
                                      "undilated\n8px original"])  # fmt: skip
    ax.set(ylabel="test accuracy", title="dilation on redundant (upsampled) inputs")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return Result(metrics=metrics, plots=[save_figure(fig, ctx.path("dilation.png"))])
