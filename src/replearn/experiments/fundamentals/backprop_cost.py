"""Experiment ``backprop-cost``: a backward pass costs a constant multiple of the forward pass.

The cheap-gradient principle (Baur & Strassen 1983; Griewank & Walther 2008, §4.6;
:mod:`replearn.fundamentals.backprop`, Eq. 4): reverse-mode differentiation of a network
costs a small constant multiple of evaluating it, so its cost is linear in the number of
weights (two matrix products per layer against one: a FLOP ratio of about 2).

MLPs ``n_in -> width x depth -> n_out`` of growing ``width`` (weights growing about
100x from the first to the last) are timed on one CPU thread: the forward pass alone
and forward + backward (autograd: ``loss.backward()``), in CPU time of the thread
(``time.thread_time``: a busy machine's scheduler waits stretch wall-clock calls longer than
a time slice, not the work), once each per round in ``rounds`` paired rounds (the order
reversed from round to round: :func:`~replearn.experiments.stats.time_rounds`). The backward/forward
ratio of a round is ``t_fb / t_f - 1``; its median over the rounds and the 95% sign-test
interval of that median (:func:`~replearn.experiments.stats.time_ratio`, shifted by 1)
are judged: every size's interval must lie inside ``band``, and the spread, bounded
above by the largest upper end over the smallest lower end, must be at most
``max_spread``. The hand-written :func:`~replearn.fundamentals.backprop.backprop` is
checked against autograd at every size (float64) and timed in the same rounds.

No model is trained, so the engine is not involved: this experiment measures the cost of
one gradient, not a training run.

Writes ``backprop_cost.png`` (times vs weights, log-log) and ``backprop_ratio.png``.
"""

from __future__ import annotations

import itertools
import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from replearn.engine import RunContext
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.stats import time_ratio, time_rounds
from replearn.fundamentals.backprop import backprop, matmul_flops
from replearn.fundamentals.mlp import MLP
from replearn.report.plots import line_plot


@dataclass(frozen=True)
class Config:
    """Settings of ``backprop-cost``.

    Attributes:
        widths: hidden widths of the MLPs timed (the number of weights grows ~ width^2).
        depth: hidden layers of every MLP.
        n_in: input features.
        n_out: classes (outputs).
        batch: examples per pass.
        rounds: timed rounds per size (each times every pass once; >= 6 for a 95% interval).
        warmup: untimed rounds before them.
        band: (low, high): the claim holds if every size's backward/forward time ratio
            interval lies in it.
        max_spread: ... and the largest upper end is at most this times the smallest lower end.
    """

    widths: tuple[int, ...] = (64, 128, 256, 512, 1024)
    depth: int = 3
    n_in: int = 256
    n_out: int = 10
    batch: int = 128
    rounds: int = 30
    warmup: int = 2
    band: tuple[float, float] = (0.5, 4.0)
    max_spread: float = 2.5

    def __post_init__(self) -> None:
        if len(self.widths) < 2 or min(self.widths) < 1:
            raise ValueError(f"need at least two positive widths, got {self.widths}")
        if self.rounds < 1 or self.warmup < 0:
            raise ValueError(f"need rounds >= 1, warmup >= 0, got {self.rounds}, {self.warmup}")
        if not 0 < self.band[0] < self.band[1]:
            raise ValueError(f"band must be (low, high) with 0 < low < high, got {self.band}")


def tiny() -> Config:
    """Seconds: three small sizes, 3 rounds (too few for an interval)."""
    return Config(widths=(16, 32, 64), batch=16, rounds=3, warmup=1)


def quick() -> Config:
    """The claim at reduced cost (weights grow ~40x)."""
    return Config(widths=(64, 128, 256, 512), rounds=12)


def measure(cfg: Config, width: int, seed: int) -> dict[str, Any]:
    """Time the forward pass, forward + backward and the hand-written backprop of one MLP in
    ``cfg.rounds`` paired rounds; check the hand-written gradients against autograd."""
    torch.manual_seed(seed)
    model = MLP(cfg.n_in, (width,) * cfg.depth, cfg.n_out, activation="tanh")
    x = torch.randn(cfg.batch, cfg.n_in)
    y = torch.randint(0, cfg.n_out, (cfg.batch,))

    def forward() -> None:
        with torch.no_grad():
            F.cross_entropy(model(x), y)

    def forward_backward() -> None:
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()

    def manual() -> None:
        backprop(model, x, y)

    times = time_rounds(
        {"forward": forward, "forward_backward": forward_backward, "manual": manual},
        rounds=cfg.rounds,
        warmup=cfg.warmup,
        clock=time.thread_time,
    )
    r = time_ratio(times, "forward_backward", "forward")  # backward / forward = r - 1
    shift = {"lo": None, "hi": None} if r.lo is None else {"lo": r.lo - 1, "hi": r.hi - 1}
    # correctness of the hand-written pass at this size, in float64
    m64 = MLP(cfg.n_in, (width,) * cfg.depth, cfg.n_out, activation="tanh").double()
    m64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    x64 = x[:8].double()
    _, grads = backprop(m64, x64, y[:8])
    F.cross_entropy(m64(x64), y[:8]).backward()
    err = max(
        float((g - layer.weight.grad).abs().max() / layer.weight.grad.abs().max().clamp_min(1e-300))
        for (g, _), layer in zip(grads, m64.layers, strict=True)
    )
    widths = (cfg.n_in, *(width,) * cfg.depth, cfg.n_out)
    flops_f, flops_b = matmul_flops(widths, cfg.batch)
    return {
        "weights": float(sum(a * b for a, b in itertools.pairwise(widths))),
        "forward_s": r.t_b,
        "forward_backward_s": r.t_a,
        "backward_s": max(r.t_a - r.t_b, 0.0),
        "ratio": r.ratio - 1,
        "ratio_lo": shift["lo"],
        "ratio_hi": shift["hi"],
        "rounds": r.rounds,
        "manual_s": statistics.median(times["manual"]),
        "manual_rel_error": err,
        "flop_ratio": flops_b / flops_f,
    }


