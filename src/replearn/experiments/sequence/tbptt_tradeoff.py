"""Experiment ``tbptt-tradeoff``: truncated BPTT trades memory and time for reach.

Truncated backpropagation through time (Williams & Peng 1990; Sutskever 2013, PhD
thesis, Sec. 2.8): a long stream is cut into windows of ``k`` steps; the recurrent
state is carried from one window to the next but the graph is cut at the boundary,
so one update keeps ``O(k)`` activations and costs ``O(k)`` time, and no gradient
connects a loss to an input more than ``k - 1`` steps earlier.

Task (generated here, :func:`echo_stream`): a stream of uniform random symbols
``x_t`` from ``num_symbols``; one output head per lag ``d`` in ``lags`` must output
``x_{t-d}`` (delayed echo). A GRU with one head per lag is trained with truncation
``k`` for each ``k`` in ``truncations``, on the same number of tokens (so smaller
``k`` makes more, shorter updates), then scored on a fresh stream with the state
carried throughout: the per-lag accuracy (chance ``1 / num_symbols``).

Inside a window of ``k`` steps the loss at step ``t`` reaches inputs back to the
window's start, so lag ``d`` has a gradient path only when ``d < k`` (then ``k - d``
of the ``k`` positions see it). Cost: the bytes autograd saves for the backward pass
of one update (:class:`~replearn.experiments.sequence.rnn_common.SavedTensorBytes`)
and the median wall time of an update (forward + backward + step).

Writes ``tbptt_accuracy.png`` (accuracy per lag and truncation) and ``tbptt_cost.png``.

replearn run tbptt-tradeoff                 # ~2 min on 2 cores
replearn run tbptt-tradeoff --preset quick
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import Tensor

from replearn.engine import RunContext
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.sequence.rnn_common import (
    SavedTensorBytes,
    SequenceModel,
    detach_state,
    single_thread,
)
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
    """

    lags: tuple[int, ...] = (1, 3, 6, 12)
    truncations: tuple[int, ...] = (2, 4, 8, 16)
    num_symbols: int = 4
    hidden_size: int = 64
    embed_size: int = 16
    batch_size: int = 32
    train_tokens: int = 12_800
    test_tokens: int = 1000
    lr: float = 3e-3
    learned_accuracy: float = 0.9
    chance_margin: float = 0.15

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
    return Config(lags=(1, 3), truncations=(2, 4), hidden_size=16, train_tokens=200, test_tokens=50)


