"""ResNet / PlainNet vs transformers' ResNet (copied weights), Table 1 structure, sizes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from replearn.cnn import resnet as R
from replearn.cnn.resnet import (
    BasicBlock,
    Bottleneck,
    PlainNet,
    ResNet,
    cifar_blocks_per_stage,
    pad_shortcut,
)

transformers = pytest.importorskip("transformers")


def randomize_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random BN statistics and affine parameters, so that a wrong mapping cannot hide."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.dtype.is_floating_point:
                continue
            if name.endswith(("running_var", "weight")) and t.ndim == 1:
                t.uniform_(0.5, 1.5, generator=g)
            elif t.ndim == 1:
                t.normal_(0.0, 0.1, generator=g)
            else:
                t.normal_(0.0, t[0].numel() ** -0.5, generator=g)
    return model


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


HF_CONFIGS = [
    dict(layer_type="basic", hidden_sizes=[8, 16, 24], depths=[1, 2, 1]),
    dict(layer_type="basic", hidden_sizes=[12, 16], depths=[2, 1], downsample_in_first_stage=True),
    dict(layer_type="bottleneck", hidden_sizes=[16, 32, 40], depths=[1, 2, 1]),
    dict(
        layer_type="bottleneck",
        hidden_sizes=[8, 16],
        depths=[2, 2],
        downsample_in_first_stage=True,
        downsample_in_bottleneck=True,
        hidden_act="gelu",
    ),
]


@pytest.mark.parametrize("head", ["model", "classifier", "no_labels"])
@pytest.mark.parametrize("config", HF_CONFIGS, ids=lambda c: f"{c['layer_type']}-{c['depths']}")
def test_from_hf_matches_transformers(config, head):
    cfg = transformers.ResNetConfig(num_channels=2, embedding_size=6, num_labels=5, **config)
    if head == "no_labels":
        cfg.num_labels = 0
    cls = transformers.ResNetModel if head == "model" else transformers.ResNetForImageClassification
    theirs = randomize_(cls(cfg)).eval()
    ours = ResNet.from_hf(theirs)
    assert not ours.training
    x = torch.randn(2, 2, 29, 29, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = theirs(x)
        if head == "model":
            torch.testing.assert_close(ours.forward_features(x), out.last_hidden_state, **TOL)
            torch.testing.assert_close(ours(x), out.pooler_output.flatten(1), **TOL)
        else:
            assert ours.num_classes == cfg.num_labels
            torch.testing.assert_close(ours(x), out.logits, **TOL)


TOL = {"rtol": 0.0, "atol": 1e-5}
SMALL = {"hidden_sizes": [8], "depths": [1], "embedding_size": 4}


def test_from_hf_in_training_mode_updates_the_same_statistics():
    cfg = transformers.ResNetConfig(
        num_channels=1, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic"
    )
    theirs = randomize_(transformers.ResNetForImageClassification(cfg)).train()
    ours = ResNet.from_hf(theirs)
    assert ours.training
    x = torch.randn(4, 1, 16, 16)
    torch.testing.assert_close(ours(x), theirs(x).logits, **TOL)
    bn_ours = ours.stages[1][0].shortcut.bn
    bn_theirs = theirs.resnet.encoder.stages[1].layers[0].shortcut.normalization
    torch.testing.assert_close(bn_ours.running_mean, bn_theirs.running_mean, **TOL)


def test_from_hf_refuses_unknown_activation_and_subclasses():
    cfg = transformers.ResNetConfig(**SMALL)
    cfg.hidden_act = "mish"
    with pytest.raises(ValueError, match="hidden_act"):
        ResNet.from_hf(transformers.ResNetModel(cfg))
    with pytest.raises(TypeError, match="no Hugging Face counterpart"):
        PlainNet.from_hf(transformers.ResNetModel(transformers.ResNetConfig(**SMALL)))


@pytest.mark.parametrize(
    "factory, expected",
    [
        (R.resnet18, 11_689_512),
        (R.resnet34, 21_797_672),
        (R.resnet50, 25_557_032),
        (R.resnet101, 44_549_160),
        (R.resnet152, 60_192_808),
    ],
)
def test_published_parameter_counts(factory, expected):
    with torch.device("meta"):
        assert n_params(factory()) == expected  # torchvision's / the paper's models


def test_cifar_resnets_have_the_sizes_of_table_6():
    with torch.device("meta"):
        for depth, millions in [(20, 0.27), (32, 0.46), (44, 0.66), (56, 0.85)]:
            assert round(n_params(R.resnet_cifar(depth)) / 1e6, 2) == millions
        assert round(n_params(R.resnet_cifar(110)) / 1e6, 1) == 1.7


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
def test_table_1_depth_counts_weighted_layers(depth):
    with torch.device("meta"):
        model = getattr(R, f"resnet{depth}")()
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    assert len([n for n in convs if "shortcut" not in n]) + 1 == depth  # + the classifier


def test_cifar_depth_is_6n_plus_2_and_plain_nets_drop_only_the_shortcuts():
    for depth in (20, 56):
        model = R.plainnet_cifar(depth)
        convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
        assert len(convs) + 1 == depth
        assert n_params(model) == n_params(R.resnet_cifar(depth))  # option A has no parameters
    with torch.device("meta"):
        plain, res = R.plainnet34(), R.resnet34()
    extra = {k for k in res.state_dict() if "shortcut" in k}
    assert set(res.state_dict()) - set(plain.state_dict()) == extra
    assert all(b.shortcut is None for stage in plain.stages for b in stage)


@pytest.mark.parametrize("block_cls", [BasicBlock, Bottleneck])
@pytest.mark.parametrize("shortcut", ["A", "B", "C", None])
def test_block_is_relu_of_branch_plus_shortcut(block_cls, shortcut):
    torch.manual_seed(0)
    block = randomize_(block_cls(8, 16, stride=2, shortcut=shortcut)).double().eval()
    x = torch.randn(2, 8, 9, 9, dtype=torch.float64)
    h = x
    for i in (1, 2, 3)[: 2 if block_cls is BasicBlock else 3]:
        conv, bn = getattr(block, f"conv{i}"), getattr(block, f"bn{i}")
        h = bn(conv(h))
        h = h if i == (2 if block_cls is BasicBlock else 3) else F.relu(h)
    if shortcut == "A":
        h = h + pad_shortcut(x, 16, 2)
    elif shortcut is not None:
        h = h + block.shortcut.bn(block.shortcut.conv(x))  # Eq. (2)
    torch.testing.assert_close(block(x), F.relu(h), rtol=1e-12, atol=1e-12)


def test_pad_shortcut_subsamples_and_zero_pads():
    x = torch.arange(2 * 3 * 5 * 5, dtype=torch.float32).reshape(2, 3, 5, 5)
    y = pad_shortcut(x, 7, 2)
    assert y.shape == (2, 7, 3, 3)
    torch.testing.assert_close(y[:, :3], x[:, :, ::2, ::2])
    assert (y[:, 3:] == 0).all()


def test_bottleneck_stride_position():
    assert Bottleneck(8, 16, stride=2).conv2.stride == (2, 2)
    assert Bottleneck(8, 16, stride=2, stride_in_1x1=True).conv1.stride == (2, 2)


def test_small_variants_on_fashion_mnist_shapes():
    x = torch.randn(2, 1, 28, 28)
    for model in (R.resnet_cifar(20, in_chans=1), R.plainnet_cifar(20, in_chans=1)):
        assert model(x).shape == (2, 10)
        assert model.forward_features(x).shape == (2, 64, 7, 7)
        assert model.forward_head(model.forward_features(x), pre_logits=True).shape == (2, 64)
    model = R.resnet18(num_classes=10, in_chans=1)
    assert model(x).shape == (2, 10)
    model.reset_classifier(0)
    assert model(x).shape == (2, 512)


def test_cifar_blocks_per_stage():
    assert [cifar_blocks_per_stage(d) for d in (20, 32, 44, 56, 110)] == [3, 5, 7, 9, 18]
    for bad in (19, 2, 21, 20.0):
        with pytest.raises(ValueError, match="6n"):
            cifar_blocks_per_stage(bad)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"depths": (2, 2), "widths": (8,)},
        {"depths": (0,), "widths": (8,)},
        {"block": "wide"},
        {"block": "bottleneck", "widths": (2, 8)},
        {"stem": "vit"},
        {"shortcut": "D"},
        {"num_classes": -1},
        {"drop_rate": 1.0},
    ],
)
def test_bad_arguments(kwargs):
    kwargs = {"depths": (1, 1), "widths": (8, 16), **kwargs}
    with pytest.raises(ValueError):
        ResNet(**kwargs)


def test_option_a_cannot_reduce_channels_and_wrong_input_is_clear():
    with pytest.raises(ValueError, match="option A"):
        ResNet((1, 1), (16, 8), shortcut="A")
    with pytest.raises(ValueError, match=r"expected \(B, 3, H, W\)"):
        R.resnet_cifar(20)(torch.zeros(1, 1, 8, 8))
    with pytest.raises(TypeError, match="no shortcuts"):
        PlainNet((1,), (8,), shortcut="B")
    assert "shortcut='A'" in repr(R.resnet_cifar(20))