def _verdict(m: dict[str, Any]) -> tuple[bool, str]:
    ratios, los, his = m["ratios"], m["ratios_lo"], m["ratios_hi"]
    lo, hi = m["band"]
    if any(v is None for v in los):
        spread, in_band = None, False
    else:
        spread = max(his) / min(los) if min(los) > 0 else float("inf")
        in_band = all(lo <= a and b <= hi for a, b in zip(los, his, strict=True))
    holds = in_band and spread is not None and spread <= m["max_spread"]
    cells = ", ".join(
        f"{r:.2f} ({'no 95% interval' if a is None else f'{a:.2f}-{b:.2f}'})"
        for r, a, b in zip(ratios, los, his, strict=True)
    )
    spread_text = "none (no intervals)" if spread is None else f"<= {spread:.2f}"
    return holds, (
        f"backward/forward time ratio, median of {m['rounds']} paired rounds (95% interval): "
        f"{cells} at {', '.join(f'{w:,.0f}' for w in m['weights'])} weights "
        f"({m['weight_growth']:.0f}x); rule: every interval inside [{lo}, {hi}] and spread "
        f"max upper / min lower {spread_text} at most {m['max_spread']}; FLOP ratio "
        f"{m['flop_ratio_largest']:.2f}; log-log slope of forward+backward time vs "
        f"weights over the largest half {m['slope_large']:.2f}"
    )


CLAIMS = (
    Claim(
        "backprop-constant-multiple",
        "Backpropagation costs a constant multiple of the forward pass: the backward/forward "
        "time ratio stays within a fixed band (0.5-4, max/min <= 2.5) while the number of "
        "weights grows ~100x, so the gradient's cost is linear in the number of weights "
        "(every size's 95% interval of the median per-round ratio inside the band; the spread "
        "bounded by the largest upper end over the smallest lower end).",
        _verdict,
        "backprop_ratio.png",
    ),
)


def _slope(xs: list[float], ys: list[float]) -> float:
    lx = torch.tensor(xs).log()
    ly = torch.tensor(ys).log()
    lx, ly = lx - lx.mean(), ly - ly.mean()
    return float((lx * ly).sum() / (lx * lx).sum())


@experiment(
    "backprop-cost",
    topic="fundamentals",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Rumelhart, Hinton & Williams 1986; Baur & Strassen 1983; Griewank & Walther 2008",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Time the forward and backward passes of MLPs of growing size."""
    rows = []
    with single_thread():
        for width in cfg.widths:
            r = measure(cfg, width, ctx.seed)
            rows.append(r)
            ctx.log(width, **r)
    weights = [r["weights"] for r in rows]
    half = max(2, len(rows) // 2)
    metrics: dict[str, Any] = {
        "weights": weights,
        "ratios": [r["ratio"] for r in rows],
        "ratios_lo": [r["ratio_lo"] for r in rows],
        "ratios_hi": [r["ratio_hi"] for r in rows],
        "rounds": cfg.rounds,
        "forward_s": [r["forward_s"] for r in rows],
        "backward_s": [r["backward_s"] for r in rows],
        "manual_s": [r["manual_s"] for r in rows],
        "manual_max_rel_error": max(r["manual_rel_error"] for r in rows),
        "flop_ratio_largest": rows[-1]["flop_ratio"],
        "weight_growth": weights[-1] / weights[0],
        "slope_large": _slope(weights[-half:], [r["forward_backward_s"] for r in rows][-half:]),
        "band": list(cfg.band),
        "max_spread": cfg.max_spread,
    }
    plots = [
        line_plot(
            weights,
            {
                "forward": metrics["forward_s"],
                "backward (autograd)": metrics["backward_s"],
                "hand-written backprop (fwd+bwd)": metrics["manual_s"],
            },
            ctx.path("backprop_cost.png"),
            xlabel="weights",
            ylabel="seconds per pass (median)",
            title=f"MLP depth {cfg.depth}, batch {cfg.batch}, 1 thread",
            logx=True,
            logy=True,
        ),
        line_plot(
            weights,
            {
                "backward / forward time": metrics["ratios"],
                "backward / forward FLOPs": [r["flop_ratio"] for r in rows],
            },
            ctx.path("backprop_ratio.png"),
            xlabel="weights",
            ylabel="ratio",
            title="cost of the gradient relative to the forward pass",
            logx=True,
        ),
    ]
    return Result(metrics=metrics, plots=plots)
