"""Experiment ``vae-fashion``: a VAE on binarized images, what its KL term does, how it is trained.

For each of ``seeds`` training seeds, one MLP :class:`~replearn.vae.model.VAE` (Bernoulli
decoder) is trained by the engine on dynamically binarized images for each KL weight β in
``betas`` (β = 1 is the VAE of Kingma & Welling; the others are β-VAEs; all β of a seed
share its initial weights). The β = 1 model of the first seed gives the test ``nll_nats``
(importance sampled, ``k_eval`` samples) and ``elbo_nats``, reconstructions, samples and a
latent traversal. Three claims of the course are measured on these models:

* **the KL term keeps q(z|x) near the prior**: as β grows, KL(q(z|x) || p(z)) falls and
  latent units go inactive (posterior collapse; active units as in Burda et al. 2016);
* **the reparameterization gradient has lower variance than the score-function
  (REINFORCE) gradient**: for test images, both estimators of the gradient of
  E_q[log p(x|z)] with respect to the encoder outputs (mu, log sigma^2), with and without a
  constant baseline (the mean of f over independent draws), from the same number of draws;
* **VAE samples are blurrier than the data** (the course's claim, measured): the gradient
  energy (mean squared finite difference) of decoder means of prior draws vs test images
  in grey levels.

Comparisons over seeds use :func:`~replearn.experiments.stats.compare_seeds` (>= 3 seeds, else
"not measured"). Until 2026-12-08 the default trained one seed; issue 21 made it 3.

Default data: digits (embedded); ``--set data=fashion-mnist`` (with ``n_test``: k = 5000 on
10,000 images is slow on a CPU). Writes ``reconstructions.png``, ``samples.png``,
``traversal.png``, ``beta_sweep.png``, ``grad_variance.png`` and ``sharpness.png``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import torch

from replearn.engine import EngineConfig, RunContext, single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.stats import (
    MIN_SEEDS,
    SeedComparison,
    compare_seeds,
    mean_se,
    too_few_seeds,
)
from replearn.experiments.vae.common import (
    ImageName,
    bar_plot,
    engine,
    evaluate,
    load_images,
    plot_reconstructions,
    plot_samples,
    plot_traversal,
    public,
    train,
)
from replearn.report.plots import line_plot
from replearn.vae.diagnostics import image_sharpness
from replearn.vae.gradients import reparameterization_gradient, score_function_gradient
from replearn.vae.model import VAE


@dataclass(frozen=True)
class Config:
    """Config of ``vae-fashion``.

    Attributes:
        data: ``digits`` (embedded) or ``fashion-mnist`` (file).
        n_train: training images (None: the whole training split).
        n_test: test images scored (None: all).
        z_dim: latent dimension.
        hidden: hidden widths of the encoder (the decoder mirrors them).
        lr: Adam learning rate.
        betas: KL weights trained; must contain 1.0 (the VAE itself).
        k_eval: importance samples of the log-likelihood estimate.
        grad_examples: test images whose gradient variances are measured.
        grad_draws: draws of each estimator per image.
        n_samples: prior samples scored for sharpness.
        seeds: training seeds (each trains one VAE per β).
        engine: training-loop settings (each β and seed).
    """

    data: ImageName = "digits"
    n_train: int | None = None
    n_test: int | None = None
    z_dim: int = 8
    hidden: tuple[int, ...] = (128, 128)
    lr: float = 1e-3
    betas: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)
    k_eval: int = 5000
    grad_examples: int = 16
    grad_draws: int = 1000
    n_samples: int = 1000
    seeds: int = 3
    engine: EngineConfig = field(default_factory=lambda: engine(3000))

    def __post_init__(self) -> None:
        if 1.0 not in self.betas or min(self.betas) < 0:
            raise ValueError(f"betas must be >= 0 and contain 1.0, got {self.betas}")
        if self.grad_draws < 2 or self.grad_examples < 1:
            raise ValueError("need grad_draws >= 2 and grad_examples >= 1")
        if self.seeds < 1:
            raise ValueError(f"need seeds >= 1, got {self.seeds}")


def tiny() -> Config:
    """Seconds: two β, one seed, 40 steps, small evaluation."""
    return Config(
        n_test=64, hidden=(32,), betas=(1.0, 4.0), k_eval=20, grad_examples=2, grad_draws=50,
        n_samples=64, seeds=1, engine=engine(40, batch_size=50),
    )  # fmt: skip


def quick() -> Config:
    """Seconds: three β, three seeds, 40 steps, a small evaluation (a smoke check)."""
    return Config(
        n_test=100, betas=(0.5, 1.0, 4.0), k_eval=50, grad_draws=100, n_samples=200,
        engine=engine(40),
    )  # fmt: skip


def gradient_variances(
    model: VAE, x: torch.Tensor, draws: int, gen: torch.Generator
) -> dict[str, list[float]]:
    """Total variance (trace of the covariance) of each estimator per image, in the order
    reparameterization, score function, score function with a baseline."""
    out: dict[str, list[float]] = {"rep": [], "sf": [], "sf_baseline": []}
    model.eval()
    for xi in x:
        with torch.no_grad():
            mu, log_var = (t.squeeze(0) for t in model.encode(xi.unsqueeze(0)))

        def f(z: torch.Tensor, xi: torch.Tensor = xi) -> torch.Tensor:
            return model.log_px_given_z(xi.unsqueeze(0), z.unsqueeze(1)).squeeze(1)  # (S,)

        eps = torch.randn(draws, mu.shape[0], generator=gen, dtype=mu.dtype).to(mu.device)
        eps_b = torch.randn(draws, mu.shape[0], generator=gen, dtype=mu.dtype).to(mu.device)
        with torch.no_grad():
            baseline = f(mu + torch.exp(0.5 * log_var) * eps_b).mean()  # independent draws
        for key, est in (
            ("rep", reparameterization_gradient(f, mu, log_var, eps)),
            ("sf", score_function_gradient(f, mu, log_var, eps)),
            ("sf_baseline", score_function_gradient(f, mu, log_var, eps, baseline=baseline)),
        ):
            out[key].append(float(sum(g.var(0).sum() for g in est)))
    return out


def kl_steps(m: dict[str, Any]) -> list[SeedComparison] | None:
    """compare_seeds per step of beta: is KL lower at the larger beta? (None: too few seeds)"""
    kls = [m[f"beta{b:g}_kl_nats_per_seed"] for b in m["betas"]]
    if len(kls[0]) < MIN_SEEDS:
        return None
    pairs = itertools.pairwise(zip(m["betas"], kls, strict=True))
    return [
        compare_seeds(hi, lo, higher_is_better=False, label_x=f"beta {b:g}", label_y=f"beta {a:g}")
        for (a, lo), (b, hi) in pairs
    ]


def _kl_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    betas = m["betas"]
    kls = [m[f"beta{b:g}_kl_nats"] for b in betas]
    au = list(zip(*(m[f"beta{b:g}_active_units_per_seed"] for b in betas), strict=True))
    au_falls = all(all(a >= b for a, b in itertools.pairwise(r)) and r[-1] < r[0] for r in au)
    steps = kl_steps(m)
    if steps is None:
        kl_text, kl_falls = too_few_seeds(m["seeds"]), False
    else:
        weakest = min(steps, key=lambda c: c.lower - c.margin)
        kl_falls = all(c.holds for c in steps)
        kl_text = (
            "KL reduction per step of beta, 95% lower bounds "
            + ", ".join(f"{c.lower:+.3g}" for c in steps)
            + f"; weakest step: {weakest.evidence()}"
        )
    return kl_falls and au_falls, (
        "beta " + ", ".join(f"{b:g}" for b in betas) + ": KL(q||p) "
        + ", ".join(f"{k:.3g}" for k in kls) + f" nats (means over {m['seeds']} seeds); "
        + kl_text + "; active units per seed "
        + "; ".join(", ".join(str(a) for a in row) for row in au)
        + f" of {m['z_dim']} (non-increasing in beta and fewer at the largest: "
        + f"{'every seed' if au_falls else 'not every seed'})"
    )  # fmt: skip


def _grad_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    holds = m["grad_min_ratio_sf"] > 1 and m["grad_min_ratio_sf_baseline"] > 1
    return holds, (
        f"{m['grad_examples']} test images x {m['seeds']} seeds' beta = 1 models, "
        f"{m['grad_draws']} draws each: score-function / reparameterization variance, "
        f"geometric mean {m['grad_ratio_sf']:.3g} (min {m['grad_min_ratio_sf']:.3g}); with a "
        f"baseline {m['grad_ratio_sf_baseline']:.3g} (min {m['grad_min_ratio_sf_baseline']:.3g})"
    )


def sharpness_comparison(m: dict[str, Any]) -> SeedComparison | None:
    """Data minus sample gradient energy over seeds (compare_seeds; None with too few seeds)."""
    samples = m["sharpness_samples_per_seed"]
    if len(samples) < MIN_SEEDS:
        return None
    data = [m["sharpness_data"]] * len(samples)
    return compare_seeds(data, samples, label_x="data", label_y="VAE samples")


def _sharp_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    z = m["sharpness_z_per_seed"]
    c = sharpness_comparison(m)
    holds = c is not None and c.holds and min(z) > 2
    return holds, (
        f"gradient energy: data {m['sharpness_data']:.4f}, VAE samples (decoder means) "
        f"{m['sharpness_samples']:.4f}, reconstructions {m['sharpness_reconstructions']:.4f} "
        f"(means over {m['seeds']} seeds); data - samples per seed in image-level SE "
        + ", ".join(f"{v:.1f}" for v in z) + " (each > 2 required); "
        + (too_few_seeds(m["seeds"]) if c is None else f"over seeds {c.evidence()}")
    )  # fmt: skip


CLAIMS = (
    Claim(
        "kl-keeps-q-near-prior",
        "The KL term keeps q(z|x) near the prior: as its weight beta grows, KL(q(z|x)||p(z)) "
        "falls and latent units become inactive (posterior collapse): KL strictly decreasing "
        "in beta (every step: one-sided 95% Student-t lower bound of the mean paired KL "
        "reduction over 3 training seeds > 0) and, for every seed, active units "
        "non-increasing in beta and fewer at the largest beta than the smallest.",
        _kl_verdict,
        "beta_sweep.png",
    ),
    Claim(
        "reparameterization-lower-variance",
        "The reparameterization gradient of E_q[log p(x|z)] has lower variance than the "
        "score-function (REINFORCE) gradient, with or without a constant baseline, on every "
        "test image measured, for the beta = 1 VAE of each of 3 training seeds.",
        _grad_verdict,
        "grad_variance.png",
    ),
    Claim(
        "vae-samples-blurrier",
        "Likelihood-trained VAEs give blurrier samples than the data: the gradient energy of "
        "decoder means of prior samples is below that of the test images, for each of 3 "
        "training seeds by > 2 SE over images, and over the seeds (one-sided 95% Student-t "
        "lower bound of the mean difference > 0).",
        _sharp_verdict,
        "sharpness.png",
    ),
)


def _score(
    vae: VAE, data: Any, cfg: Config, seed: int, device: torch.device
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Gradient-variance ratios and sharpness of one seed's beta = 1 model (and its variances)."""
    gen = torch.Generator().manual_seed(seed)
    var = gradient_variances(vae, data.test[: cfg.grad_examples].to(device), cfg.grad_draws, gen)
    out: dict[str, Any] = {
        f"ratios_{key}": [a / b for a, b in zip(var[key], var["rep"], strict=True)]
        for key in ("sf", "sf_baseline")
    }
    out["grad_var_rep_mean"] = sum(var["rep"]) / len(var["rep"])
    with torch.no_grad():
        samples = vae.sample(cfg.n_samples, generator=gen).cpu()
        recon = vae.decode_mean(vae.encode(data.test.to(device))[0]).cpu()
    side = data.side
    md, sd = mean_se(image_sharpness(data.test_grey.reshape(-1, *side)))
    ms, ss = mean_se(image_sharpness(samples.reshape(-1, *side)))
    out.update({
        "sharpness_data": md, "sharpness_samples": ms,
        "sharpness_z": (md - ms) / math.hypot(sd, ss),
        "sharpness_reconstructions": float(image_sharpness(recon.reshape(-1, *side)).mean()),
    })  # fmt: skip
    return out, var


