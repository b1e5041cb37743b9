"""Experiment ``ddpm-toy2d``: DDPM and DDIM on 2-D toy densities, MMD to the truth.

An :class:`~replearn.diffusion.MLPDenoiser` is trained with :math:`L_{simple}` (Ho et al.
2020) through the engine (:class:`~replearn.experiments.diffusion.common.DiffusionTask`,
EMA weights, an endless :class:`~replearn.engine.SampleStream` of the density) for
``n_seeds`` seeds. From each seed's EMA model, ``n_samples`` points are drawn with DDPM
ancestral sampling (T network calls) and with deterministic DDIM (Song et al. 2021) on
``ddim_steps`` sub-sequences and on all T steps. Every sample set is compared with a
fresh sample of the true density by the unbiased RBF MMD² (:func:`replearn.metrics.mmd2`,
bandwidth ``mmd_sigma``: a length at the scale of the modes, so the kernel resolves
them). ``mmd_reference`` is the same estimator between two independent true samples of
the same size (the noise floor); ``mmd_gaussian`` is that of a Gaussian with the data's
mean and covariance (what a model that misses the modes gets).

A second model per seed is trained on 8 Gaussians whose mixture weights are
``imbalance`` (normalized): its samples are assigned to the nearest centre and their mode
frequencies compared with the training weights (data-set bias is inherited).

Comparisons of samplers' quality use :func:`~replearn.experiments.stats.compare_seeds` over
>= 3 seeds (paired by seed; else "not measured"); the other claims are checked for every seed.
Sampling speed does not depend on the weights: DDIM with few and with many steps is timed on
the first seed's model in ``timing_rounds`` paired rounds
(:func:`~replearn.experiments.stats.time_rounds`, the order reversing from round to round),
and "faster" reads the 95% interval of the median paired time ratio
(:func:`~replearn.experiments.stats.time_ratio`).

Writes ``samples.png`` (truth, DDPM, DDIM with few steps; seed 0), ``mmd_vs_steps.png``
and ``imbalance.png``. ``result.json``: ``mmd`` (DDPM, mean over seeds) and
``mmd_reference``, per-sampler MMD² and timings, the imbalance frequencies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import matplotlib.pyplot as plt
import torch

from replearn.data import toy2d
from replearn.diffusion import GaussianDiffusion, MLPDenoiser
from replearn.engine import EngineConfig, RunContext, SampleStream, fit, single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import engine_config
from replearn.experiments.diffusion.common import DiffusionTask, timed
from replearn.experiments.stats import (
    MIN_SEEDS,
    SeedComparison,
    TimeRatio,
    compare_seeds,
    mean_se,
    time_ratio,
    time_rounds,
)
from replearn.metrics.mmd import median_bandwidth, mmd2
from replearn.report.plots import DPI, line_plot, save_figure

_engine = partial(engine_config, batch_size=256, log_every=100, progress=False)


@dataclass(frozen=True)
class Config:
    """Config of ``ddpm-toy2d``.

    Attributes:
        data: a 2-D toy density of :mod:`replearn.data.toy2d` (8gaussians, moons, rings...).
        timesteps: diffusion steps T.
        schedule: noise schedule, linear or cosine.
        hidden: width of the MLP denoiser.
        depth: residual blocks of the MLP denoiser.
        lr: Adam learning rate.
        ema_decay: decay of the EMA weights the samples are drawn from.
        n_seeds: training seeds (each trains its own models).
        n_samples: points per sample set for the MMD.
        mmd_sigma: RBF bandwidth of the MMD (None: the median heuristic of two true samples).
        ddim_steps: DDIM step counts to compare (each < timesteps; all T steps are added).
        imbalance: mixture weights of the 8 Gaussians of the imbalanced variant (empty: skip).
        timing_rounds: paired rounds timing DDIM with few vs many steps (after one warm-up
            round); a 95% interval needs >= 6.
        engine: training-loop settings of every model.
    """

    data: str = "8gaussians"
    timesteps: int = 200
    schedule: str = "linear"
    hidden: int = 128
    depth: int = 3
    lr: float = 1e-3
    ema_decay: float = 0.995
    n_seeds: int = 3
    n_samples: int = 2000
    mmd_sigma: float | None = 0.5
    ddim_steps: tuple[int, ...] = (2, 5, 10, 20, 50)
    imbalance: tuple[float, ...] = (1.0, 1.0, 2.0, 2.0, 4.0, 4.0, 8.0, 8.0)
    timing_rounds: int = 15
    engine: EngineConfig = field(default_factory=lambda: _engine(1500))

    def __post_init__(self) -> None:
        if self.n_seeds < 1 or self.n_samples < 10:
            raise ValueError("n_seeds must be >= 1 and n_samples >= 10")
        if any(not 1 <= s < self.timesteps for s in self.ddim_steps):
            raise ValueError(f"ddim_steps must be in [1, {self.timesteps}), got {self.ddim_steps}")
        if self.imbalance and (len(self.imbalance) != 8 or min(self.imbalance) <= 0):
            raise ValueError("imbalance must be 8 positive weights (or empty)")
        toy2d.sample(self.data, 1)  # unknown names fail here


def tiny() -> Config:
    """Seconds: T = 50, one seed, 30 steps (smoke tests)."""
    return Config(
        timesteps=50, hidden=32, depth=1, n_seeds=1, n_samples=200, ddim_steps=(5, 10),
        timing_rounds=2, engine=_engine(30),
    )  # fmt: skip


def quick() -> Config:
    """Seconds: three seeds, T = 50, 40 steps each, 200 samples per set (a smoke check)."""
    return Config(timesteps=50, n_samples=200, ddim_steps=(2, 5, 10, 20), timing_rounds=6,
                  engine=_engine(40))  # fmt: skip


def imbalanced_eight(weights: torch.Tensor) -> Any:
    """Sampler of the 8-Gaussian mixture of :mod:`replearn.data.toy2d` with mixture ``weights``."""
    angles = torch.arange(8) * (2 * math.pi / 8)
    centres = toy2d.EIGHT_RADIUS * torch.stack([angles.cos(), angles.sin()], 1)

    def sample(n: int, g: torch.Generator) -> torch.Tensor:
        k = torch.multinomial(weights, n, replacement=True, generator=g)
        return centres[k] + toy2d.EIGHT_STD * torch.randn(n, 2, generator=g)

    return sample, centres


def _train(cfg: Config, ctx: RunContext, sample_fn: Any, seed: int) -> GaussianDiffusion:
    torch.manual_seed(seed)
    net = MLPDenoiser(dim=2, hidden=cfg.hidden, depth=cfg.depth)
    diff = GaussianDiffusion(net, timesteps=cfg.timesteps, schedule=cfg.schedule)  # type: ignore[arg-type]
    task = DiffusionTask(diff, ema_decay=cfg.ema_decay)
    opt = torch.optim.Adam(diff.parameters(), lr=cfg.lr)
    stream = SampleStream(sample_fn, batch_size=cfg.engine.batch_size, seed=seed)
    fit(task, opt, stream, cfg=cfg.engine, ctx=ctx)
    return task.sampler.eval()


def _evaluate(cfg: Config, model: GaussianDiffusion, seed: int) -> dict[str, Any]:
    g = torch.Generator().manual_seed(10_000 + seed)
    n = cfg.n_samples
    truth, truth2 = toy2d.sample(cfg.data, n, generator=g), toy2d.sample(cfg.data, n, generator=g)
    sigma = cfg.mmd_sigma if cfg.mmd_sigma is not None else median_bandwidth(truth, truth2)
    mean, cov = truth2.mean(0), torch.cov(truth2.T)
    gauss = mean + torch.randn(n, 2, generator=g) @ torch.linalg.cholesky(cov).T

    def mmd(x: torch.Tensor) -> float:
        return mmd2(x, truth, sigma=sigma)

    x_T = torch.randn(n, 2, generator=g).to(next(model.parameters()).device)
    out: dict[str, Any] = {"mmd_reference": mmd(truth2), "mmd_gaussian": mmd(gauss)}
    ddpm, out["time_ddpm_s"] = timed(lambda: model.sample((n, 2), x_T=x_T, generator=g).cpu())
    out["mmd_ddpm"] = mmd(ddpm)
    samples = {"ddpm": ddpm}
    for steps in (*cfg.ddim_steps, cfg.timesteps):
        x, out[f"time_ddim{steps}_s"] = timed(
            lambda s=steps: model.sample((n, 2), x_T=x_T, steps=s).cpu()
        )
        out[f"mmd_ddim{steps}"] = mmd(x)
        samples[f"ddim{steps}"] = x
    return {"metrics": out, "samples": samples, "truth": truth}


def time_steps(
    cfg: Config, model: GaussianDiffusion, few: int, many: int, seed: int
) -> dict[str, Any]:
    """:class:`~replearn.experiments.stats.TimeRatio` (as a dict) of DDIM with ``few`` over
    ``many`` steps, ``n_samples`` points from one fixed x_T, ``cfg.timing_rounds`` paired rounds."""
    g = torch.Generator().manual_seed(30_000 + seed)
    x_T = torch.randn(cfg.n_samples, 2, generator=g).to(next(model.parameters()).device)
    shape = (cfg.n_samples, 2)
    jobs = {f"ddim{s}": (lambda s=s: model.sample(shape, x_T=x_T, steps=s).cpu())
            for s in (few, many)}  # fmt: skip
    return time_ratio(time_rounds(jobs, cfg.timing_rounds, warmup=1), f"ddim{few}",
                      f"ddim{many}").as_dict()  # fmt: skip


def _mode_frequencies(
    model: GaussianDiffusion, centres: torch.Tensor, n: int, seed: int
) -> torch.Tensor:
    g = torch.Generator().manual_seed(20_000 + seed)
    x = model.sample((n, 2), generator=g).cpu()
    nearest = torch.cdist(x, centres).argmin(1)
    return torch.bincount(nearest, minlength=8).double() / n


def _plot_samples(
    path: Any, truth: torch.Tensor, samples: dict[str, torch.Tensor], few: int
) -> Any:
    sets = {
        "truth": truth,
        "DDPM (T steps)": samples["ddpm"],
        f"DDIM {few} steps": samples[f"ddim{few}"],
    }
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.6), dpi=DPI)
    for ax, (name, pts) in zip(axes, sets.items(), strict=True):
        ax.hist2d(
            pts[:, 0].numpy(), pts[:, 1].numpy(), bins=80, range=[[-4, 4], [-4, 4]], cmap="viridis"
        )
        ax.set_title(name)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return save_figure(fig, path)


def _verdict_fit(m: dict[str, Any]) -> tuple[bool, str]:
    ddpm, gauss = m["mmd_ddpm_per_seed"], m["mmd_gaussian_per_seed"]
    holds = all(d < 0.1 * g for d, g in zip(ddpm, gauss, strict=True))
    return holds, (
        f"MMD² DDPM per seed {', '.join(f'{v:.5f}' for v in ddpm)} vs Gaussian fit "
        f"{', '.join(f'{v:.5f}' for v in gauss)} (DDPM < 0.1 x Gaussian required for every "
        f"seed); noise floor {m['mmd_reference']:.5f}"
    )


def _lower(m: dict[str, Any], x: str, y: str, margin: float = 0.0) -> SeedComparison:
    """compare_seeds: is per-seed metric ``x`` lower than ``y`` (by more than -margin)?"""
    x_seeds, y_seeds = m[f"{x}_per_seed"], m[f"{y}_per_seed"]
    lx, ly = (k.replace("mmd_", "").replace("time_", "").removesuffix("_s") for k in (x, y))
    return compare_seeds(x_seeds, y_seeds, higher_is_better=False, margin=margin,
                         label_x=lx, label_y=ly)  # fmt: skip


def steps_comparison(m: dict[str, Any]) -> SeedComparison | None:
    """Larger MMD² with few steps than with many, over seeds; None with < 3 seeds."""
    few, many = m["steps_few"], m["steps_many"]
    if m["n_seeds"] < MIN_SEEDS:
        return None
    return _lower(m, f"mmd_ddim{many}", f"mmd_ddim{few}")


def marginals_comparisons(m: dict[str, Any]) -> tuple[SeedComparison, SeedComparison] | None:
    """Two one-sided tests: DDIM (T steps) and DDPM MMD² within 0.1 x the Gaussian fit's."""
    if m["n_seeds"] < MIN_SEEDS:
        return None
    ddim, tol = f"mmd_ddim{m['timesteps']}", 0.1 * m["mmd_gaussian"]
    return _lower(m, ddim, "mmd_ddpm", -tol), _lower(m, "mmd_ddpm", ddim, -tol)


