"""Glue shared by the ``regularize-*`` experiments: data subsets, small models, tasks, plots.

Tasks (for :func:`replearn.engine.fit`):

* :class:`RegularizedClassificationTask` -- cross-entropy against hard, smoothed or
  mixed (MixUp / CutMix) targets, optional input augmentation and L1 / L2
  penalties. Validation is always the plain cross-entropy on clean inputs.
* :class:`MultiTaskTask` -- classification + reconstruction through a shared trunk.

Augmentation draws from the global torch RNG (seeded by the runner and stored in
checkpoints), so a resumed run continues bitwise identically.

Comparisons between variants are paired: for each training seed every variant starts
from the same initial weights (``torch.manual_seed(seed)`` before building the model)
and sees the same data order; each experiment trains every variant for ``cfg.seeds``
training seeds (:func:`over_seeds`, child runs ``seed<s>``) and an "X improves on Y"
claim holds when the one-sided 95% lower bound of the mean paired difference in test
accuracy over seeds is above zero (:func:`improvement_over_seeds`, which uses the shared
:func:`replearn.experiments.stats.compare_seeds`; the seed-to-seed spread enters the
standard error).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset, TensorDataset

from replearn.data.images import ClassificationData
from replearn.engine import Callback, EngineConfig, Loop, RunContext, Task, fit
from replearn.experiments.common import accuracy
from replearn.experiments.common import predict as logits_of
from replearn.experiments.stats import MIN_SEEDS, SeedComparison, compare_seeds
from replearn.regularize.dropout import Dropout
from replearn.regularize.label_smoothing import smooth_labels, soft_cross_entropy
from replearn.regularize.multitask import MultiTaskNet, UncertaintyWeights, weighted_loss
from replearn.regularize.penalties import l1_penalty, l2_penalty, weight_parameters
from replearn.report.plots import save_figure


def mlp(
    n_in: int, hidden: Sequence[int], n_out: int, *, dropout: float = 0.0
) -> tuple[nn.Sequential, nn.Linear]:
    """A ReLU MLP split into (trunk, head); the trunk flattens and ends on the last hidden layer."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = n_in
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        if dropout > 0:
            layers.append(Dropout(dropout))
        width = h
    return nn.Sequential(*layers), nn.Linear(width, n_out)


def small_cnn(
    input_shape: Sequence[int], n_out: int, *, width: int = 16, features: int = 128
) -> tuple[nn.Sequential, nn.Linear]:
    """Two stride-2 convolutions and a dense layer, split into (backbone, head)."""
    c, h, w = input_shape
    backbone = nn.Sequential(
        nn.Conv2d(c, width, 5, stride=2, padding=2),  # (B, w, H/2, W/2)
        nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),  # (B, 2w, H/4, W/4)
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(2 * width * math.ceil(h / 4) * math.ceil(w / 4), features),
        nn.ReLU(),
    )
    return backbone, nn.Linear(features, n_out)


class RegularizedClassificationTask(Task):
    """Cross-entropy against (smoothed / mixed) targets, with augmentation and norm penalties.

    Args:
        model: inputs -> logits (B, K).
        num_classes: K.
        augment: applied to training inputs (e.g. RandAugment, Cutout), or None.
        mix: ``(x, y) -> (x, soft targets)`` (MixUp / CutMix), or None.
        smoothing: label smoothing epsilon (ignored with ``mix``).
        l1, l2: penalty weights on the model's weight matrices.
    """

    def __init__(
        self,
        model: nn.Module,
        num_classes: int,
        *,
        augment: nn.Module | None = None,
        mix: nn.Module | None = None,
        smoothing: float = 0.0,
        l1: float = 0.0,
        l2: float = 0.0,
    ) -> None:
        super().__init__()
        self.model, self.num_classes = model, num_classes
        self.augment, self.mix = augment, mix
        self.smoothing, self.l1, self.l2 = smoothing, l1, l2

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        x, y = batch
        if self.augment is not None:
            x = self.augment(x)
        if self.mix is not None:
            x, q = self.mix(x, y)
        else:
            q = smooth_labels(y, self.num_classes, self.smoothing)
        logits = self.model(x)  # (B, K)
        loss = soft_cross_entropy(logits.float(), q)
        metrics = {"accuracy": (logits.detach().argmax(-1) == y).float().mean()}
        if self.l1 or self.l2:
            weights = weight_parameters(self.model)
            penalty = l1_penalty(weights, self.l1) + l2_penalty(weights, self.l2)
            loss = loss + penalty
            metrics["penalty"] = penalty.detach()
        return loss, metrics

    def validation_step(self, batch: Any) -> dict[str, Tensor]:
        x, y = batch
        logits = self.model(x)
        return {
            "loss": F.cross_entropy(logits.float(), y),
            "accuracy": (logits.argmax(-1) == y).float().mean(),
        }