def quick() -> Config:
    """About a minute: lags 1 and 6, truncations 4 and 8."""
    return Config(lags=(1, 6), truncations=(4, 8), train_tokens=6400)


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

    Shape:
        logits: (B, T, D, K); y: (B, T, D) -> scalar.
    """
    return F.cross_entropy(logits.flatten(0, 2), y.flatten(), ignore_index=-100) * y.shape[-1]


def train_truncated(cfg: Config, k: int, seed: int) -> dict[str, Any]:
    """Train with truncation ``k``; per-lag test accuracy, saved bytes and update time."""
    gen = torch.Generator().manual_seed(seed)
    x, y = echo_stream(cfg.batch_size, cfg.train_tokens, cfg.num_symbols, cfg.lags, gen)
    torch.manual_seed(seed)  # the same initial weights for every k
    model = SequenceModel(
        "gru",
        input_size=cfg.embed_size,
        hidden_size=cfg.hidden_size,
        output_size=len(cfg.lags) * cfg.num_symbols,
        vocab_size=cfg.num_symbols,
    )
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    state: Any = None
    times, losses, saved = [], [], 0
    for start in range(0, cfg.train_tokens - k + 1, k):
        t0 = time.perf_counter()
        with SavedTensorBytes() as counter:
            logits, state = model(x[:, start : start + k], state)  # (B, k, D * K)
            logits = logits.unflatten(-1, (len(cfg.lags), cfg.num_symbols))  # (B, k, D, K)
            loss = echo_loss(logits, y[:, start : start + k])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        state = detach_state(state)  # truncate: no gradient crosses the window boundary
        times.append(time.perf_counter() - t0)
        losses.append(loss.item())
        saved = max(saved, counter.bytes)
    return {
        "accuracy": test_accuracy(model, cfg, seed + 1),
        "saved_bytes": saved,
        "update_ms": 1e3 * statistics.median(times),
        "updates": len(times),
        "final_loss": statistics.mean(losses[-max(len(losses) // 10, 1) :]),
    }


@torch.no_grad()
def test_accuracy(model: SequenceModel, cfg: Config, seed: int) -> list[float]:
    """Per-lag accuracy on a fresh stream, state carried from its start."""
    gen = torch.Generator().manual_seed(seed)
    x, y = echo_stream(cfg.batch_size, cfg.test_tokens, cfg.num_symbols, cfg.lags, gen)
    logits, _ = model(x)
    pred = logits.unflatten(-1, (len(cfg.lags), cfg.num_symbols)).argmax(-1)  # (B, T, D)
    keep = slice(max(cfg.lags), None)
    return (pred[:, keep] == y[:, keep]).float().mean(dim=(0, 1)).tolist()


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


def _plot_cost(path: Any, cfg: Config, res: dict[int, dict[str, Any]]) -> Any:
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.0, 3.6), dpi=DPI)
    ks = list(cfg.truncations)
    a1.plot(ks, [res[k]["saved_bytes"] / 2**20 for k in ks], marker="o")
    a1.set_ylabel("saved for backward per update (MiB)")
    a2.plot(ks, [res[k]["update_ms"] for k in ks], marker="o")
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
        f"test accuracy of lags d >= k (chance {m['chance']:.2f}, not learned below {limit:.2f}): "
        + _fmt(pairs)
    )


def _within(m: dict[str, Any]) -> tuple[bool, str]:
    pairs = _pairs(m, within=True)
    ok = bool(pairs) and all(a >= m["learned_accuracy"] for _, _, a in pairs)
    return ok, (
        f"test accuracy of lags d < k (learned at >= {m['learned_accuracy']}): " + _fmt(pairs)
    )


def _cost(m: dict[str, Any]) -> tuple[bool, str]:
    ks = m["truncations"]
    saved = [m[f"k{k}_saved_bytes"] for k in ks]
    ms = [m[f"k{k}_update_ms"] for k in ks]
    grows = all(a < b for a, b in pairwise(saved)) and all(a < b for a, b in pairwise(ms))
    return grows, (
        "per update, k = "
        + ", ".join(
            f"{k}: {s / 2**10:.0f} KiB saved, {t:.2f} ms"
            for k, s, t in zip(ks, saved, ms, strict=True)
        )
        + " (under load: times are indicative)"
    )


CLAIMS = (
    Claim(
        "tbptt-misses-lags-beyond-truncation",
        "With truncation k, dependencies longer than the window (lag d >= k) are not learned.",
        _beyond,
        "tbptt_accuracy.png",
    ),
    Claim(
        "tbptt-learns-lags-within-truncation",
        "Dependencies that fit in the window (lag d < k) are learned.",
        _within,
        "tbptt_accuracy.png",
    ),
    Claim(
        "tbptt-cost-grows-with-truncation",
        "The memory kept for backward and the time of an update grow with k.",
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
            res[k] = train_truncated(cfg, k, ctx.seed)
            ctx.log(
                k,
                **{
                    f"lag{d}_accuracy": a for d, a in zip(cfg.lags, res[k]["accuracy"], strict=True)
                },
            )
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
        for key in ("saved_bytes", "update_ms", "updates", "final_loss"):
            metrics[f"k{k}_{key}"] = r[key]
    plots = [
        _plot_accuracy(ctx.path("tbptt_accuracy.png"), cfg, res),
        _plot_cost(ctx.path("tbptt_cost.png"), cfg, res),
    ]
    return Result(metrics=metrics, plots=plots)
