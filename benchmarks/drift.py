"""Did a change move a benchmark's ratio? Compare re-timed results with those of a git revision.

    python benchmarks/drift.py --before REV NAME [NAME ...]   # writes results/drift.md

For each result ``NAME`` (``results/NAME.json`` now, and the same file as committed at
``REV``), every contender other than the baseline is compared on its paired time ratio:
the new median ratio is **within** the old run's 95% interval when it lies inside it
(the change kept the ratio, as far as the old run can tell), **faster** / **slower** when
it lies below / above it. Both intervals are printed, with each run's date, commit and load,
so a reader sees how noisy each side was. Nothing is timed here: run the benchmarks first.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import RESULTS_DIR, write_atomic

THROUGHPUT = (
    "transformer_gpt_train_cpu",
    "transformer_bert_mlm_cpu",
    "transformer_vit_train_cpu",
    "cnn_resnet18_64px",
    "cnn_convnext_tiny_64px",
    "cnn_efficientnet_b0_64px",
    "sequence_rnn_lstm_fast",
    "sequence_rnn_gru_fast",
)
"""The throughput benchmarks of issue 21 (GPT, BERT, ViT vs transformers; CNNs; LSTM/GRU)."""


@dataclass(frozen=True)
class Drift:
    """One contender of one benchmark, before and after."""

    name: str
    contender: str
    baseline: str
    before: float
    before_ci: tuple[float, float]
    after: float
    after_ci: tuple[float, float] | None

    @property
    def outcome(self) -> str:
        """``within`` the old 95% interval, or ``faster`` / ``slower`` than all of it."""
        lo, hi = self.before_ci
        if self.after < lo:
            return "faster"
        if self.after > hi:
            return "slower"
        return "within"


def drifts(name: str, before: dict[str, Any], after: dict[str, Any]) -> list[Drift]:
    """The paired-ratio comparison of every non-baseline contender present in both results."""
    base = after["settings"]["baseline"]
    if before["settings"]["baseline"] != base:
        raise ValueError(f"{name}: baseline changed ({before['settings']['baseline']} -> {base})")
    rows = []
    for who, new in after["summary"].items():
        old = before["summary"].get(who)
        if who == base or old is None or old.get("paired_ratio_ci95") is None:
            continue
        ci = new.get("paired_ratio_ci95")
        rows.append(
            Drift(
                name,
                who,
                base,
                float(old["paired_ratio_median"]),
                (float(old["paired_ratio_ci95"][0]), float(old["paired_ratio_ci95"][1])),
                float(new["paired_ratio_median"]),
                None if ci is None else (float(ci[0]), float(ci[1])),
            )
        )
    return rows


def _at_revision(rev: str, path: Path) -> dict[str, Any]:
    rel = path.resolve().relative_to(Path(__file__).resolve().parent.parent)
    text = subprocess.run(
        ["git", "show", f"{rev}:{rel.as_posix()}"], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(text)


def _run_line(d: dict[str, Any]) -> str:
    m = d["machine"]
    start, end = m.get("load_average_start"), m.get("load_average")
    load = "?" if start is None or end is None else f"{start[0]:.2f}-{end[0]:.2f}"
    return f"{str(m.get('date', '?'))[:16]}Z, commit {m.get('git', '?')}, load (1 min) {load}"


def render(rows: list[Drift], runs: dict[str, tuple[str, str]], rev: str, command: str) -> str:
    """The markdown table of ``rows``; ``runs`` maps a result name to its (before, after) line."""
    lines = [
        "# Benchmark drift: paired time ratios before and after",
        "",
        f"Before: the results committed at `{rev}`; after: the files in `results/` now. A time",
        "ratio below 1 means replearn is faster than the baseline. *within*: the new median",
        "ratio lies inside the old run's 95% interval.",
        "",
        "| benchmark | contender / baseline | before (95% CI) | after (95% CI) | outcome |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for r in rows:
        after_ci = "-" if r.after_ci is None else f"{r.after_ci[0]:.3f}-{r.after_ci[1]:.3f}"
        lines.append(
            f"| `{r.name}` | {r.contender} / {r.baseline} | {r.before:.3f} "
            f"({r.before_ci[0]:.3f}-{r.before_ci[1]:.3f}) | {r.after:.3f} ({after_ci}) | "
            f"**{r.outcome}** |"
        )
    counts = {k: sum(r.outcome == k for r in rows) for k in ("within", "faster", "slower")}
    lines += ["", ", ".join(f"{v} {k}" for k, v in counts.items()) + ".", "", "Runs:", ""]
    lines += [f"- `{n}`: before {b}; after {a}" for n, (b, a) in runs.items()]
    lines += ["", "Reproduce (after re-running the benchmarks):", "", "```sh", command, "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", default=list(THROUGHPUT), help="result names")
    p.add_argument("--before", required=True, help="git revision of the earlier results")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "drift.md")
    args = p.parse_args(argv)
    rows: list[Drift] = []
    runs: dict[str, tuple[str, str]] = {}
    for name in args.names:
        path = RESULTS_DIR / f"{name}.json"
        if not path.exists():
            print(f"drift: no results/{name}.json", file=sys.stderr)
            return 2
        after = json.loads(path.read_text(encoding="utf-8"))
        before = _at_revision(args.before, path)
        rows += drifts(name, before, after)
        runs[name] = (_run_line(before), _run_line(after))
    names = " ".join(args.names) if args.names != list(THROUGHPUT) else ""
    command = f"python benchmarks/drift.py --before {args.before} {names}".rstrip()
    write_atomic(args.out, render(rows, runs, args.before, command))
    for r in rows:
        print(f"{r.name:32s} {r.contender:12s} {r.before:.3f} -> {r.after:.3f}: {r.outcome}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
