"""Experiment ``gan-spade``: layout-to-image synthesis with SPADE on procedurally drawn scenes.

Data (generated, seeded, no file): 16x16 grey scenes with a one-hot layout of
three classes, background, one axis-aligned square and one disk (drawn over the
square), with random positions and sizes. Each class has its own appearance:
background dark (-0.8), square vertical stripes (alternating -0.1 / 0.7), disk
bright (0.9), plus Gaussian noise (std 0.05). The generator
(:class:`replearn.gan.spade.SPADEGenerator`) maps noise and a layout to an image;
the critic is a PatchGAN on the image concatenated with the layout; hinge loss,
TTUR learning rates, through the engine's general loop.

Measured on held-out layouts: the *layout error*, the mean over classes of
:math:`|\\text{mean generated intensity in the class region} - \\text{its true
value}|` (a striped square's true value is 0.3), next to the same error of the
mean training image (a generator that ignores the layout). Writes ``spade.png``
(rows: layouts, real scenes, generated scenes).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import TensorDataset

from replearn.engine import EngineConfig, Loop, RunContext, Task, fit, single_thread
from replearn.experiments.base import Result, experiment
from replearn.gan import losses as L
from replearn.gan.cyclegan import PatchDiscriminator
from replearn.gan.spade import SPADEGenerator
from replearn.report.plots import save_image_grid

CLASS_VALUES = (-0.8, 0.3, 0.9)  # mean intensity of background, square (stripes), disk


def layouts(n: int, size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``n`` scenes: one-hot layouts (n, 3, size, size) and images (n, 1, size, size)."""
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    label = torch.zeros(n, size, size, dtype=torch.long)
    for i in range(n):
        s = int(torch.randint(size // 4, size // 2 + 1, (), generator=generator))
        r0, c0 = (int(v) for v in torch.randint(0, size - s + 1, (2,), generator=generator))
        label[i, r0 : r0 + s, c0 : c0 + s] = 1
        rad = float(torch.empty(()).uniform_(size / 8, size / 4, generator=generator))
        cy, cx = (float(v) for v in torch.rand(2, generator=generator) * size)
        label[i][(yy - cy) ** 2 + (xx - cx) ** 2 <= rad**2] = 2
    onehot = torch.nn.functional.one_hot(label, 3).permute(0, 3, 1, 2).float()
    stripes = torch.where(xx % 2 == 0, -0.1, 0.7).float()
    image = torch.full((n, size, size), CLASS_VALUES[0])
    image = torch.where(label == 1, stripes, image)
    image = torch.where(label == 2, torch.tensor(CLASS_VALUES[2]), image)
    image = image + 0.05 * torch.randn(image.shape, generator=generator)
    return onehot, image.clamp(-1, 1)[:, None]


def layout_error(images: Tensor, onehot: Tensor) -> float:
    """Mean over classes of |mean intensity in the class region - the class's true value|."""
    errs = []
    for k, value in enumerate(CLASS_VALUES):
        mask = onehot[:, k : k + 1] > 0.5
        if mask.any():
            errs.append(abs(float(images[mask].mean()) - value))
    return sum(errs) / len(errs)


class SpadeTask(Task):
    """One update: PatchGAN critic step on (image, layout), then the generator step (hinge)."""

    def __init__(self, g: SPADEGenerator, d: PatchDiscriminator, z_dim: int) -> None:
        super().__init__()
        self.G, self.D, self.z_dim = g, d, z_dim

    def update(self, batch: Any, loop: Loop) -> dict[str, Tensor]:
        m, x = batch
        z = torch.randn(len(x), self.z_dim, device=x.device)
        with loop.autocast():
            fake = self.G(z, m)
            d_loss = L.discriminator_hinge_loss(
                self.D(torch.cat([x, m], 1)), self.D(torch.cat([fake.detach(), m], 1))
            )
        loop.optimize(d_loss, "d")
        with loop.autocast():
            g_loss = L.generator_hinge_loss(self.D(torch.cat([fake, m], 1)))
        loop.optimize(g_loss, "g")
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}


@dataclass(frozen=True)
class Config:
    """Config of ``gan-spade``.

    Attributes:
        n_train: generated training scenes.
        n_test: generated held-out scenes.
        image_size: side of the scenes (a multiple of 4).
        z_dim: noise dimension.
        width: channels of the generator and the critic.
        lr: generator learning rate (the critic's is 4x, TTUR; Adam betas 0, 0.999).
        engine: training-loop settings.
    """

    n_train: int = 2000
    n_test: int = 256
    image_size: int = 16
    z_dim: int = 16
    width: int = 16
    lr: float = 1e-4
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=600, batch_size=32, log_every=50, checkpoint_every=0
        )
    )


def tiny() -> Config:
    """Seconds: 64 scenes, 3 steps."""
    return Config(
        n_train=64, n_test=16, width=4,
        engine=EngineConfig(max_steps=3, batch_size=8, log_every=1, checkpoint_every=0),
    )  # fmt: skip


def quick() -> Config:
    """200 steps."""
    base = Config()
    return dataclasses.replace(base, engine=dataclasses.replace(base.engine, max_steps=200))


@experiment(
    "gan-spade",
    topic="gan",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    paper="Park, Liu, Wang & Zhu 2019, arXiv:1903.07291",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """SPADE layout-to-image GAN on generated scenes; layout error of the samples."""
    with single_thread():
        gen = torch.Generator().manual_seed(ctx.seed)
        m_train, x_train = layouts(cfg.n_train, cfg.image_size, gen)
        m_test, x_test = layouts(cfg.n_test, cfg.image_size, gen)
        torch.manual_seed(ctx.seed)
        g = SPADEGenerator(
            z_dim=cfg.z_dim, label_channels=3, image_size=cfg.image_size, width=cfg.width,
            hidden=cfg.width,
        )  # fmt: skip
        d = PatchDiscriminator(channels=4, width=cfg.width)
        task = SpadeTask(g, d, cfg.z_dim)
        opts = {
            "d": torch.optim.Adam(d.parameters(), lr=4 * cfg.lr, betas=(0.0, 0.999)),
            "g": torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=(0.0, 0.999)),
        }
        loop = fit(task, opts, TensorDataset(m_train, x_train), cfg=cfg.engine, ctx=ctx)
        g.eval()
        z = torch.randn(cfg.n_test, cfg.z_dim, generator=gen).to(loop.device)
        with torch.no_grad():
            fake = g(z, m_test.to(loop.device)).cpu()
        mean_image = x_train.mean(0, keepdim=True).expand_as(x_test)
        metrics = {
            "layout_error": layout_error(fake, m_test),
            "layout_error_mean_image": layout_error(mean_image, m_test),
            "layout_error_real": layout_error(x_test, m_test),
        }
    shown = m_test[:8]
    label_img = shown.argmax(1, keepdim=True).float() - 1.0  # classes as -1, 0, 1
    grid = torch.cat([label_img, x_test[:8], fake[:8]])
    plot = save_image_grid(grid, ctx.path("spade.png"), nrow=8, value_range=(-1, 1),
                           title="layout / real / SPADE")  # fmt: skip
    return Result(metrics=metrics, model=g, plots=[plot])
