r"""Experiment ``gan-stability``: does the critic's loss track quality; which stabilizer is stable?

Three claims of the WGAN / WGAN-GP / SN-GAN papers (Arjovsky et al. 2017, arXiv:1701.07875,
Sec. 4.2 and Fig. 3-4; Gulrajani et al. 2017, arXiv:1704.00028, Sec. 4-5; Miyato et al. 2018,
arXiv:1802.05957, Sec. 4.2 and Fig. 1), measured on the ring of 8 Gaussians with the players,
task and optimizers of ``gan-mixture`` (:mod:`replearn.experiments.gan.toy`: MLPs of 3 x 64,
``wgan`` = weight clipping 0.01 + RMSprop + 5 critic steps, ``wgan-gp`` = lambda 0.1 + Adam(0.5,
0.9) + 5 critic steps, ``minimax`` = BCE + saturating G loss + Adam(0.5)); ``sn`` is the
non-saturating GAN whose discriminator has spectral normalization on every layer
(:func:`replearn.gan.tricks.apply_spectral_norm`, Adam(0.5), one D step, as Miyato et al.).

Sample quality is measured exactly on the 2-D samples: every ``engine.eval_every`` steps,
``n_quality`` generated points (fixed noise per seed) are compared with ``n_quality`` data points
(fixed per seed) by the empirical Wasserstein-1 distance, Eq. (1), an optimal assignment
(``scipy.optimize.linear_sum_assignment``; exact for two sets of equal-weight atoms). At the same
points the discriminator's own estimate of the divergence, :math:`-L_D` on that fixed batch, is
recorded (WGAN: :math:`\mathbb{E} f(x) - \mathbb{E} f(G(z))`, the W1 estimate; minimax:
:math:`\mathbb{E}\log D(x) + \mathbb{E}\log(1 - D(G(z)))`, :math:`2\,\mathrm{JS} - \log 4` at the
optimal D).

.. math::

    W_1(\hat P, \hat Q) = \min_{\pi \in S_n} \frac1n \sum_i \|x_i - y_{\pi(i)}\|_2      \qquad (1)

    \mathrm{osc}(w_{1..k}) = \frac{1}{k-1}\Bigl(\sum_t |w_{t+1} - w_t| - |w_k - w_1|\Bigr)
                                                                                        \qquad (2)

    \rho = \mathrm{Spearman}\bigl(-L_D(t),\; W_1(t)\bigr) \text{ over the evaluation steps } t
                                                                                        \qquad (3)

Eq. (2) is the step-to-step variation of the quality curve that its net trend does not explain
(0 for a monotone curve): the "smoothness" of claim 2, over the last half of the evaluations.
A constant estimate (Spearman undefined) counts as :math:`\rho = 0` (it tracks nothing).
Claim 3 trains ``wgan``, ``wgan-gp`` and ``sn`` at each rate of ``lrs`` (both players; the rate
``lr`` is shared with claims 1-2) and counts the rates whose final :math:`W_1` is at most
``w1_threshold`` (0.35, fixed before any GAN was trained from the data-vs-data floor: about 0.16
at 512 points; one missing mode of 8 costs about 0.2 more); a run whose loss turns non-finite
counts as not reaching it. Every threshold was fixed before a verdict was seen.

Tests (tests/gan/test_gan_stability.py): Eq. (1) against ``scipy.stats.wasserstein_distance`` on
points of a line and a translation in closed form; Eq. (2) on monotone and alternating curves;
the verdicts on fabricated metrics. Writes ``tracking.png``, ``smoothness.png``, ``lr_grid.png``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from scipy.stats import spearmanr
from torch import Tensor

from replearn.data import toy2d
from replearn.engine import EngineConfig, Loop, RunContext, SampleStream, single_thread
from replearn.engine.callbacks import NonFiniteLossError
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import train_variant
from replearn.experiments.gan import gan_stability_plots as P
from replearn.experiments.gan.toy import ToyGANTask, build_players, optimizers
from replearn.experiments.stats import compare_seeds, too_few_seeds
from replearn.gan.tricks import apply_spectral_norm

METHODS = ("minimax", "wgan", "wgan-gp", "sn")
GRID_METHODS = ("wgan", "wgan-gp", "sn")


def empirical_w1(x: Tensor, y: Tensor) -> float:
    """Eq. (1): W1 between two equal-size point sets (optimal assignment, float64).

    Shape:
        x: (n, d), y: (n, d) -> float.
    """
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"need two (n, d) sets of equal size, got {x.shape} and {y.shape}")
    cost = torch.cdist(x.double(), y.double()).cpu().numpy()
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def oscillation(values: Any) -> float:
    """Eq. (2): step-to-step variation not explained by the net change (0 when monotone).

    Shape:
        values: (k,), k >= 2 -> float.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or len(v) < 2:
        raise ValueError(f"need a curve of >= 2 values, got shape {v.shape}")
    return float((np.abs(np.diff(v)).sum() - abs(v[-1] - v[0])) / (len(v) - 1))


