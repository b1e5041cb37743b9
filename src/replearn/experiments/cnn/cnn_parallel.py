r"""Experiment ``cnn-parallel``: WaveNet and ByteNet train in parallel over time; an RNN does not.

A causal convolutional sequence model (WaveNet, van den Oord et al. 2016, arXiv:1609.03499;
ByteNet, Kalchbrenner et al. 2016, arXiv:1610.10099) computes every position's output in
one pass of its :math:`N` layers: with teacher forcing the whole sequence trains at once,
and the longest serial path is :math:`N` (constant in the length :math:`L`). A recurrent
network's state :math:`h_t` needs :math:`h_{t-1}`: its serial path is :math:`L`. Both do
work linear in :math:`L` (ByteNet's "runs in time linear in the length of the sequences"
contrasts it with attention's :math:`O(|s||t|)`), so the precise statements are:

1. the convolutional models' training-step time grows linearly in :math:`L` (log-log slope
   of time against :math:`L` within 0.75-1.25 over the measured lengths);
2. at equal parameters (the GRU's hidden size is the smallest with at least the CNN's
   parameter count), a training step of each convolutional model is faster than the GRU's
   at every measured length: the CNN's :math:`L` positions run in parallel, the GRU's in
   sequence (:class:`replearn.sequence.rnn.GRU`, torch's fused kernel).

Timing: one engine run trains every model at every length (the general task form:
each engine step is one round, in which every (model, length) contender makes one update,
next-level cross-entropy on fresh random sequences of ``levels`` symbols, Adam; the order
of the contenders reverses from one round to the next,
:func:`~replearn.experiments.stats.time_rounds`).
The first ``warmup`` rounds are not counted. Verdicts read 95% intervals, not point
estimates: the GRU-vs-CNN claim needs the sign-test interval of the median paired ratio
t_CNN / t_GRU (:func:`~replearn.experiments.stats.time_ratio`) below 1 at every length
(8 intervals, each at 95%); the linearity claim fits a log-log slope in every round (all
lengths of a round are timed within seconds of each other) and needs the 95% interval
of the median per-round slope inside [0.75, 1.25]. Times depend on the machine: the
claims compare models timed in the same rounds.

replearn run cnn-parallel
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from functools import partial
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.cnn.bytenet import ByteNet
from replearn.cnn.wavenet import WaveNet
from replearn.engine import EngineConfig, Loop, RunContext, Task, fit
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import count_params, seeded
from replearn.experiments.stats import median_interval, time_ratio, time_rounds
from replearn.report.plots import DPI, save_figure
from replearn.sequence.rnn import GRU

#: CNN contender -> the GRU of at least its parameter count it races.
PAIRS = {"wavenet": "gru_w", "bytenet": "gru_b"}


@dataclass(frozen=True)
class Config:
    """Settings of ``cnn-parallel``.

    Attributes:
        lengths: sequence lengths L (increasing).
        batch: sequences per update.
        rounds: timed rounds (each: one update of every model at every length); >= 6 for a
            95% interval.
        warmup: untimed rounds before them.
        levels: symbols of the sequences (WaveNet's quantization levels, ByteNet's vocabulary).
        channels: WaveNet's residual / dilation / skip channels.
        wavenet_layers: WaveNet layers (dilations 1 .. 2^(layers - 1)).
        bytenet_d: ByteNet's d (residual streams of 2d channels).
        bytenet_layers: ByteNet layers per stack (one encoder and one decoder stack).
        lr: Adam learning rate.
    """

    lengths: tuple[int, ...] = (128, 256, 512, 1024)
    batch: int = 4
    rounds: int = 20
    warmup: int = 2
    levels: int = 32
    channels: int = 32
    wavenet_layers: int = 8
    bytenet_d: int = 16
    bytenet_layers: int = 4
    lr: float = 1e-3

    def __post_init__(self) -> None:
        if len(self.lengths) < 2 or list(self.lengths) != sorted(self.lengths):
            raise ValueError(f"need >= 2 increasing lengths, got {self.lengths}")
        if self.rounds < 1 or self.warmup < 0:
            raise ValueError(f"need rounds >= 1 and warmup >= 0, got {self.rounds}, {self.warmup}")


def tiny() -> Config:
    """Seconds: two short lengths, small models, 2 rounds (too few for an interval)."""
    return Config(lengths=(16, 32), rounds=2, warmup=1, channels=8, wavenet_layers=3,
                  bytenet_d=4, bytenet_layers=2)  # fmt: skip


def quick() -> Config:
    """Seconds: three lengths up to 256, 6 rounds (a smoke check)."""
    return Config(lengths=(64, 128, 256), rounds=6, warmup=1)


class GRULM(nn.Module):
    """Embedding, one GRU layer, linear: levels (B, T) -> logits (B, Q, T)."""

    def __init__(self, levels: int, hidden: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(levels, hidden)
        self.gru = GRU(hidden, hidden, batch_first=True)
        self.head = nn.Linear(hidden, levels)

    def forward(self, x: Tensor) -> Tensor:
        h, _ = self.gru(self.embed(x))  # (B, T, H): one step after another
        return self.head(h).transpose(1, 2)  # (B, Q, T)


def contender(name: str, length: int) -> str:
    """Key of one (model, length) contender in the timing rounds."""
    return f"{name}@L{length}"


class RaceTask(Task):
    """Every engine step is one timing round: each model makes one update at each length.

    General form: ``update`` draws a fresh batch of next-symbol sequences per length (outside
    the clock), then times, with :func:`~replearn.experiments.stats.time_rounds`, one
    ``loop.optimize`` of every (model, length) contender (teacher-forced cross-entropy at
    every position), the order reversed from one round to the next. ``times`` collects the
    rounds after ``warmup``.
    """

    def __init__(
        self, models: dict[str, nn.Module], *, lengths: tuple[int, ...], levels: int,
        batch: int, warmup: int, seed: int,
    ) -> None:  # fmt: skip
        super().__init__()
        self.models = nn.ModuleDict(models)
        self.lengths, self.levels, self.batch, self.warmup = lengths, levels, batch, warmup
        self.gen = torch.Generator().manual_seed(seed)
        self.times: dict[str, list[float]] = {
            contender(n, length): [] for n in models for length in lengths
        }

    def _one_update(self, name: str, batch: Tensor, loop: Loop) -> None:
        x, y = batch[:, :-1], batch[:, 1:]  # (B, L) each
        model = self.models[name]
        logits = model(x, x) if name == "bytenet" else model(x)  # (B, Q, L)
        loop.optimize(F.cross_entropy(logits.float(), y), name)

    def update(self, batch: Any, loop: Loop) -> dict[str, Tensor]:
        data = {
            n: torch.randint(0, self.levels, (self.batch, n + 1), generator=self.gen)
            for n in self.lengths
        }
        fns = {
            contender(name, n): partial(self._one_update, name, data[n].to(loop.device), loop)
            for name in self.models for n in self.lengths
        }  # fmt: skip
        if loop.step % 2:  # time_rounds runs one round in reversed order: alternate it here
            fns = dict(reversed(fns.items()))
        times = time_rounds(fns, rounds=1, warmup=0)
        if loop.step >= self.warmup:
            for key, (t,) in times.items():
                self.times[key].append(t)
        return {}


def gru_matching(levels: int, n_params: int) -> int:
    """Smallest GRU hidden size whose :class:`GRULM` has at least ``n_params`` parameters."""
    h = 4
    while count_params(GRULM(levels, h)) < n_params:
        h += 4
    return h


def loglog_slope(lengths: list[int], times: list[float]) -> float:
    """Least-squares slope of log(time) against log(L)."""
    return float(np.polyfit(np.log(lengths), np.log(times), 1)[0])


def round_slopes(lengths: list[int], times: dict[str, list[float]], name: str) -> list[float]:
    """One log-log slope of ``name``'s update time against L per timing round."""
    per_length = [times[contender(name, n)] for n in lengths]
    return [loglog_slope(lengths, list(ts)) for ts in zip(*per_length, strict=True)]


