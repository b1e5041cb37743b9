"""Pieces of the ``gru-mnist1d`` experiment: readouts, step counts, the no-hold-out final run."""

from __future__ import annotations

import json

import pytest
import torch

from replearn.experiments.sequence.gru_mnist1d import (
    Config,
    GRUClassifier,
    _engine,
    _verdict,
    tiny,
)


@pytest.mark.parametrize("readout", ["last", "mean", "meanmax"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_readouts_match_the_gru_outputs(readout, bidirectional):
    torch.manual_seed(0)
    cfg = Config(hidden_size=5, readout=readout, bidirectional=bidirectional)
    model = GRUClassifier(cfg=cfg, num_classes=3).double()
    x = torch.randn(4, 1, 7, dtype=torch.float64)
    out, _ = model.gru(x.transpose(1, 2))
    if readout == "mean":
        z = out.mean(dim=1)
    elif readout == "meanmax":
        z = torch.cat([out.mean(dim=1), out.amax(dim=1)], dim=-1)
    else:  # final states: forward at t = L, reverse at t = 1 (both in the output sequence)
        z = out[:, -1] if not bidirectional else torch.cat([out[:, -1, :5], out[:, 0, 5:]], -1)
    torch.testing.assert_close(model(x), model.head(z), rtol=1e-12, atol=1e-12)


def test_engine_counts_epochs_over_the_training_pool():
    assert _engine(2).max_steps == 2 * (3600 // 64)  # with the 10% hold-out
    assert _engine(2, 64, 4000).max_steps == 2 * (4000 // 64)  # train + validation
    assert _engine(4, 128).warmup_steps == (4 * (3600 // 128)) // 4


@pytest.mark.parametrize(
    "kwargs", [{"readout": "max"}, {"lr": 0.0}, {"weight_decay": -1.0}, {"label_smoothing": 1.0}]
)
def test_config_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError):
        Config(**kwargs)


def test_verdict_needs_both_parts():
    m = {"test_accuracy": 0.985, "wall_time_s": 29.0, "train_time_s": 25.0, "data_time_s": 0.1,
         "parameters": 10, "train_steps": 5}  # fmt: skip
    assert _verdict(m)[0] and "no hold-out" in _verdict(m)[1]
    assert not _verdict({**m, "wall_time_s": 30.5})[0]
    assert not _verdict({**m, "test_accuracy": 0.9799})[0]
    assert "validation 0.9700" in _verdict({**m, "val_accuracy": 0.97})[1]


@pytest.mark.slow  # the CLI run: ~20 s under load
def test_no_hold_out_trains_on_the_whole_pool(tmp_path):
    from replearn.cli import main

    assert tiny().val_fraction == Config().val_fraction == 0.0  # the default's final run
    assert Config().engine.max_steps == 26 * (4000 // 64)
    out = tmp_path / "gru"
    args = ["run", "gru-mnist1d", "--preset", "tiny", "--no-progress", "--no-report"]
    assert main([*args, "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert "val_accuracy" not in result and 0.0 <= result["test_accuracy"] <= 1.0
