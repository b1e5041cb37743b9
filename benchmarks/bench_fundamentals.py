"""Engine overhead: the ``mlp`` experiment's training loop vs a hand-written PyTorch loop.

    REPLEARN_DATA=/work/shared/data python benchmarks/bench_fundamentals.py --rounds 21
    python benchmarks/bench_fundamentals.py --data digits            # no data files needed
    python benchmarks/bench_fundamentals.py --profile                # cProfile both sides once

Claim checked: the engine costs at most 5% over a plain loop doing the same work
(ratio of medians engine / hand-written <= 1.05), in the same process, interleaved
(see ``benchmarks/harness.py``).

Both sides, per round, from the same initial weights (a fresh ``MLP(784, (256, 256), 10)``
loaded with one saved ``state_dict``) and a fresh ``torch.optim.Adam(lr=1e-3)`` (the
experiment's optimizer), built untimed before the round; then, timed, ``S`` updates on the
same training tensors (Fashion-MNIST, 54,000 examples after the experiment's 10%
validation split, flattened to 784 floats in [0, 1]) with batch size 128:

* ``replearn`` -- what ``replearn run mlp`` does around training: a ``RunContext`` (seed 0,
  no progress bar) in a fresh temporary folder, ``ctx.logger.open()``,
  ``replearn.engine.fit(ClassificationTask(model), optimizer, data.train, cfg=..., ctx=ctx)``,
  ``ctx.logger.close()``. The engine config is the ``mlp`` experiment's default
  (``log_every=50, eval_every=250, checkpoint_every=500, keep_checkpoints=2``) except
  ``max_steps=S`` and ``progress=False``. So the engine also runs its NaN guard each step,
  accumulates the training loss and accuracy, writes a ``metrics.jsonl`` line every 50
  steps and writes a checkpoint (weights, Adam state, every RNG state) every 500 steps
  (and at the end if the last one is older). No validation set is passed, so
  ``eval_every`` does nothing (evaluation is model work, not loop overhead, and the plain
  loop does none either). The temporary folder is created and deleted untimed.
* ``torch-loop`` (the peer) -- per epoch ``torch.randperm`` (from a generator seeded as
  the engine seeds its own, so both see the same batches), then for each batch: index the
  tensors, forward, ``F.cross_entropy``, the batch accuracy from the detached logits,
  ``zero_grad(set_to_none=True)``, ``backward``, ``step``; it sums the detached loss and
  accuracy and every 50 steps turns the means into Python floats kept in a list (the
  engine's logging without the file). The last incomplete batch of an epoch is dropped,
  as in the engine. No NaN check, no checkpoint, no file.

Before timing, one untimed run of each checks that they do the same work: the final
weights and the last logged loss/accuracy must agree (they are bitwise equal on CPU);
the result is stored under ``extra`` in the JSON.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import dataclasses
import json
import os
import pstats
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from harness import RESULTS_DIR, BenchResult, Contender, compare
from replearn.data import ClassificationData, DataError, load_classification
from replearn.engine import ClassificationTask, EngineConfig, Loop, RunContext, fit
from replearn.experiments.fundamentals.mlp import MLPConfig, optimizer_for
from replearn.fundamentals.mlp import MLP

SEED = 0


def load_data(name: str) -> tuple[ClassificationData, str]:
    """The ``mlp`` experiment's training data; Fashion-MNIST falls back to digits if missing.

    Fashion-MNIST is read without downloading (``REPLEARN_OFFLINE=1`` while loading): it
    comes from ``$REPLEARN_DATA`` or the user cache, else the benchmark says so and uses the
    embedded 8x8 digits.
    """
    if name == "fashion-mnist":
        before = os.environ.get("REPLEARN_OFFLINE")
        os.environ["REPLEARN_OFFLINE"] = "1"
        try:
            return load_classification(name, val_fraction=0.1, seed=SEED, flatten=True), name
        except DataError as err:
            print(
                f"notice: Fashion-MNIST files not found ({err}); set REPLEARN_DATA to the folder "
                "holding fashion-mnist/. Falling back to the 8x8 digits.",
                file=sys.stderr,
            )
        finally:
            if before is None:
                del os.environ["REPLEARN_OFFLINE"]
            else:
                os.environ["REPLEARN_OFFLINE"] = before
    return load_classification("digits", val_fraction=0.1, seed=SEED, flatten=True), "digits"


def engine_config(steps: int) -> EngineConfig:
    """The ``mlp`` experiment's default engine settings with ``max_steps=steps``, no bar."""
    return dataclasses.replace(MLPConfig().engine, max_steps=steps, progress=False)


