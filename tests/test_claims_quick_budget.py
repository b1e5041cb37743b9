"""``replearn claims --quick`` over every topic: a progress line per experiment, and the budget.

Issue 12: the whole quick pass finishes within 10 minutes of wall time on 2 cores. The quick
presets are smoke checks (seconds each); the default configs carry the verdicts. The budget
test is slow (it runs every claim experiment); the progress-line test runs one fake experiment.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from replearn import registry
from replearn.cli import main
from replearn.experiments.base import Claim, Result, experiment

BUDGET_S = 600.0  # issue 12: "within 10 minutes on 2 cores"
LINE = re.compile(
    r"^\[(\d+)/(\d+)\] (\S+) \(preset (\w+)\): .* (\d+) s \((\d+) s CPU; total (\d+) s\)$"
)


@dataclass(frozen=True)
class _Config:
    """A config.

    Attributes:
        value: the number the claim reads.
    """

    value: float = 1.0


def _run(cfg: _Config, ctx) -> Result:
    """Return the configured value."""
    return Result(metrics={"value": cfg.value})


def _register(monkeypatch, topic: str, names: tuple[str, ...]) -> None:
    registry.load_all()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    claim = Claim("one", "value is 1", lambda m: (m["value"] == 1, f"value {m['value']}"))
    for name in names:
        experiment(
            name,
            topic=topic,
            config=_Config,
            presets={"tiny": _Config, "quick": _Config},
            claims=(claim,),
        )(_run)


def test_claims_prints_a_line_per_experiment_and_the_total(monkeypatch, tmp_path, capsys) -> None:
    _register(monkeypatch, "zzbudget", ("zzbudget-a", "zzbudget-b"))
    assert main(["claims", "zzbudget", "--quick", "--out", str(tmp_path / "c")]) == 0
    lines = [m for m in map(LINE.match, capsys.readouterr().out.splitlines()) if m]
    assert [(m[1], m[2], m[3], m[4]) for m in lines] == [
        ("1", "2", "zzbudget-a", "quick"),
        ("2", "2", "zzbudget-b", "quick"),
    ]
    assert int(lines[1][7]) >= int(lines[0][7])  # the running total does not go back


def test_claims_summary_names_the_total_time(monkeypatch, tmp_path, capsys) -> None:
    _register(monkeypatch, "zzbudget2", ("zzbudget-c",))
    assert main(["claims", "zzbudget2", "--quick", "--out", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"1 of 1 claims hold \(quick presets.*; 1 experiments in \d+ s", out), out


@pytest.mark.slow
def test_claims_quick_over_every_topic_fits_10_minutes(tmp_path) -> None:
    """The whole ``claims --quick`` pass, in a fresh process, under ``BUDGET_S`` of wall time."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "replearn", "claims", "--quick", "--out", str(tmp_path / "q")],
        capture_output=True,
        text=True,
        env=dict(os.environ, COLUMNS="200"),
        cwd=Path(__file__).resolve().parents[1],
        timeout=3 * BUDGET_S,
        check=False,
    )
    wall = time.perf_counter() - t0
    rows = [m for m in map(LINE.match, proc.stdout.splitlines()) if m]
    slowest = sorted(rows, key=lambda m: -int(m[5]))[:8]
    report = ", ".join(f"{m[3]} {m[5]} s ({m[6]} s CPU)" for m in slowest)
    load = os.getloadavg()[0]
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert rows and len(rows) == int(rows[0][2]), proc.stdout[-2000:]
    assert wall < BUDGET_S, f"{wall:.0f} s (load {load:.1f}); slowest: {report}"
