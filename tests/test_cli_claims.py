"""``replearn claims`` and ``run``: verdicts in context, N of M, --strict, quick/full apart."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from replearn import registry
from replearn.cli import main
from replearn.experiments.base import Claim, Result, experiment


@dataclass(frozen=True)
class _Config:
    """A config.

    Attributes:
        value: the number the claims read.
    """

    value: float = 1.0


@pytest.fixture
def fake_topic(monkeypatch) -> str:
    """Topic 'zzfake' with one experiment: claim 'big' holds, claim 'small' fails."""
    registry.load_all()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    def run(cfg: _Config, ctx) -> Result:
        """Return the configured value."""
        return Result(metrics={"value": cfg.value})

    claims = (
        Claim("big", "value >= 1", lambda m: (m["value"] >= 1, f"value {m['value']}")),
        Claim("small", "value < 1", lambda m: (m["value"] < 1, f"value {m['value']}")),
    )
    experiment(
        "zzfake-exp",
        topic="zzfake",
        config=_Config,
        presets={"tiny": _Config, "quick": _Config},
        claims=claims,
    )(run)
    return "zzfake"


def test_claims_counts_names_failures_and_strict_exits_1(fake_topic, tmp_path, capsys) -> None:
    out = tmp_path / "c"
    assert main(["claims", fake_topic, "--quick", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "[1/1] zzfake-exp (preset quick): 1 of 2 hold, " in text and " s CPU; total " in text
    assert "1 of 2 claims hold (quick presets" in text
    assert "failing: zzfake-exp:small" in text
    assert main(["claims", fake_topic, "--quick", "--strict", "--out", str(out)]) == 1
    md = (out / "claims.md").read_text()
    assert "zzfake-exp (preset quick, data generated / embedded, seed 0)" in md
    page = (out / "claims.html").read_text()
    assert 'href="#claim-zzfake-exp-small"' in page and 'id="claim-zzfake-exp-small"' in page


def test_quick_and_full_claims_default_to_different_folders(
    fake_topic, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["claims", fake_topic, "--quick"]) == 0
    assert main(["claims", fake_topic]) == 0  # no --resume config clash with the quick run
    assert (tmp_path / "runs/claims-quick/zzfake-exp/result.json").is_file()
    assert (tmp_path / "runs/claims/zzfake-exp/result.json").is_file()


def test_run_prints_verdicts_with_preset_data_seed(fake_topic, tmp_path: Path, capsys) -> None:
    out = tmp_path / "r"
    args = ["run", "zzfake-exp", "--no-progress", "--no-report", "--seed", "3", "--out"]
    assert main([*args, str(out), "--preset", "tiny"]) == 0
    text = capsys.readouterr().out
    assert "claims (preset tiny, data generated / embedded, seed 3; tiny is a smoke check" in text
    assert "small: fails (smoke check)" in text
    assert main([*args, str(tmp_path / "q"), "--preset", "quick"]) == 0
    text = capsys.readouterr().out
    assert "claims (preset quick, data generated / embedded, seed 3):" in text
    assert "smoke check" not in text
