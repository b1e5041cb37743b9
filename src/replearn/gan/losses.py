r"""GAN objectives and the divergences they minimize, as pure functions.

Papers: I. Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014,
arXiv:1406.2661 (Eq. 1, Prop. 1, Thm. 1); M. Arjovsky, S. Chintala & L. Bottou,
"Wasserstein GAN", ICML 2017, arXiv:1701.07875 (Eq. 2-3, Example 1); J. H. Lim &
J. C. Ye, "Geometric GAN", 2017, arXiv:1705.02894 and T. Miyato et al. 2018,
arXiv:1802.05957 (hinge loss); X. Mao et al., "Least Squares GANs", ICCV 2017,
arXiv:1611.04076 (Eq. 2, a=0, b=c=1).

With the discriminator's logit :math:`l(x)`, :math:`D(x) = \sigma(l(x))`, and
:math:`\log\sigma(l) = -\operatorname{softplus}(-l)`,
:math:`\log(1 - \sigma(l)) = -\operatorname{softplus}(l)`:

.. math::

    V(G, D) = \mathbb{E}_{x \sim p_{data}} \log D(x)
            + \mathbb{E}_{z} \log(1 - D(G(z)))                                   \qquad (1)

    L_D = -V = \mathbb{E}\operatorname{softplus}(-l(x))
             + \mathbb{E}\operatorname{softplus}(l(G(z)))                        \qquad (2)

    L_G^{sat} = \mathbb{E}\log(1 - D(G(z))), \qquad
    L_G^{ns} = -\mathbb{E}\log D(G(z))                                            \qquad (3)

    D^*(x) = \frac{p_{data}(x)}{p_{data}(x) + p_G(x)}                             \qquad (4)

    V(G, D^*) = -\log 4 + 2\,\mathrm{JS}(p_{data} \,\|\, p_G)                     \qquad (5)

    L_f = \mathbb{E} f(G(z)) - \mathbb{E} f(x), \qquad L_G^{W} = -\mathbb{E} f(G(z))
                                                                                   \qquad (6)

    L_D^{hinge} = \mathbb{E}[1 - l(x)]_+ + \mathbb{E}[1 + l(G(z))]_+, \qquad
    L_G^{hinge} = -\mathbb{E}\, l(G(z))                                           \qquad (7)

    L_D^{LS} = \tfrac12\mathbb{E}(l(x) - 1)^2 + \tfrac12\mathbb{E}\, l(G(z))^2, \qquad
    L_G^{LS} = \tfrac12\mathbb{E}(l(G(z)) - 1)^2                                   \qquad (8)

    W_1(P, Q) = \int_{-\infty}^{\infty} |F_P(t) - F_Q(t)|\, dt \quad (\text{1-D})  \qquad (9)

The saturating loss' gradient with respect to the logit is
:math:`\partial_l \log(1-\sigma(l)) = -\sigma(l)`, which vanishes when D confidently
rejects the samples (:math:`l \to -\infty`); the non-saturating one,
:math:`-\partial_l \log\sigma(l) = -(1 - \sigma(l))`, tends to -1 there (Goodfellow
et al. 2014, Sec. 3). Both have the same fixed point.

Tests: Eq. (2)-(3) against ``F.binary_cross_entropy_with_logits``; Eq. (4)-(5) on
random discrete distributions (D* maximizes V; V(G, D*) equals -log 4 + 2 JS with JS
from ``scipy.spatial.distance.jensenshannon``); Eq. (9) against
``scipy.stats.wasserstein_distance`` for weighted samples; the logit gradients above.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from replearn.registry import register

__all__ = [
    "LOSSES",
    "d_loss",
    "discriminator_hinge_loss",
    "discriminator_ls_loss",
    "discriminator_minimax_loss",
    "g_loss",
    "gan_value",
    "generator_hinge_loss",
    "generator_ls_loss",
    "generator_nonsaturating_loss",
    "generator_saturating_loss",
    "js_divergence",
    "optimal_discriminator",
    "wasserstein_1d",
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
]


def discriminator_minimax_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    r"""Eq. (2): :math:`-V`, the binary cross-entropy of real (label 1) vs fake (label 0).

    Shape:
        real_logits: (B,) or (B, ...), fake_logits: (B', ...) -> scalar.
    """
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_saturating_loss(fake_logits: Tensor) -> Tensor:
    r"""Eq. (3), minimax: :math:`\mathbb{E}\log(1 - D(G(z)))` (minimized by G).

    Shape:
        fake_logits: (B, ...) -> scalar.
    """
    return -F.softplus(fake_logits).mean()


def generator_nonsaturating_loss(fake_logits: Tensor) -> Tensor:
    r"""Eq. (3), non-saturating: :math:`-\mathbb{E}\log D(G(z))` (minimized by G).

    Shape:
        fake_logits: (B, ...) -> scalar.
    """
    return F.softplus(-fake_logits).mean()


def wasserstein_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    r"""Eq. (6): :math:`\mathbb{E} f(G(z)) - \mathbb{E} f(x)` (minus the W₁ estimate).

    Shape:
        real_scores: (B, ...), fake_scores: (B', ...) -> scalar.
    """
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores: Tensor) -> Tensor:
    r"""Eq. (6): :math:`-\mathbb{E} f(G(z))`.

    Shape:
        fake_scores: (B, ...) -> scalar.
    """
    return -fake_scores.mean()


def discriminator_hinge_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    r"""Eq. (7): :math:`\mathbb{E}[1 - l(x)]_+ + \mathbb{E}[1 + l(G(z))]_+`.

    Shape:
        real_logits: (B, ...), fake_logits: (B', ...) -> scalar.
    """
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def generator_hinge_loss(fake_logits: Tensor) -> Tensor:
    r"""Eq. (7): :math:`-\mathbb{E}\, l(G(z))`.

    Shape:
        fake_logits: (B, ...) -> scalar.
    """
    return -fake_logits.mean()


def discriminator_ls_loss(real_out: Tensor, fake_out: Tensor) -> Tensor:
    r"""Eq. (8): :math:`\tfrac12\mathbb{E}(D(x) - 1)^2 + \tfrac12\mathbb{E} D(G(z))^2`.

    Shape:
        real_out: (B, ...), fake_out: (B', ...) -> scalar.
    """
    return 0.5 * (real_out - 1.0).square().mean() + 0.5 * fake_out.square().mean()


def generator_ls_loss(fake_out: Tensor) -> Tensor:
    r"""Eq. (8): :math:`\tfrac12\mathbb{E}(D(G(z)) - 1)^2`.

    Shape:
        fake_out: (B, ...) -> scalar.
    """
    return 0.5 * (fake_out - 1.0).square().mean()


# name -> (discriminator loss, generator loss)
LOSSES = {
    "minimax": (discriminator_minimax_loss, generator_saturating_loss),
    "nonsaturating": (discriminator_minimax_loss, generator_nonsaturating_loss),
    "wasserstein": (wasserstein_critic_loss, wasserstein_generator_loss),
    "hinge": (discriminator_hinge_loss, generator_hinge_loss),
    "least-squares": (discriminator_ls_loss, generator_ls_loss),
}


def _check_loss(name: str) -> None:
    if name not in LOSSES:
        raise ValueError(f"unknown GAN loss {name!r}; known: {', '.join(LOSSES)}")


@register(
    "gan.d_loss",
    paper="Goodfellow et al. 2014 (arXiv:1406.2661); Arjovsky et al. 2017 (arXiv:1701.07875); "
    "Lim & Ye 2017 (arXiv:1705.02894); Mao et al. 2017 (arXiv:1611.04076)",
    reference="F.binary_cross_entropy_with_logits; closed forms",
)
def d_loss(name: str, real: Tensor, fake: Tensor) -> Tensor:
    """The discriminator / critic loss named ``name`` (a key of :data:`LOSSES`).

    Shape:
        real: (B, ...), fake: (B', ...) -> scalar.
    """
    _check_loss(name)
    return LOSSES[name][0](real, fake)


def g_loss(name: str, fake: Tensor) -> Tensor:
    """The generator loss named ``name`` (a key of :data:`LOSSES`).

    Shape:
        fake: (B, ...) -> scalar.
    """
    _check_loss(name)
    return LOSSES[name][1](fake)


# -- theory on discrete distributions ----------------------------------------------------


@register(
    "gan.optimal_discriminator",
    paper="Goodfellow et al. 2014, arXiv:1406.2661 (Prop. 1)",
    reference="numerical maximization of V on discrete distributions",
)
def optimal_discriminator(p_data: Tensor, p_g: Tensor) -> Tensor:
    r"""Eq. (4): :math:`D^* = p_{data} / (p_{data} + p_G)` (0.5 where both are 0).

    Shape:
        p_data, p_g: (K,) probabilities over the same K outcomes -> (K,).
    """
    total = p_data + p_g
    return torch.where(total > 0, p_data / total.clamp_min(1e-300), torch.full_like(total, 0.5))


def gan_value(p_data: Tensor, p_g: Tensor, d: Tensor) -> Tensor:
    r"""Eq. (1) on discrete distributions: :math:`\sum_k p_{data,k}\log d_k + p_{G,k}\log(1-d_k)`.

    Terms with zero probability count 0 (:math:`0 \log 0 = 0`).

    Shape:
        p_data, p_g, d: (K,) -> scalar.
    """
    real = torch.where(p_data > 0, p_data * torch.log(d.clamp_min(1e-300)), 0.0)
    fake = torch.where(p_g > 0, p_g * torch.log((1 - d).clamp_min(1e-300)), 0.0)
    return real.sum() + fake.sum()


@register(
    "gan.js_divergence",
    paper="Goodfellow et al. 2014, arXiv:1406.2661 (Thm. 1)",
    reference="scipy.spatial.distance.jensenshannon (squared, natural log)",
)
def js_divergence(p: Tensor, q: Tensor) -> Tensor:
    r"""Jensen-Shannon divergence in nats.

    .. math::

        \mathrm{JS}(p \| q) = \tfrac12\mathrm{KL}(p\|m) + \tfrac12\mathrm{KL}(q\|m),
        \quad m = (p+q)/2

    Shape:
        p, q: (K,) -> scalar in [0, log 2].
    """
    m = 0.5 * (p + q)

    def kl(a: Tensor) -> Tensor:
        return torch.where(a > 0, a * (a.clamp_min(1e-300).log() - m.clamp_min(1e-300).log()), 0.0)

    return 0.5 * kl(p).sum() + 0.5 * kl(q).sum()


def minimax_value_at_optimum(p_data: Tensor, p_g: Tensor) -> Tensor:
    """Eq. (5): :math:`-\\log 4 + 2\\,\\mathrm{JS}(p_{data} \\| p_G)`.

    Shape:
        p_data, p_g: (K,) -> scalar.
    """
    return -math.log(4.0) + 2.0 * js_divergence(p_data, p_g)


@register(
    "gan.wasserstein_1d",
    paper="Arjovsky et al. 2017, arXiv:1701.07875 (Eq. 1); Vallender 1974",
    reference="scipy.stats.wasserstein_distance",
)
def wasserstein_1d(
    u: Tensor, v: Tensor, u_weights: Tensor | None = None, v_weights: Tensor | None = None
) -> Tensor:
    r"""Exact 1-D Earth-Mover distance, Eq. (9), between two weighted point sets.

    The CDFs are step functions, so the integral is a sum over the merged sorted
    support: :math:`\sum_i |F_P(t_i) - F_Q(t_i)|\,(t_{i+1} - t_i)`. Differentiable in
    the locations ``u``, ``v`` (as ``torch.sort`` is).

    Shape:
        u: (n,), v: (m,), weights (n,), (m,) non-negative (default uniform) -> scalar.
    """
    uw = torch.ones_like(u) if u_weights is None else u_weights.to(u.dtype)
    vw = torch.ones_like(v) if v_weights is None else v_weights.to(v.dtype)
    uw, vw = uw / uw.sum(), vw / vw.sum()
    t = torch.cat([u, v])  # (n + m,)
    w = torch.cat([uw, -vw])  # mass of P minus mass of Q at each location
    order = torch.argsort(t.detach())
    t, w = t[order], w[order]
    cdf_diff = torch.cumsum(w, 0)[:-1]  # F_P - F_Q on [t_i, t_{i+1})
    return (cdf_diff.abs() * (t[1:] - t[:-1])).sum()
