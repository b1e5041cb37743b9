"""Write the README's measured numbers from the files that hold them; never type them.

    python scripts/numbers.py            # rewrite README.md's generated parts
    python scripts/numbers.py --check    # exit 1 (and show the diff) when README.md disagrees
    python scripts/numbers.py --list     # every marker name this script knows, with its text

README.md marks each generated part with a pair of HTML comments (invisible when rendered)::

    <!-- numbers:begin NAME -->...<!-- numbers:end NAME -->

Everything between the two is replaced by what ``NAME`` renders to; a block whose name ends
in ``-table`` is a whole markdown table on its own lines, any other name is a value inside a
sentence or a table cell. The sources:

* **claims**: the verdicts pinned in ``tests/claims/test_*_claims.py`` (the ``MEASURED``
  dictionaries: the verdict each default config gave when it was measured, ``None`` where it
  was not measured), read with :mod:`ast` without importing the tests. The topic is the
  second word of the file name.
* **benchmarks**: ``benchmarks/results/**/*.json`` written by ``benchmarks/harness.py`` (ratio
  of medians, paired ratio with its 95% interval, target, verdict, rounds, measured load) and
  ``benchmarks/results/norm.json`` (one row per layer).

Names:

========================== ==========================================================
``claims-table``           one row per topic: experiments, claims pinned, hold, fail
``benchmarks-table``       one row per benchmark contender
``claims:TOPIC``           "N pinned, H hold" for a topic
``ratio:RESULT[:WHO]``     time ratio of medians (3 decimals) of a contender
``paired:RESULT[:WHO]``    paired ratio with its 95% interval
``verdict:RESULT[:WHO]``   the harness verdict (holds / parity / fails / inconclusive)
``speed:RESULT[:WHO]``     1 / ratio of medians, as "1.07x"
``throughput:RESULT``      ``extra.throughput_ratio`` as "1.074x"
``speedup:RESULT``         ``extra.speedup`` as "6.4x"
``verdicts:PREFIX``        tally of the verdicts of every result named ``PREFIX*``
``load:RESULT``            1-minute load average at the start and the end of the run
``mfu:RESULT[:WHO]``       ``extra.mfu`` of a contender, as a percentage
``json:FILE:KEY.KEY``      a number in any result JSON (``FILE`` without ``.json``), 2 decimals
========================== ==========================================================

``RESULT`` is a result file's stem (``transformer_gpt_train_cpu``, ``threads-2/...``);
``WHO`` defaults to the one contender that is not the baseline.
``tests/test_numbers.py`` runs :func:`render` and fails when README.md disagrees.

It also writes ``docs/claims.md`` (every claim with its pinned verdict) and
``src/replearn/experiments/verdicts.json`` (the same verdicts as data, read by
``replearn list --markdown`` for docs/coverage.md and by ``replearn info``).
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Run as a script, this file's folder is sys.path[0], where this file would shadow the
# standard library's ``numbers`` (which torch imports): drop it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
CLAIMS_DIR = REPO / "tests" / "claims"
RESULTS_DIR = REPO / "benchmarks" / "results"

MARKER = re.compile(
    r"(<!-- numbers:begin (?P<name>[^ ]+) -->)(?P<body>.*?)(<!-- numbers:end (?P=name) -->)",
    re.S,
)
VERDICT_ORDER = ("holds", "parity", "fails", "inconclusive")


# ----------------------------------------------------------------------------- claims


@dataclass
class ClaimsFile:
    """The verdicts pinned in one claims test file."""

    path: Path
    topic: str
    verdicts: dict[str, dict[str, bool | None]] = field(default_factory=dict)  # exp -> id -> v


def _measured_literal(tree: ast.Module) -> Any:
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == "MEASURED" and node.value is not None:
            return ast.literal_eval(node.value)
    return None


def _experiment_name(path: Path, tree: ast.Module, topic: str) -> str:
    """The experiment a flat ``MEASURED`` belongs to: the first string given to
    ``run_default``/``get_experiment``/``main(["run", ...])``, else the file name."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute):
            fn = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
            if fn in ("run_default", "get_experiment") and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    return arg.value
    stem = path.stem.removeprefix("test_").removesuffix("_claims")
    return stem.removeprefix(f"{topic}_").replace("_", "-")