class MultiTaskTask(Task):
    """Classification (``"class"``) + reconstruction of the flattened input (``"recon"``).

    Args:
        net: a :class:`MultiTaskNet` with heads among ``"class"`` and ``"recon"``.
        weights: fixed task weights w_t (Eq. 1 of :mod:`replearn.regularize.multitask`),
            or None to learn them (Kendall et al.'s Eq. 2).
    """

    def __init__(self, net: MultiTaskNet, weights: Mapping[str, float] | None) -> None:
        super().__init__()
        self.net = net
        self.fixed = dict(weights) if weights is not None else None
        self.learned = UncertaintyWeights(tuple(net.heads)) if weights is None else None

    def _losses(self, batch: Any) -> tuple[dict[str, Tensor], Tensor | None]:
        x, y = batch
        out = self.net(x)
        losses, logits = {}, out.get("class")
        if logits is not None:
            losses["class"] = F.cross_entropy(logits.float(), y)
        if "recon" in out:
            losses["recon"] = F.mse_loss(torch.sigmoid(out["recon"].float()), x.flatten(1))
        return losses, logits

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        losses, logits = self._losses(batch)
        if self.fixed is not None:
            loss = weighted_loss(losses, self.fixed)
        else:
            assert self.learned is not None
            loss = self.learned(losses)
        metrics = {f"{t}_loss": v.detach() for t, v in losses.items()}
        if logits is not None:
            metrics["accuracy"] = (logits.detach().argmax(-1) == batch[1]).float().mean()
        return loss, metrics

    def validation_step(self, batch: Any) -> dict[str, Tensor]:
        losses, logits = self._losses(batch)
        metrics = {f"{t}_loss": v for t, v in losses.items()}
        metrics["loss"] = losses.get("class", losses.get("recon"))
        if logits is not None:
            metrics["accuracy"] = (logits.argmax(-1) == batch[1]).float().mean()
        return metrics


@torch.no_grad()
def predict(
    model: nn.Module, ds: TensorDataset, *, device: torch.device | str = "cpu", batch: int = 1000
) -> tuple[Tensor, Tensor]:
    """Logits and labels of a whole split, in evaluation mode (CPU tensors)."""
    return logits_of(model, ds, batch_size=batch, device=device), ds.tensors[1]


def evaluate_splits(
    model: nn.Module,
    data: ClassificationData,
    *,
    device: torch.device | str = "cpu",
    splits: Sequence[str] = ("train", "val", "test"),
) -> dict[str, float]:
    """``{split}_accuracy`` and ``{split}_loss`` (cross-entropy, eval mode) of each split."""
    out: dict[str, float] = {}
    for split in splits:
        logits, labels = predict(model, getattr(data, split), device=device)
        out[f"{split}_accuracy"] = accuracy(logits, labels)
        out[f"{split}_loss"] = float(F.cross_entropy(logits, labels))
    return out