def tracking_correlation(estimate: Any, w1: Any) -> float:
    """Eq. (3): Spearman rank correlation of the estimate with W1 (0 when undefined)."""
    e, w = np.asarray(estimate, dtype=np.float64), np.asarray(w1, dtype=np.float64)
    if np.ptp(e) == 0 or np.ptp(w) == 0:
        return 0.0
    return float(spearmanr(e, w).statistic)


class QualityTask(ToyGANTask):
    """:class:`ToyGANTask` whose ``validate`` measures W1 (Eq. 1) and -L_D on a fixed batch."""

    def __init__(self, *args: Any, eval_real: Tensor, eval_z: Tensor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register_buffer("eval_real", eval_real, persistent=False)
        self.register_buffer("eval_z", eval_z, persistent=False)

    @torch.no_grad()
    def validate(self, loop: Loop) -> dict[str, float]:
        was = self.training
        self.eval()
        fake = self.G(self.eval_z)
        estimate = -float(self._d_loss(self.D, self.eval_real, fake))
        ok = bool(torch.isfinite(fake).all())
        w1 = empirical_w1(fake, self.eval_real) if ok else math.nan
        self.train(was)
        return {"val_w1": w1, "val_d_estimate": estimate}


@dataclass(frozen=True)
class Config:
    """Config of ``gan-stability``.

    Attributes:
        seeds: training seeds (initialization, noise, data stream, evaluation sets).
        z_dim: latent dimension.
        hidden: width of the hidden layers of both players.
        depth: hidden layers of both players.
        lr: learning rate of claims 1-2 (must be one of ``lrs``).
        lrs: learning rates of claim 3 (both players).
        n_critic: critic steps per generator step of ``wgan`` and ``wgan-gp``.
        clip: weight-clipping bound of ``wgan``.
        gp_weight: gradient-penalty weight of ``wgan-gp`` (0.1, Gulrajani et al.'s 2-D code).
        n_quality: generated and data points of each W1 measurement (Eq. 1).
        corr_threshold: claim 1's Spearman threshold.
        w1_threshold: claim 3's final-W1 threshold of a run that trained.
        engine: training-loop settings; ``eval_every`` sets the evaluation steps,
            ``batch_size`` is the batch of one critic step.
    """

    seeds: tuple[int, ...] = (0, 1, 2)
    z_dim: int = 8
    hidden: int = 64
    depth: int = 3
    lr: float = 1e-3
    lrs: tuple[float, ...] = (2e-4, 1e-3, 5e-3)
    n_critic: int = 5
    clip: float = 0.01
    gp_weight: float = 0.1
    n_quality: int = 512
    corr_threshold: float = 0.7
    w1_threshold: float = 0.35
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=500, batch_size=128, eval_every=25, log_every=25, checkpoint_every=0,
            progress=False, nan_policy="skip",
        )
    )  # fmt: skip

    def __post_init__(self) -> None:
        if not self.seeds or self.lr not in self.lrs:
            raise ValueError(f"need seeds and lr in lrs, got {self.seeds}, {self.lr}, {self.lrs}")
        if not self.engine.eval_every or self.engine.max_steps < 4 * self.engine.eval_every:
            raise ValueError("engine.eval_every must be > 0 and give >= 4 evaluations")


def tiny() -> Config:
    """Seconds: one seed, one rate, 8 steps, small players (a smoke check)."""
    eng = EngineConfig(max_steps=8, batch_size=32, eval_every=2, log_every=2, checkpoint_every=0,
                       progress=False, nan_policy="skip")  # fmt: skip
    return Config(seeds=(0,), hidden=16, depth=2, lrs=(1e-3,), n_quality=32, engine=eng)


def quick() -> Config:
    """About a minute: three seeds, 100 steps, width 32, 128 quality points (a smoke check)."""
    base = Config(hidden=32, n_quality=128)
    eng = dataclasses.replace(base.engine, max_steps=100, eval_every=10, log_every=10)
    return dataclasses.replace(base, engine=eng)


