"""The general form of the loop: several optimizers, declared state, streams, budgets, schedules."""

from __future__ import annotations

import contextlib
import itertools
import time
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from replearn.engine import (
    EMA,
    Callback,
    EngineConfig,
    Loop,
    NonFiniteLossError,
    RunContext,
    SampleStream,
    Task,
    fit,
)
from replearn.engine.checkpoint import find_resumable
from replearn.engine.schedules import named
from replearn.engine.seed import seed_everything


def _two_gaussians(n: int, gen: torch.Generator) -> torch.Tensor:
    centres = torch.tensor([[-2.0, 0.0], [2.0, 1.0]])
    pick = torch.randint(2, (n,), generator=gen)
    return centres[pick] + 0.3 * torch.randn(n, 2, generator=gen)


class ToyGAN(Task):
    """A two-optimizer task: n_critic discriminator steps per generator step, an EMA generator
    and a queue of past fakes (a buffer): everything a resume must restore."""

    def __init__(self, n_critic: int = 2) -> None:
        super().__init__()
        self.g = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 2))
        self.d = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
        self.g_ema = EMA(self.g, decay=0.9)
        self.register_buffer("queue", torch.zeros(8, 2))
        self.n_critic = n_critic
        self.updates_seen = 0

    def update(self, batch: torch.Tensor, loop: Loop) -> dict[str, torch.Tensor]:
        for _ in range(self.n_critic):
            z = torch.randn(batch.shape[0], 3, device=batch.device)
            with loop.autocast():
                fake = self.g(z).detach()
                d_loss = F.softplus(-self.d(batch)).mean() + F.softplus(self.d(fake)).mean()
            loop.optimize(d_loss, "d")
        z = torch.randn(batch.shape[0], 3, device=batch.device)
        with loop.autocast():
            fake = self.g(z)
            g_loss = F.softplus(-self.d(fake)).mean()
        loop.optimize(g_loss, "g")
        self.g_ema.update(self.g)
        self.queue = torch.cat([fake.detach()[:4], self.queue[:-4]])
        self.updates_seen += 1
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    def validate(self, loop: Loop) -> dict[str, float]:
        gen = torch.Generator().manual_seed(99)
        z = torch.randn(64, 3, generator=gen)
        with torch.no_grad():
            return {"val_ema_mean_x": float(self.g_ema(z)[:, 0].mean())}

    def get_extra_state(self) -> dict[str, Any]:
        return {"updates_seen": self.updates_seen}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.updates_seen = int(state["updates_seen"])


CFG = EngineConfig(
    max_steps=30, batch_size=16, log_every=4, eval_every=10, checkpoint_every=7,
    keep_checkpoints=10, progress=False, lr_schedule="warmup-cosine", warmup_steps=5,
    grad_clip_norm=1.0,
)  # fmt: skip


class _Crash(Exception):
    pass


class CrashAt(Callback):
    def __init__(self, step: int) -> None:
        self.at = step

    def on_step_end(self, loop: Loop) -> None:
        if loop.step == self.at:
            raise _Crash


def _train_gan(out: Path, *, crash_at: int | None = None, resume: bool = False):
    seed_everything(4)
    task = ToyGAN()
    opts = {
        "d": torch.optim.Adam(task.d.parameters(), lr=2e-3, betas=(0.5, 0.9)),
        "g": torch.optim.Adam(task.g.parameters(), lr=1e-3, betas=(0.5, 0.9)),
    }
    stream = SampleStream(_two_gaussians, batch_size=16, seed=7)
    state = None
    if resume:
        _, state = find_resumable(out / "checkpoints")
    ctx = RunContext(out=out, seed=4, progress=False, resume_state=state)
    ctx.logger.open(keep_lines=state["metrics_lines"] if state else None)
    callbacks = [CrashAt(crash_at if crash_at is not None else -1)]
    try:
        loop = fit(task, opts, stream, cfg=CFG, ctx=ctx, callbacks=callbacks)
    finally:
        ctx.logger.close()
    return loop, task


def test_two_optimizer_task_resumes_bitwise(tmp_path: Path) -> None:
    whole, task_a = _train_gan(tmp_path / "a")
    with pytest.raises(_Crash):
        _train_gan(tmp_path / "b", crash_at=16)  # last checkpoint at step 14
    resumed, task_b = _train_gan(tmp_path / "b", resume=True)
    assert resumed.step == whole.step == CFG.max_steps
    for (ka, va), (kb, vb) in zip(
        task_a.state_dict().items(), task_b.state_dict().items(), strict=True
    ):
        assert ka == kb
        if isinstance(va, torch.Tensor):
            assert torch.equal(va, vb), ka
        else:
            assert va == vb, ka
    assert task_b.updates_seen == CFG.max_steps
    assert (tmp_path / "a/metrics.jsonl").read_bytes() == (
        tmp_path / "b/metrics.jsonl"
    ).read_bytes()
    assert resumed.history == whole.history
    for name in ("d", "g"):
        sa, sb = whole.optimizers[name].state_dict(), resumed.optimizers[name].state_dict()
        for pa, pb in zip(sa["state"].values(), sb["state"].values(), strict=True):
            assert torch.equal(pa["exp_avg"], pb["exp_avg"])


