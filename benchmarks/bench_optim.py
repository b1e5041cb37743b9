"""Optimizer step time: replearn's foreach path vs torch.optim (foreach=True) and pytorch-optimizer.

    python benchmarks/bench_optim.py                     # all pairs, 31 rounds each
    python benchmarks/bench_optim.py --only adam,adabound --rounds 11

Claims checked (ratio of medians, replearn / peer, in the same process, interleaved; see
``benchmarks/harness.py``):

* for each of SGD, SGD + momentum, SGD + Nesterov, Adagrad, RMSprop, Adam, AdamW and
  AMSGrad: replearn with ``foreach=True`` takes at most 1.10x the time of the matching
  ``torch.optim`` optimizer with ``foreach=True``;
* AdaBound: replearn (``foreach=True``) takes at most 0.5x the time of
  ``pytorch_optimizer.AdaBound`` (its default, foreach, path).

Workload: a stack of ten ``nn.Linear(1024, 1024)`` (10,496,000 float32 parameters in 20
tensors). Gradients are drawn once (seeded, N(0, 0.01^2)). Each contender owns a copy of the
same initial weights and optimizer; before every timed call its gradients are reset to the
drawn values (untimed: torch's foreach Nesterov adds the momentum into ``p.grad`` in place).
A timed call is one ``optimizer.step()``; the optimizer state already exists (built in the
untimed correctness check and warm-up rounds). Hyperparameters: torch defaults except
``lr=1e-3``, momentum 0.9, AdamW's decay 1e-2; AdaBound ``lr=1e-3, final_lr=0.1``.

Before timing, both sides take 3 steps from the same weights and gradients; the largest
parameter difference is stored under ``extra`` (float32: expect ~1e-7; AdaBound vs
pytorch-optimizer differs by its 1e-15 under the square root).

Results: ``benchmarks/results/optim_<pair>.{json,md}`` per pair and a summary
``benchmarks/results/optim.md``.
"""

from __future__ import annotations

import argparse
import copy
import gc
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

import replearn.optim as ro
from harness import RESULTS_DIR, BenchResult, Contender, compare, write_atomic

SEED = 0
LR = 1e-3


@dataclass(frozen=True)
class Pair:
    """replearn's optimizer and its peer on the same workload."""

    ours: Callable[[list[nn.Parameter]], torch.optim.Optimizer]
    peer: Callable[[list[nn.Parameter]], torch.optim.Optimizer]
    peer_name: str
    threshold: float


def _adabound_peer(params: list[nn.Parameter]) -> torch.optim.Optimizer:
    from pytorch_optimizer import AdaBound

    return AdaBound(params, lr=LR, final_lr=0.1)


TO = torch.optim
PAIRS: dict[str, Pair] = {
    "sgd": Pair(
        lambda p: ro.SGD(p, lr=LR, foreach=True),
        lambda p: TO.SGD(p, lr=LR, foreach=True),
        "torch.optim.SGD",
        1.10,
    ),
    "sgd_momentum": Pair(
        lambda p: ro.SGD(p, lr=LR, momentum=0.9, foreach=True),
        lambda p: TO.SGD(p, lr=LR, momentum=0.9, foreach=True),
        "torch.optim.SGD(momentum=0.9)",
        1.10,
    ),
    "sgd_nesterov": Pair(
        lambda p: ro.SGD(p, lr=LR, momentum=0.9, nesterov=True, foreach=True),
        lambda p: TO.SGD(p, lr=LR, momentum=0.9, nesterov=True, foreach=True),
        "torch.optim.SGD(nesterov=True)",
        1.10,
    ),
    "adagrad": Pair(
        lambda p: ro.Adagrad(p, lr=LR, foreach=True),
        lambda p: TO.Adagrad(p, lr=LR, foreach=True),
        "torch.optim.Adagrad",
        1.10,
    ),
    "rmsprop": Pair(
        lambda p: ro.RMSprop(p, lr=LR, foreach=True),
        lambda p: TO.RMSprop(p, lr=LR, foreach=True),
        "torch.optim.RMSprop",
        1.10,
    ),
    "adam": Pair(
        lambda p: ro.Adam(p, lr=LR, foreach=True),
        lambda p: TO.Adam(p, lr=LR, foreach=True),
        "torch.optim.Adam",
        1.10,
    ),
    "adamw": Pair(
        lambda p: ro.AdamW(p, lr=LR, foreach=True),
        lambda p: TO.AdamW(p, lr=LR, foreach=True),
        "torch.optim.AdamW",
        1.10,
    ),
    "amsgrad": Pair(
        lambda p: ro.AMSGrad(p, lr=LR, foreach=True),
        lambda p: TO.Adam(p, lr=LR, amsgrad=True, foreach=True),
        "torch.optim.Adam(amsgrad=True)",
        1.10,
    ),
    "adabound": Pair(
        lambda p: ro.AdaBound(p, lr=LR, final_lr=0.1, foreach=True),
        _adabound_peer,
        "pytorch_optimizer.AdaBound",
        0.5,
    ),
}


