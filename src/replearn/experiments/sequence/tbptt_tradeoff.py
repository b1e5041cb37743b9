"""Experiment ``tbptt-tradeoff``: truncated BPTT trades memory and time for reach.

Truncated backpropagation through time (Williams & Peng 1990; Sutskever 2013, PhD
thesis, Sec. 2.8): a long stream is cut into windows of ``k`` steps; the recurrent
state is carried from one window to the next but the graph is cut at the boundary,
so one update keeps ``O(k)`` activations and costs ``O(k)`` time, and no gradient
connects a loss to an input more than ``k - 1`` steps earlier.

Task (generated here, :func:`echo_stream`): a stream of uniform random symbols
``x_t`` from ``num_symbols``; the output at step ``t`` must be ``x_{t-d}`` (delayed
echo with lag ``d``). For each ``k`` in ``truncations`` and each ``d`` in ``lags`` a
GRU is trained with :class:`~replearn.engine.bptt.TruncatedBPTTTask` (``k1 = k2 = k``)
for one pass over the same number of tokens (so smaller ``k`` makes more, shorter
updates), then scored on a fresh stream with the state carried throughout: the
accuracy (chance ``1 / num_symbols``).

With ``joint_heads`` one GRU per ``k`` has an output head for every lag. Measured
(seed 0, lags 1, 3, 6, 12 and k = 2, 4, 8, 16, under load): lags *beyond* the window
were then learned too (k=2: lag 3 at 0.998, lag 6 at 0.81; k=4: lag 6 at 0.999; k=8:
lag 12 at 0.992; lag 12 stayed near chance, 0.41 and 0.31, for k = 2 and 4). The
short-lag heads make the state hold recent symbols, and a one-step gradient through
the carried state is enough to teach the recurrence to keep what is already there,
so information travels further than gradients do. One model per lag (the default)
is the clean test of the truncation limit.

Inside a window of ``k`` steps the loss at step ``t`` reaches inputs back to the
window's start, so lag ``d`` has a gradient path only when ``d < k`` (then ``k - d``
of the ``k`` positions see it). Cost (:func:`measure_costs`, a function of the config
alone, after training): for each ``k`` a fresh model runs the training update itself
(the TBPTT task's window, backward, clipping, Adam step) on the training stream; the
bytes autograd saves for the backward pass of one update
(:class:`~replearn.experiments.sequence.rnn_common.SavedTensorBytes`, exact) and its
wall time in ``timing_rounds`` paired rounds that run every ``k`` once, the order
reversing from round to round (:func:`~replearn.experiments.stats.time_rounds`). The
claim "the time grows with k" holds when, for each pair of adjacent ``k``, the 95%
interval of the median paired ratio t(k') / t(k) lies above 1
(:func:`~replearn.experiments.stats.time_ratio`).

Writes ``tbptt_accuracy.png`` (accuracy per lag and truncation) and ``tbptt_cost.png``.

replearn run tbptt-tradeoff                 # 9 min on 2 heavily loaded cores
replearn run tbptt-tradeoff --preset quick
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import Tensor

from replearn.engine import EngineConfig, RunContext, fit
from replearn.engine.bptt import TruncatedBPTTTask
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.sequence.rnn_common import (
    SavedTensorBytes,
    SequenceModel,
    StepTimer,
    single_thread,
)
from replearn.experiments.stats import TimeRatio, time_ratio, time_rounds
from replearn.report.plots import CURVE_FIGSIZE, DPI, save_figure


@dataclass(frozen=True)
class Config:
    """Settings of the truncated-BPTT trade-off.

    Attributes:
        lags: echo delays ``d`` (one output head each).
        truncations: window lengths ``k`` compared.
        num_symbols: alphabet of the stream (chance accuracy ``1 / num_symbols``).
        hidden_size: GRU state size.
        embed_size: symbol embedding width.
        batch_size: parallel streams.
        train_tokens: tokens per stream seen in training, the same for every ``k``.
        test_tokens: tokens per stream of the test stream.
        lr: Adam learning rate (gradient norm clipped at 1).
        learned_accuracy: a lag counts as learned at or above this test accuracy.
        chance_margin: a lag counts as not learned below chance + this margin.
        joint_heads: one model with a head per lag for each ``k`` (else one model per lag).
        timing_rounds: paired rounds of the update-time measurement (every ``k`` once per
            round, after two warm-up rounds); a 95% interval needs >= 6.
    """

    lags: tuple[int, ...] = (3, 6, 12)
    truncations: tuple[int, ...] = (4, 8, 16)
    num_symbols: int = 4
    hidden_size: int = 64
    embed_size: int = 16
    batch_size: int = 32
    train_tokens: int = 12_800
    test_tokens: int = 1000
    lr: float = 3e-3
    learned_accuracy: float = 0.9
    chance_margin: float = 0.15
    joint_heads: bool = False
    timing_rounds: int = 50

    def __post_init__(self) -> None:
        if not self.lags or min(self.lags) < 1:
            raise ValueError(f"lags must be >= 1, got {self.lags}")
        if not self.truncations or min(self.truncations) < 1:
            raise ValueError(f"truncations must be >= 1, got {self.truncations}")
        if self.train_tokens < max(self.truncations) or self.test_tokens <= max(self.lags):
            raise ValueError("train_tokens must cover a window and test_tokens the longest lag")
        if self.num_symbols < 2:
            raise ValueError(f"num_symbols must be >= 2, got {self.num_symbols}")


def tiny() -> Config:
    """Seconds: two lags, two truncations, few tokens."""
    return Config(lags=(1, 3), truncations=(2, 4), hidden_size=16, train_tokens=200, test_tokens=50,
                  timing_rounds=3)  # fmt: skip


def quick() -> Config:
    """Seconds: lags 3 and 6, truncations 4 and 8, 800 tokens (a smoke check)."""
    return Config(
        lags=(3, 6), truncations=(4, 8), train_tokens=800, test_tokens=300, timing_rounds=10
    )


def echo_stream(
    batch: int, length: int, num_symbols: int, lags: tuple[int, ...], generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Random symbols and their delayed copies: ``y[:, t, j] = x[:, t - lags[j]]``.

    Targets before the start of the stream (``t < lags[j]``) are ``-100`` (ignored).

    Shape:
        -> x (batch, length) int64, y (batch, length, len(lags)) int64.
    """
    x = torch.randint(0, num_symbols, (batch, length), generator=generator)  # (B, L)
    y = torch.full((batch, length, len(lags)), -100, dtype=torch.int64)
    for j, d in enumerate(lags):
        y[:, d:, j] = x[:, : length - d]
    return x, y


