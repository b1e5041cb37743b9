"""The supervised / generative training loop: :func:`fit`.

Read :meth:`Loop.run` top to bottom: it is the whole algorithm. A task object
(an ``nn.Module`` holding the model) supplies ``training_step(batch) -> (loss,
metrics)`` and optionally ``validation_step(batch) -> metrics``; callbacks
(:mod:`replearn.engine.callbacks`) add early stopping, checkpointing, LR
schedules, clipping, the NaN guard and the progress bar.

Determinism: the data order of epoch ``e`` is a permutation drawn from a
generator seeded by ``(seed, e)``, so the position in the data is just
``(epoch, batch_in_epoch)``; with every RNG state and the number of lines of
``metrics.jsonl`` stored in each checkpoint, a resumed run continues bitwise
identically on CPU.

Distributed: under torchrun the task is wrapped in ``DistributedDataParallel``;
each global batch of ``batch_size`` examples is cut into ``world_size`` equal
slices, one per rank, so N processes follow the same trajectory as one process
with the same global batch.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, TensorDataset

from replearn.config import ConfigError
from replearn.engine import checkpoint as ckpt
from replearn.engine import distributed
from replearn.engine.callbacks import (
    Callback,
    Checkpointing,
    EarlyStopping,
    GradientClipping,
    LRSchedule,
    NonFiniteGuard,
    ProgressCallback,
)
from replearn.engine.context import RunContext
from replearn.engine.logging import ProgressBar
from replearn.engine.seed import rng_state, set_rng_state

CHECKPOINT_FORMAT = 1


@dataclass(frozen=True)
class EngineConfig:
    """The ``engine`` section of every training experiment's config.

    Attributes:
        max_steps: optimizer updates to run.
        batch_size: global batch (split evenly over torchrun processes).
        log_every: write the running training metrics every this many updates.
        eval_every: evaluate on the validation set every this many updates (0: at the end).
        checkpoint_every: write a checkpoint every this many updates (0: at the end only).
        keep_checkpoints: how many checkpoints to keep.
        num_workers: DataLoader worker processes (0: load in the main process).
        grad_clip_norm: clip the global gradient L2 norm to this (None: off).
        grad_clip_value: clip each gradient entry to +-this (None: off).
        nan_policy: on a NaN/Inf loss, 'abort' (exit code 3) or 'skip' the batch.
        max_skips: with 'skip', abort after this many non-finite losses in a row.
        early_stopping_patience: evaluations without improvement before stopping (0: off).
        early_stopping_min_delta: smallest change that counts as an improvement.
        early_stopping_monitor: validation metric to watch.
        early_stopping_mode: 'min' or 'max' for the monitored metric.
        restore_best: put back the best weights when early stopping is on.
        lr_schedule: 'constant', 'cosine' (to 0 over max_steps), 'warmup-cosine'
            (linear warm-up for warmup_steps, then cosine) or 'step' (x0.1 every third).
        warmup_steps: warm-up length for 'warmup-cosine'.
        precision: 'fp32' or 'bf16' (autocast; for GPUs).
        progress: show the progress bar.
        fault_nan_at_step: fault injection for tests and demos of the NaN guard: the
            loss of this update is replaced by NaN once (-1: never).
    """

    max_steps: int = 1000
    batch_size: int = 128
    log_every: int = 50
    eval_every: int = 0
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    num_workers: int = 0
    grad_clip_norm: float | None = None
    grad_clip_value: float | None = None
    nan_policy: Literal["abort", "skip"] = "abort"
    max_skips: int = 10
    early_stopping_patience: int = 0
    early_stopping_min_delta: float = 0.0
    early_stopping_monitor: str = "val_loss"
    early_stopping_mode: Literal["min", "max"] = "min"
    restore_best: bool = True
    lr_schedule: Literal["constant", "cosine", "warmup-cosine", "step"] = "constant"
    warmup_steps: int = 0
    precision: Literal["fp32", "bf16"] = "fp32"
    progress: bool = True
    fault_nan_at_step: int = -1

    def __post_init__(self) -> None:
        for name in ("max_steps", "batch_size", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"engine.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("eval_every", "checkpoint_every", "num_workers", "max_skips", "warmup_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"engine.{name} must be >= 0, got {getattr(self, name)}")
        if self.keep_checkpoints < 1:
            raise ValueError(f"engine.keep_checkpoints must be >= 1, got {self.keep_checkpoints}")


class Task(nn.Module):
    """What :func:`fit` trains: holds the model and defines the loss.

    ``forward`` is ``training_step`` so that ``DistributedDataParallel`` can wrap
    the task and synchronise gradients.
    """

    def training_step(self, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Return ``(loss, metrics)`` for one batch (metrics as detached scalars)."""
        raise TypeError(f"{type(self).__name__} must define training_step")

    def validation_step(self, batch: Any) -> dict[str, torch.Tensor]:
        """Metrics for one validation batch (averaged over batches, weighted by size)."""
        loss, metrics = self.training_step(batch)
        return {"loss": loss.detach(), **metrics}

    def forward(self, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return self.training_step(batch)


def batch_size_of(batch: Any) -> int:
    """Leading dimension of the first tensor in a batch."""
    if isinstance(batch, torch.Tensor):
        return batch.shape[0]
    if isinstance(batch, (list, tuple)):
        return batch_size_of(batch[0])
    if isinstance(batch, dict):
        return batch_size_of(next(iter(batch.values())))
    raise TypeError(f"cannot find the batch size of {type(batch).__name__}")


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor of a (nested) batch to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The data order of one epoch: a permutation drawn from a generator seeded by (seed, epoch)."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=gen)


def iterate_batches(
    dataset: Dataset,
    *,
    batch_size: int,
    seed: int,
    epoch: int,
    start: int = 0,
    rank: int = 0,
    world_size: int = 1,
    num_workers: int = 0,
) -> Iterator[Any]:
    """This rank's slices of the global batches of one epoch, from batch ``start`` on.

    Incomplete last batches are dropped, so every rank sees equal slices.
    ``TensorDataset`` with ``num_workers=0`` is indexed directly (no per-example
    collation); anything else goes through a ``DataLoader`` with a fixed batch list
    and its own generator (so it never draws from the global RNG).
    """
    n = len(dataset)  # type: ignore[arg-type]
    per_rank = batch_size // world_size
    perm = epoch_permutation(n, seed, epoch)
    n_batches = n // batch_size
    slices = [
        perm[b * batch_size + rank * per_rank : b * batch_size + (rank + 1) * per_rank]
        for b in range(start, n_batches)
    ]
    if isinstance(dataset, TensorDataset) and num_workers == 0:
        for idx in slices:
            yield tuple(t[idx] for t in dataset.tensors)
        return
    loader = DataLoader(
        dataset,
        batch_sampler=[s.tolist() for s in slices],
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch),
        persistent_workers=False,
    )
    yield from loader


