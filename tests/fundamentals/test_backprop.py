"""Hand-written backpropagation against autograd (float64) and its FLOP count."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from replearn.fundamentals.backprop import backprop, matmul_flops
from replearn.fundamentals.mlp import MLP


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_backprop_matches_autograd_in_float64(activation):
    torch.manual_seed(0)
    model = MLP(7, (9, 6, 5), 4, activation=activation).double()
    x = torch.randn(11, 7, dtype=torch.float64)
    y = torch.randint(0, 4, (11,))
    loss, grads = backprop(model, x, y)
    ref = F.cross_entropy(model(x), y)
    ref.backward()
    torch.testing.assert_close(loss, ref.detach(), rtol=1e-12, atol=1e-14)
    for layer, (dw, db) in zip(model.layers, grads, strict=True):
        torch.testing.assert_close(dw, layer.weight.grad, rtol=1e-10, atol=1e-13)
        torch.testing.assert_close(db, layer.bias.grad, rtol=1e-10, atol=1e-13)


def test_backprop_flattens_images_and_refuses_dropout():
    torch.manual_seed(1)
    model = MLP(16, (5,), 3, activation="tanh").double()
    x = torch.randn(4, 1, 4, 4, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 0])
    _, grads = backprop(model, x, y)
    F.cross_entropy(model(x), y).backward()
    torch.testing.assert_close(grads[0][0], model.layers[0].weight.grad, rtol=1e-10, atol=1e-13)
    with pytest.raises(ValueError, match="dropout"):
        backprop(MLP(4, (3,), 2, dropout=0.5), torch.randn(2, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="tanh, sigmoid and relu"):
        backprop(MLP(4, (3,), 2, activation="gelu"), torch.randn(2, 4), torch.tensor([0, 1]))


def test_matmul_flops_closed_form():
    fwd, bwd = matmul_flops((10, 20, 5), batch=3)
    assert fwd == 2 * 3 * (10 * 20 + 20 * 5)
    assert bwd == 2 * fwd - 2 * 3 * 10 * 20
    assert bwd <= 2 * fwd
    with pytest.raises(ValueError):
        matmul_flops((10,), batch=3)