def echo_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy summed over the heads, averaged over the answered positions.

    A window with no answered position (every lag longer than the steps read so far) gives
    0, not the 0/0 of a mean over nothing.

    Shape:
        logits: (B, T, D, K); y: (B, T, D) -> scalar.
    """
    target = y.flatten()
    answered = (target != -100).sum().clamp(min=1)
    total = F.cross_entropy(logits.flatten(0, 2), target, ignore_index=-100, reduction="sum")
    return total / answered * y.shape[-1]


class _MeasuredTBPTT(TruncatedBPTTTask):
    """The TBPTT task, also recording the bytes autograd saves in each update's forward."""

    saved_bytes = 0

    def training_step(self, batch: Any = None) -> tuple[Tensor, dict[str, Tensor]]:
        with SavedTensorBytes() as counter:
            out = super().training_step(batch)
        self.saved_bytes = max(self.saved_bytes, counter.bytes)
        return out


def tbptt_task(
    cfg: Config, k: int, lags: tuple[int, ...], seed: int
) -> tuple[_MeasuredTBPTT, torch.optim.Adam]:
    """A fresh GRU with heads for ``lags`` (weights seeded by ``seed``, the same for every
    ``k``), its TBPTT task with windows of ``k`` over the training stream, and its Adam."""
    gen = torch.Generator().manual_seed(seed)
    x, y = echo_stream(cfg.batch_size, cfg.train_tokens, cfg.num_symbols, lags, gen)
    torch.manual_seed(seed)  # the same initial weights for every k
    model = SequenceModel(
        "gru",
        input_size=cfg.embed_size,
        hidden_size=cfg.hidden_size,
        output_size=len(lags) * cfg.num_symbols,
        vocab_size=cfg.num_symbols,
        batch_first=False,  # time-major, as the engine's TBPTT task reads streams
    )

    def loss_fn(outputs: Tensor, targets: Tensor) -> Tensor:
        return echo_loss(outputs.unflatten(-1, (len(lags), cfg.num_symbols)), targets)

    task = _MeasuredTBPTT(model, x.T, y.transpose(0, 1), k1=k, loss_fn=loss_fn)
    return task, torch.optim.Adam(model.parameters(), lr=cfg.lr)


