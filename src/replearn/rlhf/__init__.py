"""RLHF: SFT, Bradley-Terry reward models, PPO with a KL penalty, GRPO, DPO, best-of-n."""

from replearn.rlhf.best_of_n import best_of_n, best_of_n_kl
from replearn.rlhf.dpo import dpo_implicit_reward, dpo_loss
from replearn.rlhf.grpo import group_relative_advantages, grpo_loss
from replearn.rlhf.kl import (
    AdaptiveKLController,
    FixedKLController,
    exact_kl,
    kl_k1,
    kl_k2,
    kl_k3,
    kl_shaped_rewards,
)
from replearn.rlhf.rejection_sampling import rejection_sample
from replearn.rlhf.reward_model import (
    RewardModel,
    bradley_terry_loss,
    final_hidden,
    preference_probability,
)
from replearn.rlhf.rewards import accuracy_reward, format_reward, parse_answer
from replearn.rlhf.sft import response_mask, sft_loss, token_logprobs

__all__ = [
    "AdaptiveKLController",
    "FixedKLController",
    "RewardModel",
    "accuracy_reward",
    "best_of_n",
    "best_of_n_kl",
    "bradley_terry_loss",
    "dpo_implicit_reward",
    "dpo_loss",
    "exact_kl",
    "final_hidden",
    "format_reward",
    "group_relative_advantages",
    "grpo_loss",
    "kl_k1",
    "kl_k2",
    "kl_k3",
    "kl_shaped_rewards",
    "parse_answer",
    "preference_probability",
    "rejection_sample",
    "response_mask",
    "sft_loss",
    "token_logprobs",
]  # fmt: skip
