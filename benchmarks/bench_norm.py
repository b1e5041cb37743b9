"""Benchmark: each ``replearn.norm`` layer's forward + backward against its ``torch.nn`` twin.

For every layer, three contenders run interleaved in the same process (the harness
shuffles their order each round): our **reference** path (explicit moments), our
**fast** path (``fast=True``: the fused kernel, see each layer's docstring) and the
**torch** module (baseline). One timed call is ``inner`` forward + backward passes
in training mode with a fixed upstream gradient. Before timing, the three outputs
are checked equal (float32, atol 1e-4) with the same weights.

Checked: the fast path of each layer calls torch's own fused kernel, so timing it against
torch is a **parity check**, not a race (``harness.judge_ratio(parity=True)``): parity when
the paired ratio's 95% interval lies inside 1/1.5-1.5, fails when it lies wholly outside,
inconclusive when it crosses a bound. Spectral norm has no fast path: its reference is
judged as a target (time ratio <= 1.5 with the whole interval below 1.5). The reference
path's ratio is reported, not judged: it is the readable version, several times slower
where torch has a fused kernel.

    python benchmarks/bench_norm.py                 # all layers, 21 rounds (~1-2 min)
    python benchmarks/bench_norm.py --layers groupnorm layernorm --rounds 11

Writes ``benchmarks/results/norm.json`` (every layer's harness result) and ``norm.md``.
"""

from __future__ import annotations

import argparse
import copy
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrizations

from harness import (
    RESULTS_DIR,
    BenchResult,
    Contender,
    compare,
    judge_ratio,
    load_statement,
    machine_info,
    write_atomic,
)
from replearn import norm

THRESHOLD = 1.5
"""Tolerance of the parity check (fast / torch within 1/1.5-1.5) and spectral norm's target."""


def verdict(r: BenchResult) -> str:
    """The fast path's parity verdict, or (no fast path) the reference's target verdict."""
    if "fast" in r.paired_ratio_ci95:
        return judge_ratio(r.paired_ratio_ci95["fast"], THRESHOLD, parity=True)
    return judge_ratio(r.paired_ratio_ci95["reference"], THRESHOLD)


Factory = Callable[[bool | None], nn.Module]  # fast flag (None: torch's module) -> module


def _norm_layers() -> dict[str, tuple[Factory, tuple[int, ...]]]:
    """Layer name -> (module factory, input shape)."""
    img = (32, 64, 16, 16)

    def pick(ours: Callable[..., nn.Module], theirs: Callable[..., nn.Module]) -> Factory:
        return lambda fast: theirs() if fast is None else ours(fast=fast)

    return {
        "batchnorm1d": (pick(lambda fast: norm.BatchNorm1d(512, fast=fast),
                             lambda: nn.BatchNorm1d(512)), (256, 512)),
        "batchnorm2d": (pick(lambda fast: norm.BatchNorm2d(64, fast=fast),
                             lambda: nn.BatchNorm2d(64)), img),
        "layernorm": (pick(lambda fast: norm.LayerNorm(256, fast=fast),
                           lambda: nn.LayerNorm(256)), (64, 64, 256)),
        "rmsnorm": (pick(lambda fast: norm.RMSNorm(256, fast=fast),
                         lambda: nn.RMSNorm(256)), (64, 64, 256)),
        "instancenorm2d": (pick(lambda fast: norm.InstanceNorm2d(64, affine=True, fast=fast),
                                lambda: nn.InstanceNorm2d(64, affine=True)), img),
        "groupnorm": (pick(lambda fast: norm.GroupNorm(8, 64, fast=fast),
                           lambda: nn.GroupNorm(8, 64)), img),
    }  # fmt: skip


def _weight_layers() -> dict[str, tuple[Factory, tuple[int, ...]]]:
    """Weight reparametrizations of one Linear(512, 512) (same initial weights)."""
    torch.manual_seed(0)
    base = nn.Linear(512, 512)

    def wn(fast: bool | None) -> nn.Module:
        m = copy.deepcopy(base)
        return parametrizations.weight_norm(m) if fast is None else norm.weight_norm(m, fast=fast)

    def sn(fast: bool | None) -> nn.Module:
        torch.manual_seed(1)  # same u, v draws for torch's and ours
        m = copy.deepcopy(base)
        return parametrizations.spectral_norm(m) if fast is None else norm.spectral_norm(m)

    return {"weight_norm": (wn, (256, 512)), "spectral_norm": (sn, (256, 512))}


class Side:
    """One contender: a module, its input and upstream gradient; ``run`` is the timed work."""

    def __init__(self, module: nn.Module, x: torch.Tensor, grad: torch.Tensor, inner: int) -> None:
        self.module, self.x, self.grad, self.inner = module.train(), x, grad, inner

    def setup(self) -> None:
        """Untimed: drop the gradients of the previous call."""
        self.module.zero_grad(set_to_none=True)
        self.x.grad = None

    def run(self) -> None:
        """Timed: ``inner`` forward + backward passes."""
        for _ in range(self.inner):
            self.module(self.x).backward(self.grad)


def check_same(modules: dict[str, nn.Module], x: torch.Tensor) -> float:
    """Largest |output - torch's output| over the contenders (on copies, in training mode)."""
    outs = {k: copy.deepcopy(m).train()(x).detach() for k, m in modules.items()}
    diff = max(float((outs[k] - outs["torch"]).abs().max()) for k in outs)
    if diff > 1e-4:
        raise RuntimeError(f"the contenders do not compute the same function: max diff {diff}")
    return diff


