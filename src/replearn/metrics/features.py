"""Pluggable feature extractors for FID, KID, precision/recall and the Inception/Mode Scores.

FID and KID compare generated and real samples in the feature space of a network;
the Inception and Mode Scores read a classifier's class probabilities. The original
papers use InceptionV3 on ImageNet; replearn's images are 8x8 digits and 28x28
Fashion-MNIST, so its default extractor is a small CNN classifier trained by replearn
on the same data set (:class:`FeatureClassifier`): its 128-d penultimate layer gives
the features, its softmax the probabilities. Numbers are comparable only within one
extractor (never with published InceptionV3 FIDs).

Reproducing the classifier: ``python -m replearn.metrics.features --data digits``
(or ``fashion-mnist``) trains it through the engine with a fixed seed on one thread
and writes ``<cache>/features/<data>-classifier-v1.safetensors`` with a JSON sidecar
holding the SHA-256 of the weights, the SHA-256 of its test-set predictions and
its test accuracy (``<cache>`` is ``~/.cache/replearn``). :func:`feature_classifier`
loads that file, recomputes the prediction checksum and refuses a file whose weights
or predictions do not match the sidecar; when the file is missing it trains the
classifier (seconds for digits, minutes for Fashion-MNIST) and caches it. No
weights are committed to the repository. ``PINNED_PREDICTIONS`` holds the prediction
checksum measured when the classifier was first produced (torch 2.13.0 CPU); the
command prints whether a fresh run reproduces it.

Any user network plugs in with :class:`ModuleFeatures` (e.g. an InceptionV3 the user
has weights for, with its own resizing in ``preprocess``). Inputs to every extractor
are images in ``[0, 1]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.registry import Example, register

__all__ = [
    "FeatureClassifier",
    "FeatureExtractor",
    "ModuleFeatures",
    "extract",
    "feature_classifier",
    "train_feature_classifier",
]

VERSION = 1
# SHA-256 of the int8 test-set predictions, measured when first produced (torch 2.13.0 CPU).
PINNED_PREDICTIONS: dict[str, str] = {
    "digits": "9fddfd296ce953e790e8fdd1a9e0ae3bdcd0dd1855d5f41addab408a509aa658",
}
_TRAIN_STEPS = {"digits": 600, "fashion-mnist": 3000}


class FeatureExtractor(Protocol):
    """What the metrics need: features and (for IS / Mode Score) class probabilities."""

    def features(self, x: Tensor) -> Tensor: ...  # (B, C, H, W) in [0, 1] -> (B, D)

    def probabilities(self, x: Tensor) -> Tensor: ...  # (B, C, H, W) -> (B, K)


@register(
    "metrics.feature_classifier",
    paper="replearn's stand-in for InceptionV3 (Szegedy et al. 2016, arXiv:1512.00567)",
    reference="trained test accuracy; checksum of its test predictions",
    example=lambda: Example(FeatureClassifier(), (torch.rand(2, 1, 8, 8),), (2, 10)),
)
class FeatureClassifier(nn.Module):
    """A small CNN classifier whose penultimate layer is the feature space.

    conv3x3(32) - ReLU - conv3x3(64, stride 2) - ReLU - conv3x3(64) - ReLU -
    adaptive average pool to 4x4 - linear(``feature_dim``) - ReLU [features] -
    linear(``num_classes``). Works for any input of at least 4x4 pixels.

    Shape:
        x: (B, C, H, W) in [0, 1] -> logits (B, num_classes); ``features``: (B, feature_dim).
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        num_classes: int = 10,
        width: int = 32,
        feature_dim: int = 128,
    ) -> None:
        super().__init__()
        if min(in_channels, num_classes, width, feature_dim) < 1:
            raise ValueError("in_channels, num_classes, width and feature_dim must be >= 1")
        self.in_channels, self.num_classes = in_channels, num_classes
        self.width, self.feature_dim = width, feature_dim
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(2 * width * 16, feature_dim),
            nn.ReLU(),
        )
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate activations. Shape: (B, C, H, W) -> (B, feature_dim)."""
        return self.body(x)

    def probabilities(self, x: Tensor) -> Tensor:
        """Softmax of the logits. Shape: (B, C, H, W) -> (B, num_classes)."""
        return F.softmax(self(x), dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, num_classes={self.num_classes}, "
            f"width={self.width}, feature_dim={self.feature_dim}"
        )


class ModuleFeatures:
    """Any user network as a :class:`FeatureExtractor`.

    Args:
        module: maps preprocessed images to features (e.g. InceptionV3 without its head).
        classifier: maps features to logits for the IS / Mode Score (None: not available).
        preprocess: applied to the [0, 1] images first (resize, normalize, grey -> RGB).
    """

    def __init__(
        self,
        module: nn.Module,
        *,
        classifier: nn.Module | None = None,
        preprocess: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        self.module, self.classifier, self.preprocess = module, classifier, preprocess

    def features(self, x: Tensor) -> Tensor:
        if self.preprocess is not None:
            x = self.preprocess(x)
        return self.module(x).flatten(1)

    def probabilities(self, x: Tensor) -> Tensor:
        if self.classifier is None:
            raise ValueError("this extractor has no classifier: pass classifier= for IS / MS")
        return F.softmax(self.classifier(self.features(x)), dim=-1)


@torch.no_grad()
def extract(
    extractor: FeatureExtractor | nn.Module,
    images: Tensor,
    *,
    what: str = "features",
    batch_size: int = 500,
) -> Tensor:
    """Features or probabilities of ``images`` in batches, without gradients, in eval mode.

    Shape:
        images: (N, C, H, W) in [0, 1] -> (N, D) float64 (``what="features"``) or (N, K).
    """
    if what not in ("features", "probabilities"):
        raise ValueError(f"what must be 'features' or 'probabilities', got {what!r}")
    fn = getattr(extractor, what)
    was_training = isinstance(extractor, nn.Module) and extractor.training
    if isinstance(extractor, nn.Module):
        extractor.eval()
    try:
        out = [fn(images[i : i + batch_size]).double() for i in range(0, len(images), batch_size)]
    finally:
        if was_training:
            extractor.train()  # type: ignore[union-attr]
    return torch.cat(out)


def _predictions_sha256(model: FeatureClassifier, test_images: Tensor) -> str:
    preds = extract(model, test_images, what="probabilities").argmax(1).to(torch.int8)
    return hashlib.sha256(preds.numpy().tobytes()).hexdigest()


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_path(data: str) -> Path:
    """``<cache>/features/<data>-classifier-v<VERSION>.safetensors``."""
    from replearn.data.sources import cache_dir

    return cache_dir() / "features" / f"{data}-classifier-v{VERSION}.safetensors"


def train_feature_classifier(
    data: str = "digits", *, seed: int = 0, steps: int | None = None
) -> tuple[FeatureClassifier, dict[str, float | str]]:
    """Train :class:`FeatureClassifier` through the engine; return it and its record.

    The record holds ``test_accuracy`` and ``predictions_sha256``. Deterministic for a
    given seed on one thread (runs under :func:`replearn.engine.single_thread`).
    """
    from replearn.data.images import load_classification
    from replearn.engine import ClassificationTask, EngineConfig, RunContext, fit, single_thread
    from replearn.engine.seed import seed_everything

    ds = load_classification(data, val_fraction=0.0, seed=seed)
    n_steps = steps if steps is not None else _TRAIN_STEPS.get(data, 2000)
    with single_thread(), tempfile.TemporaryDirectory() as tmp:
        seed_everything(seed)
        model = FeatureClassifier(in_channels=ds.input_shape[0], num_classes=ds.num_classes)
        opt = torch.optim.Adam(model.parameters(), lr=2e-3)
        cfg = EngineConfig(
            max_steps=n_steps, batch_size=64, log_every=100, checkpoint_every=0, progress=False
        )
        ctx = RunContext(out=Path(tmp), seed=seed, progress=False)
        fit(ClassificationTask(model), opt, ds.train, cfg=cfg, ctx=ctx)
        model.eval()
        x_test, y_test = ds.test.tensors
        probs = extract(model, x_test, what="probabilities")
        acc = float((probs.argmax(1) == y_test).double().mean())
        record: dict[str, float | str] = {
            "data": data,
            "seed": seed,
            "steps": n_steps,
            "test_accuracy": acc,
            "predictions_sha256": _predictions_sha256(model, x_test),
        }
    return model, record


def feature_classifier(
    data: str = "digits", *, train_if_missing: bool = True, steps: int | None = None
) -> FeatureClassifier:
    """The cached, verified classifier for ``data`` (trained and cached when missing).

    ``steps`` trains a classifier of another length instead, never cached (the tiny presets
    use a short one); the cached file is always the default, reproducible one.

    Raises:
        ValueError: the cached weights or their test predictions do not match the sidecar,
            or the file is missing and ``train_if_missing`` is False.
    """
    from safetensors.torch import load_file, save_file

    from replearn.data.images import load_classification

    if steps is not None:
        return train_feature_classifier(data, steps=steps)[0].eval()
    path = cache_path(data)
    side = path.with_suffix(".json")
    if path.is_file() and side.is_file():
        record = json.loads(side.read_text())
        if _file_sha256(path) != record["weights_sha256"]:
            raise ValueError(f"{path}: weights do not match the SHA-256 in {side.name}")
        ds = load_classification(data, val_fraction=0.0)
        model = FeatureClassifier(in_channels=ds.input_shape[0], num_classes=ds.num_classes)
        model.load_state_dict(load_file(str(path)))
        model.eval()
        if _predictions_sha256(model, ds.test.tensors[0]) != record["predictions_sha256"]:
            raise ValueError(f"{path}: test predictions do not match {side.name}")
        return model
    if not train_if_missing:
        raise ValueError(f"no cached feature classifier at {path}")
    model, record = train_feature_classifier(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))
    tmp.replace(path)
    record["weights_sha256"] = _file_sha256(path)
    side.write_text(json.dumps(record, indent=1) + "\n")
    return model.eval()


def main(argv: list[str] | None = None) -> None:
    """``python -m replearn.metrics.features --data digits``: train, cache, print checksums."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits", choices=["digits", "fashion-mnist"])
    args = parser.parse_args(argv)
    path = cache_path(args.data)
    for stale in (path, path.with_suffix(".json")):
        stale.unlink(missing_ok=True)
    feature_classifier(args.data)
    record = json.loads(path.with_suffix(".json").read_text())
    pinned = PINNED_PREDICTIONS.get(args.data)
    record["reproduces_pinned"] = pinned == record["predictions_sha256"] if pinned else None
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
