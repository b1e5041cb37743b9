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

Each model trains with the engine (next-level cross-entropy on random sequences of
``levels`` symbols, Adam) for ``steps`` updates per length; the step time is the median
of the per-update wall-clock times after the first (a callback reads the clock). Times
depend on the machine: the claims compare models measured in the same run.

replearn run cnn-parallel
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.cnn.bytenet import ByteNet
from replearn.cnn.wavenet import WaveNet
from replearn.engine import EngineConfig, RunContext, SampleStream, Task
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import count_params, seeded, train_variant
from replearn.experiments.sequence.rnn_common import StepTimer
from replearn.report.plots import DPI, save_figure
from replearn.sequence.rnn import GRU


@dataclass(frozen=True)
class Config:
    """Settings of ``cnn-parallel``.

    Attributes:
        lengths: sequence lengths L (increasing).
        batch: sequences per update.
        steps: timed updates per model and length (the first is a warm-up, not counted).
        levels: symbols of the sequences (WaveNet's quantization levels, ByteNet's vocabulary).
        channels: WaveNet's residual / dilation / skip channels.
        wavenet_layers: WaveNet layers (dilations 1 .. 2^(layers - 1)).
        bytenet_d: ByteNet's d (residual streams of 2d channels).
        bytenet_layers: ByteNet layers per stack (one encoder and one decoder stack).
        lr: Adam learning rate.
    """

    lengths: tuple[int, ...] = (128, 256, 512, 1024)
    batch: int = 4
    steps: int = 6
    levels: int = 32
    channels: int = 32
    wavenet_layers: int = 8
    bytenet_d: int = 16
    bytenet_layers: int = 4
    lr: float = 1e-3

    def __post_init__(self) -> None:
        if len(self.lengths) < 2 or list(self.lengths) != sorted(self.lengths) or self.steps < 2:
            raise ValueError("need >= 2 increasing lengths and >= 2 steps")


def tiny() -> Config:
    """Seconds: two short lengths, small models, 2 updates each."""
    return Config(lengths=(16, 32), steps=2, channels=8, wavenet_layers=3, bytenet_d=4,
                  bytenet_layers=2)  # fmt: skip


def quick() -> Config:
    """Seconds: three lengths up to 256, 3 updates each (a smoke check)."""
    return Config(lengths=(64, 128, 256), steps=3)


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


