"""Recurrent-network training throughput: replearn's LSTM/GRU (fast and reference) vs torch.nn.

    python benchmarks/bench_sequence_rnn.py                     # ~3 min on 2 cores
    python benchmarks/bench_sequence_rnn.py --rounds 5 --warmup 1 --only gru

Results: ``benchmarks/results/sequence_rnn_<cell>_fast.{json,md}``,
``sequence_rnn_<cell>_reference.{json,md}`` and the table ``sequence_rnn_summary.md``.

Claims checked, per cell (LSTM, GRU):

* fast path: a **parity check**, not a race: ``replearn.sequence.rnn.X(fast=True)`` and
  ``torch.nn.X`` both call torch's fused kernel (``torch._VF.lstm`` / ``gru``), so the
  difference is Python overhead around it. Parity when the 95% interval of the paired time
  ratio (training steps interleaved in the same process, ``benchmarks/harness.py``) lies
  inside 0.9-1/0.9; fails when it lies wholly outside; inconclusive across a bound.
* reference path: ``fast=False``, the readable per-step loop over the cell equations; no claim,
  the ratio is reported against a goal of at most 3x slower than torch.

Workload (defaults): 2 layers, input 64, hidden 128, sequences of 64 steps, batch 32,
``batch_first``, float32; loss = mean squared output of the last layer; SGD(lr=1e-3). Each side
has its own copy of the same weights (``load_state_dict``); before timing, outputs and the loss
gradient of every parameter are checked equal (float32 tolerance) and the check is stored.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from harness import RESULTS_DIR, BenchResult, compare, write_atomic
from replearn.sequence.rnn.layers import GRU, LSTM

SEED = 0
CELLS = {"lstm": (LSTM, nn.LSTM), "gru": (GRU, nn.GRU)}
FAST_THRESHOLD = 1 / 0.9  # parity band 0.9-1/0.9 of the time ratio
REFERENCE_GOAL = 3.0


class Side:
    """One contender: a recurrent network, its SGD optimizer and the fixed batch."""

    def __init__(self, model: nn.Module, x: Tensor, steps: int) -> None:
        self.model, self.x, self.steps = model.train(), x, steps
        self.optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)

    def train(self) -> float:
        """Timed: ``steps`` training steps; returns the last loss."""
        loss = torch.zeros(())
        for _ in range(self.steps):
            self.optimizer.zero_grad(set_to_none=True)
            out, _ = self.model(self.x)
            loss = out.square().mean()
            loss.backward()
            self.optimizer.step()
        return float(loss.detach())


def check_same_function(ours: nn.Module, theirs: nn.Module, x: Tensor) -> dict[str, Any]:
    """Outputs and every parameter gradient of the loss, replearn vs torch (float32)."""
    grads = []
    outs = []
    for model in (ours, theirs):
        model.zero_grad(set_to_none=True)
        out, _ = model(x)
        out.square().mean().backward()
        outs.append(out.detach())
        grads.append({k: p.grad.clone() for k, p in model.named_parameters()})
        model.zero_grad(set_to_none=True)
    out_diff = float((outs[0] - outs[1]).abs().max())
    grad_diff = max(float((grads[0][k] - grads[1][k]).abs().max()) for k in grads[1])
    ok = out_diff <= 1e-5 and grad_diff <= 1e-6
    return {"output_max_abs_diff": out_diff, "grad_max_abs_diff": grad_diff, "same_function": ok}


def bench_cell(cell: str, fast: bool, args: argparse.Namespace, command: str) -> BenchResult:
    """Interleaved training-step timing of one cell and path (replearn vs torch.nn)."""
    ours_cls, torch_cls = CELLS[cell]
    kw = dict(batch_first=True)
    torch.manual_seed(SEED)
    theirs = torch_cls(args.input, args.hidden, args.layers, **kw)
    ours = ours_cls(args.input, args.hidden, args.layers, fast=fast, **kw)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(args.batch, args.length, args.input, generator=torch.Generator().manual_seed(1))
    check = check_same_function(ours, theirs, x)
    path = "fast" if fast else "reference"
    print(f"{cell} {path}: same function: {check}")
    if not check["same_function"]:
        raise RuntimeError(f"{cell} {path}: replearn and torch.nn differ: {check}")
    ours_side, theirs_side = Side(ours, x, args.steps), Side(theirs, x, args.steps)
    seqs = args.steps * args.batch
    claim = (
        "parity check (both sides run torch's fused kernel): time ratio within "
        f"{1 / FAST_THRESHOLD:.3g}-{FAST_THRESHOLD:.3f}"
        if fast
        else f"no claim; goal: time ratio <= {REFERENCE_GOAL:g} (the 'verdict' is that goal)"
    )
    how = (
        "torch's fused kernel via `torch._VF`"
        if fast
        else "per-step loop over the cell equations, input projection of all steps in one product"
    )
    notes = (
        f"Workload: {cell.upper()}, {args.layers} layers, input {args.input}, hidden "
        f"{args.hidden}, batch {args.batch} x {args.length} steps (batch_first, float32, random "
        f"fixed inputs), {args.steps} training steps per round and contender: zero_grad, "
        "forward, loss = mean squared output, backward, SGD(lr=1e-3) step.\n\n"
        f"- `replearn-{path}`: `replearn.sequence.rnn.{cell.upper()}(fast={fast})` ({how}).\n"
        f"- `torch.nn` (peer): `torch.nn.{cell.upper()}` with the same weights.\n\n"
        f"Same function checked before timing: {check}.\n\n{claim}."
    )
    result = compare(
        f"sequence_rnn_{cell}_{path}",
        {f"replearn-{path}": ours_side.train, "torch.nn": theirs_side.train},
        rounds=args.rounds,
        warmup=args.warmup,
        baseline="torch.nn",
        threshold=FAST_THRESHOLD if fast else REFERENCE_GOAL,
        parity=fast,
        command=command,
        threads=args.threads,
        out_dir=args.out,
        notes=notes,
        extra={
            "cell": cell,
            "path": path,
            "layers": args.layers,
            "input": args.input,
            "hidden": args.hidden,
            "batch": args.batch,
            "length": args.length,
            "steps_per_round": args.steps,
            "same_function_check": check,
        },
        progress=print,
    )
    rate = {k: seqs / st.median for k, st in result.stats.items()}
    result.extra["sequences_per_s_median"] = rate
    result.extra["throughput_ratio"] = rate[f"replearn-{path}"] / rate["torch.nn"]
    result.notes += (
        f"\n\nThroughput (median): replearn-{path} {rate[f'replearn-{path}']:.1f} sequences/s, "
        f"torch.nn {rate['torch.nn']:.1f}; ratio **{result.extra['throughput_ratio']:.3f}x**."
    )
    result.write(args.out)
    return result


def write_summary(results: list[BenchResult], out: Path, command: str) -> Path:
    """``sequence_rnn_summary.md``: throughput ratios of every cell and path."""
    lines = [
        "# Benchmark `sequence`: LSTM/GRU training throughput vs torch.nn",
        "",
        "| benchmark | replearn seq/s | torch.nn seq/s | throughput ratio | time ratio "
        "(paired, 95% CI) | claim | verdict |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for r in results:
        ours = next(k for k in r.stats if k != r.baseline)
        rate = r.extra["sequences_per_s_median"]
        ci = r.paired_ratio_ci95.get(ours)
        ci_text = f" ({ci[0]:.3f}–{ci[1]:.3f})" if ci else ""
        goal = "parity (0.9-1.11)" if r.extra["path"] == "fast" else "goal: <= 3x slower"
        lines.append(
            f"| {r.name} | {rate[ours]:.1f} | {rate[r.baseline]:.1f} | "
            f"{r.extra['throughput_ratio']:.3f}x | {r.paired_ratio[ours]:.3f}{ci_text} | "
            f"{goal} | **{r.verdicts.get(ours, '-')}** |"
        )
    m = results[0].machine if results else {}
    lines += [
        "",
        f"Machine: {m.get('cpu_count', '?')} CPUs, torch {m.get('torch', '?')}, torch threads "
        f"{results[0].threads if results else '?'}, load average (1 min) at the start "
        f"{m.get('load_average_start', ['?'])[0]}. Raw timings: `sequence_rnn_<cell>_<path>.json`.",
        "",
        "Reproduce:",
        "",
        "```sh",
        command,
        "```",
        "",
    ]
    path = out / "sequence_rnn_summary.md"
    write_atomic(path, "\n".join(lines))
    return path


def main(argv: list[str] | None = None) -> list[BenchResult]:
    """Parse arguments, check each pair computes the same function, time, write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds (default 15)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first")
    parser.add_argument("--batch", type=int, default=32, help="sequences per step")
    parser.add_argument("--length", type=int, default=64, help="time steps per sequence")
    parser.add_argument("--input", type=int, default=64, help="input features")
    parser.add_argument("--hidden", type=int, default=128, help="hidden size")
    parser.add_argument("--layers", type=int, default=2, help="stacked layers")
    parser.add_argument("--steps", type=int, default=2, help="training steps per round")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--only", nargs="+", choices=list(CELLS), default=list(CELLS))
    parser.add_argument(
        "--paths", nargs="+", choices=("fast", "reference"), default=["fast", "reference"]
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "benchmarks/bench_sequence_rnn.py", *(argv or sys.argv[1:])])
    results = [
        bench_cell(cell, path == "fast", args, command) for cell in args.only for path in args.paths
    ]
    print(write_summary(results, args.out, command).read_text())
    return results


if __name__ == "__main__":
    main()
