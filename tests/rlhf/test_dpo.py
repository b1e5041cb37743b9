"""DPO loss by hand and its gradient weight (Eq. 8 of the paper)."""

from __future__ import annotations

import math

import pytest
import torch

from replearn.rlhf.dpo import dpo_implicit_reward, dpo_loss


def test_dpo_loss_and_gradient_by_hand():
    lw = torch.tensor([-3.0, -5.0], dtype=torch.float64, requires_grad=True)
    ll = torch.tensor([-4.0, -2.0], dtype=torch.float64, requires_grad=True)
    rw = torch.tensor([-3.5, -4.0], dtype=torch.float64)
    rl = torch.tensor([-3.0, -3.0], dtype=torch.float64)
    beta = 0.5
    loss, acc = dpo_loss(lw, ll, rw, rl, beta=beta)
    m = [beta * ((-3 + 3.5) - (-4 + 3)), beta * ((-5 + 4) - (-2 + 3))]
    assert loss.item() == pytest.approx(sum(math.log1p(math.exp(-x)) for x in m) / 2, rel=1e-14)
    assert acc.item() == 0.5
    loss.backward()
    weight = torch.tensor([beta / (1 + math.exp(x)) / 2 for x in m], dtype=torch.float64)
    torch.testing.assert_close(lw.grad, -weight, rtol=1e-12, atol=0)
    torch.testing.assert_close(ll.grad, weight, rtol=1e-12, atol=0)
    torch.testing.assert_close(dpo_implicit_reward(lw.detach(), rw, beta=beta),
                               torch.tensor([0.25, -0.5], dtype=torch.float64))  # fmt: skip
    with pytest.raises(ValueError):
        dpo_loss(lw, ll, rw, rl, beta=0.0)
