"""Experiment ``iwae-fashion``: the IWAE bound tightens with k; IWAE training vs ELBO training.

For each of ``seeds`` seeds, the same MLP VAE (same initial weights) is trained twice by the
engine on dynamically binarized images: once on the ELBO and once on the k-sample IWAE
bound (``k_train``; Burda, Grosse & Salakhutdinov 2016). On the fixed binarized test images,
every trained model is scored with the bound :math:`\\mathcal L_k` for each k of ``eval_ks``
(one draw per image; :math:`\\mathcal L_1` is the ELBO) and with the importance-sampled
log-likelihood (``k_eval`` samples, the ``nll_nats``).

Claims: the IWAE bound is tighter than the ELBO and tightens with k (every increment of the
test-average bound along ``eval_ks`` and on to the ``k_eval`` estimate is > 2 standard
errors of the per-image paired difference, for every trained model: both objectives, every
seed); training on the IWAE bound gives a lower test NLL than training on the ELBO, judged
by :func:`~replearn.experiments.stats.compare_seeds` over >= 3 training seeds (both
objectives start from each seed's initial weights; one-sided 95% Student-t lower bound of
the mean paired NLL reduction > 0; per-seed numbers in ``nll_comparison``; "not measured"
with fewer seeds). ``nll_nats`` and ``elbo_nats`` in ``result.json`` are those of the
IWAE-trained model of the first seed.

Writes ``bounds_vs_k.png``, ``nll.png`` and ``samples.png`` (IWAE model).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import torch

from replearn.engine import EngineConfig, RunContext, single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.stats import mean_se, too_few_seeds
from replearn.experiments.vae.common import (
    ImageName,
    bar_plot,
    compare_nll,
    engine,
    evaluate,
    load_images,
    paired_nll,
    plot_samples,
    public,
    train_seeds_and_variants,
)
from replearn.report.plots import line_plot
from replearn.vae.model import VAE

OBJECTIVES = ("elbo", "iwae")


@dataclass(frozen=True)
class Config:
    """Config of ``iwae-fashion``.

    Attributes:
        data: ``digits`` (embedded) or ``fashion-mnist`` (file).
        n_train: training images (None: the whole training split).
        n_test: test images scored (None: all).
        z_dim: latent dimension.
        hidden: hidden widths of the encoder (the decoder mirrors them).
        lr: Adam learning rate.
        k_train: samples of the IWAE training objective.
        eval_ks: k of the test bounds L_k (increasing; 1 is the ELBO).
        k_eval: importance samples of the log-likelihood estimate.
        seeds: training seeds per objective.
        engine: training-loop settings (each model).
    """

    data: ImageName = "digits"
    n_train: int | None = None
    n_test: int | None = None
    z_dim: int = 8
    hidden: tuple[int, ...] = (128, 128)
    lr: float = 1e-3
    k_train: int = 5
    eval_ks: tuple[int, ...] = (1, 5, 50, 500)
    k_eval: int = 5000
    seeds: int = 3
    engine: EngineConfig = field(default_factory=lambda: engine(3000))

    def __post_init__(self) -> None:
        if list(self.eval_ks) != sorted(set(self.eval_ks)) or self.eval_ks[0] < 1:
            raise ValueError(f"eval_ks must be increasing and >= 1, got {self.eval_ks}")
        if self.k_eval <= self.eval_ks[-1]:
            raise ValueError("k_eval must exceed the largest of eval_ks")
        if self.seeds < 1 or self.k_train < 1:
            raise ValueError("need seeds >= 1 and k_train >= 1")


def tiny() -> Config:
    """Seconds: one seed, 40 steps, small k."""
    return Config(
        n_test=64, hidden=(32,), eval_ks=(1, 5), k_eval=20, seeds=1,
        engine=engine(40, batch_size=50),
    )  # fmt: skip


def quick() -> Config:
    """Seconds: three seeds, 40 steps, 100 test images, k up to 20, k = 50 (a smoke check)."""
    return Config(n_test=100, eval_ks=(1, 5, 20), k_eval=50, engine=engine(40))


@torch.no_grad()
def bounds(model: VAE, x: torch.Tensor, ks: tuple[int, ...]) -> dict[int, torch.Tensor]:
    """Per-image one-draw IWAE bounds L_k for each k (chunked for large k)."""
    return {k: model.log_likelihood(x, k, chunk=min(k, 250)).cpu() for k in ks}


def _tight_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    holds = m["min_bound_increment_z"] > 2
    return holds, (
        "test-average bound of the IWAE-trained model (seed 0): "
        + ", ".join(f"L_{k} {v:.3f}" for k, v in m["bounds_iwae_seed0"].items())
        + f" nats; smallest increment over all {m['n_models']} models "
        f"{m['min_bound_increment']:.3f} nats at {m['min_bound_increment_z']:.1f} SE (needs > 2)"
    )


def _nll_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    c = compare_nll(m, "iwae", "elbo", label_x="IWAE-trained", label_y="ELBO-trained")
    rule = too_few_seeds(m["seeds"]) if c is None else f"NLL reduction {c.evidence()}"
    return c is not None and c.holds, (
        f"test NLL (k={m['k_eval']}, nats): ELBO-trained {m['elbo_nll_mean']:.3f}, IWAE-trained "
        f"(k={m['k_train']}) {m['iwae_nll_mean']:.3f} (means over {m['seeds']} seeds); {rule}; "
        f"active units ELBO {m['elbo_active_units_mean']:.1f}, IWAE "
        f"{m['iwae_active_units_mean']:.1f}"
    )


CLAIMS = (
    Claim(
        "iwae-tightens-with-k",
        "The IWAE bound is tighter than the ELBO and tightens with k: L_1 < L_5 < L_50 < ... "
        "< the k=5000 estimate on the test set, each step by more than 2 standard errors, "
        "for every trained model.",
        _tight_verdict,
        "bounds_vs_k.png",
    ),
    Claim(
        "iwae-training-lower-nll",
        "Training on the IWAE bound (k=5) gives a lower test NLL than training on the ELBO "
        "(3 training seeds, each shared by both objectives; one-sided 95% Student-t lower "
        "bound of the mean paired NLL reduction > 0).",
        _nll_verdict,
        "nll.png",
    ),
)


@experiment(
    "iwae-fashion",
    topic="vae",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Burda, Grosse & Salakhutdinov 2016, arXiv:1509.00519",
)
@single_thread()  # small tensors: one thread is faster on a CPU
def run(cfg: Config, ctx: RunContext) -> Result:
    """VAE vs IWAE training; the test bound L_k for growing k; NLL from k=5000 samples."""
    data = load_images(cfg.data, seed=ctx.seed, n_train=cfg.n_train, n_test=cfg.n_test)
    ks = (*cfg.eval_ks, cfg.k_eval)
    metrics: dict[str, Any] = {"data": cfg.data, "k_train": cfg.k_train, "k_eval": cfg.k_eval}
    metrics["seeds"] = cfg.seeds
    curves: dict[str, list[float]] = {}
    nll: dict[str, list[float]] = {o: [] for o in OBJECTIVES}
    active: dict[str, list[int]] = {o: [] for o in OBJECTIVES}
    increments = []  # (mean, se) of every step of every model
    first_iwae = None
    models = train_seeds_and_variants(  # the same initial weights for both objectives
        OBJECTIVES, cfg.seeds, lambda o: VAE(data.x_dim, cfg.z_dim, hidden=cfg.hidden), data,
        cfg.engine, ctx, lr=cfg.lr,
        options=lambda o: {"objective": o, "k": cfg.k_train if o == "iwae" else 1},
    )  # fmt: skip
    for s, objective, model, _ in models:
        ev = evaluate(model, data.test, k_eval=cfg.k_eval)
        b = bounds(model, data.test.to(ctx.device), cfg.eval_ks)
        b[cfg.k_eval] = ev["_ll"]
        for lo, hi in itertools.pairwise(ks):
            increments.append(mean_se(b[hi] - b[lo]))
        curves[f"{objective} seed {s}"] = [float(b[k].mean()) for k in ks]
        nll[objective].append(ev["nll_nats"])
        active[objective].append(ev["active_units"])
        if objective == "iwae" and s == 0:
            first_iwae = model
            metrics.update(public(ev))
            metrics["bounds_iwae_seed0"] = {str(k): float(b[k].mean()) for k in ks}
    metrics.update(paired_nll(nll, "elbo", "iwae", label_x="IWAE-trained", label_y="ELBO-trained"))
    for o in OBJECTIVES:
        metrics[f"{o}_active_units_mean"] = sum(active[o]) / len(active[o])
    worst = min(increments, key=lambda ms: ms[0] / ms[1] if ms[1] > 0 else math.inf)
    metrics["min_bound_increment"] = worst[0]
    metrics["min_bound_increment_z"] = worst[0] / worst[1] if worst[1] > 0 else math.inf
    metrics["n_models"] = 2 * cfg.seeds
    assert first_iwae is not None
    plots = [
        line_plot(ks, curves, ctx.path("bounds_vs_k.png"), xlabel="k", logx=True,
                  ylabel="test L_k [nats]", title=f"{cfg.data}: IWAE bound vs k"),
        bar_plot({f"{o}-trained": metrics[f"{o}_nll_mean"] for o in OBJECTIVES},
                 ctx.path("nll.png"), ylabel=f"test NLL (k={cfg.k_eval}) [nats]",
                 title=f"{cfg.data}: mean over {cfg.seeds} seeds"),
        plot_samples(first_iwae, data, ctx.path("samples.png")),
    ]  # fmt: skip
    return Result(metrics=metrics, model=first_iwae, plots=plots)
