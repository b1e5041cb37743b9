"""Tabular Q-learning and SARSA: targets by hand, convergence to Q* and to Q of ε-greedy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from replearn.rl.dp import policy_evaluation_exact, q_from_v, value_iteration
from replearn.rl.mdp import chain_mdp, gridworld_mdp, two_state_mdp
from replearn.rl.tabular import (
    TabularTD,
    epsilon_greedy,
    q_learning_target,
    run_episode,
    sarsa_target,
    td_update,
)


def test_targets_and_update_by_hand():
    q_next = np.array([1.0, 3.0, -2.0])
    assert q_learning_target(1.0, 0.5, False, q_next) == 2.5
    assert q_learning_target(1.0, 0.5, True, q_next) == 1.0
    assert sarsa_target(1.0, 0.5, False, -2.0) == 0.0
    assert sarsa_target(1.0, 0.5, True, -2.0) == 1.0
    assert td_update(2.0, 4.0, 0.25) == 2.5


def test_epsilon_greedy_frequencies():
    rng = np.random.default_rng(0)
    q = np.array([0.0, 1.0, 1.0, -1.0])
    counts = np.bincount([epsilon_greedy(q, 0.2, rng) for _ in range(20000)], minlength=4)
    # pi(a) = 0.05 + 0.4 for each tied maximum
    np.testing.assert_allclose(counts / 20000, [0.05, 0.45, 0.45, 0.05], atol=0.015)


def test_invalid_hyperparameters():
    with pytest.raises(ValueError, match="method"):
        TabularTD(2, 2, method="td3")
    with pytest.raises(ValueError, match="alpha"):
        TabularTD(2, 2, alpha=0.0)


def test_q_learning_converges_to_q_star_on_a_small_mdp():
    """Uniformly random behaviour, per-pair step sizes 1/n^0.7 (Robbins-Monro)."""
    mdp, gamma = two_state_mdp(), 0.8
    V, _, _ = value_iteration(mdp, gamma, tol=1e-13)
    q_star = q_from_v(mdp, V, gamma).numpy()
    agent = TabularTD(2, 2, method="q_learning", gamma=gamma, eps=1.0, alpha=1.0)
    rng = np.random.default_rng(0)
    counts = np.zeros((2, 2))
    s = mdp.reset(rng)
    for _ in range(20_000):
        a = agent.act(s, rng)
        s2, r, done = mdp.step(s, a, rng)
        counts[s, a] += 1
        agent.alpha = 1.0 / counts[s, a] ** 0.7
        agent.learn(s, a, r, s2, done, None)
        s = s2
    np.testing.assert_allclose(agent.Q, q_star, atol=0.1)
    assert (agent.Q.argmax(-1) == q_star.argmax(-1)).all()


def test_sarsa_learns_the_value_of_its_epsilon_greedy_policy_and_q_learning_the_optimum():
    """On a slippery chain with ε fixed, Q-learning's greedy policy is optimal and SARSA's
    values approach Q of its own ε-greedy policy (below Q*)."""
    mdp, gamma, eps = chain_mdp(4, slip=0.1), 0.9, 0.3
    V, pi_star, _ = value_iteration(mdp, gamma, tol=1e-13)
    rng = np.random.default_rng(1)
    ql = TabularTD(4, 2, method="q_learning", gamma=gamma, eps=eps, alpha=0.05)
    sa = TabularTD(4, 2, method="sarsa", gamma=gamma, eps=eps, alpha=0.05)
    for _ in range(1500):
        run_episode(ql, mdp, rng, max_steps=200)
        run_episode(sa, mdp, rng, max_steps=200)
    assert (ql.Q[:3].argmax(-1) == pi_star[:3].argmax(-1).numpy()).all()
    greedy = torch.nn.functional.one_hot(torch.as_tensor(sa.Q.argmax(-1)), 2).double()
    pi_eps = (1 - eps) * greedy + eps / 2
    q_eps = q_from_v(mdp, policy_evaluation_exact(mdp, pi_eps, gamma), gamma).numpy()
    np.testing.assert_allclose(sa.Q[:3], q_eps[:3], atol=0.08)
    q_star = q_from_v(mdp, V, gamma).numpy()
    assert sa.Q[0].max() < q_star[0].max() - 0.02


def test_run_episode_on_a_grid_reaches_the_goal_greedily_after_learning():
    mdp = gridworld_mdp(3, 3, goal=(2, 2))
    agent = TabularTD(9, 4, method="q_learning", gamma=1.0, eps=0.2, alpha=0.5)
    rng = np.random.default_rng(2)
    for _ in range(200):
        run_episode(agent, mdp, rng, max_steps=100)
    agent.eps = 0.0
    ret, steps = run_episode(agent, mdp, rng, learn=False)
    assert steps == 4 and ret == -3.0  # 4 moves, the last into the goal pays 0
