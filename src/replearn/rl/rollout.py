r"""On-policy rollouts for REINFORCE, A2C and PPO, and policy evaluation episodes.

A rollout runs a policy for ``n_steps`` steps in each of the ``N`` copies of a
:class:`~replearn.rl.envs.VectorEnv` and records, time-major, what the losses of
:mod:`replearn.rl.losses` need. Time-limit truncation is not termination: where an
episode was cut by the time limit, the value of its last observation is added to the
reward, :math:`r_t \leftarrow r_t + \gamma V(s_{final})`, and the step is marked done
(stable-baselines3's treatment, "The 37 implementation details of PPO", detail 7 of the
CleanRL write-up discusses the alternative of ignoring it).

Tests: shapes; the bootstrap on truncation; ``evaluate_policy`` counts whole episodes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from replearn.rl.agents import ActorCritic
from replearn.rl.envs import VectorEnv

__all__ = ["Rollout", "collect_rollout", "evaluate_policy"]


@dataclass
class Rollout:
    """One on-policy batch, time-major.

    Attributes:
        obs: (T, N, D) observations the actions were taken in.
        actions: (T, N) actions.
        logp: (T, N) log-probabilities of the actions under the behaviour policy.
        values: (T, N) critic values :math:`V(s_t)`.
        rewards: (T, N) rewards (bootstrapped where truncated).
        dones: (T, N) 1 where the episode ended after this step.
        last_value: (N,) :math:`V` of the observation after the last step.
    """

    obs: Tensor
    actions: Tensor
    logp: Tensor
    values: Tensor
    rewards: Tensor
    dones: Tensor
    last_value: Tensor

    @property
    def env_steps(self) -> int:
        """Transitions in the batch, T * N."""
        return self.actions.numel()


@torch.no_grad()
def collect_rollout(agent: ActorCritic, envs: VectorEnv, n_steps: int, gamma: float) -> Rollout:
    """Run ``agent`` for ``n_steps`` steps in every copy of ``envs``.

    The rollout's tensors sit on the agent's device (observations go there, actions come
    back to the CPU for the environments), as CleanRL's buffers.
    """
    T, N = n_steps, envs.num_envs
    dev = next(agent.parameters()).device
    obs = torch.zeros(T, N, envs.obs_dim, device=dev)
    actions = torch.zeros(T, N, dtype=torch.long, device=dev)
    logp = torch.zeros(T, N, device=dev)
    values = torch.zeros(T, N, device=dev)
    rewards = torch.zeros(T, N, device=dev)
    dones = torch.zeros(T, N, device=dev)
    for t in range(T):
        o = envs.obs.to(dev)
        obs[t] = o
        a, lp, v = agent.act(o)
        actions[t], logp[t], values[t] = a, lp, v
        _, r, term, trunc, final_obs = envs.step(a.cpu().numpy())
        r, term, trunc = r.to(dev), term.to(dev), trunc.to(dev)
        if bool(trunc.any()):
            r = r + gamma * trunc.float() * agent.value(final_obs.to(dev))
        rewards[t] = r
        dones[t] = (term | trunc).float()
    last_value = agent.value(envs.obs.to(dev))
    return Rollout(obs, actions, logp, values, rewards, dones, last_value)


@torch.no_grad()
def evaluate_policy(
    policy: Callable[[Tensor], Tensor],
    make_envs: Callable[[], VectorEnv],
    n_episodes: int,
) -> list[float]:
    """Undiscounted returns of the first ``n_episodes`` episodes ``policy`` completes.

    ``policy`` maps CPU observations (N, D) to actions (N,) on any device. Each copy of the fresh
    ``make_envs()`` pool runs whole episodes until ``n_episodes`` have finished; copies
    stop starting new episodes once enough are under way, so long episodes are not
    under-counted (SB3's ``evaluate_policy`` spreads the episodes over the copies the
    same way).
    """
    envs = make_envs()
    N = envs.num_envs
    targets = np.array([(n_episodes + i) // N for i in range(N)])  # episodes per copy
    counts = np.zeros(N, dtype=np.int64)
    returns: list[float] = []
    while len(returns) < n_episodes:
        _, _, term, trunc, _ = envs.step(policy(envs.obs).cpu().numpy())
        finished = (term | trunc).numpy()
        done_eps = envs.drain_episodes()
        for j, i in enumerate(np.flatnonzero(finished)):
            if counts[i] < targets[i]:
                returns.append(done_eps[j]["return"])
            counts[i] += 1
    return returns
