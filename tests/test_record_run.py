"""``benchmarks/record_run.py`` renders a run's numbers from its result.json, never typed."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "record_run.py"


def _load():
    spec = importlib.util.spec_from_file_location("record_run", PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["record_run"] = module
    spec.loader.exec_module(module)
    return module


def test_record_and_render(tmp_path: Path) -> None:
    rr = _load()
    run = tmp_path / "run"
    run.mkdir()
    result = {
        "a_fid": 12.3456, "a_kid": 1.0, "b_fid": 7.0, "wall_time_s": 10.0, "cpu_time_s": 9.0,
        "claims": [{"id": "x-beats-y", "holds": False, "evidence": "d = -1 | SE 2"}],
    }  # fmt: skip
    (run / "result.json").write_text(json.dumps(result))
    (run / "env.json").write_text(json.dumps({"git_commit": "abc", "load_average_1min": 0.5}))
    out = tmp_path / "results"
    assert rr.main([str(run), "r", "--command", "replearn run x", "--rows", "a,b",
                    "--columns", "fid,kid", "--out", str(out)]) == 0  # fmt: skip
    rec = json.loads((out / "r.json").read_text())
    assert rec["result"] == result and rec["command"] == "replearn run x"
    md = (out / "r.md").read_text()
    assert "| a | 12.35 | 1 |" in md and "| b | 7 | - |" in md
    assert "| `x-beats-y` | fails | d = -1 / SE 2 |" in md and "git abc" in md
    with pytest.raises(SystemExit):
        rr.main([str(tmp_path), "r", "--command", "c", "--rows", "a", "--columns", "fid"])


def test_committed_records_are_rendered_from_their_json() -> None:
    rr = _load()
    for path in sorted(PATH.parent.joinpath("results").glob("*.json")):
        rec = json.loads(path.read_text(encoding="utf-8"))
        if not (isinstance(rec, dict) and {"title", "command", "rows", "result"} <= set(rec)):
            continue
        assert path.with_suffix(".md").read_text(encoding="utf-8") == rr.render(rec), path.name
