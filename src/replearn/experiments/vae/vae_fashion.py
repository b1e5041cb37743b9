"""Experiment ``vae-fashion``: a VAE on binarized images, what its KL term does, how it is trained.

One MLP :class:`~replearn.vae.model.VAE` (Bernoulli decoder) is trained by the engine on
dynamically binarized images for each KL weight β in ``betas`` (β = 1 is the VAE of Kingma &
Welling; the others are β-VAEs). The β = 1 model gives the test ``nll_nats`` (importance
sampled, ``k_eval`` samples) and ``elbo_nats``, reconstructions, samples and a latent
traversal. Three claims of the course are measured on these models:

* **the KL term keeps q(z|x) near the prior**: as β grows, KL(q(z|x) || p(z)) falls and
  latent units go inactive (posterior collapse; active units as in Burda et al. 2016);
* **the reparameterization gradient has lower variance than the score-function
  (REINFORCE) gradient**: for test images, both estimators of the gradient of
  E_q[log p(x|z)] with respect to the encoder outputs (mu, log sigma^2), with and without a
  constant baseline (the mean of f over independent draws), from the same number of draws;
* **VAE samples are blurrier than the data** (the course's claim, measured): the gradient
  energy (mean squared finite difference) of decoder means of prior draws vs test images
  in grey levels.

Default data: scikit-learn's digits (embedded); ``--set data=fashion-mnist`` for
Fashion-MNIST (set ``n_test`` too: k = 5000 on 10,000 images is slow on a CPU).

Writes ``reconstructions.png``, ``samples.png``, ``traversal.png``, ``beta_sweep.png``,
``grad_variance.png`` and ``sharpness.png``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import torch

from replearn.engine import EngineConfig, RunContext, single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.stats import mean_se
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
        engine: training-loop settings (each β).
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
    engine: EngineConfig = field(default_factory=lambda: engine(3000))

    def __post_init__(self) -> None:
        if 1.0 not in self.betas or min(self.betas) < 0:
            raise ValueError(f"betas must be >= 0 and contain 1.0, got {self.betas}")
        if self.grad_draws < 2 or self.grad_examples < 1:
            raise ValueError("need grad_draws >= 2 and grad_examples >= 1")


def tiny() -> Config:
    """Seconds: two β, 40 steps, small evaluation."""
    return Config(
        n_test=64, hidden=(32,), betas=(1.0, 4.0), k_eval=20, grad_examples=2, grad_draws=50,
        n_samples=64, engine=engine(40, batch_size=50),
    )  # fmt: skip


def quick() -> Config:
    """Seconds: three β, 40 steps, a small evaluation (a smoke check)."""
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


def _kl_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    betas = m["betas"]
    kls = [m[f"beta{b:g}_kl_nats"] for b in betas]
    au = [m[f"beta{b:g}_active_units"] for b in betas]
    kl_falls = all(a > b for a, b in itertools.pairwise(kls))
    au_falls = all(a >= b for a, b in itertools.pairwise(au)) and au[-1] < au[0]
    return kl_falls and au_falls, (
        "beta " + ", ".join(f"{b:g}" for b in betas) + ": KL(q||p) "
        + ", ".join(f"{k:.2f}" for k in kls) + " nats; active units "
        + ", ".join(str(a) for a in au) + f" of {m['z_dim']}"
    )  # fmt: skip


def _grad_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    holds = m["grad_min_ratio_sf"] > 1 and m["grad_min_ratio_sf_baseline"] > 1
    return holds, (
        f"{m['grad_examples']} test images, {m['grad_draws']} draws each: score-function / "
        f"reparameterization variance, geometric mean {m['grad_ratio_sf']:.3g} (min "
        f"{m['grad_min_ratio_sf']:.3g}); with a baseline {m['grad_ratio_sf_baseline']:.3g} "
        f"(min {m['grad_min_ratio_sf_baseline']:.3g})"
    )


def _sharp_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    diff = m["sharpness_data"] - m["sharpness_samples"]
    holds = diff > 2 * m["sharpness_diff_se"]
    return holds, (
        f"gradient energy: data {m['sharpness_data']:.4f}, VAE samples (decoder means) "
        f"{m['sharpness_samples']:.4f}, reconstructions {m['sharpness_reconstructions']:.4f}; "
        f"data - samples {diff:+.4f} (SE {m['sharpness_diff_se']:.4f}; needs > 2 SE)"
    )


CLAIMS = (
    Claim(
        "kl-keeps-q-near-prior",
        "The KL term keeps q(z|x) near the prior: as its weight beta grows, KL(q(z|x)||p(z)) "
        "falls and latent units become inactive (posterior collapse): KL strictly decreasing "
        "and active units non-increasing in beta, fewer at the largest beta than the smallest.",
        _kl_verdict,
        "beta_sweep.png",
    ),
    Claim(
        "reparameterization-lower-variance",
        "The reparameterization gradient of E_q[log p(x|z)] has lower variance than the "
        "score-function (REINFORCE) gradient, with or without a constant baseline, on every "
        "test image measured.",
        _grad_verdict,
        "grad_variance.png",
    ),
    Claim(
        "vae-samples-blurrier",
        "Likelihood-trained VAEs give blurrier samples than the data: the gradient energy of "
        "decoder means of prior samples is below that of the test images by > 2 SE.",
        _sharp_verdict,
        "sharpness.png",
    ),
)


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
    models = {}
    for beta in cfg.betas:
        torch.manual_seed(ctx.seed)  # the same initial weights for every beta
        model = VAE(data.x_dim, cfg.z_dim, hidden=cfg.hidden)
        with ctx.child(f"beta{beta:g}") as sub:
            loop = train(model, data, cfg.engine, sub, lr=cfg.lr, beta=beta)
        k = cfg.k_eval if beta == 1.0 else min(cfg.k_eval, 100)
        ev = public(evaluate(model, data.test, k_eval=k))
        metrics.update({f"beta{beta:g}_{key}": v for key, v in ev.items()})
        if beta == 1.0:
            metrics.update(ev)
            metrics["train_time_s"] = loop.wall_time_s
        models[beta] = model
    vae = models[1.0]
    gen = torch.Generator().manual_seed(ctx.seed)
    var = gradient_variances(
        vae, data.test[: cfg.grad_examples].to(ctx.device), cfg.grad_draws, gen
    )
    for key in ("sf", "sf_baseline"):
        ratios = [a / b for a, b in zip(var[key], var["rep"], strict=True)]
        metrics[f"grad_ratio_{key}"] = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        metrics[f"grad_min_ratio_{key}"] = min(ratios)
    metrics.update({"grad_examples": len(var["rep"]), "grad_draws": cfg.grad_draws})
    metrics["grad_var_rep_mean"] = sum(var["rep"]) / len(var["rep"])
    with torch.no_grad():
        samples = vae.sample(cfg.n_samples, generator=gen).cpu()
        recon = vae.decode_mean(vae.encode(data.test.to(ctx.device))[0]).cpu()
    side = data.side
    s_data = image_sharpness(data.test_grey.reshape(-1, *side))
    s_samp = image_sharpness(samples.reshape(-1, *side))
    (md, sd), (ms, ss) = mean_se(s_data), mean_se(s_samp)
    metrics.update({
        "sharpness_data": md, "sharpness_samples": ms, "sharpness_diff_se": math.hypot(sd, ss),
        "sharpness_reconstructions": float(image_sharpness(recon.reshape(-1, *side)).mean()),
    })  # fmt: skip
    betas = list(cfg.betas)
    plots = [
        plot_reconstructions(vae, data, ctx.path("reconstructions.png")),
        plot_samples(vae, data, ctx.path("samples.png")),
        plot_traversal(vae, data, ctx.path("traversal.png")),
        line_plot(
            betas,
            {
                "KL(q||p) [nats]": [metrics[f"beta{b:g}_kl_nats"] for b in betas],
                "active units": [metrics[f"beta{b:g}_active_units"] for b in betas],
            },
            ctx.path("beta_sweep.png"),
            xlabel="beta",
            ylabel="value",
            logx=True,
            title=f"{cfg.data}: the KL weight pulls q(z|x) to the prior",
        ),
        line_plot(
            list(range(len(var["rep"]))),
            {
                "reparameterization": var["rep"],
                "score function": var["sf"],
                "score function + baseline": var["sf_baseline"],
            },
            ctx.path("grad_variance.png"),
            xlabel="test image",
            logy=True,
            ylabel="total variance of the estimate",
            title="gradient of E_q[log p(x|z)]",
        ),
        bar_plot(
            {
                "test images": md,
                "VAE samples": ms,
                "reconstructions": metrics["sharpness_reconstructions"],
            },
            ctx.path("sharpness.png"),
            ylabel="mean squared finite difference",
            title=f"{cfg.data}: sharpness (gradient energy)",
        ),
    ]
    return Result(metrics=metrics, model=vae, plots=plots)
