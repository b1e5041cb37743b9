r"""Two Monte-Carlo estimators of :math:`\nabla_\phi \mathbb E_{q_\phi(z)}[f(z)]` for a Gaussian q.

Papers: D. P. Kingma & M. Welling, "Auto-encoding variational Bayes", ICLR 2014,
arXiv:1312.6114 (Section 2.4, the reparameterization trick); R. J. Williams, "Simple
statistical gradient-following algorithms for connectionist reinforcement learning",
Machine Learning 8, 1992 (the score-function / REINFORCE estimator); survey: S. Mohamed,
M. Rosca, M. Figurnov & A. Mnih, "Monte Carlo gradient estimation in machine learning",
JMLR 2020, arXiv:1906.10652 (Sections 4-5).

With :math:`q_\phi = \mathcal N(\mu, \operatorname{diag} e^{v})`, :math:`\phi = (\mu, v)`
and :math:`z = \mu + e^{v/2}\odot\epsilon`:

.. math::

    \hat g_{rep} = \nabla_\phi f(\mu + e^{v/2}\odot\epsilon),\ \epsilon\sim\mathcal N(0,I)
                                                    \qquad (1)\ \text{reparameterization}

    \hat g_{sf} = (f(z) - b)\,\nabla_\phi \log q_\phi(z),\ z \sim q_\phi
                                                    \qquad (2)\ \text{score function}

    \nabla_\mu \log q = (z - \mu) e^{-v},\quad
    \nabla_v \log q = \tfrac12\left((z-\mu)^2 e^{-v} - 1\right)  \qquad (3)

Both are unbiased (for a constant baseline :math:`b`, since
:math:`\mathbb E_q[\nabla_\phi \log q] = 0`); (1) needs a differentiable :math:`f`, (2) only
its values. Each function returns one estimate per sample, so their variances can be
compared. No deviation from the papers.

Tests: for :math:`f(z) = \sum_j z_j^2` both means equal the exact gradient
:math:`(2\mu, e^{v})` within a few standard errors (float64).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from replearn.registry import register

__all__ = ["reparameterization_gradient", "score_function_gradient"]


@register(
    "vae.reparameterization_gradient",
    paper="Kingma & Welling 2014, arXiv:1312.6114 (Section 2.4)",
    reference="exact gradient of E[sum z^2] = sum mu^2 + sigma^2 (float64)",
)
def reparameterization_gradient(
    f: Callable[[Tensor], Tensor], mu: Tensor, log_var: Tensor, eps: Tensor
) -> tuple[Tensor, Tensor]:
    r"""Eq. (1): one estimate of :math:`(\nabla_\mu, \nabla_v)\,\mathbb E_q[f]` per noise draw.

    Args:
        f: maps z (S, D) to values (S,), each depending on its own row only.
        mu, log_var: the parameters :math:`\mu, v` of q.
        eps: standard-normal noise, one row per estimate.

    Shape:
        mu, log_var: (D,); eps: (S, D) -> two (S, D) tensors.
    """
    mu_s = mu.detach().expand_as(eps).clone().requires_grad_(True)  # one copy per estimate
    lv_s = log_var.detach().expand_as(eps).clone().requires_grad_(True)
    z = mu_s + torch.exp(0.5 * lv_s) * eps
    g_mu, g_lv = torch.autograd.grad(f(z).sum(), (mu_s, lv_s))
    return g_mu, g_lv


@register(
    "vae.score_function_gradient",
    paper="Williams 1992, Machine Learning 8 (REINFORCE); Mohamed et al. 2020, arXiv:1906.10652",
    reference="exact gradient of E[sum z^2] = sum mu^2 + sigma^2 (float64)",
)
def score_function_gradient(
    f: Callable[[Tensor], Tensor],
    mu: Tensor,
    log_var: Tensor,
    eps: Tensor,
    *,
    baseline: float | Tensor = 0.0,
) -> tuple[Tensor, Tensor]:
    r"""Eqs. (2)-(3): :math:`(f(z) - b)\nabla_\phi \log q(z)` per draw :math:`z = \mu +
    \sigma\epsilon` (no gradient flows through f).

    Shape:
        mu, log_var: (D,); eps: (S, D) -> two (S, D) tensors.
    """
    with torch.no_grad():
        sigma2 = torch.exp(log_var)
        z = mu + torch.sqrt(sigma2) * eps  # (S, D)
        weight = (f(z) - baseline).unsqueeze(-1)  # (S, 1)
        score_mu = (z - mu) / sigma2  # Eq. (3)
        score_lv = 0.5 * ((z - mu) ** 2 / sigma2 - 1.0)
        return weight * score_mu, weight * score_lv
