"""benchmarks/drift.py: a re-timed paired ratio against the old run's 95% interval."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str) -> ModuleType:
    """Import a module of benchmarks/ (not a package; drift.py imports harness by name)."""
    if name in sys.modules:
        return sys.modules[name]
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up here
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    return module


drift = _load("drift")


def _result(ratio: float, ci: tuple[float, float] | None, baseline: str = "peer") -> dict[str, Any]:
    return {
        "settings": {"baseline": baseline},
        "summary": {
            "ours": {"paired_ratio_median": ratio, "paired_ratio_ci95": ci},
            baseline: {"paired_ratio_median": 1.0, "paired_ratio_ci95": None},
        },
    }


@pytest.mark.parametrize(
    ("after", "outcome"), [(0.90, "within"), (0.80, "within"), (0.79, "faster"), (1.03, "slower")]
)
def test_outcome_reads_the_old_interval(after: float, outcome: str) -> None:
    (row,) = drift.drifts("b", _result(0.93, (0.80, 1.02)), _result(after, (0.7, 1.1)))
    assert row.contender == "ours" and row.baseline == "peer"
    assert row.before == pytest.approx(0.93) and row.after == pytest.approx(after)
    assert row.outcome == outcome


def test_baseline_and_uninterval_rows_are_skipped() -> None:
    # an old run with no interval (fewer than 6 rounds) cannot say what "within" means
    assert drift.drifts("b", _result(0.9, None), _result(0.9, (0.8, 1.0))) == []


def test_changed_baseline_is_refused() -> None:
    with pytest.raises(ValueError, match="baseline changed"):
        drift.drifts("b", _result(0.9, (0.8, 1.0), "a"), _result(0.9, (0.8, 1.0), "c"))


def test_render_counts_outcomes_and_names_the_command() -> None:
    rows = drift.drifts("b", _result(0.93, (0.80, 1.02)), _result(1.2, None))
    text = drift.render(rows, {"b": ("old run", "new run")}, "abc123", "python drift.py")
    assert "| `b` | ours / peer | 0.930 (0.800-1.020) | 1.200 (-) | **slower** |" in text
    assert "0 within, 0 faster, 1 slower." in text
    assert "`abc123`" in text and "python drift.py" in text and "before old run" in text


def test_every_throughput_name_has_a_result_file() -> None:
    for name in drift.THROUGHPUT:
        assert (BENCH / "results" / f"{name}.json").is_file(), name
