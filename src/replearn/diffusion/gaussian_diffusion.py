r"""``GaussianDiffusion``: a noise-prediction network, its schedule, its loss and its samplers.

Papers: J. Ho, A. Jain & P. Abbeel 2020, arXiv:2006.11239 (DDPM: :math:`L_{simple}`,
Eq. 14, and ancestral sampling, Algorithm 2); J. Song, C. Meng & S. Ermon 2021,
arXiv:2010.02502 (DDIM, Eq. 12); J. Ho & T. Salimans 2022, arXiv:2207.12598
(classifier-free guidance: label dropout in training, Eq. 6 at sampling);
P. Dhariwal & A. Nichol 2021, arXiv:2105.05233 (classifier guidance, Eq. 14).

The module glues the pure functions of :mod:`~replearn.diffusion.ddpm`,
:mod:`~replearn.diffusion.ddim` and :mod:`~replearn.diffusion.guidance` to a network
``model(x_t, t, y) -> eps`` (:class:`~replearn.diffusion.unet.UNet`,
:class:`~replearn.diffusion.denoisers.MLPDenoiser`), in the spirit of lucidrains'
``GaussianDiffusion``: ``forward(x0, y)`` is the training loss (a scalar), and
:meth:`sample` draws with DDPM (``steps=None``) or DDIM (``steps=n``, ``eta``), with
optional classifier-free (``guidance_scale``) or classifier (``classifier``) guidance.

Deviations: none beyond those of the functions it calls.

Tests (``tests/diffusion/test_gaussian_diffusion.py``): the loss equals :math:`L_{simple}`
recomputed from the same draws; label dropout reaches the network as the null label;
the sampler with ``steps=T, eta=1`` equals DDPM ancestral sampling with the same noise;
``guidance_scale`` 0 and 1 reproduce the unconditional and conditional samplers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor, nn

from replearn.diffusion.ddim import ddim_sample, ddim_timesteps
from replearn.diffusion.ddpm import (
    ancestral_sample,
    l_simple,
    q_sample,
    randn_tensor,
    vlb_bits_per_dim,
    vlb_terms,
)
from replearn.diffusion.denoisers import MLPDenoiser
from replearn.diffusion.guidance import (
    cfg_eps,
    classifier_guided_eps,
    classifier_log_prob_grad,
    drop_labels,
)
from replearn.diffusion.schedules import NoiseSchedule
from replearn.registry import Example, register

__all__ = ["GaussianDiffusion"]


def _example() -> Example:
    model = MLPDenoiser(dim=2, hidden=16, depth=1, num_classes=3)
    return Example(
        GaussianDiffusion(model, timesteps=20, p_uncond=0.2),
        (torch.randn(8, 2), torch.randint(0, 3, (8,))),
        (),
    )


@register(
    "diffusion.gaussian_diffusion",
    paper="Ho, Jain & Abbeel 2020, arXiv:2006.11239; Song et al. 2021, arXiv:2010.02502",
    reference="diffusers DDPMScheduler/DDIMScheduler step by step; Gaussian-data oracles",
    example=_example,
)
class GaussianDiffusion(nn.Module):
    r"""DDPM/DDIM training and sampling around a noise predictor ``model(x_t, t, y)``.

    Args:
        model: network predicting :math:`\epsilon` from ``(x_t, t, y)``.
        timesteps: :math:`T`.
        schedule: ``"linear"`` or ``"cosine"``.
        beta_start: first :math:`\beta` (linear schedule).
        beta_end: last :math:`\beta` (linear schedule).
        p_uncond: label-dropout probability for classifier-free guidance (0: off).
        num_classes: labels of a conditional model (taken from ``model.num_classes``).
        variance: ancestral :math:`\sigma_t^2`: ``"small"`` (:math:`\tilde\beta_t`) or
            ``"large"`` (:math:`\beta_t`).
        clip_x0: clamp :math:`\hat x_0` to :math:`\pm` this while sampling (None: off).

    Shape:
        forward: x0 (B, *), y (B,) or None -> loss ().
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        timesteps: int = 1000,
        schedule: Literal["linear", "cosine"] = "linear",
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
        p_uncond: float = 0.0,
        variance: Literal["small", "large"] = "small",
        clip_x0: float | None = None,
    ) -> None:
        super().__init__()
        if not 0.0 <= p_uncond < 1.0:
            raise ValueError(f"p_uncond must be in [0, 1), got {p_uncond}")
        if variance not in ("small", "large"):
            raise ValueError(f"variance must be 'small' or 'large', got {variance!r}")
        self.model = model
        self.schedule = NoiseSchedule(
            timesteps, kind=schedule, beta_start=beta_start, beta_end=beta_end
        )
        self.num_classes: int | None = getattr(model, "num_classes", None)
        if p_uncond > 0 and self.num_classes is None:
            raise ValueError("p_uncond > 0 needs a conditional model (model.num_classes)")
        self.timesteps, self.p_uncond, self.variance, self.clip_x0 = (
            timesteps,
            p_uncond,
            variance,
            clip_x0,
        )

    def loss(self, x0: Tensor, y: Tensor | None = None) -> Tensor:
        """Eq. (14) with :math:`t \\sim U\\{0..T-1\\}`, labels dropped w.p. ``p_uncond``."""
        b = x0.shape[0]
        t = torch.randint(0, self.timesteps, (b,), device=x0.device)
        noise = torch.randn_like(x0)
        x_t = q_sample(x0, t, self.schedule.alpha_bar, noise)
        if y is not None and self.p_uncond > 0:
            y = drop_labels(y, self.p_uncond, self.num_classes)  # type: ignore[arg-type]
        return l_simple(self.model(x_t, t, y), noise)

    def forward(self, x0: Tensor, y: Tensor | None = None) -> Tensor:
        return self.loss(x0, y)

    def eps_fn(
        self,
        y: Tensor | None = None,
        *,
        guidance_scale: float = 1.0,
        classifier: Callable[[Tensor, Tensor], Tensor] | None = None,
        classifier_scale: float = 1.0,
    ) -> Callable[[Tensor, Tensor], Tensor]:
        """The noise prediction used by the samplers, with the guidance asked for."""

        def eps(x: Tensor, t: Tensor) -> Tensor:
            label = y if self.num_classes is not None else None  # else y is the classifier's
            if label is None or guidance_scale == 1.0:
                out = self.model(x, t, label)
            elif guidance_scale == 0.0:
                out = self.model(x, t, torch.full_like(label, self.num_classes))
            else:  # one batched call for the conditional and the null label
                null = torch.full_like(label, self.num_classes)
                both = self.model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([label, null]))
                out = cfg_eps(both[: len(x)], both[len(x) :], guidance_scale)  # Eq. (6)
            if classifier is not None:
                if y is None:
                    raise ValueError("classifier guidance needs labels y")
                grad = classifier_log_prob_grad(classifier, x, t, y)
                out = classifier_guided_eps(out, grad, t, self.schedule.alpha_bar, classifier_scale)
            return out

        return eps

    @torch.no_grad()
    def sample(
        self,
        shape: tuple[int, ...],
        *,
        y: Tensor | None = None,
        steps: int | None = None,
        eta: float = 0.0,
        guidance_scale: float = 1.0,
        classifier: Callable[[Tensor, Tensor], Tensor] | None = None,
        classifier_scale: float = 1.0,
        generator: torch.Generator | None = None,
        x_T: Tensor | None = None,
    ) -> Tensor:
        """Draw ``shape`` samples: DDPM ancestral (``steps=None``) or DDIM with ``steps`` steps.

        Shape:
            -> ``shape`` = (B, *).
        """
        device = self.schedule.betas.device
        if x_T is None:
            x_T = randn_tensor(shape, generator=generator, device=device)
        eps = self.eps_fn(
            y,
            guidance_scale=guidance_scale,
            classifier=classifier,
            classifier_scale=classifier_scale,
        )
        if steps is None:
            return ancestral_sample(
                eps,
                x_T,
                self.schedule,
                generator=generator,
                variance=self.variance,
                clip_x0=self.clip_x0,
            )
        ts = ddim_timesteps(self.timesteps, steps)
        return ddim_sample(eps, x_T, self.schedule.alpha_bar, ts, eta=eta, generator=generator)

    @torch.no_grad()
    def bits_per_dim(
        self,
        x0: Tensor,
        y: Tensor | None = None,
        *,
        decoder: Literal["discretized", "gaussian"] = "discretized",
    ) -> Tensor:
        """The variational bound of Eq. (5) in bits/dim per example (T network calls).

        Shape:
            x0: (B, *) -> (B,).
        """
        terms = vlb_terms(
            lambda x, t: self.model(x, t, y),
            x0,
            self.schedule,
            decoder=decoder,
            variance=self.variance,
        )
        return vlb_bits_per_dim(terms, x0[0].numel())

    def extra_repr(self) -> str:
        return (
            f"timesteps={self.timesteps}, schedule={self.schedule.kind!r}, "
            f"p_uncond={self.p_uncond}, variance={self.variance!r}"
        )
