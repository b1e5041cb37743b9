"""A small, fast training bench shared by ``optim-adam-anatomy``, ``optim-training``,
``norm-landscape`` and ``norm-invariances``.

Scikit-learn's 8x8 digits (embedded, no download), held in memory; minibatches are
precomputed index batches (:class:`~replearn.engine.FixedBatches`, drawn with replacement
from the seed), so every variant of a comparison sees the same examples in the same
order for a given seed, and every update goes through the engine. Models: a multinomial
logistic regression (convex) and tanh/ReLU MLPs (non-convex), from ``torch.nn.Linear``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.data.images import load_classification
from replearn.engine import (
    Callback,
    EngineConfig,
    FixedBatches,
    NonFiniteLossError,
    RunContext,
    Task,
    fit,
)
from replearn.engine.trainer import Loop
from replearn.experiments.common import mlp, seeded
from replearn.report.plots import save_figure

__all__ = [
    "DIVERGED_LOSS",
    "Bench",
    "IndexClassifier",
    "index_batches",
    "load_bench",
    "mean_differences",
    "mlp",
    "seed_bars",
    "train_bench",
    "train_on_bench",
]


DIVERGED_LOSS = 1e3
"""The training loss a diverged run counts as (so that seed statistics stay finite)."""


@dataclass(frozen=True)
class Bench:
    """The digits splits as tensors (inputs (n, 64) in [0, 1], labels (n,))."""

    x_train: Tensor
    y_train: Tensor
    x_val: Tensor
    y_val: Tensor
    x_test: Tensor
    y_test: Tensor


def load_bench(seed: int = 0, train_size: int | None = None) -> Bench:
    """Digits with a seeded validation split; ``train_size`` keeps the first examples only."""
    data = load_classification("digits", val_fraction=0.2, seed=seed, flatten=True)

    def both(ds: torch.utils.data.TensorDataset) -> tuple[Tensor, Tensor]:
        return ds.tensors[0], ds.tensors[1]

    xt, yt = both(data.train)
    if train_size is not None:
        xt, yt = xt[:train_size], yt[:train_size]
    return Bench(xt, yt, *both(data.val), *both(data.test))


class IndexClassifier(Task):
    """Cross-entropy of ``model`` on batches of training-example indices."""

    def __init__(self, model: nn.Module, x: Tensor, y: Tensor) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("x", x, persistent=False)
        self.register_buffer("y", y, persistent=False)
        self.diverged = False

    def training_step(self, idx: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        return F.cross_entropy(self.model(self.x[idx]), self.y[idx]), {}

    @torch.no_grad()
    def full_loss(self, x: Tensor | None = None, y: Tensor | None = None) -> float:
        """Mean cross-entropy on a whole split (the training set by default).

        A diverged run, or a non-finite loss, counts as :data:`DIVERGED_LOSS`.
        """
        if self.diverged:
            return DIVERGED_LOSS
        x, y = (self.x, self.y) if x is None else (x.to(self.x.device), y.to(self.y.device))
        loss = float(F.cross_entropy(self.model(x), y))
        return loss if math.isfinite(loss) else DIVERGED_LOSS

    @torch.no_grad()
    def accuracy(self, x: Tensor, y: Tensor) -> float:
        """Fraction of ``x`` classified correctly (non-finite outputs count as wrong)."""
        logits = self.model(x.to(self.x.device)).cpu()  # the task's device, as its data set
        right = (logits.argmax(-1) == y.cpu()) & torch.isfinite(logits).all(-1)
        return float(right.float().mean())


def index_batches(n: int, steps: int, batch: int, seed: int) -> Tensor:
    """(steps, batch) example indices drawn with replacement from ``seed``."""
    return torch.randint(0, n, (steps, batch), generator=torch.Generator().manual_seed(seed))


def train_bench(
    ctx: RunContext,
    name: str,
    task: IndexClassifier,
    make_opt: Callable[[list[nn.Parameter]], torch.optim.Optimizer],
    *,
    steps: int,
    batch: int,
    seed: int,
    log_every: int = 0,
    callbacks: tuple[Callback, ...] = (),
) -> Loop | None:
    """Train ``task`` for ``steps`` updates in child run ``name-seed<seed>``; returns the loop.

    A run that diverges (10 non-finite losses in a row) stops there: ``task.diverged`` is
    set and None is returned.
    """
    engine = EngineConfig(max_steps=steps, batch_size=batch, log_every=log_every or steps,
                          checkpoint_every=0, progress=False, nan_policy="skip",
                          max_skips=10)  # fmt: skip
    order = index_batches(len(task.y), steps, batch, seed)
    opt = make_opt(list(task.parameters()))
    with ctx.child(f"{name}-seed{seed}", seed=seed) as sub:
        try:
            return fit(task, opt, FixedBatches(order), cfg=engine, ctx=sub, callbacks=callbacks)
        except NonFiniteLossError:  # diverged: 10 non-finite losses in a row
            task.diverged = True
            return None


def train_on_bench(
    ctx: RunContext,
    name: str,
    build: Callable[[], nn.Module],
    make_opt: Callable[[list[nn.Parameter]], torch.optim.Optimizer],
    *,
    seed: int,
    steps: int,
    batch: int,
    train_size: int | None = None,
    callbacks: tuple[Callback, ...] = (),
) -> tuple[IndexClassifier, Bench]:
    """Build a model after ``torch.manual_seed(seed)``, train it on seed ``seed``'s digits.

    The model (``build()``) is wrapped in an :class:`IndexClassifier` on the training split of
    :func:`load_bench` ``(seed, train_size)`` and trained by :func:`train_bench` (child run
    ``name-seed<seed>``). Returns the task, in evaluation mode, and the bench it was trained on.
    """
    bench = load_bench(seed, train_size)
    task = IndexClassifier(seeded(build, seed), bench.x_train, bench.y_train)
    train_bench(ctx, name, task, make_opt, steps=steps, batch=batch, seed=seed, callbacks=callbacks)
    task.eval()
    return task, bench


def mean_differences(metrics: dict[str, Any]) -> dict[str, float]:
    """``{key}_diff``: the mean paired difference of every comparison stored in ``metrics``.

    A comparison is a value that is a dict with a ``"mean"`` entry (``SeedComparison.as_dict()``);
    its mean favours the comparison's X. The flat numbers go to ``result.json`` next to them.
    """
    return {
        f"{k}_diff": v["mean"] for k, v in metrics.items() if isinstance(v, dict) and "mean" in v
    }


def seed_bars(values: dict[str, list[float]], path: Any, *, ylabel: str, title: str) -> Path:
    """One bar per variant (mean over seeds) with every seed's value as a dot."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1.2 + 1.1 * len(values), 3.2))
    ax = fig.add_subplot()
    for i, vals in enumerate(values.values()):
        ax.bar(i, sum(vals) / len(vals), color="C0", alpha=0.5)
        ax.plot([i] * len(vals), vals, "k.", ms=6)
    ax.set_xticks(range(len(values)), list(values), rotation=20, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
