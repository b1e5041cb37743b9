"""Benchmark: one S4D layer's SSM in convolution mode vs recurrent mode, L = 1k ... 16k.

For every length L, three contenders run interleaved in the same process (the harness shuffles
their order each round), on one sequence of H channels with state size N (S4D-LegS, float32,
no autograd):

* **convolution** (replearn's fast path): the kernel by the blocked Vandermonde product
  (:func:`replearn.sequence.s4.s4d_kernel`, O(NL) multiply-adds, O(N√L) exponentials) then
  the FFT convolution (:func:`replearn.sequence.ssm.ssm_convolve`, O(L log L));
* **convolution-plain-vandermonde**: the same with the kernel as the textbook product with
  the full N x L Vandermonde matrix (NL complex exponentials), to show what blocking buys;
* **recurrence** (baseline): L sequential steps x_k = λ̄ x_{k-1} + B̄ u_k
  (:func:`replearn.sequence.s4.s4d_recurrence`), what generation uses.

Before timing, the three outputs are checked to agree (float32, relative 1e-2 of the output
scale: the phases λ̄^l at l ~ 16k lose digits in float32; in float64 the tests check 1e-10).

Reported: the harness table per L (``sequence_s4_L<L>.{json,md}``) and a summary
(``sequence_s4_summary.{json,md}``) with the median times and the fitted exponent p of
time ∝ L^p per contender (an L log L cost fits p ≈ 1.1 over 1k-16k; a linear one p = 1).
No threshold: the claim (convolution faster than the recurrence at every L, exponents near 1)
is judged by the ``s4-tasks`` experiment; here the numbers are reported.

    python benchmarks/bench_sequence_s4.py                       # 1k..16k, 7 rounds (~2-3 min)
    python benchmarks/bench_sequence_s4.py --lengths 1024 4096 --rounds 5 --no-recurrence
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np
import torch

from harness import RESULTS_DIR, compare, machine_info, write_atomic
from replearn.sequence.s4 import S4DKernel, s4d_discretize, s4d_recurrence
from replearn.sequence.ssm import ssm_convolve

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
def bench_length(L: int, kernel: S4DKernel, D: torch.Tensor, args: argparse.Namespace):
    """Harness comparison at one length; returns the BenchResult."""
    H = kernel.d_model
    u = torch.randn(H, L, generator=torch.Generator().manual_seed(SEED + L))

    def conv() -> torch.Tensor:
        return ssm_convolve(u, kernel(L), D[:, None])

    def conv_plain() -> torch.Tensor:
        return ssm_convolve(u, plain_vandermonde_kernel(kernel, L), D[:, None])

    def rec() -> torch.Tensor:
        dA, dB, C = kernel.discrete()
        return s4d_recurrence(dA, dB, C, u, D)

    contenders = {"convolution": conv, "convolution-plain-vandermonde": conv_plain}
    y = conv()
    scale = float(y.abs().max())
    check = {"plain_vs_blocked_max_abs_diff": float((conv_plain() - y).abs().max())}
    if args.recurrence:
        contenders["recurrence"] = rec
        check["recurrence_vs_convolution_max_abs_diff"] = float((rec() - y).abs().max())
    check["output_scale"] = scale
    for key, value in check.items():
        if key.endswith("diff") and value > 1e-2 * scale:
            raise AssertionError(f"L={L}: {key} = {value:.3e} (scale {scale:.3e})")
    return compare(
        f"sequence_s4_L{L}",
        contenders,
        rounds=args.rounds,
        warmup=args.warmup,
        baseline="recurrence" if args.recurrence else "convolution-plain-vandermonde",
        threads=args.threads,
        out_dir=args.out,
        notes=(
            f"One S4D-LegS SSM layer, H = {H} channels, N = {kernel.d_state}, one sequence of "
            f"length {L}, float32, no autograd. See benchmarks/bench_sequence_s4.py."
        ),
        extra={"length": L, "check": check},
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
    torch.manual_seed(SEED)
    kernel = S4DKernel(args.channels, d_state=args.state)
    D = torch.randn(args.channels)
    medians: dict[str, list[float]] = {}
    for L in args.lengths:
        result = bench_length(L, kernel, D, args)
        for name, stats in result.stats.items():
            medians.setdefault(name, []).append(stats.median)
        print(
            f"L={L}: " + ", ".join(f"{n} {1e3 * s.median:.1f} ms" for n, s in result.stats.items())
        )
    exponents = {name: fit_exponent(args.lengths, ts) for name, ts in medians.items()}
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
    names = list(medians)
    rows = [
        f"| {L} | " + " | ".join(f"{1e3 * medians[n][i]:.2f}" for n in names) + " |"
        for i, L in enumerate(args.lengths)
    ]
    md = "\n".join(
        [
            "# S4D layer: convolution vs recurrence, median ms per sequence",
            "",
            f"H = {args.channels}, N = {args.state}, {args.threads} thread(s), "
            f"{args.rounds} interleaved rounds per length.",
            "",
            "| L | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
            *rows,
            "| fitted exponent p | " + " | ".join(f"{exponents[n]:.2f}" for n in names) + " |",
            "",
            f"An L log L cost fits p = {l_log_l:.2f} over these lengths; a linear one p = 1.",
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
