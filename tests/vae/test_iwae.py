"""log-mean-exp, the IWAE bound and the chunked importance-sampled log-likelihood."""

from __future__ import annotations

import math

import pytest
import torch

from replearn.vae.iwae import importance_log_likelihood, iwae_bound, log_mean_exp

F64 = torch.float64


def test_log_mean_exp_matches_logsumexp_and_does_not_overflow() -> None:
    a = torch.randn(50, 4, dtype=F64)
    want = torch.logsumexp(a, 0) - math.log(50)
    torch.testing.assert_close(log_mean_exp(a, 0), want, rtol=1e-12, atol=1e-12)
    big = a * 1e4  # weights of +-1e4 nats: exp overflows, the stable form does not
    out = log_mean_exp(big, 0)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, torch.logsumexp(big, 0) - math.log(50), rtol=1e-12, atol=1e-8)
    assert log_mean_exp(torch.full((3, 2), -math.inf), 0).eq(-math.inf).all()


def test_iwae_bound_is_differentiable_and_checks_its_input() -> None:
    log_w = torch.randn(8, 3, dtype=F64, requires_grad=True)
    iwae_bound(log_w).sum().backward()
    # d/da_i log mean exp(a) = softmax(a)_i: the normalized importance weights
    torch.testing.assert_close(log_w.grad, torch.softmax(log_w.detach(), 0))
    with pytest.raises(ValueError, match="k >= 1"):
        iwae_bound(torch.zeros(0, 3))


def test_chunked_estimator_equals_one_shot() -> None:
    g = torch.Generator().manual_seed(0)
    pool = torch.randn(1000, 5, generator=g, dtype=F64)
    cursor = [0]

    def log_weights(n: int) -> torch.Tensor:
        out = pool[cursor[0] : cursor[0] + n]
        cursor[0] += n
        return out

    chunked = importance_log_likelihood(log_weights, 1000, chunk=300)  # 300+300+300+100
    torch.testing.assert_close(chunked, iwae_bound(pool), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError):
        importance_log_likelihood(log_weights, 0)