def fit_classifier(
    run: RunContext,
    name: str,
    model: nn.Module,
    data: ClassificationData,
    *,
    lr: float,
    engine: EngineConfig,
    train_set: Dataset | None = None,
    validate: bool = True,
    optimizer: torch.optim.Optimizer | None = None,
    callbacks: Sequence[Callback] = (),
    **task_options: Any,
) -> Loop:
    """Train ``model`` on a :class:`RegularizedClassificationTask` in child run ``name``.

    Args:
        run: the (seed's) run context; the fit happens in ``run.child(name)``.
        name: variant / phase name of the child run.
        model: inputs -> logits, already on the run's device and seeded by the caller.
        data: gives ``num_classes``, the default training split and the validation split.
        lr: Adam learning rate (unused when ``optimizer`` is given).
        engine: training-loop settings.
        train_set: what to train on (default ``data.train``).
        validate: evaluate on ``data.val`` every ``engine.eval_every`` steps.
        optimizer: the optimizer (default ``Adam(model.parameters(), lr)``).
        callbacks: engine callbacks (e.g. a stopping rule).
        **task_options: :class:`RegularizedClassificationTask` options (``augment``, ``mix``,
            ``smoothing``, ``l1``, ``l2``).

    Returns:
        The finished loop (``step``, ``history``, ``callbacks``, ``should_stop``).
    """
    task = RegularizedClassificationTask(model, data.num_classes, **task_options)
    opt = optimizer if optimizer is not None else torch.optim.Adam(task.parameters(), lr=lr)
    train = data.train if train_set is None else train_set
    val = data.val if validate else None
    with run.child(name) as sub:
        return fit(task, opt, train, cfg=engine, ctx=sub, val_set=val, callbacks=callbacks)


def record(
    out: dict[str, Any], run: RunContext, step: int, prefix: str, scores: Mapping[str, float]
) -> None:
    """Store ``scores`` as ``{prefix}_{key}`` in ``out`` and log them at ``step`` of ``run``."""
    named = {f"{prefix}_{k}": v for k, v in scores.items()}
    out.update(named)
    run.log(step, **named)


def gap_chart(
    metrics: Mapping[str, Any], variants: Sequence[str], path: Path, *, seeds: int, title: str
) -> Path:
    """Bar chart of each variant's mean train - validation accuracy gap over ``seeds`` seeds."""
    return bar_chart(
        {v: metrics[f"{v}_gap_accuracy"] for v in variants},
        path,
        ylabel=f"train - validation accuracy (mean of {seeds} seeds)",
        title=title,
    )


def seed_list(seed: int, n: int) -> list[int]:
    """The training seeds of a run: ``seed, seed + 1, ..., seed + n - 1`` (at least 3)."""
    if n < MIN_SEEDS:
        raise ValueError(f"an improvement claim needs >= {MIN_SEEDS} training seeds, got {n}")
    return [seed + i for i in range(n)]


def over_seeds(
    ctx: RunContext, seeds: int, one_seed: Callable[[RunContext], dict[str, Any]]
) -> dict[str, Any]:
    """Run ``one_seed(sub)`` in child run ``seed<s>`` for every training seed; merge its metrics.

    Every metric ``k`` of ``one_seed`` becomes ``k_seeds`` (its per-seed values, in seed
    order) and, when numeric, ``k`` (their mean). ``seeds`` lists the seeds used.
    """
    rows = []
    for s in seed_list(ctx.seed, seeds):
        with ctx.child(f"seed{s}", seed=s) as sub:
            rows.append(one_seed(sub))
    merged: dict[str, Any] = {"seeds": seed_list(ctx.seed, seeds)}
    for key in rows[0]:
        values = [row[key] for row in rows]
        merged[f"{key}_seeds"] = values
        if all(isinstance(v, int | float) for v in values):
            merged[key] = float(sum(values) / len(values))
    return merged


def comparison(
    m: Mapping[str, Any], key: str, baseline_key: str, what: str, baseline: str
) -> SeedComparison:
    """``{key}_test_accuracy`` vs ``{baseline_key}_test_accuracy`` over training seeds.

    :func:`replearn.experiments.stats.compare_seeds`: paired by seed, one-sided 95% Student-t
    lower bound of the mean difference must exceed 0.
    """
    return compare_seeds(
        m[f"{key}_test_accuracy_seeds"],
        m[f"{baseline_key}_test_accuracy_seeds"],
        label_x=what,
        label_y=baseline,
        unit="points",
    )


