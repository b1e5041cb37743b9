"""Discovery: --version, info NAME, run NAME --help, list that fits and searches."""

from __future__ import annotations

import pytest

from replearn import __version__
from replearn.cli import main
from replearn.describe import config_keys, docstring_attributes
from replearn.experiments.fundamentals.mlp import MLPConfig


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"replearn {__version__}"


def test_info_of_an_experiment_lists_presets_keys_claims_and_python(capsys) -> None:
    assert main(["info", "mlp-xor"]) == 0
    out = capsys.readouterr().out
    assert "mlp-xor (experiment, topic fundamentals)" in out
    assert "presets (replearn run NAME --preset P):" in out and "  tiny: " in out
    assert "engine.max_steps: " in out  # a preset's change against the default
    assert "config keys" in out and "  engine.batch_size: int = " in out
    assert "claims:" in out
    assert 'run_experiment("mlp-xor", preset="quick"' in out


def test_info_of_a_method(capsys) -> None:
    assert main(["info", "fundamentals.mlp"]) == 0
    out = capsys.readouterr().out
    assert "(method, topic fundamentals)" in out
    assert "from replearn.fundamentals.mlp import MLP" in out


def test_run_name_help_shows_the_experiment(capsys) -> None:
    assert main(["run", "mlp", "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: replearn run" in out and "hidden: tuple[int, ...] = (256, 256)" in out
    assert main(["run", "mlpp", "-h"]) == 2
    assert "unknown" in capsys.readouterr().err


def test_every_config_key_is_documented_for_mlp() -> None:
    keys = config_keys(MLPConfig)
    assert {k for k, *_ in keys} >= {"hidden", "lr", "engine.max_steps"}
    assert all(desc for *_, desc in keys), [k for k, *_, d in keys if not d]
    assert docstring_attributes(MLPConfig)["lr"] == "learning rate."


def test_list_searches_and_fits_the_terminal(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "90")
    assert main(["list", "gpt"]) == 0
    out = capsys.readouterr().out
    assert "gpt-shakespeare" in out and "fundamentals.mlp" not in out
    assert max(len(line) for line in out.splitlines()) <= 90
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["list", "fundamentals"]) == 0
    out = capsys.readouterr().out
    assert "fundamentals.mlp" in out and "Train an MLP classifier" in out


def test_list_keeps_summaries_on_narrow_terminals(capsys, monkeypatch) -> None:
    for columns in (60, 80):
        monkeypatch.setenv("COLUMNS", str(columns))
        assert main(["list", "fundamentals"]) == 0
        out = capsys.readouterr().out
        assert max(len(line) for line in out.splitlines()) <= columns
        assert "Train an MLP classifier" in " ".join(out.split()), columns  # summary readable
        assert "Rumelhart" not in out  # the paper column gave way to the summary
