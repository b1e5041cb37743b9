"""Finite MDPs and dynamic programming against the exact linear solve and exhaustive search."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

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
from replearn.rl.mdp import TabularMDP, chain_mdp, from_gymnasium, gridworld_mdp, two_state_mdp

F64 = torch.float64


def _random_policy(mdp: TabularMDP, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(mdp.n_states, mdp.n_actions, generator=g, dtype=F64), -1)


def _deterministic_policies(mdp: TabularMDP):
    for actions in itertools.product(range(mdp.n_actions), repeat=mdp.n_states):
        yield torch.nn.functional.one_hot(torch.tensor(actions), mdp.n_actions).to(F64)


@pytest.mark.parametrize("env_id", ["FrozenLake-v1", "CliffWalking-v1", "Taxi-v4"])
def test_gymnasium_mdp_reproduces_env_P(env_id):
    import gymnasium as gym

    mdp = from_gymnasium(env_id)
    base = gym.make(env_id).unwrapped
    rng = np.random.default_rng(0)
    for s in rng.integers(mdp.n_states, size=40):
        for a in range(mdp.n_actions):
            p = np.zeros(mdp.n_states)
            rsum = np.zeros(mdp.n_states)
            for prob, s2, reward, _ in base.P[int(s)][a]:
                p[int(s2)] += prob
                rsum[int(s2)] += prob * reward
            np.testing.assert_allclose(mdp.P[s, a].numpy(), p, rtol=0, atol=1e-12)
            np.testing.assert_allclose((mdp.P[s, a] * mdp.R[s, a]).numpy(), rsum, atol=1e-12)
    assert float(mdp.mu.sum()) == pytest.approx(1.0)


def test_frozenlake_terminal_mass_and_sampled_transitions():
    mdp = from_gymnasium("FrozenLake-v1")
    assert mdp.shape == (4, 4)
    # from state 14 moving right (2) reaches the goal 15 with probability 1/3 and ends
    assert float(mdp.P_term[14, 2, 15]) == pytest.approx(1 / 3)
    assert float(mdp.R[14, 2, 15]) == 1.0
    rng = np.random.default_rng(0)
    outcomes = [mdp.step(14, 2, rng) for _ in range(3000)]
    frac_goal = np.mean([s2 == 15 and done and r == 1.0 for s2, r, done in outcomes])
    assert abs(frac_goal - 1 / 3) < 4 * np.sqrt(2 / 9 / 3000)


def test_invalid_mdp_is_refused():
    P = torch.zeros(2, 1, 2, dtype=F64)
    P[:, 0, 0] = 0.5
    with pytest.raises(ValueError, match="sum to 1"):
        TabularMDP(P=P, P_term=torch.zeros_like(P), R=torch.zeros_like(P), mu=torch.ones(2))


@pytest.mark.parametrize(
    ("mdp", "gamma"),
    [
        (two_state_mdp(), 0.9),
        (chain_mdp(6), 0.95),
        (gridworld_mdp(3, 4, goal=(2, 3)), 0.9),
        (from_gymnasium("FrozenLake-v1"), 0.99),
    ],
    ids=["two-state", "chain", "grid", "frozenlake"],
)
def test_iterative_evaluation_matches_linear_solve(mdp, gamma):
    pi = _random_policy(mdp, 1)
    exact = policy_evaluation_exact(mdp, pi, gamma)
    it, k = policy_evaluation_iterative(mdp, pi, gamma, tol=1e-13)
    torch.testing.assert_close(it, exact, rtol=0, atol=1e-10)
    assert k > 1
    # V^pi is the fixed point of T^pi
    torch.testing.assert_close(
        bellman_expectation(mdp, exact, pi, gamma), exact, atol=1e-12, rtol=0
    )


@pytest.mark.parametrize(
    ("mdp", "gamma"),
    [(two_state_mdp(), 0.9), (chain_mdp(5), 0.9), (gridworld_mdp(2, 2, goal=(1, 1)), 0.8)],
    ids=["two-state", "chain", "grid"],
)
def test_value_iteration_is_optimal_by_exhaustive_policy_evaluation(mdp, gamma):
    V, pi, _ = value_iteration(mdp, gamma, tol=1e-13)
    # fixed point of the optimality operator
    torch.testing.assert_close(bellman_optimality(mdp, V, gamma), V, rtol=0, atol=1e-11)
    # the greedy policy of Q* evaluates (linear solve) to V*
    torch.testing.assert_close(policy_evaluation_exact(mdp, pi, gamma), V, rtol=0, atol=1e-9)
    best = torch.full((mdp.n_states,), -float("inf"), dtype=F64)
    for det in _deterministic_policies(mdp):
        best = torch.maximum(best, policy_evaluation_exact(mdp, det, gamma))
    torch.testing.assert_close(V, best, rtol=0, atol=1e-9)


def test_two_state_values_by_hand():
    # always "stay" with gamma 0.5: solve the 2x2 system by hand
    mdp, gamma = two_state_mdp(), 0.5
    pi = torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=F64)
    r = torch.tensor([0.1, 0.9], dtype=F64)  # P(land in state 1) under "stay"
    P = torch.tensor([[0.9, 0.1], [0.1, 0.9]], dtype=F64)
    want = torch.linalg.inv(torch.eye(2, dtype=F64) - gamma * P) @ r
    torch.testing.assert_close(policy_evaluation_exact(mdp, pi, gamma), want, rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    ("env_id", "gamma"),
    [("FrozenLake-v1", 0.99), ("CliffWalking-v1", 0.95), ("Taxi-v4", 0.95)],
)
def test_policy_iteration_agrees_with_value_iteration(env_id, gamma):
    mdp = from_gymnasium(env_id)
    V_vi, pi_vi, k_vi = value_iteration(mdp, gamma, tol=1e-12)
    V_pi, _, k_pi = policy_iteration(mdp, gamma)
    torch.testing.assert_close(V_pi, V_vi, rtol=0, atol=1e-8)
    # both greedy policies have the optimal value
    torch.testing.assert_close(policy_evaluation_exact(mdp, pi_vi, gamma), V_pi, rtol=0, atol=1e-8)
    assert 1 < k_pi <= k_vi


def test_greedy_policy_ties_and_q_from_v():
    Q = torch.tensor([[1.0, 1.0], [0.0, 2.0]], dtype=F64)
    torch.testing.assert_close(greedy_policy(Q), torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=F64))
    mdp = gridworld_mdp(1, 3, goal=(0, 2))
    Q = q_from_v(mdp, torch.tensor([5.0, 7.0, 100.0], dtype=F64), 0.5)
    # state 0, action right (1): reward -1 + 0.5 * V(1); state 1, right: goal (terminal) -> 0
    assert float(Q[0, 1]) == pytest.approx(-1 + 3.5)
    assert float(Q[1, 1]) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="gamma"):
        value_iteration(mdp, 1.5)
