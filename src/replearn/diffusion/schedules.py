r"""Noise schedules of Gaussian diffusion: linear (DDPM) and cosine (improved DDPM).

Papers: J. Ho, A. Jain & P. Abbeel, "Denoising Diffusion Probabilistic Models", NeurIPS
2020, arXiv:2006.11239 (Sec. 4: linear :math:`\beta_t` from :math:`10^{-4}` to
:math:`0.02`, :math:`T = 1000`); A. Nichol & P. Dhariwal, "Improved Denoising Diffusion
Probabilistic Models", ICML 2021, arXiv:2102.09672 (Eq. 17, the cosine schedule).

Time is 0-indexed as in ``diffusers``: step :math:`t \in \{0, \dots, T-1\}` is the paper's
:math:`t + 1`. With :math:`\beta_t` the variance added at step :math:`t`:

.. math::

    \alpha_t = 1 - \beta_t, \qquad \bar\alpha_t = \prod_{s \le t} \alpha_s
    \qquad (\text{DDPM, above Eq. 4})

    \bar\alpha(u) = \frac{f(u)}{f(0)}, \quad f(u) = \cos^2\!\Big(\frac{u + s}{1 + s}
    \frac{\pi}{2}\Big), \quad \beta_t = \min\Big(1 - \frac{\bar\alpha((t+1)/T)}
    {\bar\alpha(t/T)}, \beta_{max}\Big)                  \qquad (17)\ \text{cosine}

The posterior variance of :math:`q(x_{t-1} \mid x_t, x_0)` (DDPM Eq. 7) is
:math:`\tilde\beta_t = \beta_t (1 - \bar\alpha_{t-1}) / (1 - \bar\alpha_t)`, with
:math:`\bar\alpha_{-1} = 1` (so :math:`\tilde\beta_0 = 0`).

Deviations: none. ``linear_betas`` is ``diffusers``' ``beta_schedule="linear"`` (no
rescaling by ``1000 / T`` as in improved-diffusion; pass ``beta_end`` yourself) and
``cosine_betas`` its ``"squaredcos_cap_v2"``.

Tests (``tests/diffusion/test_schedules.py``): every buffer equals the corresponding
attribute of ``diffusers.DDPMScheduler`` (``betas``, ``alphas``, ``alphas_cumprod``, the
posterior variance of ``_get_variance``) in float64; :math:`\bar\alpha` decreases
monotonically from near 1 to near 0; the cosine schedule's :math:`\bar\alpha` equals
Eq. (17) in closed form.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from replearn.registry import register

__all__ = [
    "NoiseSchedule",
    "alpha_bar",
    "cosine_betas",
    "extract",
    "linear_betas",
    "posterior_variance",
]

ScheduleName = Literal["linear", "cosine"]


@register(
    "diffusion.linear_schedule",
    paper="Ho, Jain & Abbeel 2020, arXiv:2006.11239 (Sec. 4)",
    reference="diffusers.DDPMScheduler(beta_schedule='linear'), float64",
)
def linear_betas(
    timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02, dtype=torch.float64
) -> Tensor:
    r""":math:`\beta_t` evenly spaced from ``beta_start`` to ``beta_end`` (DDPM Sec. 4).

    Shape:
        -> (T,).
    """
    if timesteps < 1:
        raise ValueError(f"timesteps must be >= 1, got {timesteps}")
    if not 0.0 < beta_start <= beta_end < 1.0:
        raise ValueError(f"need 0 < beta_start <= beta_end < 1, got {beta_start}, {beta_end}")
    return torch.linspace(beta_start, beta_end, timesteps, dtype=torch.float64).to(dtype)


@register(
    "diffusion.cosine_schedule",
    paper="Nichol & Dhariwal 2021, arXiv:2102.09672 (Eq. 17)",
    reference="diffusers.DDPMScheduler(beta_schedule='squaredcos_cap_v2'), float64",
)
def cosine_betas(
    timesteps: int, s: float = 0.008, max_beta: float = 0.999, dtype=torch.float64
) -> Tensor:
    r"""Eq. (17) of Nichol & Dhariwal: :math:`\beta_t` from the cosine :math:`\bar\alpha`.

    Shape:
        -> (T,).
    """
    if timesteps < 1:
        raise ValueError(f"timesteps must be >= 1, got {timesteps}")

    def f(u: float) -> float:
        return math.cos((u + s) / (1 + s) * math.pi / 2) ** 2

    betas = [min(1 - f((t + 1) / timesteps) / f(t / timesteps), max_beta) for t in range(timesteps)]
    return torch.tensor(betas, dtype=torch.float64).to(dtype)


def alpha_bar(betas: Tensor) -> Tensor:
    r""":math:`\bar\alpha_t = \prod_{s \le t} (1 - \beta_s)`.

    Shape:
        (T,) -> (T,).
    """
    return torch.cumprod(1.0 - betas, dim=0)


def posterior_variance(betas: Tensor) -> Tensor:
    r"""DDPM Eq. (7): :math:`\tilde\beta_t = \beta_t (1 - \bar\alpha_{t-1}) / (1 - \bar\alpha_t)`.

    Shape:
        (T,) -> (T,).
    """
    ab = alpha_bar(betas)
    ab_prev = torch.cat([ab.new_ones(1), ab[:-1]])
    return betas * (1.0 - ab_prev) / (1.0 - ab)


def extract(values: Tensor, t: Tensor, ndim: int) -> Tensor:
    """``values[t]`` shaped to broadcast against a (B, ...) tensor of ``ndim`` dimensions.

    Shape:
        values: (T,); t: (B,) int -> (B, 1, ..., 1) with ``ndim`` dimensions.
    """
    return values.gather(0, t.long()).reshape(t.shape[0], *([1] * (ndim - 1)))


class NoiseSchedule(nn.Module):
    r"""The buffers of a schedule (:math:`\beta, \alpha, \bar\alpha, \bar\alpha_{t-1},
    \tilde\beta`), moved and checkpointed with the model that owns it.

    Args:
        timesteps: :math:`T`.
        kind: ``"linear"`` or ``"cosine"``.
        beta_start: first :math:`\beta` of the linear schedule.
        beta_end: last :math:`\beta` of the linear schedule.
        dtype: dtype of the buffers (float64 keeps the arithmetic exact; samplers cast).

    Shape:
        forward: t (B,) int -> :math:`\bar\alpha_t` (B,).
    """

    def __init__(
        self,
        timesteps: int,
        *,
        kind: ScheduleName = "linear",
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if kind == "linear":
            betas = linear_betas(timesteps, beta_start, beta_end)
        elif kind == "cosine":
            betas = cosine_betas(timesteps)
        else:
            raise ValueError(f"kind must be 'linear' or 'cosine', got {kind!r}")
        self.timesteps, self.kind = timesteps, kind
        ab = alpha_bar(betas)
        self.register_buffer("betas", betas.to(dtype), persistent=False)
        self.register_buffer("alphas", (1.0 - betas).to(dtype), persistent=False)
        self.register_buffer("alpha_bar", ab.to(dtype), persistent=False)
        ab_prev = torch.cat([ab.new_ones(1), ab[:-1]])
        self.register_buffer("alpha_bar_prev", ab_prev.to(dtype), persistent=False)
        self.register_buffer("posterior_variance", posterior_variance(betas).to(dtype), False)

    def forward(self, t: Tensor) -> Tensor:
        r""":math:`\bar\alpha_t` at integer steps ``t``."""
        if t.min() < 0 or t.max() >= self.timesteps:
            raise ValueError(f"t must be in [0, {self.timesteps}), got {t.min()}..{t.max()}")
        return self.alpha_bar[t.long()]

    def extra_repr(self) -> str:
        return f"timesteps={self.timesteps}, kind={self.kind!r}"
