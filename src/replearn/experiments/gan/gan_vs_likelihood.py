r"""Experiment ``gan-vs-likelihood``: GAN samples sharper than a VAE's, cheaper than diffusion's?

Two statements of the course about GANs next to likelihood models (Goodfellow 2016, NIPS
tutorial, arXiv:1701.00160, Sec. 3-4: "GANs produce sharper samples"; sampling in one forward
pass, unlike the iterative samplers of Ho et al. 2020, arXiv:2006.11239, and Song et al. 2021,
arXiv:2010.02502), measured on the embedded 8x8 digits:

1. **Sharpness.** For each training seed a DCGAN (the ``dcgan`` of ``gan-images``:
   :mod:`replearn.experiments.gan.image_gans`) and a VAE (:class:`replearn.vae.model.VAE`, the
   ELBO on dynamically binarized digits, :mod:`replearn.experiments.vae.common`) train for the
   same number of updates with the same batch. Sharpness of a set of grey images in [0, 1] is
   the mean over images of the variance of the discrete Laplacian (Eq. 1, the "variance of the
   Laplacian" focus measure of Pech-Pacheco et al. 2000), reported relative to the real test
   images (Eq. 2). The VAE's samples are its decoder means (what VAE sample grids show).
2. **One forward pass.** Seconds per sampled image of the generator (one pass) vs the DDPM
   ancestral sampler (T = ``timesteps`` passes) and DDIM (``ddim_steps`` passes) of the U-Net of
   ``ddpm-fashion``'s digits default, timed in paired rounds in alternating order
   (:func:`replearn.experiments.stats.time_rounds`, the calling thread's CPU time; one thread).
   The cost of a pass does not depend on the weights, so the U-Net is not trained.

.. math::

    s(x) = \operatorname{Var}_{ij}\,(\Delta x)_{ij},\quad
    \Delta = \begin{pmatrix}0&1&0\\1&-4&1\\0&1&0\end{pmatrix} \text{ (valid positions)}  \qquad (1)

    r = \overline{s}(\text{samples}) \,/\, \overline{s}(\text{real test images})          \qquad (2)

Sharpness is not quality: noise is "sharp" too (see ``samples.png``). Thresholds were fixed
before a verdict was seen. Tests: tests/gan/test_gan_vs_likelihood.py (Eq. 1 in closed form,
verdicts on fabricated metrics). Writes ``samples.png`` and ``sharpness.png``.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import TensorDataset

from replearn.data import load_classification
from replearn.diffusion.gaussian_diffusion import GaussianDiffusion
from replearn.diffusion.unet import UNet
from replearn.engine import EngineConfig, RunContext, single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import train_variant
from replearn.experiments.gan.image_gans import ImageGANTask, build, optimizers
from replearn.experiments.stats import compare_seeds, time_ratio, time_rounds, too_few_seeds
from replearn.experiments.vae import common as vae_common
from replearn.report.plots import save_figure, save_image_grid
from replearn.vae.model import VAE

LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def laplacian_variance(images: Tensor) -> Tensor:
    """Eq. (1): variance of the discrete Laplacian of each image (valid positions, float64).

    Shape:
        images: (N, 1, H, W) -> (N,).
    """
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"need grey images (N, 1, H, W), got {tuple(images.shape)}")
    lap = F.conv2d(images.double(), LAPLACIAN.to(images.device).double()[None, None])
    return lap.flatten(1).var(dim=1, unbiased=False)


@dataclass(frozen=True)
class Config:
    """Config of ``gan-vs-likelihood``.

    Attributes:
        seeds: training seeds of the GAN and the VAE (paired by seed).
        z_dim: the DCGAN's latent dimension (``gan-images``' default).
        width: the DCGAN's channel width.
        gan_lr: Adam rate of both players (betas 0.5, 0.999).
        vae_z_dim: the VAE's latent dimension.
        vae_hidden: the VAE's hidden widths (encoder; reversed in the decoder).
        vae_lr: Adam rate of the VAE.
        n_samples: samples per model scored by Eq. (1).
        timesteps: DDPM steps T of the timed sampler.
        ddim_steps: DDIM steps of the timed sampler.
        unet_base: width of the timed U-Net's first level (``ddpm-fashion``'s default 16).
        time_batch: images per timed sampling call (time per image = call / time_batch).
        rounds: paired timing rounds (>= 6 for a 95% interval).
        speedup: the GAN's time per image must be below 1/``speedup`` of each sampler's.
        engine: training of both models (same updates and batch for each).
    """

    seeds: tuple[int, ...] = (0, 1, 2)
    z_dim: int = 48
    width: int = 32
    gan_lr: float = 2e-4
    vae_z_dim: int = 16
    vae_hidden: tuple[int, ...] = (200, 200)
    vae_lr: float = 1e-3
    n_samples: int = 500
    timesteps: int = 1000
    ddim_steps: int = 50
    unet_base: int = 16
    time_batch: int = 16
    rounds: int = 8
    speedup: float = 10.0
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=500, batch_size=64, log_every=100, checkpoint_every=0, progress=False
        )
    )


def tiny() -> Config:
    """Seconds: one seed, 3 updates, 20-step DDPM, 2 rounds (a smoke check)."""
    eng = EngineConfig(max_steps=3, batch_size=16, log_every=1, checkpoint_every=0, progress=False)
    return Config(seeds=(0,), n_samples=32, timesteps=20, ddim_steps=5, unet_base=8,
                  time_batch=4, rounds=2, engine=eng)  # fmt: skip


def quick() -> Config:
    """About a minute: three seeds, 60 updates, 100-step DDPM, 6 rounds (a smoke check)."""
    base = Config(n_samples=200, timesteps=100, ddim_steps=10, rounds=6)
    return dataclasses.replace(base, engine=dataclasses.replace(base.engine, max_steps=60))


def _verdict_sharper(m: dict[str, Any]) -> tuple[bool, str]:
    if "gan_sharpness_ratio_seeds" not in m:
        return False, "not measured"
    gan, vae = m["gan_sharpness_ratio_seeds"], m["vae_sharpness_ratio_seeds"]
    if (why := too_few_seeds(len(gan))) is not None:
        return False, why
    c = compare_seeds(gan, vae, label_x="GAN", label_y="VAE")
    return c.holds, (
        f"Laplacian variance relative to real digits (Eq. 2) per seed: GAN "
        f"{', '.join(f'{v:.3f}' for v in gan)}; VAE {', '.join(f'{v:.3f}' for v in vae)}; "
        f"{c.evidence()}"
    )


def _verdict_one_pass(m: dict[str, Any]) -> tuple[bool, str]:
    if "time_ratios" not in m:
        return False, "not measured"
    ratios, thr = m["time_ratios"], 1.0 / m["speedup"]
    ok = [r["hi"] is not None and r["hi"] < thr for r in ratios.values()]
    parts = "; ".join(
        f"{r['label_a']} / {r['label_b']}: median {r['ratio']:.3g}, 95% interval "
        + ("none" if r["lo"] is None else f"{r['lo']:.3g}-{r['hi']:.3g}")
        for r in ratios.values()
    )
    return all(ok), f"time per image ratio (need the interval below {thr:g}): {parts}"


CLAIMS = (
    Claim(
        "gan-sharper-than-vae",
        "A DCGAN's samples are sharper than a VAE's trained for the same updates: the variance "
        "of the Laplacian relative to real digits (Eq. 2) is higher for the GAN "
        "(paired by seed, compare_seeds, >= 3 seeds).",
        _verdict_sharper,
        "sharpness.png",
    ),
    Claim(
        "gan-one-forward-pass",
        "A GAN samples in one forward pass: its time per image is below a tenth of the DDPM "
        "ancestral sampler's (T passes of a U-Net) and of DDIM's (50 passes), the whole 95% "
        "interval of the paired median ratio.",
        _verdict_one_pass,
        None,
    ),
)


def _timing(cfg: Config, generator: torch.nn.Module) -> dict[str, Any]:
    torch.manual_seed(0)
    unet = UNet(in_channels=1, base=cfg.unet_base, mults=(1, 2), num_classes=None, heads=1)
    diff = GaussianDiffusion(unet, timesteps=cfg.timesteps).eval()
    generator = copy.deepcopy(generator).cpu().eval()  # timed on the CPU, as the U-Net
    z = torch.randn(cfg.time_batch, cfg.z_dim)
    shape = (cfg.time_batch, 1, 8, 8)
    with torch.no_grad():
        fns = {
            "GAN": lambda: generator(z),
            "DDPM": lambda: diff.sample(shape),
            "DDIM": lambda: diff.sample(shape, steps=cfg.ddim_steps),
        }
        times = time_rounds(fns, cfg.rounds, warmup=1, clock=time.thread_time)
    per_image = {k: float(np.median(v)) / cfg.time_batch for k, v in times.items()}
    ratios = {f"GAN/{b}": time_ratio(times, "GAN", b).as_dict() for b in ("DDPM", "DDIM")}
    return {"seconds_per_image": per_image, "time_ratios": ratios}


def _plot_sharpness(m: dict[str, Any], path: Any) -> Any:
    fig, ax = plt.subplots(figsize=(4.5, 3.2), dpi=100)
    for i, k in enumerate(("gan", "vae")):
        v = m[f"{k}_sharpness_ratio_seeds"]
        ax.bar(i, np.mean(v), color=f"C{i}", alpha=0.6)
        ax.scatter([i] * len(v), v, color="k", s=12, zorder=3)
    ax.axhline(1.0, color="gray", ls="--", lw=1)
    ax.set_xticks([0, 1], ["DCGAN", "VAE"])
    ax.set(ylabel="Laplacian variance / real", title="bars: mean; dots: seeds")
    fig.tight_layout()
    return save_figure(fig, path)


@experiment(
    "gan-vs-likelihood",
    topic="gan",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Goodfellow 2016 (arXiv:1701.00160); Radford et al. 2016 (arXiv:1511.06434); "
    "Kingma & Welling 2014 (arXiv:1312.6114); Ho et al. 2020 (arXiv:2006.11239)",
)
@single_thread()  # small models: a second thread only adds synchronisation
def run(cfg: Config, ctx: RunContext) -> Result:
    """DCGAN vs VAE sample sharpness on digits; GAN vs diffusion sampling time per image."""
    data = load_classification("digits", val_fraction=0.0, seed=ctx.seed)
    x_train, y_train = data.train.tensors  # (N, 1, 8, 8) in [0, 1]
    real = laplacian_variance(data.test.tensors[0]).mean().item()
    gan_train = TensorDataset(x_train * 2 - 1, y_train)
    images = vae_common.load_images("digits", seed=ctx.seed)
    gan_r, vae_r, grids = [], [], {}
    for seed in cfg.seeds:
        torch.manual_seed(seed)
        g, d = build("dcgan", size=8, z_dim=cfg.z_dim, width=cfg.width, classes=10)
        task = ImageGANTask("dcgan", g, d, z_dim=cfg.z_dim)
        train_variant(ctx, "dcgan", task, optimizers("dcgan", task, cfg.gan_lr), gan_train,
                      engine=cfg.engine, seed=seed)  # fmt: skip
        torch.manual_seed(seed)
        vae = VAE(64, cfg.vae_z_dim, hidden=cfg.vae_hidden)
        with ctx.child(f"vae-seed{seed}", seed=seed) as sub:
            vae_common.train(vae, images, cfg.engine, sub, lr=cfg.vae_lr)
        gen = torch.Generator().manual_seed(10_000 + seed)
        with torch.no_grad():
            g.eval()
            z = torch.randn(cfg.n_samples, cfg.z_dim, generator=gen).to(next(g.parameters()).device)
            xg = (g(z) + 1) / 2
            xv = vae.eval().sample(cfg.n_samples, generator=gen).view(-1, 1, 8, 8)
        gan_r.append(laplacian_variance(xg).mean().item() / real)
        vae_r.append(laplacian_variance(xv).mean().item() / real)
        grids = grids or {
            "real": data.test.tensors[0][:16],
            "gan": xg[:16].cpu(),
            "vae": xv[:16].cpu(),
        }
    metrics: dict[str, Any] = {
        "real_sharpness": real,
        "gan_sharpness_ratio_seeds": gan_r,
        "vae_sharpness_ratio_seeds": vae_r,
        "speedup": cfg.speedup,
        **_timing(cfg, g),
    }
    grid = torch.cat([grids["real"], grids["gan"].clamp(0, 1), grids["vae"]])
    plots = [
        save_image_grid(
            grid,
            ctx.path("samples.png"),
            nrow=16,
            value_range=(0, 1),
            title="rows: real, DCGAN, VAE (first seed)",
        ),
        _plot_sharpness(metrics, ctx.path("sharpness.png")),
    ]
    return Result(metrics=metrics, plots=plots)
