"""Actor-critic and Q-network: initialization gains, agreement with torch's Categorical."""

from __future__ import annotations

import torch

from replearn.rl.agents import ActorCritic, QNetwork


def test_orthogonal_init_gains_and_categorical_agreement():
    agent = ActorCritic(4, 3, hidden=(32, 32))
    w = agent.actor.layers[0].weight  # (32, 4): orthonormal columns scaled by sqrt(2)
    torch.testing.assert_close(w.T @ w, 2.0 * torch.eye(4), atol=1e-5, rtol=0)
    w_last = agent.actor.layers[-1].weight  # (3, 32): orthonormal rows scaled by 0.01
    torch.testing.assert_close(w_last @ w_last.T, 1e-4 * torch.eye(3), atol=1e-8, rtol=0)
    obs, actions = torch.randn(9, 4), torch.randint(3, (9,))
    logp, logits, v = agent.evaluate_actions(obs, actions)
    dist = torch.distributions.Categorical(logits=logits)
    torch.testing.assert_close(logp, dist.log_prob(actions))
    assert v.shape == (9,) and agent(obs).shape == (9, 4)


def test_q_network_shapes():
    q = QNetwork(4, 2, hidden=(16,))
    assert q(torch.randn(7, 4)).shape == (7, 2)


def test_mlp_forward_equals_the_module():
    from replearn.fundamentals.mlp import MLP
    from replearn.rl.agents import mlp_forward

    for act in ("tanh", "relu"):
        mlp = MLP(5, (7, 6), 3, activation=act, flatten=False).double()
        x = torch.randn(4, 5, dtype=torch.float64)
        torch.testing.assert_close(mlp_forward(mlp, x), mlp(x), rtol=0, atol=0)