def hand_loop(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int,
    batch_size: int,
    log_every: int,
    seed: int = SEED,
) -> list[dict[str, float]]:
    """A plain PyTorch training loop doing the engine's work; returns the logged rows."""
    model.train()
    n = len(x)
    batches_per_epoch = n // batch_size  # drop the incomplete last batch, as the engine does
    rows: list[dict[str, float]] = []
    loss_sum = torch.zeros(())
    acc_sum = torch.zeros(())
    count = 0
    step = epoch = 0
    while step < steps:
        gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)  # the engine's seeding
        perm = torch.randperm(n, generator=gen)
        for b in range(batches_per_epoch):
            idx = perm[b * batch_size : (b + 1) * batch_size]
            xb, yb = x[idx], y[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            accuracy = (logits.detach().argmax(dim=-1) == yb).float().mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            loss_sum = loss_sum + loss.detach()
            acc_sum = acc_sum + accuracy
            count += 1
            if step % log_every == 0 or step == steps:
                rows.append(
                    {
                        "step": step,
                        "train_loss": float(loss_sum) / count,
                        "train_accuracy": float(acc_sum) / count,
                    }
                )
                loss_sum, acc_sum, count = torch.zeros(()), torch.zeros(()), 0
            if step >= steps:
                break
        epoch += 1
    return rows


@dataclass
class Workload:
    """Shared inputs of both contenders: data, initial weights, settings."""

    data: ClassificationData
    init_state: dict[str, torch.Tensor]
    steps: int
    cfg: EngineConfig

    def fresh(self) -> tuple[nn.Module, torch.optim.Optimizer]:
        """A model holding the initial weights and a new optimizer (the experiment's Adam)."""
        model = MLP(self.data.input_shape[0], (256, 256), self.data.num_classes)
        model.load_state_dict(self.init_state)
        return model, optimizer_for(MLPConfig(), model.parameters())


class EngineSide:
    """The ``replearn`` contender: runner-style context + ``fit`` in a temporary folder."""

    def __init__(self, work: Workload) -> None:
        self.work = work
        self.model: nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.tmp: Path | None = None

    def setup(self) -> None:
        """Untimed: fresh model, optimizer and run folder."""
        self.model, self.optimizer = self.work.fresh()
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-mlp-engine-"))

    def run(self) -> Loop:
        """Timed: what the runner and the ``mlp`` experiment do around training."""
        assert self.model is not None and self.optimizer is not None and self.tmp is not None
        ctx = RunContext(out=self.tmp, seed=SEED, progress=False)
        assert ctx.logger is not None
        ctx.logger.open()
        try:
            return fit(
                ClassificationTask(self.model),
                self.optimizer,
                self.work.data.train,
                cfg=self.work.cfg,
                ctx=ctx,
            )
        finally:
            ctx.logger.close()

    def teardown(self, _: object = None) -> None:
        """Untimed: delete the run folder."""
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


class TorchSide:
    """The peer: :func:`hand_loop` on the same tensors."""

    def __init__(self, work: Workload) -> None:
        self.work = work
        self.model: nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None

    def setup(self) -> None:
        """Untimed: fresh model and optimizer."""
        self.model, self.optimizer = self.work.fresh()

    def run(self) -> list[dict[str, float]]:
        """Timed: the hand-written loop."""
        assert self.model is not None and self.optimizer is not None
        x, y = self.work.data.train.tensors
        return hand_loop(
            self.model,
            self.optimizer,
            x,
            y,
            steps=self.work.steps,
            batch_size=self.work.cfg.batch_size,
            log_every=self.work.cfg.log_every,
        )


def check_same_work(work: Workload) -> dict[str, Any]:
    """Run both sides once (untimed) and compare final weights and the last logged metrics."""
    engine, peer = EngineSide(work), TorchSide(work)
    engine.setup()
    try:
        engine.run()
        assert engine.tmp is not None
        lines = (engine.tmp / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
        checkpoints = sorted(p.name for p in (engine.tmp / "checkpoints").glob("*.ckpt"))
    finally:
        engine.teardown()
    peer.setup()
    rows = peer.run()
    last_engine = json.loads(lines[-1])
    assert engine.model is not None and peer.model is not None
    max_diff = max(
        (a - b).abs().max().item()
        for a, b in zip(engine.model.parameters(), peer.model.parameters(), strict=True)
    )
    same_metrics = (
        last_engine["train_loss"] == rows[-1]["train_loss"]
        and last_engine["train_accuracy"] == rows[-1]["train_accuracy"]
    )
    check = {
        "max_abs_weight_diff": max_diff,
        "last_row_engine": last_engine,
        "last_row_torch_loop": rows[-1],
        "same_last_metrics": same_metrics,
        "metrics_lines_engine": len(lines),
        "log_rows_torch_loop": len(rows),
        "engine_checkpoints_kept": checkpoints,
    }
    if max_diff > 1e-6 or not same_metrics:
        raise RuntimeError(f"the two loops did not do the same work: {check}")
    return check


def profile(work: Workload, top: int = 30) -> None:
    """cProfile one run of each side and print the functions with the most own time."""
    for label, side in (("replearn engine", EngineSide(work)), ("torch loop", TorchSide(work))):
        side.setup()
        prof = cProfile.Profile()
        prof.enable()
        out = side.run()
        prof.disable()
        if isinstance(side, EngineSide):
            side.teardown(out)
        print(f"\n===== {label}: {work.steps} steps =====")
        pstats.Stats(prof).sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> BenchResult | None:
    """Parse arguments, check both loops agree, time them interleaved, write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=21, help="timed rounds (default 21)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first")
    parser.add_argument("--steps", type=int, default=500, help="updates per round (default 500)")
    parser.add_argument("--data", choices=("fashion-mnist", "digits"), default="fashion-mnist")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--threshold", type=float, default=1.05, help="max engine/peer ratio")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder")
    parser.add_argument("--profile", action="store_true", help="cProfile one run of each side")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be >= 1")
    command = shlex.join(["python", "benchmarks/bench_fundamentals.py", *(argv or sys.argv[1:])])
    if args.data == "fashion-mnist":
        command = f"REPLEARN_DATA={os.environ.get('REPLEARN_DATA', '/path/to/data')} {command}"

    torch.set_num_threads(args.threads)
    data, used = load_data(args.data)
    torch.manual_seed(SEED)
    init = MLP(data.input_shape[0], (256, 256), data.num_classes).state_dict()
    work = Workload(data, copy.deepcopy(init), args.steps, engine_config(args.steps))
    if args.profile:
        profile(work)
        return None
    check = check_same_work(work)
    print(f"same work: max |w_engine - w_loop| = {check['max_abs_weight_diff']:g}")
    engine, peer = EngineSide(work), TorchSide(work)
    name = "fundamentals_mlp" if used == "fashion-mnist" else "fundamentals_mlp_digits"
    notes = (
        f"Workload: the `mlp` experiment on {used} ({len(data.train)} training examples, "
        f"{data.input_shape[0]} inputs), MLP {data.input_shape[0]}-256-256-"
        f"{data.num_classes}, Adam lr 1e-3, batch {work.cfg.batch_size}, {args.steps} updates "
        "per round from the same initial weights.\n\n"
        "- `replearn`: RunContext + `ctx.logger.open()` + `replearn.engine.fit(...)` + "
        "`close()`, the experiment's default engine settings (log_every=50, eval_every=250 "
        "(no validation set: no evaluation), checkpoint_every=500, keep_checkpoints=2) except "
        f"max_steps={args.steps} and progress=False: NaN guard per step, running loss/accuracy, "
        "a metrics.jsonl line every 50 steps, checkpoints (weights, Adam state, RNG states) "
        "every 500 steps and at the end.\n"
        "- `torch-loop` (peer): per epoch `torch.randperm` (same seeding, so the same "
        "batches), index, forward, cross-entropy, batch accuracy, zero_grad, backward, step; "
        "loss/accuracy summed and turned into floats every 50 steps (kept in a list, no "
        "file); no NaN check, no checkpoint.\n\n"
        f"Same work checked before timing: final weights differ by at most "
        f"{check['max_abs_weight_diff']:g}, last logged loss/accuracy equal: "
        f"{check['same_last_metrics']}. Model, optimizer and temporary folder are built "
        "untimed before each call."
    )
    result = compare(
        name,
        {
            "replearn": Contender(engine.run, setup=engine.setup, teardown=engine.teardown),
            "torch-loop": Contender(peer.run, setup=peer.setup),
        },
        rounds=args.rounds,
        warmup=args.warmup,
        baseline="torch-loop",
        threshold=args.threshold,
        command=command,
        threads=args.threads,
        out_dir=args.out,
        notes=notes,
        extra={"data": used, "steps": args.steps, "same_work_check": check},
        progress=print,
    )
    print()
    print(result.to_markdown())
    return result


if __name__ == "__main__":
    main()
