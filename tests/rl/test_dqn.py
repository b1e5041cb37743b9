"""DQN pieces: targets by hand, Huber loss vs F.huber_loss, ε schedule, replay buffer."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from replearn.rl.dqn import ReplayBuffer, dqn_loss, dqn_targets, linear_epsilon

F64 = torch.float64


def test_dqn_and_double_dqn_targets_by_hand():
    r = torch.tensor([1.0, 0.0, 2.0], dtype=F64)
    term = torch.tensor([0.0, 0.0, 1.0], dtype=F64)
    q_tgt = torch.tensor([[1.0, 5.0], [3.0, 2.0], [9.0, 9.0]], dtype=F64)
    q_onl = torch.tensor([[2.0, 1.0], [0.0, 4.0], [0.0, 0.0]], dtype=F64)
    y = dqn_targets(r, term, q_tgt, 0.5)
    torch.testing.assert_close(y, torch.tensor([3.5, 1.5, 2.0], dtype=F64))
    # double: argmax by the online net (0, 1, *), evaluated by the target net (1, 2, -)
    y2 = dqn_targets(r, term, q_tgt, 0.5, next_q_online=q_onl)
    torch.testing.assert_close(y2, torch.tensor([1.5, 1.0, 2.0], dtype=F64))
    assert not y2.requires_grad


def test_huber_loss_matches_torch_and_closed_form():
    g = torch.Generator().manual_seed(0)
    q = torch.randn(16, 3, generator=g, dtype=F64, requires_grad=True)
    a = torch.randint(3, (16,), generator=g)
    y = 3 * torch.randn(16, generator=g, dtype=F64)
    got = dqn_loss(q, a, y)
    q_sa = q[torch.arange(16), a]
    torch.testing.assert_close(got, F.huber_loss(q_sa, y), rtol=1e-12, atol=1e-12)
    x = (q_sa - y).detach()
    closed = torch.where(x.abs() <= 1, 0.5 * x**2, x.abs() - 0.5).mean()
    torch.testing.assert_close(got.detach(), closed, rtol=1e-12, atol=1e-12)


def test_linear_epsilon():
    assert linear_epsilon(0, start=1.0, end=0.05, duration=100) == 1.0
    assert linear_epsilon(50, start=1.0, end=0.05, duration=100) == pytest.approx(0.525)
    assert linear_epsilon(500, start=1.0, end=0.05, duration=100) == 0.05
    assert linear_epsilon(3, start=1.0, end=0.1, duration=0) == 0.1


def test_replay_buffer_fifo_sampling_and_state_dict():
    buf = ReplayBuffer(5, 2)
    for i in range(3):  # 3 batches of 2 transitions: the first is overwritten
        obs = torch.full((2, 2), float(i))
        buf.add(obs, torch.tensor([i, i]), torch.tensor([i, i + 0.5]), obs + 1, torch.zeros(2))
    assert len(buf) == 5 and int(buf.cursor) == 1
    assert buf.rewards.tolist() == [2.5, 0.5, 1.0, 1.5, 2.0]
    g = torch.Generator().manual_seed(0)
    counts = torch.zeros(5)
    for _ in range(400):
        s = buf.sample(10, generator=g)
        assert torch.equal(s["next_obs"], s["obs"] + 1)
        for r in s["rewards"]:
            counts[buf.rewards.tolist().index(float(r))] += 1
    assert counts.min() > 700 and counts.max() < 900  # uniform: 800 each
    other = ReplayBuffer(5, 2)
    other.load_state_dict(buf.state_dict())
    assert torch.equal(other.obs, buf.obs) and int(other.size) == 5
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(3, 2).sample(4)
