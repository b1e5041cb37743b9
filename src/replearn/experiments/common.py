"""What experiments share: data subsets, predictions, parameter counts, seeded builds, variants.

A comparison experiment is a loop over variants (and seeds): build the model the same way
for each (:func:`seeded`), train it through the engine in a child run of its own
(:func:`train_variant`, folder ``<variant>`` or ``<variant>-seed<s>``), then measure it
(:func:`predict` on a held-out split). The names of the files in a run folder are declared
once, in :mod:`replearn.experiments.runner` and :class:`replearn.engine.RunContext`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset, TensorDataset

from replearn.engine import Callback, EngineConfig, Loop, RunContext, Stream, Task, fit

__all__ = ["count_params", "predict", "seeded", "subset", "train_variant"]


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