class Side:
    """One contender: its own copy of the weights, gradients reset before every step."""

    def __init__(self, model: nn.Module, grads: list[torch.Tensor], make: Callable) -> None:
        self.model = copy.deepcopy(model)
        self.params = list(self.model.parameters())
        self.grads = grads
        for p, g in zip(self.params, grads, strict=True):
            p.grad = g.clone()
        self.optimizer = make(self.params)

    def reset_grads(self) -> None:
        """Untimed: put the drawn gradients back."""
        torch._foreach_copy_([p.grad for p in self.params], self.grads)

    def step(self) -> None:
        """Timed: one optimizer step."""
        self.optimizer.step()


def workload() -> tuple[nn.Module, list[torch.Tensor]]:
    """Ten Linear(1024, 1024) layers and one gradient draw per parameter."""
    torch.manual_seed(SEED)
    model = nn.Sequential(*[nn.Linear(1024, 1024) for _ in range(10)])
    gen = torch.Generator().manual_seed(SEED + 1)
    grads = [0.01 * torch.randn(p.shape, generator=gen) for p in model.parameters()]
    return model, grads


def check(ours: Side, peer: Side, steps: int = 3) -> float:
    """Both sides take ``steps`` steps; the largest difference of their parameters."""
    for _ in range(steps):
        for side in (ours, peer):
            side.reset_grads()
            side.step()
    with torch.no_grad():
        return max(
            (a - b).abs().max().item() for a, b in zip(ours.params, peer.params, strict=True)
        )


def bench_pair(key: str, pair: Pair, args: argparse.Namespace, command: str) -> BenchResult:
    """Time one pair and write ``optim_<key>.{json,md}``."""
    model, grads = workload()
    n = sum(p.numel() for p in model.parameters())
    ours, peer = Side(model, grads, pair.ours), Side(model, grads, pair.peer)
    diff = check(ours, peer)
    print(f"{key}: max |theta_replearn - theta_peer| after 3 steps = {diff:.3g}")
    notes = (
        f"Workload: one `optimizer.step()` on ten `nn.Linear(1024, 1024)` ({n:,} float32 "
        f"parameters in {len(grads)} tensors), gradients reset (untimed) before each step.\n\n"
        f"- `replearn`: `{type(ours.optimizer).__module__}.{type(ours.optimizer).__name__}` "
        "with `foreach=True`.\n"
        f"- `peer`: `{pair.peer_name}`"
        + (" with `foreach=True`." if key != "adabound" else " (its default path).")
        + f"\n\nSame work checked first: after 3 steps from the same weights and gradients "
        f"the parameters differ by at most {diff:.3g}."
    )
    result = compare(
        f"optim_{key}",
        {
            "replearn": Contender(ours.step, setup=ours.reset_grads),
            "peer": Contender(peer.step, setup=peer.reset_grads),
        },
        rounds=args.rounds,
        warmup=args.warmup,
        baseline="peer",
        threshold=pair.threshold,
        command=command,
        threads=args.threads,
        out_dir=args.out,
        notes=notes,
        extra={"pair": key, "peer": pair.peer_name, "parameters": n, "max_abs_diff": diff},
    )
    del ours, peer, model, grads
    gc.collect()
    return result


def summary(results: dict[str, BenchResult], command: str) -> str:
    """A markdown table of every pair's ratio and verdict."""
    first = next(iter(results.values()))
    m = first.machine
    lines = [
        "# Benchmark `optim`: optimizer step, replearn (foreach) vs its peer",
        "",
        f"{m.get('date')} · {m.get('platform')} · {m.get('cpu_count')} CPUs · torch "
        f"{m.get('torch')} · torch threads {first.threads} · git {m.get('git')}; "
        f"{first.rounds} timed rounds after {first.warmup} warm-up rounds per pair, "
        "interleaved. Details per pair in `optim_<pair>.md`.",
        "",
        "| pair | peer | replearn median ms | peer median ms | ratio of medians | "
        "paired ratio (95% CI) | threshold | verdict |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for key, r in results.items():
        ci = r.paired_ratio_ci95.get("replearn")
        ci_text = f" ({ci[0]:.3f}–{ci[1]:.3f})" if ci else ""
        lines.append(
            f"| {key} | {r.extra['peer']} | {r.stats['replearn'].median * 1e3:.2f} | "
            f"{r.stats['peer'].median * 1e3:.2f} | {r.ratio_of_medians['replearn']:.3f} | "
            f"{r.paired_ratio['replearn']:.3f}{ci_text} | ≤ {r.threshold:g} | "
            f"**{r.verdicts['replearn']}** |"
        )
    lines += ["", "Reproduce:", "", "```sh", command, "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, BenchResult]:
    """Parse arguments, time every pair, write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=31, help="timed rounds per pair")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--only", default="", help="comma-separated pairs (default: all)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder")
    args = parser.parse_args(argv)
    keys = [k for k in args.only.split(",") if k] or list(PAIRS)
    unknown = set(keys) - set(PAIRS)
    if unknown:
        parser.error(f"unknown pairs {sorted(unknown)}; choose from {', '.join(PAIRS)}")
    command = shlex.join(["python", "benchmarks/bench_optim.py", *(argv or sys.argv[1:])])
    results = {k: bench_pair(k, PAIRS[k], args, command) for k in keys}
    text = summary(results, command)
    if len(keys) == len(PAIRS):
        write_atomic(Path(args.out) / "optim.md", text)
    print(text)
    return results


if __name__ == "__main__":
    main()
