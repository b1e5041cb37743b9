r"""Denoising diffusion probabilistic models (DDPM): forward process, posterior, loss, sampling.

Paper: J. Ho, A. Jain & P. Abbeel, "Denoising Diffusion Probabilistic Models", NeurIPS
2020, arXiv:2006.11239. Time is 0-indexed (step :math:`t` here is the paper's
:math:`t+1`; :mod:`replearn.diffusion.schedules`), :math:`\bar\alpha_{-1} = 1`.

.. math::

    q(x_t \mid x_0) = \mathcal N(\sqrt{\bar\alpha_t}\, x_0,\ (1 - \bar\alpha_t) I),\quad
    x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon     \qquad (4)

    L = \underbrace{D_{KL}(q(x_T|x_0) \| p(x_T))}_{L_T}
      + \sum_{t>1} \underbrace{D_{KL}(q(x_{t-1}|x_t, x_0) \| p_\theta(x_{t-1}|x_t))}_{L_{t-1}}
      \underbrace{- \log p_\theta(x_0 \mid x_1)}_{L_0}                     \qquad (5)

    \tilde\mu_t(x_t, x_0) = \frac{\sqrt{\bar\alpha_{t-1}}\beta_t}{1 - \bar\alpha_t} x_0
      + \frac{\sqrt{\alpha_t}(1 - \bar\alpha_{t-1})}{1 - \bar\alpha_t} x_t, \quad
    \tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t}\beta_t   \qquad (6, 7)

    \mu_\theta(x_t, t) = \frac{1}{\sqrt{\alpha_t}}\Big(x_t - \frac{\beta_t}
      {\sqrt{1 - \bar\alpha_t}} \epsilon_\theta(x_t, t)\Big)              \qquad (11)

    L_{simple} = \mathbb E_{t, x_0, \epsilon}\,
      \| \epsilon - \epsilon_\theta(\sqrt{\bar\alpha_t} x_0 + \sqrt{1-\bar\alpha_t}\epsilon, t)\|^2
                                                                            \qquad (14)

Sampling (Algorithm 2): :math:`x_{t-1} = \mu_\theta(x_t, t) + \sigma_t z`, with
:math:`\sigma_t^2 = \tilde\beta_t` (``variance="small"``) or :math:`\beta_t`
(``"large"``). :math:`L_0` is the discretized Gaussian decoder of Eq. (13) for data
on 256 levels in :math:`[-1, 1]`, or a Gaussian density for continuous data.

Deviations: :math:`\mu_\theta` is computed as :math:`\tilde\mu_t(x_t, \hat x_0)` with
:math:`\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\epsilon_\theta)/\sqrt{\bar\alpha_t}`, which
equals Eq. (11) algebraically and lets the sampler clip :math:`\hat x_0` (``clip_x0``,
as ``diffusers`` does; off by default). The decoder :math:`p_\theta(x_0|x_1)` of
:math:`L_0` has variance :math:`\beta_1` (:math:`\tilde\beta_1 = 0`). The step at
:math:`t = 0` adds no noise. The loss is the mean over dimensions (``diffusers``,
lucidrains), not the sum.

Tests (``tests/diffusion/test_ddpm.py``): moments of :func:`q_sample` and of sequential
forward steps against Eq. (4); :func:`q_posterior` against Bayes' rule on Gaussians in
closed form; one ancestral step equals ``diffusers.DDPMScheduler.step``; for Gaussian
data the optimal :math:`\epsilon` predictor is linear and known, and training converges
to it; :func:`normal_kl` and :func:`discretized_gaussian_log_likelihood` against
``torch.distributions``; :func:`vlb_terms` bounds the exact NLL of Gaussian data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

from replearn.diffusion.schedules import NoiseSchedule, extract

__all__ = [
    "EpsFn",
    "ancestral_sample",
    "ancestral_step",
    "discretized_gaussian_log_likelihood",
    "gaussian_log_likelihood",
    "l_simple",
    "normal_kl",
    "p_mean_from_eps",
    "predict_x0_from_eps",
    "q_posterior",
    "q_sample",
    "q_step",
    "vlb_bits_per_dim",
    "vlb_terms",
]


def randn_tensor(
    shape: tuple[int, ...] | torch.Size,
    *,
    generator: torch.Generator | None,
    device: torch.device,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """Standard normal noise on ``device``, drawn on the generator's device and then moved
    (``diffusers.utils.torch_utils.randn_tensor``): a CPU generator gives the same noise
    on every device. Without a generator the global RNG of ``device`` draws.
    """
    where = generator.device if generator is not None else device
    return torch.randn(shape, generator=generator, device=where, dtype=dtype).to(device)


EpsFn = Callable[[Tensor, Tensor], Tensor]  # (x_t, t) -> predicted noise


def q_sample(x0: Tensor, t: Tensor, alpha_bar: Tensor, noise: Tensor) -> Tensor:
    r"""Eq. (4): :math:`x_t = \sqrt{\bar\alpha_t} x_0 + \sqrt{1 - \bar\alpha_t}\,\epsilon`.

    Shape:
        x0, noise: (B, *); t: (B,) int; alpha_bar: (T,) -> (B, *).
    """
    ab = extract(alpha_bar, t, x0.dim()).to(x0.dtype)  # (B, 1, ...)
    return ab.sqrt() * x0 + (1.0 - ab).sqrt() * noise


def q_step(x_prev: Tensor, t: Tensor, betas: Tensor, noise: Tensor) -> Tensor:
    r"""Eq. (2), a forward step: :math:`x_t = \sqrt{1-\beta_t}\,x_{t-1} + \sqrt{\beta_t}\epsilon`.

    Shape:
        x_prev, noise: (B, *); t: (B,) int; betas: (T,) -> (B, *).
    """
    beta = extract(betas, t, x_prev.dim()).to(x_prev.dtype)
    return (1.0 - beta).sqrt() * x_prev + beta.sqrt() * noise


def q_posterior(
    x0: Tensor, x_t: Tensor, t: Tensor, betas: Tensor, alpha_bar: Tensor
) -> tuple[Tensor, Tensor]:
    r"""Eqs. (6)-(7): mean :math:`\tilde\mu_t(x_t, x_0)` and variance :math:`\tilde\beta_t`.

    Shape:
        x0, x_t: (B, *); t: (B,) int -> mean (B, *), variance (B, 1, ..., 1).
    """
    n = x_t.dim()
    ab_all_prev = torch.cat([alpha_bar.new_ones(1), alpha_bar[:-1]])
    beta = extract(betas, t, n).to(x_t.dtype)
    ab = extract(alpha_bar, t, n).to(x_t.dtype)
    ab_prev = extract(ab_all_prev, t, n).to(x_t.dtype)
    coef_x0 = ab_prev.sqrt() * beta / (1.0 - ab)  # Eq. (7)
    coef_xt = (1.0 - beta).sqrt() * (1.0 - ab_prev) / (1.0 - ab)
    variance = beta * (1.0 - ab_prev) / (1.0 - ab)
    return coef_x0 * x0 + coef_xt * x_t, variance


def predict_x0_from_eps(x_t: Tensor, t: Tensor, alpha_bar: Tensor, eps: Tensor) -> Tensor:
    r"""Eq. (4) solved for :math:`x_0`: :math:`\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,
    \epsilon)/\sqrt{\bar\alpha_t}`.

    Shape:
        x_t, eps: (B, *); t: (B,) int -> (B, *).
    """
    ab = extract(alpha_bar, t, x_t.dim()).to(x_t.dtype)
    return (x_t - (1.0 - ab).sqrt() * eps) / ab.sqrt()


def p_mean_from_eps(
    x_t: Tensor, t: Tensor, betas: Tensor, alpha_bar: Tensor, eps: Tensor
) -> Tensor:
    r"""Eq. (11): :math:`\mu_\theta = (x_t - \beta_t \epsilon_\theta / \sqrt{1-\bar\alpha_t})
    / \sqrt{\alpha_t}`.

    Shape:
        x_t, eps: (B, *); t: (B,) int -> (B, *).
    """
    beta = extract(betas, t, x_t.dim()).to(x_t.dtype)
    ab = extract(alpha_bar, t, x_t.dim()).to(x_t.dtype)
    return (x_t - beta / (1.0 - ab).sqrt() * eps) / (1.0 - beta).sqrt()


def l_simple(eps_pred: Tensor, eps: Tensor) -> Tensor:
    r"""Eq. (14): :math:`\|\epsilon - \epsilon_\theta\|^2`, averaged over all entries.

    Shape:
        eps_pred, eps: (B, *) -> ().
    """
    return (eps - eps_pred).square().mean()


def ancestral_step(
    x_t: Tensor,
    t: int,
    eps: Tensor,
    schedule: NoiseSchedule,
    noise: Tensor | None,
    *,
    variance: Literal["small", "large"] = "small",
    clip_x0: float | None = None,
) -> Tensor:
    r"""Algorithm 2, line 4: :math:`x_{t-1} = \tilde\mu_t(x_t, \hat x_0) + \sigma_t z`.

    Shape:
        x_t, eps, noise: (B, *) -> (B, *).
    """
    tt = torch.full((x_t.shape[0],), t, dtype=torch.long, device=x_t.device)
    x0 = predict_x0_from_eps(x_t, tt, schedule.alpha_bar, eps)
    if clip_x0 is not None:
        x0 = x0.clamp(-clip_x0, clip_x0)
    mean, var = q_posterior(x0, x_t, tt, schedule.betas, schedule.alpha_bar)  # Eq. (11)
    if t == 0 or noise is None:
        return mean
    if variance == "large":
        var = extract(schedule.betas, tt, x_t.dim()).to(x_t.dtype)
    return mean + var.sqrt() * noise


@torch.no_grad()
def ancestral_sample(
    eps_fn: EpsFn,
    x_T: Tensor,
    schedule: NoiseSchedule,
    *,
    generator: torch.Generator | None = None,
    variance: Literal["small", "large"] = "small",
    clip_x0: float | None = None,
) -> Tensor:
    r"""Algorithm 2: from :math:`x_T \sim \mathcal N(0, I)` down to :math:`x_0`, T network calls.

    Shape:
        x_T: (B, *) -> (B, *).
    """
    x = x_T
    for t in reversed(range(schedule.timesteps)):
        tt = torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)
        eps = eps_fn(x, tt)
        z = None if t == 0 else randn_tensor(x.shape, generator=generator, device=x.device)
        x = ancestral_step(x, t, eps, schedule, z, variance=variance, clip_x0=clip_x0)
    return x


def normal_kl(mean1: Tensor, var1: Tensor, mean2: Tensor, var2: Tensor) -> Tensor:
    r""":math:`D_{KL}(\mathcal N(\mu_1, \sigma_1^2) \| \mathcal N(\mu_2, \sigma_2^2))` per entry.

    Shape:
        broadcastable tensors -> their broadcast shape.
    """
    return 0.5 * (var2.log() - var1.log() + (var1 + (mean1 - mean2).square()) / var2 - 1.0)


def _std_normal_cdf(x: Tensor) -> Tensor:
    return 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


def discretized_gaussian_log_likelihood(x: Tensor, mean: Tensor, var: Tensor) -> Tensor:
    r"""Eq. (13): :math:`\log \int_{\delta_-(x)}^{\delta_+(x)} \mathcal N(u; \mu, \sigma^2) du`
    for data on 256 levels in :math:`[-1, 1]` (bins of width 2/255; edge bins extend to
    :math:`\pm\infty`).

    Shape:
        x, mean, var: broadcastable -> broadcast shape (log-probabilities, nats).
    """
    std = var.sqrt()
    upper = torch.where(x > 0.999, torch.full_like(x, math.inf), x + 1.0 / 255.0)
    lower = torch.where(x < -0.999, torch.full_like(x, -math.inf), x - 1.0 / 255.0)
    prob = _std_normal_cdf((upper - mean) / std) - _std_normal_cdf((lower - mean) / std)
    return prob.clamp_min(1e-12).log()


def gaussian_log_likelihood(x: Tensor, mean: Tensor, var: Tensor) -> Tensor:
    r""":math:`\log \mathcal N(x; \mu, \sigma^2)` per entry (the decoder for continuous data).

    Shape:
        broadcastable -> broadcast shape.
    """
    return -0.5 * (math.log(2 * math.pi) + var.log() + (x - mean).square() / var)


@torch.no_grad()
def vlb_terms(
    eps_fn: EpsFn,
    x0: Tensor,
    schedule: NoiseSchedule,
    *,
    decoder: Literal["discretized", "gaussian"] = "discretized",
    variance: Literal["small", "large"] = "small",
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Eq. (5), every term in nats summed over dimensions: row :math:`t` holds
    :math:`L_t` (row 0 is :math:`L_0`), the last row :math:`L_T` (prior term).

    Each term uses one :math:`x_t \sim q(x_t|x_0)`; the sum is an unbiased estimate of
    the bound. :math:`\sigma_t^2` as in sampling (``variance``).

    Shape:
        x0: (B, *) -> (T + 1, B).
    """
    b, n = x0.shape[0], x0.dim()
    dims = tuple(range(1, n))
    rows = []
    for t in range(schedule.timesteps):
        tt = torch.full((b,), t, dtype=torch.long, device=x0.device)
        noise = randn_tensor(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        x_t = q_sample(x0, tt, schedule.alpha_bar, noise)
        eps = eps_fn(x_t, tt)
        x0_hat = predict_x0_from_eps(x_t, tt, schedule.alpha_bar, eps)
        mean, var = q_posterior(x0_hat, x_t, tt, schedule.betas, schedule.alpha_bar)
        if variance == "large" or t == 0:
            var = extract(schedule.betas, tt, n).to(x0.dtype)
        if t == 0:
            loglik = discretized_gaussian_log_likelihood if decoder == "discretized" else None
            ll = (loglik or gaussian_log_likelihood)(x0, mean, var)
            rows.append(-ll.sum(dims))
        else:
            true_mean, true_var = q_posterior(x0, x_t, tt, schedule.betas, schedule.alpha_bar)
            rows.append(normal_kl(true_mean, true_var, mean, var).sum(dims))
    ab_T = schedule.alpha_bar[-1].to(x0.dtype)
    prior = normal_kl(
        ab_T.sqrt() * x0, (1.0 - ab_T).expand_as(x0), torch.zeros_like(x0), torch.ones_like(x0)
    )
    rows.append(prior.sum(dims))
    return torch.stack(rows)  # (T + 1, B)


def vlb_bits_per_dim(terms: Tensor, dims: int) -> Tensor:
    r"""The bound of Eq. (5) in bits per dimension: :math:`\sum_t L_t / (D \ln 2)`, per example.

    Shape:
        terms: (T + 1, B) -> (B,).
    """
    return terms.sum(0) / (dims * math.log(2.0))
