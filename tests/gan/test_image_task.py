"""Every image GAN of ``gan-images`` takes engine steps with finite losses and parameters."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset

from replearn.engine import EngineConfig, RunContext, fit
from replearn.experiments.gan import gan_images
from replearn.experiments.gan.image_gans import MODELS, ImageGANTask, build, optimizers


@pytest.mark.parametrize("model", MODELS)
def test_model_trains_two_steps(model, tmp_path):
    torch.manual_seed(0)
    g, d = build(model, size=8, z_dim=12, width=8, classes=3)
    n_critic = 2 if model == "wgan-gp" else 1
    task = ImageGANTask(model, g, d, z_dim=12, n_critic=n_critic)
    data = TensorDataset(torch.rand(32, 1, 8, 8) * 2 - 1, torch.randint(0, 3, (32,)))
    steps = {"d": 0, "g": 0}
    opts = optimizers(model, task, 1e-3)
    for name, opt in opts.items():
        opt.register_step_post_hook(lambda *_, n=name: steps.__setitem__(n, steps[n] + 1))
    cfg = EngineConfig(max_steps=2, batch_size=8 * n_critic, checkpoint_every=0, progress=False)
    loop = fit(task, opts, data, cfg=cfg, ctx=RunContext(out=tmp_path, progress=False))
    assert steps == {"d": 2 * n_critic, "g": 2}
    assert all(torch.isfinite(p).all() for p in task.parameters())
    row = loop.history[-1]
    assert all(abs(row[k]) < 1e6 for k in ("train_d_loss", "train_g_loss"))
    if model in ("sagan", "biggan"):  # TTUR: D learns 4x faster
        assert opts["d"].param_groups[0]["lr"] == pytest.approx(4 * opts["g"].param_groups[0]["lr"])


def test_gan_images_reexports_the_image_gans_players():
    # benchmarks/bench_gan.py and older code import the players through gan_images
    assert gan_images.ImageGANTask is ImageGANTask and gan_images.build is build
    assert gan_images.MODELS is MODELS and gan_images.optimizers is optimizers
