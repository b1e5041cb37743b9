"""Every topic package exports its public classes (``from replearn.cnn import ResNet``).

Each name in a topic package's ``__all__`` must resolve, and be the object defined in the
submodule (no stale copies); the packages that hold models must export at least their main
classes.
"""

from __future__ import annotations

import importlib

import pytest

TOPICS = [
    "cnn", "diffusion", "flow", "fundamentals", "gan", "metrics", "norm", "optim",
    "regularize", "rl", "rlhf", "sequence", "ssl", "transformer", "vae",
]  # fmt: skip
MAIN = {
    "cnn": ("ResNet", "ConvNeXt", "EfficientNet", "WaveNet", "ByteNet", "Conv2d"),
    "ssl": ("SimCLR", "MoCo", "BYOL", "BarlowTwins", "DINO", "CLIP", "IJEPA"),
    "transformer": ("GPT", "BERT", "ViT", "T5"),
}


@pytest.mark.parametrize("topic", TOPICS)
def test_topic_package_exports_resolve(topic: str) -> None:
    package = importlib.import_module(f"replearn.{topic}")
    names = getattr(package, "__all__", None)
    assert names, f"replearn.{topic} exports nothing (__all__ missing or empty)"
    for name in names:
        obj = getattr(package, name)
        home = getattr(obj, "__module__", "") or ""
        if isinstance(obj, type):
            assert home.startswith(f"replearn.{topic}"), f"{topic}.{name} comes from {home}"
    for name in MAIN.get(topic, ()):
        assert name in names, f"replearn.{topic} does not export {name}"