def reduction_comparison(
    m: Mapping[str, Any],
    metric: str,
    key: str,
    baseline_key: str,
    *,
    label: str,
    what: str,
    baseline: str,
    unit: str = "",
) -> SeedComparison:
    """Does variant ``key`` lower ``metric`` below ``baseline_key``'s, judged over seeds?

    Compares ``{key}_{metric}_seeds`` with ``{baseline_key}_{metric}_seeds`` (lower is better)
    with :func:`replearn.experiments.stats.compare_seeds`: the paired difference is the
    baseline's value minus the variant's (labelled ``"{label} ({baseline})"`` and
    ``"{label} ({what})"``), and it holds when its one-sided 95% lower bound exceeds 0.
    """
    return compare_seeds(
        m[f"{key}_{metric}_seeds"],
        m[f"{baseline_key}_{metric}_seeds"],
        higher_is_better=False,
        label_x=f"{label} ({baseline})",
        label_y=f"{label} ({what})",
        unit=unit,
    )


def gap_comparison(
    m: Mapping[str, Any], key: str, baseline_key: str, what: str, baseline: str
) -> SeedComparison:
    """Does ``what`` shrink the train - held-out accuracy gap of ``baseline`` over seeds?

    :func:`reduction_comparison` of ``gap_accuracy`` (in accuracy points).
    """
    return reduction_comparison(
        m, "gap_accuracy", key, baseline_key, label="gap", what=what, baseline=baseline,
        unit="points",
    )  # fmt: skip


def improvement_over_seeds(
    m: Mapping[str, Any], key: str, baseline_key: str, what: str, baseline: str
) -> tuple[bool, str]:
    """Claim "``what`` improves test accuracy over ``baseline``", judged over training seeds."""
    c = comparison(m, key, baseline_key, what, baseline)
    return c.holds, (
        f"test accuracy {what} {m[f'{key}_test_accuracy']:.4f} vs {baseline} "
        f"{m[f'{baseline_key}_test_accuracy']:.4f} (means); {c.evidence()}"
    )


def bar_chart(values: Mapping[str, float], path: Path, *, ylabel: str, title: str) -> Path:
    """One bar per variant, its value printed above it."""
    import matplotlib.pyplot as plt  # Agg: replearn.report.plots chose it at import

    fig, ax = plt.subplots(figsize=(6.0, 4.0), dpi=100)
    names, heights = list(values), [float(v) for v in values.values()]
    bars = ax.bar(names, heights, color="tab:blue")
    for bar, h in zip(bars, heights, strict=True):
        ax.annotate(f"{h:.4g}", (bar.get_x() + bar.get_width() / 2, h), ha="center", va="bottom")
    lo, hi = min(heights), max(heights)
    pad = 0.15 * (hi - lo) if hi > lo else 0.05 * abs(hi) + 1e-6
    ax.set_ylim(lo - pad if lo < 0 else max(0.0, lo - pad), hi + pad)
    ax.set(ylabel=ylabel, title=title)
    ax.tick_params(axis="x", labelrotation=20)
    fig.tight_layout()
    return save_figure(fig, path)


def curves_chart(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    path: Path,
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    vlines: Mapping[str, float] | None = None,
) -> Path:
    """Several curves, each with its own x values; optional labelled vertical lines."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 4.0), dpi=100)
    for label, (xs, ys) in series.items():
        ax.plot(list(xs), list(ys), label=label, marker="o" if len(xs) < 30 else None, ms=3)
    for (label, x), style in zip((vlines or {}).items(), ("--", ":", "-."), strict=False):
        ax.axvline(x, color="grey", ls=style, label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


def metric_curve(history: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """``(steps, values)`` of one metric in a finished loop's ``history``."""
    rows = [r for r in history if key in r]
    return [float(r["step"]) for r in rows], [float(r[key]) for r in rows]
