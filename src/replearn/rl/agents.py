r"""Networks of the deep RL agents: a categorical actor-critic and a Q-network.

Both are :class:`~replearn.fundamentals.mlp.MLP` stacks. The actor-critic follows the
"MlpPolicy" of stable-baselines3 and CleanRL's ``ppo.py`` (Huang et al., "The 37
implementation details of proximal policy optimization", ICLR blog track 2022): separate
actor and critic networks of two tanh layers of 64 units, orthogonal initialization with
gain :math:`\sqrt 2` in hidden layers, 0.01 on the policy head and 1 on the value head,
zero biases. The policy is categorical:

.. math::

    \pi_\theta(a|s) = \operatorname{softmax}(f_\theta(s))_a, \qquad V_\phi(s) = g_\phi(s)

The Q-network (Mnih et al., "Human-level control through deep reinforcement learning",
Nature 518, 2015) maps a state to one value per action, :math:`Q_\theta(s, \cdot)`, with
PyTorch's default initialization (as stable-baselines3's DQN).

Tests: shapes; ``evaluate_actions`` agrees with ``torch.distributions.Categorical``; the
orthogonal initialization has the stated gains.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.fundamentals.mlp import ACTIVATIONS, MLP
from replearn.registry import Example, register

__all__ = ["ActorCritic", "QNetwork", "mlp_forward"]


def mlp_forward(mlp: MLP, x: Tensor) -> Tensor:
    """``mlp(x)`` for 2-D input without dropout, in fewer Python steps (no module calls,
    no ModuleList slicing): the per-environment-step forward of small RL networks is
    dominated by such overhead. Equal to ``mlp(x)`` (tested).

    Shape:
        x: (B, in_features); output: (B, out_features).
    """
    act = ACTIVATIONS[mlp.activation]
    last = len(mlp.layers) - 1
    for i, layer in enumerate(mlp.layers):
        x = F.linear(x, layer.weight, layer.bias)
        if i < last:
            x = act(x)
    return x


def _orthogonal(mlp: MLP, last_gain: float) -> MLP:
    for i, layer in enumerate(mlp.layers):
        gain = last_gain if i == len(mlp.layers) - 1 else math.sqrt(2.0)
        nn.init.orthogonal_(layer.weight, gain=gain)
        nn.init.zeros_(layer.bias)
    return mlp


def _ac_example() -> Example:
    return Example(ActorCritic(4, 2, hidden=(8, 8)), (torch.randn(5, 4),), (5, 3))


@register(
    "rl.actor_critic",
    paper="Schulman et al. 2017, arXiv:1707.06347; Huang et al. 2022 (ICLR blog track)",
    reference="torch.distributions.Categorical log-probabilities and entropies",
    example=_ac_example,
)
class ActorCritic(nn.Module):
    """Separate MLP actor (categorical logits) and critic (state value).

    Args:
        obs_dim: length of a flat observation.
        n_actions: number of discrete actions.
        hidden: hidden widths of each network.
        activation: hidden non-linearity.
        orthogonal_init: the initialization of the module docstring (else PyTorch's).

    Shape:
        forward: (B, obs_dim) -> (B, n_actions + 1) (logits, then V);
        ``value``: (B, obs_dim) -> (B,).
    """

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        *,
        hidden: tuple[int, ...] = (64, 64),
        activation: str = "tanh",
        orthogonal_init: bool = True,
    ) -> None:
        super().__init__()
        if n_actions < 2:
            raise ValueError(f"n_actions must be >= 2, got {n_actions}")
        self.obs_dim, self.n_actions, self.hidden = obs_dim, n_actions, tuple(hidden)
        kw = {"activation": activation, "flatten": False}
        self.actor = MLP(obs_dim, self.hidden, n_actions, **kw)
        self.critic = MLP(obs_dim, self.hidden, 1, **kw)
        if orthogonal_init:
            _orthogonal(self.actor, 0.01)
            _orthogonal(self.critic, 1.0)

    def forward(self, obs: Tensor) -> Tensor:
        """Policy logits and state value side by side, ``[logits, V]`` (one output for
        generic tools; the algorithms call :meth:`evaluate_actions`, :meth:`act`,
        :meth:`value`)."""
        return torch.cat([mlp_forward(self.actor, obs), self.value(obs)[:, None]], -1)  # (B, A + 1)

    def value(self, obs: Tensor) -> Tensor:
        """State values :math:`V(s)`."""
        return mlp_forward(self.critic, obs).squeeze(-1)  # (B,)

    @torch.no_grad()
    def act(self, obs: Tensor, *, greedy: bool = False) -> tuple[Tensor, Tensor, Tensor]:
        """Sample (or take the most probable) actions; returns ``(actions, log_probs, values)``.

        Sampling uses the global torch RNG (checkpointed by the engine).
        """
        logits = mlp_forward(self.actor, obs)
        logp_all = torch.log_softmax(logits, -1)  # (B, A)
        if greedy:
            actions = logits.argmax(-1)  # (B,)
            logp = logp_all.gather(-1, actions[:, None]).squeeze(-1)
            return actions, logp, self.value(obs)
        actions = torch.multinomial(logp_all.exp(), 1).squeeze(-1)  # (B,)
        logp = logp_all.gather(-1, actions[:, None]).squeeze(-1)
        return actions, logp, self.value(obs)

    def evaluate_actions(self, obs: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(log pi(a|s), logits, V(s))`` with gradients, for the losses of
        :mod:`replearn.rl.losses` (``entropy_bonus(logits)``)."""
        logits = mlp_forward(self.actor, obs)
        logp = torch.log_softmax(logits, -1).gather(-1, actions.long()[:, None]).squeeze(-1)
        return logp, logits, self.value(obs)

    def extra_repr(self) -> str:
        return f"obs_dim={self.obs_dim}, n_actions={self.n_actions}, hidden={self.hidden}"


def _q_example() -> Example:
    return Example(QNetwork(4, 3, hidden=(8,)), (torch.randn(5, 4),), (5, 3))


@register(
    "rl.q_network",
    paper="Mnih et al. 2015, Nature 518 (DQN)",
    reference="shapes; DQN targets checked by hand in tests/rl/test_dqn.py",
    example=_q_example,
)
class QNetwork(nn.Module):
    """An MLP from a flat observation to one action value per action.

    Args:
        obs_dim: length of a flat observation.
        n_actions: number of discrete actions.
        hidden: hidden widths (stable-baselines3's default ``(64, 64)``).
        activation: hidden non-linearity.

    Shape:
        (B, obs_dim) -> (B, n_actions).
    """

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        *,
        hidden: tuple[int, ...] = (64, 64),
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.obs_dim, self.n_actions, self.hidden = obs_dim, n_actions, tuple(hidden)
        self.net = MLP(obs_dim, self.hidden, n_actions, activation=activation, flatten=False)

    def forward(self, obs: Tensor) -> Tensor:
        """Action values :math:`Q(s, \\cdot)`."""
        return mlp_forward(self.net, obs)

    def extra_repr(self) -> str:
        return f"obs_dim={self.obs_dim}, n_actions={self.n_actions}, hidden={self.hidden}"
