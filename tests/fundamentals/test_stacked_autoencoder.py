"""Stacked autoencoders: the reconstruction loss, chained encoders, MLP initialization."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from replearn.fundamentals.mlp import MLP
from replearn.fundamentals.stacked_autoencoder import (
    AutoencoderLayer,
    StackedAutoencoder,
    masking_noise,
    reconstruction_loss,
)

D = torch.float64


def _states(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=n)), dtype=D)


def _tiny_rbm(seed: int = 0, n_v: int = 4, n_h: int = 3):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(n_h, n_v, generator=g, dtype=D)
    b = torch.randn(n_v, generator=g, dtype=D)
    c = torch.randn(n_h, generator=g, dtype=D)
    return w, b, c


def test_reconstruction_loss_is_summed_binary_cross_entropy():
    torch.manual_seed(0)
    a, t = torch.randn(5, 7, dtype=D), torch.rand(5, 7, dtype=D)
    ref = F.binary_cross_entropy(torch.sigmoid(a), t, reduction="sum") / 5
    torch.testing.assert_close(reconstruction_loss(a, t), ref, rtol=1e-12, atol=1e-12)


def test_masking_noise_zeroes_about_p_of_the_inputs():
    x = torch.ones(200, 50)
    out = masking_noise(x, 0.3, generator=torch.Generator().manual_seed(0))
    assert set(out.unique().tolist()) == {0.0, 1.0}
    assert abs(float((out == 0).float().mean()) - 0.3) < 0.02
    assert masking_noise(x, 0.0) is x
    with pytest.raises(ValueError):
        masking_noise(x, 1.0)


def test_stack_encodes_in_chain_and_initializes_an_mlp():
    torch.manual_seed(0)
    sae = StackedAutoencoder((8, 6, 4))
    x = torch.rand(5, 8)
    torch.testing.assert_close(sae.encode(x), sae.layers[1].encode(sae.layers[0].encode(x)))
    assert sae(x).shape == (5, 8)
    mlp = sae.init_mlp(MLP(8, (6, 4), 3, activation="sigmoid"))
    h = torch.sigmoid(mlp.layers[1](torch.sigmoid(mlp.layers[0](x))))
    torch.testing.assert_close(h, sae.encode(x))


def test_training_one_layer_lowers_its_reconstruction_loss():
    torch.manual_seed(0)
    x = (torch.rand(64, 12) > 0.5).float()
    layer = AutoencoderLayer(12, 8, noise=0.1)
    opt = torch.optim.Adam(layer.parameters(), lr=1e-2)
    layer.eval()
    before = float(layer.loss(x).detach())
    layer.train()
    for _ in range(200):
        opt.zero_grad()
        layer.loss(x).backward()
        opt.step()
    layer.eval()
    assert float(layer.loss(x).detach()) < 0.8 * before