def slope_summary(slopes: list[float]) -> dict[str, Any]:
    """Median per-round slope and its 95% sign-test interval (None: too few rounds)."""
    ci = median_interval(slopes)
    lo, hi = ci if ci is not None else (None, None)
    return {"median": statistics.median(slopes), "lo": lo, "hi": hi, "rounds": len(slopes)}


def _slope_text(name: str, s: dict[str, Any]) -> str:
    ci = "no 95% interval" if s["lo"] is None else f"95% interval {s['lo']:.2f}-{s['hi']:.2f}"
    return f"{name} {s['median']:.2f} ({ci}, {s['rounds']} rounds)"


def _verdict_linear(m: dict[str, Any]) -> tuple[bool, str]:
    s = m["slopes"]
    holds = all(
        s[k]["lo"] is not None and s[k]["lo"] >= 0.75 and s[k]["hi"] <= 1.25
        for k in ("wavenet", "bytenet")
    )
    return holds, (
        f"median per-round log-log slope of update time vs L over L = {m['lengths']}: "
        f"{_slope_text('WaveNet', s['wavenet'])}, {_slope_text('ByteNet', s['bytenet'])} "
        f"(rule: both 95% intervals inside [0.75, 1.25]); GRU (WaveNet-sized) "
        f"{_slope_text('', s['gru_w']).strip()}"
    )


def _verdict_parallel(m: dict[str, Any]) -> tuple[bool, str]:
    holds, parts = True, []
    for cnn, gru in PAIRS.items():
        cells = []
        for n, r in zip(m["lengths"], m["ratios"][cnn], strict=True):
            holds &= r["hi"] is not None and r["hi"] < 1.0
            ci = "no 95% interval" if r["lo"] is None else f"{r['lo']:.2f}-{r['hi']:.2f}"
            cells.append(f"L={n}: {r['ratio']:.2f} ({ci})")
        parts.append(
            f"{cnn} ({m['params'][cnn]} params) / GRU H={m['hidden'][gru]} "
            f"({m['params'][gru]} params): {', '.join(cells)}"
        )
    return holds, (
        f"median paired update-time ratio CNN / GRU with 95% interval, {m['rounds']} rounds: "
        f"{'; '.join(parts)} (rule: every interval below 1); serial path: CNN "
        f"{m['serial']['wavenet']} / {m['serial']['bytenet']} layers at every L, GRU L steps"
    )


