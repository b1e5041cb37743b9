"""Benchmark: one S4D layer's SSM in convolution mode vs recurrent mode, L = 1k ... 16k.

For every length L, three modes are timed on one sequence of H channels with state size N
(S4D-LegS, float32, no autograd):

* **convolution** (replearn's fast path): the kernel by the blocked Vandermonde product
  (:func:`replearn.sequence.ssm.s4d_kernel`, O(NL) multiply-adds, O(N√L) exponentials) then
  the FFT convolution (:func:`replearn.sequence.ssm.ssm_convolve`, O(L log L));
* **convolution-plain-vandermonde**: the same with the kernel as the textbook product with
  the full N x L Vandermonde matrix (NL complex exponentials), to show what blocking buys;
* **recurrence** (baseline): L sequential steps x_k = λ̄ x_{k-1} + B̄ u_k
  (:func:`replearn.sequence.ssm.s4d_recurrence`), what generation uses.

Before timing, the three outputs are checked to agree (float32, relative 1e-2 of the output
scale: the phases λ̄^l at l ~ 16k lose digits in float32; in float64 the tests check 1e-10).

All (mode, L) pairs are contenders of one harness run, so every round times each of them once
in a shuffled order and machine drift spreads over all lengths. Reported: the harness table
(``sequence_s4_modes.{json,md}``) and a summary (``sequence_s4_summary.{json,md}``) with the
median times and the fitted exponent p of time ∝ L^p per mode (an L log L cost fits p ≈ 1.1
over 1k-16k; a linear one p = 1). No threshold: the claim (convolution faster than the
recurrence at every L, exponents near 1) is judged by the ``s4-tasks`` experiment; here the
numbers are reported.

    python benchmarks/bench_sequence_s4.py                       # 1k..16k, 7 rounds (~3 min quiet)
    python benchmarks/bench_sequence_s4.py --lengths 1024 4096 --rounds 5 --no-recurrence
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from harness import RESULTS_DIR, BenchResult, compare, machine_info, write_atomic
from replearn.sequence.ssm.continuous import ssm_convolve
from replearn.sequence.ssm.s4 import S4DKernel, s4d_discretize, s4d_recurrence

SEED = 0


def plain_vandermonde_kernel(kernel: S4DKernel, length: int) -> torch.Tensor:
    """Eq. (2) of ``s4`` with the full (H, N/2, L) Vandermonde matrix: NL exponentials."""
    Lambda, B, C, dt = kernel.parts()
    _, dB = s4d_discretize(Lambda, B, dt)
    steps = torch.arange(length, dtype=dt.dtype)
    vandermonde = torch.exp((Lambda * dt[:, None])[..., None] * steps)  # (H, N/2, L)
    return 2 * torch.einsum("hn,hnl->hl", C * dB, vandermonde).real


def fit_exponent(lengths: list[int], times: list[float]) -> float:
    """Least-squares slope p of log t = a + p log L."""
    return float(np.polyfit(np.log(lengths), np.log(times), 1)[0])


@torch.no_grad()
def run(args: argparse.Namespace) -> BenchResult:
    """One harness comparison with a contender per (mode, length): all interleaved per round."""
    torch.manual_seed(SEED)
    kernel = S4DKernel(args.channels, d_state=args.state)
    D = torch.randn(args.channels)
    contenders: dict[str, Callable[[], torch.Tensor]] = {}
    check: dict[str, float] = {}
    for L in args.lengths:
        u = torch.randn(args.channels, L, generator=torch.Generator().manual_seed(SEED + L))

        def conv(u: torch.Tensor = u, L: int = L) -> torch.Tensor:
            return ssm_convolve(u, kernel(L), D[:, None])

        def conv_plain(u: torch.Tensor = u, L: int = L) -> torch.Tensor:
            return ssm_convolve(u, plain_vandermonde_kernel(kernel, L), D[:, None])

        def rec(u: torch.Tensor = u) -> torch.Tensor:
            dA, dB, C = kernel.discrete()
            return s4d_recurrence(dA, dB, C, u, D)

        y = conv()
        scale = float(y.abs().max())
        contenders[f"convolution@{L}"] = conv
        others = {"convolution-plain-vandermonde": conv_plain}
        if args.recurrence:
            others["recurrence"] = rec
        for name, fn in others.items():
            contenders[f"{name}@{L}"] = fn
            diff = float((fn() - y).abs().max())
            check[f"{name}@{L}_max_abs_diff_vs_convolution"] = diff
            if diff > 1e-2 * scale:
                raise AssertionError(f"{name} at L={L} differs by {diff:.3e} (scale {scale:.3e})")
    base = "recurrence" if args.recurrence else "convolution-plain-vandermonde"
    return compare(
        "sequence_s4_modes",
        contenders,
        rounds=args.rounds,
        warmup=args.warmup,
        baseline=f"{base}@{args.lengths[0]}",
        threads=args.threads,
        out_dir=args.out,
        notes=(
            f"One S4D-LegS SSM layer, H = {args.channels} channels, N = {args.state}, one "
            "sequence of length L (name@L), float32, no autograd; every (mode, L) pair runs "
            "once per round in a shuffled order. Ratios are against the baseline at the "
            "shortest L. See benchmarks/bench_sequence_s4.py."
        ),
        extra={"lengths": args.lengths, "check": check},
        progress=print if args.verbose else None,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 2048, 4096, 8192, 16384])
    parser.add_argument("--channels", type=int, default=32, help="H")
    parser.add_argument("--state", type=int, default=64, help="N")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-recurrence", dest="recurrence", action="store_false")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    result = run(args)
    modes = sorted({name.split("@")[0] for name in result.stats})
    medians = {m: [result.stats[f"{m}@{L}"].median for L in args.lengths] for m in modes}
    exponents = {m: fit_exponent(args.lengths, ts) for m, ts in medians.items()}
    l_log_l = fit_exponent(args.lengths, [L * np.log(L) for L in args.lengths])
    command = "python " + shlex.join(["benchmarks/bench_sequence_s4.py", *sys.argv[1:]])
    summary = {
        "lengths": args.lengths,
        "channels": args.channels,
        "state": args.state,
        "threads": args.threads,
        "rounds": args.rounds,
        "median_seconds": medians,
        "fitted_exponent": exponents,
        "l_log_l_exponent": l_log_l,
        "command": command,
        "machine": machine_info(),
    }
    rows = [
        f"| {L} | " + " | ".join(f"{1e3 * medians[m][i]:.2f}" for m in modes) + " |"
        for i, L in enumerate(args.lengths)
    ]
    md = "\n".join(
        [
            "# S4D layer: convolution vs recurrence, median ms per sequence",
            "",
            f"H = {args.channels}, N = {args.state}, {args.threads} thread(s), "
            f"{args.rounds} interleaved rounds (every mode and length in each round).",
            "",
            "| L | " + " | ".join(modes) + " |",
            "|---|" + "---|" * len(modes),
            *rows,
            "| fitted exponent p | " + " | ".join(f"{exponents[m]:.2f}" for m in modes) + " |",
            "",
            f"An L log L cost fits p = {l_log_l:.2f} over these lengths; a linear one p = 1. "
            "Full table: sequence_s4_modes.md.",
            "",
            f"Reproduce: `{command}`",
            "",
        ]
    )
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out / "sequence_s4_summary.json", json.dumps(summary, indent=2) + "\n")
    write_atomic(args.out / "sequence_s4_summary.md", md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
