"""The U-Net's shapes, conditioning, initialization and validation."""

from __future__ import annotations

import pytest
import torch

from replearn.diffusion.unet import AttentionBlock, UNet
from replearn.transformer.attention import scaled_dot_product_attention


@pytest.mark.parametrize(("size", "mults"), [(28, (1, 2, 2)), (8, (1, 2))])
def test_shapes_and_gradients(size, mults):
    torch.manual_seed(0)
    net = UNet(base=8, mults=mults, num_classes=10, heads=2)
    x = torch.randn(2, 1, size, size)
    out = net(x, torch.tensor([0, 999]), torch.tensor([3, 10]))
    assert out.shape == x.shape
    assert torch.equal(out, torch.zeros_like(out))  # output convolution starts at zero
    torch.nn.init.normal_(net.conv_out.weight, std=0.1)
    out = net(x, torch.tensor([0, 999]), torch.tensor([3, 10]))
    out.square().mean().backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_time_and_label_change_the_output():
    torch.manual_seed(1)
    net = UNet(base=8, mults=(1, 2), num_classes=3, heads=2)
    torch.nn.init.normal_(net.conv_out.weight, std=0.1)
    x = torch.randn(1, 1, 8, 8)
    base = net(x, torch.tensor([10]), torch.tensor([0]))
    assert not torch.allclose(base, net(x, torch.tensor([500]), torch.tensor([0])))
    assert not torch.allclose(base, net(x, torch.tensor([10]), torch.tensor([1])))
    torch.testing.assert_close(
        net(x, torch.tensor([10])), net(x, torch.tensor([10]), torch.tensor([3]))
    )


def test_attention_block_equals_its_formula():
    torch.manual_seed(2)
    blk = AttentionBlock(8, heads=2).double()
    x = torch.randn(2, 8, 3, 3, dtype=torch.float64)
    h = blk.norm(x)
    qkv = blk.qkv(h).reshape(2, 3, 2, 4, 9)
    q, k, v = (qkv[:, i].transpose(-1, -2) for i in range(3))
    ref = scaled_dot_product_attention(q, k, v, fast=False)
    expected = x + blk.proj(ref.transpose(-1, -2).reshape(2, 8, 3, 3))
    torch.testing.assert_close(blk(x), expected)


def test_validation():
    with pytest.raises(ValueError, match="divisible"):
        UNet(base=8, mults=(1, 2, 2), heads=2)(torch.randn(1, 1, 6, 6), torch.tensor([0]))
    with pytest.raises(ValueError, match="dropout"):
        UNet(dropout=1.0)
    with pytest.raises(ValueError, match="heads"):
        AttentionBlock(6, heads=4)
    assert "mults=(1, 2)" in repr(UNet(base=8, mults=(1, 2), heads=2))
