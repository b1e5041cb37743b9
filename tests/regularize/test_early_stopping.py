"""Algorithm 7.1 replayed on a curve = the engine's EarlyStopping inside fit; 7.2 and 7.3 rules."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from replearn.engine import EngineConfig, RegressionTask, RunContext, fit
from replearn.engine.callbacks import Callback, EarlyStopping
from replearn.regularize.early_stopping import (
    early_stopping_point,
    retrain_steps,
    surrogate_continue,
)


def test_replay_on_a_known_curve():
    values = [5.0, 4.0, 4.5, 3.0, 3.2, 3.1, 3.05, 2.0]
    steps = [10, 20, 30, 40, 50, 60, 70, 80]
    point = early_stopping_point(values, steps, patience=3)
    assert (point.best_index, point.best_step, point.best_value) == (3, 40, 3.0)
    assert (point.stop_index, point.stop_step, point.stopped) == (6, 70, True)
    late = early_stopping_point(values, steps, patience=4)
    assert (late.best_step, late.stop_step, late.stopped) == (80, 80, False)
    acc = early_stopping_point(
        [0.5, 0.7, 0.69, 0.71], [1, 2, 3, 4], patience=2, mode="max", min_delta=0.05
    )
    assert (acc.best_step, acc.stop_step) == (2, 4)
    with pytest.raises(ValueError):
        early_stopping_point([], [], patience=1)


class _Record(Callback):
    def __init__(self) -> None:
        self.values: list[float] = []
        self.steps: list[int] = []

    def on_validation_end(self, loop, metrics) -> None:
        self.values.append(metrics["val_loss"])
        self.steps.append(loop.step)


def test_replay_agrees_with_the_engine_callback(tmp_path):
    """An over-parameterised regression on 24 noisy points overfits; both rules must agree."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(48, 3, generator=gen)
    y = x[:, :1] + 0.8 * torch.randn(48, 1, generator=gen)
    train, val = TensorDataset(x[:24], y[:24]), TensorDataset(x[24:], y[24:])
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 64), nn.Tanh(), nn.Linear(64, 1))
    cfg = EngineConfig(
        max_steps=600,
        batch_size=8,
        eval_every=5,
        early_stopping_patience=6,
        checkpoint_every=0,
        progress=False,
        log_every=50,
    )
    record = _Record()
    loop = fit(
        RegressionTask(model),
        torch.optim.Adam(model.parameters(), lr=0.03),
        train,
        cfg=cfg,
        ctx=RunContext(out=tmp_path, progress=False),
        val_set=val,
        callbacks=[record],
    )
    engine = next(cb for cb in loop.callbacks if isinstance(cb, EarlyStopping))
    point = early_stopping_point(record.values, record.steps, patience=6)
    assert point.stopped and loop.step < cfg.max_steps  # it did stop early
    assert point.best_step == engine.best_step
    assert point.stop_step == loop.step
    assert point.best_value == pytest.approx(engine.best)


def test_retrain_budgets():
    assert retrain_steps(300, 2000, 3000, unit="steps") == 300
    assert retrain_steps(300, 2000, 3000, unit="epochs") == 450
    assert retrain_steps(0, 10, 10) == 1
    with pytest.raises(ValueError):
        retrain_steps(10, 100, 50)
    with pytest.raises(ValueError):
        retrain_steps(10, 100, 200, unit="passes")


def test_surrogate_condition():
    assert surrogate_continue(0.5, 0.3) and not surrogate_continue(0.3, 0.3)
