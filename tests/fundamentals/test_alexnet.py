"""The small AlexNet: local response normalization against torch, stage shapes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from replearn.fundamentals.alexnet import AlexNetSmall, local_response_norm, overlap_pool_size


@pytest.mark.parametrize(("size", "alpha"), [(5, 1e-4), (4, 0.1), (3, 2.0)])
def test_local_response_norm_matches_torch(size, alpha):
    torch.manual_seed(2)
    a = 5 * torch.randn(2, 9, 4, 3, dtype=torch.float64)
    ours = local_response_norm(a, size=size, alpha=alpha, beta=0.75, k=2.0)
    ref = F.local_response_norm(a, size, alpha=alpha * size, beta=0.75, k=2.0)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)


def test_alexnet_small_stage_shapes():
    assert [overlap_pool_size(s) for s in (32, 15, 7)] == [15, 7, 3]
    model = AlexNetSmall(num_classes=7, width=4, fc=16)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 7)
    assert model.fc1.in_features == 16 * 3 * 3
    gray = AlexNetSmall(num_classes=10, in_channels=1, image_size=28, width=4, fc=16)
    assert gray(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_alexnet_small_validates_arguments():
    with pytest.raises(ValueError, match="dropout"):
        AlexNetSmall(dropout=1.0)
    with pytest.raises(ValueError, match="image_size"):
        AlexNetSmall(image_size=8)
    with pytest.raises(ValueError, match="32x32"):
        AlexNetSmall(width=2, fc=4)(torch.randn(1, 3, 28, 28))
    with pytest.raises(ValueError, match="smaller than the window"):
        overlap_pool_size(2)