def _verdict_steps(m: dict[str, Any]) -> tuple[bool, str]:
    few, many = m["steps_few"], m["steps_many"]
    c = steps_comparison(m)
    speed = TimeRatio(**m["steps_time_ratio"])
    rule = f"not measured: needs >= {MIN_SEEDS} seeds" if c is None else (
        f"MMD² saved by more steps: {c.evidence()}"
    )  # fmt: skip
    return c is not None and c.holds and speed.below(1.0), (
        f"MMD² DDIM {few} steps {m[f'mmd_ddim{few}']:.5f} vs {many} steps "
        f"{m[f'mmd_ddim{many}']:.5f} (means over {m['n_seeds']} seeds); {rule}; sampling time "
        f"(one model, paired rounds): {speed.evidence()}, interval below 1: {speed.below(1.0)}"
    )


def _verdict_marginals(m: dict[str, Any]) -> tuple[bool, str]:
    t = m["timesteps"]
    cs = marginals_comparisons(m)
    rule = f"not measured: needs >= {MIN_SEEDS} seeds" if cs is None else (
        f"tolerance +-{0.1 * m['mmd_gaussian']:.5f} (0.1 x Gaussian fit); lower MMD² of DDIM: "
        f"{cs[0].evidence()}; of DDPM: {cs[1].evidence()}"
    )  # fmt: skip
    return cs is not None and cs[0].holds and cs[1].holds, (
        f"deterministic DDIM with all {t} steps MMD² {m[f'mmd_ddim{t}']:.5f} vs DDPM ancestral "
        f"{m['mmd_ddpm']:.5f} (means over {m['n_seeds']} seeds); {rule}"
    )


