"""Reinforcement learning: MDPs and dynamic programming, tabular Q-learning/SARSA, DQN,
REINFORCE, A2C, PPO, and a reward-hacking gridworld.

The loss functions of policy-gradient methods (:mod:`replearn.rl.losses`) are pure
functions shared with :mod:`replearn.rlhf`.
"""

from replearn.rl.losses import (
    approx_kl,
    clip_fraction,
    clipped_surrogate,
    discounted_returns,
    entropy_bonus,
    gae_advantages,
    masked_mean,
    policy_loss,
    value_loss,
)

__all__ = [
    "approx_kl",
    "clip_fraction",
    "clipped_surrogate",
    "discounted_returns",
    "entropy_bonus",
    "gae_advantages",
    "masked_mean",
    "policy_loss",
    "value_loss",
]
