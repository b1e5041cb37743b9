r"""Finite Markov decision processes: gymnasium's toy-text worlds and hand-written ones.

Reference: R. S. Sutton & A. G. Barto, "Reinforcement Learning: An Introduction", 2nd
ed., MIT Press 2018, Ch. 3 (finite MDPs), Example 6.6 (the cliff walk).

A finite MDP is stored as three arrays over (state :math:`s`, action :math:`a`, next
state :math:`s'`):

.. math::

    P(s'|s,a)        \qquad (1)\ \text{transition probabilities (rows sum to 1)}

    P^{\perp}(s'|s,a) \le P(s'|s,a)
        \qquad (2)\ \text{the part of (1) that ends the episode on arrival at } s'

    R(s,a,s')  \qquad (3)\ \text{expected reward of the transition}

with the derived expected reward :math:`r(s,a) = \sum_{s'} P(s'|s,a) R(s,a,s')` and the
continuing (sub-stochastic) kernel :math:`P^{c} = P - P^{\perp}`: a terminated episode
contributes no future value, which is how dynamic programming (:mod:`replearn.rl.dp`)
treats termination. gymnasium's ``env.unwrapped.P[s][a]``, a list of
``(prob, next_state, reward, terminated)``, maps onto (1)-(3) directly (duplicates
summed, rewards probability-weighted). Time limits (``TimeLimit`` wrappers) are not part
of the MDP.

Tests: the arrays of FrozenLake, CliffWalking and Taxi reproduce gymnasium's ``P``;
sampled transitions (:meth:`TabularMDP.step`) follow (1)-(3) in frequency.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from torch import Tensor

__all__ = ["TabularMDP", "chain_mdp", "from_gymnasium", "gridworld_mdp", "two_state_mdp"]


@dataclass(frozen=True)
class TabularMDP:
    """A finite MDP (Eqs. 1-3) with a start distribution; float64 tensors.

    Attributes:
        P: (S, A, S) transition probabilities, Eq. (1).
        P_term: (S, A, S) terminating part of ``P``, Eq. (2).
        R: (S, A, S) transition rewards, Eq. (3).
        mu: (S,) start-state distribution.
        name: a label for plots and logs.
        shape: (rows, cols) of a grid world, for heatmaps (or None).
    """

    P: Tensor
    P_term: Tensor
    R: Tensor
    mu: Tensor
    name: str = "mdp"
    shape: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        S, A, S2 = self.P.shape
        if S != S2 or self.P_term.shape != self.P.shape or self.R.shape != self.P.shape:
            raise ValueError("P, P_term and R must all have shape (S, A, S)")
        if self.mu.shape != (S,):
            raise ValueError(f"mu must have shape ({S},), got {tuple(self.mu.shape)}")
        if not torch.allclose(self.P.sum(-1), torch.ones(S, A, dtype=self.P.dtype), atol=1e-9):
            raise ValueError("every row P[s, a, :] must sum to 1")
        if bool((self.P_term > self.P + 1e-12).any()) or bool((self.P_term < 0).any()):
            raise ValueError("P_term must lie between 0 and P")

    @property
    def n_states(self) -> int:
        """Number of states S."""
        return self.P.shape[0]

    @property
    def n_actions(self) -> int:
        """Number of actions A."""
        return self.P.shape[1]

    @property
    def P_cont(self) -> Tensor:
        r"""(S, A, S) continuing kernel :math:`P^c = P - P^{\perp}`."""
        return self.P - self.P_term

    @property
    def r(self) -> Tensor:
        r"""(S, A) expected reward :math:`r(s,a) = \sum_{s'} P(s'|s,a) R(s,a,s')`."""
        return (self.P * self.R).sum(-1)

    @cached_property
    def _sampling(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cdf = np.cumsum(self.P.numpy(), axis=-1)  # (S, A, S)
        cdf[..., -1] = 1.0
        with np.errstate(invalid="ignore", divide="ignore"):
            term = np.where(self.P.numpy() > 0, self.P_term.numpy() / self.P.numpy(), 0.0)
        return cdf, term, self.R.numpy()

    def step(self, s: int, a: int, rng: np.random.Generator) -> tuple[int, float, bool]:
        """Sample one transition ``(s', reward, terminated)`` from (1)-(3)."""
        cdf, term, R = self._sampling
        s2 = int(np.searchsorted(cdf[s, a], rng.random(), side="right"))
        s2 = min(s2, self.n_states - 1)
        p_end = term[s, a, s2]
        done = p_end >= 1.0 or (p_end > 0.0 and rng.random() < p_end)
        return s2, float(R[s, a, s2]), bool(done)

    def reset(self, rng: np.random.Generator) -> int:
        """Sample a start state from ``mu``."""
        mu = self.mu.numpy()
        return int(rng.choice(self.n_states, p=mu / mu.sum()))


def _arrays(S: int, A: int) -> tuple[Tensor, Tensor, Tensor]:
    f = torch.float64
    return (
        torch.zeros(S, A, S, dtype=f),
        torch.zeros(S, A, S, dtype=f),
        torch.zeros(S, A, S, dtype=f),
    )


def from_gymnasium(env_id: str, **kwargs) -> TabularMDP:
    """The MDP of a gymnasium toy-text environment (``FrozenLake-v1``, ``CliffWalking-v1``,
    ``Taxi-v4``, ...), read from ``env.unwrapped.P`` and ``initial_state_distrib``."""
    import gymnasium as gym

    env = gym.make(env_id, **kwargs)
    base = env.unwrapped
    S, A = int(env.observation_space.n), int(env.action_space.n)
    P, P_term, R_sum = _arrays(S, A)
    for s in range(S):
        for a in range(A):
            for prob, s2, reward, terminated in base.P[s][a]:
                s2 = int(s2)
                P[s, a, s2] += prob
                R_sum[s, a, s2] += prob * reward
                if terminated:
                    P_term[s, a, s2] += prob
    R = torch.where(P > 0, R_sum / P.clamp_min(1e-300), torch.zeros_like(P))
    mu = torch.as_tensor(np.asarray(base.initial_state_distrib), dtype=torch.float64)
    shape = None
    if hasattr(base, "nrow") and hasattr(base, "ncol"):
        shape = (int(base.nrow), int(base.ncol))
    elif hasattr(base, "shape"):
        shape = tuple(int(x) for x in base.shape)
    env.close()
    return TabularMDP(P=P, P_term=P_term, R=R, mu=mu, name=env_id, shape=shape)


def two_state_mdp() -> TabularMDP:
    """Two states, two actions, stochastic, never terminating (a classic DP exercise).

    Action 0 ("stay") keeps the state with probability 0.9; action 1 ("switch") moves with
    probability 0.8. Rewards: +1 for being in state 1 after the move, -0.5 for switching.
    """
    P, P_term, R = _arrays(2, 2)
    for s in range(2):
        P[s, 0, s], P[s, 0, 1 - s] = 0.9, 0.1
        P[s, 1, 1 - s], P[s, 1, s] = 0.8, 0.2
        for a in range(2):
            R[s, a, 1] = 1.0
            R[s, a, :] -= 0.5 * a
    mu = torch.tensor([1.0, 0.0], dtype=torch.float64)
    return TabularMDP(P=P, P_term=P_term, R=R, mu=mu, name="two-state")


def chain_mdp(n: int = 5, *, slip: float = 0.1) -> TabularMDP:
    """A chain of ``n`` states; action 1 moves right, action 0 left (each slips with
    probability ``slip``); reaching the right end pays +1 and ends the episode, every other
    step costs 0.01. Starts in state 0."""
    if n < 2:
        raise ValueError(f"a chain needs n >= 2 states, got {n}")
    P, P_term, R = _arrays(n, 2)
    for s in range(n):
        for a in range(2):
            if s == n - 1:  # absorbing goal (never entered from a start)
                P[s, a, s] = 1.0
                P_term[s, a, s] = 1.0
                continue
            want = min(s + 1, n - 1) if a == 1 else max(s - 1, 0)
            other = max(s - 1, 0) if a == 1 else min(s + 1, n - 1)
            P[s, a, want] += 1 - slip
            P[s, a, other] += slip
            for s2 in (want, other):
                R[s, a, s2] = 1.0 if s2 == n - 1 else -0.01
                if s2 == n - 1:
                    P_term[s, a, s2] = P[s, a, s2]
    mu = torch.zeros(n, dtype=torch.float64)
    mu[0] = 1.0
    return TabularMDP(P=P, P_term=P_term, R=R, mu=mu, name=f"chain-{n}")


def gridworld_mdp(
    rows: int,
    cols: int,
    *,
    goal: tuple[int, int],
    start: tuple[int, int] = (0, 0),
    step_reward: float = -1.0,
    goal_reward: float = 0.0,
    walls: tuple[tuple[int, int], ...] = (),
) -> TabularMDP:
    """A deterministic grid world (actions up, right, down, left as in gymnasium's
    CliffWalking); bumping into the border or a wall stays put; entering ``goal`` ends the
    episode. State index ``r * cols + c``."""
    S = rows * cols
    P, P_term, R = _arrays(S, 4)
    moves = ((-1, 0), (0, 1), (1, 0), (0, -1))
    g = goal[0] * cols + goal[1]
    for r in range(rows):
        for c in range(cols):
            s = r * cols + c
            for a, (dr, dc) in enumerate(moves):
                if s == g:
                    P[s, a, s] = P_term[s, a, s] = 1.0
                    continue
                r2, c2 = r + dr, c + dc
                if not (0 <= r2 < rows and 0 <= c2 < cols) or (r2, c2) in walls:
                    r2, c2 = r, c
                s2 = r2 * cols + c2
                P[s, a, s2] = 1.0
                R[s, a, s2] = goal_reward if s2 == g else step_reward
                if s2 == g:
                    P_term[s, a, s2] = 1.0
    mu = torch.zeros(S, dtype=torch.float64)
    mu[start[0] * cols + start[1]] = 1.0
    return TabularMDP(
        P=P, P_term=P_term, R=R, mu=mu, name=f"grid-{rows}x{cols}", shape=(rows, cols)
    )
