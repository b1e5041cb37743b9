"""Mamba on CPU: chunked vs sequential selective scan; our Mamba layer vs transformers' torch path.

    python benchmarks/bench_sequence_mamba.py                      # ~15 min on a busy 2-core box
    python benchmarks/bench_sequence_mamba.py --only scan --length 2048

Results: ``benchmarks/results/sequence_mamba_scan_{train,forward}.{json,md}`` and
``sequence_mamba_layer_train.{json,md}``.

Claims checked (ratios of median round times, interleaved in one process by
``benchmarks/harness.py``, one torch thread):

1. ``scan``: :func:`~replearn.sequence.mamba.selective_scan_chunked` is at least 5x
   faster than the sequential reference :func:`~replearn.sequence.mamba.selective_scan_ref` at
   length 2048 (time ratio <= 0.2), for training (forward + backward of every input) and,
   separately, for the forward pass alone. Several chunk sizes run as separate contenders, so
   the table also shows how the chunk size was picked (``DEFAULT_CHUNK``). Inputs: batch 2,
   D = 128 inner channels, N = 16 states, float32, with the D skip, the z gate and the
   softplus of Δ. ``--threads 2`` gives both contenders the machine's two cores.
   ``--cpu-time`` times CPU seconds instead of wall seconds (``time.thread_time`` on one
   thread, ``time.process_time`` otherwise): nearly independent of other jobs on a loaded
   machine; write such runs elsewhere with ``--out`` (the committed results are wall time).
2. ``layer``: the training throughput (forward, mean-square loss, backward) of our
   :class:`~replearn.sequence.mamba.MambaMixer` built by copying a ``transformers``
   ``MambaMixer`` is at least that of the ``transformers`` mixer itself, whose pure-PyTorch
   path runs here (no ``mamba_ssm`` / ``causal_conv1d`` CUDA kernels on a CPU): time ratio
   <= 1.0. Config: hidden 64, state 16, expand 2, conv 4, batch 4, length 256.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from harness import RESULTS_DIR, BenchResult, compare
from replearn.sequence.mamba.model import MambaMixer
from replearn.sequence.mamba.scan import selective_scan_ref
from replearn.sequence.mamba.scan_chunked import selective_scan_chunked

SEED = 0
CHUNKS = (8, 16, 32)


def scan_inputs(batch: int, length: int, d: int, n: int) -> list[torch.Tensor]:
    """u, delta (pre-softplus), A, B, C, D, z, delta_bias with gradients."""
    g = torch.Generator().manual_seed(SEED)
    xs = [
        torch.randn(batch, length, d, generator=g),
        torch.randn(batch, length, d, generator=g) - 3.0,
        -torch.arange(1.0, n + 1).repeat(d, 1),
        torch.randn(batch, length, n, generator=g),
        torch.randn(batch, length, n, generator=g),
        torch.ones(d),
        torch.randn(batch, length, d, generator=g),
        torch.zeros(d),
    ]
    return [x.requires_grad_(True) for x in xs]


def _scan_call(fn: Callable, xs: list[torch.Tensor], **kw: object) -> torch.Tensor:
    u, delta, A, B, C, D, z, bias = xs
    return fn(u, delta, A, B, C, D, z, delta_bias=bias, delta_softplus=True, **kw)


def _timer(args: argparse.Namespace) -> Callable[[], float]:
    """Wall clock, or with ``--cpu-time`` this thread's (one thread) or the process's CPU time."""
    if not args.cpu_time:
        return time.perf_counter
    return time.thread_time if args.threads == 1 else time.process_time


def bench_scan(args: argparse.Namespace, command: str) -> list[BenchResult]:
    """Chunked (several chunk sizes) vs sequential selective scan, training and forward."""
    xs = scan_inputs(args.batch_scan, args.length, args.d_inner, args.d_state)
    with torch.no_grad():
        ref = _scan_call(selective_scan_ref, xs)
        diffs = {T: float((_scan_call(selective_scan_chunked, xs, chunk_size=T) - ref).abs().max())
                 for T in CHUNKS}  # fmt: skip
    print(f"scan: max |chunked - sequential| per chunk size: {diffs}")
    results = []
    for mode in ("train", "forward"):

        def make(fn: Callable, mode: str = mode, **kw: object) -> Callable[[], object]:
            def run() -> object:
                if mode == "forward":
                    with torch.no_grad():
                        return _scan_call(fn, xs, **kw)
                for x in xs:
                    x.grad = None
                y = _scan_call(fn, xs, **kw)
                y.square().mean().backward()
                return y

            return run

        contenders = {"sequential": make(selective_scan_ref)}
        contenders |= {f"chunked-{T}": make(selective_scan_chunked, chunk_size=T) for T in CHUNKS}
        what = "forward + backward" if mode == "train" else "forward only (no autograd)"
        notes = (
            f"Selective scan, batch {args.batch_scan}, length {args.length}, D = {args.d_inner}, "
            f"N = {args.d_state}, float32, D skip, z gate, softplus(delta + bias); {what}.\n\n"
            "- `sequential` (baseline): `selective_scan_ref`, the readable loop over time.\n"
            "- `chunked-T`: `selective_scan_chunked(chunk_size=T)`.\n\n"
            f"Max |chunked - sequential| of the outputs: {diffs}. Claim: chunked at least 5x "
            "faster (time ratio <= 0.2). Machine shared with other jobs: quote ratios."
            + (" Times are CPU seconds (--cpu-time), not wall seconds." if args.cpu_time else "")
        )
        results.append(
            compare(
                f"sequence_mamba_scan_{mode}",
                contenders,
                rounds=args.rounds,
                warmup=1,
                baseline="sequential",
                threshold=0.2,
                command=command,
                threads=args.threads,
                out_dir=args.out,
                notes=notes,
                extra={"max_abs_diff": {str(k): v for k, v in diffs.items()}, "mode": mode},
                progress=print,
                timer=_timer(args),
            )
        )
    return results


def bench_layer(args: argparse.Namespace, command: str) -> BenchResult:
    """Training step of our MambaMixer vs transformers' MambaMixer (pure-PyTorch path)."""
    import transformers as tf
    from transformers.models.mamba.modeling_mamba import MambaMixer as HFMixer

    torch.manual_seed(SEED)
    cfg = tf.MambaConfig(hidden_size=args.hidden, state_size=16, expand=2, conv_kernel=4,
                         num_hidden_layers=1)  # fmt: skip
    theirs = HFMixer(cfg, layer_idx=0).train()
    ours = MambaMixer(args.hidden, d_state=16, d_conv=4, expand=2, dt_rank=cfg.time_step_rank)
    ours.load_state_dict(theirs.state_dict())
    ours.train()
    g = torch.Generator().manual_seed(SEED)
    x = torch.randn(args.batch, args.layer_length, args.hidden, generator=g)
    with torch.no_grad():
        diff = float((ours(x) - theirs(x)).abs().max())
    print(f"layer: max |ours - transformers| = {diff:.2e}")
    if diff > 1e-4:
        raise RuntimeError(f"the two mixers differ by {diff}")

    def step(model: torch.nn.Module) -> Callable[[], object]:
        def run() -> object:
            model.zero_grad(set_to_none=True)
            y = model(x)
            F.mse_loss(y, torch.zeros_like(y)).backward()
            return y

        return run

    notes = (
        f"One Mamba mixer (hidden {args.hidden}, state 16, expand 2, conv 4, dt rank "
        f"{cfg.time_step_rank}), batch {args.batch}, length {args.layer_length}, float32, "
        "training mode: forward, mean-square loss, backward.\n\n"
        "- `replearn`: `MambaMixer` with the weights of the transformers mixer (chunked scan, "
        "default chunk size).\n"
        "- `transformers` (baseline): `transformers.models.mamba.modeling_mamba.MambaMixer`; "
        "without the CUDA kernels its forward runs the pure-PyTorch path (vectorised "
        "discretisation, then a loop over time).\n\n"
        f"Max |difference| of the outputs: {diff:.2e}. Claim: replearn's throughput >= 1.0x "
        "(time ratio <= 1.0). Machine shared with other jobs: quote ratios."
    )
    return compare(
        "sequence_mamba_layer_train",
        {"replearn": step(ours), "transformers": step(theirs)},
        rounds=args.rounds,
        warmup=1,
        baseline="transformers",
        threshold=1.0,
        command=command,
        threads=args.threads,
        out_dir=args.out,
        notes=notes,
        extra={"max_abs_diff": diff, "hidden": args.hidden, "length": args.layer_length},
        progress=print,
        timer=_timer(args),
    )


def main(argv: list[str] | None = None) -> list[BenchResult]:
    command = shlex.join(["python", "benchmarks/bench_sequence_mamba.py", *(argv or sys.argv[1:])])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (default 7)")
    parser.add_argument("--length", type=int, default=2048, help="scan length (default 2048)")
    parser.add_argument("--batch-scan", type=int, default=2, help="scan batch (default 2)")
    parser.add_argument("--d-inner", type=int, default=128, help="scan channels D")
    parser.add_argument("--d-state", type=int, default=16, help="scan states N")
    parser.add_argument("--hidden", type=int, default=64, help="mixer hidden size")
    parser.add_argument("--batch", type=int, default=4, help="mixer batch")
    parser.add_argument("--layer-length", type=int, default=256, help="mixer sequence length")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--only", nargs="*", choices=["scan", "layer"], default=["scan", "layer"])
    parser.add_argument("--cpu-time", action="store_true", help="time CPU, not wall, seconds")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder")
    args = parser.parse_args(argv)
    results = []
    if "scan" in args.only:
        results += bench_scan(args, command)
    if "layer" in args.only:
        results.append(bench_layer(args, command))
    for r in results:
        print(r.to_markdown())
    return results


if __name__ == "__main__":
    main()
