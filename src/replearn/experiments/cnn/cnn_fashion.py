"""Experiment ``cnn-fashion``: Fashion-MNIST with the small variant of each architecture.

The models are those of :mod:`replearn.cnn` at their CIFAR-sized settings, with one
input channel:

======================  =====================================================================
``resnet``              :func:`~replearn.cnn.resnet.resnet_cifar` (``depth`` 6n+2, 0.27M at 20)
``plain``               :func:`~replearn.cnn.resnet.plainnet_cifar`: the same, no shortcuts
``se-resnet``           :func:`~replearn.cnn.senet.se_resnet_cifar` (SE blocks, r = 4)
``convnext``            :func:`~replearn.cnn.convnext.convnext_cifar` (2×2 patches, 0.41M)
``efficientnet``        :func:`~replearn.cnn.efficientnet.efficientnet_cifar` (four B0 stages)
======================  =====================================================================

Each is trained with the engine's ``fit`` (AdamW, cosine learning rate) on a seeded
subset of the training pool (``n_train``, 10,000 images by default: 4 epochs fit in
about 2-3 minutes on 2 CPU cores for ResNet-20; ConvNeXt is faster, EfficientNet about
twice as slow) and scored on the full 10,000-image test set. Writes the training
curves (``loss.png``, ``accuracy.png``), ``confusion_matrix.png`` (rows: true class)
and ``misclassified.png`` (test images the network gets wrong, titled by the most
confused pair). ``result.json`` holds ``test_accuracy``, the ``confusion_matrix``
(list of rows) and the per-class accuracies.

replearn run cnn-fashion                                   # ResNet-20, ~2-3 min
replearn run cnn-fashion --set model=convnext
replearn run cnn-fashion --set model=plain depth=56 n_train=none engine.max_steps=2000
replearn run cnn-fashion --preset quick                   # 8x8 digits, no file, ~15 s
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from replearn.cnn.convnext import convnext_cifar
from replearn.cnn.efficientnet import efficientnet_cifar
from replearn.cnn.resnet import plainnet_cifar, resnet_cifar
from replearn.cnn.senet import se_resnet_cifar
from replearn.engine import EngineConfig, RunContext, evaluate
from replearn.engine.tasks import ClassificationTask
from replearn.experiments.base import Result, experiment
from replearn.experiments.cnn.common import (
    ImageData,
    confusion_matrix,
    count_flops,
    plot_confusion_matrix,
    train_classifier,
)
from replearn.experiments.common import count_params, engine_config, load_data
from replearn.report.plots import save_image_grid

Model = Literal["resnet", "plain", "se-resnet", "convnext", "efficientnet"]


def build_model(name: Model, depth: int, num_classes: int, in_chans: int = 1) -> nn.Module:
    """The small variant of architecture ``name`` (``depth`` for the ResNet family)."""
    if name == "resnet":
        return resnet_cifar(depth, num_classes, in_chans)
    if name == "plain":
        return plainnet_cifar(depth, num_classes, in_chans)
    if name == "se-resnet":
        return se_resnet_cifar(depth, num_classes, in_chans)
    if name == "convnext":
        return convnext_cifar(num_classes, in_chans)
    if name == "efficientnet":
        return efficientnet_cifar(num_classes, in_chans)
    raise ValueError(f"unknown model {name!r}")


def _engine(max_steps: int, batch_size: int = 64, eval_every: int = 0) -> EngineConfig:
    return engine_config(
        max_steps, batch_size, log_lines=10, log_every=20, eval_every=eval_every,
        checkpoint_every=eval_every, lr_schedule="cosine",
    )  # fmt: skip


@dataclass(frozen=True)
class Config:
    """Settings of ``cnn-fashion``.

    Attributes:
        model: ``resnet``, ``plain``, ``se-resnet``, ``convnext`` or ``efficientnet``.
        depth: layers of the ResNet family (6n + 2: 20, 32, 44, 56, 110); ignored otherwise.
        data: ``fashion-mnist`` (28×28, the file) or ``digits`` (8×8, embedded).
        n_train: training images (a seeded subset of the pool; none: all 54,000).
        n_val: validation images evaluated every ``engine.eval_every`` steps.
        optimizer: ``adamw`` or ``sgd`` (momentum 0.9).
        lr: peak learning rate (cosine decay to 0 over ``engine.max_steps``).
        weight_decay: decoupled (AdamW) or L2 (SGD) weight decay.
        engine: training-loop settings (default: 625 steps of 64 = 4 epochs of 10,000).
    """

    model: Model = "resnet"
    depth: int = 20
    data: ImageData = "fashion-mnist"
    n_train: int | None = 10_000
    n_val: int | None = 2_000
    optimizer: Literal["adamw", "sgd"] = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    engine: EngineConfig = field(default_factory=lambda: _engine(625, eval_every=125))

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.model in ("resnet", "plain", "se-resnet") and (
            self.depth < 8 or (self.depth - 2) % 6
        ):
            raise ValueError(f"depth must be 6n + 2 (20, 32, 44, 56), got {self.depth}")


def tiny() -> Config:
    """Seconds: 8x8 digits, a few steps (smoke tests)."""
    return Config(data="digits", depth=8, engine=_engine(10, batch_size=32))


def quick() -> Config:
    """ResNet-20 on the embedded 8x8 digits, 200 steps (~10 epochs, ~15 s)."""
    return Config(data="digits", engine=_engine(200, eval_every=100))


@experiment(
    "cnn-fashion",
    topic="cnn",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    paper="He et al. 2016 (ResNet); Hu et al. 2018 (SE); Liu et al. 2022 (ConvNeXt); "
    "Tan & Le 2019 (EfficientNet); Xiao, Rasul & Vollgraf 2017 (Fashion-MNIST)",
    reference="confusion matrix vs sklearn.metrics.confusion_matrix (tests/cnn)",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Train a small CNN (ResNet, plain, SE-ResNet, ConvNeXt, EfficientNet) on Fashion-MNIST."""
    data = load_data(cfg.data, n_train=cfg.n_train, n_val=cfg.n_val, n_test=None, seed=ctx.seed)
    model = build_model(cfg.model, cfg.depth, data.num_classes, data.input_shape[0])
    example = data.test.tensors[0][:1]
    params, flops = count_params(model), count_flops(model, example)
    trained = train_classifier(
        model,
        data,
        ctx,
        engine=cfg.engine,
        optimizer=cfg.optimizer,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
    )
    val = evaluate(ClassificationTask(trained.model), data.val, device=ctx.device)
    labels = data.test.tensors[1]
    cm = confusion_matrix(labels, trained.test_pred, data.num_classes)
    per_class = (cm.diagonal().double() / cm.sum(1).clamp_min(1)).tolist()
    off = cm.clone()
    off.fill_diagonal_(0)
    true_c, pred_c = divmod(int(off.argmax()), data.num_classes)
    names = data.class_names
    title = f"{cfg.model} on {cfg.data}: test accuracy {trained.test_accuracy:.4f}"
    plots = [plot_confusion_matrix(cm, names, ctx.path("confusion_matrix.png"), title=title)]
    wrong = (~trained.test_correct).nonzero().flatten()
    if len(wrong):
        pair = ((labels == true_c) & (trained.test_pred == pred_c))[wrong]
        order = torch.cat([wrong[pair], wrong[~pair]])[:32]  # the most confused pair first
        plots.append(
            save_image_grid(
                data.test.tensors[0][order],
                ctx.path("misclassified.png"),
                nrow=16,
                title=f"misclassified ({names[true_c]} taken for {names[pred_c]} first)",
            )
        )
    worst = min(range(data.num_classes), key=lambda c: per_class[c])
    metrics: dict[str, Any] = {
        "test_accuracy": trained.test_accuracy,
        "test_loss": trained.test_loss,
        "val_accuracy": val["val_accuracy"],
        "val_loss": val["val_loss"],
        "model": cfg.model,
        "parameters": params,
        "flops_per_image": flops,
        "train_examples": len(data.train),
        "train_steps": cfg.engine.max_steps,
        "epochs": round(cfg.engine.max_steps * cfg.engine.batch_size / len(data.train), 2),
        "train_time_s": trained.train_time_s,
        "worst_class": names[worst],
        "worst_class_accuracy": per_class[worst],
        "most_confused": f"{names[true_c]} -> {names[pred_c]} ({int(off.max())} images)",
        "per_class_accuracy": {n: round(a, 4) for n, a in zip(names, per_class, strict=True)},
        "confusion_matrix": cm.tolist(),
    }
    return Result(metrics=metrics, model=trained.model, plots=plots)
