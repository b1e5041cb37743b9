r"""Denoising diffusion implicit models (DDIM): sampling on any subsequence of steps, and inversion.

Paper: J. Song, C. Meng & S. Ermon, "Denoising Diffusion Implicit Models", ICLR 2021,
arXiv:2010.02502. DDIM keeps the marginals :math:`q(x_t|x_0)` of DDPM (so a network trained
with :math:`L_{simple}` serves both) but uses a *non-Markovian* forward process, whose
reverse step from :math:`t` to an earlier step :math:`s` (any subsequence :math:`\tau`) is

.. math::

    x_s = \sqrt{\bar\alpha_s}\,\underbrace{\frac{x_t - \sqrt{1 - \bar\alpha_t}\,
      \epsilon_\theta(x_t, t)}{\sqrt{\bar\alpha_t}}}_{\hat x_0}
      + \sqrt{1 - \bar\alpha_s - \sigma_t^2}\;\epsilon_\theta(x_t, t) + \sigma_t z   \qquad (12)

    \sigma_t(\eta) = \eta\,\sqrt{\frac{1 - \bar\alpha_s}{1 - \bar\alpha_t}}
      \sqrt{1 - \frac{\bar\alpha_t}{\bar\alpha_s}}                               \qquad (16)

:math:`\eta = 1` with every step is DDPM's ancestral sampler with :math:`\sigma_t^2 =
\tilde\beta_t`; :math:`\eta = 0` is deterministic: an Euler step of the probability-flow
ODE in the variables :math:`(x/\sqrt{\bar\alpha}, \sqrt{1/\bar\alpha - 1})` (Sec. 4.3,
Eq. 14), which run forwards maps data to latents (*DDIM inversion*, Sec. 5.4):

.. math::

    x_t = \sqrt{\bar\alpha_t}\,\hat x_0(x_s, s) + \sqrt{1 - \bar\alpha_t}\;
      \epsilon_\theta(x_s, s)                                                     \qquad (13)

Deviations: as in ``diffusers``' ``DDIMScheduler``, the step after the last one of
:math:`\tau` uses :math:`\bar\alpha = 1` (``set_alpha_to_one``), and :func:`ddim_timesteps`
follows its ``"leading"`` spacing (``"trailing"`` and ``"linspace"`` too). Inversion
evaluates :math:`\epsilon_\theta` at the start of each step (the usual approximation,
exact as the step size goes to 0).

Tests (``tests/diffusion/test_ddim.py``): :func:`ddim_step` and :func:`ddim_timesteps`
equal ``diffusers.DDIMScheduler`` (``eta`` 0 and 1, given noise) in float64; with every
step and :math:`\eta = 1` a DDIM step equals the DDPM ancestral step exactly; samples of
the exact Gaussian-data denoiser have the data's mean and covariance for :math:`\eta`
0 and 1; inversion followed by sampling reconstructs the input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor

from replearn.diffusion.ddpm import EpsFn, randn_tensor
from replearn.registry import register

__all__ = ["ddim_invert", "ddim_sample", "ddim_sigma", "ddim_step", "ddim_timesteps"]

Spacing = Literal["leading", "trailing", "linspace"]


def ddim_timesteps(timesteps: int, steps: int, spacing: Spacing = "leading") -> list[int]:
    """The subsequence :math:`\\tau` of ``steps`` steps out of ``timesteps``, descending.

    ``leading``: ``k * (T // n)`` (``diffusers``' default and the DDIM paper's "linear"
    selection); ``trailing``: ``T - k * T / n - 1``; ``linspace``: rounded even spacing
    from 0 to ``T - 1``.
    """
    if not 1 <= steps <= timesteps:
        raise ValueError(f"steps must be in [1, {timesteps}], got {steps}")
    if spacing == "leading":
        ts = [k * (timesteps // steps) for k in range(steps)]
    elif spacing == "trailing":
        ratio = timesteps / steps
        ts = [round(timesteps - k * ratio) - 1 for k in range(steps)][::-1]
    elif spacing == "linspace":
        ts = torch.linspace(0, timesteps - 1, steps, dtype=torch.float64).round().long().tolist()
    else:
        raise ValueError(f"spacing must be leading, trailing or linspace, got {spacing!r}")
    return sorted(set(ts), reverse=True)


def ddim_sigma(alpha_bar_t: Tensor, alpha_bar_s: Tensor, eta: float) -> Tensor:
    r"""Eq. (16): :math:`\sigma_t(\eta)` for a step from :math:`t` to :math:`s`.

    Shape:
        scalars or broadcastable tensors -> broadcast shape.
    """
    return eta * ((1 - alpha_bar_s) / (1 - alpha_bar_t) * (1 - alpha_bar_t / alpha_bar_s)).sqrt()


def ddim_step(
    x_t: Tensor,
    eps: Tensor,
    alpha_bar_t: Tensor,
    alpha_bar_s: Tensor,
    *,
    eta: float = 0.0,
    noise: Tensor | None = None,
) -> Tensor:
    r"""Eq. (12): one DDIM step from :math:`x_t` to :math:`x_s` (:math:`s < t`).

    Shape:
        x_t, eps, noise: (B, *); alpha_bar_t, alpha_bar_s: scalars -> (B, *).
    """
    x0 = (x_t - (1 - alpha_bar_t).sqrt() * eps) / alpha_bar_t.sqrt()
    sigma = ddim_sigma(alpha_bar_t, alpha_bar_s, eta)
    direction = (1 - alpha_bar_s - sigma**2).clamp_min(0).sqrt() * eps
    x_s = alpha_bar_s.sqrt() * x0 + direction
    if eta > 0:
        if noise is None:
            raise ValueError("eta > 0 needs noise")
        x_s = x_s + sigma * noise
    return x_s


def _pairs(alpha_bar: Tensor, ts: Sequence[int]) -> list[tuple[int, Tensor, Tensor]]:
    """(t, alpha_bar_t, alpha_bar_s) per step of a descending sequence (1 after the last)."""
    out = []
    for i, t in enumerate(ts):
        ab_s = alpha_bar[ts[i + 1]] if i + 1 < len(ts) else alpha_bar.new_ones(())
        out.append((t, alpha_bar[t], ab_s))
    return out


@register(
    "diffusion.ddim",
    paper="Song, Meng & Ermon 2021, ICLR, arXiv:2010.02502",
    reference="diffusers.DDIMScheduler.step (eta 0 and 1), float64; DDPM ancestral at eta=1",
)
def ddim_sample(
    eps_fn: EpsFn,
    x_T: Tensor,
    alpha_bar: Tensor,
    timesteps: Sequence[int],
    *,
    eta: float = 0.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """DDIM sampling (Eq. 12) over the descending subsequence ``timesteps``.

    Shape:
        x_T: (B, *) -> x_0: (B, *).
    """
    if eta < 0:
        raise ValueError(f"eta must be >= 0, got {eta}")
    x = x_T
    ab = alpha_bar.to(x.dtype)
    with torch.no_grad():
        for t, ab_t, ab_s in _pairs(ab, list(timesteps)):
            tt = torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)
            eps = eps_fn(x, tt)
            noise = (
                randn_tensor(x.shape, generator=generator, device=x.device, dtype=x.dtype)
                if eta > 0
                else None
            )
            x = ddim_step(x, eps, ab_t, ab_s, eta=eta, noise=noise)
    return x


@torch.no_grad()
def ddim_invert(eps_fn: EpsFn, x0: Tensor, alpha_bar: Tensor, timesteps: Sequence[int]) -> Tensor:
    r"""Eq. (13): deterministic DDIM run forwards, data :math:`x_0` to latent :math:`x_T`.

    ``timesteps`` is the same descending sequence the sampler uses; the inversion walks
    it backwards (from the clean end, :math:`\bar\alpha = 1`, to the first element).

    Shape:
        x0: (B, *) -> (B, *).
    """
    ts = sorted(timesteps)
    ab = alpha_bar.to(x0.dtype)
    x = x0
    prev_ab, prev_t = ab.new_ones(()), None
    for t in ts:
        # eps at the start of the step; at the clean end use the first noisy step's network
        s = t if prev_t is None else prev_t
        tt = torch.full((x.shape[0],), s, dtype=torch.long, device=x.device)
        eps = eps_fn(x, tt)
        x0_hat = (x - (1 - prev_ab).sqrt() * eps) / prev_ab.sqrt()
        x = ab[t].sqrt() * x0_hat + (1 - ab[t]).sqrt() * eps
        prev_ab, prev_t = ab[t], t
    return x