def test_history_holds_every_logged_row_and_both_learning_rates(tmp_path: Path) -> None:
    loop, _ = _train_gan(tmp_path)
    train_rows = [r for r in loop.history if "train_d_loss" in r]
    assert [r["step"] for r in train_rows] == [4, 8, 12, 16, 20, 24, 28, 30]
    assert all({"lr_d", "lr_g", "train_g_loss"} <= r.keys() for r in train_rows)
    # warm-up then cosine on each optimizer's own base rate
    assert train_rows[0]["lr_d"] == pytest.approx(2e-3 * 4 / 5)
    assert train_rows[-1]["lr_g"] < 1e-3 * 0.05
    val_rows = [r for r in loop.history if "val_ema_mean_x" in r]
    assert [r["step"] for r in val_rows] == [10, 20, 30]


def test_clipping_touches_only_the_optimizer_being_stepped(tmp_path: Path) -> None:
    seen: list[tuple[str, set[int]]] = []

    class Probe(Callback):
        def on_before_optimizer_step(self, loop: Loop) -> None:
            seen.append((loop.stepping or "", {id(p) for p in loop.stepping_parameters()}))

    seed_everything(0)
    task = ToyGAN(n_critic=1)
    opts = {"d": torch.optim.SGD(task.d.parameters(), lr=0.1),
            "g": torch.optim.SGD(task.g.parameters(), lr=0.1)}  # fmt: skip
    ctx = RunContext(out=tmp_path, progress=False)
    cfg = EngineConfig(max_steps=2, batch_size=8, progress=False, checkpoint_every=0)
    fit(
        task,
        opts,
        SampleStream(_two_gaussians, batch_size=8),
        cfg=cfg,
        ctx=ctx,
        callbacks=[Probe()],
    )
    assert [name for name, _ in seen] == ["d", "g", "d", "g"]
    assert seen[0][1] == {id(p) for p in task.d.parameters()}
    assert seen[1][1] == {id(p) for p in task.g.parameters()}


def test_nan_in_a_manual_update_aborts_with_the_step(tmp_path: Path) -> None:
    seed_everything(0)
    task = ToyGAN()
    opts = {"d": torch.optim.SGD(task.d.parameters(), lr=0.1),
            "g": torch.optim.SGD(task.g.parameters(), lr=0.1)}  # fmt: skip
    cfg = EngineConfig(max_steps=10, batch_size=8, progress=False, fault_nan_at_step=3)
    ctx = RunContext(out=tmp_path, progress=False)
    with pytest.raises(NonFiniteLossError, match="step 3"):
        fit(task, opts, SampleStream(_two_gaussians, batch_size=8), cfg=cfg, ctx=ctx)


def test_fit_from_python_writes_metrics_jsonl(tmp_path: Path) -> None:
    seed_everything(0)
    task = ToyGAN()
    opts = {"d": torch.optim.SGD(task.d.parameters(), lr=0.1),
            "g": torch.optim.SGD(task.g.parameters(), lr=0.1)}  # fmt: skip
    cfg = EngineConfig(max_steps=6, batch_size=8, log_every=2, progress=False)
    loop = fit(task, opts, SampleStream(_two_gaussians, batch_size=8), cfg=cfg,
               ctx=RunContext(out=tmp_path / "py", progress=False))  # fmt: skip
    lines = (tmp_path / "py/metrics.jsonl").read_text().splitlines()
    assert len(lines) == len(loop.history) == 4  # 3 training rows + the final validation


