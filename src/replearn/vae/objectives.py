r"""The variational autoencoder's objective: reparameterization, Gaussian KL, likelihoods, ELBO.

Paper: D. P. Kingma & M. Welling, "Auto-encoding variational Bayes", ICLR 2014,
arXiv:1312.6114 (Sections 2.3-2.4 and Appendix B); β-weighting: I. Higgins et al.,
"β-VAE", ICLR 2017.

With encoder :math:`q_\phi(z|x) = \mathcal N(\mu, \operatorname{diag}\sigma^2)`, decoder
:math:`p_\theta(x|z)` and prior :math:`p(z) = \mathcal N(0, I)`:

.. math::

    z = \mu + \sigma \odot \epsilon,\quad \epsilon \sim \mathcal N(0, I)
                                                        \qquad (1)\ \text{reparameterization}

    \mathrm{KL}(q_\phi(z|x)\,\|\,p(z)) = \tfrac12 \sum_j \left(\mu_j^2 + \sigma_j^2
        - \log \sigma_j^2 - 1\right)                    \qquad (2)\ \text{analytic KL (App. B)}

    \mathrm{KL} \approx \frac1S \sum_s \log q_\phi(z_s|x) - \log p(z_s),
        \quad z_s \sim q_\phi(z|x)                      \qquad (3)\ \text{Monte-Carlo KL}

    \log p_\theta(x|z) = \sum_i x_i \log \pi_i + (1 - x_i) \log(1 - \pi_i)
                                                        \qquad (4)\ \text{Bernoulli decoder}

    \log p_\theta(x|z) = -\tfrac12 \sum_i \left(\log 2\pi s_i^2 + (x_i - m_i)^2 / s_i^2\right)
                                                        \qquad (5)\ \text{Gaussian decoder}

    \mathcal L_\beta(x) = \mathbb E_{q_\phi(z|x)}[\log p_\theta(x|z)]
        \;-\; \beta\, \mathrm{KL}(q_\phi(z|x)\,\|\,p(z)) \le \log p_\theta(x)\ (\beta = 1)
                                                        \qquad (6)\ \text{ELBO}

The KL term is **subtracted** (it is non-negative, so the ELBO lies below the
log-likelihood; see ``docs/corrections.md``). :math:`p(z)` is the prior, :math:`p(z|x)` the
true posterior, :math:`q_\phi(z|x)` its approximation; :math:`\log p(x) - \mathcal L_1(x) =
\mathrm{KL}(q_\phi(z|x)\,\|\,p(z|x))`. Encoders return :math:`\log\sigma^2` (numerically
safer than :math:`\sigma`). No deviation from the paper.

Tests: Eq. (2) against ``torch.distributions.kl_divergence`` and against Eq. (3) with many
samples; Eqs. (4)-(5) against ``torch.distributions`` (float64); Eq. (1) gives the moments of
:math:`q`; the ELBO's gap against a closed form in the linear-Gaussian oracle.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from replearn.registry import register

__all__ = [
    "bernoulli_log_likelihood",
    "elbo",
    "gaussian_kl",
    "gaussian_kl_mc",
    "gaussian_log_likelihood",
    "log_normal_diag",
    "log_standard_normal",
    "reparameterize",
]

LOG_2PI = math.log(2.0 * math.pi)


def reparameterize(
    mu: Tensor,
    log_var: Tensor,
    *,
    eps: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Eq. (1): :math:`z = \mu + \sigma \odot \epsilon` with :math:`\sigma = e^{\log\sigma^2/2}`.

    Args:
        mu: :math:`\mu`.
        log_var: :math:`\log \sigma^2`, broadcastable with ``mu``.
        eps: the standard-normal noise (drawn when None); its leading dimensions may add
            sample dimensions in front of ``mu``'s shape.
        generator: RNG used to draw ``eps``.

    Shape:
        mu, log_var: (*, D); eps: (*S, *, D) -> z with eps's shape.
    """
    if eps is None:
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
    return mu + torch.exp(0.5 * log_var) * eps


