"""The shared from_hf helpers: activation names, model splitting, strict renamed loading."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from replearn.cnn import hf

transformers = pytest.importorskip("transformers")
SMALL = {"hidden_sizes": [8], "depths": [1], "embedding_size": 4, "layer_type": "basic"}


@pytest.mark.parametrize(
    "name, cls", [("relu", nn.ReLU), ("gelu", nn.GELU), ("swish", nn.SiLU), ("silu", nn.SiLU)]
)
def test_activation_names(name, cls):
    assert isinstance(hf.activation(name)(), cls)
    x = torch.linspace(-3, 3, 13)
    torch.testing.assert_close(hf.activation(name)()(x), transformers.activations.ACT2FN[name](x))


def test_tanh_gelu_matches_transformers():
    x = torch.linspace(-3, 3, 13)
    for name in ("gelu_new", "gelu_pytorch_tanh"):
        expected = transformers.activations.ACT2FN[name](x)
        torch.testing.assert_close(hf.activation(name)()(x), expected, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="unsupported hidden_act"):
        hf.activation("quick_gelu")


def test_split_hf_model():
    cfg = transformers.ResNetConfig(num_labels=3, **SMALL)
    config, state, n = hf.split_hf_model(transformers.ResNetModel(cfg))
    assert config is not None and n == 0 and "classifier.weight" not in state
    head = transformers.ResNetForImageClassification(cfg)
    _, state, n = hf.split_hf_model(head)
    assert n == 3 and state["classifier.weight"].shape == (3, 8)
    assert not any(k.startswith("resnet.") for k in state)
    cfg.num_labels = 0
    assert hf.split_hf_model(transformers.ResNetForImageClassification(cfg))[2] == 0
    with pytest.raises(TypeError, match="transformers model"):
        hf.split_hf_model(nn.Linear(2, 2))


def test_rename_applies_every_rule_in_order():
    rules = [(r"^a\.", "b."), (r"^b\.(\d)", lambda m: f"c.{int(m[1]) + 1}")]
    assert hf.rename("a.0.weight", rules) == "c.1.weight"
    assert hf.rename("z.0", rules) == "z.0"


def test_load_renamed_is_strict_both_ways():
    ours = nn.Sequential(nn.Linear(2, 3))
    theirs = {"lin.weight": torch.ones(3, 2), "lin.bias": torch.zeros(3)}
    hf.load_renamed(ours, theirs, [(r"^0\.", "lin.")])
    torch.testing.assert_close(ours[0].weight, torch.ones(3, 2))
    theirs["lin.weight"] = torch.zeros(3, 2)
    assert ours[0].weight.sum() == 6  # a copy, not shared storage
    with pytest.raises(KeyError, match="not in the Hugging Face model"):
        hf.load_renamed(ours, theirs, [])
    with pytest.raises(ValueError, match="shape"):
        hf.load_renamed(ours, {**theirs, "lin.weight": torch.ones(2, 2)}, [(r"^0\.", "lin.")])
    with pytest.raises(ValueError, match="left unused: extra"):
        hf.load_renamed(ours, {**theirs, "extra": torch.ones(1)}, [(r"^0\.", "lin.")])
    hf.load_renamed(ours, theirs, key_map=lambda k: k.replace("0.", "lin."))


def mapped_shapes(ours: nn.Module, rules, key_map=lambda k: k) -> dict[str, tuple]:
    return {hf.rename(key_map(k), rules): tuple(v.shape) for k, v in ours.state_dict().items()}


def hf_shapes(theirs: nn.Module) -> dict[str, tuple]:
    return {k: tuple(v.shape) for k, v in hf.split_hf_model(theirs)[1].items()}


def test_rules_map_the_published_layouts_one_to_one():
    """ResNet-18/50, ConvNeXt-T and EfficientNet-B0 at full size (on the meta device)."""
    from replearn.cnn import convnext, efficientnet, resnet

    t = transformers
    with torch.device("meta"):
        for layer_type, hidden, depths, ours in [
            ("basic", [64, 128, 256, 512], [2, 2, 2, 2], resnet.resnet18(num_classes=2)),
            ("bottleneck", [256, 512, 1024, 2048], [3, 4, 6, 3], resnet.resnet50(num_classes=2)),
        ]:
            cfg = t.ResNetConfig(layer_type=layer_type, hidden_sizes=hidden, depths=depths)
            theirs = t.ResNetForImageClassification(cfg)
            assert mapped_shapes(ours, hf.RESNET_RULES) == hf_shapes(theirs)
        theirs = t.ConvNextForImageClassification(t.ConvNextConfig(num_labels=1000))
        ours = convnext.convnext_tiny()
        assert mapped_shapes(ours, hf.CONVNEXT_RULES) == hf_shapes(theirs)
        b0 = {"width_coefficient": 1.0, "depth_coefficient": 1.0, "hidden_dim": 1280}
        theirs = t.EfficientNetForImageClassification(t.EfficientNetConfig(num_labels=1000, **b0))
        ours = efficientnet.efficientnet_b0()
    flat = [f"stages.{i}.{j}." for i, stage in enumerate(ours.stages) for j in range(len(stage))]

    def key_map(key: str) -> str:
        for n, prefix in enumerate(flat):
            if key.startswith(prefix):
                return f"encoder.blocks.{n}." + key[len(prefix) :]
        return key

    assert mapped_shapes(ours, hf.EFFICIENTNET_RULES, key_map) == hf_shapes(theirs)
