"""The training loop: determinism, resume, NaN guard, early stopping, clipping, schedules."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import ClassVar

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from replearn.config import ConfigError
from replearn.engine import (
    Callback,
    CheckpointError,
    ClassificationTask,
    EngineConfig,
    NonFiniteLossError,
    RunContext,
    fit,
)
from replearn.engine.checkpoint import find_resumable, list_checkpoints
from replearn.engine.seed import seed_everything
from replearn.engine.trainer import epoch_permutation, iterate_batches


def _data(n: int = 96, seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    return TensorDataset(x[: n - 32], y[: n - 32]), TensorDataset(x[n - 32 :], y[n - 32 :])


def _model() -> nn.Module:
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Dropout(0.2), nn.Linear(16, 2))


def _train(out: Path, cfg: EngineConfig, *, resume_state: dict | None = None, seed: int = 3):
    seed_everything(seed)
    train, val = _data()
    task = ClassificationTask(_model())
    opt = torch.optim.SGD(task.parameters(), lr=0.1, momentum=0.9)
    ctx = RunContext(out=out, seed=seed, progress=False, resume_state=resume_state)
    keep = resume_state["metrics_lines"] if resume_state else None
    ctx.logger.open(keep_lines=keep)
    try:
        loop = fit(task, opt, train, cfg=cfg, ctx=ctx, val_set=val)
    finally:
        ctx.logger.close()
    return loop, task


CFG = EngineConfig(
    max_steps=40,
    batch_size=16,
    log_every=3,
    eval_every=7,
    checkpoint_every=5,
    progress=False,
    lr_schedule="warmup-cosine",
    warmup_steps=4,
    grad_clip_norm=1.0,
)


def test_same_seed_gives_bitwise_identical_metrics_and_weights(tmp_path: Path) -> None:
    _, a = _train(tmp_path / "a", CFG)
    _, b = _train(tmp_path / "b", CFG)
    assert (tmp_path / "a/metrics.jsonl").read_bytes() == (
        tmp_path / "b/metrics.jsonl"
    ).read_bytes()
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)


class _Crash(Exception):
    pass


class _CrashAt(Callback):
    """Simulates a crash right after update ``step`` (before later callbacks run)."""

    def __init__(self, step: int) -> None:
        self.at = step

    def on_step_end(self, loop) -> None:
        if loop.step == self.at:
            raise _Crash


def _train_with(out: Path, cfg: EngineConfig, callbacks=(), resume_state=None, seed: int = 3):
    seed_everything(seed)
    train, val = _data()
    task = ClassificationTask(_model())
    opt = torch.optim.SGD(task.parameters(), lr=0.1, momentum=0.9)
    ctx = RunContext(out=out, seed=seed, progress=False, resume_state=resume_state)
    ctx.logger.open(keep_lines=resume_state["metrics_lines"] if resume_state else None)
    try:
        fit(task, opt, train, cfg=cfg, ctx=ctx, val_set=val, callbacks=callbacks)
    finally:
        ctx.logger.close()
    return task


@pytest.mark.parametrize("crash_at", [3, 5, 14, 21, 39, 40])
def test_resume_after_a_crash_is_bitwise_identical(tmp_path: Path, crash_at: int) -> None:
    full = _train_with(tmp_path / "full", CFG, callbacks=[_CrashAt(-1)])
    with pytest.raises(_Crash):
        _train_with(tmp_path / "part", CFG, callbacks=[_CrashAt(crash_at)])
    found = find_resumable(tmp_path / "part/checkpoints")
    state = found[1] if found else None
    if state is None:  # crashed before the first checkpoint: a fresh start
        assert crash_at < CFG.checkpoint_every
    resumed = _train_with(tmp_path / "part", CFG, callbacks=[_CrashAt(-1)], resume_state=state)
    got = (tmp_path / "part/metrics.jsonl").read_bytes()
    assert got == (tmp_path / "full/metrics.jsonl").read_bytes()
    for (ka, va), (_kb, vb) in zip(
        full.state_dict().items(), resumed.state_dict().items(), strict=True
    ):
        assert torch.equal(va, vb), ka


def test_checkpoints_are_pruned_and_latest_points_at_the_newest(tmp_path: Path) -> None:
    _train(tmp_path, CFG)
    names = [p.name for p in list_checkpoints(tmp_path / "checkpoints")]
    assert names == ["step-000000040.ckpt", "step-000000035.ckpt"]
    assert (tmp_path / "checkpoints/latest").read_text().strip() == "step-000000040.ckpt"


def test_nan_aborts_naming_the_step_and_the_last_checkpoint(tmp_path: Path) -> None:
    cfg = dataclasses.replace(CFG, fault_nan_at_step=12)
    with pytest.raises(
        NonFiniteLossError, match=r"step 12; last good checkpoint: .*step-000000010"
    ):
        _train(tmp_path, cfg)


def test_nan_skip_policy_skips_one_batch_and_goes_on(tmp_path: Path) -> None:
    cfg = dataclasses.replace(CFG, fault_nan_at_step=12, nan_policy="skip")
    loop, _ = _train(tmp_path, cfg)
    guard = loop.callbacks[0]
    assert loop.step == 40 and guard.total_skipped == 1


def test_skip_policy_aborts_after_too_many_in_a_row(tmp_path: Path) -> None:
    class AlwaysNaN(ClassificationTask):
        def training_step(self, batch):
            loss, m = super().training_step(batch)
            return loss * float("nan"), m

    seed_everything(0)
    train, _ = _data()
    task = AlwaysNaN(_model())
    ctx = RunContext(out=tmp_path, progress=False)
    ctx.logger.open()
    cfg = dataclasses.replace(CFG, nan_policy="skip", max_skips=3)
    with pytest.raises(NonFiniteLossError, match="4 non-finite losses in a row"):
        fit(task, torch.optim.SGD(task.parameters(), lr=0.1), train, cfg=cfg, ctx=ctx)


def test_early_stopping_stops_and_restores_the_best_weights(tmp_path: Path) -> None:
    cfg = dataclasses.replace(
        CFG, max_steps=2000, eval_every=2, early_stopping_patience=3, checkpoint_every=0
    )
    loop, task = _train(tmp_path, cfg)
    stopper = next(cb for cb in loop.callbacks if type(cb).__name__ == "EarlyStopping")
    assert loop.step < 2000
    assert loop.step == stopper.best_step + 2 * stopper.patience
    restored = task.state_dict()
    for key, value in stopper.best_state.items():
        assert torch.equal(restored[key], value)


def test_gradient_clipping_by_value_and_norm(tmp_path: Path) -> None:
    from replearn.engine.callbacks import GradientClipping

    class Probe(GradientClipping):
        seen: ClassVar[list[float]] = []

        def on_before_optimizer_step(self, loop):
            super().on_before_optimizer_step(loop)
            grads = [p.grad for p in loop.task.parameters() if p.grad is not None]
            self.seen.append(max(float(g.abs().max()) for g in grads))
            total = torch.linalg.vector_norm(
                torch.stack([torch.linalg.vector_norm(g) for g in grads])
            )
            assert float(total) <= 1e-3 * (1 + 1e-5)

    seed_everything(0)
    train, _ = _data()
    task = ClassificationTask(_model())
    ctx = RunContext(out=tmp_path, progress=False)
    ctx.logger.open()
    cfg = dataclasses.replace(CFG, max_steps=5, grad_clip_norm=None)
    probe = Probe(max_norm=1e-3, max_value=1e-2)
    fit(
        task, torch.optim.SGD(task.parameters(), lr=0.1), train, cfg=cfg, ctx=ctx, callbacks=[probe]
    )
    assert len(probe.seen) == 5 and max(probe.seen) <= 1e-2


def test_lr_schedule_warms_up_then_decays(tmp_path: Path) -> None:
    import json

    _train(tmp_path, CFG)
    rows = [json.loads(r) for r in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    lrs = [r["lr"] for r in rows if "lr" in r]
    peak = lrs.index(max(lrs))
    assert 0 < peak < len(lrs) - 1
    assert all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1 :], strict=False))


def test_incompatible_checkpoint_is_refused(tmp_path: Path) -> None:
    _train(tmp_path / "a", CFG)
    _, state = find_resumable(tmp_path / "a/checkpoints")
    seed_everything(0)
    train, _ = _data()
    task = ClassificationTask(nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 2)))
    ctx = RunContext(out=tmp_path / "b", progress=False, resume_state=state)
    ctx.logger.open()
    with pytest.raises(CheckpointError, match="does not fit this run"):
        fit(task, torch.optim.SGD(task.parameters(), lr=0.1), train, cfg=CFG, ctx=ctx)


def test_batch_size_larger_than_the_data_is_a_config_error(tmp_path: Path) -> None:
    train, _ = _data(40)
    task = ClassificationTask(_model())
    ctx = RunContext(out=tmp_path, progress=False)
    with pytest.raises(ConfigError, match="exceeds"):
        fit(
            task,
            torch.optim.SGD(task.parameters(), lr=0.1),
            train,
            cfg=dataclasses.replace(CFG, batch_size=64),
            ctx=ctx,
        )


def test_rank_slices_partition_each_global_batch() -> None:
    x = torch.arange(50).float().unsqueeze(1)
    ds = TensorDataset(x)
    whole = [b[0].squeeze(1) for b in iterate_batches(ds, batch_size=8, seed=1, epoch=2)]
    r0 = [b[0].squeeze(1) for b in iterate_batches(ds, batch_size=8, seed=1, epoch=2, world_size=2)]
    r1 = [
        b[0].squeeze(1)
        for b in iterate_batches(ds, batch_size=8, seed=1, epoch=2, rank=1, world_size=2)
    ]
    assert len(whole) == 6 == len(r0) == len(r1)
    for w, a, b in zip(whole, r0, r1, strict=True):
        assert torch.equal(w, torch.cat([a, b]))
    assert torch.equal(epoch_permutation(50, 1, 2), epoch_permutation(50, 1, 2))
    assert not torch.equal(epoch_permutation(50, 1, 2), epoch_permutation(50, 1, 3))


def test_bf16_autocast_runs_and_learns(tmp_path: Path) -> None:
    cfg = dataclasses.replace(CFG, precision="bf16", max_steps=30, lr_schedule="constant")
    loop, _ = _train(tmp_path, cfg)
    import json

    rows = [json.loads(r) for r in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    losses = [r["train_loss"] for r in rows if "train_loss" in r]
    assert loop.step == 30 and all(isinstance(v, float) and math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0]


def test_stop_below_stops_at_the_first_evaluation_under_the_threshold(tmp_path: Path) -> None:
    from replearn.engine.callbacks import StopBelow

    class Script(StopBelow):
        """Feeds a scripted validation loss instead of the measured one."""

        losses = iter([0.9, 0.7, 0.45, 0.3, 0.2])

        def on_validation_end(self, loop, metrics):
            super().on_validation_end(loop, {**metrics, "val_loss": next(self.losses)})

    seed_everything(0)
    train, val = _data()
    task = ClassificationTask(_model())
    ctx = RunContext(out=tmp_path, progress=False)
    ctx.logger.open()
    cfg = dataclasses.replace(CFG, max_steps=100, eval_every=4, checkpoint_every=0)
    stop = Script(monitor="val_loss", threshold=0.5)
    loop = fit(
        task,
        torch.optim.SGD(task.parameters(), lr=0.1),
        train,
        cfg=cfg,
        ctx=ctx,
        val_set=val,
        callbacks=[stop],
    )
    assert stop.reached and stop.reached_step == 12 and loop.step == 12
    assert stop.state_dict() == {"reached": True, "reached_step": 12}
    with pytest.raises(ValueError, match="threshold must be finite"):
        StopBelow(monitor="val_loss", threshold=float("nan"))
