"""Real NVP and Glow on the 2-D toy densities: replearn against ``normflows``, same size and budget.

    python benchmarks/bench_flow.py                       # Real NVP: 4 densities x 3 seeds
    python benchmarks/bench_flow.py --model glow          # Glow steps (ActNorm, LU, coupling)
    python benchmarks/bench_flow.py --data moons --seeds 1 --steps 200 --rounds 7   # smoke

Both sides build the same architecture: 8 affine couplings on 2-D points, the
transformed half alternating (replearn: :class:`replearn.flow.RealNVP` with half masks;
normflows: ``AffineCouplingBlock`` + ``Permute(2, "swap")``), each conditioner a ReLU MLP
with two hidden layers of 64 units and a zero-initialized last layer, a fixed standard
normal base (normflows: ``DiagGaussian(2, trainable=False)``). ``--model glow``: 8 Glow
steps, each ActNorm (data-dependent init), an invertible 2x2 linear map in LU form
and an affine coupling with Glow's sigmoid scale (replearn: :class:`replearn.flow.Glow`
on vectors; normflows: ``ActNorm``, ``LULinearPermute``, ``AffineCouplingBlock(...,
scale_map="sigmoid")``, listed latent side first as normflows expects). Differences
that remain:
replearn's conditioner sees the masked 2-vector and outputs (log s, t) for both
coordinates (4612 parameters per coupling, the unused half masked out) where
normflows' sees the kept coordinate only (4418); replearn bounds the log-scale
(``alpha * tanh``, a learned alpha per coordinate) in Real NVP, normflows uses ``exp``
unbounded; replearn's LU map starts as a random rotation, normflows' as the identity.

1. **NLL** (per density, per seed): both trained by the same plain loop (Adam, lr 1e-3,
   batch 256, ``--steps`` updates on the same batches of 20,000 points drawn from the
   seed), then the mean NLL (nats) on 5,000 fresh test points. Reported: mean over
   seeds, standard error, and the paired difference replearn - normflows.
   Claim: replearn's NLL <= normflows' + 2 SE of the paired difference, on every density.
2. **Time per training step** (moons, one thread): each round runs 20 training steps
   (forward, NLL, backward, Adam step) of each side on the same batches, interleaved
   (``benchmarks/harness.py``). Claim: ratio of medians replearn / normflows <= 1.0.

Writes ``results/flow_<model>_nll.json|md`` and ``results/flow_<model>_step.json|md``.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from pathlib import Path

import torch

from harness import RESULTS_DIR, compare, machine_info, write_atomic
from replearn.data import toy2d
from replearn.flow import Glow, RealNVP

DATA = ("moons", "8gaussians", "rings", "checkerboard")
N_TRAIN, N_TEST, BATCH, LR, DEPTH, HIDDEN = 20000, 5000, 256, 1e-3, 8, 64
MODEL = "realnvp"  # set from --model


def make_normflows():
    """normflows' Real NVP of the same size (see the module docstring)."""
    import normflows as nf

    flows = []
    for _ in range(DEPTH):
        param_map = nf.nets.MLP([1, HIDDEN, HIDDEN, 2], init_zeros=True)
        if MODEL == "realnvp":
            flows += [nf.flows.AffineCouplingBlock(param_map), nf.flows.Permute(2, mode="swap")]
        else:  # latent side first: the data meets ActNorm, then the LU map, then the coupling
            coupling = nf.flows.AffineCouplingBlock(param_map, scale_map="sigmoid")
            flows += [coupling, nf.flows.LULinearPermute(2), nf.flows.ActNorm((2,))]
    return nf.NormalizingFlow(nf.distributions.base.DiagGaussian(2, trainable=False), flows)


