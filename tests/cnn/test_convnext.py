"""ConvNeXt vs transformers' ConvNext with copied weights, its LayerNorms, published sizes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from replearn.cnn import convnext as C
from replearn.cnn.convnext import (
    ConvNeXt,
    ConvNeXtBlock,
    LayerNorm2d,
    drop_path_rates,
    layer_norm_2d,
)

transformers = pytest.importorskip("transformers")
TOL = {"rtol": 0.0, "atol": 1e-5}


def randomize_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random norm affine parameters and layer scales, so that a wrong mapping cannot hide."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith(("weight", "layer_scale_parameter")) and t.ndim == 1:
                t.uniform_(0.5, 1.5, generator=g)
            elif t.ndim == 1:
                t.normal_(0.0, 0.1, generator=g)
            else:
                t.normal_(0.0, t[0].numel() ** -0.5, generator=g)
    return model


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


HF_CONFIGS = [
    dict(patch_size=2, hidden_sizes=[8, 16, 24], depths=[1, 2, 1]),
    dict(patch_size=4, hidden_sizes=[8, 12, 16, 20], depths=[1, 1, 2, 1], layer_norm_eps=1e-6),
    dict(patch_size=1, hidden_sizes=[16, 8], depths=[2, 1], layer_scale_init_value=0.0),
    dict(patch_size=2, hidden_sizes=[8, 16], depths=[1, 1], hidden_act="relu", drop_path_rate=0.3),
]


@pytest.mark.parametrize("head", ["model", "classifier", "no_labels"])
@pytest.mark.parametrize("config", HF_CONFIGS, ids=lambda c: f"p{c['patch_size']}-{c['depths']}")
def test_from_hf_matches_transformers(config, head):
    config = {"num_stages": len(config["depths"]), **config}
    cfg = transformers.ConvNextConfig(
        num_channels=2, num_labels=0 if head == "no_labels" else 4, **config
    )
    cls = (
        transformers.ConvNextModel
        if head == "model"
        else transformers.ConvNextForImageClassification
    )
    theirs = randomize_(cls(cfg)).eval()
    ours = ConvNeXt.from_hf(theirs)
    assert not ours.training
    x = torch.randn(2, 2, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = theirs(x)
        if head == "model":
            torch.testing.assert_close(ours.forward_features(x), out.last_hidden_state, **TOL)
            torch.testing.assert_close(ours(x), out.pooler_output, **TOL)
        else:
            assert ours.num_classes == cfg.num_labels
            torch.testing.assert_close(ours(x), out.logits, **TOL)


def test_from_hf_uses_the_config():
    cfg = transformers.ConvNextConfig(
        hidden_sizes=[8, 16], depths=[1, 1], num_stages=2, num_labels=3
    )
    ours = ConvNeXt.from_hf(transformers.ConvNextForImageClassification(cfg).train())
    assert ours.training and ours.norm.eps == cfg.layer_norm_eps == 1e-12
    theirs = transformers.ConvNextModel(cfg)
    theirs.config.num_stages = 3
    with pytest.raises(ValueError, match="num_stages"):
        ConvNeXt.from_hf(theirs)


@pytest.mark.parametrize(
    "factory, expected",
    [
        (C.convnext_tiny, 28_589_128),
        (C.convnext_small, 50_223_688),
        (C.convnext_base, 88_591_464),
        (C.convnext_large, 197_767_336),
    ],
)
def test_published_parameter_counts(factory, expected):
    with torch.device("meta"):
        assert n_params(factory()) == expected  # Table 1 / timm: 28.6M, 50.2M, 88.6M, 197.8M


def test_channels_first_layer_norm_is_layer_norm_over_channels():
    torch.manual_seed(0)
    norm = LayerNorm2d(6, eps=1e-6).double()
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.normal_()
    x = torch.randn(2, 6, 4, 5, dtype=torch.float64)
    ref = nn.LayerNorm(6, eps=1e-6).double()
    ref.load_state_dict(norm.state_dict())
    expected = ref(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    torch.testing.assert_close(norm(x), expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(layer_norm_2d(x, norm.weight, norm.bias, 1e-6), expected)


def test_block_equation_in_float64():
    torch.manual_seed(1)
    block = randomize_(ConvNeXtBlock(4, layer_scale_init=0.5)).double().eval()
    x = torch.randn(2, 4, 9, 9, dtype=torch.float64)
    h = block.conv_dw(x).permute(0, 2, 3, 1)  # 7x7 depthwise, then channels last
    h = nn.functional.layer_norm(h, (4,), block.norm.weight, block.norm.bias, 1e-6)
    h = block.pwconv2(nn.functional.gelu(block.pwconv1(h)))  # inverted bottleneck, 4x wider
    expected = x + (block.gamma * h).permute(0, 3, 1, 2)
    torch.testing.assert_close(block(x), expected, rtol=1e-12, atol=1e-12)
    assert block.conv_dw.kernel_size == (7, 7) and block.conv_dw.groups == 4
    assert block.pwconv1.out_features == 16
    assert ConvNeXtBlock(4, layer_scale_init=0.0).gamma is None


def test_stochastic_depth_rates_and_behaviour():
    rates = drop_path_rates((1, 2, 2), 0.4)
    assert rates == [[0.0], [0.1, 0.2], [pytest.approx(0.3), 0.4]]
    kwargs = {"patch_size": 1, "drop_path_rate": 0.4, "layer_scale_init": 1.0, "num_classes": 2}
    model = ConvNeXt((1, 2, 2), (4, 8, 8), **kwargs)
    assert [b.drop_path.p for s in model.stages for b in s.blocks] == [r for s in rates for r in s]
    x = torch.randn(16, 3, 8, 8)
    model.eval()
    torch.testing.assert_close(model(x), model(x))
    model.train()
    assert not torch.allclose(model(x), model(x))


def test_small_variant_on_fashion_mnist_shapes():
    model = C.convnext_cifar(in_chans=1)
    x = torch.randn(2, 1, 28, 28)
    assert model(x).shape == (2, 10)
    assert model.forward_features(x).shape == (2, 128, 3, 3)
    model.reset_classifier(0)
    assert model(x).shape == (2, 128)
    assert "patch_size=2" in repr(model)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"depths": (1, 1), "dims": (8,)},
        {"depths": (0,), "dims": (8,)},
        {"kernel_size": 4},
        {"drop_path_rate": 1.0},
        {"layer_scale_init": -1.0},
        {"num_classes": -1},
    ],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        ConvNeXt(**{"depths": (1,), "dims": (8,), **kwargs})
    with pytest.raises(ValueError, match="expected"):
        ConvNeXt((1,), (8,))(torch.zeros(1, 1, 8, 8))
