"""Every experiment runs through the CLI with its tiny preset and writes a complete run folder.

The experiments whose tiny preset reads a data file are listed in ``USES_FILES`` and marked
``data_files``; each run checks the list is right. ``.ci/run`` runs them a second time with
an empty ``$REPLEARN_DATA`` and cache (``-m data_files``), so they are known to pass on a
fresh clone (on the stand-ins of tests/fixtures/data) as well as on the real files.
"""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser
from pathlib import Path

import pytest

from replearn import registry
from replearn.cli import main
from replearn.data import sources

EXPERIMENTS = [e.name for e in registry.entries(kind="experiment")]
USES_FILES = {
    "bert-claims",
    "bert-sst2",
    "char-lstm",
    "gpt-claims",
    "gpt-shakespeare",
    "t5-text",
    "transformer-xl-text",
}
TIMES = ("wall_time_s", "cpu_time_s")  # written by the runner, not measured by the experiment
PARAMS = [
    pytest.param(n, marks=pytest.mark.data_files) if n in USES_FILES else n for n in EXPERIMENTS
]


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.srcs += [v for k, v in attrs if k == "src" and v]


@pytest.mark.parametrize("name", PARAMS)
def test_experiment_runs_with_tiny_preset(name: str, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / name
    read: set[str] = set()
    resolve = sources._resolve

    def recording(dataset, spec, *, download):
        read.add(dataset)
        return resolve(dataset, spec, download=download)

    monkeypatch.setattr(sources, "_resolve", recording)
    assert main(["run", name, "--preset", "tiny", "--no-progress", "--out", str(out)]) == 0
    assert bool(read) == (name in USES_FILES), f"{name} read {read}: update USES_FILES"
    for f in ("config.json", "env.json", "metrics.jsonl", "result.json", "report.html"):
        assert (out / f).is_file(), f"{name}: {f} missing"
    result = json.loads((out / "result.json").read_text())
    assert result["wall_time_s"] > 0
    assert result["cpu_time_s"] > 0
    numbers = [v for k, v in result.items() if isinstance(v, (int, float)) and k not in TIMES]
    assert numbers, f"{name}: result.json holds no measured number"
    exp = registry.get(name, kind="experiment").obj
    own = result["claims"][: len(exp.claims)]
    assert [c["id"] for c in own] == [c.id for c in exp.claims]
    if name == "tour":  # the tour's result.json holds its stops' verdicts, named stop:id
        assert result["claims"] and all(":" in c["id"] for c in result["claims"])
    parser = _Images()
    parser.feed((out / "report.html").read_text())
    for src in parser.srcs:
        assert (out / src).is_file(), f"{name}: report links a missing image {src}"


def test_list_and_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    assert "fundamentals.mlp" in capsys.readouterr().out
    assert main(["list", "fundamentals", "--markdown"]) == 0
    assert "| topic | name |" in capsys.readouterr().out


def test_arch_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["arch", "fundamentals.mlp"]) == 0
    out = capsys.readouterr().out
    assert "Linear" in out and "total" in out


def test_report_rebuilds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r"
    assert main(["run", "mlp", "--preset", "tiny", "--no-progress", "--out", str(out)]) == 0
    (out / "report.html").unlink()
    assert main(["report", str(out)]) == 0
    assert (out / "report.html").is_file()


def test_data_list_and_verify(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "list"]) == 0
    assert "fashion-mnist" in capsys.readouterr().out
    root = os.environ.get("REPLEARN_DATA")
    if root and (Path(root) / "fashion-mnist").is_dir():
        assert main(["data", "verify"]) == 0
        assert "FAIL" not in capsys.readouterr().out


def test_claims_writes_markdown_and_html_tables(tmp_path: Path, capsys) -> None:
    # flow: the cheapest topic's quick presets (~10 CPU s; fundamentals' grew to ~90 s)
    out = tmp_path / "claims"
    assert main(["claims", "flow", "--quick", "--out", str(out)]) == 0
    md = (out / "claims.md").read_text()
    expected = [
        c.id for e in registry.entries(kind="experiment", topic="flow") for c in e.obj.claims
    ]
    assert len(expected) >= 6
    for claim_id in expected:
        row = next(line for line in md.splitlines() if claim_id in line)
        assert "**holds**" in row or "**fails**" in row
    parser = _Images()
    parser.feed((out / "claims.html").read_text())
    assert parser.srcs and all((out / src).is_file() for src in parser.srcs)
