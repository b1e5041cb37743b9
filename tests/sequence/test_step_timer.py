"""StepTimer (sequence/rnn_common.py), the update timer of tbptt-tradeoff and cnn-parallel."""

from __future__ import annotations

import time

import torch
from torch.utils.data import TensorDataset

from replearn.engine import EngineConfig, RunContext, Task, fit
from replearn.experiments.sequence.rnn_common import StepTimer


class _SlowTask(Task):
    """A linear regression whose every training step sleeps ``pause`` seconds."""

    def __init__(self, pause: float) -> None:
        super().__init__()
        self.lin, self.pause = torch.nn.Linear(2, 1), pause

    def training_step(self, batch):
        x, y = batch
        time.sleep(self.pause)
        return torch.nn.functional.mse_loss(self.lin(x), y), {}


def test_one_time_per_update_each_at_least_the_pause(tmp_path):
    data = TensorDataset(torch.randn(32, 2), torch.randn(32, 1))
    timer, task = StepTimer(), _SlowTask(pause=0.02)
    engine = EngineConfig(max_steps=5, batch_size=8, log_every=5, checkpoint_every=0,
                          progress=False)  # fmt: skip
    ctx = RunContext(out=tmp_path, seed=0, progress=False)
    loop = fit(task, torch.optim.SGD(task.parameters(), lr=0.1), data, cfg=engine, ctx=ctx,
               callbacks=[timer])  # fmt: skip
    assert len(timer.times) == loop.step == 5
    assert all(t >= 0.02 for t in timer.times)
    assert sum(timer.times) <= loop.wall_time_s + 1e-3