class Quadratic(Task):
    """A task with no data: the update minimises ||w - 3||^2 and sleeps to cost time."""

    def __init__(self, sleep_s: float = 0.0, eval_sleep_s: float = 0.0) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(4))
        self.sleep_s, self.eval_sleep_s = sleep_s, eval_sleep_s

    def training_step(self, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if self.sleep_s:
            time.sleep(self.sleep_s)
        return ((self.w - 3.0) ** 2).sum(), {}

    def validate(self, loop: Loop) -> dict[str, float]:
        time.sleep(self.eval_sleep_s)
        return {"val_distance": float((self.w.detach() - 3.0).norm())}


def test_time_budget_is_never_exceeded_and_reserves_the_final_evaluation(tmp_path: Path) -> None:
    task = Quadratic(sleep_s=0.01, eval_sleep_s=0.15)
    cfg = EngineConfig(max_steps=10**6, time_budget_s=1.0, batch_size=1, progress=False,
                       checkpoint_every=0, lr_schedule="cosine")  # fmt: skip
    t0 = time.perf_counter()
    loop = fit(task, torch.optim.SGD(task.parameters(), lr=0.05), None, cfg=cfg,
               ctx=RunContext(out=tmp_path, progress=False))  # fmt: skip
    wall = time.perf_counter() - t0
    assert loop.wall_time_s <= 1.0 and wall <= 1.1, (loop.wall_time_s, wall)
    assert loop.step > 10  # it trained, and stopped on time
    assert loop.history[-1]["val_distance"] < 3.0 * 2  # the final evaluation ran
    assert loop.progress > 0.8


def test_max_steps_wins_when_it_comes_first(tmp_path: Path) -> None:
    task = Quadratic()
    cfg = EngineConfig(max_steps=25, time_budget_s=60.0, batch_size=1, progress=False)
    loop = fit(task, torch.optim.SGD(task.parameters(), lr=0.05), None, cfg=cfg,
               ctx=RunContext(out=tmp_path, progress=False))  # fmt: skip
    assert loop.step == 25


def test_custom_schedule_sees_step_and_progress(tmp_path: Path) -> None:
    calls: list[tuple[int, float]] = []

    def schedule(step: int, progress: float) -> float:
        calls.append((step, progress))
        return 1.0 / (1 + step)

    task = Quadratic()
    cfg = EngineConfig(max_steps=4, batch_size=1, progress=False)
    opt = torch.optim.SGD(task.parameters(), lr=0.5)
    fit(task, opt, None, cfg=cfg, ctx=RunContext(out=tmp_path, progress=False),
        lr_schedule=schedule)  # fmt: skip
    assert [c[0] for c in calls] == [0, 1, 2, 3]
    assert [c[1] for c in calls] == pytest.approx([0.0, 0.25, 0.5, 0.75])
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5 / 4)


@pytest.mark.parametrize("name", ["cosine", "step"])
def test_named_schedules_match_torch_schedulers(name: str) -> None:
    steps = 30
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = (
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
        if name == "cosine"
        else torch.optim.lr_scheduler.StepLR(opt, step_size=steps // 3, gamma=0.1)
    )
    ours = named(name, max_steps=steps)
    assert ours is not None
    for step in range(steps):
        assert ours(step, step / steps) == pytest.approx(opt.param_groups[0]["lr"], abs=1e-12)
        opt.step()
        sched.step()


def test_warmup_cosine_rises_then_falls_to_the_minimum() -> None:
    f = named("warmup-cosine", max_steps=100, warmup_steps=10, min_factor=0.1)
    assert f is not None
    values = [f(s, s / 100) for s in range(100)]
    assert values[0] == pytest.approx(0.1) and values[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(values[10:]))
    assert f(100, 1.0) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="unknown lr schedule"):
        named("exponential", max_steps=10)


def test_ema_is_the_exponential_average_and_copies_buffers() -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    ema = EMA(model, decay=0.75)
    before = [p.detach().clone() for p in model.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    model(torch.randn(8, 3))  # moves the BatchNorm statistics
    ema.update(model)
    for avg, old, new in zip(ema.module.parameters(), before, model.parameters(), strict=True):
        torch.testing.assert_close(avg, 0.75 * old + 0.25 * new, rtol=0, atol=1e-6)
        assert not avg.requires_grad
    for b_avg, b in zip(ema.module.buffers(), model.buffers(), strict=True):
        assert torch.equal(b_avg, b)
    with pytest.raises(ValueError, match="decay"):
        EMA(model, decay=1.5)


def test_fit_moves_the_task_to_the_context_device(tmp_path: Path) -> None:
    seen: list[torch.device] = []

    class Where(Task):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(2, 1)

        def training_step(self, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            seen.append(batch.device)
            seen.append(self.lin.weight.device)
            return self.lin(batch).pow(2).mean(), {}

    task = Where()
    opt = torch.optim.SGD(task.parameters(), lr=0.1)
    ctx = RunContext(out=tmp_path, device=torch.device("meta"), progress=False)
    cfg = EngineConfig(max_steps=2, batch_size=4, progress=False, checkpoint_every=0)
    stream = SampleStream(lambda n, g: torch.randn(n, 2, generator=g), batch_size=4)
    loop = Loop(task, opt, stream, cfg=cfg, ctx=ctx)
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.run()  # meta tensors cannot be logged or checkpointed: placement is checked first
    assert len(seen) >= 2 and all(d.type == "meta" for d in seen)


def test_max_steps_override_alone_turns_the_time_budget_off() -> None:
    from replearn.config import apply_overrides
    from replearn.experiments.transformer.gpt_shakespeare import Config

    cfg = Config()
    assert cfg.engine.time_budget_s == 600.0
    stepped = apply_overrides(cfg, ["engine.max_steps=50"])
    assert stepped.engine.max_steps == 50 and stepped.engine.time_budget_s is None
    both = apply_overrides(cfg, ["engine.max_steps=50", "engine.time_budget_s=30"])
    assert both.engine.time_budget_s == 30.0
