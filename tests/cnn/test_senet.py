"""SE block vs a float64 reference of Eqs. (2)-(4); SE-ResNet vs ResNet; published size."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from replearn.cnn import senet as S
from replearn.cnn.resnet import ResNet, resnet50
from replearn.cnn.senet import SEResNet, SqueezeExcite, excitation, scale, squeeze


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def reference_se(se: SqueezeExcite, act: nn.Module) -> nn.Module:
    """Fig. 1 written with torch.nn layers: pool, FC, act, FC, sigmoid, channel-wise product."""
    fc1 = nn.Linear(se.channels, se.rd_channels).double()
    fc2 = nn.Linear(se.rd_channels, se.channels).double()
    with torch.no_grad():
        fc1.weight.copy_(se.fc1.weight.flatten(1))
        fc1.bias.copy_(se.fc1.bias)
        fc2.weight.copy_(se.fc2.weight.flatten(1))
        fc2.bias.copy_(se.fc2.bias)
    gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), fc1, act, fc2, nn.Sigmoid())

    class Ref(nn.Module):
        def forward(self, u):
            return u * gate(u)[:, :, None, None]

    return Ref()


@pytest.mark.parametrize("act_layer", [nn.ReLU, nn.SiLU])
@pytest.mark.parametrize("channels, reduction", [(16, 4), (32, 16), (6, 16)])
def test_se_block_matches_reference(channels, reduction, act_layer):
    torch.manual_seed(0)
    se = SqueezeExcite(channels, reduction=reduction, act_layer=act_layer).double()
    assert se.rd_channels == max(1, channels // reduction)
    u = torch.randn(3, channels, 5, 7, dtype=torch.float64)
    torch.testing.assert_close(se(u), reference_se(se, act_layer())(u), rtol=1e-12, atol=1e-12)


def test_functional_core_equations():
    torch.manual_seed(1)
    u = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    z = squeeze(u)
    torch.testing.assert_close(z.flatten(1), u.sum(dim=(2, 3)) / 9)  # Eq. (2)
    w1, b1 = torch.randn(2, 4, dtype=torch.float64), torch.randn(2, dtype=torch.float64)
    w2, b2 = torch.randn(4, 2, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    fc1 = lambda v: torch.einsum("oc,bcij->boij", w1, v) + b1[:, None, None]  # noqa: E731
    fc2 = lambda v: torch.einsum("oc,bcij->boij", w2, v) + b2[:, None, None]  # noqa: E731
    s = excitation(z, fc1, fc2).flatten(1)
    expected = 1 / (
        1 + torch.exp(-((w1 @ z.flatten(1).T + b1[:, None]).clamp(min=0).T @ w2.T + b2))
    )
    torch.testing.assert_close(s, expected)  # Eq. (3)
    assert ((s > 0) & (s < 1)).all()
    torch.testing.assert_close(scale(u, s[:, :, None, None])[1, 2], s[1, 2] * u[1, 2])  # Eq. (4)


@pytest.mark.parametrize("block", ["basic", "bottleneck"])
def test_saturated_gates_give_back_resnet(block):
    """With W_2 = 0 and b_2 = +40 every gate is 1: SE-ResNet computes the plain ResNet."""
    kwargs = {"block": block, "stem": "cifar", "stem_width": 8, "num_classes": 3, "in_chans": 2}
    torch.manual_seed(0)
    res = ResNet((1, 2), (8, 16), **kwargs).double().eval()
    se = SEResNet((1, 2), (8, 16), reduction=4, **kwargs).double().eval()
    missing, unexpected = se.load_state_dict(res.state_dict(), strict=False)
    assert not unexpected and all(".attn." in k for k in missing) and missing
    with torch.no_grad():
        for m in se.modules():
            if isinstance(m, SqueezeExcite):
                m.fc2.weight.zero_()
                m.fc2.bias.fill_(40.0)
    x = torch.randn(2, 2, 12, 12, dtype=torch.float64)
    torch.testing.assert_close(se(x), res(x), rtol=1e-12, atol=1e-12)
    with torch.no_grad():
        for m in se.modules():
            if isinstance(m, SqueezeExcite):
                m.fc2.bias.fill_(0.0)
    assert not torch.allclose(se(x), res(x))


def test_se_sits_on_the_residual_branch_before_the_sum():
    model = SEResNet((1,), (8,), stem="cifar", stem_width=8, num_classes=2)
    block = model.stages[0][0]
    assert isinstance(block.attn, SqueezeExcite) and block.attn.channels == 8
    calls = []
    block.attn.register_forward_hook(lambda m, i, o: calls.append(o.shape))
    model(torch.randn(1, 3, 6, 6))
    assert calls == [torch.Size([1, 8, 6, 6])]


def test_se_resnet50_parameter_count():
    with torch.device("meta"):
        se, plain = S.se_resnet50(), resnet50()
    assert n_params(se) == 28_088_024  # timm legacy_seresnet50; "~2.5M beyond ~25M" (Sec. 4)
    assert 2.4e6 < n_params(se) - n_params(plain) < 2.6e6


def test_small_variant_on_fashion_mnist_shapes():
    model = S.se_resnet_cifar(20, in_chans=1)
    x = torch.randn(2, 1, 28, 28)
    assert model(x).shape == (2, 10)
    assert model.forward_features(x).shape == (2, 64, 7, 7)
    assert model.stages[0][0].attn.rd_channels == 4  # r = 4 on 16 channels
    assert "reduction=4" in repr(model)


def test_bad_arguments():
    with pytest.raises(ValueError, match="reduction"):
        SEResNet((1,), (8,), reduction=0)
    with pytest.raises(TypeError, match="attn_layer"):
        SEResNet((1,), (8,), attn_layer=nn.Identity)
    with pytest.raises(ValueError):
        SqueezeExcite(0)
    with pytest.raises(TypeError, match="no Hugging Face counterpart"):
        SEResNet.from_hf(nn.Linear(1, 1))
