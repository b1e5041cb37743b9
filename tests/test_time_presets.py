"""``scripts/time_presets.py`` harvests run times from run folders; ``replearn info`` shows them."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from replearn import registry
from replearn.cli import main
from replearn.experiments.timings import TIMINGS_FILE, expected_time_lines, read_timings

REPO = Path(__file__).resolve().parents[1]
TINY = ["--preset", "tiny", "--no-progress", "--no-report"]


def _script() -> ModuleType:
    path = REPO / "scripts" / "time_presets.py"
    spec = importlib.util.spec_from_file_location("time_presets", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["time_presets"] = module
    spec.loader.exec_module(module)
    return module


def test_runner_records_cpu_time_and_load(tmp_path: Path) -> None:
    out = tmp_path / "mlp"
    assert main(["run", "mlp", *TINY, "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text(encoding="utf-8"))
    env = json.loads((out / "env.json").read_text(encoding="utf-8"))
    assert result["cpu_time_s"] > 0 and result["wall_time_s"] > 0
    assert env["load_average_1min"] is None or env["load_average_1min"] >= 0


def test_harvest_keeps_presets_and_skips_overrides(tmp_path: Path, capsys) -> None:
    runs = tmp_path / "runs"
    assert main(["run", "mlp", *TINY, "--out", str(runs / "a")]) == 0
    assert main(["run", "mlp", *TINY, "--set", "engine.max_steps=7", "--out", str(runs / "b")]) == 0
    assert main(["run", "mlp", *TINY, "--reference", "--out", str(runs / "c")]) == 0
    timings = tmp_path / "timings.json"
    timings.write_text(json.dumps({"mlp-xor": {"tiny": {"wall_s": 1.0}}}), encoding="utf-8")
    capsys.readouterr()
    assert _script().main([str(runs), "--file", str(timings)]) == 0
    assert "1 measurements" in capsys.readouterr().out
    data = read_timings(timings)
    assert set(data) == {"mlp", "mlp-xor"} and set(data["mlp"]) == {"tiny"}  # b and c skipped
    result = json.loads((runs / "a" / "result.json").read_text(encoding="utf-8"))
    record = data["mlp"]["tiny"]
    assert record["wall_s"] == round(result["wall_time_s"], 1)
    assert record["cpu_s"] == round(result["cpu_time_s"], 1)
    lines = expected_time_lines("mlp", ["tiny", "quick"], timings)
    assert lines[0] == "  default: not measured yet" and lines[2] == "  quick: not measured yet"
    assert lines[1].startswith(f"  tiny: {record['wall_s']} s wall, {record['cpu_s']} s CPU")


def test_harvest_refuses_missing_folder(tmp_path: Path, capsys) -> None:
    assert _script().main([str(tmp_path / "nothing"), "--dry-run"]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_timings_file_names_registered_experiments_and_presets() -> None:
    for name, presets in read_timings(TIMINGS_FILE).items():
        exp = registry.get(name, kind="experiment").obj
        assert set(presets) <= {"default", *exp.presets}, name
        for record in presets.values():
            assert record["wall_s"] > 0 and (record["cpu_s"] is None or record["cpu_s"] > 0), name


def test_info_prints_expected_time(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "mlp"]) == 0
    out = capsys.readouterr().out
    block = out.split("expected time")[1].split("claims")[0]
    assert "  default: " in block and "  tiny: " in block and "  quick: " in block