def log_normal_diag(x: Tensor, mu: Tensor, log_var: Tensor) -> Tensor:
    r""":math:`\log \mathcal N(x; \mu, \operatorname{diag} e^{\log\sigma^2})`, summed over dim -1.

    Shape:
        x, mu, log_var: broadcastable, (*, D) -> (*).
    """
    return -0.5 * (LOG_2PI + log_var + (x - mu) ** 2 * torch.exp(-log_var)).sum(-1)


def log_standard_normal(z: Tensor) -> Tensor:
    r"""The prior's log-density :math:`\log \mathcal N(z; 0, I)`, summed over the last dim.

    Shape:
        z: (*, D) -> (*).
    """
    return -0.5 * (LOG_2PI + z**2).sum(-1)


@register(
    "vae.gaussian_kl",
    paper="Kingma & Welling 2014, arXiv:1312.6114 (Appendix B)",
    reference="torch.distributions.kl_divergence; the Monte-Carlo estimate (3)",
)
def gaussian_kl(mu: Tensor, log_var: Tensor) -> Tensor:
    r"""Eq. (2): :math:`\mathrm{KL}(\mathcal N(\mu, \sigma^2)\,\|\,\mathcal N(0, I)) =
    \tfrac12\sum_j (\mu_j^2 + \sigma_j^2 - \log\sigma_j^2 - 1)`.

    Shape:
        mu, log_var: (*, D) -> (*).
    """
    return 0.5 * (mu**2 + torch.exp(log_var) - log_var - 1.0).sum(-1)


def gaussian_kl_mc(z: Tensor, mu: Tensor, log_var: Tensor) -> Tensor:
    r"""Eq. (3): :math:`\frac1S\sum_s \log q(z_s|x) - \log p(z_s)` over the leading sample dim.

    Args:
        z: samples of :math:`q` (e.g. from :func:`reparameterize`).
        mu, log_var: the parameters of :math:`q`.

    Shape:
        z: (S, *, D); mu, log_var: (*, D) -> (*).
    """
    return (log_normal_diag(z, mu, log_var) - log_standard_normal(z)).mean(0)


def bernoulli_log_likelihood(x: Tensor, logits: Tensor) -> Tensor:
    r"""Eq. (4) with :math:`\pi = \mathrm{sigmoid}(\text{logits})`, summed over the last dim.

    Computed as :math:`-\mathrm{BCEWithLogits}`, stable for large logits; ``x`` may be
    fractional (then it is the cross-entropy against grey levels).

    Shape:
        x, logits: broadcastable, (*, D) -> (*).
    """
    x, logits = torch.broadcast_tensors(x, logits)
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def gaussian_log_likelihood(x: Tensor, mean: Tensor, log_var: Tensor) -> Tensor:
    r"""Eq. (5): the Gaussian decoder's :math:`\log p(x|z)`, summed over the last dim.

    Shape:
        x, mean, log_var: broadcastable, (*, D) -> (*).
    """
    return log_normal_diag(x, mean, log_var)


def elbo(log_px_z: Tensor, kl: Tensor, *, beta: float = 1.0) -> Tensor:
    r"""Eq. (6): :math:`\mathcal L_\beta = \mathbb E_q[\log p(x|z)] - \beta\,\mathrm{KL}(q\|p)`.

    The KL term enters with a **minus** sign; with ``beta=1`` the result is a lower bound
    on :math:`\log p(x)`, for other values only a training objective.

    Args:
        log_px_z: a (Monte-Carlo) estimate of the expected reconstruction log-likelihood.
        kl: :math:`\mathrm{KL}(q(z|x)\,\|\,p(z)) \ge 0` (Eq. 2 or 3).
        beta: weight of the KL term, ``>= 0``.

    Shape:
        log_px_z, kl: (*) -> (*).
    """
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    return log_px_z - beta * kl