def _verdict_imbalance(m: dict[str, Any]) -> tuple[bool, str]:
    if "imbalance_tv_train" not in m:
        return False, "imbalanced variant not run (imbalance = ())"
    tv, tv_u = m["imbalance_tv_train"], m["imbalance_tv_uniform"]
    holds = max(tv) < min(tv_u) / 3
    return holds, (
        f"total variation between sample mode frequencies and the training weights per seed "
        f"{', '.join(f'{v:.3f}' for v in tv)} vs between the samples and uniform "
        f"{', '.join(f'{v:.3f}' for v in tv_u)} (first < a third of second required); "
        f"sample frequencies (seed 0) {m['imbalance_freq_seed0']}, training "
        f"{m['imbalance_weights']}"
    )


CLAIMS = (
    Claim("ddpm-fits-density", "DDPM fits a multimodal 2-D density: its samples' MMD² to the "
          "truth is below a tenth of that of the best Gaussian, for every seed.",
          _verdict_fit, "samples.png"),
    Claim("fewer-steps-tradeoff", "Fewer sampling steps trade quality for speed: deterministic "
          "DDIM with few steps is faster but has a larger MMD² than with many steps (MMD²: "
          "paired over 3 training seeds, one-sided 95% Student-t lower bound > 0; time: the 95% "
          "interval of the paired time ratio few / many over interleaved rounds below 1).",
          _verdict_steps, "mmd_vs_steps.png"),
    Claim("ddim-same-marginals", "DDIM's non-Markovian deterministic sampler uses the DDPM "
          "network unchanged (same marginals q(x_t|x_0)): with all T steps it reaches DDPM's "
          "sample quality (MMD² within +-0.1 x the Gaussian fit's, by two one-sided 95% "
          "Student-t bounds over 3 training seeds).", _verdict_marginals, "mmd_vs_steps.png"),
    Claim("imbalance-inherited", "A diffusion model reproduces the class imbalance of its "
          "training data: the mode frequencies of its samples follow the training weights.",
          _verdict_imbalance, "imbalance.png"),
)  # fmt: skip


