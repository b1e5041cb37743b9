"""The wall-clock budget of a run: training plus evaluation, never exceeded.

The loop asks :meth:`Budget.should_stop` before each update. It stops when the time
spent, plus the longest recent update, plus what the final evaluation and the final
checkpoint will cost (measured on the run's own evaluations and checkpoints) would pass
the budget. Under torchrun the ranks agree (the decision is all-reduced), so every
process stops at the same step. Time spent before a resume is carried in checkpoints.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist

from replearn.engine.distributed import DistInfo

SAFETY = 1.25
"""Factor on the measured cost of the final evaluation and of one update."""
MARGIN_FRACTION, MARGIN_S = 0.005, 0.02
"""Time kept free besides: 0.5% of the budget plus 20 ms (a busy machine's jitter)."""


def _agree(flag: bool, info: DistInfo) -> bool:
    """True on every rank when it is true on any rank."""
    if not info.enabled or not dist.is_initialized():
        return flag
    t = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


class Budget:
    """Elapsed time of a run against an optional limit (seconds)."""

    def __init__(self, limit_s: float | None) -> None:
        self.limit_s = limit_s
        self.before_s = 0.0  # time spent before the last resume
        self.t0: float | None = None
        self.stopped_s: float | None = None
        self.steps: deque[float] = deque(maxlen=20)
        self.eval_s = 0.0  # the most expensive evaluation so far
        self.checkpoint_s = 0.0
        self.next_eval_s = 0.0

    @property
    def limited(self) -> bool:
        """Whether a time limit is set."""
        return self.limit_s is not None

    def start(self) -> None:
        """Start (or continue after a resume) the clock."""
        self.t0 = time.perf_counter()
        self.stopped_s = None

    def stop(self) -> None:
        """Freeze :meth:`elapsed`."""
        self.stopped_s = self.elapsed()

    def elapsed(self) -> float:
        """Seconds spent, over every resume of the run."""
        if self.stopped_s is not None:
            return self.stopped_s
        if self.t0 is None:
            return self.before_s
        return self.before_s + time.perf_counter() - self.t0

    def fraction(self) -> float:
        """Fraction of the time limit spent (0 without a limit)."""
        return self.elapsed() / self.limit_s if self.limit_s else 0.0

    @contextlib.contextmanager
    def measure_step(self) -> Iterator[None]:
        """Time one update."""
        t = time.perf_counter()
        yield
        self.steps.append(time.perf_counter() - t)

    @contextlib.contextmanager
    def measure_evaluation(self) -> Iterator[None]:
        """Time one evaluation."""
        t = time.perf_counter()
        yield
        self.eval_s = max(self.eval_s, time.perf_counter() - t)

    def note_checkpoint(self, seconds: float) -> None:
        """Record what writing a checkpoint cost."""
        self.checkpoint_s = max(self.checkpoint_s, seconds)

    def should_stop(self, info: DistInfo, *, final_evaluation: bool) -> bool:
        """Whether one more update would leave too little time for the end of the run."""
        if self.limit_s is None:
            return False
        step = max(self.steps) if self.steps else 0.0
        reserve = SAFETY * (step + (self.eval_s if final_evaluation else 0.0))
        reserve += self.checkpoint_s + MARGIN_FRACTION * self.limit_s + MARGIN_S
        return _agree(self.elapsed() + reserve >= self.limit_s, info)

    def eval_due(self, every_s: float, info: DistInfo) -> bool:
        """True every ``every_s`` seconds of the run (0: never)."""
        if every_s <= 0:
            return False
        if self.next_eval_s == 0.0:
            self.next_eval_s = every_s
        due = _agree(self.elapsed() >= self.next_eval_s, info)
        if due:
            self.next_eval_s += every_s
        return due

    def state_dict(self) -> dict[str, Any]:
        return {
            "elapsed_s": self.elapsed(),
            "eval_s": self.eval_s,
            "checkpoint_s": self.checkpoint_s,
            "next_eval_s": self.next_eval_s,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.before_s = float(state["elapsed_s"])
        self.eval_s, self.checkpoint_s = float(state["eval_s"]), float(state["checkpoint_s"])
        self.next_eval_s = float(state["next_eval_s"])
        self.t0, self.stopped_s = None, None
