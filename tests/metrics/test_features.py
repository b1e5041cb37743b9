"""Feature extractors: the replearn classifier (cache, checksums) and user modules."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from replearn.metrics import features as feat
from replearn.metrics.features import (
    PINNED_PREDICTIONS,
    FeatureClassifier,
    ModuleFeatures,
    extract,
    feature_classifier,
)


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path


def test_classifier_shapes_and_probabilities():
    torch.manual_seed(0)
    for size in (8, 28):
        m = FeatureClassifier()
        x = torch.rand(5, 1, size, size)
        assert m.features(x).shape == (5, 128)
        p = extract(m, x, what="probabilities", batch_size=2)
        assert p.shape == (5, 10) and p.dtype == torch.float64
        torch.testing.assert_close(p.sum(1), torch.ones(5, dtype=torch.float64))
    with pytest.raises(ValueError, match=">= 1"):
        FeatureClassifier(width=0)


def test_extract_batches_equal_one_pass_and_restore_mode():
    torch.manual_seed(1)
    m = FeatureClassifier().train()
    x = torch.rand(7, 1, 8, 8)
    whole = extract(m, x, batch_size=100)
    parts = extract(m, x, batch_size=3)
    torch.testing.assert_close(whole, parts, rtol=1e-6, atol=1e-6)
    assert m.training
    with pytest.raises(ValueError, match="what"):
        extract(m, x, what="logits")


def test_user_module_plugs_in():
    body = nn.Sequential(nn.Flatten(), nn.Linear(64, 6))
    ext = ModuleFeatures(body, classifier=nn.Linear(6, 3), preprocess=lambda x: 2 * x - 1)
    x = torch.rand(4, 1, 8, 8)
    torch.testing.assert_close(extract(ext, x), body(2 * x - 1).double())
    assert extract(ext, x, what="probabilities").shape == (4, 3)
    with pytest.raises(ValueError, match="no classifier"):
        ModuleFeatures(body).probabilities(x)


def test_cache_round_trip_and_tamper_detection(tmp_cache, monkeypatch):
    monkeypatch.setitem(feat._TRAIN_STEPS, "digits", 20)  # a short "default" for the test
    model = feature_classifier("digits")
    path = feat.cache_path("digits")
    assert str(path).startswith(str(tmp_cache)) and path.is_file()
    record = json.loads(path.with_suffix(".json").read_text())
    assert set(record) >= {"weights_sha256", "predictions_sha256", "test_accuracy"}
    again = feature_classifier("digits", train_if_missing=False)
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    record["predictions_sha256"] = "0" * 64
    path.with_suffix(".json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="predictions"):
        feature_classifier("digits")
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    with pytest.raises(ValueError, match="weights"):
        feature_classifier("digits")


def test_missing_without_training_raises_and_custom_steps_are_not_cached(tmp_cache):
    with pytest.raises(ValueError, match="no cached"):
        feature_classifier("digits", train_if_missing=False)
    feature_classifier("digits", steps=5)
    assert not feat.cache_path("digits").exists()


@pytest.mark.slow
def test_digits_classifier_reproduces_pinned_checksum(tmp_cache):
    """The command's default run: test accuracy 0.969 and the pinned predictions (measured)."""
    _, record = feat.train_feature_classifier("digits")
    assert record["test_accuracy"] > 0.95
    assert record["predictions_sha256"] == PINNED_PREDICTIONS["digits"]
