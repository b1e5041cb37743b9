"""What experiments share: engine presets, data subsets, predictions, parameter counts, variants.

Every preset builds its engine settings with :func:`engine_config` (the engine's defaults
plus the ones experiments share); an experiment with settings of its own binds them once,
``_engine = partial(engine_config, batch_size=64, grad_clip_norm=1.0)``, and its presets call
``_engine(max_steps)``.

A comparison experiment is a loop over variants (and seeds): build the model the same way
for each (:func:`seeded`), train it through the engine in a child run of its own
(:func:`train_variant`, folder ``<variant>`` or ``<variant>-seed<s>``), then measure it
(:func:`predict` on a held-out split). Small models: :func:`mlp`. The names of the files in a
run folder are declared once, in :mod:`replearn.runfolder`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset, TensorDataset

from replearn.data import load_classification
from replearn.data.images import ClassificationData
from replearn.engine import Callback, EngineConfig, Loop, RunContext, Stream, Task, fit

__all__ = [
    "accuracy",
    "count_params",
    "engine_config",
    "load_data",
    "make_optimizer",
    "predict",
    "seeded",
    "subset",
    "train_variant",
]


def engine_config(
    max_steps: int, batch_size: int = 128, *, log_lines: int | None = None, **overrides: Any
) -> EngineConfig:
    """The :class:`EngineConfig` of an experiment preset, with the defaults experiments share.

    Experiments checkpoint at the end of a run only (``checkpoint_every=0``) unless they say
    otherwise; every other field keeps the engine's default unless given in ``overrides``.

    Args:
        max_steps: updates to run.
        batch_size: global batch.
        log_lines: log about this many rows over the run: ``log_every = max(1, max_steps //
            log_lines)``, at most ``log_every`` when that is given too.
        overrides: any other :class:`EngineConfig` field.
    """
    if log_lines is not None:
        if log_lines < 1:
            raise ValueError(f"log_lines must be >= 1, got {log_lines}")
        every = max(1, max_steps // log_lines)
        if "log_every" in overrides:
            every = max(1, min(int(overrides["log_every"]), every))
        overrides["log_every"] = every
    overrides.setdefault("checkpoint_every", 0)
    return EngineConfig(max_steps=max_steps, batch_size=batch_size, **overrides)


def load_data(
    name: str,
    *,
    seed: int,
    n_train: int | None = None,
    n_val: int | None = None,
    n_test: int | None = None,
    flatten: bool = False,
) -> ClassificationData:
    """:func:`~replearn.data.load_classification` (10% validation) with seeded subsets.

    Each split is cut to a seeded random subset (:func:`subset`; None keeps it whole): the
    training split with seed ``seed + 1``, validation ``seed + 2``, test ``seed + 3``.
    ``flatten`` turns images ``(C, H, W)`` into vectors (for MLPs).
    """
    data = load_classification(name, val_fraction=0.1, seed=seed)
    data.train = subset(data.train, n_train, seed + 1)
    data.val = subset(data.val, n_val, seed + 2)
    data.test = subset(data.test, n_test, seed + 3)
    if flatten:
        for split in ("train", "val", "test"):
            ds = getattr(data, split)
            setattr(data, split, TensorDataset(ds.tensors[0].flatten(1), ds.tensors[1]))
        data.input_shape = (math.prod(data.input_shape),)
    return data


def make_optimizer(
    kind: Literal["sgd", "adam", "adamw"],
    params: Any,
    *,
    lr: float,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    nesterov: bool = False,
    betas: tuple[float, float] = (0.9, 0.999),
) -> torch.optim.Optimizer:
    """``torch.optim`` SGD, Adam or AdamW, as the experiments that compare recipes build them.

    Args:
        kind: ``"sgd"`` (with ``momentum`` and ``nesterov``), ``"adam"`` (weight decay added
            to the gradient, as L2) or ``"adamw"`` (decoupled weight decay); ``betas`` for the
            two Adams.
        params: parameters or parameter groups (a group's own ``weight_decay`` wins).
        lr: learning rate.
        weight_decay: default weight decay (0: none; note AdamW's torch default is 0.01).
    """
    if kind == "sgd":
        return torch.optim.SGD(
            params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay
        )
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay)
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {kind!r}; choose from sgd, adam, adamw")


def subset(ds: TensorDataset, n: int | None, seed: int) -> TensorDataset:
    """A seeded random subset of ``n`` examples (all of them if ``n`` is None or too large)."""
    if n is None or n >= len(ds):
        return ds
    idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:n]
    return TensorDataset(*(t[idx] for t in ds.tensors))


@torch.no_grad()
def predict(
    model: nn.Module,
    ds: TensorDataset,
    *,
    batch_size: int = 500,
    device: torch.device | str | None = None,
) -> Tensor:
    """Logits (N, K) of ``model`` on the inputs of ``ds``, in eval mode, as float32 on the CPU.

    The model's mode is restored afterwards; ``device`` defaults to the model's.
    """
    was_training = model.training
    model.eval()
    x = ds.tensors[0]
    dev = device if device is not None else next(model.parameters()).device
    out = [model(x[i : i + batch_size].to(dev)).float().cpu() for i in range(0, len(x), batch_size)]
    model.train(was_training)
    return torch.cat(out)


def accuracy(logits: Tensor, labels: Tensor) -> float:
    """Fraction of rows whose arg-max over the last dimension is the label (a float64 mean).

    Shape:
        logits: (N, K) scores (logits or probabilities); labels: (N,) class indices.
    """
    if logits.shape[:-1] != labels.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)} differ")
    return float((logits.argmax(-1) == labels).double().mean())


def count_params(module: nn.Module) -> int:
    """Number of trainable parameters (``numel`` summed)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def seeded(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    """``build()`` right after ``torch.manual_seed(seed)``: paired variants start alike."""
    torch.manual_seed(seed)
    return build()


def train_variant(
    ctx: RunContext,
    name: str,
    task: Task,
    optimizer: torch.optim.Optimizer | dict[str, torch.optim.Optimizer],
    data: Dataset | Stream | None,
    *,
    engine: EngineConfig,
    seed: int | None = None,
    val_set: Dataset | None = None,
    callbacks: tuple[Callback, ...] = (),
    **fit_kwargs: Any,
) -> Loop:
    """Train one variant through the engine in child run ``name`` (``name-seed<s>`` with a seed).

    The child run has its own ``metrics.jsonl``, checkpoints and ``--resume``; the returned
    loop's ``history`` holds every logged row for plots and verdicts.
    """
    folder = name if seed is None else f"{name}-seed{seed}"
    with ctx.child(folder, seed=seed) as sub:
        return fit(task, optimizer, data, cfg=engine, ctx=sub, val_set=val_set,
                   callbacks=callbacks, **fit_kwargs)  # fmt: skip


def mlp(sizes: Sequence[int], act: Callable[[], nn.Module] = nn.Tanh) -> nn.Sequential:
    """Linear layers of the given widths with a fresh ``act()`` between them (none after the last).

    Args:
        sizes: widths from the input to the output, e.g. ``(64, 32, 10)``.
        act: a module class or factory (``nn.ReLU``, ``partial(nn.LeakyReLU, 0.2)``); tanh by
            default, the digits benchmark's choice.
    """
    if len(sizes) < 2:
        raise ValueError(f"need at least an input and an output width, got {tuple(sizes)}")
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)
