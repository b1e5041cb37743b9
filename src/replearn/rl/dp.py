r"""Dynamic programming on a finite MDP: Bellman operators, policy evaluation, value and
policy iteration, greedy policies.

References: R. Bellman, "Dynamic Programming", Princeton 1957; R. A. Howard, "Dynamic
Programming and Markov Processes", MIT Press 1960 (policy iteration); Sutton & Barto,
"Reinforcement Learning: An Introduction", 2nd ed. 2018, Ch. 4 (Eqs. 4.5, 4.10).

With the MDP of :mod:`replearn.rl.mdp` (expected reward :math:`r(s,a)`, continuing
kernel :math:`P^c`), a stochastic policy :math:`\pi(a|s)` and discount :math:`\gamma`:

.. math::

    Q_V(s,a) = r(s,a) + \gamma \sum_{s'} P^c(s'|s,a) V(s')
        \qquad (1)\ \text{one-step look-ahead}

    (T^\pi V)(s) = \sum_a \pi(a|s)\, Q_V(s,a)
        \qquad (2)\ \text{Bellman expectation operator}

    (T^* V)(s) = \max_a Q_V(s,a)  \qquad (3)\ \text{Bellman optimality operator}

    V^\pi = (I - \gamma P^c_\pi)^{-1} r_\pi,\quad
        P^c_\pi(s'|s) = \textstyle\sum_a \pi(a|s) P^c(s'|s,a),\
        r_\pi(s) = \textstyle\sum_a \pi(a|s) r(s,a)
        \qquad (4)\ \text{exact policy evaluation}

    V_{k+1} = T^\pi V_k \ \text{(iterative evaluation)}, \qquad
    V_{k+1} = T^* V_k \ \text{(value iteration)}   \qquad (5)

    \pi'(s) = \arg\max_a Q_{V^\pi}(s,a)   \qquad (6)\ \text{greedy improvement}

Policy iteration alternates (4) and (6) until the policy is stable. Iterative methods
stop when :math:`\|V_{k+1} - V_k\|_\infty < \text{tol}`. Ties in (6) go to the lowest
action index; policy iteration keeps the old action unless another is strictly better
(by more than 1e-12), so it cannot cycle between equally good policies.

Tests: iterative evaluation and value iteration against (4) (float64); the fixed point
of (3) against exhaustive evaluation of every deterministic policy on small MDPs; policy
iteration against value iteration on FrozenLake, CliffWalking and Taxi.
"""

from __future__ import annotations

import torch
from torch import Tensor

from replearn.registry import register
from replearn.rl.mdp import TabularMDP

__all__ = [
    "bellman_expectation",
    "bellman_optimality",
    "greedy_policy",
    "policy_evaluation_exact",
    "policy_evaluation_iterative",
    "policy_iteration",
    "q_from_v",
    "value_iteration",
]


def _check_gamma(gamma: float) -> None:
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")


def q_from_v(mdp: TabularMDP, V: Tensor, gamma: float) -> Tensor:
    """One-step look-ahead :math:`Q_V` (Eq. 1).

    Shape:
        V: (S,); output: (S, A).
    """
    return mdp.r + gamma * mdp.P_cont @ V  # (S, A, S) @ (S,) -> (S, A)


def bellman_expectation(mdp: TabularMDP, V: Tensor, pi: Tensor, gamma: float) -> Tensor:
    r"""Bellman expectation operator :math:`T^\pi V` (Eq. 2).

    Shape:
        V: (S,); pi: (S, A) rows are distributions; output: (S,).
    """
    return (pi * q_from_v(mdp, V, gamma)).sum(-1)


def bellman_optimality(mdp: TabularMDP, V: Tensor, gamma: float) -> Tensor:
    """Bellman optimality operator :math:`T^* V` (Eq. 3).

    Shape:
        V: (S,); output: (S,).
    """
    return q_from_v(mdp, V, gamma).max(-1).values


@register(
    "rl.policy_evaluation",
    paper="Bellman 1957; Sutton & Barto 2018, Sec. 4.1",
    reference="iterative evaluation against the exact linear solve (float64)",
)
def policy_evaluation_exact(mdp: TabularMDP, pi: Tensor, gamma: float) -> Tensor:
    r"""Exact :math:`V^\pi` from the linear Bellman system (Eq. 4).

    Needs :math:`I - \gamma P^c_\pi` invertible: :math:`\gamma < 1`, or a policy that ends
    every episode with probability one.

    Shape:
        pi: (S, A); output: (S,).
    """
    _check_gamma(gamma)
    P_pi = torch.einsum("sa,sat->st", pi, mdp.P_cont)  # (S, S)
    r_pi = (pi * mdp.r).sum(-1)  # (S,)
    eye = torch.eye(mdp.n_states, dtype=P_pi.dtype)
    return torch.linalg.solve(eye - gamma * P_pi, r_pi)


