"""The ``fashion-speedrun`` experiment's helpers: batch augmentation, flip TTA, task, network."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from replearn.experiments.cnn.fashion_speedrun import (
    SpeedNet,
    SpeedrunConfig,
    SpeedrunTask,
    evaluate_tta,
    flip_tta_logits,
    param_groups,
    random_crop,
    random_flip,
)


def _images(b: int = 6, c: int = 2, h: int = 7, w: int = 9) -> torch.Tensor:
    return torch.arange(b * c * h * w, dtype=torch.float32).reshape(b, c, h, w) + 1.0


def test_random_crop_keeps_shape_and_is_seeded():
    x = _images()
    a = random_crop(x, 2, generator=torch.Generator().manual_seed(3))
    b = random_crop(x, 2, generator=torch.Generator().manual_seed(3))
    c = random_crop(x, 2, generator=torch.Generator().manual_seed(4))
    assert a.shape == x.shape and a.dtype == x.dtype
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)
    assert random_crop(x, 0) is x


def test_random_crop_is_a_zero_filled_translation_per_image():
    x = _images(b=40)
    p = 2
    out = random_crop(x, p, generator=torch.Generator().manual_seed(0))
    padded = F.pad(x, (p, p, p, p))
    shifts = set()
    for i in range(len(x)):
        matches = [
            (dy, dx)
            for dy in range(2 * p + 1)
            for dx in range(2 * p + 1)
            if torch.equal(out[i], padded[i, :, dy : dy + x.shape[2], dx : dx + x.shape[3]])
        ]
        assert len(matches) == 1, "each image is exactly one window of the padded image"
        shifts.add(matches[0])
    assert len(shifts) > 5  # offsets differ between images


def test_random_crop_rejects_negative_padding():
    with pytest.raises(ValueError, match="padding"):
        random_crop(_images(), -1)


def test_random_flip_mirrors_a_seeded_subset():
    x = _images(b=64)
    out = random_flip(x, generator=torch.Generator().manual_seed(1))
    same = torch.tensor([torch.equal(o, i) for o, i in zip(out, x, strict=True)])
    mirrored = torch.tensor([torch.equal(o, i.flip(-1)) for o, i in zip(out, x, strict=True)])
    assert bool((same ^ mirrored).all())  # every image is either kept or mirrored
    assert 10 < int(mirrored.sum()) < 54
    again = random_flip(x, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(out, again, rtol=0, atol=0)
    torch.testing.assert_close(random_flip(x, 0.0), x, rtol=0, atol=0)
    torch.testing.assert_close(random_flip(x, 1.0), x.flip(-1), rtol=0, atol=0)
    with pytest.raises(ValueError, match="p must be"):
        random_flip(x, 1.5)


def test_flip_tta_is_the_mean_of_the_logits_of_x_and_its_mirror():
    torch.manual_seed(0)
    model = SpeedNet((4, 8), num_classes=5).double().eval()
    x = torch.rand(3, 1, 12, 12, dtype=torch.float64)
    tta, plain = flip_tta_logits(model, x)
    expected = (model(x) + model(x.flip(-1))) / 2
    torch.testing.assert_close(tta, expected.float(), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(plain, model(x).float(), rtol=1e-6, atol=1e-6)


def test_flip_tta_of_a_mirror_symmetric_model_is_its_output():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    with torch.no_grad():  # weights symmetric under a left-right flip of the 4x4 image
        w = torch.randn(3, 1, 4, 4)
        model[1].weight.copy_((w + w.flip(-1)).reshape(3, 16))
    x = torch.rand(2, 1, 4, 4)
    tta, plain = flip_tta_logits(model, x)
    torch.testing.assert_close(tta, plain)


def test_speednet_shapes_and_parameters():
    model = SpeedNet((32, 64, 128))
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    assert 250_000 < sum(p.numel() for p in model.parameters()) < 350_000
    with pytest.raises(ValueError):
        SpeedNet(())
    with pytest.raises(ValueError):
        SpeedNet((8,), act="tanh")


def test_task_augments_only_in_training_mode():
    torch.manual_seed(0)
    task = SpeedrunTask(SpeedNet((4, 8)), crop_padding=2, flip=True, label_smoothing=0.1)
    x, y = torch.rand(8, 1, 12, 12), torch.randint(0, 10, (8,))
    task.eval()
    with torch.no_grad():
        first = task.validation_step((x, y))["loss"]
        second = task.validation_step((x, y))["loss"]
    assert float(first) == float(second)  # no randomness at evaluation
    task.train()
    seen = []
    original = task.model.forward

    def spy(inp):
        seen.append(inp.clone())
        return original(inp)

    task.model.forward = spy
    loss, metrics = task.training_step((x, y))
    assert loss.requires_grad and 0.0 <= float(metrics["accuracy"]) <= 1.0
    assert not torch.equal(seen[0], x)  # the network saw an augmented batch


def test_predict_reports_tta_and_plain_accuracy_from_one_pass():
    torch.manual_seed(0)
    task = SpeedrunTask(SpeedNet((4, 8)), channels_last=True)
    x, y = torch.rand(10, 1, 12, 12), torch.randint(0, 10, (10,))
    data = torch.utils.data.TensorDataset(x, y)
    out = evaluate_tta(task, data, batch_size=4, tta=True)
    with torch.no_grad():
        task.eval()
        tta, plain = flip_tta_logits(task.model, x)
    assert out["accuracy"] == pytest.approx(float((tta.argmax(-1) == y).float().mean()))
    assert out["accuracy_no_tta"] == pytest.approx(float((plain.argmax(-1) == y).float().mean()))
    assert out["loss"] == pytest.approx(float(F.cross_entropy(tta, y)), rel=1e-5)
    no_tta = evaluate_tta(task, data, batch_size=4, tta=False)
    assert no_tta["accuracy"] == no_tta["accuracy_no_tta"] == out["accuracy_no_tta"]


def test_weight_decay_skips_norm_parameters_and_biases():
    model = SpeedNet((4,))
    decay, no_decay = param_groups(model, 5e-4)
    assert all(p.ndim > 1 for p in decay["params"]) and decay["weight_decay"] == 5e-4
    assert all(p.ndim == 1 for p in no_decay["params"]) and no_decay["weight_decay"] == 0.0
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


def test_config_validation():
    with pytest.raises(ValueError, match="lr"):
        SpeedrunConfig(lr=0.0)
    with pytest.raises(ValueError, match="label_smoothing"):
        SpeedrunConfig(label_smoothing=1.0)
    with pytest.raises(ValueError):
        SpeedrunConfig(crop_padding=-1)
