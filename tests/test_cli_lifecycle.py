"""Run-folder lifecycle: resume of nothing, failed starts, extending a run, corrupt files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from replearn.cli import main

TINY = ["--preset", "tiny", "--no-progress", "--no-report"]


def _error(capsys: pytest.CaptureFixture[str], code: int) -> str:
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_resume_of_a_missing_or_empty_folder_exits_2(capsys, tmp_path: Path) -> None:
    err = _error(capsys, main(["run", "mlp", *TINY, "--out", str(tmp_path / "x"), "--resume"]))
    assert "holds no run" in err and "without --resume" in err
    assert not (tmp_path / "x").exists()
    (tmp_path / "empty").mkdir()
    err = _error(capsys, main(["run", "mlp", *TINY, "--out", str(tmp_path / "empty"), "--resume"]))
    assert "holds no run" in err


def test_a_failed_start_does_not_block_a_retry(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("REPLEARN_DATA", str(tmp_path / "nodata"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "nocache"))
    out = tmp_path / "r"
    err = _error(
        capsys, main(["run", "mlp", *TINY, "--out", str(out), "--set", "data=fashion-mnist"])
    )
    assert "fashion-mnist" in err
    assert not out.exists(), "a run that failed before its first checkpoint leaves no folder"
    kept = tmp_path / "mine"
    (kept / "notes.txt").parent.mkdir()
    (kept / "notes.txt").write_text("the user's file")
    _error(capsys, main(["run", "mlp", *TINY, "--out", str(kept), "--set", "data=fashion-mnist"]))
    assert sorted(p.name for p in kept.iterdir()) == ["notes.txt"], "only the run's files go"
    assert main(["run", "mlp", *TINY, "--out", str(out)]) == 0


def test_resume_extends_max_steps_and_train_time_adds_up(capsys, tmp_path: Path) -> None:
    out = str(tmp_path / "r")
    assert main(["run", "mlp", *TINY, "--out", out]) == 0
    first = json.loads((tmp_path / "r/result.json").read_text())
    assert first["train_steps"] == 20
    assert first["context"] == {"preset": "tiny", "seed": 0, "data": "digits"}
    assert (
        main(["run", "mlp", *TINY, "--out", out, "--resume", "--set", "engine.max_steps=30"]) == 0
    )
    second = json.loads((tmp_path / "r/result.json").read_text())
    assert second["train_steps"] == 30
    assert second["train_time_s"] > first["train_time_s"]
    config = json.loads((tmp_path / "r/config.json").read_text())
    assert config["config"]["engine"]["max_steps"] == 30
    capsys.readouterr()
    err = _error(
        capsys,
        main(["run", "mlp", *TINY, "--out", out, "--resume", "--set", "engine.max_steps=25"]),
    )
    assert "only max_steps may be raised" in err


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("metrics.jsonl", '{"step": 1}\n{"step": 2, "loss":\n'),
        ("config.json", '{"experiment": "mlp"'),
        ("result.json", "[1, 2]"),
    ],
)
def test_report_of_a_corrupt_file_names_it(capsys, tmp_path: Path, name: str, content: str) -> None:
    out = tmp_path / "r"
    assert main(["run", "mlp", *TINY, "--out", str(out)]) == 0
    (out / name).write_text(content)
    capsys.readouterr()
    err = _error(capsys, main(["report", str(out)]))
    assert name in err and "corrupt" in err