def read_claims(claims_dir: Path = CLAIMS_DIR) -> list[ClaimsFile]:
    """Every claims test file's pinned verdicts (files without ``MEASURED`` give none)."""
    files = []
    for path in sorted(claims_dir.glob("test_*_claims.py")):
        topic = path.stem.split("_")[1]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        measured = _measured_literal(tree)
        cf = ClaimsFile(path, topic)
        if isinstance(measured, dict) and measured:
            if all(isinstance(v, dict) for v in measured.values()):
                cf.verdicts = {k: dict(v) for k, v in measured.items()}
            else:
                cf.verdicts = {_experiment_name(path, tree, topic): dict(measured)}
        files.append(cf)
    return files


def claims_by_topic(files: list[ClaimsFile]) -> dict[str, Counter]:
    """topic -> counts of experiments, claims pinned, hold, fail, not measured, files."""
    topics: dict[str, Counter] = {}
    for cf in files:
        c = topics.setdefault(cf.topic, Counter())
        c["files"] += 1
        for verdicts in cf.verdicts.values():
            c["experiments"] += 1
            for v in verdicts.values():
                c["claims"] += 1
                c["hold" if v is True else "fail" if v is False else "not measured"] += 1
    return dict(sorted(topics.items()))


def claims_table(files: list[ClaimsFile]) -> str:
    topics = claims_by_topic(files)
    lines = [
        "| topic | experiments | claims | hold | fail | not measured | pinned in |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    total: Counter = Counter()
    for topic, c in topics.items():
        total.update(c)
        lines.append(
            f"| {topic} | {c['experiments']} | {c['claims']} | {c['hold']} | {c['fail']} | "
            f"{c['not measured']} | `tests/claims/test_{topic}_*claims.py` ({c['files']}) |"
        )
    lines.append(
        f"| **all** | {total['experiments']} | {total['claims']} | {total['hold']} | "
        f"{total['fail']} | {total['not measured']} | {total['files']} files |"
    )
    return "\n".join(lines)


CLAIMS_DOC = REPO / "docs" / "claims.md"


def claims_document(files: list[ClaimsFile]) -> str:
    """``docs/claims.md``: every claim of every registered experiment with its pinned verdict.

    Verdicts come from the claims tests (default config, seed 0); a claim that no test pins is
    listed as "not pinned". Statements come from the registry (this imports replearn).
    """
    import replearn.experiments  # noqa: F401  (registers every experiment)
    from replearn import registry
    from replearn.experiments import base

    pinned: dict[tuple[str, str], tuple[bool | None, Path]] = {}
    for cf in files:
        for exp, verdicts in cf.verdicts.items():
            for cid, v in verdicts.items():
                pinned[(exp, cid)] = (v, cf.path)
    lines = [
        "# Claims and their verdicts",
        "",
        "Generated by `python scripts/numbers.py`; do not edit by hand. Every claim of every",
        "registered experiment, with the verdict its claims test pins (default config, seed 0,",
        "measured as the test's comments say). *not pinned*: no default-config verdict is",
        "pinned yet (the claims test says why, or none exists).",
        "",
        "| topic | experiment | claim | verdict | pinned in | statement |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    counts: Counter = Counter()
    for entry in sorted(registry.entries(kind="experiment"), key=lambda e: (e.topic, e.name)):
        exp: base.Experiment = entry.obj
        for claim in exp.claims:
            v, path = pinned.get((exp.name, claim.id), (None, None))
            verdict = (
                "not pinned"
                if path is None
                else {True: "holds", False: "fails"}.get(v, "not measured")
            )
            counts[verdict] += 1
            where = f"`{path.relative_to(REPO)}`" if path is not None else ""
            statement = " ".join(claim.statement.split()).replace("|", "\\|")
            lines.append(
                f"| {exp.topic} | `{exp.name}` | `{claim.id}` | {verdict} | {where} | {statement} |"
            )
    total = sum(counts.values())
    lines[7:7] = [
        f"{total} claims: " + ", ".join(f"{counts[k]} {k}" for k in
                                        ("holds", "fails", "not measured", "not pinned")) + ".",
        "",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


def claims_inline(files: list[ClaimsFile], topic: str) -> str:
    c = claims_by_topic(files).get(topic)
    if c is None:
        raise KeyError(f"no claims test file for topic {topic!r}")
    text = f"{c['claims']} pinned, {c['hold']} hold"
    return text + (f", {c['not measured']} not measured" if c["not measured"] else "")


# ------------------------------------------------------------------------- benchmarks


@dataclass
class Row:
    """One contender of one benchmark, against its baseline."""

    result: str
    who: str
    baseline: str
    ratio: float
    paired: float | None
    ci: tuple[float, float] | None
    threshold: float | None
    check: str
    verdict: str | None
    rounds: int
    load: tuple[float | None, float | None]
    date: str
    extra: dict[str, Any]


def _load1(machine: dict[str, Any], key: str) -> float | None:
    v = machine.get(key)
    return float(v[0]) if v else None


def _rows_of(name: str, d: dict[str, Any]) -> list[Row]:
    settings, summary, m = d["settings"], d["summary"], d["machine"]
    base = settings["baseline"]
    return [
        Row(
            result=name,
            who=k,
            baseline=base,
            ratio=v["ratio_of_medians"],
            paired=v.get("paired_ratio_median"),
            ci=tuple(v["paired_ratio_ci95"]) if v.get("paired_ratio_ci95") else None,
            threshold=settings.get("threshold"),
            check=settings.get("check", "target"),
            verdict=v.get("verdict"),
            rounds=settings["rounds"],
            load=(_load1(m, "load_average_start"), _load1(m, "load_average")),
            date=str(m.get("date", "?"))[:10],
            extra=d.get("extra", {}),
        )
        for k, v in summary.items()
        if k != base
    ]


def read_benchmarks(results_dir: Path = RESULTS_DIR) -> dict[str, list[Row]]:
    """result name (path stem relative to ``results_dir``) -> its rows."""
    out: dict[str, list[Row]] = {}
    for path in sorted(results_dir.rglob("*.json")):
        if any(part.startswith(".") for part in path.relative_to(results_dir).parts):
            continue
        d = json.loads(path.read_text(encoding="utf-8"))
        name = path.relative_to(results_dir).with_suffix("").as_posix()
        if all(k in d for k in ("settings", "summary", "raw")):
            out[name] = _rows_of(name, d)
        elif "layers" in d:  # norm.json: one harness result per layer
            rows = []
            for layer, sub in d["layers"].items():
                who = "fast" if "fast" in sub["summary"] else "reference"
                (row,) = [r for r in _rows_of(f"{name}/{layer}", sub) if r.who == who]
                row.threshold = d.get("threshold")
                row.check = "parity" if who == "fast" else "target"
                row.verdict = d.get("verdicts", {}).get(layer)
                rows.append(row)
            out[name] = rows
    return out


def _ci(row: Row) -> str:
    if row.paired is None:
        return "-"
    ci = f" ({row.ci[0]:.3f}–{row.ci[1]:.3f})" if row.ci else " (no interval)"
    return f"{row.paired:.3f}{ci}"


def _target(row: Row) -> str:
    if row.threshold is None:
        return "reported only"
    t = row.threshold
    return f"parity {1 / t:.3g}–{t:.3g}" if row.check == "parity" else f"≤ {t:.3g}"


def _load_text(row: Row) -> str:
    vals = [f"{x:.1f}" for x in row.load if x is not None]
    return "–".join(vals) if vals else "?"


def benchmarks_table(bench: dict[str, list[Row]]) -> str:
    lines = [
        "| result | contender / baseline | time ratio of medians | paired ratio (95% CI) | "
        "target | verdict | rounds | load (1 min) | date |",
        "| --- | --- | ---: | ---: | --- | --- | ---: | --- | --- |",
    ]
    for name, rows in bench.items():
        for r in rows:
            label = r.result.split("/", 1)[1] if name == "norm" else r.who
            verdict = f"**{r.verdict}**" if r.verdict else "-"
            lines.append(
                f"| `{name}` | {label} / {r.baseline} | {r.ratio:.3f} | {_ci(r)} | "
                f"{_target(r)} | {verdict} | {r.rounds} | {_load_text(r)} | {r.date} |"
            )
    return "\n".join(lines)


def _row(bench: dict[str, list[Row]], ref: str) -> Row:
    name, _, who = ref.partition(":")
    if name.startswith("norm/"):
        rows = [r for r in bench["norm"] if r.result == name]
    else:
        rows = bench.get(name, [])
        if who:
            rows = [r for r in rows if r.who == who]
    if len(rows) != 1:
        raise KeyError(f"{ref!r} names {len(rows)} benchmark rows (need exactly one)")
    return rows[0]


def _extra(bench: dict[str, list[Row]], name: str, key: str) -> float:
    rows = bench.get(name)
    if not rows or key not in rows[0].extra:
        raise KeyError(f"{name!r} has no extra {key!r}")
    return float(rows[0].extra[key])


def verdict_tally(bench: dict[str, list[Row]], prefix: str) -> str:
    counts = Counter(
        r.verdict for name, rows in bench.items() if name.startswith(prefix) for r in rows
    )
    counts.pop(None, None)
    if not counts:
        raise KeyError(f"no judged benchmark result starts with {prefix!r}")
    return ", ".join(f"{counts[v]} {v}" for v in VERDICT_ORDER if counts[v])


# ---------------------------------------------------------------------------- render


def renderers(
    files: list[ClaimsFile], bench: dict[str, list[Row]], results_dir: Path = RESULTS_DIR
) -> dict[str, Callable]:
    """Marker kind -> function of the marker's argument (None for the tables)."""
    return {
        "claims-table": lambda _: "\n\n" + claims_table(files) + "\n\n",
        "benchmarks-table": lambda _: "\n\n" + benchmarks_table(bench) + "\n\n",
        "claims": lambda arg: claims_inline(files, arg),
        "ratio": lambda arg: f"{_row(bench, arg).ratio:.3f}",
        "paired": lambda arg: _ci(_row(bench, arg)),
        "verdict": lambda arg: str(_row(bench, arg).verdict),
        "speed": lambda arg: f"{1 / _row(bench, arg).ratio:.1f}x",
        "throughput": lambda arg: f"{_extra(bench, arg, 'throughput_ratio'):.3f}x",
        "speedup": lambda arg: f"{_extra(bench, arg, 'speedup'):.1f}x",
        "verdicts": lambda arg: verdict_tally(bench, arg),
        "load": lambda arg: _load_text(_row(bench, arg)),
        "mfu": lambda arg: _mfu(bench, arg),
        "json": lambda arg: f"{_json_number(arg, results_dir):.2f}",
    }


def _mfu(bench: dict[str, list[Row]], ref: str) -> str:
    """``extra.mfu`` of a contender (the baseline too: ``RESULT:BASELINE``)."""
    name, _, who = ref.partition(":")
    rows = bench.get(name) or []
    who = who or (rows[0].who if len(rows) == 1 else "")
    mfu = rows[0].extra.get("mfu", {}) if rows else {}
    if who not in mfu:
        raise KeyError(f"{ref!r} has no extra mfu for {who!r}")
    return f"{mfu[who]:.1%}"


def _json_number(ref: str, results_dir: Path) -> float:
    """``FILE:a.b.c`` -> the number at ``d["a"]["b"]["c"]`` of ``results_dir/FILE.json``."""
    name, _, keys = ref.partition(":")
    value: Any = json.loads((results_dir / f"{name}.json").read_text(encoding="utf-8"))
    for key in keys.split("."):
        value = value[key]
    return float(value)


def render_value(name: str, table: dict[str, Callable]) -> str:
    kind, _, arg = name.partition(":")
    if kind not in table:
        raise KeyError(f"unknown numbers marker {name!r} (kinds: {', '.join(sorted(table))})")
    return table[kind](arg or None)


def render(
    text: str,
    claims_dir: Path = CLAIMS_DIR,
    results_dir: Path = RESULTS_DIR,
) -> str:
    """``text`` with every marked part replaced by its generated value."""
    table = renderers(read_claims(claims_dir), read_benchmarks(results_dir), results_dir)

    def sub(m: re.Match[str]) -> str:
        return m.group(1) + render_value(m.group("name"), table) + m.group(4)

    return MARKER.sub(sub, text)


def marker_names(text: str) -> list[str]:
    return [m.group("name") for m in MARKER.finditer(text)]


def verdicts_json(files: list[ClaimsFile]) -> str:
    """``src/replearn/experiments/verdicts.json``: experiment -> claim id -> pinned verdict."""
    out: dict[str, dict[str, str]] = {}
    for cf in files:
        for exp, verdicts in cf.verdicts.items():
            for cid, v in verdicts.items():
                text = {True: "holds", False: "fails"}.get(v, "not measured")  # type: ignore[arg-type]
                out.setdefault(exp, {})[cid] = text
    ordered = {k: dict(sorted(v.items())) for k, v in sorted(out.items())}
    return json.dumps(ordered, indent=1) + "\n"


VERDICTS_JSON = REPO / "src" / "replearn" / "experiments" / "verdicts.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readme", type=Path, default=README)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 on a diff")
    parser.add_argument("--list", action="store_true", help="print each marker and its value")
    parser.add_argument("--claims-doc", type=Path, default=CLAIMS_DOC, help="docs/claims.md")
    args = parser.parse_args(argv)
    files = read_claims()
    verdicts = verdicts_json(files)
    old_verdicts = VERDICTS_JSON.read_text(encoding="utf-8") if VERDICTS_JSON.exists() else ""
    if verdicts != old_verdicts:
        if args.check:
            print(f"{VERDICTS_JSON} is out of date: run python scripts/numbers.py")
            return 1
        if not args.list:
            VERDICTS_JSON.write_text(verdicts, encoding="utf-8")
            print(f"{VERDICTS_JSON}: rewritten")
    doc = claims_document(files)
    old_doc = args.claims_doc.read_text(encoding="utf-8") if args.claims_doc.exists() else ""
    if doc != old_doc:
        if args.check:
            print(f"{args.claims_doc} is out of date: run python scripts/numbers.py")
            return 1
        if not args.list:
            args.claims_doc.write_text(doc, encoding="utf-8")
            print(f"{args.claims_doc}: rewritten")
    text = args.readme.read_text(encoding="utf-8")
    new = render(text)
    if args.list:
        for m in MARKER.finditer(new):
            print(f"{m.group('name')}: {m.group('body').strip()[:100]}")
        return 0
    if new == text:
        print(f"{args.readme}: {len(marker_names(text))} generated parts, up to date")
        return 0
    if args.check:
        sys.stdout.writelines(
            difflib.unified_diff(
                text.splitlines(True), new.splitlines(True), "README.md", "generated"
            )
        )
        return 1
    args.readme.write_text(new, encoding="utf-8")
    print(f"{args.readme}: rewrote {len(marker_names(text))} generated parts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