def policy_evaluation_iterative(
    mdp: TabularMDP,
    pi: Tensor,
    gamma: float,
    *,
    tol: float = 1e-10,
    max_iter: int = 100_000,
    V0: Tensor | None = None,
) -> tuple[Tensor, int]:
    """Iterative evaluation :math:`V_{k+1} = T^\\pi V_k` (Eq. 5) from ``V0`` (default 0).

    Returns ``(V, iterations)``.

    Shape:
        pi: (S, A); V0, V: (S,).
    """
    _check_gamma(gamma)
    V = torch.zeros(mdp.n_states, dtype=torch.float64) if V0 is None else V0.clone()
    for k in range(1, max_iter + 1):
        V_new = bellman_expectation(mdp, V, pi, gamma)
        if float((V_new - V).abs().max()) < tol:
            return V_new, k
        V = V_new
    return V, max_iter


def greedy_policy(Q: Tensor) -> Tensor:
    """Deterministic greedy policy (Eq. 6) as one-hot rows; ties go to the lowest index.

    Shape:
        Q: (S, A); output: (S, A).
    """
    return torch.nn.functional.one_hot(Q.argmax(-1), Q.shape[-1]).to(Q.dtype)


@register(
    "rl.value_iteration",
    paper="Bellman 1957; Sutton & Barto 2018, Sec. 4.4",
    reference="the exact linear solve of its greedy policy and exhaustive policy search",
)
def value_iteration(
    mdp: TabularMDP,
    gamma: float,
    *,
    tol: float = 1e-10,
    max_iter: int = 100_000,
) -> tuple[Tensor, Tensor, int]:
    """Value iteration :math:`V_{k+1} = T^* V_k` (Eq. 5) from zero.

    Returns ``(V, greedy policy, iterations)``: the iteration count is the number of
    sweeps (applications of :math:`T^*`) until the sup-norm change drops below ``tol``.

    Shape:
        V: (S,); policy: (S, A).
    """
    _check_gamma(gamma)
    V = torch.zeros(mdp.n_states, dtype=torch.float64)
    k = 0
    while k < max_iter:
        k += 1
        V_new = bellman_optimality(mdp, V, gamma)
        delta = float((V_new - V).abs().max())
        V = V_new
        if delta < tol:
            break
    return V, greedy_policy(q_from_v(mdp, V, gamma)), k


@register(
    "rl.policy_iteration",
    paper="Howard 1960; Sutton & Barto 2018, Sec. 4.3",
    reference="value iteration's optimal values and exhaustive policy search",
)
def policy_iteration(
    mdp: TabularMDP,
    gamma: float,
    *,
    pi0: Tensor | None = None,
    max_iter: int = 10_000,
) -> tuple[Tensor, Tensor, int]:
    """Policy iteration: exact evaluation (Eq. 4) and greedy improvement (Eq. 6).

    Starts from ``pi0`` (default: always action 0). Returns ``(V, policy, iterations)``,
    where iterations counts policy evaluations (the last one confirms the policy is stable).

    Shape:
        pi0, policy: (S, A); V: (S,).
    """
    _check_gamma(gamma)
    S, A = mdp.n_states, mdp.n_actions
    if pi0 is None:
        pi0 = torch.zeros(S, A, dtype=torch.float64)
        pi0[:, 0] = 1.0
    pi = pi0.clone()
    actions = pi.argmax(-1)
    for k in range(1, max_iter + 1):
        V = policy_evaluation_exact(mdp, pi, gamma)
        Q = q_from_v(mdp, V, gamma)
        best = Q.argmax(-1)
        # keep the current action unless another is strictly better (no cycling on ties)
        current = Q.gather(-1, actions[:, None]).squeeze(-1)
        improve = Q.max(-1).values > current + 1e-12
        if not bool(improve.any()):
            return V, pi, k
        actions = torch.where(improve, best, actions)
        pi = torch.nn.functional.one_hot(actions, A).to(torch.float64)
    return V, pi, max_iter