def bench_layer(
    name: str, factory: Factory, shape: tuple[int, ...], args: argparse.Namespace
) -> BenchResult:
    """Time reference / fast / torch for one layer (results not written separately)."""
    torch.manual_seed(0)
    x = torch.randn(shape, requires_grad=True)
    modules = {"reference": factory(False), "fast": factory(True), "torch": factory(None)}
    if name == "spectral_norm":  # no fast path: the reference already calls torch's kernels
        modules.pop("fast")
    for m in modules.values():  # same affine parameters everywhere
        m.load_state_dict(modules["torch"].state_dict())
    diff = check_same(modules, x.detach())
    grad = torch.randn_like(modules["torch"](x))
    sides = {k: Side(m, x, grad, args.inner) for k, m in modules.items()}
    return compare(
        f"norm_{name}",
        {k: Contender(s.run, setup=s.setup) for k, s in sides.items()},
        rounds=args.rounds,
        warmup=args.warmup,
        baseline="torch",
        threads=args.threads,
        out_dir=None,
        extra={"shape": list(shape), "inner": args.inner, "max_abs_output_diff": diff},
    )


def markdown(results: dict[str, BenchResult], command: str, machine: dict[str, Any]) -> str:
    """One table over the layers: ratios against torch and the verdict of the fast path."""
    r0 = next(iter(results.values()))
    lines = [
        "# Benchmark `norm`: replearn.norm layers vs torch.nn (forward + backward)",
        "",
        f"{machine['date']} · {machine['platform']} · {machine['cpu_count']} CPUs · torch "
        f"{machine.get('torch')} · torch threads {r0.threads} · git "
        f"{machine['git']} · load average (1 min) {machine['load_average'][0]:.2f}",
        "",
        load_statement(
            {**machine, "load_average_start": r0.machine.get("load_average_start")}, r0.threads
        )[1],
        "",
        f"{r0.rounds} timed rounds after {r0.warmup} warm-up rounds, contenders in a shuffled "
        f"order each round; one timed call = {r0.extra['inner']} forward + backward passes in "
        "training mode. Ratios divide by `torch` (the torch.nn module); paired ratio = median "
        "of the per-round ratios (95% CI from order statistics). The fast path runs torch's own "
        "kernel: a parity check, not a win: **parity** when the paired ratio's 95% interval "
        f"lies inside {1 / THRESHOLD:.3g}–{THRESHOLD:g}, fails wholly outside, inconclusive "
        "across a bound. Spectral norm (no fast path): target reference / torch <= "
        f"{THRESHOLD:g}, holds when the whole interval lies below it (one run, not retried).",
        "",
        "| layer | input | torch median ms | reference / torch | fast / torch | "
        "fast paired ratio (95% CI) | fast verdict |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, r in results.items():
        ref = f"{r.ratio_of_medians['reference']:.2f}"
        if "fast" in r.ratio_of_medians:
            ci = r.paired_ratio_ci95["fast"]
            ci_text = f" ({ci[0]:.2f}–{ci[1]:.2f})" if ci else ""
            fast = f"{r.ratio_of_medians['fast']:.2f} | {r.paired_ratio['fast']:.2f}{ci_text}"
            text = f"**{verdict(r)}**"
        else:  # no fast path: the reference is what the layer runs, so it is judged
            ci = r.paired_ratio_ci95["reference"]
            ci_text = f" ({ci[0]:.2f}–{ci[1]:.2f})" if ci else ""
            fast = f"- (none) | reference {r.paired_ratio['reference']:.2f}{ci_text}"
            text = f"reference **{verdict(r)}**"
        shape = "x".join(map(str, r.extra["shape"]))
        lines.append(
            f"| {name} | {shape} | {1e3 * r.stats['torch'].median / r.extra['inner']:.3f} | "
            f"{ref} | {fast} | {text} |"
        )
    lines += [
        "",
        "Fast paths: BatchNorm `F.batch_norm`, LayerNorm `F.layer_norm`, RMSNorm `F.rms_norm`, "
        "InstanceNorm `F.instance_norm`, GroupNorm `F.group_norm`, weight norm "
        "`torch._weight_norm`; spectral norm has none (power iteration is two mat-vecs). "
        "torch median ms is per forward + backward pass.",
        "",
        "Reproduce:",
        "",
        "```sh",
        command,
        "```",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, BenchResult]:
    """Parse arguments, time every layer, write ``norm.json`` and ``norm.md``."""
    layers = {**_norm_layers(), **_weight_layers()}
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", nargs="+", choices=sorted(layers), default=list(layers))
    parser.add_argument("--rounds", type=int, default=21, help="timed rounds (default 21)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first")
    parser.add_argument("--inner", type=int, default=10, help="passes per timed call")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "benchmarks/bench_norm.py", *(argv or sys.argv[1:])])
    results: dict[str, BenchResult] = {}
    for name in args.layers:
        factory, shape = layers[name]
        results[name] = r = bench_layer(name, factory, shape, args)
        fast = r.ratio_of_medians.get("fast", float("nan"))
        print(f"{name:>15}: reference/torch {r.ratio_of_medians['reference']:.2f}, "
              f"fast/torch {fast:.2f}")  # fmt: skip
    machine = machine_info()
    passed = all(verdict(r) in ("parity", "holds") for r in results.values())
    payload = {
        "name": "norm",
        "command": command,
        "machine": machine,
        "threshold": THRESHOLD,
        "check": "parity of the fast path; spectral norm's reference: target",
        "verdicts": {k: verdict(r) for k, r in results.items()},
        "passed": passed,
        "layers": {k: r.to_dict() for k, r in results.items()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out / "norm.json", json.dumps(payload, indent=2) + "\n")
    write_atomic(args.out / "norm.md", markdown(results, command, machine))
    print((args.out / "norm.md").read_text(encoding="utf-8"))
    return results


if __name__ == "__main__":
    main()