class NextLevelTask(Task):
    """Cross-entropy of the next symbol at every position (teacher forcing)."""

    def __init__(self, model: nn.Module, bytenet: bool = False) -> None:
        super().__init__()
        self.model, self.bytenet = model, bytenet

    def training_step(self, batch: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        x, y = batch[:, :-1], batch[:, 1:]  # (B, L) each
        logits = self.model(x, x) if self.bytenet else self.model(x)  # (B, Q, L)
        return F.cross_entropy(logits.float(), y), {}


def gru_matching(levels: int, n_params: int) -> int:
    """Smallest GRU hidden size whose :class:`GRULM` has at least ``n_params`` parameters."""
    h = 4
    while count_params(GRULM(levels, h)) < n_params:
        h += 4
    return h


def loglog_slope(lengths: list[int], times: list[float]) -> float:
    """Least-squares slope of log(time) against log(L)."""
    return float(np.polyfit(np.log(lengths), np.log(times), 1)[0])


def _verdict_linear(m: dict[str, Any]) -> tuple[bool, str]:
    s = m["slopes"]
    holds = all(0.75 <= s[k] <= 1.25 for k in ("wavenet", "bytenet"))
    return holds, (
        f"log-log slope of step time vs L over L = {m['lengths']}: WaveNet {s['wavenet']:.2f}, "
        f"ByteNet {s['bytenet']:.2f} (rule: both in [0.75, 1.25]); GRU {s['gru_w']:.2f} "
        f"(linear too: the difference is parallelism, not the amount of work)"
    )


def _verdict_parallel(m: dict[str, Any]) -> tuple[bool, str]:
    t = m["step_time_s"]
    r_w = [g / c for g, c in zip(t["gru_w"], t["wavenet"], strict=True)]
    r_b = [g / c for g, c in zip(t["gru_b"], t["bytenet"], strict=True)]
    holds = min(r_w) > 1 and min(r_b) > 1
    fmt = ", ".join
    return holds, (
        f"GRU / CNN step time at L = {m['lengths']}: vs WaveNet ({m['params']['wavenet']} "
        f"params; GRU H={m['hidden']['gru_w']}, {m['params']['gru_w']}) "
        f"{fmt(f'{r:.2f}' for r in r_w)}; vs ByteNet ({m['params']['bytenet']} params; GRU "
        f"H={m['hidden']['gru_b']}, {m['params']['gru_b']}) {fmt(f'{r:.2f}' for r in r_b)} "
        f"(rule: > 1 at every L); serial path: CNN {m['serial']['wavenet']} / "
        f"{m['serial']['bytenet']} layers at every L, GRU L steps"
    )


CLAIMS = (
    Claim(
        "cnn-step-time-linear",
        "WaveNet's and ByteNet's training time per update grows linearly with the sequence "
        "length (log-log slope of time vs L within [0.75, 1.25]).",
        _verdict_linear,
        "step_time.png",
    ),
    Claim(
        "cnn-trains-faster-than-rnn",
        "Convolutional sequence models train in parallel over time: at equal parameters, an "
        "update of WaveNet and of ByteNet takes less time than an update of a GRU language "
        "model at every measured length (their serial path is their depth, the GRU's is L).",
        _verdict_parallel,
        "step_time.png",
    ),
)


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
    q = cfg.levels
    builders = {
        "wavenet": lambda: WaveNet(quantization_channels=q, residual_channels=cfg.channels,
                                   dilation_channels=cfg.channels, skip_channels=cfg.channels,
                                   layers_per_stack=cfg.wavenet_layers),
        "bytenet": lambda: ByteNet(vocab_size=q, d=cfg.bytenet_d,
                                   layers_per_stack=cfg.bytenet_layers),
    }  # fmt: skip
    params = {k: count_params(b()) for k, b in builders.items()}
    hidden = {
        "gru_w": gru_matching(q, params["wavenet"]),
        "gru_b": gru_matching(q, params["bytenet"]),
    }
    builders["gru_w"] = lambda: GRULM(q, hidden["gru_w"])
    builders["gru_b"] = lambda: GRULM(q, hidden["gru_b"])
    params.update({k: count_params(builders[k]()) for k in ("gru_w", "gru_b")})
    engine = EngineConfig(max_steps=cfg.steps, batch_size=cfg.batch, log_every=cfg.steps,
                          checkpoint_every=0, progress=False)  # fmt: skip
    times: dict[str, list[float]] = {k: [] for k in builders}
    for length in cfg.lengths:
        stream = SampleStream(lambda b, g, n=length: torch.randint(0, q, (b, n + 1), generator=g),
                              batch_size=cfg.batch, seed=ctx.seed)  # fmt: skip
        for name, build in builders.items():
            model = seeded(build, ctx.seed)
            timer = StepTimer()
            opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
            task = NextLevelTask(model, bytenet=name == "bytenet")
            train_variant(ctx, f"{name}-L{length}", task, opt, stream, engine=engine,
                          callbacks=(timer,))  # fmt: skip
            times[name].append(statistics.median(timer.times[1:]))
            ctx.log(length, **{f"{name}_step_time_s": times[name][-1]})
    lengths = list(cfg.lengths)
    metrics: dict[str, Any] = {
        "lengths": lengths, "step_time_s": times, "params": params, "hidden": hidden,
        "slopes": {k: loglog_slope(lengths, v) for k, v in times.items()},
        "serial": {"wavenet": 1 + cfg.wavenet_layers + 2, "bytenet": 2 * cfg.bytenet_layers + 1},
    }  # fmt: skip
    metrics["gru_over_wavenet_at_longest"] = times["gru_w"][-1] / times["wavenet"][-1]
    metrics["wavenet_slope"] = metrics["slopes"]["wavenet"]
    fig, ax = plt.subplots(figsize=(6.0, 4.0), dpi=DPI)
    for name, ts in times.items():
        ax.plot(lengths, ts, marker="o", label=f"{name} ({params[name]} params)")
    ref = times["wavenet"][0]
    ax.plot(lengths, [ref * n / lengths[0] for n in lengths], ls="--", color="grey",
            label="linear")  # fmt: skip
    ax.set(xscale="log", yscale="log", xlabel="sequence length L", ylabel="seconds per update",
           title=f"training step time, batch {cfg.batch}")  # fmt: skip
    ax.legend(fontsize="small")
    fig.tight_layout()
    assert math.isfinite(sum(sum(v) for v in times.values()))
    return Result(metrics=metrics, plots=[save_figure(fig, ctx.path("step_time.png"))])