CLAIMS = (
    Claim(
        "cnn-step-time-linear",
        "WaveNet's and ByteNet's training time per update grows linearly with the sequence "
        "length (log-log slope of time vs L within [0.75, 1.25]: the 95% interval of the "
        "median per-round slope lies inside).",
        _verdict_linear,
        "step_time.png",
    ),
    Claim(
        "cnn-trains-faster-than-rnn",
        "Convolutional sequence models train in parallel over time: at equal parameters, an "
        "update of WaveNet and of ByteNet takes less time than an update of a GRU language "
        "model at every measured length (the 95% interval of each paired time ratio lies "
        "below 1; their serial path is their depth, the GRU's is L).",
        _verdict_parallel,
        "step_time.png",
    ),
)


def build_models(cfg: Config) -> tuple[dict[str, Any], dict[str, int], dict[str, int]]:
    """Builders of the four contenders, their parameter counts and the GRUs' hidden sizes."""
    q = cfg.levels
    builders: dict[str, Any] = {
        "wavenet": lambda: WaveNet(quantization_channels=q, residual_channels=cfg.channels,
                                   dilation_channels=cfg.channels, skip_channels=cfg.channels,
                                   layers_per_stack=cfg.wavenet_layers),
        "bytenet": lambda: ByteNet(vocab_size=q, d=cfg.bytenet_d,
                                   layers_per_stack=cfg.bytenet_layers),
    }  # fmt: skip
    params = {k: count_params(b()) for k, b in builders.items()}
    hidden = {gru: gru_matching(q, params[cnn]) for cnn, gru in PAIRS.items()}
    for gru, h in hidden.items():
        builders[gru] = partial(GRULM, q, h)
        params[gru] = count_params(builders[gru]())
    return builders, params, hidden


@experiment(
    "cnn-parallel",
    topic="cnn",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="van den Oord et al. 2016, arXiv:1609.03499; Kalchbrenner et al. 2016, arXiv:1610.10099",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Time training updates of WaveNet, ByteNet and GRUs of equal size against length."""
    builders, params, hidden = build_models(cfg)
    models = {k: seeded(b, ctx.seed) for k, b in builders.items()}
    opts = {k: torch.optim.Adam(m.parameters(), lr=cfg.lr) for k, m in models.items()}
    task = RaceTask(models, lengths=cfg.lengths, levels=cfg.levels, batch=cfg.batch,
                    warmup=cfg.warmup, seed=ctx.seed)  # fmt: skip
    engine = EngineConfig(max_steps=cfg.warmup + cfg.rounds, batch_size=cfg.batch,
                          log_every=cfg.warmup + cfg.rounds, checkpoint_every=0,
                          progress=False)  # fmt: skip
    with ctx.child("race", seed=ctx.seed) as sub:
        fit(task, opts, None, cfg=engine, ctx=sub)
    times, lengths = task.times, list(cfg.lengths)
    medians = {k: [statistics.median(times[contender(k, n)]) for n in lengths] for k in models}
    for i, n in enumerate(lengths):
        ctx.log(n, **{f"{k}_step_time_s": v[i] for k, v in medians.items()})
    ratios = {
        cnn: [time_ratio(times, contender(cnn, n), contender(gru, n)).as_dict() for n in lengths]
        for cnn, gru in PAIRS.items()
    }
    metrics: dict[str, Any] = {
        "lengths": lengths, "rounds": cfg.rounds, "step_time_s": medians, "ratios": ratios,
        "params": params, "hidden": hidden,
        "slopes": {k: slope_summary(round_slopes(lengths, times, k)) for k in models},
        "serial": {"wavenet": 1 + cfg.wavenet_layers + 2, "bytenet": 2 * cfg.bytenet_layers + 1},
    }  # fmt: skip
    fig, ax = plt.subplots(figsize=(6.0, 4.0), dpi=DPI)
    for name, ts in medians.items():
        ax.plot(lengths, ts, marker="o", label=f"{name} ({params[name]} params)")
    ref = medians["wavenet"][0]
    ax.plot(lengths, [ref * n / lengths[0] for n in lengths], ls="--", color="grey",
            label="linear")  # fmt: skip
    ax.set(xscale="log", yscale="log", xlabel="sequence length L",
           ylabel="seconds per update (median)",
           title=f"training update time, batch {cfg.batch}, {cfg.rounds} rounds")  # fmt: skip
    ax.legend(fontsize="small")
    fig.tight_layout()
    assert math.isfinite(sum(sum(v) for v in medians.values()))
    return Result(metrics=metrics, plots=[save_figure(fig, ctx.path("step_time.png"))])
