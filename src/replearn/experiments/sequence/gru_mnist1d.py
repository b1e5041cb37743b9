"""Experiment ``gru-mnist1d``: a GRU reads MNIST-1D one sample at a time and classifies it.

MNIST-1D (S. Greydanus & D. Kobak, "Scaling Down Deep Learning with MNIST-1D", ICML 2024,
arXiv:2011.14439) turns the ten digits into 1-D templates that are padded, sheared,
translated, scaled and corrupted with correlated noise: 4,000 training / 1,000 test signals of
40 samples (``load_classification("mnist1d")``, of which 10% of the training pool is held out
for validation). The paper's table reports 91% test accuracy for a GRU (and 94% for a CNN).

The model is our :class:`~replearn.sequence.rnn.GRU` (fused fast path) over the 40 steps of
one scalar each, then a *readout* over its output sequence: ``"last"`` (the final state of the
last layer, both directions if bidirectional), ``"mean"`` (average over time) or ``"meanmax"``
(average and maximum over time, concatenated), then a linear classifier. Trained with the
engine's ``fit``: AdamW, linear warm-up then cosine decay, clipping of the global gradient norm.

Recipe (chosen on the validation split only; seed 0, under load, 1 thread, uni-directional GRU
with batch 64, AdamW lr 3e-3, 20 epochs): hidden 64 with the ``last`` readout reached 74.8%
validation accuracy, ``meanmax`` 91.8%; bidirectional hidden 64 ``meanmax`` 96.0% at twice the
cost; uni-directional hidden 128 ``meanmax`` 94.5% after 10 epochs and 97.8% after 15. For 12
epochs: 93.9% test (validation 95.5%), 94.2% in 11.3 s wall on 2 quiet cores (issue 14).

Record attempt (issue 14: >= 98% test accuracy in <= 30 s wall on 2 cores, data generation and
evaluation included). The recipe was chosen on the validation split only (seed 0, one thread,
machine under load): the model above trained for 26 epochs of 3,600 signals (12 epochs took
about 10 s of training on 2 quiet cores, so 26 fit the 30 s with the data and evaluation)
reached validation 97.5% (test 97.2%, 55.9 CPU s, 2026-12-07). The default config then takes
the standard final step: the same recipe retrained on all 4,000 training signals (train +
validation, ``val_fraction=0``; 26 epochs of 4,000 = 1,612 updates, 11% more compute), so the
run reports no validation accuracy. Measured (2026-12-08, seed 0, ``replearn run gru-mnist1d``):
test accuracy 97.9% (979 of 1,000: one signal short of the record), 1,612 updates; one thread
(load 1.6-2.4): 49.7 s wall, 49.7 CPU s (runner), 58.3 CPU s for the whole process; two
threads (load 1-2): the same 97.9% in 96.6 s wall (142 CPU s: the two threads contend with the
other processes). The accuracy part fails, so the claim fails; the 2-core wall time needs a
quiet machine (12 epochs of 3,600 took about 10 s there: an estimate of ~25 s, not measured).

Attempts (seed 0, one thread, under load ~4 on 2 cores unless stated; validation of 400 signals,
one signal = 0.25 points; kept only if >= +0.5 points at no more CPU): none kept.

- peak lr 5e-3 instead of 3e-3: validation 96.5% (-1.0), test 97.9%; same cost (load ~28).
- peak lr 2e-3: validation 97.25% (-0.25), test 96.9%; 46.5 CPU s.
- weight decay 0.1 instead of 0.01: validation 97.75% (+0.25), test 97.3% (load ~28).
- batch 32 (same epochs): validation 97.75% (+0.25), test 98.1%, 83 vs 56 CPU s (load ~28).
- batch 128, peak lr 4e-3, 30 epochs (same CPU): validation 96.25% (-1.25), test 97.8%; 49.9 s.
- hidden 96, 34 epochs (same CPU): validation 97.0% (-0.5), test 97.7%; 56.5 CPU s.
- hidden 192, batch 128, 20 epochs: validation 96.5% (-1.0), test 97.0%; 50.9 CPU s.
- two layers of hidden 96, 20 epochs: validation 97.5% (+0), test 98.0%; 58.2 CPU s.
- warm-up 10% of the updates instead of 25%: validation 97.5% (+0), test 97.3%; 51.3 CPU s.
- label smoothing 0.1: validation 97.5% (+0), test 97.3%; 49.9 CPU s.
- no gradient clipping: validation 97.25% (-0.25), test 97.0%; 43.8 CPU s.
- input standardisation: none to add (the generator already standardises the set).
- two threads under load ~28: no update finished in 4 CPU minutes (thread synchronisation).

``wall_time_s`` (written by the runner) is the whole run, data generation included;
``train_time_s`` is the ``fit`` alone.

replearn run gru-mnist1d                     # the record attempt, <= 30 s on 2 quiet cores
replearn run gru-mnist1d --preset quick      # 1 epoch (a smoke check)
replearn run gru-mnist1d --set val_fraction=0.1 engine.max_steps=1456 engine.warmup_steps=364
                                             # the recipe with the hold-out (validation 97.5%)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import torch
from torch import Tensor, nn

from replearn.data.images import load_classification
from replearn.engine import EngineConfig, RunContext, fit
from replearn.engine.tasks import ClassificationTask
from replearn.engine.trainer import evaluate
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import count_params, engine_config
from replearn.sequence.rnn.layers import GRU


def _engine(epochs: int, batch_size: int = 64, pool: int = 3600) -> EngineConfig:
    """``epochs`` passes over ``pool`` training signals (3,600 with the validation hold-out)."""
    steps = epochs * (pool // batch_size)
    return engine_config(
        steps, batch_size, log_every=25, lr_schedule="warmup-cosine", warmup_steps=steps // 4,
        grad_clip_norm=1.0,
    )  # fmt: skip


@dataclass(frozen=True)
class Config:
    """Settings of the GRU on MNIST-1D.

    Attributes:
        hidden_size: GRU state size per direction.
        num_layers: stacked GRU layers.
        bidirectional: add a reverse-time GRU per layer.
        dropout: dropout between GRU layers (needs num_layers > 1).
        readout: 'last' (final state), 'mean' or 'meanmax' (pooling over the output sequence).
        lr: peak AdamW learning rate (reached after engine.warmup_steps).
        weight_decay: AdamW decoupled weight decay.
        label_smoothing: cross-entropy label smoothing.
        val_fraction: share of the 4,000 training signals held out for validation; 0 trains
            on all 4,000 (the final run, once the recipe was chosen on the hold-out).
        engine: training-loop settings (max_steps, batch_size, schedule, clipping).
    """

    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    readout: Literal["last", "mean", "meanmax"] = "meanmax"
    lr: float = 3e-3
    weight_decay: float = 1e-2
    label_smoothing: float = 0.0
    val_fraction: float = 0.0
    engine: EngineConfig = field(default_factory=lambda: _engine(26, 64, 4000))

    def __post_init__(self) -> None:
        if self.readout not in ("last", "mean", "meanmax"):
            raise ValueError(f"readout must be 'last', 'mean' or 'meanmax', got {self.readout!r}")
        if self.lr <= 0 or self.weight_decay < 0:
            raise ValueError("lr must be > 0 and weight_decay >= 0")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")


def tiny() -> Config:
    """Seconds: a small GRU, a few updates."""
    return Config(hidden_size=16, engine=replace(_engine(1), max_steps=5, warmup_steps=1))


def quick() -> Config:
    """Seconds: 1 epoch instead of 26, with the 10% validation hold-out (a smoke check)."""
    return Config(val_fraction=0.1, engine=_engine(1))


class GRUClassifier(nn.Module):
    """GRU over the signal's samples, a readout over time, a linear classifier.

    Shape:
        (B, 1, L) -> logits (B, num_classes).
    """

    def __init__(self, *, cfg: Config, num_classes: int = 10) -> None:
        super().__init__()
        self.readout = cfg.readout
        self.gru = GRU(
            1, cfg.hidden_size, cfg.num_layers, batch_first=True,
            bidirectional=cfg.bidirectional, dropout=cfg.dropout,
        )  # fmt: skip
        features = cfg.hidden_size * (2 if cfg.bidirectional else 1)
        self.head = nn.Linear(features * (2 if cfg.readout == "meanmax" else 1), num_classes)

    def forward(self, x: Tensor) -> Tensor:
        out, h_n = self.gru(x.transpose(1, 2))  # (B, L, D·H), (layers·D, B, H)
        if self.readout == "mean":
            z = out.mean(dim=1)
        elif self.readout == "meanmax":
            z = torch.cat([out.mean(dim=1), out.amax(dim=1)], dim=-1)  # (B, 2·D·H)
        else:
            dirs = 2 if self.gru.bidirectional else 1
            z = torch.cat(list(h_n[-dirs:]), dim=-1)  # last layer's final states (B, D·H)
        return self.head(z)


def _verdict(m: dict[str, Any]) -> tuple[bool, str]:
    acc, wall = m["test_accuracy"], m["wall_time_s"]
    val = f"validation {m['val_accuracy']:.4f}" if "val_accuracy" in m else "no hold-out"
    return acc >= 0.98 and wall <= 30.0, (
        f"test accuracy {acc:.4f} (paper's GRU: 0.91; {val}) in "
        f"{wall:.1f} s wall ({m['train_time_s']:.1f} s training, {m['data_time_s']:.1f} s data); "
        f"{m['parameters']} parameters, {m['train_steps']} updates; one training seed"
    )


CLAIMS = (
    Claim(
        "gru-mnist1d-98-in-30s",
        "A GRU reading MNIST-1D sample by sample reaches >= 98% test accuracy (the MNIST-1D "
        "paper reports 91% for a GRU) in at most 30 s of wall time on a 2-core CPU, data "
        "generation and evaluation included; holds if test_accuracy >= 0.98 and "
        "wall_time_s <= 30 for one training run (one seed: a record attempt, issue 21).",
        _verdict,
    ),
)


@experiment(
    "gru-mnist1d",
    topic="sequence",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Cho et al. 2014, arXiv:1406.1078; Greydanus & Kobak 2020, arXiv:2011.14439",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """GRU sequence classifier on MNIST-1D; test accuracy and time."""
    t0 = time.perf_counter()
    data = load_classification("mnist1d", val_fraction=cfg.val_fraction, seed=0)
    data_time = time.perf_counter() - t0
    model = GRUClassifier(cfg=cfg, num_classes=data.num_classes).to(ctx.device)
    task = ClassificationTask(model, label_smoothing=cfg.label_smoothing)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    val_set = data.val if len(data.val) else None  # val_fraction = 0: no hold-out
    loop = fit(task, opt, data.train, cfg=cfg.engine, ctx=ctx, val_set=val_set)
    val = evaluate(task, val_set, device=ctx.device, prefix="val_") if val_set is not None else {}
    test = evaluate(task, data.test, device=ctx.device, prefix="test_")
    metrics: dict[str, Any] = {
        **val,
        **test,
        "train_time_s": round(loop.wall_time_s, 3),
        "data_time_s": round(data_time, 3),
        "train_steps": loop.step,
        "parameters": count_params(model),
    }
    ctx.log(loop.step, **test)
    return Result(metrics=metrics, model=model.cpu())
