"""The one training loop: :func:`fit`.

Read :meth:`Loop.run` top to bottom: it is the whole algorithm. A task (an ``nn.Module``
holding the model) takes one of two forms:

* simple: ``training_step(batch) -> (loss, metrics)``; the engine does backward and the
  optimizer step;
* general ("manual optimization", as in Lightning): ``update(batch, loop) -> metrics``
  owns the update, with several optimizers, inner steps (n_critic), EMA teachers,
  rollouts; it calls ``loop.optimize(loss, name)`` for each optimizer step.

Either way the engine owns device placement, bf16 autocast, the NaN guard, gradient
clipping, DDP gradient synchronisation, the step and wall-clock budgets, the learning-rate
schedule (a function of the step and of the fraction of the budget spent), logging
(``metrics.jsonl`` and the in-memory :attr:`Loop.history`), evaluation, callbacks and
checkpoints. Data is a ``Dataset``, a :class:`~replearn.engine.data.Stream`, or ``None``
(the task draws its own); see :mod:`replearn.engine.data`.

Determinism: the data position, every RNG state, the stream state, the task's whole
``state_dict`` (parameters, buffers such as queues, submodules such as an
:class:`~replearn.engine.ema.EMA`, ``get_extra_state``) and the history travel in each
checkpoint, so a resumed run with a step budget continues bitwise identically on CPU.

Distributed: under torchrun a simple task is wrapped in ``DistributedDataParallel``; a
general task's gradients are averaged over ranks in :meth:`Loop.optimize`. Each global
batch is cut into ``world_size`` equal slices, one per rank, so N processes follow the
trajectory of one process with the same global batch.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset

from replearn.config import ConfigError
from replearn.engine import checkpoint as ckpt
from replearn.engine import distributed, schedules
from replearn.engine.budget import Budget
from replearn.engine.callbacks import (
    Callback,
    Checkpointing,
    EarlyStopping,
    GradientClipping,
    NonFiniteGuard,
    ProgressCallback,
)
from replearn.engine.context import RunContext
from replearn.engine.data import (
    Stream,
    batch_size_of,
    epoch_permutation,
    evaluate,
    iterate_batches,
    rank_slice,
    to_device,
)
from replearn.engine.logging import ProgressBar
from replearn.engine.precision import PRECISIONS, resolve_precision
from replearn.engine.seed import rng_state, set_rng_state

__all__ = [
    "EngineConfig", "Loop", "Task", "batch_size_of", "epoch_permutation", "evaluate", "fit",
    "iterate_batches", "to_device",
]  # fmt: skip

CHECKPOINT_FORMAT = 2
Optimizers = torch.optim.Optimizer | dict[str, torch.optim.Optimizer]


def _as_float_tensor(value: Any) -> Tensor:
    """A logged value as a detached float32 tensor (no copy when it already is one)."""
    if not isinstance(value, Tensor):
        return torch.tensor(float(value))
    if value.requires_grad:
        value = value.detach()
    return value if value.dtype == torch.float32 else value.float()


@dataclass(frozen=True)
class EngineConfig:
    """The ``engine`` section of every training experiment's config.

    Attributes:
        max_steps: updates to run (one ``Task.update`` or one optimizer step of a simple task).
        time_budget_s: wall-clock seconds for training plus evaluation, never exceeded (None:
            no limit); the loop stops early enough for the final evaluation to fit.
        batch_size: global batch (split evenly over torchrun processes).
        log_every: write the running training metrics every this many updates.
        eval_every: evaluate every this many updates (0: at the end only).
        eval_every_s: with a time budget, also evaluate every this many seconds (0: off).
        checkpoint_every: write a checkpoint every this many updates (0: at the end only).
        keep_checkpoints: how many checkpoints to keep.
        num_workers: DataLoader worker processes (0: load in the main process).
        grad_clip_norm: clip the global gradient L2 norm to this (None: off).
        grad_clip_value: clip each gradient entry to +-this (None: off).
        nan_policy: on a NaN/Inf loss, 'abort' (exit code 3) or 'skip' the update.
        max_skips: with 'skip', abort after this many non-finite losses in a row.
        early_stopping_patience: evaluations without improvement before stopping (0: off).
        early_stopping_min_delta: smallest change that counts as an improvement.
        early_stopping_monitor: validation metric to watch.
        early_stopping_mode: 'min' or 'max' for the monitored metric.
        restore_best: put back the best weights when early stopping is on.
        lr_schedule: 'constant', 'cosine', 'warmup-cosine', 'linear' or 'step', over the
            budget (see :mod:`replearn.engine.schedules`; ``fit(lr_schedule=fn)`` overrides).
        warmup_steps: warm-up length for 'warmup-cosine' and 'linear'.
        min_lr_ratio: final learning rate as a fraction of the base rate (cosine, linear).
        precision: 'fp32', 'bf16' (autocast on the run's device type) or 'auto' (bf16 where
            the device has bf16 units, else fp32: :mod:`replearn.engine.precision`).
        progress: show the progress bar.
        fault_nan_at_step: fault injection for tests and demos of the NaN guard: the
            loss of this update is replaced by NaN once (-1: never).
    """

    max_steps: int = 1000
    time_budget_s: float | None = None
    batch_size: int = 128
    log_every: int = 50
    eval_every: int = 0
    eval_every_s: float = 0.0
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
    lr_schedule: Literal["constant", "cosine", "warmup-cosine", "linear", "step"] = "constant"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0
    precision: Literal["fp32", "bf16", "auto"] = "fp32"
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
        if self.time_budget_s is not None and not self.time_budget_s > 0:
            raise ValueError(f"engine.time_budget_s must be > 0 or None, got {self.time_budget_s}")
        if self.eval_every_s < 0 or not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError("engine.eval_every_s must be >= 0 and min_lr_ratio in [0, 1]")
        if self.lr_schedule not in schedules.NAMES:
            raise ValueError(f"engine.lr_schedule must be one of {schedules.NAMES}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"engine.precision must be in {PRECISIONS}, got {self.precision!r}")


class SkipUpdate(Exception):
    """Raised by :meth:`Loop.optimize` when the NaN guard skips the update."""


class Task(nn.Module):
    """What :func:`fit` trains: holds the model(s) and defines the loss or the whole update.

    ``forward`` is ``training_step`` so that ``DistributedDataParallel`` can wrap a simple
    task and synchronise its gradients.
    """

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        """Return ``(loss, metrics)`` for one batch (metrics as detached scalars)."""
        raise TypeError(f"{type(self).__name__} must define training_step or update")

    def update(self, batch: Any, loop: Loop) -> dict[str, Tensor]:
        """One update; the general form overrides it and calls ``loop.optimize(loss, name)``.

        Returns the metrics to log (averaged over the updates between two log rows). The
        default is the simple form: ``training_step`` through the (DDP-wrapped) task.
        """
        with loop.autocast():
            loss, metrics = loop.model(batch)
        loop.optimize(loss)
        return {"loss": loss.detach(), **metrics}

    def validation_step(self, batch: Any) -> dict[str, Tensor]:
        """Metrics for one validation batch (averaged over batches, weighted by size)."""
        loss, metrics = self.training_step(batch)
        return {"loss": loss.detach(), **metrics}

    def validate(self, loop: Loop) -> dict[str, float]:
        """The evaluation the loop logs: by default ``validation_step`` over ``val_set``.

        Override for evaluations without a data set (returns of a policy, sample quality);
        return the names as they should be logged (``val_...``). ``loop.final_evaluation``
        tells the end-of-run evaluation (which may be larger) from periodic ones.
        """
        if loop.val_set is None:
            return {}
        return evaluate(self, loop.val_set, device=loop.device)

    def forward(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        return self.training_step(batch)


def _is_manual(task: Task) -> bool:
    return type(task).update is not Task.update


def default_callbacks(cfg: EngineConfig, ctx: RunContext) -> list[Callback]:
    """The callbacks ``cfg`` asks for, in the order they run."""
    cbs: list[Callback] = [NonFiniteGuard(policy=cfg.nan_policy, max_skips=cfg.max_skips)]
    if cfg.grad_clip_norm is not None or cfg.grad_clip_value is not None:
        cbs.append(GradientClipping(max_norm=cfg.grad_clip_norm, max_value=cfg.grad_clip_value))
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
    """State of one :func:`fit` call; :meth:`run` is the training loop.

    What a general task's ``update`` uses: :meth:`optimize`, :meth:`autocast`,
    :attr:`optimizers`, :attr:`step`, :attr:`progress`, :attr:`device`, :attr:`history`.
    """

    def __init__(
        self,
        task: Task,
        optimizers: Optimizers,
        data: Dataset | Stream | None,
        *,
        cfg: EngineConfig,
        ctx: RunContext,
        val_set: Dataset | None = None,
        callbacks: Sequence[Callback] = (),
        lr_schedule: schedules.Schedule | None = None,
    ) -> None:
        world = ctx.dist.world_size
        if cfg.batch_size % world:
            raise ConfigError(
                f"engine.batch_size={cfg.batch_size} is not divisible by {world} processes"
            )
        if isinstance(data, Dataset) and len(data) < cfg.batch_size:  # type: ignore[arg-type]
            raise ConfigError(
                f"engine.batch_size={cfg.batch_size} exceeds the {len(data)} training examples"  # type: ignore[arg-type]
            )
        if isinstance(optimizers, torch.optim.Optimizer):
            optimizers = {"main": optimizers}
        if not optimizers:
            raise ValueError("fit needs at least one optimizer")
        self.task, self.optimizers, self.data, self.val_set = task, dict(optimizers), data, val_set
        self.cfg, self.ctx = cfg, ctx
        self.manual = _is_manual(task)
        self.callbacks = [*default_callbacks(cfg, ctx), *callbacks]
        self.schedule = lr_schedule or schedules.named(
            cfg.lr_schedule, max_steps=cfg.max_steps, warmup_steps=cfg.warmup_steps,
            min_factor=cfg.min_lr_ratio, clock_driven=cfg.time_budget_s is not None,
        )  # fmt: skip
        self.base_lrs = {n: [g["lr"] for g in o.param_groups] for n, o in self.optimizers.items()}
        self.budget = Budget(cfg.time_budget_s)
        self.model: nn.Module = task  # the DDP wrapper under torchrun (simple tasks)
        self.step = 0  # updates done
        self.epoch = 0
        self.batch_in_epoch = 0  # batches of this epoch consumed (updated or skipped)
        self.should_stop = False
        self.history: list[dict[str, Any]] = []  # every logged row, also after a resume
        self.last_loss: Tensor | None = None
        self.grad_norm: Tensor | None = None
        self.stepping: str | None = None  # the optimizer Loop.optimize is stepping
        self.last_checkpoint: str | None = None
        self.last_checkpoint_step = -1
        self._fault_pending = cfg.fault_nan_at_step >= 0
        self.final_validation_done = False
        self.final_evaluation = False  # True during the end-of-run (and budget-probe) evaluation
        self._last_eval_step = -1
        self.running: dict[str, Tensor] = {}  # sums of training metrics since the last log
        self.running_count = 0
        self._batches: Iterator[Any] | None = None

    # -- what an update uses -------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        """Where the task and its batches live."""
        return self.ctx.device

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """The only optimizer (an error when the task has several)."""
        if len(self.optimizers) != 1:
            raise AttributeError(f"the task has {len(self.optimizers)} optimizers: name one")
        return next(iter(self.optimizers.values()))

    @property
    def progress(self) -> float:
        """Fraction of the budget spent: max(step / max_steps, elapsed / time budget)."""
        return max(self.step / self.cfg.max_steps, self.budget.fraction())

    @property
    def wall_time_s(self) -> float:
        """Seconds of training and evaluation so far (summed over resumes)."""
        return self.budget.elapsed()

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """bf16 autocast on the run's device type when the precision resolves to bf16."""
        if resolve_precision(self.cfg.precision, self.device) == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def stepping_parameters(self) -> list[nn.Parameter]:
        """Parameters of the optimizer being stepped (what clipping and DDP sync touch)."""
        opt = self.optimizers[self.stepping] if self.stepping else self.optimizer
        return [p for g in opt.param_groups for p in g["params"]]

    def optimize(
        self, loss: Tensor, name: str | None = None, *, retain_graph: bool = False
    ) -> None:
        """One optimizer step on ``loss``: NaN guard, zero_grad, backward, sync, clip, step.

        Raises:
            SkipUpdate: the NaN guard skips this update (caught by the loop).
            NonFiniteLossError: the NaN guard aborts the run.
        """
        if name is None and len(self.optimizers) != 1:
            raise ValueError(f"name the optimizer: one of {sorted(self.optimizers)}")
        name = name if name is not None else next(iter(self.optimizers))
        if name not in self.optimizers:
            raise KeyError(f"no optimizer {name!r}; have {sorted(self.optimizers)}")
        opt = self.optimizers[name]
        if self._fault_pending and self.step + 1 == self.cfg.fault_nan_at_step:
            self._fault_pending = False
            loss = loss * float("nan")
        if any(cb.on_loss(self, loss) for cb in self.callbacks):
            opt.zero_grad(set_to_none=True)
            raise SkipUpdate
        opt.zero_grad(set_to_none=True)
        loss.backward(retain_graph=retain_graph)
        self.stepping = name
        if self.manual and self.ctx.dist.enabled:
            distributed.all_reduce_gradients(self.stepping_parameters())
        for cb in self.callbacks:
            cb.on_before_optimizer_step(self)
        opt.step()
        self.stepping = None
        self.last_loss = loss.detach()

    def log(self, **metrics: Any) -> None:
        """Log a row at the current step (``metrics.jsonl`` on rank 0 and :attr:`history`)."""
        row = {"step": self.step, "epoch": self.epoch, **metrics}
        self.history.append({k: float(v) if isinstance(v, Tensor) else v for k, v in row.items()})
        self.ctx.log(self.step, epoch=self.epoch, **metrics)

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
            "optimizers": {n: o.state_dict() for n, o in self.optimizers.items()},
            "base_lrs": self.base_lrs,
            "stream": self.data.state_dict() if isinstance(self.data, Stream) else {},
            "callbacks": [cb.state_dict() for cb in self.callbacks],
            "rng": rng,
            "torch_rng_per_rank": distributed.gather_tensor(rng["torch"]),
            "running": dict(self.running),
            "running_count": self.running_count,
            "final_validation_done": self.final_validation_done,
            "history": self.history,
            "budget": self.budget.state_dict(),
            "metrics_lines": self.ctx.logger.lines if self.ctx.logger else 0,
        }

    def load_state_dict(self, state: dict[str, Any], source: str = "checkpoint") -> None:
        """Restore :meth:`state_dict`; a mismatch raises :class:`ckpt.CheckpointError`."""
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ckpt.CheckpointError(f"{source}: unknown checkpoint format {state.get('format')}")
        try:
            self.task.load_state_dict(state["task"])
            if sorted(state["optimizers"]) != sorted(self.optimizers):
                raise ValueError(f"optimizers {sorted(state['optimizers'])} were checkpointed")
            for name, opt in self.optimizers.items():
                opt.load_state_dict(state["optimizers"][name])
            if len(state["callbacks"]) != len(self.callbacks):
                raise ValueError("the callbacks differ from the checkpointed run")
            for cb, cb_state in zip(self.callbacks, state["callbacks"], strict=True):
                cb.load_state_dict(cb_state)
            if isinstance(self.data, Stream):
                self.data.load_state_dict(state["stream"])
        except (RuntimeError, ValueError, KeyError) as err:
            detail = " ".join(line.strip() for line in str(err).strip().splitlines()[:3])
            raise ckpt.CheckpointError(f"{source} does not fit this run: {detail[:300]}") from None
        self.base_lrs = {n: list(v) for n, v in state["base_lrs"].items()}
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        self.running, self.running_count = dict(state["running"]), int(state["running_count"])
        self.final_validation_done = bool(state["final_validation_done"])
        self.history = list(state["history"])
        self.budget.load_state_dict(state["budget"])
        set_rng_state(state["rng"])
        per_rank = state["torch_rng_per_rank"]
        if len(per_rank) == self.ctx.dist.world_size:
            torch.set_rng_state(per_rank[self.ctx.dist.rank])
        self.last_checkpoint_step = self.step
        self._fault_pending = self._fault_pending and self.cfg.fault_nan_at_step > self.step

    def save_checkpoint(self, keep: int = 2) -> None:
        """Write ``checkpoints/step-N.ckpt`` then the ``latest`` pointer (rank 0 only)."""
        t = time.perf_counter()
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
        self.budget.note_checkpoint(time.perf_counter() - t)

    # -- the loop ----------------------------------------------------------------------
    def _next_batch(self) -> Any:
        """The next batch of this rank (None when the task draws its own data)."""
        if self.data is None:
            return None
        if isinstance(self.data, Stream):
            batch = rank_slice(self.data.next_batch(), self.ctx.dist.rank, self.ctx.dist.world_size)
            return to_device(batch, self.device)
        while True:
            if self._batches is None:
                self._batches = iterate_batches(
                    self.data, batch_size=self.cfg.batch_size, seed=self.ctx.seed,
                    epoch=self.epoch, start=self.batch_in_epoch, rank=self.ctx.dist.rank,
                    world_size=self.ctx.dist.world_size, num_workers=self.cfg.num_workers,
                )  # fmt: skip
            batch = next(self._batches, None)
            if batch is not None:
                self.batch_in_epoch += 1
                return to_device(batch, self.device)
            self._batches, self.epoch, self.batch_in_epoch = None, self.epoch + 1, 0

    def _set_learning_rates(self) -> None:
        if self.schedule is None:
            return
        factor = self.schedule(self.step, self.progress)
        for name, opt in self.optimizers.items():
            for group, base in zip(opt.param_groups, self.base_lrs[name], strict=True):
                group["lr"] = base * factor

    def _validate(self, *, final: bool = False) -> None:
        self.final_evaluation, self._last_eval_step = final, self.step
        try:
            with self.budget.measure_evaluation():
                metrics = self.task.validate(self)
        finally:
            self.final_evaluation = False
        if not metrics:
            return
        self.log(**metrics)
        for cb in self.callbacks:
            cb.on_validation_end(self, metrics)

    def _log_training(self) -> None:
        n = self.running_count
        row = {f"train_{k}": float(v) / n for k, v in self.running.items()}
        row = distributed.all_reduce_mean(row, self.device)
        lrs = {"lr": next(iter(self.optimizers.values())).param_groups[0]["lr"]}
        if len(self.optimizers) > 1:
            lrs = {f"lr_{k}": o.param_groups[0]["lr"] for k, o in self.optimizers.items()}
        self.log(**lrs, **row)
        self.running, self.running_count = {}, 0

    def _finished(self) -> bool:
        if self.step >= self.cfg.max_steps or self.should_stop:
            return True
        has_eval = self.val_set is not None or type(self.task).validate is not Task.validate
        return self.budget.should_stop(self.ctx.dist, final_evaluation=has_eval)

    def run(self) -> Loop:
        """Train until ``max_steps`` updates, the time budget, or a callback stops the loop."""
        cfg, ctx = self.cfg, self.ctx
        self.task.to(ctx.device)
        if ctx.resume_state is not None:
            self.load_state_dict(ctx.resume_state, source="the resumed checkpoint")
            ctx.resume_state = None
        if ctx.dist.enabled and not self.manual:
            ids = [ctx.device.index] if ctx.device.type == "cuda" else None
            self.model = DistributedDataParallel(self.task, device_ids=ids)
        elif ctx.dist.enabled:
            distributed.broadcast_module(self.task)
        for cb in self.callbacks:
            cb.on_fit_start(self)
        self.task.train()
        self.budget.start()
        if self.budget.limited and self.step == 0 and not self.final_validation_done:
            self._validate(final=True)  # measures what the final evaluation will cost
        while not self._finished():
            with self.budget.measure_step():
                self._set_learning_rates()
                batch = self._next_batch()
                try:
                    metrics = self.task.update(batch, self)
                except SkipUpdate:
                    continue
                self.step += 1
                for key, value in metrics.items():
                    self.running[key] = self.running.get(key, 0.0) + _as_float_tensor(value)
                self.running_count += 1
                if self.step % cfg.log_every == 0 or self.step == cfg.max_steps:
                    self._log_training()
            every_s = cfg.eval_every_s if self.budget.limited else 0.0  # deterministic without
            if (cfg.eval_every and self.step % cfg.eval_every == 0) or self.budget.eval_due(
                every_s, ctx.dist
            ):
                self._validate(final=self.step >= cfg.max_steps)
            for cb in self.callbacks:
                cb.on_step_end(self)
        if self.running_count:
            self._log_training()
        if not self.final_validation_done and self._last_eval_step != self.step:
            self._validate(final=True)
        self.final_validation_done = True
        self.budget.stop()  # training and evaluation end here; the last checkpoint is bookkeeping
        for cb in self.callbacks:
            cb.on_fit_end(self)
        return self


def fit(
    task: Task,
    optimizer: Optimizers,
    data: Dataset | Stream | None,
    *,
    cfg: EngineConfig,
    ctx: RunContext,
    val_set: Dataset | None = None,
    callbacks: Sequence[Callback] = (),
    lr_schedule: schedules.Schedule | None = None,
) -> Loop:
    """Train ``task`` with ``optimizer`` (or a dict of named optimizers) on ``data``.

    Called from Python with a :class:`RunContext` whose ``metrics.jsonl`` is not open,
    ``fit`` opens it in ``ctx.out`` and closes it at the end. Returns the finished
    :class:`Loop` (``step``, ``epoch``, ``wall_time_s``, ``history``, callbacks).
    """
    loop = Loop(
        task, optimizer, data, cfg=cfg, ctx=ctx, val_set=val_set, callbacks=callbacks,
        lr_schedule=lr_schedule,
    )  # fmt: skip
    logger = ctx.logger
    opened_here = logger is not None and logger.enabled and not logger.is_open
    if opened_here:
        logger.open()
    try:
        return loop.run()
    finally:
        if opened_here:
            logger.close()