def _seeds_or_none(m: dict[str, Any], *keys: str) -> str | None:
    if any(k not in m for k in keys):
        return "not measured: the run lacks " + ", ".join(k for k in keys if k not in m)
    return too_few_seeds(len(m["seeds"]))


def _verdict_tracking(m: dict[str, Any]) -> tuple[bool, str]:
    if (why := _seeds_or_none(m, "spearman")) is not None:
        return False, why
    wg, mm, t = m["spearman"]["wgan"], m["spearman"]["minimax"], m["corr_threshold"]
    if None in wg or None in mm:
        return False, f"a run diverged (Spearman per seed: WGAN {wg}, minimax {mm})"
    c = compare_seeds(wg, mm, label_x="WGAN", label_y="minimax")
    high, low = all(r >= t for r in wg), all(r < t for r in mm)
    fmt = ", ".join
    return high and low and c.holds, (
        f"Spearman(-L_D, W1) per seed: WGAN {fmt(f'{r:.2f}' for r in wg)} "
        f"({'all' if high else 'not all'} >= {t}); minimax {fmt(f'{r:.2f}' for r in mm)} "
        f"({'all' if low else 'not all'} < {t}); {c.evidence()}"
    )


def _verdict_smooth(m: dict[str, Any]) -> tuple[bool, str]:
    if (why := _seeds_or_none(m, "oscillation")) is not None:
        return False, why
    gp, clip = m["oscillation"]["wgan-gp"], m["oscillation"]["wgan"]
    if None in gp or None in clip:
        return False, f"a run diverged (oscillation per seed: WGAN-GP {gp}, clipping {clip})"
    c = compare_seeds(gp, clip, higher_is_better=False, label_x="WGAN-GP", label_y="clipping")
    return c.holds, (
        f"oscillation of W1 over the last half (Eq. 2) per seed: WGAN-GP "
        f"{', '.join(f'{v:.4f}' for v in gp)}; clipping {', '.join(f'{v:.4f}' for v in clip)}; "
        f"{c.evidence()}"
    )


def _verdict_lr(m: dict[str, Any]) -> tuple[bool, str]:
    if (why := _seeds_or_none(m, "reached")) is not None:
        return False, why
    r = m["reached"]
    cs = [
        compare_seeds(r["sn"], r[k], label_x="SN", label_y=k, unit="") for k in ("wgan", "wgan-gp")
    ]
    counts = "; ".join(f"{k} {r[k]}" for k in GRID_METHODS)
    return all(c.holds for c in cs), (
        f"rates (of {len(m['lrs'])}) reaching W1 <= {m['w1_threshold']} per seed: {counts}; "
        + "; ".join(c.evidence() for c in cs)
    )


CLAIMS = (
    Claim(
        "critic-loss-tracks-quality",
        "Over training, the WGAN (weight clipping) critic's estimate -L_D on a fixed batch tracks "
        "sample quality: its Spearman correlation with the W1 distance of the samples to the data "
        "is >= 0.7 on every seed, the minimax discriminator's -L_D has Spearman < 0.7 on every "
        "seed, and WGAN's correlation exceeds minimax's (compare_seeds, >= 3 seeds).",
        _verdict_tracking,
        "tracking.png",
    ),
    Claim(
        "gp-smoother-than-clipping",
        "The gradient penalty trains more smoothly than weight clipping: the oscillation of the "
        "samples' W1 over the last half of training (Eq. 2) is lower for WGAN-GP than for WGAN "
        "with clipping (paired by seed, compare_seeds, >= 3 seeds).",
        _verdict_smooth,
        "smoothness.png",
    ),
    Claim(
        "sn-stable-across-rates",
        "Spectral normalization is more stable across learning rates than clipping or the "
        "gradient penalty: over a grid of rates spanning 25x, SN-GAN reaches final W1 <= 0.35 at "
        "more rates than WGAN (clipping) and than WGAN-GP (each compare_seeds, >= 3 seeds).",
        _verdict_lr,
        "lr_grid.png",
    ),
)


