r"""Deep Q-networks: replay buffer, target network, Huber loss, ε schedule, Double DQN.

Papers: V. Mnih et al., "Human-level control through deep reinforcement learning",
Nature 518, 2015 (DQN; Algorithm 1); H. van Hasselt, A. Guez & D. Silver, "Deep
reinforcement learning with double Q-learning", AAAI 2016, arXiv:1509.06461 (Double DQN).

With online parameters :math:`\theta`, target parameters :math:`\theta^-`, and
:math:`m = 1 - \text{terminated}`:

.. math::

    y = r + \gamma\, m\, \max_{a'} Q_{\theta^-}(s', a')   \qquad (1)\ \text{DQN target}

    y = r + \gamma\, m\, Q_{\theta^-}\big(s', \arg\max_{a'} Q_\theta(s', a')\big)
        \qquad (2)\ \text{Double DQN target}

    L(\theta) = \hat{\mathbb E}_{(s,a,r,s') \sim \mathcal D}
        \big[\ell_\delta(Q_\theta(s,a) - y)\big],\quad
        \ell_\delta(x) = \begin{cases} x^2/2 & |x| \le \delta \\
        \delta(|x| - \delta/2) & \text{else} \end{cases}
        \qquad (3)\ \text{Huber loss, } \delta = 1

    \varepsilon_t = \varepsilon_0 + \min(1, t / (f\, T))\,(\varepsilon_1 - \varepsilon_0)
        \qquad (4)\ \text{linear exploration schedule}

:math:`\theta^-` is copied from :math:`\theta` every ``target_update_interval`` steps;
without a target network :math:`\theta^- = \theta` at every step. The targets are
constants (no gradient). Only termination stops the bootstrap; a time-limit truncation
stores the true last observation as :math:`s'` and :math:`m = 1` (stable-baselines3's
``handle_timeout_termination``).

The replay buffer is an ``nn.Module`` whose storage and cursor are buffers, so the
engine's checkpoints carry it and a resumed run samples the same minibatches.

Tests: (1)-(2) by hand; (3) against ``F.huber_loss``; (4) by hand; the buffer's FIFO
overwrite and uniform sampling; its state round-trips through ``state_dict``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.registry import register

__all__ = ["ReplayBuffer", "dqn_loss", "dqn_targets", "linear_epsilon"]


@register(
    "rl.dqn",
    paper="Mnih et al. 2015, Nature 518; van Hasselt, Guez & Silver 2016, arXiv:1509.06461",
    reference="targets by hand; Huber loss against F.huber_loss",
)
def dqn_targets(
    rewards: Tensor,
    terminated: Tensor,
    next_q_target: Tensor,
    gamma: float,
    *,
    next_q_online: Tensor | None = None,
) -> Tensor:
    """DQN targets (Eq. 1), or Double DQN targets (Eq. 2) when ``next_q_online`` is given.

    Shape:
        rewards, terminated: (B,); next_q_target, next_q_online: (B, A); output: (B,).
    """
    with torch.no_grad():
        if next_q_online is None:
            next_v = next_q_target.max(-1).values  # Eq. (1)
        else:
            a_star = next_q_online.argmax(-1, keepdim=True)
            next_v = next_q_target.gather(-1, a_star).squeeze(-1)  # Eq. (2)
        return rewards + gamma * (1.0 - terminated.float()) * next_v


def dqn_loss(q_values: Tensor, actions: Tensor, targets: Tensor, *, delta: float = 1.0) -> Tensor:
    r"""Huber loss between :math:`Q_\theta(s,a)` and the targets (Eq. 3).

    Shape:
        q_values: (B, A); actions, targets: (B,); output: scalar.
    """
    q_sa = q_values.gather(-1, actions.long()[:, None]).squeeze(-1)  # (B,)
    return F.huber_loss(q_sa, targets.detach(), delta=delta)


def linear_epsilon(step: int, *, start: float, end: float, duration: int) -> float:
    """Linear ε schedule (Eq. 4): ``start`` at step 0, ``end`` from ``duration`` on."""
    if duration <= 0 or step >= duration:
        return end
    return start + min(1.0, step / duration) * (end - start)


class ReplayBuffer(nn.Module):
    """A FIFO experience replay memory stored in tensors (checkpointed as buffers).

    Args:
        capacity: transitions kept; the oldest is overwritten first.
        obs_dim: length of a flat observation.

    Shape:
        ``add``: obs, next_obs (B, obs_dim); actions, rewards, terminated (B,).
    """

    def __init__(self, capacity: int, obs_dim: int) -> None:
        super().__init__()
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity, self.obs_dim = capacity, obs_dim
        self.register_buffer("obs", torch.zeros(capacity, obs_dim))
        self.register_buffer("next_obs", torch.zeros(capacity, obs_dim))
        self.register_buffer("actions", torch.zeros(capacity, dtype=torch.long))
        self.register_buffer("rewards", torch.zeros(capacity))
        self.register_buffer("terminated", torch.zeros(capacity))
        self.register_buffer("cursor", torch.zeros((), dtype=torch.long))  # next slot
        self.register_buffer("size", torch.zeros((), dtype=torch.long))

    def __len__(self) -> int:
        return int(self.size)

    def add(
        self, obs: Tensor, actions: Tensor, rewards: Tensor, next_obs: Tensor, terminated: Tensor
    ) -> None:
        """Append a batch of transitions (one per environment copy)."""
        n = obs.shape[0]
        start = int(self.cursor)
        if self.obs.device.type == "cpu" and start + n <= self.capacity:
            # fast path: write through numpy views of the same memory (a torch index_put
            # per field costs several microseconds per call, once per environment step)
            sl = slice(start, start + n)
            self.obs.numpy()[sl] = obs.numpy()
            self.next_obs.numpy()[sl] = next_obs.numpy()
            self.actions.numpy()[sl] = actions.numpy()
            self.rewards.numpy()[sl] = rewards.numpy()
            self.terminated.numpy()[sl] = terminated.numpy()
        else:
            idx = (start + torch.arange(n, device=self.obs.device)) % self.capacity
            self.obs[idx] = obs.to(self.obs)
            self.next_obs[idx] = next_obs.to(self.obs)
            self.actions[idx] = actions.to(self.actions)
            self.rewards[idx] = rewards.to(self.rewards)
            self.terminated[idx] = terminated.to(self.terminated)
        self.cursor.fill_((start + n) % self.capacity)
        self.size.fill_(min(int(self.size) + n, self.capacity))

    def sample(
        self, batch_size: int, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """A uniform minibatch (with replacement, as stable-baselines3)."""
        if len(self) == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        idx = torch.randint(len(self), (batch_size,), generator=generator).to(self.obs.device)
        return {
            "obs": self.obs[idx],
            "actions": self.actions[idx],
            "rewards": self.rewards[idx],
            "next_obs": self.next_obs[idx],
            "terminated": self.terminated[idx],
        }

    def extra_repr(self) -> str:
        return f"capacity={self.capacity}, obs_dim={self.obs_dim}"
