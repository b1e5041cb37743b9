"""The command line: bad input exits 2 with one line; the NaN guard exits 3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from replearn.cli import main
from replearn.engine.checkpoint import list_checkpoints

TINY = ["--preset", "tiny", "--no-progress"]


def _one_line_error(capsys: pytest.CaptureFixture[str], code: int, expected: int = 2) -> str:
    """The error is one line (after at most one 'replearn: resuming ...' notice)."""
    err = capsys.readouterr().err.strip()
    assert code == expected, err
    lines = [ln for ln in err.splitlines() if not ln.startswith("replearn: resuming from")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_unknown_experiment_suggests_close_names(capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line_error(capsys, main(["run", "mpl"]))
    assert "unknown experiment 'mpl'" in err and "mlp" in err


def test_unknown_set_key_names_the_key(capsys, tmp_path: Path) -> None:
    err = _one_line_error(
        capsys, main(["run", "mlp", "--out", str(tmp_path / "r"), "--set", "hiden=32"])
    )
    assert "'hiden'" in err and "hidden" in err
    assert not (tmp_path / "r").exists(), "a bad --set must not create a run folder"


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("lr=fast", "expected float"),
        ("engine.max_steps=1.5", "expected int"),
        ("data=cifar", "one of 'digits'"),
        ("hidden=a,b", "comma-separated list of int"),
        ("engine.max_steps=0", "max_steps must be >= 1"),
        ("engine=3", "is a section"),
        ("lr", "expects key=value"),
    ],
)
def test_ill_typed_set_names_key_and_type(capsys, tmp_path: Path, item: str, expected: str) -> None:
    err = _one_line_error(capsys, main(["run", "mlp", "--out", str(tmp_path), "--set", item]))
    assert expected in err


def test_unknown_cli_flag_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", "mlp", "--sed", "3"])
    _one_line_error(capsys, exc.value.code)


def test_missing_data_file_exits_2(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("REPLEARN_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path))
    code = main(["run", "mlp", *TINY, "--out", str(tmp_path / "r"), "--set", "data=fashion-mnist"])
    err = _one_line_error(capsys, code)
    assert "fashion-mnist" in err


def test_tampered_data_file_is_refused(capsys, tmp_path: Path, monkeypatch) -> None:
    data = tmp_path / "data" / "tinyshakespeare"
    data.mkdir(parents=True)
    (data / "input.txt").write_text("not the real text\n")
    monkeypatch.setenv("REPLEARN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code = main(["data", "path", "tinyshakespeare"])
    err = _one_line_error(capsys, code)
    assert "SHA-256" in err or "sha256" in err.lower()


def test_existing_run_folder_is_not_overwritten(capsys, tmp_path: Path) -> None:
    out = str(tmp_path / "r")
    assert main(["run", "mlp", *TINY, "--out", out]) == 0
    before = (tmp_path / "r/metrics.jsonl").read_bytes()
    capsys.readouterr()
    err = _one_line_error(capsys, main(["run", "mlp", *TINY, "--out", out]))
    assert "--resume" in err
    assert (tmp_path / "r/metrics.jsonl").read_bytes() == before


def test_resume_with_another_config_is_refused(capsys, tmp_path: Path) -> None:
    out = str(tmp_path / "r")
    assert main(["run", "mlp", *TINY, "--out", out]) == 0
    capsys.readouterr()
    err = _one_line_error(
        capsys, main(["run", "mlp", *TINY, "--out", out, "--resume", "--set", "lr=0.5"])
    )
    assert "another config" in err and "lr" in err


def test_checkpoint_of_another_model_is_refused(capsys, tmp_path: Path) -> None:
    assert main(["run", "mlp", *TINY, "--out", str(tmp_path / "a")]) == 0
    target = tmp_path / "b" / "checkpoints"
    target.mkdir(parents=True)
    for ck in list_checkpoints(tmp_path / "a" / "checkpoints"):
        (target / ck.name).write_bytes(ck.read_bytes())
    (tmp_path / "b/metrics.jsonl").write_bytes((tmp_path / "a/metrics.jsonl").read_bytes())
    capsys.readouterr()
    code = main(
        ["run", "mlp", *TINY, "--out", str(tmp_path / "b"), "--resume", "--set", "hidden=48"]
    )
    err = _one_line_error(capsys, code)
    assert "does not fit this run" in err and "size mismatch" in err


def test_corrupt_checkpoint_on_resume_is_refused(capsys, tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert main(["run", "mlp", *TINY, "--out", str(out)]) == 0
    for ck in list_checkpoints(out / "checkpoints"):
        ck.write_bytes(ck.read_bytes()[:100])
    capsys.readouterr()
    code = main(["run", "mlp", *TINY, "--out", str(out), "--resume"])
    err = capsys.readouterr().err
    assert code == 2
    assert "no valid checkpoint" in err.splitlines()[-1]


def test_nan_guard_abort_exits_3_and_skip_finishes(capsys, tmp_path: Path) -> None:
    code = main(
        ["run", "mlp", *TINY, "--out", str(tmp_path / "a"), "--set", "engine.fault_nan_at_step=13"]
    )
    err = _one_line_error(capsys, code, expected=3)
    assert "step 13" in err and "step-000000010.ckpt" in err
    code = main(
        [
            "run",
            "mlp",
            *TINY,
            "--out",
            str(tmp_path / "b"),
            "--set",
            "engine.fault_nan_at_step=13",
            "engine.nan_policy=skip",
        ]
    )
    assert code == 0
    result = json.loads((tmp_path / "b/result.json").read_text())
    assert result["train_steps"] == 20


def test_unknown_topic_and_model(capsys) -> None:
    assert "matches 'zzqx'" in _one_line_error(capsys, main(["list", "zzqx"]))
    assert "fundamentals.mlp" in _one_line_error(capsys, main(["arch", "fundamentals.mpl"]))
    assert "--input-shape" in _one_line_error(
        capsys, main(["arch", "fundamentals.mlp", "--input-shape", "a,b"])
    )


def test_report_of_a_non_run_folder(capsys, tmp_path: Path) -> None:
    assert "not a run folder" in _one_line_error(capsys, main(["report", str(tmp_path)]))


def test_subprocess_exit_code_and_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "REPLEARN_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "replearn", "run", "mlp", "--set", "engine.batch_size=x"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "expected int" in proc.stderr


def test_cuda_without_a_gpu_exits_2(capsys, tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    err = _one_line_error(
        capsys, main(["run", "mlp", *TINY, "--device", "cuda", "--out", str(tmp_path / "r")])
    )
    assert "no CUDA device" in err