class Side:
    """One contender: a model, its Adam, and its loss on a batch."""

    def __init__(self, name: str, seed: int) -> None:
        torch.manual_seed(seed)
        self.name = name
        if name == "replearn":
            if MODEL == "realnvp":
                self.model = RealNVP((2,), hidden=HIDDEN, n_couplings=DEPTH, n_hidden=2)
            else:
                self.model = Glow((2,), hidden=HIDDEN, n_steps=DEPTH, n_hidden=2)
            self.loss = lambda x: -self.model.log_prob(x).mean()
        else:
            self.model = make_normflows()
            self.loss = self.model.forward_kld
        self.opt = torch.optim.Adam(self.model.parameters(), lr=LR)

    def step(self, x: torch.Tensor) -> None:
        loss = self.loss(x)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()

    @torch.no_grad()
    def test_nll(self, x: torch.Tensor) -> float:
        return float(self.loss(x))


def batches(train: torch.Tensor, steps: int, seed: int) -> list[torch.Tensor]:
    """The same batch order for both sides."""
    gen = torch.Generator().manual_seed(seed)
    out: list[torch.Tensor] = []
    while len(out) < steps:
        perm = torch.randperm(len(train), generator=gen)
        out += [train[perm[i : i + BATCH]] for i in range(0, len(train) - BATCH + 1, BATCH)]
    return out[:steps]


def row_summary(ours: list[float], peer: list[float]) -> dict:
    """Means, the paired difference over the seeds where both are finite, and the verdict.

    A side whose test NLL is not finite (training diverged) on a seed loses that seed: the
    claim fails if replearn diverges on any seed; a peer divergence is reported and that
    seed is left out of the paired difference.
    """
    pairs = [(a, b) for a, b in zip(ours, peer, strict=True) if math.isfinite(a + b)]
    diffs = [a - b for a, b in pairs]
    n = len(diffs)
    mean = sum(diffs) / n if n else float("nan")
    se = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1) / n) if n > 1 else float("nan")
    finite = [a for a in ours if math.isfinite(a)]
    peer_finite = [b for b in peer if math.isfinite(b)]
    return {
        "replearn": ours,
        "normflows": peer,
        "replearn_mean": sum(finite) / max(len(finite), 1),
        "normflows_mean": sum(peer_finite) / max(len(peer_finite), 1),
        "replearn_diverged": len(ours) - len(finite),
        "normflows_diverged": len(peer) - len(peer_finite),
        "paired_seeds": n,
        "diff_mean": mean,
        "diff_se": se,
        "holds": bool(len(finite) == len(ours) and n > 1 and mean <= 2 * se),
    }


def nll_table(data: list[str], seeds: int, steps: int) -> dict:
    rows = {}
    for name in data:
        per = {"replearn": [], "normflows": []}
        for seed in range(seeds):
            gen = torch.Generator().manual_seed(seed)
            train = toy2d.sample(name, N_TRAIN, generator=gen)
            test = toy2d.sample(name, N_TEST, generator=torch.Generator().manual_seed(seed + 1000))
            order = batches(train, steps, seed)
            for side_name in per:
                side = Side(side_name, seed)
                for x in order:
                    side.step(x)
                per[side_name].append(side.test_nll(test))
            print(name, seed, {k: round(v[-1], 4) for k, v in per.items()}, flush=True)
        rows[name] = row_summary(per["replearn"], per["normflows"])
    return rows


def nll_name(data: list[str]) -> str:
    """``flow_<model>_nll`` for all densities, else with the densities appended."""
    base = f"flow_{MODEL}_nll"
    return base if sorted(data) == sorted(DATA) else "_".join([base, *data])


def merge(out: Path) -> None:
    """Gather the per-density results of parallel runs into ``flow_<model>_nll.*``."""
    rows, commands, doc = {}, [], {}
    for name in DATA:
        doc = json.loads((out / f"flow_{MODEL}_nll_{name}.json").read_text(encoding="utf-8"))
        rows.update(doc["rows"])
        commands.append(doc["command"])
    args = argparse.Namespace(data=list(DATA), **doc["settings"])
    write_nll(rows, args, out, command=" &\n".join(commands) + "\n# then: --merge")


