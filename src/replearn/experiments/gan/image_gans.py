"""The image GANs of ``gan-images``: players, losses and optimizers of its table, and the task.

:class:`ImageGANTask` is one engine update: ``n_critic`` critic steps
(``loop.optimize(d_loss, "d")``), then one generator step (``loop.optimize(g_loss, "g")``).
:func:`build` makes the generator and discriminator of a model of the table in
:mod:`replearn.experiments.gan.gan_images`, :func:`optimizers` its Adam optimizers (TTUR for
SAGAN and BigGAN). Shared by the experiment and ``benchmarks/bench_gan.py``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from replearn.engine import Loop, Task
from replearn.gan import losses as L
from replearn.gan.biggan import BigGANDiscriminator, BigGANGenerator, orthogonal_regularization
from replearn.gan.dcgan import DCGANDiscriminator, DCGANGenerator
from replearn.gan.sagan import SAGANDiscriminator, SAGANGenerator
from replearn.gan.stylegan import StyleGenerator
from replearn.gan.tricks import gradient_penalty

__all__ = ["MODELS", "ImageGANTask", "build", "optimizers"]

MODELS = ("dcgan", "wgan-gp", "sagan", "biggan", "stylegan")


class ImageGANTask(Task):
    """One update: ``n_critic`` critic steps, then one generator step (see the table)."""

    def __init__(
        self, model: str, g: nn.Module, d: nn.Module, *, z_dim: int, n_critic: int = 1
    ) -> None:
        super().__init__()
        self.model, self.G, self.D, self.z_dim, self.n_critic = model, g, d, z_dim, n_critic
        self.conditional = model == "biggan"
        self.loss = {"dcgan": "nonsaturating", "stylegan": "nonsaturating"}.get(model, "hinge")
        if model == "wgan-gp":
            self.loss = "wasserstein"

    def generate(self, z: Tensor, y: Tensor | None) -> Tensor:
        return self.G(z, y) if self.conditional else self.G(z)

    def discriminate(self, x: Tensor, y: Tensor | None) -> Tensor:
        return (self.D(x, y) if self.conditional else self.D(x)).squeeze(1)

    def update(self, batch: Any, loop: Loop) -> dict[str, Tensor]:
        images, labels = batch
        xs, ys = images.chunk(self.n_critic), labels.chunk(self.n_critic)
        out: dict[str, Tensor] = {}
        for real, y in zip(xs, ys, strict=True):
            z = torch.randn(len(real), self.z_dim, device=real.device)
            with loop.autocast():
                fake = self.generate(z, y).detach()
                d_real, d_fake = self.discriminate(real, y), self.discriminate(fake, y)
                if self.loss == "wasserstein":
                    d_loss = L.wasserstein_critic_loss(d_real, d_fake)
                    d_loss = d_loss + gradient_penalty(
                        lambda x, y=y: self.discriminate(x, y), real, fake
                    )
                elif self.loss == "hinge":
                    d_loss = L.discriminator_hinge_loss(d_real, d_fake)
                else:
                    d_loss = L.discriminator_minimax_loss(d_real, d_fake)
            loop.optimize(d_loss, "d")
        real, y = xs[-1], ys[-1]
        z = torch.randn(len(real), self.z_dim, device=real.device)
        with loop.autocast():
            g_out = self.discriminate(self.generate(z, y), y)
            if self.loss == "nonsaturating":
                g_loss = L.generator_nonsaturating_loss(g_out)
            else:
                g_loss = -g_out.mean()  # Wasserstein and hinge generator losses
            if self.conditional:
                ortho = orthogonal_regularization(self.G, 1e-4)
                out["ortho"] = ortho.detach()
                g_loss = g_loss + ortho
        loop.optimize(g_loss, "g")
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), **out}


def build(
    model: str, *, size: int, z_dim: int, width: int, classes: int
) -> tuple[nn.Module, nn.Module]:
    """Generator and discriminator of ``model`` for grey ``size`` x ``size`` images."""
    if model in ("dcgan", "wgan-gp"):
        norm = "none" if model == "wgan-gp" else "batch"
        return (
            DCGANGenerator(z_dim=z_dim, image_size=size, width=width),
            DCGANDiscriminator(image_size=size, width=width, norm=norm),
        )
    if model == "sagan":
        return (
            SAGANGenerator(z_dim=z_dim, image_size=size, width=width),
            SAGANDiscriminator(image_size=size, width=width),
        )
    if model == "biggan":
        return (
            BigGANGenerator(z_dim=z_dim, num_classes=classes, image_size=size, width=width),
            BigGANDiscriminator(num_classes=classes, image_size=size, width=width),
        )
    return (
        StyleGenerator(z_dim=z_dim, w_dim=z_dim, image_size=size, width=width),
        DCGANDiscriminator(image_size=size, width=width, norm="none"),
    )


def optimizers(model: str, task: ImageGANTask, lr: float) -> dict[str, torch.optim.Optimizer]:
    """The optimizers of the table (TTUR for SAGAN and BigGAN)."""
    betas = {"dcgan": (0.5, 0.999), "wgan-gp": (0.5, 0.9), "sagan": (0.0, 0.9)}.get(
        model, (0.0, 0.999) if model == "biggan" else (0.0, 0.99)
    )
    d_lr = 4 * lr if model in ("sagan", "biggan") else lr
    return {
        "d": torch.optim.Adam(task.D.parameters(), lr=d_lr, betas=betas),
        "g": torch.optim.Adam(task.G.parameters(), lr=lr, betas=betas),
    }