@experiment(
    "vae-fashion",
    topic="vae",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Kingma & Welling 2014, arXiv:1312.6114; Higgins et al. 2017 (beta-VAE)",
)
@single_thread()  # small tensors: one thread is faster on a CPU
def run(cfg: Config, ctx: RunContext) -> Result:
    """Train a VAE per KL weight beta; likelihood, KL and collapse, gradient variance, sharpness."""
    data = load_images(cfg.data, seed=ctx.seed, n_train=cfg.n_train, n_test=cfg.n_test)
    metrics: dict[str, Any] = {"data": cfg.data, "z_dim": cfg.z_dim, "betas": list(cfg.betas)}
    metrics["seeds"] = cfg.seeds
    per: dict[str, list[Any]] = {}  # metric -> one value per seed
    ratios: dict[str, list[float]] = {}  # score-function / reparameterization, every image
    vae, var = None, {}
    for s in range(cfg.seeds):
        seed = ctx.seed + s
        for beta in cfg.betas:
            torch.manual_seed(seed)  # the same initial weights for every beta of a seed
            model = VAE(data.x_dim, cfg.z_dim, hidden=cfg.hidden)
            with ctx.child(f"beta{beta:g}-seed{s}", seed=seed) as sub:
                loop = train(model, data, cfg.engine, sub, lr=cfg.lr, beta=beta)
            k = cfg.k_eval if beta == 1.0 else min(cfg.k_eval, 100)
            ev = public(evaluate(model, data.test, k_eval=k))
            for key, v in ev.items():
                per.setdefault(f"beta{beta:g}_{key}", []).append(v)
            if beta == 1.0 and s == 0:
                metrics.update(ev)
                metrics["train_time_s"] = loop.wall_time_s
            if beta == 1.0:
                scores, v_s = _score(model, data, cfg, seed, ctx.device)
                for key in ("sf", "sf_baseline"):
                    ratios.setdefault(key, []).extend(scores.pop(f"ratios_{key}"))
                for key, v in scores.items():
                    per.setdefault(key, []).append(v)
                vae, var = vae or model, var or v_s
    for key, values in per.items():
        metrics[key] = sum(values) / len(values)
        metrics[f"{key}_per_seed"] = values
    for key, rs in ratios.items():  # every image of every seed
        metrics[f"grad_ratio_{key}"] = math.exp(sum(math.log(r) for r in rs) / len(rs))
        metrics[f"grad_min_ratio_{key}"] = min(rs)
    metrics.update({"grad_examples": len(var["rep"]), "grad_draws": cfg.grad_draws})
    steps, sharp_c = kl_steps(metrics), sharpness_comparison(metrics)
    metrics["kl_steps"] = None if steps is None else [c.as_dict() for c in steps]
    metrics["sharpness_comparison"] = None if sharp_c is None else sharp_c.as_dict()
    assert vae is not None
    betas = list(cfg.betas)
    kl_au = {
        "KL(q||p) [nats]": [metrics[f"beta{b:g}_kl_nats"] for b in betas],
        "active units": [metrics[f"beta{b:g}_active_units"] for b in betas],
    }
    sharp = {
        "test images": metrics["sharpness_data"],
        "VAE samples": metrics["sharpness_samples"],
        "reconstructions": metrics["sharpness_reconstructions"],
    }
    names = {
        "rep": "reparameterization",
        "sf": "score function",
        "sf_baseline": "score function + baseline",
    }
    plots = [
        plot_reconstructions(vae, data, ctx.path("reconstructions.png")),
        plot_samples(vae, data, ctx.path("samples.png")),
        plot_traversal(vae, data, ctx.path("traversal.png")),
        line_plot(betas, kl_au, ctx.path("beta_sweep.png"), xlabel="beta", ylabel="value",
                  logx=True, title=f"{cfg.data}: the KL weight pulls q(z|x) to the prior "
                  f"(mean over {cfg.seeds} seeds)"),
        line_plot(list(range(len(var["rep"]))), {names[k]: v for k, v in var.items()},
                  ctx.path("grad_variance.png"), xlabel="test image", logy=True,
                  ylabel="total variance of the estimate",
                  title="gradient of E_q[log p(x|z)] (seed 0)"),
        bar_plot(sharp, ctx.path("sharpness.png"), ylabel="mean squared finite difference",
                 title=f"{cfg.data}: sharpness (gradient energy)"),
    ]  # fmt: skip
    return Result(metrics=metrics, model=vae, plots=plots)