@experiment(
    "ddpm-toy2d",
    topic="diffusion",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Ho, Jain & Abbeel 2020, arXiv:2006.11239; Song, Meng & Ermon 2021, arXiv:2010.02502",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """DDPM and DDIM on a 2-D toy density: MMD to the truth, steps, imbalance."""
    per_seed: list[dict[str, Any]] = []
    freqs, tv, tv_u = [], [], []
    weights = torch.tensor(cfg.imbalance, dtype=torch.float64)
    first = None
    with single_thread():
        for i in range(cfg.n_seeds):
            seed = ctx.seed + i
            with ctx.child(f"seed{i}", seed=seed) as sub:
                model = _train(cfg, sub, lambda n, g: toy2d.sample(cfg.data, n, generator=g), seed)
            ev = _evaluate(cfg, model, seed)
            per_seed.append(ev["metrics"])
            first = first or (ev, model)
            if cfg.imbalance:
                sampler, centres = imbalanced_eight((weights / weights.sum()).float())
                with ctx.child(f"imbalanced-seed{i}", seed=seed) as sub:
                    imb = _train(cfg, sub, sampler, seed)
                f = _mode_frequencies(imb, centres, cfg.n_samples, seed)
                w = weights / weights.sum()
                freqs.append(f)
                tv.append(0.5 * float((f - w).abs().sum()))
                tv_u.append(0.5 * float((f - 1 / 8).abs().sum()))
    metrics: dict[str, Any] = {"n_seeds": cfg.n_seeds, "timesteps": cfg.timesteps, "data": cfg.data}
    for key in per_seed[0]:
        metrics[key] = mean_se([m[key] for m in per_seed])[0]
        metrics[f"{key}_per_seed"] = [m[key] for m in per_seed]
    metrics["mmd"] = metrics["mmd_ddpm"]
    few, many = min(cfg.ddim_steps, key=lambda s: abs(s - 10)), max(cfg.ddim_steps)
    metrics["steps_few"], metrics["steps_many"] = few, many
    c = steps_comparison(metrics)
    metrics["steps_comparison"] = None if c is None else c.as_dict()
    cs = marginals_comparisons(metrics)
    metrics["marginals_comparisons"] = None if cs is None else [x.as_dict() for x in cs]
    if cfg.imbalance:
        metrics["imbalance_tv_train"], metrics["imbalance_tv_uniform"] = tv, tv_u
        metrics["imbalance_freq_seed0"] = [round(float(v), 4) for v in freqs[0]]
        metrics["imbalance_weights"] = [round(float(v), 4) for v in weights / weights.sum()]
    ev, model = first  # type: ignore[misc]
    with single_thread():
        metrics["steps_time_ratio"] = time_steps(cfg, model, few, many, ctx.seed)
    steps = [*cfg.ddim_steps, cfg.timesteps]
    plots = [
        _plot_samples(ctx.path("samples.png"), ev["truth"], ev["samples"], few),
        line_plot(
            steps,
            {
                "DDIM (eta=0)": [metrics[f"mmd_ddim{s}"] for s in steps],
                "DDPM, T steps": [metrics["mmd_ddpm"]] * len(steps),
                "noise floor": [metrics["mmd_reference"]] * len(steps),
            },
            ctx.path("mmd_vs_steps.png"),
            xlabel="sampling steps", ylabel="MMD² to the truth (mean over seeds)",
            title=f"{cfg.data}: quality vs number of steps", logx=True,
        ),
    ]  # fmt: skip
    if cfg.imbalance:
        fig, ax = plt.subplots(figsize=(5, 3.2), dpi=DPI)
        xs = torch.arange(8)
        ax.bar(xs - 0.2, metrics["imbalance_weights"], width=0.4, label="training weights")
        ax.bar(xs + 0.2, [float(v) for v in torch.stack(freqs).mean(0)], width=0.4, label="samples")
        ax.set(xlabel="mode", ylabel="frequency", title="imbalanced 8 Gaussians")
        ax.legend(fontsize="small")
        fig.tight_layout()
        plots.append(save_figure(fig, ctx.path("imbalance.png")))
    return Result(metrics=metrics, model=model, plots=plots)
