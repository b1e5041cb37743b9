"""Shared pieces of the 2-D GAN experiments: MLP players and one task for every stabilizer.

:class:`ToyGANTask` is a general engine task: one :meth:`~ToyGANTask.update` is
``n_critic`` discriminator steps (``loop.optimize(d_loss, "d")``) followed by one
generator step (``loop.optimize(g_loss, "g")``). Noise comes from the global torch
generator, which the engine checkpoints. What each method changes:

==============  ====================  =====================  ===========================
method          D / critic loss       G loss                 extra
==============  ====================  =====================  ===========================
minimax         BCE                   saturating             -
nonsaturating   BCE                   non-saturating         -
unrolled        BCE                   non-saturating         G sees D after k look-ahead
minibatch       BCE                   non-saturating         minibatch-discrimination
pacgan          BCE                   non-saturating         D sees m packed samples
wgan            Wasserstein           Wasserstein            clip weights, n_critic
wgan-gp         Wasserstein + GP      Wasserstein            n_critic
==============  ====================  =====================  ===========================
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import Tensor, nn

from replearn.engine import Loop, Task
from replearn.experiments.common import mlp
from replearn.gan import losses as L
from replearn.gan.tricks import (
    MinibatchDiscrimination,
    call_with,
    clip_weights_,
    gradient_penalty,
    pack,
    unrolled_parameters,
)

METHODS = ("minimax", "nonsaturating", "unrolled", "minibatch", "pacgan", "wgan", "wgan-gp")


def build_players(
    method: str, *, z_dim: int, hidden: int, depth: int, pack_m: int
) -> tuple[nn.Module, nn.Module]:
    """Generator z -> (2,) and the method's discriminator (2 m,) -> (1,)."""
    g = mlp([z_dim] + [hidden] * depth + [2], nn.ReLU)
    in_dim = 2 * pack_m if method == "pacgan" else 2
    if method == "minibatch":
        trunk = mlp([in_dim] + [hidden] * depth, partial(nn.LeakyReLU, 0.2))
        d = nn.Sequential(
            trunk,
            nn.LeakyReLU(0.2),
            MinibatchDiscrimination(hidden, 16, 8),
            nn.Linear(hidden + 16, 1),
        )
    else:
        d = mlp([in_dim] + [hidden] * depth + [1], partial(nn.LeakyReLU, 0.2))
    return g, d


class ToyGANTask(Task):
    """Trains a generator and a discriminator on batches of 2-D points (see the table)."""

    def __init__(
        self,
        method: str,
        generator: nn.Module,
        discriminator: nn.Module,
        *,
        z_dim: int,
        n_critic: int = 1,
        clip: float = 0.01,
        gp_weight: float = 0.1,
        unroll_steps: int = 5,
        unroll_lr: float = 0.1,
        pack_m: int = 2,
    ) -> None:
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
        self.method, self.G, self.D = method, generator, discriminator
        self.z_dim, self.n_critic, self.clip, self.gp_weight = z_dim, n_critic, clip, gp_weight
        self.unroll_steps, self.unroll_lr, self.pack_m = unroll_steps, unroll_lr, pack_m
        self.wasserstein = method in ("wgan", "wgan-gp")

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` generated points. Shape: -> (n, 2)."""
        z = torch.randn(n, self.z_dim, generator=generator).to(next(self.G.parameters()).device)
        return self.G(z)

    def _d_input(self, x: Tensor) -> Tensor:
        return pack(x, self.pack_m) if self.method == "pacgan" else x

    def _d_loss(self, d: Any, real: Tensor, fake: Tensor) -> Tensor:
        real_out = d(self._d_input(real)).squeeze(1)
        fake_out = d(self._d_input(fake)).squeeze(1)
        if self.wasserstein:
            return L.wasserstein_critic_loss(real_out, fake_out)
        return L.discriminator_minimax_loss(real_out, fake_out)

    def update(self, batch: Tensor, loop: Loop) -> dict[str, Tensor]:
        chunks = batch.chunk(self.n_critic)  # a fresh real batch for each critic step
        b = chunks[0].shape[0]
        metrics: dict[str, Tensor] = {}
        for real in chunks:
            with loop.autocast():
                fake = self.sample(b).detach()
                d_loss = self._d_loss(self.D, real, fake)
                if self.method == "wgan-gp":
                    gp = gradient_penalty(
                        lambda x: self.D(x).squeeze(1), real, fake, weight=self.gp_weight
                    )
                    metrics["gp"] = gp.detach()
                    d_loss = d_loss + gp
            loop.optimize(d_loss, "d")
            if self.method == "wgan":
                clip_weights_(self.D, self.clip)
        with loop.autocast():
            real = chunks[-1]
            fake = self.sample(b)
            if self.method == "unrolled":
                params = unrolled_parameters(
                    self.D,
                    lambda p: self._d_loss(lambda x: call_with(self.D, p, x), real, fake),
                    steps=self.unroll_steps,
                    lr=self.unroll_lr,
                )
                out = call_with(self.D, params, self._d_input(fake)).squeeze(1)
            else:
                out = self.D(self._d_input(fake)).squeeze(1)
            if self.wasserstein:
                g_loss = L.wasserstein_generator_loss(out)
            elif self.method == "minimax":
                g_loss = L.generator_saturating_loss(out)
            else:
                g_loss = L.generator_nonsaturating_loss(out)
        loop.optimize(g_loss, "g")
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), **metrics}


def optimizers(task: ToyGANTask, lr: float) -> dict[str, torch.optim.Optimizer]:
    """Adam(beta1 = 0.5) for both players; WGAN: RMSprop (Arjovsky et al., Algorithm 1);
    WGAN-GP: Adam(0.5, 0.9) (Gulrajani et al., Algorithm 1)."""
    if task.method == "wgan":
        return {
            "d": torch.optim.RMSprop(task.D.parameters(), lr=lr),
            "g": torch.optim.RMSprop(task.G.parameters(), lr=lr),
        }
    betas = (0.5, 0.9) if task.method == "wgan-gp" else (0.5, 0.999)
    return {
        "d": torch.optim.Adam(task.D.parameters(), lr=lr, betas=betas),
        "g": torch.optim.Adam(task.G.parameters(), lr=lr, betas=betas),
    }
