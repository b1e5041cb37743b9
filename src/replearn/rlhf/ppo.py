r"""PPO-RLHF: the KL-shaped per-token reward, GAE over response tokens, the clipped losses.

Papers: D. M. Ziegler et al., "Fine-tuning language models from human preferences", 2019,
arXiv:1909.08593; N. Stiennon et al. 2020, arXiv:2009.01325; L. Ouyang et al. (InstructGPT)
2022, arXiv:2203.02155, Eq. (2); J. Schulman et al., PPO, 2017, arXiv:1707.06347; GAE,
arXiv:1506.02438. S. Huang et al., "The N+ implementation details of RLHF with PPO", 2024,
arXiv:2403.17031 (the details followed here).

One response is an episode of :math:`R` steps (tokens). With the sequence score :math:`R(x, a)`
from the reward model, the per-token reward is Eq. (3) of :mod:`replearn.rlhf.kl`:

.. math::

    \tilde R_t = -\beta \log\frac{\pi_{\theta_{old}}(a_t|s_t)}{\pi_{ref}(a_t|s_t)}
                 + [t = R]\,R(x, a)                                                  \qquad (1)

so PPO maximizes :math:`J = \mathbb E[R] - \beta\,\mathrm{KL}[\pi_\theta\|\pi_{ref}]`
(InstructGPT Eq. 2 without the pretraining term). Advantages are GAE over the tokens of each
response (:func:`replearn.rl.losses.gae_advantages`, :math:`\gamma = 1`, :math:`\lambda = 0.95`
by default; the episode ends at the end token) and value targets
:math:`G_t = \hat A_t + V_t`; advantages are whitened over the response tokens of the batch.
The loss is PPO's clipped surrogate plus the clipped value loss
(:func:`replearn.rl.losses.clipped_surrogate`, :func:`~replearn.rl.losses.value_loss`):

.. math::

    \mathcal L = -L^{CLIP}(\theta) + c_V\, L^V(\psi)                                 \qquad (2)

``clip=None`` gives the unclipped importance-weighted policy gradient (for the clipping claim).

Tests: with :math:`\gamma = \lambda = 1` the advantages equal the sum of the future shaped rewards
minus the value, padding after the end token leaks nothing into the response's advantages;
Eq. (2) against the shared PPO functions called by hand.
"""

from __future__ import annotations

import torch
from torch import Tensor

from replearn.rl.losses import clip_fraction, gae_advantages, masked_mean, policy_loss, value_loss
from replearn.rlhf.kl import kl_shaped_rewards

__all__ = ["ppo_rlhf_advantages", "ppo_rlhf_loss", "whiten"]


def whiten(x: Tensor, mask: Tensor, *, shift_mean: bool = True) -> Tensor:
    """Standardize ``x`` over the masked entries (zero mean, unit variance).

    Shape:
        (B, R), (B, R) -> (B, R).
    """
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean).square(), mask)
    out = (x - mean) * torch.rsqrt(var + 1e-8)
    return out if shift_mean else out + mean


def ppo_rlhf_advantages(
    score: Tensor,
    logp: Tensor,
    ref_logp: Tensor,
    values: Tensor,
    mask: Tensor,
    *,
    beta: float,
    gamma: float = 1.0,
    lam: float = 0.95,
) -> tuple[Tensor, Tensor, Tensor]:
    """Eq. (1), then GAE within each response: (advantages, returns, shaped rewards).

    Args:
        score: reward-model score of each response (B,).
        logp: rollout log-probabilities (B, R), detached.
        ref_logp: reference log-probabilities (B, R).
        values: value estimates at the rollout (B, R), detached.
        mask: response mask (B, R); the episode ends at its last 1.

    Shape:
        (B,), (B, R) x 4 -> three (B, R), zero outside the mask.
    """
    mask = mask.to(logp.dtype)
    rewards = kl_shaped_rewards(score, logp, ref_logp, mask, beta=beta)  # (B, R)
    lengths = mask.sum(1).long()  # (B,)
    dones = torch.zeros_like(mask)
    rows = torch.arange(mask.shape[0], device=mask.device)
    has = lengths > 0
    dones[rows[has], lengths[has] - 1] = 1.0  # the response ends at its last token
    v = values * mask
    adv = gae_advantages(
        rewards.T, v.T, dones.T, torch.zeros_like(score, dtype=v.dtype), gamma, lam
    ).T  # (B, R); time-major inside
    adv = adv * mask
    return adv, (adv + v) * mask, rewards


def ppo_rlhf_loss(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    values: Tensor,
    old_values: Tensor,
    returns: Tensor,
    mask: Tensor,
    *,
    clip: float | None = 0.2,
    value_clip: float | None = 0.2,
    vf_coef: float = 0.1,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Eq. (2) on the response tokens; returns the loss and its parts (detached).

    Shape:
        seven (B, R) -> ().
    """
    pg = policy_loss(logp, old_logp, advantages, clip, mask=mask)
    vl = value_loss(values, returns, old_values=old_values, clip=value_clip, mask=mask)
    stats = {
        "policy_loss": pg.detach(),
        "value_loss": vl.detach(),
        "clip_fraction": clip_fraction(logp.detach(), old_logp, clip or 0.2, mask=mask),
    }
    return pg + vf_coef * vl, stats