@torch.no_grad()
def evaluate(
    task: Task,
    dataset: Dataset,
    *,
    batch_size: int = 512,
    device: torch.device | str = "cpu",
    prefix: str = "val_",
) -> dict[str, float]:
    """Average ``task.validation_step`` over ``dataset`` in order (weighted by batch size)."""
    was_training = task.training
    task.eval()
    totals: dict[str, float] = {}
    count = 0
    n = len(dataset)  # type: ignore[arg-type]
    if isinstance(dataset, TensorDataset):
        batches: Any = (
            tuple(t[i : i + batch_size] for t in dataset.tensors) for i in range(0, n, batch_size)
        )
    else:
        batches = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    for batch in batches:
        batch = to_device(batch, torch.device(device))
        size = batch_size_of(batch)
        for key, value in task.validation_step(batch).items():
            totals[key] = totals.get(key, 0.0) + float(value) * size
        count += size
    task.train(was_training)
    return {f"{prefix}{k}": v / max(count, 1) for k, v in totals.items()}


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: EngineConfig
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """torch's schedulers for ``cfg.lr_schedule`` (None for 'constant')."""
    sched = torch.optim.lr_scheduler
    if cfg.lr_schedule == "constant":
        return None
    if cfg.lr_schedule == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=cfg.max_steps)
    if cfg.lr_schedule == "step":
        return sched.StepLR(optimizer, step_size=max(cfg.max_steps // 3, 1), gamma=0.1)
    warm = max(min(cfg.warmup_steps, cfg.max_steps - 1), 1)
    return sched.SequentialLR(
        optimizer,
        [
            sched.LinearLR(optimizer, start_factor=1.0 / warm, total_iters=warm),
            sched.CosineAnnealingLR(optimizer, T_max=max(cfg.max_steps - warm, 1)),
        ],
        milestones=[warm],
    )


def default_callbacks(cfg: EngineConfig, ctx: RunContext, optimizer: Any) -> list[Callback]:
    """The callbacks ``cfg`` asks for, in the order they run."""
    cbs: list[Callback] = [NonFiniteGuard(policy=cfg.nan_policy, max_skips=cfg.max_skips)]
    if cfg.grad_clip_norm is not None or cfg.grad_clip_value is not None:
        cbs.append(GradientClipping(max_norm=cfg.grad_clip_norm, max_value=cfg.grad_clip_value))
    scheduler = build_scheduler(optimizer, cfg)
    if scheduler is not None:
        cbs.append(LRSchedule(scheduler))
    if cfg.early_stopping_patience > 0:
        cbs.append(
            EarlyStopping(
                monitor=cfg.early_stopping_monitor,
                mode=cfg.early_stopping_mode,
                patience=cfg.early_stopping_patience,
                min_delta=cfg.early_stopping_min_delta,
                restore_best=cfg.restore_best,
            )
        )
    cbs.append(Checkpointing(every=cfg.checkpoint_every, keep=cfg.keep_checkpoints))
    bar = ProgressBar(cfg.max_steps, enabled=cfg.progress and ctx.progress and ctx.dist.is_main)
    cbs.append(ProgressCallback(bar))
    return cbs


class Loop:
    """State of one :func:`fit` call; :meth:`run` is the training loop."""

    def __init__(
        self,
        task: Task,
        optimizer: torch.optim.Optimizer,
        train_set: Dataset,
        *,
        cfg: EngineConfig,
        ctx: RunContext,
        val_set: Dataset | None = None,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        world = ctx.dist.world_size
        if cfg.batch_size % world:
            raise ConfigError(
                f"engine.batch_size={cfg.batch_size} is not divisible by {world} processes"
            )
        if len(train_set) < cfg.batch_size:  # type: ignore[arg-type]
            raise ConfigError(
                f"engine.batch_size={cfg.batch_size} exceeds the {len(train_set)} training examples"  # type: ignore[arg-type]
            )
        self.task, self.optimizer, self.train_set, self.val_set = (
            task,
            optimizer,
            train_set,
            val_set,
        )
        self.cfg, self.ctx = cfg, ctx
        self.callbacks = [*default_callbacks(cfg, ctx, optimizer), *callbacks]
        self.step = 0  # optimizer updates done
        self.epoch = 0
        self.batch_in_epoch = 0  # batches of this epoch consumed (updated or skipped)
        self.should_stop = False
        self.last_loss: torch.Tensor | None = None
        self.grad_norm: torch.Tensor | None = None
        self.last_checkpoint: str | None = None
        self.last_checkpoint_step = -1
        self._fault_pending = cfg.fault_nan_at_step >= 0
        self.final_validation_done = False
        self.running: dict[str, torch.Tensor] = {}  # sums of training metrics since the last log
        self.running_count = 0
        self.wall_time_s = 0.0

    # -- checkpoints -------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything a bitwise-identical resume needs."""
        rng = rng_state()
        return {
            "format": CHECKPOINT_FORMAT,
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "world_size": self.ctx.dist.world_size,
            "task": self.task.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "callbacks": [cb.state_dict() for cb in self.callbacks],
            "rng": rng,
            "torch_rng_per_rank": distributed.gather_tensor(rng["torch"]),
            "running": dict(self.running),
            "running_count": self.running_count,
            "final_validation_done": self.final_validation_done,
            "metrics_lines": self.ctx.logger.lines if self.ctx.logger else 0,
        }

    def load_state_dict(self, state: dict[str, Any], source: str = "checkpoint") -> None:
        """Restore :meth:`state_dict`; a mismatch raises :class:`ckpt.CheckpointError`."""
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ckpt.CheckpointError(f"{source}: unknown checkpoint format {state.get('format')}")
        try:
            self.task.load_state_dict(state["task"])
            self.optimizer.load_state_dict(state["optimizer"])
            if len(state["callbacks"]) != len(self.callbacks):
                raise ValueError("the callbacks differ from the checkpointed run")
            for cb, cb_state in zip(self.callbacks, state["callbacks"], strict=True):
                cb.load_state_dict(cb_state)
        except (RuntimeError, ValueError, KeyError) as err:
            detail = " ".join(line.strip() for line in str(err).strip().splitlines()[:3])
            raise ckpt.CheckpointError(f"{source} does not fit this run: {detail[:300]}") from None
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        self.running, self.running_count = dict(state["running"]), int(state["running_count"])
        self.final_validation_done = bool(state["final_validation_done"])
        set_rng_state(state["rng"])
        per_rank = state["torch_rng_per_rank"]
        if len(per_rank) == self.ctx.dist.world_size:
            torch.set_rng_state(per_rank[self.ctx.dist.rank])
        self.last_checkpoint_step = self.step
        self._fault_pending = self._fault_pending and self.cfg.fault_nan_at_step > self.step

    def save_checkpoint(self, keep: int = 2) -> None:
        """Write ``checkpoints/step-N.ckpt`` then the ``latest`` pointer (rank 0 only)."""
        if self.ctx.logger is not None:
            self.ctx.logger.flush()
        state = self.state_dict()  # collective (gathers RNG states): every rank calls it
        if self.ctx.dist.is_main:
            folder = self.ctx.checkpoint_dir
            path = ckpt.save_checkpoint(folder / ckpt.checkpoint_name(self.step), state)
            ckpt.write_latest(folder, path)
            ckpt.prune(folder, keep)
            self.last_checkpoint = str(path)
        self.last_checkpoint_step = self.step
        distributed.barrier()

    # -- the loop ----------------------------------------------------------------------
    def _validate(self) -> None:
        if self.val_set is None:
            return
        metrics = evaluate(self.task, self.val_set, device=self.ctx.device)
        self.ctx.log(self.step, epoch=self.epoch, **metrics)
        for cb in self.callbacks:
            cb.on_validation_end(self, metrics)

    def run(self) -> Loop:
        """Train until ``max_steps`` updates or a callback stops the loop."""
        cfg, ctx = self.cfg, self.ctx
        if ctx.resume_state is not None:
            self.load_state_dict(ctx.resume_state, source="the resumed checkpoint")
            ctx.resume_state = None
        model: nn.Module = self.task
        if ctx.dist.enabled:
            ids = [ctx.device.index] if ctx.device.type == "cuda" else None
            model = DistributedDataParallel(self.task, device_ids=ids)
        autocast = (
            torch.autocast(ctx.device.type, dtype=torch.bfloat16)
            if cfg.precision == "bf16"
            else contextlib.nullcontext()
        )
        for cb in self.callbacks:
            cb.on_fit_start(self)
        self.task.train()
        t0 = time.perf_counter()
        while self.step < cfg.max_steps and not self.should_stop:
            batches = iterate_batches(
                self.train_set,
                batch_size=cfg.batch_size,
                seed=ctx.seed,
                epoch=self.epoch,
                start=self.batch_in_epoch,
                rank=ctx.dist.rank,
                world_size=ctx.dist.world_size,
                num_workers=cfg.num_workers,
            )
            for batch in batches:
                batch = to_device(batch, ctx.device)
                with autocast:
                    loss, metrics = model(batch)
                if self._fault_pending and self.step + 1 == cfg.fault_nan_at_step:
                    self._fault_pending = False
                    loss = loss * float("nan")
                self.batch_in_epoch += 1
                if any(cb.on_loss(self, loss) for cb in self.callbacks):
                    self.optimizer.zero_grad(set_to_none=True)
                    continue
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                for cb in self.callbacks:
                    cb.on_before_optimizer_step(self)
                self.optimizer.step()
                self.step += 1
                self.last_loss = loss.detach()
                for key, value in {"loss": self.last_loss, **metrics}.items():
                    value = torch.as_tensor(value).detach().float()
                    self.running[key] = self.running.get(key, 0.0) + value
                self.running_count += 1
                if self.step % cfg.log_every == 0 or self.step == cfg.max_steps:
                    n = self.running_count
                    row = {f"train_{k}": float(v) / n for k, v in self.running.items()}
                    row = distributed.all_reduce_mean(row, ctx.device)
                    lr = self.optimizer.param_groups[0]["lr"]
                    ctx.log(self.step, epoch=self.epoch, lr=lr, **row)
                    self.running, self.running_count = {}, 0
                if cfg.eval_every and self.step % cfg.eval_every == 0:
                    self._validate()
                for cb in self.callbacks:
                    cb.on_step_end(self)
                if self.step >= cfg.max_steps or self.should_stop:
                    break
            else:
                self.epoch += 1
                self.batch_in_epoch = 0
        if not self.final_validation_done and (not cfg.eval_every or self.step % cfg.eval_every):
            self._validate()
        self.final_validation_done = True
        self.wall_time_s = time.perf_counter() - t0
        for cb in self.callbacks:
            cb.on_fit_end(self)
        return self


def fit(
    task: Task,
    optimizer: torch.optim.Optimizer,
    train_set: Dataset,
    *,
    cfg: EngineConfig,
    ctx: RunContext,
    val_set: Dataset | None = None,
    callbacks: Sequence[Callback] = (),
) -> Loop:
    """Train ``task`` with ``optimizer`` on ``train_set``; see :class:`Loop` and the module doc.

    Returns the finished :class:`Loop` (``step``, ``epoch``, ``wall_time_s``, callbacks).
    """
    return Loop(
        task, optimizer, train_set, cfg=cfg, ctx=ctx, val_set=val_set, callbacks=callbacks
    ).run()
