"""README.md's measured numbers are the ones ``scripts/numbers.py`` writes from the result files.

When this fails, a pinned claims verdict or a benchmark result changed (or someone typed a
number between the markers): run ``python scripts/numbers.py`` and commit README.md.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]


def _load() -> ModuleType:
    """Import scripts/numbers.py under another name (``numbers`` is a standard module)."""
    name = "replearn_numbers_script"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / "numbers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


numbers = _load()


def test_readme_numbers_match_the_result_files() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    names = numbers.marker_names(text)
    assert "claims-table" in names and "benchmarks-table" in names
    rendered = numbers.render(text)
    if rendered != text:
        import difflib

        diff = "".join(
            difflib.unified_diff(
                text.splitlines(True), rendered.splitlines(True), "README.md", "generated", n=0
            )
        )
        pytest.fail(f"README.md disagrees with the result files; run scripts/numbers.py:\n{diff}")


def test_known_drift_is_generated_now() -> None:
    """The two numbers issue 21 found typed and wrong come from their files."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    speedup = json.loads(
        (REPO / "benchmarks/results/transformer_gpt_generate_cpu.json").read_text()
    )["extra"]["speedup"]
    assert f"numbers:begin speedup:transformer_gpt_generate_cpu -->{speedup:.1f}x<!--" in text
    assert "<!-- numbers:begin claims:cnn -->" in text
    assert "13 measured: 11 hold" not in text and "*idle*: 6.7x" not in text


def _claims_dir(tmp_path: Path) -> Path:
    d = tmp_path / "claims"
    d.mkdir()
    (d / "test_topa_claims.py").write_text(
        "MEASURED = {'exp-one': {'a': True, 'b': False}, 'exp-two': {'c': True}}\n"
    )
    (d / "test_topa_single_thing_claims.py").write_text(
        "MEASURED: dict[str, bool | None] = {'x': True, 'y': None}\n"
        "def test(run_default):\n    run_default('single-thing', MEASURED)\n"
    )
    (d / "test_topb_other_claims.py").write_text("def test():\n    pass\n")  # nothing pinned
    return d


def test_claims_counted_from_the_pinned_verdicts(tmp_path: Path) -> None:
    files = numbers.read_claims(_claims_dir(tmp_path))
    by_name = {f.path.name: f for f in files}
    assert by_name["test_topa_single_thing_claims.py"].verdicts == {
        "single-thing": {"x": True, "y": None}
    }
    topics = numbers.claims_by_topic(files)
    a = topics["topa"]
    assert (a["experiments"], a["claims"], a["hold"], a["fail"], a["not measured"]) == (
        3,
        5,
        3,
        1,
        1,
    )
    assert topics["topb"]["claims"] == 0 and topics["topb"]["files"] == 1
    assert numbers.claims_inline(files, "topa") == "5 pinned, 3 hold, 1 not measured"
    table = numbers.claims_table(files)
    assert "| topa | 3 | 5 | 3 | 1 | 1 |" in table and "| **all** | 3 | 5 | 3 | 1 | 1 |" in table
    with pytest.raises(KeyError, match="topic"):
        numbers.claims_inline(files, "nope")


def _result(name: str, ci: list[float] | None, verdict: str, ratio: float) -> dict:
    stat = {"rounds": 9, "median": 1.0, "q25": 1, "q75": 1, "iqr": 0, "min": 1, "max": 1, "mean": 1}
    return {
        "name": name,
        "command": "python benchmarks/bench_x.py",
        "machine": {
            "date": "2026-12-07T00:00:00Z",
            "load_average_start": [0.5, 0, 0],
            "load_average": [2.25, 0, 0],
        },
        "settings": {"rounds": 9, "baseline": "peer", "threshold": 1.0, "check": "target"},
        "summary": {
            "ours": {
                **stat,
                "ratio_of_medians": ratio,
                "paired_ratio_median": ratio,
                "paired_ratio_ci95": ci,
                "verdict": verdict,
            },
            "peer": {
                **stat,
                "ratio_of_medians": 1.0,
                "paired_ratio_median": 1.0,
                "paired_ratio_ci95": None,
                "verdict": None,
            },
        },
        "raw": {"timings_s": {}, "orders": []},
        "extra": {"throughput_ratio": 1 / ratio, "speedup": 1 / ratio},
    }