def write_nll(rows: dict, args: argparse.Namespace, out: Path, command: str = "") -> None:
    command = command or shlex.join(["python", *sys.argv])
    name = nll_name(args.data)
    rows = {k: row_summary(r["replearn"], r["normflows"]) for k, r in rows.items()}
    doc = {
        "name": name,
        "command": command,
        "machine": machine_info(),
        "settings": {"seeds": args.seeds, "steps": args.steps},
        "rows": rows,
        "passed": all(r["holds"] for r in rows.values()),
    }
    write_atomic(out / f"{name}.json", json.dumps(doc, indent=2) + "\n")
    lines = [
        f"# Benchmark `{name}`",
        "",
        f"{doc['machine']['date']} · torch {doc['machine'].get('torch')} · git "
        f"{doc['machine']['git']} · {args.seeds} seeds x {args.steps} Adam steps (batch {BATCH}, "
        f"lr {LR}); test NLL in nats on {N_TEST} fresh points, mean over seeds.",
        "",
        "| density | replearn NLL | normflows NLL | replearn - normflows (SE, paired seeds) | "
        "diverged (NaN): normflows / replearn | claim: <= +2 SE |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for density, r in rows.items():
        lines.append(
            f"| {density} | {r['replearn_mean']:.4f} | {r['normflows_mean']:.4f} | "
            f"{r['diff_mean']:+.4f} ({r['diff_se']:.4f}, {r['paired_seeds']} seeds) | "
            f"{r['normflows_diverged']} / {r['replearn_diverged']} | "
            f"**{'holds' if r['holds'] else 'fails'}** |"
        )
    lines += [
        "",
        "NLL means are over the seeds whose training stayed finite; a seed where one side's "
        "test NLL is NaN (its training diverged) is left out of the paired difference and "
        "counted in the 'diverged' column. The claim fails if replearn diverges on any seed.",
        "",
        "Reproduce:",
        "",
        "```sh",
        command,
        "```",
        "",
    ]
    write_atomic(out / f"{name}.md", "\n".join(lines))


def time_steps(args: argparse.Namespace, out: Path) -> None:
    train = toy2d.sample("moons", N_TRAIN, generator=torch.Generator().manual_seed(0))
    order = batches(train, 20, 0)
    sides = {name: Side(name, 0) for name in ("replearn", "normflows")}

    def work(side: Side):
        return lambda: [side.step(x) for x in order]

    result = compare(
        f"flow_{MODEL}_step",
        {name: work(side) for name, side in sides.items()},
        rounds=args.rounds,
        warmup=3,
        baseline="normflows",
        threshold=1.0,
        command=shlex.join(["python", *sys.argv]),
        out_dir=out,
        notes=f"Each round: 20 training steps (forward, NLL, backward, Adam) of {MODEL} "
        "(8 couplings / Glow steps, MLP 64x2) on moons, batch 256, the same batches for both "
        "sides.",
        progress=print,
    )
    print(result.to_markdown())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="realnvp", choices=("realnvp", "glow"))
    parser.add_argument("--data", nargs="+", default=list(DATA), choices=DATA)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-nll", action="store_true")
    parser.add_argument("--skip-time", action="store_true")
    parser.add_argument("--merge", action="store_true", help="gather per-density results")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    global MODEL
    MODEL = args.model
    torch.set_num_threads(args.threads)
    if args.merge:
        merge(args.out)
        print((args.out / f"{nll_name(args.data)}.md").read_text())
        return
    if not args.skip_time:
        time_steps(args, args.out)
    if not args.skip_nll:
        rows = nll_table(args.data, args.seeds, args.steps)
        write_nll(rows, args, args.out)
        print((args.out / f"{nll_name(args.data)}.md").read_text())


if __name__ == "__main__":
    main()
