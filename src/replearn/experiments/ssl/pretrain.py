"""Experiments ``<method>-mnist1d`` and ``<method>-fashion``: pretrain, then probe frozen features.

One experiment per (method, data) pair, all run by :func:`run` with ``method=`` and
``data=`` config keys: ``simclr``, ``moco``, ``byol``, ``barlow``, ``dino``, ``clip``,
``ijepa`` on MNIST-1D (``-mnist1d``, the fast path) and on images (``-fashion``: scikit-learn's
digits by default so it runs offline; ``--set data=fashion-mnist`` for Fashion-MNIST), and the
pretext tasks ``rotation``, ``jigsaw``, ``context`` on images only. Each seed pretrains the
method through the engine (:class:`~replearn.experiments.ssl.common.SSLTask`), then a linear
probe and a weighted k-NN read the frozen backbone features (result.json:
``linear_probe_accuracy``, ``knn_accuracy`` -- means over seeds -- ``pretrain_wall_time_s``
and ``wall_time_s``), plus probes on 1% and 10% of the labels and the collapse monitor
(``embedding_std``, ``effective_rank``) of the test embeddings.

The claims of each method need ablated variants (``ablations=true``), trained with the same
seeds so that differences are paired; improvement verdicts use
:func:`replearn.experiments.stats.compare_seeds` (the one-sided 95% Student-t lower bound of
the mean paired difference over >= 3 seeds must be above zero; see
:mod:`replearn.experiments.ssl.claims`). Writes ``probe.png`` (probe accuracy per variant).

This file is named ``pretrain.py`` rather than after one experiment (the naming rule of
:mod:`replearn.experiments`) because it registers the whole family from one factory by design.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Literal

from replearn.engine import EngineConfig, RunContext
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.regularize.common import bar_chart
from replearn.experiments.ssl import claims as C
from replearn.experiments.ssl.common import (
    PRETEXT,
    feature_extractor,
    load_ssl_data,
    pretrain,
    raw_probe_accuracy,
    representation_metrics,
    supervised_accuracy,
    zero_shot_accuracy,
)
from replearn.ssl.encoders import ConvEncoder

Method = Literal[
    "simclr", "moco", "byol", "barlow", "dino", "clip", "ijepa", "rotation", "jigsaw", "context"
]


@dataclass(frozen=True)
class Config:
    """Config of the ``<method>-<data>`` pretraining experiments.

    Attributes:
        method: the self-supervised method or pretext task.
        data: mnist1d (embedded), digits (embedded) or fashion-mnist (file).
        n_seeds: pretraining seeds (seed i uses the run seed + i); claims pair variants by seed.
        n_train: size of the (unlabelled) pretraining pool (None: all of it).
        n_probe: labelled training examples of the full linear probe and k-NN (None: all).
        width, features: channels of the convolutional backbone and its output size.
        proj_dim, hidden: projection / embedding size and hidden width of the heads.
        lr, weight_decay: AdamW settings.
        strength: augmentation strength (0: identical views, 1: default).
        temperature: SimCLR's NT-Xent temperature.
        head: SimCLR's projection head (ablation: false).
        moco_temperature, queue_size: MoCo's InfoNCE temperature and queue length.
        momentum: base EMA decay of MoCo / BYOL / DINO / I-JEPA targets.
        predictor, ema: BYOL's predictor and moving-average target (ablations: false).
        lambd, redundancy: Barlow Twins' lambda and its redundancy term (ablation: false).
        dino_out_dim, n_local: DINO's output size and number of local crops.
        centering, sharpening: DINO's centring and sharpening (ablations: false).
        patch, vit_dim, vit_depth: I-JEPA's patch size (0: 4 for MNIST-1D / Fashion-MNIST, 2
            for digits), ViT width and depth.
        n_perms: size of the jigsaw permutation set.
        gap_jitter: gap and jitter between context-prediction patches (ablation: false).
        fractions: label fractions of the low-label probes (and of the supervised baseline).
        supervised_steps: steps of the supervised-from-scratch baseline on 1% of the labels
            (and of each fine-tuning run).
        finetune: also fine-tune each seed's pretrained backbone (+ a linear head) on each
            fraction of the labels (``finetune_<p>pct_accuracy``; convolutional backbones).
        monitor_examples: test examples the final collapse monitor embeds.
        ablations: also train the variants the method's claims compare.
        queue_sizes: MoCo queue lengths of the negative-set sweep (with ``queue_size``).
        engine: pretraining loop settings (shared by variants and seeds).
    """

    method: Method = "simclr"
    data: Literal["mnist1d", "digits", "fashion-mnist"] = "mnist1d"
    n_seeds: int = 3
    n_train: int | None = None
    n_probe: int | None = 10000
    width: int = 32
    features: int = 128
    proj_dim: int = 64
    hidden: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-5
    strength: float = 1.0
    temperature: float = 0.5
    head: bool = True
    moco_temperature: float = 0.2
    queue_size: int = 256
    momentum: float = 0.99
    predictor: bool = True
    ema: bool = True
    lambd: float = 5e-3
    redundancy: bool = True
    dino_out_dim: int = 256
    n_local: int = 2
    centering: bool = True
    sharpening: bool = True
    patch: int = 0
    vit_dim: int = 64
    vit_depth: int = 2
    n_perms: int = 64
    gap_jitter: bool = True
    fractions: tuple[float, ...] = (0.01, 0.1)
    supervised_steps: int = 300
    finetune: bool = False
    monitor_examples: int = 1000
    ablations: bool = True
    queue_sizes: tuple[int, ...] = (16, 4096)
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=400, batch_size=128, log_every=50, checkpoint_every=0
        )
    )

    def __post_init__(self) -> None:
        if self.n_seeds < 1:
            raise ValueError(f"n_seeds must be >= 1, got {self.n_seeds}")
        if self.method in PRETEXT and self.data == "mnist1d":
            raise ValueError(f"{self.method} is a pretext task for images: use data=digits")
        if self.patch == 0:
            object.__setattr__(self, "patch", 2 if self.data == "digits" else 4)


def variants(cfg: Config) -> dict[str, dict[str, Any]]:
    """The ablated variants of ``cfg.method`` (name -> config overrides)."""
    if not cfg.ablations:
        return {}
    table: dict[str, dict[str, dict[str, Any]]] = {
        "simclr": {"nohead": {"head": False}},
        "moco": {
            **{f"queue{k}": {"queue_size": k} for k in cfg.queue_sizes if k != cfg.queue_size},
            "nomomentum": {"momentum": 0.0},
        },
        "byol": {"nopredictor": {"predictor": False}, "noema": {"ema": False}},
        "barlow": {"noredundancy": {"redundancy": False}},
        "dino": {"nocentering": {"centering": False}, "nosharpening": {"sharpening": False}},
        "ijepa": {"random": {"lr": 0.0, "engine": dataclasses.replace(cfg.engine, max_steps=1)}},
        "context": {"nogap": {"gap_jitter": False}},
    }
    return table.get(cfg.method, {})


def _summarize(metrics: dict[str, Any], prefix: str, runs: list[dict[str, Any]]) -> None:
    for key in runs[0]:
        vals = [r[key] for r in runs]
        metrics[f"{prefix}{key}_seeds"] = vals
        metrics[f"{prefix}{key}"] = statistics.fmean(vals)
        if len(vals) > 1:
            metrics[f"{prefix}{key}_std"] = statistics.stdev(vals)


def _train_variant(
    cfg: Config, data: Any, ctx: RunContext, name: str, seeds: list[int]
) -> list[dict[str, Any]]:
    runs = []
    for i, seed in enumerate(seeds):
        out = pretrain(cfg, data, ctx, name=f"{name}/seed{i}", seed=seed)
        row = representation_metrics(
            feature_extractor(out["method"]),
            data,
            n_probe=cfg.n_probe,
            fractions=cfg.fractions,
            seed=seed,
        )
        row.update(
            {
                k: out[k]
                for k in ("embedding_std", "embedding_std_min", "effective_rank", "final_loss")
            }
        )
        row["pretrain_wall_time_s"] = out["wall_time_s"]
        if cfg.method == "clip":
            row["zero_shot_accuracy"] = zero_shot_accuracy(out["method"], data, out["vocab"])
        if cfg.finetune and name == cfg.method and isinstance(out["method"].encoder, ConvEncoder):
            for frac in cfg.fractions:
                row[f"finetune_{round(100 * frac)}pct_accuracy"] = supervised_accuracy(
                    cfg,
                    data,
                    ctx,
                    fraction=frac,
                    seed=seed,
                    init=out["method"].encoder,
                    name=f"finetune{round(100 * frac)}/seed{i}",
                )
        runs.append(row)
    return runs


def run(cfg: Config, ctx: RunContext) -> Result:
    """Pretrain a self-supervised method on several seeds; probe, k-NN and collapse monitor."""
    upsample = cfg.method in ("jigsaw", "context")
    data = load_ssl_data(cfg.data, n_train=cfg.n_train, seed=ctx.seed, upsample=upsample)
    seeds = [ctx.seed + i for i in range(cfg.n_seeds)]
    metrics: dict[str, Any] = {
        "queue_size": cfg.queue_size,
        "method": cfg.method,
        "data": cfg.data,
        "n_seeds": cfg.n_seeds,
        "pretrain_examples": len(data.train_x),
    }
    with single_thread():
        metrics["raw_linear_probe_accuracy"] = raw_probe_accuracy(
            data, n_probe=cfg.n_probe, seed=ctx.seed
        )
        _summarize(metrics, "", _train_variant(cfg, data, ctx, cfg.method, seeds))
        for name, overrides in variants(cfg).items():
            vcfg = dataclasses.replace(cfg, **overrides)
            _summarize(metrics, f"{name}_", _train_variant(vcfg, data, ctx, name, seeds))
        if cfg.method == "simclr" and cfg.ablations:
            frac = min(cfg.fractions)
            accs = [
                supervised_accuracy(
                    cfg, data, ctx, fraction=frac, seed=s, name=f"supervised/seed{i}"
                )
                for i, s in enumerate(seeds)
            ]
            metrics["supervised_low_label_accuracy_seeds"] = accs
            metrics["supervised_low_label_accuracy"] = statistics.fmean(accs)
            metrics["low_label_fraction"] = frac
    probe = {
        cfg.method: metrics["linear_probe_accuracy"],
        "raw": metrics["raw_linear_probe_accuracy"],
    }
    probe.update({v: metrics[f"{v}_linear_probe_accuracy"] for v in variants(cfg)})
    plot = bar_chart(
        probe,
        ctx.path("probe.png"),
        ylabel="linear probe test accuracy",
        title=f"{cfg.method} on {cfg.data}, {cfg.n_seeds} seeds",
    )
    metrics = {
        k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in metrics.items()
    }
    return Result(metrics=metrics, plots=[plot])


def tiny_for(method: str, data: str) -> Config:
    """Seconds: 256 examples, 4 steps, one seed, no ablations except the cheapest."""
    return Config(
        method=method,
        data=data,
        n_seeds=1,
        n_train=256,
        n_probe=256,
        width=8,
        features=16,
        proj_dim=8,
        hidden=16,
        dino_out_dim=16,
        vit_dim=16,
        vit_depth=1,
        n_perms=8,
        supervised_steps=2,
        monitor_examples=64,
        ablations=False,
        engine=EngineConfig(
            max_steps=4, batch_size=64, log_every=2, checkpoint_every=0, progress=False
        ),
    )


def quick_for(method: str, data: str) -> Config:
    """Seconds: 400 examples, 8 steps of 64, three seeds, with the ablations (a smoke check)."""
    return Config(
        method=method,
        data=data,
        n_seeds=3,
        n_train=400,
        n_probe=300,
        queue_sizes=(16, 1024),
        supervised_steps=8,
        monitor_examples=200,
        engine=EngineConfig(max_steps=8, batch_size=64, log_every=4, checkpoint_every=0),
    )


def _register(method: str, suffix: str, data: str) -> None:
    defaults = Config(method=method, data=data)  # validates the pair
    cls = dataclasses.make_dataclass(
        f"{method.capitalize()}{suffix.capitalize()}Config",
        [
            ("method", Method, field(default=defaults.method)),
            ("data", Literal["mnist1d", "digits", "fashion-mnist"], field(default=data)),
        ],
        bases=(Config,),
        frozen=True,
    )
    cls.__doc__ = Config.__doc__
    cls.__module__ = __name__
    experiment(
        f"{method}-{suffix}",
        topic="ssl",
        config=cls,
        presets={"tiny": lambda: tiny_for(method, data), "quick": lambda: quick_for(method, data)},
        claims=C.CLAIMS.get(method, ())
        if suffix == "mnist1d" or method in ("clip", "context")
        else (),
        paper=C.PAPERS[method],
    )(run)


for _m in ("simclr", "moco", "byol", "barlow", "dino", "clip", "ijepa"):
    _register(_m, "mnist1d", "mnist1d")
for _m in ("simclr", "moco", "byol", "barlow", "dino", "clip", "ijepa", *PRETEXT):
    _register(_m, "fashion", "digits")

__all__ = ["Claim", "Config", "run", "variants"]
