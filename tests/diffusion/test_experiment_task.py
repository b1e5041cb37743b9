"""The diffusion experiments' engine task: EMA state in checkpoints, bitwise resume; statistics."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from replearn.data import toy2d
from replearn.diffusion import GaussianDiffusion, MLPDenoiser
from replearn.engine import EngineConfig, RunContext, SampleStream, fit
from replearn.engine.callbacks import Callback
from replearn.engine.checkpoint import find_resumable
from replearn.engine.seed import seed_everything
from replearn.experiments.diffusion.common import DiffusionTask


class _Crash(Exception):
    pass


class _CrashAt(Callback):
    def __init__(self, step: int) -> None:
        self.at = step

    def on_step_end(self, loop) -> None:
        if loop.step == self.at:
            raise _Crash


def _train(out: Path, crash_at: int = -1, resume_state=None) -> DiffusionTask:
    seed_everything(0)
    diff = GaussianDiffusion(MLPDenoiser(dim=2, hidden=16, depth=1), timesteps=20)
    task = DiffusionTask(diff, ema_decay=0.9)
    opt = torch.optim.Adam(diff.parameters(), lr=1e-2)
    stream = SampleStream(lambda n, g: toy2d.sample("8gaussians", n, generator=g), batch_size=32)
    cfg = EngineConfig(max_steps=12, batch_size=32, log_every=2, checkpoint_every=5, progress=False)
    ctx = RunContext(out=out, seed=0, progress=False, resume_state=resume_state)
    ctx.logger.open(keep_lines=resume_state["metrics_lines"] if resume_state else None)
    try:
        fit(task, opt, stream, cfg=cfg, ctx=ctx, callbacks=[_CrashAt(crash_at)])
    finally:
        ctx.logger.close()
    return task


def test_ema_weights_resume_bitwise(tmp_path: Path) -> None:
    full = _train(tmp_path / "full")
    with pytest.raises(_Crash):
        _train(tmp_path / "part", crash_at=7)
    _, state = find_resumable(tmp_path / "part/checkpoints")
    assert any(k.startswith("ema.module.") for k in state["task"])  # declared state
    resumed = _train(tmp_path / "part", resume_state=state)
    for (k, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    online = dict(full.diffusion.named_parameters())
    assert any(not torch.equal(p, online[k]) for k, p in full.sampler.named_parameters())
