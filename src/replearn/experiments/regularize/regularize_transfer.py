"""Experiment ``regularize-transfer``: pretrain, then freeze or fine-tune with few labels.

The source task is classification of one half of the classes (Fashion-MNIST:
T-shirt, trouser, pullover, dress, coat) with all their training images; the
target task is the other half (sandal, shirt, sneaker, bag, ankle boot) with
only ``n_per_class`` labelled images per class -- a different data set with
disjoint labels. A small CNN is pretrained on the source task; on the target
task a new linear head is trained on top of

* ``scratch``: the same CNN from its random initial weights (no transfer);
* ``freeze``: the pretrained backbone, frozen (Yosinski et al. 2014; a linear probe);
* ``finetune``: the pretrained backbone, trained too with a 10x smaller learning rate.

Every variant starts from the same new head, sees the same batches and is scored
on all target-class test images. The whole pipeline (pretraining included) is repeated for
``seeds`` training seeds (3 by default; the few labelled target images are fixed); a claim
holds if the mean paired difference in test accuracy over the seeds has a one-sided 95%
Student-t lower bound above zero (:func:`replearn.experiments.stats.compare_seeds`).
Writes ``accuracy.png`` (means over seeds).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn
from torch.utils.data import TensorDataset

from replearn.data import load_classification
from replearn.engine import EngineConfig, RunContext, fit
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.regularize.common import (
    RegularizedClassificationTask,
    accuracy,
    bar_chart,
    comparison,
    improvement_over_seeds,
    over_seeds,
    predict,
    small_cnn,
)
from replearn.regularize.transfer import TransferModel, finetune_param_groups

VARIANTS = ("scratch", "freeze", "finetune")


@dataclass(frozen=True)
class Config:
    """Config of ``regularize-transfer``.

    Attributes:
        data: fashion-mnist (file) or digits (embedded).
        source_classes: classes of the pretraining task (relabelled 0..4).
        target_classes: classes of the target task (relabelled 0..4).
        n_per_class: labelled target images per class.
        width: channels of the CNN's first convolution.
        lr: Adam learning rate (pretraining, heads, and scratch).
        backbone_lr_factor: learning-rate factor of the backbone when fine-tuning.
        seeds: training seeds (``seed, seed + 1, ...``; >= 3), each a whole pretrain +
            transfer pipeline.
        pretrain: training-loop settings of the source task.
        engine: training-loop settings of each target variant.
    """

    data: Literal["fashion-mnist", "digits"] = "fashion-mnist"
    source_classes: tuple[int, ...] = (0, 1, 2, 3, 4)
    target_classes: tuple[int, ...] = (5, 6, 7, 8, 9)
    n_per_class: int = 20
    width: int = 16
    lr: float = 1e-3
    backbone_lr_factor: float = 0.1
    seeds: int = 3
    pretrain: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=1500, batch_size=128, log_every=100, eval_every=500, checkpoint_every=0
        )
    )
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=300, batch_size=50, log_every=50, eval_every=100, checkpoint_every=0
        )
    )


def tiny() -> Config:
    """Seconds: digits, 7 + 4 steps per seed (smoke tests)."""
    return Config(
        data="digits",
        n_per_class=10,
        width=4,
        pretrain=EngineConfig(max_steps=7, batch_size=32, log_every=7, checkpoint_every=0),
        engine=EngineConfig(max_steps=4, batch_size=25, log_every=4, checkpoint_every=0),
    )


def quick() -> Config:
    """Seconds: digits, 10 labelled images per class, 50 + 30 steps per seed (a smoke check)."""
    base = Config(data="digits", n_per_class=10)
    return dataclasses.replace(
        base,
        pretrain=dataclasses.replace(base.pretrain, max_steps=50, log_every=10, eval_every=0),
        engine=dataclasses.replace(
            base.engine, max_steps=30, batch_size=25, log_every=10, eval_every=0
        ),
    )


def _classes(ds: TensorDataset, classes: tuple[int, ...]) -> TensorDataset:
    """The examples of ``classes``, relabelled 0..len(classes)-1 in that order."""
    x, y = ds.tensors
    keep = torch.isin(y, torch.tensor(classes))
    relabel = torch.full((int(y.max()) + 1,), -1, dtype=torch.int64)
    relabel[list(classes)] = torch.arange(len(classes))
    return TensorDataset(x[keep], relabel[y[keep]])


def _few(ds: TensorDataset, per_class: int, seed: int) -> TensorDataset:
    """``per_class`` seeded random examples of every class."""
    x, y = ds.tensors
    gen = torch.Generator().manual_seed(seed)
    idx = []
    for c in range(int(y.max()) + 1):
        where = (y == c).nonzero().squeeze(1)
        idx.append(where[torch.randperm(len(where), generator=gen)[:per_class]])
    chosen = torch.cat(idx)
    return TensorDataset(x[chosen], y[chosen])


def _verdict(m: dict[str, Any], variant: str) -> tuple[bool, str]:
    holds, evidence = improvement_over_seeds(m, variant, "scratch", variant, "scratch")
    return holds, (
        f"{evidence}; {m['target_train_examples']} labelled target images, backbone pretrained "
        f"to {m['source_test_accuracy']:.4f} on the source classes (mean over seeds)"
    )


CLAIMS = (
    Claim(
        "transfer-freeze",
        "With few labels, a frozen pretrained backbone (linear probe) beats the same network "
        "trained from scratch on the target task (mean paired difference over training seeds, "
        "one-sided 95% lower bound > 0).",
        lambda m: _verdict(m, "freeze"),
        "accuracy.png",
    ),
    Claim(
        "transfer-finetune",
        "With few labels, fine-tuning a pretrained backbone beats the same network trained "
        "from scratch on the target task (mean paired difference over training seeds, one-sided "
        "95% lower bound > 0).",
        lambda m: _verdict(m, "finetune"),
        "accuracy.png",
    ),
)


@experiment(
    "regularize-transfer",
    topic="regularize",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Yosinski, Clune, Bengio & Lipson 2014, arXiv:1411.1792",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Pretrain a CNN on half the classes; freeze or fine-tune it on the other half."""
    full = load_classification(cfg.data, val_fraction=0.1, seed=ctx.seed)
    src = {s: _classes(getattr(full, s), cfg.source_classes) for s in ("train", "val", "test")}
    tgt = {s: _classes(getattr(full, s), cfg.target_classes) for s in ("train", "val", "test")}
    tgt["train"] = _few(tgt["train"], cfg.n_per_class, ctx.seed)
    k_src, k_tgt = len(cfg.source_classes), len(cfg.target_classes)

    def one_seed(run: RunContext) -> dict[str, Any]:
        torch.manual_seed(run.seed)
        init_backbone, src_head = small_cnn(full.input_shape, k_src, width=cfg.width)
        backbone = copy.deepcopy(init_backbone)
        source = nn.Sequential(backbone, src_head).to(ctx.device)
        with run.child("pretrain") as sub:
            opt = torch.optim.Adam(source.parameters(), lr=cfg.lr)
            task = RegularizedClassificationTask(source, k_src)
            fit(task, opt, src["train"], cfg=cfg.pretrain, ctx=sub, val_set=src["val"])
        out: dict[str, Any] = {
            "source_test_accuracy": accuracy(*predict(source, src["test"], device=ctx.device))
        }
        for variant in VARIANTS:
            torch.manual_seed(run.seed + 1)  # the same new head for every variant
            head = nn.Linear(src_head.in_features, k_tgt)
            start = init_backbone if variant == "scratch" else backbone
            mode = "freeze" if variant == "freeze" else "finetune"
            model = TransferModel(copy.deepcopy(start), head, mode=mode).to(ctx.device)
            if variant == "finetune":
                params: Any = finetune_param_groups(
                    model.backbone,
                    model.head,
                    lr=cfg.lr,
                    backbone_lr_factor=cfg.backbone_lr_factor,
                )
            else:
                params = [p for p in model.parameters() if p.requires_grad]
            task = RegularizedClassificationTask(model, k_tgt)
            with run.child(variant) as sub:
                opt = torch.optim.Adam(params, lr=cfg.lr)
                fit(task, opt, tgt["train"], cfg=cfg.engine, ctx=sub, val_set=tgt["val"])
            out[f"{variant}_test_accuracy"] = accuracy(
                *predict(model, tgt["test"], device=ctx.device)
            )
            out[f"{variant}_train_accuracy"] = accuracy(
                *predict(model, tgt["train"], device=ctx.device)
            )
        run.log(0, **{k: float(v) for k, v in out.items()})
        return out

    metrics: dict[str, Any] = {
        "source_train_examples": len(src["train"]),
        "target_train_examples": len(tgt["train"]),
    }
    metrics.update(over_seeds(ctx, cfg.seeds, one_seed))
    for variant in VARIANTS[1:]:
        c = comparison(metrics, variant, "scratch", variant, "scratch")
        metrics[f"{variant}_comparison"] = c.as_dict()
    plots = [
        bar_chart(
            {v: metrics[f"{v}_test_accuracy"] for v in VARIANTS},
            ctx.path("accuracy.png"),
            ylabel=f"target test accuracy (mean of {cfg.seeds} seeds)",
            title=f"{cfg.data}: {cfg.n_per_class} labels per target class",
        )
    ]
    return Result(metrics=metrics, plots=plots)
