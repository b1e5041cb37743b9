"""The 2-D GAN task of the experiments: one update = n_critic D steps + one G step."""

from __future__ import annotations

import pytest
import torch

from replearn.engine import EngineConfig, RunContext, SampleStream, fit
from replearn.experiments.gan.toy import METHODS, ToyGANTask, build_players, optimizers


def _fit(method, tmp_path, steps=3, n_critic=1):
    torch.manual_seed(0)
    g, d = build_players(method, z_dim=4, hidden=8, depth=2, pack_m=2)
    task = ToyGANTask(method, g, d, z_dim=4, n_critic=n_critic, unroll_steps=2)
    opts = optimizers(task, 1e-3)
    calls = {"d": 0, "g": 0}
    for name, opt in opts.items():
        opt.register_step_post_hook(lambda *_, n=name: calls.__setitem__(n, calls[n] + 1))
    stream = SampleStream(lambda n, gen: torch.randn(n, 2, generator=gen), batch_size=8 * n_critic)
    cfg = EngineConfig(max_steps=steps, batch_size=8 * n_critic, checkpoint_every=0, progress=False)
    loop = fit(task, opts, stream, cfg=cfg, ctx=RunContext(out=tmp_path, progress=False))
    return task, loop, calls


@pytest.mark.parametrize("method", METHODS)
def test_every_method_trains_finite(method, tmp_path):
    n_critic = 5 if method.startswith("wgan") else 1
    task, loop, calls = _fit(method, tmp_path, n_critic=n_critic)
    assert calls == {"d": 3 * n_critic, "g": 3}
    assert all(torch.isfinite(p).all() for p in task.parameters())
    assert {"train_d_loss", "train_g_loss"} <= set(loop.history[-1])
    if method == "wgan":
        assert max(float(p.detach().abs().max()) for p in task.D.parameters()) <= 0.01 + 1e-7


def test_unrolled_generator_step_leaves_discriminator_alone(tmp_path):
    """The look-ahead is functional: D's parameters change only through its own optimizer."""
    torch.manual_seed(0)
    g, d = build_players("unrolled", z_dim=4, hidden=8, depth=2, pack_m=2)
    task = ToyGANTask("unrolled", g, d, z_dim=4, unroll_steps=3)
    before = {k: v.clone() for k, v in task.D.state_dict().items()}
    opts = optimizers(task, 1e-3)
    opts["d"].param_groups[0]["lr"] = 0.0  # the D step then changes nothing
    stream = SampleStream(lambda n, gen: torch.randn(n, 2, generator=gen), batch_size=8)
    cfg = EngineConfig(max_steps=2, batch_size=8, checkpoint_every=0, progress=False)
    fit(task, opts, stream, cfg=cfg, ctx=RunContext(out=tmp_path, progress=False))
    for k, v in task.D.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_unknown_method_raises():
    g, d = build_players("minimax", z_dim=2, hidden=4, depth=1, pack_m=2)
    with pytest.raises(ValueError, match="unknown method"):
        ToyGANTask("vanilla", g, d, z_dim=2)
