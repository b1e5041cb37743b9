"""LeNet-5: the scaled tanh, stage shapes and the closed-form parameter count."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from replearn.fundamentals.lenet import LeNet5, lenet5_param_count, scaled_tanh


def test_scaled_tanh_maps_plus_minus_one_to_themselves():
    out = scaled_tanh(torch.tensor([-1.0, 1.0], dtype=torch.float64))
    expected = torch.tensor([-1.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("size", [28, 32])
def test_lenet5_shapes_and_parameter_count(size):
    model = LeNet5(num_classes=10, image_size=size)
    x = torch.randn(3, 1, size, size)
    assert model.features(x).shape == (3, 84)
    assert model(x).shape == (3, 10)
    assert sum(p.numel() for p in model.parameters()) == lenet5_param_count(10) == 61706
    assert F.avg_pool2d(model.c1(x), 2).shape == (3, 6, 14, 14)


def test_lenet5_parameter_count_for_other_inputs_and_classes():
    model = LeNet5(num_classes=3, in_channels=3, activation="relu")
    assert sum(p.numel() for p in model.parameters()) == lenet5_param_count(3, in_channels=3)


def test_lenet5_validates_arguments():
    with pytest.raises(ValueError, match="28x28"):
        LeNet5(image_size=28)(torch.randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match="activation"):
        LeNet5(activation="swish")
    with pytest.raises(ValueError, match="image_size"):
        LeNet5(image_size=64)
