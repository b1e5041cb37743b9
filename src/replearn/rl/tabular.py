r"""Tabular temporal-difference control: Q-learning (off-policy) and SARSA (on-policy).

Papers: C. J. C. H. Watkins, "Learning from delayed rewards", PhD thesis, Cambridge
1989, and Watkins & Dayan, "Q-learning", Machine Learning 8, 1992; G. A. Rummery &
M. Niranjan, "On-line Q-learning using connectionist systems", Cambridge TR 166, 1994
(SARSA); Sutton & Barto 2018, Eqs. 6.7 and 6.8, Example 6.6 (the cliff walk).

With step size :math:`\alpha`, discount :math:`\gamma` and :math:`m = 1 - \text{done}`:

.. math::

    y^{Q} = r + \gamma\, m \max_{a'} Q(s', a')
        \qquad (1)\ \text{Q-learning target (Eq. 6.8)}

    y^{SARSA} = r + \gamma\, m\, Q(s', a'),\ a' \sim \pi_\varepsilon(\cdot|s')
        \qquad (2)\ \text{SARSA target (Eq. 6.7)}

    Q(s,a) \leftarrow Q(s,a) + \alpha\,(y - Q(s,a))   \qquad (3)\ \text{TD update}

    \pi_\varepsilon(a|s) = \tfrac{\varepsilon}{|A|} + (1-\varepsilon)\,[a = \arg\max Q(s,\cdot)]
        \qquad (4)\ \varepsilon\text{-greedy behaviour}

Q-learning learns :math:`Q^*` whatever the behaviour policy (Watkins & Dayan: with every
pair visited infinitely often and Robbins-Monro step sizes); SARSA learns the value of the
ε-greedy policy it follows, hence the safer path on the cliff. Ties in the greedy action
are broken uniformly at random (a fixed order would bias exploration on a zero-initialized
table). Deviation: episodes may be cut at ``max_steps`` (a time limit, not a termination;
the last update then bootstraps as usual).

Tests: Q-learning converges to :math:`Q^*` of value iteration on a small stochastic MDP;
SARSA with ε fixed approaches the value of its ε-greedy policy; both targets by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from replearn.registry import register
from replearn.rl.mdp import TabularMDP

__all__ = [
    "TabularTD",
    "epsilon_greedy",
    "q_learning_target",
    "run_episode",
    "sarsa_target",
    "td_update",
]


def q_learning_target(r: float, gamma: float, done: bool, q_next: np.ndarray) -> float:
    """Q-learning target :math:`r + \\gamma (1-d) \\max_{a'} Q(s',a')` (Eq. 1).

    Shape:
        q_next: (A,) values of the next state.
    """
    return r + (0.0 if done else gamma * float(np.max(q_next)))


def sarsa_target(r: float, gamma: float, done: bool, q_next_a: float) -> float:
    """SARSA target :math:`r + \\gamma (1-d) Q(s',a')` with the action actually taken (Eq. 2)."""
    return r + (0.0 if done else gamma * q_next_a)


def td_update(q: float, target: float, alpha: float) -> float:
    """TD update :math:`Q + \\alpha (y - Q)` (Eq. 3)."""
    return q + alpha * (target - q)


def epsilon_greedy(q_s: np.ndarray, eps: float, rng: np.random.Generator) -> int:
    """Sample from :math:`\\pi_\\varepsilon` (Eq. 4); greedy ties broken uniformly.

    Shape:
        q_s: (A,) action values of one state.
    """
    if rng.random() < eps:
        return int(rng.integers(len(q_s)))
    best = np.flatnonzero(q_s == q_s.max())
    return int(best[rng.integers(len(best))]) if len(best) > 1 else int(best[0])


@register(
    "rl.tabular_td",
    paper="Watkins & Dayan 1992 (Q-learning); Rummery & Niranjan 1994 (SARSA)",
    reference="Q* of value iteration on a small stochastic MDP",
)
@dataclass
class TabularTD:
    """A Q-table updated by Q-learning or SARSA (Eqs. 1-4).

    Attributes:
        n_states: S.
        n_actions: A.
        method: ``"q_learning"`` or ``"sarsa"``.
        alpha: step size :math:`\\alpha`.
        gamma: discount :math:`\\gamma`.
        eps: exploration rate :math:`\\varepsilon` of the behaviour policy.
    """

    n_states: int
    n_actions: int
    method: str = "q_learning"
    alpha: float = 0.1
    gamma: float = 0.99
    eps: float = 0.1

    def __post_init__(self) -> None:
        if self.method not in ("q_learning", "sarsa"):
            raise ValueError(f"method must be 'q_learning' or 'sarsa', got {self.method!r}")
        if not 0.0 < self.alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")
        if not 0.0 <= self.eps <= 1.0:
            raise ValueError(f"eps must be in [0, 1], got {self.eps}")
        self.Q = np.zeros((self.n_states, self.n_actions), dtype=np.float64)

    def act(self, s: int, rng: np.random.Generator) -> int:
        """An ε-greedy action in state ``s``."""
        return epsilon_greedy(self.Q[s], self.eps, rng)

    def learn(self, s: int, a: int, r: float, s2: int, done: bool, a2: int | None) -> None:
        """Update :math:`Q(s,a)` from one transition (``a2`` is SARSA's next action)."""
        if self.method == "q_learning":
            y = q_learning_target(r, self.gamma, done, self.Q[s2])
        else:
            if a2 is None and not done:
                raise ValueError("SARSA needs the next action a2")
            y = sarsa_target(r, self.gamma, done, 0.0 if done else float(self.Q[s2, a2]))
        self.Q[s, a] = td_update(self.Q[s, a], y, self.alpha)


def run_episode(
    agent: TabularTD,
    mdp: TabularMDP,
    rng: np.random.Generator,
    *,
    max_steps: int = 10_000,
    learn: bool = True,
) -> tuple[float, int]:
    """One episode of ε-greedy interaction (with TD updates if ``learn``).

    Returns ``(undiscounted return, steps)``.
    """
    s = mdp.reset(rng)
    a = agent.act(s, rng)
    total, t = 0.0, 0
    while t < max_steps:
        t += 1
        s2, r, done = mdp.step(s, a, rng)
        total += r
        if agent.method == "sarsa":  # choose a' first: it is part of the target (Eq. 2)
            a2 = None if done else agent.act(s2, rng)
            if learn:
                agent.learn(s, a, r, s2, done, a2)
        else:  # Q-learning: update, then act from the updated table
            if learn:
                agent.learn(s, a, r, s2, done, None)
            a2 = None if done else agent.act(s2, rng)
        if done:
            break
        s, a = s2, a2  # type: ignore[assignment]
    return total, t
