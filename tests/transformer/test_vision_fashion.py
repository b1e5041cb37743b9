"""vision_fashion (experiment): the configured ViT and Swin and the config's validation."""

from __future__ import annotations

import pytest
import torch

from replearn.experiments.transformer.vision_fashion import Config, build_models, quick, tiny


def test_default_models_match_the_documented_sizes():
    """The docstring's networks: ViT 49 + 1 tokens of width 64 (0.14M parameters), Swin 0.10M."""
    models = {k: make() for k, make in build_models(Config(), 1, 28, 10).items()}
    params = {k: sum(p.numel() for p in m.parameters()) for k, m in models.items()}
    assert round(params["vit"] / 1e6, 2) == 0.14 and round(params["swin"] / 1e6, 2) == 0.10
    x = torch.randn(2, 1, 28, 28)
    for m in models.values():
        assert m(x).shape == (2, 10)
    assert models["vit"].pos_embed.shape == (1, 50, 64)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"lr": 0.0}, "lr"), ({"weight_decay": -1.0}, "weight_decay"), ({"threads": 0}, "threads"),
])  # fmt: skip
def test_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Config(**kwargs)


def test_presets_are_smaller():
    assert tiny().engine.max_steps < quick().engine.max_steps < Config().engine.max_steps
    assert tiny().data == "digits"
