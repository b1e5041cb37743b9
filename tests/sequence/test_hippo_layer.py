"""The registered HiPPO-LegS layer: the step against scipy, the layer against the loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.signal import cont2discrete

from replearn.sequence.hippo import HiPPOLegS, hippo_legs_step
from replearn.sequence.ssm.hippo import hippo_legs, legs_memory

F64 = torch.float64


@pytest.mark.parametrize("k", [1, 2, 7, 100])
def test_step_equals_scipy_bilinear(k):
    N = 6
    A, B = hippo_legs(N)
    Ad, Bd, *_ = cont2discrete(
        ((A / k).numpy(), (B / k).numpy()[:, None], np.eye(N), np.zeros((N, 1))),
        dt=1.0,
        method="bilinear",
    )
    gen = torch.Generator().manual_seed(k)
    c = torch.randn(3, N, generator=gen, dtype=F64)
    f = torch.randn(3, generator=gen, dtype=F64)
    # scipy's bilinear D-matrix term differs in its output map, not in the state update
    expected = c @ torch.from_numpy(Ad).T + torch.from_numpy(Bd)[:, 0] * f[:, None]
    torch.testing.assert_close(hippo_legs_step(c, f, k, A, B), expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError):
        hippo_legs_step(c, f, 0, A, B)


def test_layer_equals_memory_and_step_loop():
    N, L = 8, 30
    f = torch.randn(2, L, dtype=F64)
    layer = HiPPOLegS(d_state=N).double()
    out = layer(f)
    assert out.shape == (2, L, N)
    torch.testing.assert_close(out, legs_memory(f, N), rtol=0, atol=0)
    A, B = hippo_legs(N)
    c = torch.zeros(2, N, dtype=F64)
    for k in range(1, L + 1):
        c = hippo_legs_step(c, f[:, k - 1], k, A, B)
    torch.testing.assert_close(out[:, -1], c, rtol=1e-10, atol=1e-12)
    assert not list(layer.parameters())  # a fixed memory
    assert "d_state=8" in repr(layer)
    with pytest.raises(ValueError):
        HiPPOLegS(d_state=0)


def test_reconstruction_improves_with_n_and_is_timescale_robust():
    def f(t: torch.Tensor) -> torch.Tensor:
        return torch.sin(5 * t) + 0.3 * t**2

    errors = []
    for N in (4, 8, 16):
        layer = HiPPOLegS(d_state=N).double()
        t = torch.arange(1, 501, dtype=F64) / 500
        c = layer(f(t))[-1]
        errors.append((layer.reconstruct(c, t) - f(t)).square().mean().sqrt().item())
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.01
    # LegS reads the history on [0, t] whatever the sampling rate: 500 vs 1000 samples
    layer = HiPPOLegS(d_state=8).double()
    c500 = layer(f(torch.arange(1, 501, dtype=F64) / 500))[-1]
    c1000 = layer(f(torch.arange(1, 1001, dtype=F64) / 1000))[-1]
    assert (c500 - c1000).abs().max() < 0.02
