"""Truncated BPTT: full BPTT for k >= T, hand-detached gradients for k < T, checkpoint/resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from replearn.engine import Callback, EngineConfig, RunContext, fit
from replearn.engine.bptt import (
    TruncatedBPTTTask,
    batchify,
    detach_state,
    language_model_streams,
    sequence_cross_entropy,
    window_bounds,
)
from replearn.engine.checkpoint import find_resumable
from replearn.engine.seed import seed_everything
from replearn.sequence.rnn.layers import LSTM

D = torch.float64
V, T, B = 7, 23, 3


class TinyLM(nn.Module):
    """Embedding -> LSTM -> linear; ``forward(x (k, B), state) -> (logits (k, B, V), state)``."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(V, 4)
        self.rnn = LSTM(4, 5)
        self.head = nn.Linear(5, V)

    def forward(self, x, state=None):
        out, state = self.rnn(self.embed(x), state)
        return self.head(out), state


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    tokens = torch.randint(0, V, ((T + 1) * B,), generator=torch.Generator().manual_seed(seed))
    x, y = language_model_streams(tokens, B)
    return TinyLM().to(D), x, y


def _grads(model: nn.Module, loss: torch.Tensor) -> list[torch.Tensor]:
    return list(torch.autograd.grad(loss, list(model.parameters())))


def _hand(model, x, y, t: int, k1: int, k2: int) -> list[torch.Tensor]:
    """Eq. (1) by hand: rerun the stream from 0 without gradient up to s, detach, then [s, end)."""
    s, end = max(0, t + k1 - k2), min(t + k1, T)
    state = None
    if s > 0:
        with torch.no_grad():
            _, state = model(x[:s])
    out, _ = model(x[s:end], detach_state(state))
    return _grads(model, sequence_cross_entropy(out[t - s :], y[t:end]))


@pytest.mark.parametrize(("k1", "k2"), [(T, T), (T + 5, T + 5), (30, 40)])
def test_k_at_least_the_length_is_full_bptt(k1: int, k2: int) -> None:
    model, x, y = _setup()
    task = TruncatedBPTTTask(model, x, y, k1=k1, k2=k2)
    assert task.updates_per_pass == 1
    loss, _ = task.training_step()
    out, _ = model(x)
    full = _grads(model, sequence_cross_entropy(out, y))
    for g, w in zip(_grads(model, loss), full, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-12)
    assert task.cursor == 0 and task.carried is None  # one pass done: back to the start


@pytest.mark.parametrize(("k1", "k2"), [(5, 5), (4, 9), (6, 7), (1, 3)])
def test_truncated_gradient_equals_hand_detached(k1: int, k2: int) -> None:
    model, x, y = _setup(1)
    task = TruncatedBPTTTask(model, x, y, k1=k1, k2=k2)
    for t in range(0, T, k1):  # one pass, no optimizer step so the weights stay fixed
        assert task.cursor == t
        loss, _ = task.training_step()
        for g, w in zip(_grads(model, loss), _hand(model, x, y, t, k1, k2), strict=True):
            torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-12)
    assert task.cursor == 0


def test_truncation_changes_the_gradient() -> None:
    """So the tests above can fail: k=3 and full BPTT differ on the last chunk."""
    model, x, y = _setup(2)
    trunc = _hand(model, x, y, 18, 5, 5)
    full = _hand(model, x, y, 18, 5, 23)
    assert any(not torch.allclose(a, b) for a, b in zip(trunc, full, strict=True))


def test_window_bounds() -> None:
    assert window_bounds(0, 4, 4, 10) == (0, 4, 4)
    assert window_bounds(4, 4, 6, 10) == (2, 8, 6)
    assert window_bounds(8, 4, 6, 10) == (6, 10, 8)  # last chunk is short


def test_batchify_columns_are_contiguous() -> None:
    cols = batchify(torch.arange(10), 3)
    assert cols.shape == (3, 3)
    assert cols[:, 1].tolist() == [3, 4, 5]
    x, y = language_model_streams(torch.arange(12), 3)
    assert torch.equal(y[:-1], x[1:]) and x.shape == (3, 3)


