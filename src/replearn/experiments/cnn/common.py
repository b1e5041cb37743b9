"""Glue shared by the CNN image experiments: data subsets, training, evaluation, measurements.

* :func:`train_classifier` -- builds the optimizer, trains with the engine's ``fit`` in the
  given (sub-)run context, and scores the test set (:class:`Trained`).
* :func:`confusion_matrix`, :func:`shift_images`, :func:`count_flops` -- what the claims
  measure.
* :func:`training_seeds` -- the seeds of a claim judged over training seeds
  (:func:`replearn.experiments.stats.compare_seeds`; a run with fewer than
  :data:`~replearn.experiments.stats.MIN_SEEDS` of them reads
  :func:`~replearn.experiments.stats.too_few_seeds`).
* :func:`log_curves` -- the variants' training curves into the run's metrics.
* :func:`plot_confusion_matrix` -- the confusion-matrix PNG.

Comparisons between variants are paired: every variant is built right after
``torch.manual_seed(seed)``, sees the same data order (the engine's order depends
on the seed only) and is scored on the same test images; "X beats Y" claims repeat this
for several training seeds and are judged over them (issue 21).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from replearn.data.images import ClassificationData
from replearn.engine import ClassificationTask, EngineConfig, RunContext, fit
from replearn.experiments.common import engine_config, make_optimizer, predict
from replearn.report.plots import DPI, save_figure

ImageData = Literal["fashion-mnist", "digits"]


#: The engine settings the image claims share: cosine schedule, about 25 log lines.
cosine_engine = partial(engine_config, batch_size=64, log_lines=25, lr_schedule="cosine")


@dataclass
class Trained:
    """A trained classifier and what was measured on it.

    Attributes:
        model: the trained network (eval mode).
        steps: steps of the logged training-loss rows.
        train_loss: the logged training loss (mean over each ``log_every`` window).
        test_correct: per test image, whether the prediction is right (bool, (N,)).
        test_pred: predicted classes (N,).
        test_accuracy: mean of ``test_correct``.
        test_loss: mean cross-entropy on the test split (nats).
        train_time_s: wall-clock seconds of ``fit``.
        history: every row the loop logged (training and validation).
    """

    model: nn.Module
    steps: list[int]
    train_loss: list[float]
    test_correct: Tensor
    test_pred: Tensor
    test_accuracy: float
    test_loss: float
    train_time_s: float
    history: list[dict[str, Any]] = field(default_factory=list)


def train_classifier(
    model: nn.Module,
    data: ClassificationData,
    ctx: RunContext,
    *,
    engine: EngineConfig,
    optimizer: Literal["adamw", "sgd"] = "adamw",
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    validate: bool = True,
    name: str | None = None,
) -> Trained:
    """Train ``model`` on ``data.train`` with :func:`~replearn.engine.fit` in ``ctx``.

    ``ctx`` is the run's context, or with ``name`` its sub-run ``ctx.child(name)``: metrics,
    checkpoints and ``--resume`` live there. Without ``validate`` no validation
    set is given to ``fit`` (saves time when only the training loss matters).
    """
    if name is not None:
        with ctx.child(name) as sub:
            return train_classifier(
                model, data, sub, engine=engine, optimizer=optimizer, lr=lr,
                weight_decay=weight_decay, validate=validate,
            )  # fmt: skip
    model = model.to(ctx.device)
    task = ClassificationTask(model)
    # AdamW, or SGD with momentum 0.9 (He et al. 2016's recipe)
    opt = make_optimizer(
        optimizer, task.parameters(), lr=lr, weight_decay=weight_decay, momentum=0.9
    )
    loop = fit(task, opt, data.train, cfg=engine, ctx=ctx, val_set=data.val if validate else None)
    rows = [r for r in loop.history if "train_loss" in r]
    model.eval()
    logits = predict(model, data.test)
    labels = data.test.tensors[1]
    pred = logits.argmax(-1)
    correct = pred == labels
    return Trained(
        model=model,
        steps=[int(r["step"]) for r in rows],
        train_loss=[float(r["train_loss"]) for r in rows],
        test_correct=correct,
        test_pred=pred,
        test_accuracy=float(correct.float().mean()),
        test_loss=float(F.cross_entropy(logits, labels)),
        train_time_s=round(loop.wall_time_s, 3),
        history=loop.history,
    )


def training_seeds(first: int, n: int) -> list[int]:
    """The training seeds ``first, first + 1, ..., first + n - 1`` (``n >= 1``)."""
    if n < 1:
        raise ValueError(f"need at least one training seed, got {n}")
    return list(range(first, first + n))


def log_curves(
    ctx: RunContext, steps: Sequence[int], curves: dict[str, list[float]], key: str = "train_loss"
) -> None:
    """Log every variant's curve in ``ctx``: row ``steps[i]`` gets ``{name}_{key}`` = ``c[i]``.

    ``curves`` maps a variant name to its values at ``steps`` (e.g. :attr:`Trained.train_loss`
    of variants trained with the same engine settings, which log at the same steps).
    """
    for i, step in enumerate(steps):
        ctx.log(step, **{f"{name}_{key}": c[i] for name, c in curves.items()})


def tail_mean_by_step(
    values: Sequence[float], steps: Sequence[int], fraction: float = 0.25
) -> float:
    """Mean of the logged values whose step lies in the last ``fraction`` of training."""
    if not values:
        return float("nan")
    last = max(steps)
    tail = [v for v, s in zip(values, steps, strict=True) if s > (1 - fraction) * last]
    return sum(tail) / len(tail)


def confusion_matrix(y_true: Tensor, y_pred: Tensor, num_classes: int) -> Tensor:
    """``C[i, j]`` = number of examples of class ``i`` predicted as ``j`` (int64, (K, K)).

    The convention of ``sklearn.metrics.confusion_matrix``: rows are true classes.
    """
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {tuple(y_true.shape)} and y_pred {tuple(y_pred.shape)} differ")
    idx = y_true.long() * num_classes + y_pred.long()
    return torch.bincount(idx, minlength=num_classes**2).reshape(num_classes, num_classes)


def shift_images(x: Tensor, dy: int, dx: int) -> Tensor:
    """Translate images ``(B, C, H, W)`` by ``dy`` rows down and ``dx`` columns right.

    Pixels shifted in are zero (the black background); pixels shifted out are lost.
    """
    h, w = x.shape[-2:]
    if abs(dy) >= h or abs(dx) >= w:
        return torch.zeros_like(x)
    padded = F.pad(x, (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)))  # (B, C, H+|dy|, W+|dx|)
    top, left = max(-dy, 0), max(-dx, 0)
    return padded[..., top : top + h, left : left + w]


@torch.no_grad()
def count_flops(module: nn.Module, x: Tensor) -> int:
    """FLOPs of one forward pass on ``x`` by ``torch.utils.flop_counter`` (multiply-add = 2).

    Counts matrix products and convolutions only (what dominates a CNN).
    """
    was_training = module.training
    module.eval()
    with FlopCounterMode(display=False) as counter:
        module(x)
    module.train(was_training)
    return int(counter.get_total_flops())


def plot_confusion_matrix(
    cm: Tensor, class_names: Sequence[str], path: str | Path, *, title: str
) -> Path:
    """Row-normalized confusion matrix (share of each true class), with the counts written in."""
    k = cm.shape[0]
    rates = cm.double() / cm.sum(dim=1, keepdim=True).clamp_min(1)
    fig, ax = plt.subplots(figsize=(6.4, 5.6), dpi=DPI)
    im = ax.imshow(rates.numpy(), cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(k):
        for j in range(k):
            color = "white" if rates[i, j] > 0.5 else "black"
            ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(k), class_names, rotation=45, ha="right", fontsize="small")
    ax.set_yticks(range(k), class_names, fontsize="small")
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    fig.colorbar(im, ax=ax, fraction=0.046, label="share of the true class")
    fig.tight_layout()
    return save_figure(fig, path)
