"""Re-judge and re-render the stored benchmark results without timing anything again.

    python benchmarks/rerender.py            # rewrite what changed, print one line per file
    python benchmarks/rerender.py --check    # exit 1 when a file would change (writes nothing)

Every ``results/**/<name>.json`` written by :meth:`harness.BenchResult.write` is loaded, its
verdicts are re-derived from the stored 95% intervals with :func:`harness.judge_ratio` (the
rule of ``harness.py``: a target holds only when the whole interval lies on its side), and
its ``.json`` and ``.md`` are rewritten when they change; a changed verdict is recorded as
"re-judged from stored samples". Results whose contender runs the baseline's own kernel are
turned into parity checks (:data:`SAME_KERNEL`). The summary tables that the benchmark
scripts write (``norm.md``, ``optim.md``, ``cnn_summary_64px.md``, ``sequence_rnn_summary.md``,
``transformer_summary.md``, ``transformer_bert_summary.md``) are re-rendered with the
scripts' own functions from the re-judged results.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import RESULTS_DIR, BenchResult, rejudge

SAME_KERNEL = {
    "sequence_rnn_lstm_fast": "LSTM(fast=True) calls torch._VF.lstm, torch.nn.LSTM's kernel",
    "sequence_rnn_gru_fast": "GRU(fast=True) calls torch._VF.gru, torch.nn.GRU's kernel",
}
"""Result name -> why it is a parity check (the contender runs the baseline's own kernel)."""

REASON = "the verdict rule now reads the 95% interval, not the point estimate"


def _is_harness_result(d: dict[str, Any]) -> bool:
    return all(k in d for k in ("settings", "summary", "raw"))


def _command(md: Path, default: str) -> str:
    """The reproducing command of an existing markdown file (its last ``sh`` block)."""
    if md.exists():
        blocks = re.findall(r"```sh\n(.*?)\n```", md.read_text(encoding="utf-8"), re.S)
        if blocks:
            return blocks[-1]
    return default


class Writer:
    """Collects the files to rewrite; writes them unless checking."""

    def __init__(self, check: bool) -> None:
        self.check, self.changed = check, []

    def put(self, path: Path, text: str) -> None:
        if path.exists() and path.read_text(encoding="utf-8") == text:
            return
        self.changed.append(path)
        if not self.check:
            from harness import write_atomic

            write_atomic(path, text)


def rerender_results(out: Path, w: Writer) -> dict[str, BenchResult]:
    """Re-judge and re-render every harness result under ``out``; return them by path stem."""
    results: dict[str, BenchResult] = {}
    for path in sorted(out.rglob("*.json")):
        d = json.loads(path.read_text(encoding="utf-8"))
        if not _is_harness_result(d):
            continue
        r = BenchResult.from_dict(d)
        parity = True if r.name in SAME_KERNEL else None
        changed = rejudge(r, parity=parity, reason=REASON)
        if r.name in SAME_KERNEL:
            r.extra["parity_check"] = SAME_KERNEL[r.name]
            r.notes = re.sub(  # the old scripts' claim sentence, now a parity check
                r"claim: throughput >= 0\.9x, i\.e\. time ratio <= [0-9.]+\.",
                "parity check (both sides run torch's fused kernel): time ratio within 0.9-1.111.",
                r.notes,
            )
        for k, (old, new) in changed.items():
            print(f"{path.relative_to(out)}: {k}: {old} -> {new}")
        w.put(path, json.dumps(r.to_dict(), indent=2) + "\n")
        w.put(path.with_suffix(".md"), r.to_markdown())
        if path.parent == out:
            results[r.name] = r
    return results


def _bench(name: str) -> Any:
    """Import ``benchmarks/<name>.py`` (needs torch, replearn and the script's imports)."""
    import importlib

    return importlib.import_module(name)


def rerender_summaries(out: Path, results: dict[str, BenchResult], w: Writer) -> None:
    """The scripts' summary tables, from the re-judged results."""
    tmp = out / ".rerender"
    tmp.mkdir(exist_ok=True)
    try:
        plans: list[tuple[str, list[str], Callable[[list[BenchResult], str], str]]] = []

        def via_file(module: str, fn: str, filename: str, **kw: Any) -> Callable:
            def render(rs: list[BenchResult], command: str) -> str:
                getattr(_bench(module), fn)(rs, tmp, command, **kw)
                return (tmp / filename).read_text(encoding="utf-8")

            return render

        plans += [
            (
                "cnn_summary_64px.md",
                ["cnn_resnet18_64px", "cnn_convnext_tiny_64px", "cnn_efficientnet_b0_64px",
                 "cnn_conv2d_scratch"],
                via_file("bench_cnn", "write_summary", "cnn_summary_64px.md", size=64),
            ),
            (
                "sequence_rnn_summary.md",
                ["sequence_rnn_lstm_fast", "sequence_rnn_lstm_reference",
                 "sequence_rnn_gru_fast", "sequence_rnn_gru_reference"],
                via_file("bench_sequence_rnn", "write_summary", "sequence_rnn_summary.md"),
            ),
            (
                "transformer_summary.md",
                ["transformer_gpt_train_cpu", "transformer_gpt_generate_cpu"],
                via_file("bench_transformer", "write_summary", "transformer_summary.md"),
            ),
            (
                "transformer_bert_summary.md",
                ["transformer_bert_pretraining_cpu", "transformer_bert_mlm_cpu"],
                via_file("bench_transformer_bert", "write_summary", "transformer_bert_summary.md"),
            ),
        ]  # fmt: skip
        for filename, names, render in plans:
            if all(n in results for n in names):
                md = out / filename
                text = render([results[n] for n in names], _command(md, "?"))
                w.put(md, text)
    finally:
        for p in tmp.iterdir():
            p.unlink()
        tmp.rmdir()
    optim_keys = ["sgd", "sgd_momentum", "sgd_nesterov", "adagrad", "rmsprop", "adam", "adamw",
                  "amsgrad", "adabound"]  # fmt: skip
    if all(f"optim_{k}" in results for k in optim_keys):
        md = out / "optim.md"
        rs = {k: results[f"optim_{k}"] for k in optim_keys}
        w.put(
            md, _bench("bench_optim").summary(rs, _command(md, "python benchmarks/bench_optim.py"))
        )
    norm_json = out / "norm.json"
    if norm_json.exists():
        bench_norm = _bench("bench_norm")
        d = json.loads(norm_json.read_text(encoding="utf-8"))
        layers = {k: BenchResult.from_dict(v) for k, v in d["layers"].items()}
        verdicts = {k: bench_norm.verdict(r) for k, r in layers.items()}
        for k, v in verdicts.items():
            if d.get("verdicts", {}).get(k) != v:
                print(f"norm.json: {k}: -> {v}")
        d.update(
            check="parity of the fast path; spectral norm's reference: target",
            verdicts=verdicts,
            passed=all(v in ("parity", "holds") for v in verdicts.values()),
            rejudged=REASON,
        )
        w.put(norm_json, json.dumps(d, indent=2) + "\n")
        text = bench_norm.markdown(layers, d["command"], d["machine"])
        w.put(
            out / "norm.md",
            text.replace(
                "(one run, not retried)", "(one run, not retried; re-judged from stored samples)"
            ),
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 on a change")
    parser.add_argument(
        "--no-summaries", action="store_true", help="skip the scripts' summary tables"
    )
    args = parser.parse_args(argv)
    w = Writer(args.check)
    results = rerender_results(args.out, w)
    if not args.no_summaries:
        rerender_summaries(args.out, results, w)
    for p in w.changed:
        print(("would change " if args.check else "rewrote ") + str(p))
    return 1 if (args.check and w.changed) else 0


if __name__ == "__main__":
    sys.exit(main())