def test_benchmark_values_and_drift(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "x_fast.json").write_text(json.dumps(_result("x_fast", [0.8, 0.9], "holds", 0.85)))
    (results / "x_near.json").write_text(json.dumps(_result("x_near", [0.9, 1.1], "parity", 0.98)))
    (results / "other.json").write_text(json.dumps({"rows": []}))  # not a harness result: skipped
    claims = _claims_dir(tmp_path)

    def M(name: str, body: str = "?") -> str:
        return f"<!-- numbers:begin {name} -->{body}<!-- numbers:end {name} -->"

    text = (
        f"ratio {M('ratio:x_fast')}, paired {M('paired:x_near')}, {M('verdict:x_near')}, "
        f"{M('throughput:x_fast')}, {M('speedup:x_fast')}, {M('verdicts:x_')}, "
        f"load {M('load:x_fast')}, {M('claims:topa')}\n{M('benchmarks-table')}\n"
    )
    out = numbers.render(text, claims, results)
    assert "-->0.850<!--" in out and "-->0.980 (0.900–1.100)<!--" in out
    assert "-->parity<!--" in out and "-->1.176x<!--" in out and "-->1.2x<!--" in out
    assert "-->1 holds, 1 parity<!--" in out and "-->0.5–2.2<!--" in out
    assert "| `x_near` | ours / peer | 0.980 | 0.980 (0.900–1.100) | ≤ 1 | **parity** | 9 |" in out
    assert numbers.render(out, claims, results) == out  # idempotent
    drifted = out.replace("-->0.850<!--", "-->0.800<!--")  # a number typed over
    assert numbers.render(drifted, claims, results) == out
    for bad in ("ratio:missing", "nosuchkind:x", "ratio:x_"):
        with pytest.raises(KeyError):
            numbers.render(M(bad), claims, results)


def test_claims_document_lists_every_claim_with_its_pinned_verdict() -> None:
    """docs/claims.md is what the script writes: every registered claim, pinned or not."""
    doc = numbers.claims_document(numbers.read_claims())
    on_disk = (REPO / "docs" / "claims.md").read_text(encoding="utf-8")
    assert on_disk == doc, "docs/claims.md is out of date: run python scripts/numbers.py"
    from replearn import registry

    every = [c.id for e in registry.entries(kind="experiment") for c in e.obj.claims]
    rows = [line for line in doc.splitlines() if line.startswith("| ") and "`" in line]
    assert len(rows) == len(every)
    pinned = {cid for cf in numbers.read_claims() for v in cf.verdicts.values() for cid in v}
    assert any(cid in pinned for cid in every)
    for line in rows:
        verdict = line.split(" | ")[3]
        assert verdict in ("holds", "fails", "not measured", "not pinned"), line


def test_verdicts_json_is_what_the_claims_tests_pin() -> None:
    """src/replearn/experiments/verdicts.json is what the script writes from tests/claims."""
    from replearn.experiments.verdicts import VERDICTS_FILE, pinned_verdict

    files = numbers.read_claims()
    written = numbers.verdicts_json(files)
    assert VERDICTS_FILE.read_text(encoding="utf-8") == written, "run python scripts/numbers.py"
    for cf in files:
        for exp, verdicts in cf.verdicts.items():
            for cid, v in verdicts.items():
                expected = {True: "holds", False: "fails"}.get(v, "not measured")
                assert pinned_verdict(exp, cid) == expected, (exp, cid)
    assert pinned_verdict("no-such-experiment", "x") == "not pinned"


def test_every_pinned_verdict_names_a_registered_claim() -> None:
    """A claims test whose file name or ``run_default`` call names the wrong experiment would
    pin verdicts nobody reads (its claims would show as ``not pinned``)."""
    from replearn import registry

    claims = {e.name: {c.id for c in e.obj.claims} for e in registry.entries(kind="experiment")}
    for cf in numbers.read_claims():
        for exp, verdicts in cf.verdicts.items():
            assert exp in claims, f"{cf.path.name} pins unknown experiment {exp!r}"
            unknown = set(verdicts) - claims[exp]
            assert not unknown, f"{cf.path.name}: {exp} has no claims {sorted(unknown)}"
