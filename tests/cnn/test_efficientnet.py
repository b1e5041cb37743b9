"""EfficientNet vs transformers' EfficientNet with copied weights; scaling rules; sizes."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from replearn.cnn import efficientnet as E
from replearn.cnn.efficientnet import (
    EFFICIENTNET_PARAMS,
    EfficientNet,
    MBConv,
    StageSpec,
    compound_scaling,
    round_filters,
    round_repeats,
)

transformers = pytest.importorskip("transformers")
TOL = {"rtol": 0.0, "atol": 1e-5}


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


def hf_config(**kwargs):
    """A small transformers config; ``in_channels`` chained and ``hidden_dim`` derived."""
    kwargs = {
        "num_channels": 2,
        "width_coefficient": 0.25,
        "depth_coefficient": 0.6,
        "kernel_sizes": [3, 5, 3],
        "out_channels": [16, 24, 40],
        "strides": [1, 2, 2],
        "num_block_repeats": [1, 2, 3],
        "expand_ratios": [1, 6, 4],
        **kwargs,
    }
    kwargs["in_channels"] = [32, *kwargs["out_channels"][:-1]]
    kwargs["hidden_dim"] = round_filters(1280, kwargs["width_coefficient"])
    return transformers.EfficientNetConfig(**kwargs)


HF_CONFIGS = {
    "default": {},
    "square-padding": {"depthwise_padding": [1, 3], "depth_coefficient": 1.0},
    "no-skip-on-stage-start": {"out_channels": [16, 16, 24], "strides": [1, 1, 2]},
    "wide-max-relu": {"width_coefficient": 0.5, "pooling_type": "max", "hidden_act": "relu"},
    "b0-stages": {
        "width_coefficient": 0.1,
        "depth_coefficient": 0.5,
        "kernel_sizes": [3, 3, 5, 3, 5, 5, 3],
        "out_channels": [16, 24, 40, 80, 112, 192, 320],
        "strides": [1, 2, 2, 2, 1, 2, 1],
        "num_block_repeats": [1, 2, 2, 3, 3, 4, 1],
        "expand_ratios": [1, 6, 6, 6, 6, 6, 6],
    },
}


@pytest.mark.parametrize("head", ["model", "classifier", "no_labels"])
@pytest.mark.parametrize("name", list(HF_CONFIGS))
def test_from_hf_matches_transformers(name, head):
    cfg = hf_config(num_labels=0 if head == "no_labels" else 7, **HF_CONFIGS[name])
    if head == "model":
        theirs = transformers.EfficientNetModel(cfg)
    else:
        theirs = transformers.EfficientNetForImageClassification(cfg)
    theirs = randomize_(theirs).eval()
    ours = EfficientNet.from_hf(theirs)
    assert not ours.training
    sizes = (32,) if name == "b0-stages" else (32, 29)  # the checkpoints' fixed TF padding
    for size in sizes:  # at even and odd sizes
        x = torch.randn(2, 2, size, size, generator=torch.Generator().manual_seed(size))
        with torch.no_grad():
            out = theirs(x)
            if head == "model":
                torch.testing.assert_close(ours.forward_features(x), out.last_hidden_state, **TOL)
                torch.testing.assert_close(ours(x), out.pooler_output, **TOL)
            else:
                assert ours.num_classes == cfg.num_labels
                torch.testing.assert_close(ours(x), out.logits, **TOL)


def test_from_hf_checks_the_config():
    theirs = transformers.EfficientNetModel(hf_config())
    theirs.config.hidden_dim = 999
    with pytest.raises(ValueError, match="hidden_dim"):
        EfficientNet.from_hf(theirs)
    theirs.config.hidden_dim = round_filters(1280, 0.25)
    theirs.config.in_channels = [32, 16, 64]
    with pytest.raises(ValueError, match="in_channels"):
        EfficientNet.from_hf(theirs)


@pytest.mark.parametrize(
    "variant, expected",
    [
        ("b0", 5_288_548),
        ("b1", 7_794_184),
        ("b2", 9_109_994),
        ("b3", 12_233_232),
        ("b4", 19_341_616),
        ("b5", 30_389_784),
        ("b6", 43_040_704),
        ("b7", 66_347_960),
    ],
)
def test_published_parameter_counts(variant, expected):
    with torch.device("meta"):
        model = getattr(E, f"efficientnet_{variant}")()
    assert n_params(model) == expected  # B0: Table 1 (5.3M); B1-B7: timm's ports (Table 2)
    assert model.default_resolution == EFFICIENTNET_PARAMS[variant][2]
    assert model.drop.p == EFFICIENTNET_PARAMS[variant][3]


def test_compound_scaling_eq_3():
    d, w, r = compound_scaling(1.0)
    assert (d, w, r) == (1.2, 1.1, 1.15)
    assert d * w**2 * r**2 == pytest.approx(2.0, abs=0.1)  # FLOPs x ~2 per unit of phi
    assert compound_scaling(0.0) == (1.0, 1.0, 1.0)
    for phi, variant in [(1, "b2"), (2, "b3")]:  # the released B2, B3 follow Eq. (3) closely
        width, depth, resolution, _ = EFFICIENTNET_PARAMS[variant]
        d, w, r = compound_scaling(phi)
        assert depth == pytest.approx(d, rel=0.05) and width == pytest.approx(w, rel=0.05)
        assert resolution == pytest.approx(224 * r, rel=0.02)


def test_rounding_rules():
    assert round_filters(32, 1.0) == 32
    assert round_filters(32, 1.1) == 32  # 35.2 -> 32 (within 10%)
    assert round_filters(40, 1.4) == 56
    assert round_filters(1280, 2.0) == 2560
    assert round_filters(16, 0.25) == 8  # never below the divisor
    assert round_filters(24, 0.3) == 8
    assert round_filters(100, 1.0, divisor=64) == 128  # 64 would be 36% below
    assert [round_repeats(n, 3.1) for n in (1, 2, 3, 4)] == [4, 7, 10, 13]
    assert round_repeats(3, 1.0) == 3


def test_mbconv_structure():
    block = MBConv(16, 16, kernel_size=5, expand_ratio=6)
    assert block.has_skip and block.expand.conv.out_channels == 96
    assert block.depthwise.conv.groups == 96 and block.depthwise.conv.kernel_size == (5, 5)
    assert block.se.channels == 96 and block.se.rd_channels == 4  # a quarter of C_in
    assert isinstance(block.se.act, nn.SiLU) and not hasattr(block.project, "act")
    assert not MBConv(16, 24).has_skip and not MBConv(16, 16, stride=2).has_skip
    assert isinstance(MBConv(16, 16, expand_ratio=1).expand, nn.Identity)
    x = torch.randn(2, 16, 8, 8)
    assert MBConv(16, 24, stride=2, kernel_size=5)(x).shape == (2, 24, 4, 4)
    assert MBConv(16, 24, stride=2, kernel_size=5, tf_padding=True)(x).shape == (2, 24, 4, 4)


def test_stochastic_depth_only_when_training():
    torch.manual_seed(0)
    block = MBConv(8, 8, drop_path=0.5)
    x = torch.randn(64, 8, 4, 4)
    block.eval()
    torch.testing.assert_close(block(x), block(x))
    block.train()
    out = block(x)
    kept = [not torch.allclose(o, i) for o, i in zip(out, x, strict=True)]
    assert 0 < sum(kept) < 64  # whole samples skip the branch
    rates = [b.drop_path.p for s in E.efficientnet_b0().stages for b in s]
    assert rates[0] == 0.0 and rates == sorted(rates) and rates[-1] == pytest.approx(0.2 * 15 / 16)


def test_small_variant_on_fashion_mnist_shapes():
    model = E.efficientnet_cifar(in_chans=1)
    x = torch.randn(2, 1, 28, 28)
    assert model(x).shape == (2, 10)
    assert model.forward_features(x).shape == (2, 512, 4, 4)
    model.reset_classifier(0)
    assert model(x).shape == (2, 512)
    scaled = E.efficientnet_cifar(in_chans=1, width_mult=1.1, depth_mult=1.2)
    assert n_params(scaled) > n_params(model)
    assert "default_resolution=32" in repr(model)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"stages": []},
        {"width_mult": 0.0},
        {"stem_stride": 3},
        {"global_pool": "median"},
        {"drop_path_rate": 1.0},
        {"num_classes": -1},
    ],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        EfficientNet(**{"stages": [StageSpec(1, 3, 1, 8, 1)], **kwargs})
    with pytest.raises(ValueError, match="odd kernel_size"):
        MBConv(8, 8, kernel_size=4)
    assert math.isfinite(
        EfficientNet([(1, 3, 1, 8, 1)], num_classes=2)(torch.randn(1, 3, 8, 8)).sum().item()
    )