def train_truncated(
    cfg: Config, k: int, lags: tuple[int, ...], seed: int, ctx: RunContext
) -> dict[str, Any]:
    """Train one GRU with heads for ``lags`` with truncation ``k`` for one pass over the stream,
    through the engine in a child run; accuracy and costs."""
    task, opt = tbptt_task(cfg, k, lags, seed)
    model = task.model
    engine = EngineConfig(max_steps=task.updates_per_pass, batch_size=1, log_every=1,
                          checkpoint_every=0, grad_clip_norm=1.0, progress=False)  # fmt: skip
    timer = StepTimer()
    with ctx.child(f"k{k}-lags{'-'.join(map(str, lags))}", seed=seed) as sub:
        loop = fit(task, opt, None, cfg=engine, ctx=sub, callbacks=[timer])
    losses = [r["train_loss"] for r in loop.history if "train_loss" in r]
    return {
        "accuracy": lag_accuracy(model, cfg, lags, seed + 1),
        "saved_bytes": task.saved_bytes,
        "train_saved_bytes": task.saved_bytes,
        "train_update_ms": 1e3 * statistics.median(timer.times),
        "updates": loop.step,
        "final_loss": statistics.mean(losses[-max(len(losses) // 10, 1) :]),
    }


@torch.no_grad()
def lag_accuracy(
    model: SequenceModel, cfg: Config, lags: tuple[int, ...], seed: int
) -> list[float]:
    """Per-lag accuracy on a fresh stream, state carried from its start."""
    gen = torch.Generator().manual_seed(seed)
    x, y = echo_stream(cfg.batch_size, cfg.test_tokens, cfg.num_symbols, lags, gen)
    logits, _ = model(x.T.to(next(model.parameters()).device))  # (T, B, D * K)
    pred = logits.transpose(0, 1).unflatten(-1, (len(lags), cfg.num_symbols)).argmax(-1).cpu()
    keep = slice(max(lags), None)
    return (pred[:, keep] == y[:, keep]).float().mean(dim=(0, 1)).tolist()


def measure_costs(cfg: Config, seed: int) -> dict[str, Any]:
    """Saved bytes and paired update times per ``k`` (a function of the config alone).

    For each ``k`` a fresh model (the same initial weights, the heads of the trained models:
    every lag if ``joint_heads``, else one) and its TBPTT task on the training stream; one
    update is what the engine runs: the task's window forward, backward, gradient clipping at
    1, Adam step. :func:`~replearn.experiments.stats.time_rounds` runs every ``k``'s update
    once per round, in alternating order.

    Returns:
        ``k{k}_saved_bytes`` (the most bytes autograd saved in one update), ``k{k}_update_ms``
        (median), ``time_ratios``: :class:`~replearn.experiments.stats.TimeRatio` dicts of each
        adjacent pair ``t(k') / t(k)``, ``timing_rounds``.
    """
    lags = cfg.lags if cfg.joint_heads else cfg.lags[:1]
    tasks = {k: tbptt_task(cfg, k, lags, seed) for k in cfg.truncations}

    def update(k: int) -> None:
        task, opt = tasks[k]
        loss, _ = task.training_step()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(task.parameters(), 1.0)
        opt.step()

    times = time_rounds({f"k={k}": lambda k=k: update(k) for k in cfg.truncations},
                        cfg.timing_rounds)  # fmt: skip
    out: dict[str, Any] = {"timing_rounds": cfg.timing_rounds}
    for k in cfg.truncations:
        out[f"k{k}_saved_bytes"] = tasks[k][0].saved_bytes
        out[f"k{k}_update_ms"] = 1e3 * statistics.median(times[f"k={k}"])
    out["time_ratios"] = [
        time_ratio(times, f"k={b}", f"k={a}").as_dict() for a, b in pairwise(cfg.truncations)
    ]
    return out


def train_all(cfg: Config, k: int, seed: int, ctx: RunContext) -> dict[str, Any]:
    """Truncation ``k``: one model per lag (or one with every head if ``joint_heads``)."""
    if cfg.joint_heads:
        return train_truncated(cfg, k, cfg.lags, seed, ctx)
    runs = [train_truncated(cfg, k, (d,), seed, ctx) for d in cfg.lags]
    return {
        "accuracy": [r["accuracy"][0] for r in runs],
        "train_saved_bytes": max(r["saved_bytes"] for r in runs),
        "train_update_ms": statistics.median(r["train_update_ms"] for r in runs),
        "updates": runs[0]["updates"],
        "final_loss": statistics.mean(r["final_loss"] for r in runs),
    }


def _plot_accuracy(path: Any, cfg: Config, res: dict[int, dict[str, Any]]) -> Any:
    fig, ax = plt.subplots(figsize=CURVE_FIGSIZE, dpi=DPI)
    for k in cfg.truncations:
        ax.plot(cfg.lags, res[k]["accuracy"], marker="o", label=f"truncation k = {k}")
    ax.axhline(1 / cfg.num_symbols, color="0.5", linestyle=":", label="chance")
    ax.set_xscale("log", base=2)
    ax.set_xticks(cfg.lags, [str(d) for d in cfg.lags])
    ax.set_xlabel("echo lag d")
    ax.set_ylabel("test accuracy")
    ax.set_title("truncated BPTT learns lag d only when d < k")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


def _plot_cost(path: Any, cfg: Config, m: dict[str, Any]) -> Any:
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.0, 3.6), dpi=DPI)
    ks = list(cfg.truncations)
    a1.plot(ks, [m[f"k{k}_saved_bytes"] / 2**20 for k in ks], marker="o")
    a1.set_ylabel("saved for backward per update (MiB)")
    a2.plot(ks, [m[f"k{k}_update_ms"] for k in ks], marker="o")
    a2.set_ylabel("median time per update (ms)")
    for ax in (a1, a2):
        ax.set_xlabel("truncation k")
        ax.set_xscale("log", base=2)
        ax.set_xticks(ks, [str(k) for k in ks])
    fig.tight_layout()
    return save_figure(fig, path)


def _pairs(m: dict[str, Any], within: bool) -> list[tuple[int, int, float]]:
    return [
        (k, d, m[f"k{k}_lag{d}_accuracy"])
        for k in m["truncations"]
        for d in m["lags"]
        if (d < k) == within
    ]


def _fmt(pairs: list[tuple[int, int, float]]) -> str:
    return ", ".join(f"k={k} d={d}: {a:.3f}" for k, d, a in pairs) or "none"


def _beyond(m: dict[str, Any]) -> tuple[bool, str]:
    pairs = _pairs(m, within=False)
    limit = m["chance"] + m["chance_margin"]
    return bool(pairs) and all(a < limit for _, _, a in pairs), (
        f"test accuracy of lags d >= k (chance {m['chance']:.2f}, not learned below {limit:.2f}; "
        f"one training seed per model): " + _fmt(pairs)
    )


def _within(m: dict[str, Any]) -> tuple[bool, str]:
    pairs = _pairs(m, within=True)
    ok = bool(pairs) and all(a >= m["learned_accuracy"] for _, _, a in pairs)
    return ok, (
        f"test accuracy of lags d < k (learned at >= {m['learned_accuracy']}; one training seed "
        f"per model): " + _fmt(pairs)
    )


def _cost(m: dict[str, Any]) -> tuple[bool, str]:
    ks = m["truncations"]
    saved = [m[f"k{k}_saved_bytes"] for k in ks]
    ratios = [TimeRatio(**d) for d in m["time_ratios"]]
    memory = all(a < b for a, b in pairwise(saved))  # bytes are exact
    time = bool(ratios) and all(r.above(1.0) for r in ratios)
    per_k = ", ".join(f"{k}: {s / 2**10:.0f} KiB" for k, s in zip(ks, saved, strict=True))
    return memory and time, (
        f"saved for backward per update, k = {per_k} (grows with every k: {memory}); update "
        f"time, each k over the one before: {'; '.join(r.evidence() for r in ratios)} (every "
        f"95% interval above 1: {time})"
    )


CLAIMS = (
    Claim(
        "tbptt-misses-lags-beyond-truncation",
        "With truncation k, dependencies longer than the window (lag d >= k) are not learned "
        "(test accuracy below chance + chance_margin for every such k, d; one training seed "
        "per model, issue 21).",
        _beyond,
        "tbptt_accuracy.png",
    ),
    Claim(
        "tbptt-learns-lags-within-truncation",
        "Dependencies that fit in the window (lag d < k) are learned (test accuracy >= "
        "learned_accuracy for every such k, d; one training seed per model).",
        _within,
        "tbptt_accuracy.png",
    ),
    Claim(
        "tbptt-cost-grows-with-truncation",
        "The memory kept for the backward pass and the time of an update grow with k (bytes "
        "exact; time: for each adjacent pair of k the 95% interval of the paired time ratio "
        "lies above 1).",
        _cost,
        "tbptt_cost.png",
    ),
)


@experiment(
    "tbptt-tradeoff",
    topic="sequence",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Williams & Peng 1990, Neural Computation 2(4); Sutskever 2013 (PhD thesis)",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Delayed echo with truncated BPTT: which lags each truncation learns, and its cost."""
    res: dict[int, dict[str, Any]] = {}
    with single_thread():
        for k in cfg.truncations:
            res[k] = train_all(cfg, k, ctx.seed, ctx)
            ctx.log(
                k,
                **{
                    f"lag{d}_accuracy": a for d, a in zip(cfg.lags, res[k]["accuracy"], strict=True)
                },
            )
        costs = measure_costs(cfg, ctx.seed)
    metrics: dict[str, Any] = {
        "lags": list(cfg.lags),
        "truncations": list(cfg.truncations),
        "chance": 1 / cfg.num_symbols,
        "chance_margin": cfg.chance_margin,
        "learned_accuracy": cfg.learned_accuracy,
    }
    for k, r in res.items():
        for d, a in zip(cfg.lags, r["accuracy"], strict=True):
            metrics[f"k{k}_lag{d}_accuracy"] = a
        for key in ("train_saved_bytes", "train_update_ms", "updates", "final_loss"):
            metrics[f"k{k}_{key}"] = r[key]
    metrics.update(costs)
    plots = [
        _plot_accuracy(ctx.path("tbptt_accuracy.png"), cfg, res),
        _plot_cost(ctx.path("tbptt_cost.png"), cfg, metrics),
    ]
    return Result(metrics=metrics, plots=plots)
