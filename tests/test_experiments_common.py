"""The helpers every experiment shares (replearn.experiments.common), against closed forms."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from replearn.engine import EngineConfig
from replearn.experiments.common import (
    accuracy,
    count_params,
    engine_config,
    load_data,
    make_optimizer,
    predict,
    seeded,
    subset,
)


def test_engine_config_is_the_engine_default_but_checkpoints_at_the_end() -> None:
    cfg = engine_config(300, 32)
    expected = dataclasses.replace(EngineConfig(), max_steps=300, batch_size=32, checkpoint_every=0)
    assert dataclasses.asdict(cfg) == dataclasses.asdict(expected)
    # every other field can be overridden, the checkpoint interval included
    cfg = engine_config(10, 4, checkpoint_every=5, grad_clip_norm=1.0, lr_schedule="cosine")
    assert (cfg.checkpoint_every, cfg.grad_clip_norm, cfg.lr_schedule) == (5, 1.0, "cosine")
    with pytest.raises(TypeError):
        engine_config(10, 4, no_such_field=1)


@pytest.mark.parametrize(
    ("steps", "lines", "cap", "expected"),
    [(600, 20, None, 30), (5, 20, None, 1), (1000, 10, 20, 20), (50, 10, 20, 5)],
)
def test_log_lines(steps: int, lines: int, cap: int | None, expected: int) -> None:
    kw = {} if cap is None else {"log_every": cap}
    # log_every = max(1, min(cap, steps // lines))
    assert engine_config(steps, 8, log_lines=lines, **kw).log_every == expected
    with pytest.raises(ValueError):
        engine_config(steps, 8, log_lines=0)


def test_subset_is_seeded_and_keeps_pairs() -> None:
    x, y = torch.arange(100.0)[:, None], torch.arange(100)
    ds = TensorDataset(x, y)
    a, b = subset(ds, 10, seed=3), subset(ds, 10, seed=3)
    assert len(a) == 10 and torch.equal(a.tensors[0], b.tensors[0])
    assert torch.equal(a.tensors[0][:, 0].long(), a.tensors[1])  # rows stay paired
    assert len(set(a.tensors[1].tolist())) == 10  # without replacement
    assert subset(ds, None, 0) is ds and subset(ds, 500, 0) is ds


def test_predict_count_params_and_seeded() -> None:
    lin = seeded(lambda: nn.Linear(3, 2), 0)
    again = seeded(lambda: nn.Linear(3, 2), 0)
    assert torch.equal(lin.weight, again.weight)
    assert count_params(lin) == 3 * 2 + 2
    lin.train()
    x = torch.randn(7, 3, generator=torch.Generator().manual_seed(1))
    out = predict(lin, TensorDataset(x, torch.zeros(7)), batch_size=3)
    torch.testing.assert_close(out, lin(x).detach(), rtol=1e-6, atol=1e-6)
    assert lin.training  # mode restored


def test_make_optimizer_builds_the_torch_optimizers_with_these_settings() -> None:
    w = [nn.Parameter(torch.ones(2))]
    sgd = make_optimizer("sgd", w, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    assert isinstance(sgd, torch.optim.SGD)
    g = sgd.param_groups[0]
    assert (g["lr"], g["momentum"], g["nesterov"], g["weight_decay"]) == (0.1, 0.9, True, 1e-4)
    adam = make_optimizer("adam", w, lr=1e-3, betas=(0.8, 0.99), weight_decay=0.5)
    assert type(adam) is torch.optim.Adam
    assert (adam.defaults["betas"], adam.defaults["weight_decay"]) == ((0.8, 0.99), 0.5)
    # AdamW: decoupled decay, default 0 here (torch's own default is 0.01); groups win
    groups = [{"params": w, "weight_decay": 0.1}, {"params": [nn.Parameter(torch.ones(1))]}]
    adamw = make_optimizer("adamw", groups, lr=1e-3)
    assert type(adamw) is torch.optim.AdamW
    assert [g["weight_decay"] for g in adamw.param_groups] == [0.1, 0.0]
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer("lion", w, lr=1.0)  # type: ignore[arg-type]


def test_make_optimizer_step_matches_the_sgd_closed_form() -> None:
    # one SGD step with momentum from rest: w <- w - lr * (g + wd * w)
    w = nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    opt = make_optimizer("sgd", [w], lr=0.1, momentum=0.9, weight_decay=0.01)
    (w**2).sum().backward()  # g = 2w
    opt.step()
    expected = torch.tensor([1.0, -2.0], dtype=torch.float64)
    expected = expected - 0.1 * (2 * expected + 0.01 * expected)
    torch.testing.assert_close(w.detach(), expected, rtol=1e-15, atol=1e-15)


def test_accuracy_is_the_fraction_of_correct_argmax_in_float64() -> None:
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.1, 0.2, 0.3]])
    assert accuracy(logits, torch.tensor([0, 2, 2])) == 2 / 3  # exact in float64
    assert accuracy(logits, torch.tensor([1, 0, 0])) == 0.0
    with pytest.raises(ValueError, match="differ"):
        accuracy(logits, torch.tensor([0, 1]))


def test_load_data_cuts_each_split_with_its_own_seed_and_flattens() -> None:
    from replearn.data import load_classification

    full = load_classification("digits", val_fraction=0.1, seed=5)
    data = load_data("digits", seed=5, n_train=100, n_val=30, n_test=None)
    assert (len(data.train), len(data.val), len(data.test)) == (100, 30, len(full.test))
    torch.testing.assert_close(data.train.tensors[0], subset(full.train, 100, 6).tensors[0])
    torch.testing.assert_close(data.val.tensors[0], subset(full.val, 30, 7).tensors[0])
    flat = load_data("digits", seed=5, n_train=100, n_test=50, flatten=True)
    assert flat.train.tensors[0].shape == (100, 64) and flat.input_shape == (64,)
    torch.testing.assert_close(flat.test.tensors[0], subset(full.test, 50, 8).tensors[0].flatten(1))


def test_mlp_layers_and_activations() -> None:
    from functools import partial

    from torch import nn

    from replearn.experiments.common import mlp

    net = mlp((4, 8, 8, 3), partial(nn.LeakyReLU, 0.2))
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "LeakyReLU", "Linear", "LeakyReLU", "Linear"]
    assert net[1] is not net[3]  # a fresh activation per layer
    assert [m.out_features for m in net if isinstance(m, nn.Linear)] == [8, 8, 3]
    assert isinstance(mlp((2, 5, 1))[1], nn.Tanh)  # the default
    assert len(mlp((2, 1))) == 1
    with pytest.raises(ValueError, match="at least"):
        mlp((3,))
