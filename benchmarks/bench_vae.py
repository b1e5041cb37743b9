"""VAE, IWAE and IAF-VAE: test NLL and wall time, next to the published MNIST numbers.

    python benchmarks/bench_vae.py                                  # digits (embedded)
    python benchmarks/bench_vae.py --steps 1000 --k-eval 1000       # faster
    REPLEARN_DATA=../shared/data python benchmarks/bench_vae.py --data fashion-mnist \\
        --n-test 1000 --z-dim 32 --hidden 400,400

Each model is trained as the experiments train it (``replearn.experiments.vae.common.train``:
the engine, Adam, dynamically binarized images, one seed) and scored on the fixed binarized
test images with the importance-sampled log-likelihood (``--k-eval`` samples, 5000 as in
Burda et al. 2016) and the ELBO. Times: training wall time and milliseconds per update
(one intra-op thread), and the evaluation time.

The published numbers are for dynamically binarized **MNIST** (784 pixels, 60,000
training images, larger networks trained for millions of updates); digits has 64 pixels
and 1,437 images, Fashion-MNIST is a harder data set than MNIST. They are printed for
orientation only: none of the rows is comparable with them.

Writes ``benchmarks/results/vae_nll_<data>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import machine_info, write_atomic
from replearn.engine import RunContext, single_thread
from replearn.experiments.vae.common import engine, evaluate, load_images, train
from replearn.vae.iaf import IAFVAE
from replearn.vae.model import VAE

RESULTS = Path(__file__).resolve().parent / "results"

# Published test NLL on dynamically binarized MNIST, nats (lower is better).
PUBLISHED = [
    ("VAE, 1 stochastic layer, k=1", 86.76, "Burda et al. 2016, arXiv:1509.00519, Table 1"),
    ("IWAE, 1 stochastic layer, k=5", 85.54, "Burda et al. 2016, arXiv:1509.00519, Table 1"),
    ("IWAE, 1 stochastic layer, k=50", 84.78, "Burda et al. 2016, arXiv:1509.00519, Table 1"),
    ("ResNet VAE, diagonal Gaussian", 81.08, "Kingma et al. 2016, arXiv:1606.04934, Table 1"),
    ("ResNet VAE, IAF (depth 8)", 79.10, "Kingma et al. 2016, arXiv:1606.04934, Table 1"),
]


def build(name: str, x_dim: int, z_dim: int, hidden: tuple[int, ...]) -> VAE:
    if name == "iaf":
        return IAFVAE(x_dim, z_dim, hidden=hidden, n_flows=2, context_dim=32, flow_hidden=(64,))
    return VAE(x_dim, z_dim, hidden=hidden)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits", choices=["digits", "fashion-mnist"])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--z-dim", type=int, default=8)
    parser.add_argument("--hidden", default="128,128")
    parser.add_argument("--k-eval", type=int, default=5000)
    parser.add_argument("--n-test", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    data = load_images(args.data, seed=args.seed, n_test=args.n_test)
    cfg = engine(args.steps, batch_size=args.batch_size)
    rows = []
    for name, objective, k in (("vae", "elbo", 1), ("iwae", "iwae", 5), ("iaf", "elbo", 1)):
        torch.manual_seed(args.seed)
        model = build(name, data.x_dim, args.z_dim, hidden)
        with tempfile.TemporaryDirectory() as tmp, single_thread():
            ctx = RunContext(out=Path(tmp), seed=args.seed, progress=False)
            ctx.start()
            loop = train(model, data, cfg, ctx, lr=1e-3, objective=objective, k=k)
            ctx.close()
            t0 = time.perf_counter()
            ev = evaluate(model, data.test, k_eval=args.k_eval)
            eval_s = time.perf_counter() - t0
        rows.append({
            "model": name, "objective": f"{objective} (k={k})", "nll_nats": ev["nll_nats"],
            "elbo_nats": ev["elbo_nats"], "active_units": ev["active_units"],
            "train_s": loop.wall_time_s, "ms_per_step": 1000 * loop.wall_time_s / loop.step,
            "eval_s": eval_s, "params": sum(p.numel() for p in model.parameters()),
        })  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
    machine = machine_info()
    command = shlex.join(["python", "benchmarks/bench_vae.py", *(argv or sys.argv[1:])])
    payload = {"name": f"vae_nll_{args.data}", "machine": machine, "args": vars(args),
               "rows": rows, "published_mnist": PUBLISHED, "command": command}  # fmt: skip
    lines = [
        f"# Benchmark `vae_nll_{args.data}`",
        "",
        f"{machine['date']} · {machine['platform']} · {machine['cpu_count']} CPUs · torch "
        f"{machine.get('torch')} · 1 thread · git {machine['git']} · load average (1 min) "
        f"{machine['load_average'][0]:.2f} at the end",
        "",
        f"Data: {args.data}, {len(data.train)} training images (dynamically binarized), "
        f"{len(data.test)} test images (binarized once). {args.steps} updates of batch "
        f"{args.batch_size}, Adam 1e-3, z = {args.z_dim}, MLP {hidden}; NLL from "
        f"k = {args.k_eval} importance samples.",
        "",
        "| model | objective | test NLL (nats) | test ELBO (nats) | active units | params "
        "| train s | ms / update | eval s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(f"| {r['model']} | {r['objective']} | {r['nll_nats']:.3f} | {r['elbo_nats']:.3f} | "
          f"{r['active_units']} | {r['params']:,} | {r['train_s']:.1f} | {r['ms_per_step']:.2f} "
          f"| {r['eval_s']:.1f} |" for r in rows),
        "",
        "Published, **on dynamically binarized MNIST** (a different data set: 784 pixels, "
        "larger models, far longer training; for orientation only, not comparable):",
        "",
        "| model | test NLL (nats) | source |",
        "| --- | ---: | --- |",
        *(f"| {m} | {v:.2f} | {s} |" for m, v, s in PUBLISHED),
        "",
        "Times depend on the machine and its load; quote ratios between rows, not absolute "
        "times.",
        "",
        "Reproduce:",
        "",
        "```sh",
        command,
        "```",
        "",
    ]  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    write_atomic(RESULTS / f"vae_nll_{args.data}.json", json.dumps(payload, indent=2) + "\n")
    write_atomic(RESULTS / f"vae_nll_{args.data}.md", "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
