"""RBMs and deep belief nets against brute-force sums over all states (float64)."""

from __future__ import annotations

import itertools

import pytest
import torch

from replearn.fundamentals.mlp import MLP
from replearn.fundamentals.rbm import (
    RBM,
    DeepBeliefNet,
    cd_loss,
    energy,
    exact_log_partition,
    free_energy,
    hidden_probs,
    visible_probs,
)

D = torch.float64


def _states(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=n)), dtype=D)


def _tiny_rbm(seed: int = 0, n_v: int = 4, n_h: int = 3):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(n_h, n_v, generator=g, dtype=D)
    b = torch.randn(n_v, generator=g, dtype=D)
    c = torch.randn(n_h, generator=g, dtype=D)
    return w, b, c


def test_free_energy_equals_a_sum_over_hidden_states():
    w, b, c = _tiny_rbm()
    v, h = _states(4), _states(3)
    for i in range(len(v)):
        vi = v[i : i + 1].expand(len(h), -1)
        brute = -torch.logsumexp(-energy(vi, h, w, b, c), 0)
        torch.testing.assert_close(free_energy(v[i : i + 1], w, b, c)[0], brute, rtol=1e-12, atol=0)


def test_log_partition_equals_a_sum_over_all_joint_states():
    w, b, c = _tiny_rbm(1)
    joint = torch.tensor(list(itertools.product((0.0, 1.0), repeat=7)), dtype=D)
    v, h = joint[:, :4], joint[:, 4:]
    brute = torch.logsumexp(-energy(v, h, w, b, c), 0)
    torch.testing.assert_close(exact_log_partition(w, b, c), brute, rtol=1e-12, atol=0)
    rbm = RBM(4, 3).double()
    with torch.no_grad():
        rbm.weight.copy_(w), rbm.v_bias.copy_(b), rbm.h_bias.copy_(c)
    total = torch.logsumexp(rbm.log_likelihood(_states(4)), 0)
    torch.testing.assert_close(total, torch.zeros((), dtype=D), atol=1e-12, rtol=0)


def test_conditionals_are_ratios_of_joint_probabilities():
    w, b, c = _tiny_rbm(2)
    v = torch.tensor([[1.0, 0.0, 1.0, 1.0]], dtype=D)
    for j in range(3):
        h1 = torch.zeros(1, 3, dtype=D)
        h1[0, j] = 1.0
        h0 = torch.zeros(1, 3, dtype=D)
        # h_j is independent of the other hidden units given v: compare two states differing in j
        ratio = torch.exp(-energy(v, h1, w, b, c)) / (
            torch.exp(-energy(v, h1, w, b, c)) + torch.exp(-energy(v, h0, w, b, c))
        )
        torch.testing.assert_close(hidden_probs(v, w, c)[0, j], ratio[0], rtol=1e-12, atol=0)
    h = torch.tensor([[0.0, 1.0, 1.0]], dtype=D)
    v1 = torch.tensor([[1.0, 0.0, 0.0, 0.0]], dtype=D)
    v0 = torch.zeros(1, 4, dtype=D)
    e1, e0 = torch.exp(-energy(v1, h, w, b, c)), torch.exp(-energy(v0, h, w, b, c))
    torch.testing.assert_close(
        visible_probs(h, w, b)[0, 0], (e1 / (e1 + e0))[0], rtol=1e-12, atol=0
    )


def test_cd_gradient_positive_phase_lowers_the_data_free_energy():
    w, b, c = (t.requires_grad_() for t in _tiny_rbm(3))
    v0 = torch.tensor([[1.0, 1.0, 0.0, 1.0], [0.0, 1.0, 0.0, 1.0]], dtype=D)
    loss, vk = cd_loss(v0, w, b, c, k=1, generator=torch.Generator().manual_seed(0))
    assert vk.shape == v0.shape and set(vk.unique().tolist()) <= {0.0, 1.0}
    loss.backward()
    # the visible-bias gradient is exactly mean(v_k) - mean(v_0): descent raises b on data units
    torch.testing.assert_close(b.grad, vk.mean(0) - v0.mean(0), rtol=0, atol=1e-12)
    # a small step along -grad of the positive phase alone lowers F(v0)
    with torch.no_grad():
        f_before = free_energy(v0, w, b, c).mean()
    pos = free_energy(v0, w, b, c).mean()
    gw, gb, gc = torch.autograd.grad(pos, (w, b, c))
    with torch.no_grad():
        f_after = free_energy(v0, w - 1e-3 * gw, b - 1e-3 * gb, c - 1e-3 * gc).mean()
    assert f_after < f_before


def test_cd1_increases_the_exact_log_likelihood_of_a_tiny_rbm():
    torch.manual_seed(0)
    data = torch.tensor([[1, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 1], [1, 1, 0, 0, 1, 0]] * 10, dtype=D)
    rbm = RBM(6, 4, init_std=0.1).double()
    before = float(rbm.log_likelihood(data).mean().detach())
    opt = torch.optim.SGD(rbm.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(1)
    for _ in range(300):
        opt.zero_grad()
        rbm.cd_loss(data, k=1, generator=g).backward()
        opt.step()
    after = float(rbm.log_likelihood(data).mean().detach())
    assert after > before + 1.0, (before, after)


def test_deep_belief_net_up_pass_and_mlp_init():
    torch.manual_seed(0)
    dbn = DeepBeliefNet((6, 5, 4), init_std=0.5)
    v = torch.rand(3, 6)
    torch.testing.assert_close(dbn.up(v, 1), dbn.rbms[0].hidden(v))
    torch.testing.assert_close(dbn.up(v), dbn.rbms[1].hidden(dbn.rbms[0].hidden(v)))
    mlp = dbn.init_mlp(MLP(6, (5, 4), 2, activation="sigmoid"))
    h = torch.sigmoid(mlp.layers[1](torch.sigmoid(mlp.layers[0](v))))
    torch.testing.assert_close(h, dbn.up(v))
    with pytest.raises(ValueError, match="sigmoid MLP"):
        dbn.init_mlp(MLP(6, (5, 4), 2, activation="relu"))
    with pytest.raises(ValueError, match="too many"):
        exact_log_partition(torch.zeros(2, 21), torch.zeros(21), torch.zeros(2))
