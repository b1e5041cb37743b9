"""replearn.ssl.encoders: shapes of the backbones and heads."""

from __future__ import annotations

import pytest
import torch

from replearn.ssl.encoders import ConvEncoder, projection_mlp


def test_encoder_shapes_for_signals_and_images() -> None:
    assert ConvEncoder((1, 40), width=8, features=32)(torch.randn(3, 40)).shape == (3, 32)
    assert ConvEncoder((1, 40), width=8, features=32)(torch.randn(3, 1, 40)).shape == (3, 32)
    assert ConvEncoder((1, 28, 28), width=8, features=32)(torch.randn(3, 1, 28, 28)).shape == (
        3,
        32,
    )
    assert ConvEncoder((1, 8, 8), width=8, features=32)(torch.randn(3, 1, 8, 8)).shape == (3, 32)
    with pytest.raises(ValueError):
        ConvEncoder((1,))


def test_encoder_features_are_non_negative() -> None:
    assert (ConvEncoder((1, 40), width=4, features=8)(torch.randn(16, 40)) >= 0).all()


def test_projection_mlp_layers() -> None:
    head = projection_mlp(4, 8, 2, layers=3)
    assert head(torch.randn(5, 4)).shape == (5, 2)
    assert sum(isinstance(m, torch.nn.Linear) for m in head) == 3
    assert len(projection_mlp(4, 8, 2, layers=1)) == 1
    with pytest.raises(ValueError):
        projection_mlp(4, 8, 2, layers=0)
