r"""GRPO: group relative policy optimization (no critic), DeepSeek-R1-Zero style.

Papers: Z. Shao, P. Wang, Q. Zhu et al., "DeepSeekMath: pushing the limits of mathematical
reasoning in open language models", 2024, arXiv:2402.03300, Sec. 4.1 (Eqs. 3-4); DeepSeek-AI,
"DeepSeek-R1: incentivizing reasoning capability in LLMs via reinforcement learning", 2025,
arXiv:2501.12948, Sec. 2.2 (R1-Zero: GRPO on a base model with rule-based rewards only).

For each prompt :math:`q`, sample a group of :math:`G` responses :math:`o_1..o_G` from the old
policy and score them with rewards :math:`r_1..r_G` (here rule-based:
:mod:`replearn.rlhf.rewards`). The advantage of every token of :math:`o_i` is its reward
standardized within the group (outcome supervision), replacing PPO's learned value baseline:

.. math::

    \hat A_{i,t} = \frac{r_i - \mathrm{mean}(r_1..r_G)}{\mathrm{std}(r_1..r_G) + \epsilon}
                                                                                 \qquad (1)

With :math:`\rho_{i,t} = \pi_\theta(o_{i,t} \mid q, o_{i,<t}) /
\pi_{\theta_{old}}(o_{i,t} \mid q, o_{i,<t})`, the objective (maximized) is

.. math::

    \mathcal J(\theta) = \frac1G \sum_{i=1}^G \frac{1}{|o_i|} \sum_{t=1}^{|o_i|} \Big\{
        \min\big(\rho_{i,t} \hat A_{i,t},\ \mathrm{clip}(\rho_{i,t}, 1-\varepsilon, 1+\varepsilon)
        \hat A_{i,t}\big) - \beta\, \mathbb D_{KL}[\pi_\theta \| \pi_{ref}]_{i,t} \Big\}
                                                                                 \qquad (2)

    \mathbb D_{KL}[\pi_\theta \| \pi_{ref}]_{i,t} =
        \frac{\pi_{ref}(o_{i,t}|\cdot)}{\pi_\theta(o_{i,t}|\cdot)}
        - \log \frac{\pi_{ref}(o_{i,t}|\cdot)}{\pi_\theta(o_{i,t}|\cdot)} - 1     \qquad (3)

Eq. (3) is Schulman's :math:`k_3` (:func:`replearn.rlhf.kl.kl_k3`), added to the loss instead of
being folded into the reward as PPO-RLHF does. The clipped term is PPO's
(:func:`replearn.rl.losses.clipped_surrogate`).

Deviations and options: the std of Eq. (1) is the unbiased one (``torch.std``) with
:math:`\epsilon = 10^{-4}`, as TRL's ``GRPOTrainer``; ``scale_rewards=False`` drops the division
(Dr. GRPO, Liu et al. 2025, arXiv:2503.20783). ``length_norm="token"`` averages over all tokens of
the group instead of per sequence first (DAPO, Yu et al. 2025, arXiv:2503.14476).

Tests: Eqs. (1)-(3) against values computed by hand on small tensors; with one inner step
(:math:`\theta = \theta_{old}`) the gradient equals the REINFORCE-with-group-baseline gradient.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from replearn.rl.losses import clip_fraction, clipped_surrogate, masked_mean
from replearn.rlhf.kl import kl_k3

__all__ = ["group_relative_advantages", "grpo_loss"]


def group_relative_advantages(
    rewards: Tensor, group_size: int, *, eps: float = 1e-4, scale_rewards: bool = True
) -> Tensor:
    r"""Eq. (1): rewards standardized within each group of ``group_size`` consecutive rows.

    Shape:
        rewards (N * G,) with groups contiguous -> (N * G,).
    """
    if group_size < 2 or rewards.numel() % group_size:
        raise ValueError(f"need group_size >= 2 dividing {rewards.numel()}, got {group_size}")
    r = rewards.reshape(-1, group_size)  # (N, G)
    adv = r - r.mean(dim=1, keepdim=True)
    if scale_rewards:
        adv = adv / (r.std(dim=1, keepdim=True) + eps)
    return adv.reshape(-1)


def grpo_loss(
    logp: Tensor,
    old_logp: Tensor,
    ref_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    clip_eps: float = 0.2,
    beta: float = 0.04,
    length_norm: Literal["sequence", "token"] = "sequence",
) -> tuple[Tensor, dict[str, Tensor]]:
    r"""Eqs. (2)-(3): the negated GRPO objective and its diagnostics.

    Args:
        logp: :math:`\log\pi_\theta` of the sampled tokens (with gradient).
        old_logp: :math:`\log\pi_{\theta_{old}}` at sampling time (detached).
        ref_logp: :math:`\log\pi_{ref}` (detached).
        advantages: Eq. (1), one per sequence.
        mask: 1 on response tokens.
        clip_eps: :math:`\varepsilon`.
        beta: KL weight :math:`\beta \ge 0`.
        length_norm: ``"sequence"`` (Eq. 2) or ``"token"`` (DAPO).

    Returns:
        loss :math:`-\mathcal J` and ``{"kl", "clip_fraction"}`` (detached, token means).

    Shape:
        logp, old_logp, ref_logp, mask (B, T), advantages (B,) -> ().
    """
    if clip_eps <= 0 or beta < 0:
        raise ValueError(f"need clip_eps > 0 and beta >= 0, got {clip_eps}, {beta}")
    if length_norm not in ("sequence", "token"):
        raise ValueError(f"length_norm must be 'sequence' or 'token', got {length_norm!r}")
    mask = mask.to(logp.dtype)
    adv = advantages.to(logp.dtype)[:, None].expand_as(logp)  # (B, T)
    surrogate = clipped_surrogate(logp, old_logp, adv, clip_eps, reduction="none")  # (B, T)
    kl = kl_k3(logp, ref_logp)  # Eq. (3), (B, T)
    per_token = surrogate - beta * kl  # (B, T)
    if length_norm == "sequence":
        objective = ((per_token * mask).sum(1) / mask.sum(1).clamp_min(1)).mean()
    else:
        objective = masked_mean(per_token, mask)
    stats = {
        "kl": masked_mean(kl.detach(), mask),
        "clip_fraction": clip_fraction(logp.detach(), old_logp, clip_eps, mask=mask),
    }
    return -objective, stats
