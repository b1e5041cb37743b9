"""Experiment ``wavenet-demo``: a WaveNet learns a noisy sum of sinusoids and continues it.

The package generates the signal: each window is
``x(t) = sum_k A_k sin(2 pi t / P_k + phi_k) + sigma * eps_t`` with fixed periods
``P_k``, random amplitudes and phases per window, and Gaussian noise; it is
μ-law quantised to ``levels`` levels (:mod:`replearn.cnn.mulaw`). A
:class:`~replearn.cnn.wavenet.WaveNet` is trained with the engine's ``fit`` on
the next-level cross-entropy (Eq. 1 of the paper; ``val_nll_nats`` is its value
on held-out windows, ``ln(levels)`` for a uniform guess). Then, primed with one
receptive field of a fresh window, it generates ``n_generate`` samples twice with
the same random draws: with the per-layer queues of Fast WaveNet (Paine et al.
2016; the queues are filled from the prime in one pass) and naively, re-running
the network over the last receptive field for every sample. Both generations are
then timed in ``timing_rounds`` paired rounds (one of each per round, the order reversed
from round to round: :func:`~replearn.experiments.stats.time_rounds`); ``cache_speedup`` is
the median paired ratio naive / cached and the claim needs its 95% sign-test interval
above 1 (:func:`~replearn.experiments.stats.time_ratio`). ``cache_max_abs_logit_diff``
compares, in float64, the logits of the cached steps with the full forward pass on a
held-out window.
Everything runs on one intra-op thread on CPU: the tensors are small and a second
thread only adds synchronisation (no faster on a quiet 2-core machine, much
slower on a busy one).

Writes ``wavenet_generation.png`` (the real continuation and the generated ones)
and ``wavenet_generation_time.png``.

replearn run wavenet-demo                     # 80 s CPU (314 s wall at load ~5)
replearn run wavenet-demo --preset quick      # ~30 s
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import matplotlib.pyplot as plt
import torch
from torch import Tensor
from torch.utils.data import TensorDataset

from replearn.cnn.mulaw import mu_law_decode, mu_law_encode
from replearn.cnn.wavenet import WaveNet, autoregressive_nll
from replearn.engine import EngineConfig, RunContext, Task, fit
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import count_params, engine_config
from replearn.experiments.stats import time_ratio, time_rounds
from replearn.report.plots import DPI, save_figure

_engine = partial(engine_config, batch_size=16, log_every=25)


@dataclass(frozen=True)
class Config:
    """Settings of the WaveNet generation demo.

    Attributes:
        n_train: training windows.
        n_val: held-out windows (validation NLL, cache check).
        seq_len: samples per window.
        periods: periods P_k of the sinusoids, in samples.
        noise: standard deviation sigma of the additive Gaussian noise.
        levels: μ-law quantisation levels Q (256 in the paper).
        residual_channels: WaveNet residual channels.
        dilation_channels: channels of the gated units.
        skip_channels: skip / output head channels.
        layers_per_stack: dilations 1, 2, ..., 2**(L-1) per stack.
        stacks: repetitions of the dilation pattern.
        lr: Adam learning rate.
        n_generate: samples generated after the prime (cached and naive).
        temperature: sampling temperature.
        timing_rounds: paired rounds timing the two generations (>= 6 for a 95% interval).
        timing_warmup: untimed rounds before them.
        engine: training-loop settings.
    """

    n_train: int = 512
    n_val: int = 32
    seq_len: int = 256
    periods: tuple[float, ...] = (40.0, 13.0)
    noise: float = 0.02
    levels: int = 256
    residual_channels: int = 32
    dilation_channels: int = 32
    skip_channels: int = 64
    layers_per_stack: int = 7
    stacks: int = 1
    lr: float = 3e-3
    n_generate: int = 300
    temperature: float = 1.0
    timing_rounds: int = 15
    timing_warmup: int = 1
    engine: EngineConfig = field(default_factory=lambda: _engine(600, eval_every=200))

    def __post_init__(self) -> None:
        if not self.periods or min(self.periods) <= 1:
            raise ValueError(f"periods must be > 1 sample, got {self.periods}")
        if self.n_generate < 1 or self.n_val < 1:
            raise ValueError("n_generate and n_val must be >= 1")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")


def tiny() -> Config:
    """Seconds: a small network, a few steps, a short generation."""
    return Config(
        n_train=64,
        n_val=4,
        seq_len=96,
        residual_channels=8,
        dilation_channels=8,
        skip_channels=16,
        layers_per_stack=5,
        n_generate=40,
        timing_rounds=1,
        timing_warmup=0,
        engine=_engine(10),
    )


def quick() -> Config:
    """Seconds: 128 training windows, 20 steps, 15 generated samples, 6 timing rounds."""
    return Config(n_train=128, n_generate=15, timing_rounds=6, engine=_engine(20))


def sinusoid_signals(
    n: int, length: int, periods: tuple[float, ...], noise: float, generator: torch.Generator
) -> Tensor:
    """``n`` windows of ``sum_k A_k sin(2 pi t / P_k + phi_k) + noise``, amplitudes summing < 0.9.

    Shape:
        -> (n, length) float32 in [-1, 1].
    """
    t = torch.arange(length, dtype=torch.float64)
    k = len(periods)
    amp = (0.5 + 0.5 * torch.rand(n, k, 1, generator=generator, dtype=torch.float64)) * 0.85 / k
    phase = 2 * math.pi * torch.rand(n, k, 1, generator=generator, dtype=torch.float64)
    freq = torch.tensor([2 * math.pi / p for p in periods], dtype=torch.float64)[None, :, None]
    x = (amp * torch.sin(freq * t + phase)).sum(dim=1)  # (n, length)
    x = x + noise * torch.randn(n, length, generator=generator, dtype=torch.float64)
    return x.clamp(-1.0, 1.0).float()


class WaveNetTask(Task):
    """Next-level cross-entropy (nats per sample) of a WaveNet on batches of level windows."""

    def __init__(self, model: WaveNet) -> None:
        super().__init__()
        self.model = model

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        (x,) = batch  # (B, T) levels
        logits = self.model(x)  # (B, Q, T)
        loss = autoregressive_nll(logits, x)
        accuracy = (logits[..., :-1].detach().argmax(dim=1) == x[:, 1:]).float().mean()
        return loss, {"accuracy": accuracy}


def generate(model: WaveNet, prime: Tensor, cfg: Config, seed: int, method: str) -> Tensor:
    """``cfg.n_generate`` samples of ``model.generate`` with a fixed generator seed."""
    gen = torch.Generator().manual_seed(seed)
    return model.generate(
        cfg.n_generate, prime=prime, temperature=cfg.temperature, generator=gen, method=method
    )


def generation_times(model: WaveNet, prime: Tensor, cfg: Config, seed: int) -> dict[str, Any]:
    """Seconds of the cached and the naive generation per paired round (``time_rounds``)."""
    return time_rounds(
        {m: partial(generate, model, prime, cfg, seed, m) for m in ("cached", "naive")},
        rounds=cfg.timing_rounds,
        warmup=cfg.timing_warmup,
    )


def cache_logit_gap(model: WaveNet, x: Tensor) -> float:
    """Max |logit| difference between cached steps and the full pass, in float64."""
    m = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        full = m(x)  # (B, Q, T)
        cache = m.init_cache(x.shape[0])
        steps = []
        for t in range(x.shape[1]):
            logits, cache = m.step(x[:, t], cache)
            steps.append(logits)
    return float((torch.stack(steps, dim=-1) - full).abs().max())


def _plot_generation(path: Any, prime: Tensor, real: Tensor, generated: Tensor) -> Any:
    fig, ax = plt.subplots(figsize=(9.0, 3.6), dpi=DPI)
    n0, n = prime.numel(), real.numel()
    ax.plot(range(n0), prime.numpy(), color="0.4", linewidth=1, label="prime (real)")
    t = range(n0, n0 + n)
    ax.plot(t, real.numpy(), color="k", linewidth=1, label="real continuation")
    ax.plot(t, generated.numpy(), color="tab:red", linewidth=1, label="WaveNet (cached)")
    ax.axvline(n0, color="0.6", linestyle=":")
    ax.set_xlabel("sample")
    ax.set_ylabel("signal (μ-law decoded)")
    ax.set_title("WaveNet generation, primed with one receptive field")
    ax.legend(fontsize="small", loc="upper left")
    fig.tight_layout()
    return save_figure(fig, path)


def _plot_times(path: Any, cached: float, naive: float, n: int) -> Any:
    fig, ax = plt.subplots(figsize=(4.5, 3.2), dpi=DPI)
    ax.bar(["cached (Paine)", "naive"], [1e3 * cached / n, 1e3 * naive / n], color=["C0", "C1"])
    ax.set_ylabel("ms per generated sample")
    ax.set_title(f"generation time (medians), {naive / cached:.1f}x")
    fig.tight_layout()
    return save_figure(fig, path)


def _verdict(m: dict[str, Any]) -> tuple[bool, str]:
    r = m["speedup_ratio"]
    exact = m["cache_max_abs_logit_diff"] < 1e-9
    faster = r["lo"] is not None and r["lo"] > 1.0
    ci = "no 95% interval" if r["lo"] is None else f"95% interval {r['lo']:.2f}-{r['hi']:.2f}"
    return exact and faster, (
        f"max |cached - full| logit {m['cache_max_abs_logit_diff']:.1e} (float64; rule < 1e-9); "
        f"identical samples {m['cached_naive_agreement']:.3f}; {m['n_generate']} samples in "
        f"{m['generation_time_s']:.3f} s cached vs {m['naive_generation_time_s']:.3f} s naive "
        f"(medians): speed-up naive / cached {r['ratio']:.2f}x ({ci}, {r['rounds']} paired "
        f"rounds; rule: interval above 1; receptive field {m['receptive_field']})"
    )


CLAIMS = (
    Claim(
        "wavenet-cache-exact-and-faster",
        "Fast WaveNet generation (per-layer queues, Paine et al. 2016) gives the same logits "
        "as the full causal forward pass and is faster than naive generation that re-runs "
        "the network over the receptive field for every sample; holds if the float64 logits "
        "differ by < 1e-9 and the 95% interval of the median paired speed-up lies above 1.",
        _verdict,
        "wavenet_generation_time.png",
    ),
)


@experiment(
    "wavenet-demo",
    topic="cnn",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="van den Oord et al. 2016, arXiv:1609.03499; Paine et al. 2016, arXiv:1611.09482",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """WaveNet on a μ-law quantised noisy sum of sinusoids; cached vs naive generation."""
    gen = torch.Generator().manual_seed(ctx.seed)
    signals = sinusoid_signals(cfg.n_train + cfg.n_val, cfg.seq_len, cfg.periods, cfg.noise, gen)
    levels = mu_law_encode(signals, cfg.levels)  # (N, T)
    train, val = levels[: cfg.n_train], levels[cfg.n_train :]
    model = WaveNet(
        quantization_channels=cfg.levels,
        residual_channels=cfg.residual_channels,
        dilation_channels=cfg.dilation_channels,
        skip_channels=cfg.skip_channels,
        layers_per_stack=cfg.layers_per_stack,
        stacks=cfg.stacks,
    ).to(ctx.device)
    task = WaveNetTask(model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    with single_thread():
        loop = fit(
            task, opt, TensorDataset(train), cfg=cfg.engine, ctx=ctx, val_set=TensorDataset(val)
        )
    model = model.cpu().eval()
    r = model.receptive_field
    ref = sinusoid_signals(1, r + cfg.n_generate, cfg.periods, cfg.noise, gen)
    ref = mu_law_encode(ref, cfg.levels)  # (1, r + n_generate): a fresh window
    prime = ref[:, :r]  # one receptive field
    with single_thread(), torch.no_grad():
        val_nll = float(autoregressive_nll(model(val), val))
        cached = generate(model, prime, cfg, ctx.seed, "cached")
        naive = generate(model, prime, cfg, ctx.seed, "naive")
        speedup = time_ratio(generation_times(model, prime, cfg, ctx.seed), "naive", "cached")
        gap = cache_logit_gap(model, val[:1, : min(cfg.seq_len, 2 * r)])
    real = mu_law_decode(ref[0, r:], cfg.levels)
    out = mu_law_decode(cached[0], cfg.levels)
    metrics: dict[str, Any] = {
        "val_nll_nats": val_nll,
        "val_nll_bits": val_nll / math.log(2),
        "uniform_nll_nats": math.log(cfg.levels),
        "receptive_field": r,
        "n_generate": cfg.n_generate,
        "generation_time_s": speedup.t_b,
        "naive_generation_time_s": speedup.t_a,
        "cache_speedup": speedup.ratio,
        "speedup_ratio": speedup.as_dict(),
        "cache_max_abs_logit_diff": gap,
        "cached_naive_agreement": float((cached == naive).float().mean()),
        "continuation_rmse": float((out - real).square().mean().sqrt()),
        "generated_rms": float(out.square().mean().sqrt()),
        "real_rms": float(real.square().mean().sqrt()),
        "train_steps": loop.step,
        "train_time_s": round(loop.wall_time_s, 3),
        "parameters": count_params(model),
    }
    plots = [
        _plot_generation(
            ctx.path("wavenet_generation.png"), mu_law_decode(prime[0], cfg.levels), real, out
        ),
        _plot_times(
            ctx.path("wavenet_generation_time.png"), speedup.t_b, speedup.t_a, cfg.n_generate
        ),
    ]
    return Result(metrics=metrics, model=model, plots=plots)
