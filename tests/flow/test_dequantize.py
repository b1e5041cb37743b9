"""Dequantization, the logit transform and bits per dimension."""

from __future__ import annotations

import math

import pytest
import torch

from replearn.flow import LogitTransform, bits_per_dim, uniform_dequantize


def test_bits_per_dim_of_the_uniform_density_is_log2_k() -> None:
    log_py = torch.zeros(3)  # the uniform density on [0, 1]^D
    torch.testing.assert_close(bits_per_dim(log_py, 64, 17), torch.full((3,), math.log2(17)))


def test_dequantize_stays_in_the_pixel_bin() -> None:
    k = torch.randint(0, 17, (100, 64)).float()
    y = uniform_dequantize(k / 16, 17, generator=torch.Generator().manual_seed(0))
    assert torch.all(torch.floor(y * 17) == k)


def test_logit_log_det_and_inverse(jac_log_det) -> None:
    layer = LogitTransform((4,), alpha=0.05)
    y = torch.rand(3, 4, dtype=torch.float64)
    x, log_det = layer(y)
    torch.testing.assert_close(log_det, jac_log_det(layer, y), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(layer.inverse(x), y, rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match="alpha"):
        LogitTransform((4,), alpha=0.5)
