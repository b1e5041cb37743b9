"""Clipping by global norm and by value vs torch.nn.utils (gradients, returned norm, Inf/NaN)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from replearn.sequence.rnn.clipping import (
    clip_by_global_norm,
    clip_by_value,
    clip_grad_norm,
    clip_grad_value,
    global_norm,
)

D = torch.float64


def _twin_params(
    seed: int = 0, scale: float = 1.0
) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    g = torch.Generator().manual_seed(seed)
    shapes = [(3, 4), (5,), (2, 2, 2)]
    a = [nn.Parameter(torch.randn(s, generator=g, dtype=D)) for s in shapes]
    for p in a:
        p.grad = scale * torch.randn(p.shape, generator=g, dtype=D)
    b = [nn.Parameter(p.detach().clone()) for p in a]
    for p, q in zip(a, b, strict=True):
        q.grad = p.grad.clone()
    return a, b


@pytest.mark.parametrize("norm_type", [1.0, 2.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.1, 1.0, 1e3])  # above and below the threshold
def test_clip_grad_norm_equals_torch(norm_type, max_norm) -> None:
    ours, ref = _twin_params()
    n_ours = clip_grad_norm(ours, max_norm, norm_type)
    n_ref = nn.utils.clip_grad_norm_(ref, max_norm, norm_type)
    torch.testing.assert_close(n_ours, n_ref, rtol=1e-13, atol=0)
    for p, q in zip(ours, ref, strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-13, atol=1e-15)


def test_global_norm_clipping_keeps_the_direction_and_hits_the_threshold() -> None:
    grads = [torch.randn(4, 3, dtype=D), torch.randn(7, dtype=D)]
    big = [10 * g for g in grads]
    clipped, norm = clip_by_global_norm(big, 1.0)
    torch.testing.assert_close(norm, torch.cat([g.flatten() for g in big]).norm())
    torch.testing.assert_close(global_norm(clipped), torch.tensor(1.0, dtype=D), rtol=1e-5, atol=0)
    for c, g in zip(clipped, big, strict=True):  # g * c / ||g|| (up to eps)
        torch.testing.assert_close(c, g / norm, rtol=1e-5, atol=0)
    small, _ = clip_by_global_norm(grads, 1e6)
    for c, g in zip(small, grads, strict=True):
        assert torch.equal(c, g)  # untouched below the threshold


@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_non_finite_gradients_behave_like_torch(bad) -> None:
    ours, ref = _twin_params()
    for p in (ours[1], ref[1]):
        p.grad[2] = bad
    n_ours, n_ref = clip_grad_norm(ours, 1.0), nn.utils.clip_grad_norm_(ref, 1.0)
    torch.testing.assert_close(n_ours, n_ref, equal_nan=True)
    assert not torch.isfinite(n_ours)
    for p, q in zip(ours, ref, strict=True):
        torch.testing.assert_close(p.grad, q.grad, equal_nan=True)
    ours, ref = _twin_params()
    for p in (ours[0], ref[0]):
        p.grad[1, 1] = bad
    with pytest.raises(RuntimeError, match="norm"):
        clip_grad_norm(ours, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError):
        nn.utils.clip_grad_norm_(ref, 1.0, error_if_nonfinite=True)


@pytest.mark.parametrize("clip", [0.0, 0.3, 10.0])
def test_clip_grad_value_equals_torch(clip) -> None:
    ours, ref = _twin_params(scale=2.0)
    clip_grad_value(ours, clip)
    nn.utils.clip_grad_value_(ref, clip)
    for p, q in zip(ours, ref, strict=True):
        assert torch.equal(p.grad, q.grad)
        assert p.grad.abs().max() <= clip
    g = torch.tensor([-2.0, 0.5, 3.0])
    assert torch.equal(clip_by_value([g], 1.0)[0], torch.tensor([-1.0, 0.5, 1.0]))


def test_single_tensor_missing_grads_and_empty() -> None:
    p = nn.Parameter(torch.ones(3, dtype=D))
    p.grad = torch.full((3,), 4.0, dtype=D)
    q = nn.Parameter(torch.ones(2))  # no grad: skipped
    n = clip_grad_norm([p, q], 1.0)
    torch.testing.assert_close(n, torch.tensor(math.sqrt(48), dtype=D))
    assert q.grad is None
    assert float(clip_grad_norm(p, 1.0)) == pytest.approx(1.0, rel=1e-5)
    assert float(clip_grad_norm([], 1.0)) == 0.0


def test_bad_thresholds_raise() -> None:
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm([], -1.0)
    with pytest.raises(ValueError, match="clip_value"):
        clip_grad_value([], -0.5)