def test_bad_arguments() -> None:
    model, x, y = _setup()
    with pytest.raises(ValueError, match="k2"):
        TruncatedBPTTTask(model, x, y, k1=5, k2=3)
    with pytest.raises(ValueError, match="k1"):
        TruncatedBPTTTask(model, x, y, k1=0)
    with pytest.raises(ValueError, match="leading"):
        TruncatedBPTTTask(model, x, y[:-1], k1=2)
    with pytest.raises(ValueError, match="validation"):
        TruncatedBPTTTask(model, x, y, k1=2).validation_step()
    with pytest.raises(ValueError, match="fill"):
        batchify(torch.arange(2), 3)


class _Crash(Exception):
    pass


class _CrashAt(Callback):
    def __init__(self, step: int) -> None:
        self.at = step

    def on_step_end(self, loop) -> None:
        if loop.step == self.at:
            raise _Crash


def _train(out: Path, crash_at: int = -1, resume_state=None):
    seed_everything(0)
    model, x, y = _setup(3)
    model = model.float()
    task = TruncatedBPTTTask(model, x, y, k1=4, k2=6, val_inputs=x[:8], val_targets=y[:8])
    opt = torch.optim.Adam(task.parameters(), lr=1e-2)
    cfg = EngineConfig(max_steps=14, batch_size=1, log_every=2, checkpoint_every=5, progress=False)
    ctx = RunContext(out=out, seed=0, progress=False, resume_state=resume_state)
    ctx.logger.open(keep_lines=resume_state["metrics_lines"] if resume_state else None)
    try:
        fit(task, opt, None, cfg=cfg, ctx=ctx, callbacks=[_CrashAt(crash_at)])
    finally:
        ctx.logger.close()
    return task


def test_carried_state_survives_checkpoint_and_resume(tmp_path: Path) -> None:
    full = _train(tmp_path / "full")
    with pytest.raises(_Crash):
        _train(tmp_path / "part", crash_at=8)
    _, state = find_resumable(tmp_path / "part/checkpoints")
    extra = state["task"]["_extra_state"]
    assert extra["cursor"] == (5 * 4) % T and extra["kind"] == "tuple"  # 5 updates of k1=4
    resumed = _train(tmp_path / "part", resume_state=state)
    assert resumed.cursor == full.cursor
    for a, b in zip(resumed.carried, full.carried, strict=True):
        assert torch.equal(a, b)
    for (k, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items(), strict=True):
        if k != "_extra_state":
            assert torch.equal(a, b), k
    metrics = (tmp_path / "full/metrics.jsonl").read_bytes()
    assert (tmp_path / "part/metrics.jsonl").read_bytes() == metrics
    assert b"val_loss" in metrics


def test_extra_state_round_trip_for_tensor_and_empty_states() -> None:
    """A GRU-like tensor state and the initial None state both survive state_dict/load."""
    torch.manual_seed(0)
    gru = nn.GRU(2, 3)
    x, y = torch.randn(10, 2, 2), torch.randn(10, 2, 3)
    task = TruncatedBPTTTask(gru, x, y, k1=4, loss_fn=lambda out, tgt: (out - tgt).square().mean())
    fresh = TruncatedBPTTTask(nn.GRU(2, 3), x, y, k1=4, loss_fn=task.loss_fn)
    fresh.cursor = 7
    fresh.load_state_dict(task.state_dict())  # None state, cursor 0
    assert fresh.cursor == 0 and fresh.carried is None
    task.training_step()
    assert isinstance(task.carried, torch.Tensor) and not task.carried.requires_grad
    fresh.load_state_dict(task.state_dict())
    assert fresh.cursor == 4 and torch.equal(fresh.carried, task.carried)
    loss_a, _ = task.training_step()
    loss_b, _ = fresh.training_step()
    assert torch.equal(loss_a, loss_b)  # same weights, same cursor, same carried state
