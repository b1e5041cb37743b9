"""KL estimators k1, k2, k3 vs the exact KL; KL-shaped rewards; the adaptive controller."""

from __future__ import annotations

import math

import pytest
import torch

from replearn.rlhf.kl import (
    AdaptiveKLController,
    FixedKLController,
    exact_kl,
    kl_k1,
    kl_k2,
    kl_k3,
    kl_shaped_rewards,
)


def _pair(v, scale, seed=0):
    g = torch.Generator().manual_seed(seed)
    lq = torch.randn(v, generator=g, dtype=torch.float64)
    lp = lq + scale * torch.randn(v, generator=g, dtype=torch.float64)
    return lq, lp


@pytest.mark.parametrize("v", [2, 5, 11])
@pytest.mark.parametrize("scale", [0.1, 1.0])
def test_k1_k3_are_exactly_unbiased(v, scale):
    lq, lp = _pair(v, scale)
    q = torch.softmax(lq, -1)
    logq, logp = torch.log_softmax(lq, -1), torch.log_softmax(lp, -1)
    kl = float((q * (logq - logp)).sum())
    assert float(exact_kl(lq, lp)) == pytest.approx(kl, abs=1e-14)
    # E_q[k] summed exactly over the vocabulary
    assert float((q * kl_k1(logq, logp)).sum()) == pytest.approx(kl, abs=1e-12)
    assert float((q * kl_k3(logq, logp)).sum()) == pytest.approx(kl, abs=1e-12)
    assert (kl_k3(logq, logp) >= 0).all()
    # k2 is biased, but agrees to second order: relative error small for close distributions
    k2 = float((q * kl_k2(logq, logp)).sum())
    if scale == 0.1:
        assert k2 == pytest.approx(kl, rel=0.1)


def test_monte_carlo_means_and_k3_has_lower_variance():
    lq, lp = _pair(6, 0.3, seed=3)
    logq, logp = torch.log_softmax(lq, -1), torch.log_softmax(lp, -1)
    kl = float(exact_kl(lq, lp))
    g = torch.Generator().manual_seed(4)
    x = torch.multinomial(logq.exp(), 200_000, replacement=True, generator=g)
    k1, k3 = kl_k1(logq[x], logp[x]), kl_k3(logq[x], logp[x])
    se = float(k1.std()) / math.sqrt(x.numel())
    assert abs(float(k1.mean()) - kl) < 4 * se
    assert abs(float(k3.mean()) - kl) < 4 * float(k3.std()) / math.sqrt(x.numel())
    assert k3.std() < k1.std()


def test_kl_shaped_rewards_by_hand():
    score = torch.tensor([2.0, -1.0, 5.0], dtype=torch.float64)
    logp = torch.tensor([[0.0, -1.0, -2.0, -3.0]] * 3, dtype=torch.float64)
    ref = torch.tensor([[0.0, -1.5, -1.0, -3.0]] * 3, dtype=torch.float64)
    mask = torch.tensor([[0, 1, 1, 0], [0, 1, 1, 1], [0, 0, 0, 0]], dtype=torch.float64)
    got = kl_shaped_rewards(score, logp, ref, mask, beta=0.5)
    # per token -0.5 * (logp - ref) = [0, -0.25, +0.5, 0]; score on the last masked token
    want = torch.tensor(
        [[0, -0.25, 0.5 + 2.0, 0], [0, -0.25, 0.5, 0.0 - 1.0], [0, 0, 0, 0]], dtype=torch.float64
    )
    torch.testing.assert_close(got, want, rtol=0, atol=1e-15)
    with pytest.raises(ValueError):
        kl_shaped_rewards(score, logp, ref, mask, beta=-1.0)


def test_adaptive_controller_by_hand():
    c = AdaptiveKLController(0.1, target=6.0, horizon=10_000)
    # KL 9 -> error clipped at +0.2; 256 samples: beta *= 1 + 0.2 * 256 / 10000
    assert c.update(9.0, 256) == pytest.approx(0.1 * (1 + 0.2 * 256 / 10_000), rel=1e-15)
    b = c.beta
    assert c.update(5.4, 100) == pytest.approx(b * (1 + (-0.1) * 100 / 10_000), rel=1e-15)
    state = c.state_dict()
    d = AdaptiveKLController(1.0, target=6.0, horizon=10_000)
    d.load_state_dict(state)
    assert d.beta == c.beta
    assert FixedKLController(0.3).update(100.0, 5) == 0.3
    with pytest.raises(ValueError):
        AdaptiveKLController(0.1, target=0.0, horizon=1)
