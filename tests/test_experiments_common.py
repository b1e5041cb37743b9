"""The helpers every experiment shares (replearn.experiments.common), against closed forms."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from replearn.engine import EngineConfig
from replearn.experiments.common import count_params, engine_config, predict, seeded, subset


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
