"""Benchmark: self-supervised methods (probe accuracy vs pretraining time) and loss fast paths.

Two parts:

* ``losses``: every loss of :mod:`replearn.ssl.losses` (vectorized, float64) against its
  brute-force loop in :mod:`replearn.ssl.reference` (the test oracle), interleaved by the
  harness on the same inputs; the speedup is 1 / (ratio of medians). Before timing, the two
  are checked equal (rtol 1e-10).
* ``methods``: each method pretrained on MNIST-1D with the same step budget and batch
  (:func:`replearn.experiments.ssl.common.pretrain`, one seed, one thread), then a linear
  probe and a k-NN on its frozen features: one table of probe accuracy against pretraining
  wall time, with the raw-input probe as the floor.

    python benchmarks/bench_ssl.py losses --rounds 11
    python benchmarks/bench_ssl.py methods --steps 200
    python benchmarks/bench_ssl.py table runs/simclr-mnist1d runs/byol-mnist1d ...

Writes ``benchmarks/results/ssl_losses.{json,md}`` and ``ssl_methods.{json,md}``; the
``table`` part gathers default-config experiment runs into ``ssl_experiments.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from harness import RESULTS_DIR, compare, machine_info, write_atomic
from replearn.engine import EngineConfig, RunContext
from replearn.engine.context import single_thread
from replearn.ssl import losses as L
from replearn.ssl import reference as R

METHODS = ("simclr", "moco", "byol", "barlow", "dino", "clip", "ijepa")


def _inputs(seed: int = 0) -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    """Loss name -> (vectorized call, loop call) on the same float64 inputs."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    n, d = 64, 32
    q, k, neg = r(n, d), r(n, d), r(256, d)
    s_views, t_views, center = r(4, n, 64), r(2, n, 64), r(64)
    pred, target = r(8, 16, d), r(8, 16, d)
    scale = torch.tensor(math.log(1 / 0.07), dtype=torch.float64)
    return {
        "info_nce": (
            lambda: L.info_nce(q, k, neg, temperature=0.2),
            lambda: R.info_nce_loop(q, k, neg, temperature=0.2),
        ),
        "nt_xent": (
            lambda: L.nt_xent(q, k, temperature=0.5),
            lambda: R.nt_xent_loop(q, k, temperature=0.5),
        ),
        "clip": (lambda: L.clip_loss(q, k, scale), lambda: R.clip_loss_loop(q, k, float(scale))),
        "byol": (lambda: L.byol_loss(q, k), lambda: R.byol_loss_loop(q, k)),
        "barlow_twins": (
            lambda: L.barlow_twins_loss(q, k, lambd=5e-3)[0],
            lambda: R.barlow_twins_loss_loop(q, k, lambd=5e-3)[0],
        ),
        "dino": (
            lambda: L.dino_loss(s_views, t_views, center, student_temp=0.1, teacher_temp=0.04),
            lambda: R.dino_loss_loop(s_views, t_views, center, student_temp=0.1, teacher_temp=0.04),
        ),
        "ijepa": (lambda: L.ijepa_loss(pred, target), lambda: R.ijepa_loss_loop(pred, target)),
        "distillation": (
            lambda: L.distillation_loss(q, k, temperature=4.0),
            lambda: R.distillation_loss_loop(q, k, temperature=4.0),
        ),
    }


def bench_losses(rounds: int, command: str) -> dict[str, Any]:
    rows = {}
    for name, (fast, loop) in _inputs().items():
        got, want = float(fast()), float(loop())
        if not math.isclose(got, want, rel_tol=1e-10, abs_tol=1e-12):
            raise AssertionError(f"{name}: vectorized {got} != loop {want}")
        res = compare(
            f"ssl_loss_{name}",
            {"vectorized": fast, "loop": loop},
            rounds=rounds,
            warmup=1,
            baseline="loop",
            command=command,
            out_dir=None,
        )
        ratio = res.ratio_of_medians["vectorized"]
        rows[name] = {
            "loop_median_s": res.stats["loop"].median,
            "vectorized_median_s": res.stats["vectorized"].median,
            "speedup": 1.0 / ratio,
            "paired_ratio": res.paired_ratio["vectorized"],
        }
    lines = [
        "# ssl losses: vectorized vs brute-force float64 loops",
        "",
        f"`{command}` -- float64, N = 64 examples, D = 32 (DINO: 4 views x 64 x 64 outputs; "
        "I-JEPA: 8 x 16 tokens). Medians over the harness's interleaved rounds, one thread; "
        "quote the ratios, not the absolute times.",
        "",
        "| loss | loop median (ms) | vectorized median (ms) | speedup |",
        "|---|---|---|---|",
    ]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {1e3 * row['loop_median_s']:.2f} | "
            f"{1e3 * row['vectorized_median_s']:.3f} | {row['speedup']:.0f}x |"
        )
    out = {"command": command, "machine": machine_info(), "rows": rows}
    write_atomic(RESULTS_DIR / "ssl_losses.json", json.dumps(out, indent=1))
    write_atomic(RESULTS_DIR / "ssl_losses.md", "\n".join(lines) + "\n")
    return out


