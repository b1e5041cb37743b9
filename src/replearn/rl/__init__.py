"""Reinforcement learning: MDPs and dynamic programming, tabular Q-learning/SARSA, DQN,
REINFORCE, A2C, PPO, and a reward-hacking gridworld.

The loss functions of policy-gradient methods (:mod:`replearn.rl.losses`) are pure
functions shared with :mod:`replearn.rlhf`. Modules: ``mdp`` and ``dp`` (finite MDPs,
Bellman operators, policy evaluation, value and policy iteration), ``tabular``
(Q-learning, SARSA), ``envs`` (checkpointable vector environments), ``agents``
(actor-critic, Q-network), ``rollout``, ``pg`` (REINFORCE, A2C), ``ppo``, ``dqn``,
``hacking`` (proxy-reward gridworld).
"""

from replearn.rl.agents import ActorCritic, QNetwork
from replearn.rl.dp import (
    bellman_expectation,
    bellman_optimality,
    greedy_policy,
    policy_evaluation_exact,
    policy_evaluation_iterative,
    policy_iteration,
    q_from_v,
    value_iteration,
)
from replearn.rl.dqn import ReplayBuffer, dqn_loss, dqn_targets, linear_epsilon
from replearn.rl.envs import VectorEnv
from replearn.rl.hacking import ProxyBonusGrid
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
from replearn.rl.mdp import TabularMDP, from_gymnasium
from replearn.rl.pg import a2c_loss, complete_episode_mask, reinforce_loss
from replearn.rl.ppo import PPOHyperparameters, ppo_update, rollout_batch
from replearn.rl.rollout import Rollout, collect_rollout, evaluate_policy
from replearn.rl.tabular import TabularTD

__all__ = [
    "ActorCritic",
    "PPOHyperparameters",
    "ProxyBonusGrid",
    "QNetwork",
    "ReplayBuffer",
    "Rollout",
    "TabularMDP",
    "TabularTD",
    "VectorEnv",
    "a2c_loss",
    "approx_kl",
    "bellman_expectation",
    "bellman_optimality",
    "clip_fraction",
    "clipped_surrogate",
    "collect_rollout",
    "complete_episode_mask",
    "discounted_returns",
    "dqn_loss",
    "dqn_targets",
    "entropy_bonus",
    "evaluate_policy",
    "from_gymnasium",
    "gae_advantages",
    "greedy_policy",
    "linear_epsilon",
    "masked_mean",
    "policy_evaluation_exact",
    "policy_evaluation_iterative",
    "policy_iteration",
    "policy_loss",
    "ppo_update",
    "q_from_v",
    "reinforce_loss",
    "rollout_batch",
    "value_iteration",
    "value_loss",
]