def _train(cfg: Config, ctx: RunContext, method: str, lr: float, seed: int) -> list[dict] | None:
    """One run; its evaluation rows (step, val_w1, val_d_estimate), or None if it diverged."""
    base = "nonsaturating" if method == "sn" else method
    n_critic = cfg.n_critic if method in ("wgan", "wgan-gp") else 1
    engine = dataclasses.replace(cfg.engine, batch_size=cfg.engine.batch_size * n_critic)
    gen = torch.Generator().manual_seed(20_000 + seed)  # evaluation sets: fixed per seed
    eval_real = toy2d.sample("8gaussians", cfg.n_quality, generator=gen)
    eval_z = torch.randn(cfg.n_quality, cfg.z_dim, generator=gen)
    torch.manual_seed(seed)
    g, d = build_players(base, z_dim=cfg.z_dim, hidden=cfg.hidden, depth=cfg.depth, pack_m=1)
    if method == "sn":
        apply_spectral_norm(d)
    task = QualityTask(
        base, g, d, z_dim=cfg.z_dim, n_critic=n_critic, clip=cfg.clip, gp_weight=cfg.gp_weight,
        eval_real=eval_real, eval_z=eval_z,
    )  # fmt: skip
    stream = SampleStream(
        lambda n, gn: toy2d.sample("8gaussians", n, generator=gn),
        batch_size=engine.batch_size,
        seed=seed,
    )
    try:
        loop = train_variant(
            ctx, f"{method}-lr{lr:g}", task, optimizers(task, lr), stream, engine=engine, seed=seed
        )
    except NonFiniteLossError:
        return None
    rows = [r for r in loop.history if "val_w1" in r]
    return None if not all(math.isfinite(r["val_w1"]) for r in rows) else rows


def _summaries(cfg: Config, curves: dict[str, dict[str, list[Any]]]) -> dict[str, Any]:
    """Per-seed numbers of the three claims (None marks a run that diverged)."""
    base = f"{cfg.lr:g}"

    def w1s(rows: list[dict]) -> list[float]:
        return [r["val_w1"] for r in rows]

    final = {
        k: {lr: [None if r is None else r[-1]["val_w1"] for r in runs] for lr, runs in v.items()}
        for k, v in curves.items()
    }
    spearman = {
        k: [None if r is None else tracking_correlation([x["val_d_estimate"] for x in r], w1s(r))
            for r in curves[k][base]]
        for k in METHODS
    }  # fmt: skip
    osc = {
        k: [None if r is None else oscillation(w1s(r)[len(r) // 2 :]) for r in curves[k][base]]
        for k in GRID_METHODS
    }
    reached = {
        k: [sum(1 for lr in cfg.lrs if (w := final[k][f"{lr:g}"][i]) is not None
                and w <= cfg.w1_threshold) for i in range(len(cfg.seeds))]
        for k in GRID_METHODS
    }  # fmt: skip
    pairs = [[toy2d.sample("8gaussians", cfg.n_quality, generator=torch.Generator().manual_seed(
        30_000 + k + s)) for k in (0, 1_000)] for s in cfg.seeds]  # fmt: skip
    return {
        "seeds": list(cfg.seeds),
        "lrs": list(cfg.lrs),
        "corr_threshold": cfg.corr_threshold,
        "w1_threshold": cfg.w1_threshold,
        "w1_floor_data_vs_data": [empirical_w1(a, b) for a, b in pairs],
        "final_w1": final,
        "spearman": spearman,
        "oscillation": osc,
        "reached": reached,
    }


@experiment(
    "gan-stability",
    topic="gan",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Arjovsky et al. 2017 (arXiv:1701.07875); Gulrajani et al. 2017 (arXiv:1704.00028); "
    "Miyato et al. 2018 (arXiv:1802.05957)",
)
@single_thread()  # small tensors: a second thread only adds synchronisation
def run(cfg: Config, ctx: RunContext) -> Result:
    """Critic loss vs sample quality, GP vs clipping smoothness, SN across learning rates (2-D)."""
    curves: dict[str, dict[str, list[Any]]] = {}  # method -> lr -> per seed rows (or None)
    for method in METHODS:
        rates = (cfg.lr,) if method == "minimax" else cfg.lrs
        curves[method] = {f"{lr:g}": [_train(cfg, ctx, method, lr, s) for s in cfg.seeds]
                          for lr in rates}  # fmt: skip
    base = f"{cfg.lr:g}"
    metrics = _summaries(cfg, curves)
    plots = [
        P.plot_tracking(curves, base, ctx.path("tracking.png")),
        P.plot_smoothness(curves, base, ctx.path("smoothness.png")),
        P.plot_lr_grid(metrics["final_w1"], cfg.lrs, cfg.w1_threshold, ctx.path("lr_grid.png")),
    ]
    return Result(metrics=metrics, plots=plots)