def bench_methods(steps: int, batch: int, command: str) -> dict[str, Any]:
    from replearn.experiments.ssl.common import (
        feature_extractor,
        load_ssl_data,
        pretrain,
        raw_probe_accuracy,
        representation_metrics,
    )
    from replearn.experiments.ssl.pretrain import Config

    data = load_ssl_data("mnist1d", n_train=None, seed=0, upsample=False)
    rows: dict[str, dict[str, float]] = {}
    with single_thread():
        raw = raw_probe_accuracy(data, n_probe=None, seed=0)
        for method in METHODS:
            eng = EngineConfig(
                max_steps=steps, batch_size=batch, log_every=50, checkpoint_every=0, progress=False
            )
            cfg = Config(method=method, engine=eng)
            with tempfile.TemporaryDirectory() as tmp:
                ctx = RunContext(out=Path(tmp), seed=0, progress=False)
                t0 = time.perf_counter()
                out = pretrain(cfg, data, ctx, name=method, seed=0)
                wall = time.perf_counter() - t0
            m = representation_metrics(
                feature_extractor(out["method"]), data, n_probe=None, fractions=(), seed=0
            )
            rows[method] = {
                "pretrain_wall_time_s": wall,
                **m,
                "effective_rank": out["effective_rank"],
            }
            print(method, rows[method], flush=True)
    lines = [
        "# ssl methods on MNIST-1D: linear-probe accuracy vs pretraining wall time",
        "",
        f"`{command}` -- {steps} steps of {batch} examples, one seed, one thread, on "
        f"{machine_info().get('cpu', 'this CPU')} (shared: absolute times describe this "
        f"machine at this minute). Raw-input linear probe: {100 * raw:.1f}%.",
        "",
        "| method | pretraining (s) | linear probe | k-NN | effective rank |",
        "|---|---|---|---|---|",
    ]
    for method, row in rows.items():
        lines.append(
            f"| {method} | {row['pretrain_wall_time_s']:.0f} | "
            f"{100 * row['linear_probe_accuracy']:.1f}% | {100 * row['knn_accuracy']:.1f}% "
            f"| {row['effective_rank']:.1f} |"
        )
    out = {
        "command": command,
        "machine": machine_info(),
        "raw_linear_probe_accuracy": raw,
        "steps": steps,
        "batch_size": batch,
        "rows": rows,
    }
    write_atomic(RESULTS_DIR / "ssl_methods.json", json.dumps(out, indent=1))
    write_atomic(RESULTS_DIR / "ssl_methods.md", "\n".join(lines) + "\n")
    return out


def table(runs: list[Path], command: str) -> str:
    """One comparison table from the ``result.json`` of default-config experiment runs."""
    lines = [
        "# ssl experiments with their default configs: probe, k-NN, collapse, time",
        "",
        f"`{command}` -- each row is `replearn run <name>` (seed 0, means over the run's "
        "seeds) on a busy shared 2-core CPU; wall times include the ablated variants.",
        "",
        "| experiment | linear probe | k-NN | 1% labels probe | embedding std | "
        "effective rank | pretraining per seed (s) | run wall time (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = {}
    for run in runs:
        r = json.loads((run / "result.json").read_text())
        label = f"{run.name} ({r['data']})" if "data" in r else run.name
        rows[label] = r

        def pct(key: str, r: dict[str, Any] = r) -> str:
            v = r.get(key)
            return f"{100 * v:.1f}%" if isinstance(v, (int, float)) else "-"

        def num(key: str, fmt: str, r: dict[str, Any] = r) -> str:
            v = r.get(key)
            return format(v, fmt) if isinstance(v, (int, float)) else "-"

        lines.append(
            f"| {label} | {pct('linear_probe_accuracy')} | {pct('knn_accuracy')} | "
            f"{pct('probe_1pct_accuracy')} | {num('embedding_std', '.3f')} | "
            f"{num('effective_rank', '.1f')} | {num('pretrain_wall_time_s', '.0f')} | "
            f"{num('wall_time_s', '.0f')} |"
        )
    raw = next(
        (
            r["raw_linear_probe_accuracy"]
            for r in rows.values()
            if r.get("data") == "mnist1d" and "raw_linear_probe_accuracy" in r
        ),
        None,
    )
    if raw is not None:
        lines += ["", f"Raw-input linear probe on MNIST-1D: {100 * raw:.1f}%."]
    write_atomic(RESULTS_DIR / "ssl_experiments.md", "\n".join(lines) + "\n")
    write_atomic(RESULTS_DIR / "ssl_experiments.json", json.dumps(rows, indent=1, default=str))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("losses", "methods", "all", "table"))
    parser.add_argument("runs", nargs="*", type=Path, help="run folders (part 'table')")
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args(argv)
    command = "python benchmarks/bench_ssl.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    if args.part in ("losses", "all"):
        print(json.dumps(bench_losses(args.rounds, command)["rows"], indent=1))
    if args.part in ("methods", "all"):
        bench_methods(args.steps, args.batch, command)
    if args.part == "table":
        print(table(args.runs, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
