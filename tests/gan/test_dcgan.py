"""DCGAN: shapes, output range, the WGAN-GP critic without BatchNorm, argument checks."""

from __future__ import annotations

import pytest
import torch

from replearn.gan.dcgan import DCGANDiscriminator, DCGANGenerator
from replearn.gan.sagan import SelfAttention2d


@pytest.mark.parametrize("size", [8, 16, 28])
def test_dcgan_shapes_and_range(size):
    torch.manual_seed(0)
    g = DCGANGenerator(z_dim=16, image_size=size, width=8)
    d = DCGANDiscriminator(image_size=size, width=8)
    x = g(torch.randn(3, 16))
    assert x.shape == (3, 1, size, size)
    assert x.abs().max() <= 1.0
    assert d(x).shape == (3, 1)
    critic = DCGANDiscriminator(image_size=size, width=8, norm="none")
    assert not any("BatchNorm" in type(m).__name__ for m in critic.modules())


def test_bad_arguments():
    with pytest.raises(ValueError, match="multiple of 4"):
        DCGANGenerator(image_size=10)
    with pytest.raises(ValueError, match="norm"):
        DCGANDiscriminator(norm="layer")
    with pytest.raises(ValueError, match=">= 8"):
        SelfAttention2d(4)
