"""replearn.load_run: the trained model and config back from a run folder."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from safetensors.torch import load_file

from replearn.cli import main
from replearn.load import LoadError, config_from_dict, load_run


def test_load_run_returns_the_trained_model_and_config(tmp_path, capsys) -> None:
    out = tmp_path / "a"
    args = ["run", "mlp", "--preset", "tiny", "--no-progress", "--no-report", "--out", str(out)]
    assert main([*args, "--set", "hidden=24,12"]) == 0
    run = load_run(out)
    assert run.experiment == "mlp" and run.preset == "tiny" and run.seed == 0
    assert run.config.hidden == (24, 12) and run.config.engine.max_steps == 20
    saved = load_file(str(out / "model.safetensors"))
    state = run.model.state_dict()
    assert set(saved) == set(state)
    assert all(torch.equal(saved[k], state[k]) for k in saved)
    assert not run.model.training
    assert run.model(torch.zeros(2, 64)).shape == (2, 10)
    assert run.metrics["train_steps"] == 20

    (out / "config.json").write_text("{not json")
    with pytest.raises(LoadError, match=r"config\.json is corrupt"):
        load_run(out)
    (out / "config.json").unlink()
    with pytest.raises(LoadError, match="not a run folder"):
        load_run(out)


def test_config_from_dict_rebuilds_nested_tuples() -> None:
    from replearn.experiments.fundamentals.mlp import MLPConfig, tiny

    cfg = tiny()
    data = json.loads(json.dumps(dataclasses.asdict(cfg)))  # as config.json holds it
    assert config_from_dict(MLPConfig, data) == cfg
    with pytest.raises(LoadError, match="nope"):
        config_from_dict(MLPConfig, {**data, "nope": 1})
