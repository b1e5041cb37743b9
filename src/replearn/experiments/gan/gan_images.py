"""Experiment ``gan-images``: DCGAN, WGAN-GP, SAGAN, BigGAN and StyleGAN on digits or Fashion-MNIST.

Each model trains through the engine's general loop
(:class:`replearn.experiments.gan.image_gans.ImageGANTask`: critic step(s) with
``loop.optimize(d_loss, "d")``, then ``loop.optimize(g_loss, "g")``) on
the training images scaled to [-1, 1]: 8x8 scikit-learn digits by default (embedded),
28x28 Fashion-MNIST with ``--set data=fashion-mnist``. After training, ``n_eval``
samples are scored against the test images in the feature space of replearn's
classifier (:func:`replearn.metrics.features.feature_classifier`, trained and
cached on first use): FID, KID, Inception Score, precision and recall (k = 3).

======== =================== ============================== =========================
model    players             loss                           optimizers (lr G / D)
======== =================== ============================== =========================
dcgan    DCGAN (BatchNorm)   non-saturating                 Adam(0.5, 0.999) lr / lr
wgan-gp  DCGAN, critic no BN Wasserstein + GP (10), 5 steps Adam(0.5, 0.9) lr / lr
sagan    SAGAN (SN + attn)   hinge                          Adam(0, 0.9) lr / 4 lr (TTUR)
biggan   BigGAN (cond.)      hinge + orthogonal reg. (G)    Adam(0, 0.999) lr / 4 lr
stylegan StyleGAN, DCGAN D   non-saturating                 Adam(0, 0.99) lr / lr
======== =================== ============================== =========================

For BigGAN the truncation trick is swept over ``thresholds`` (fixed class
labels cycling over the classes; ``inf`` = no truncation): fidelity (precision, IS)
against diversity (recall, FID). BigGAN is trained from ``biggan_seeds`` seeds (the
run's seed and the next ones; the first is the one of the table), each swept on the same
noise; the truncation claim compares the smallest threshold with none, paired by seed
(:func:`replearn.experiments.stats.compare_seeds`). Writes ``samples_<model>.png`` and
``truncation.png`` (the first seed's sweep).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import Tensor

from replearn.data.images import load_classification
from replearn.engine import EngineConfig, RunContext, fit, single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.gan.image_gans import MODELS, ImageGANTask, build, optimizers
from replearn.experiments.stats import compare_seeds, too_few_seeds
from replearn.gan.biggan import truncated_noise
from replearn.metrics import extract, feature_classifier, fid_from_features, inception_score, kid
from replearn.metrics.precision_recall import precision_recall
from replearn.report.plots import save_figure, save_image_grid


@dataclass(frozen=True)
class Config:
    """Config of ``gan-images``.

    Attributes:
        data: ``digits`` (8x8, embedded) or ``fashion-mnist`` (28x28, file).
        models: models to train, each from the same seed (names of the table).
        z_dim: latent dimension (a multiple of 3 for BigGAN's chunks).
        width: channels of the first (D) / last (G) convolution.
        lr: generator learning rate (the discriminator's follows the table).
        n_critic: critic steps per generator step for ``wgan-gp``.
        n_eval: generated samples scored after training.
        thresholds: truncation thresholds swept for BigGAN (``inf``: none).
        biggan_seeds: BigGAN training seeds of the truncation sweep (``ctx.seed + s``).
        classifier_steps: train the feature classifier for this many steps instead of
            using the cached default (None: the cached, checksummed classifier).
        engine: training-loop settings (``batch_size`` = the batch of one critic step).
    """

    data: Literal["digits", "fashion-mnist"] = "digits"
    models: tuple[str, ...] = MODELS
    z_dim: int = 48
    width: int = 32
    lr: float = 2e-4
    n_critic: int = 5
    n_eval: int = 1000
    thresholds: tuple[float, ...] = (0.25, 0.5, 1.0, 1.5, 2.0, math.inf)
    biggan_seeds: int = 3
    classifier_steps: int | None = None
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=500, batch_size=64, log_every=100, checkpoint_every=0
        )
    )

    def __post_init__(self) -> None:
        unknown = set(self.models) - set(MODELS)
        if unknown or not self.models:
            raise ValueError(f"models must be among {MODELS}, got {self.models}")
        if self.z_dim % 3:
            raise ValueError(f"z_dim must be a multiple of 3, got {self.z_dim}")
        if self.biggan_seeds < 1:
            raise ValueError(f"biggan_seeds must be >= 1, got {self.biggan_seeds}")


def tiny() -> Config:
    """Seconds: DCGAN and BigGAN (one seed), 3 steps, a 5-step classifier, 2 thresholds."""
    return Config(
        models=("dcgan", "biggan"),
        biggan_seeds=1,
        width=8,
        z_dim=12,
        n_eval=64,
        thresholds=(0.5, math.inf),
        classifier_steps=5,
        engine=EngineConfig(max_steps=3, batch_size=16, log_every=1, checkpoint_every=0),
    )


def quick() -> Config:
    """Seconds: DCGAN and BigGAN (3 seeds), 30 steps, 300 evaluation samples (a smoke check)."""
    base = Config(models=("dcgan", "biggan"), n_eval=300)
    return dataclasses.replace(base, engine=dataclasses.replace(base.engine, max_steps=30))


def _scores(extractor: Any, fake: Tensor, real_feats: Tensor) -> dict[str, float]:
    """FID, KID, IS, precision/recall of images in [-1, 1] against real features."""
    x = (fake.clamp(-1, 1) + 1) / 2
    feats = extract(extractor, x)
    probs = extract(extractor, x, what="probabilities")
    pr = precision_recall(real_feats, feats, k=3)
    return {
        "fid": fid_from_features(real_feats, feats),
        "kid": kid(real_feats, feats, n_subsets=20, subset_size=min(len(real_feats), len(feats)))[
            0
        ],
        "inception_score": inception_score(probs)[0],
        "precision": pr["precision"],
        "recall": pr["recall"],
    }


def _truncation_ends(m: dict[str, Any], key: str) -> tuple[list[float], list[float]]:
    """``key`` at the smallest threshold and without truncation, one value per seed."""
    sweeps = m["biggan_truncation_seeds"]
    return [rows[0][key] for rows in sweeps], [rows[-1][key] for rows in sweeps]


def _verdict_truncation(m: dict[str, Any]) -> tuple[bool, str]:
    if "biggan_truncation_seeds" not in m:
        return False, "not measured: needs biggan in models"
    n = len(m["biggan_truncation_seeds"])
    if (why := too_few_seeds(n)) is not None:
        return False, why
    t_low = m["biggan_truncation_seeds"][0][0]["threshold"]
    p_low, p_none = _truncation_ends(m, "precision")
    r_low, r_none = _truncation_ends(m, "recall")
    fidelity = compare_seeds(p_low, p_none, label_x=f"precision t={t_low}", label_y="none")
    diversity = compare_seeds(
        r_low, r_none, higher_is_better=False, label_x=f"recall t={t_low}", label_y="none"
    )
    table = "; ".join(
        f"t={r['threshold']}: precision {r['precision']:.3f} recall {r['recall']:.3f} "
        f"FID {r['fid']:.2f} IS {r['inception_score']:.2f}"
        for r in m["biggan_truncation_seeds"][0]
    )
    return fidelity.holds and diversity.holds, (
        f"higher precision: {fidelity.evidence()}; lower recall (none minus t={t_low}): "
        f"{diversity.evidence()}; first seed's sweep: {table}"
    )


CLAIMS = (
    Claim(
        "truncation-fidelity-diversity",
        "The truncation trick trades diversity for fidelity: sampling BigGAN's latent from a "
        "normal truncated at the smallest threshold gives higher precision (fidelity) and lower "
        "recall (diversity) than no truncation (each: mean paired difference over >= 3 BigGAN "
        "training seeds, one-sided 95% Student-t lower bound > 0).",
        _verdict_truncation,
        "truncation.png",
    ),
)


@experiment(
    "gan-images",
    topic="gan",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Radford et al. 2016 (arXiv:1511.06434); Gulrajani et al. 2017 (arXiv:1704.00028); "
    "Zhang et al. 2019 (arXiv:1805.08318); Brock et al. 2019 (arXiv:1809.11096); "
    "Karras et al. 2019 (arXiv:1812.04948)",
)
@single_thread()
def run(cfg: Config, ctx: RunContext) -> Result:
    """Train image GANs; score samples with FID/KID/IS/precision/recall; sweep truncation."""
    data = load_classification(cfg.data, val_fraction=0.0, seed=ctx.seed)
    x_train, y_train = data.train.tensors
    train = torch.utils.data.TensorDataset(x_train * 2 - 1, y_train)  # [-1, 1]
    size, classes = data.input_shape[-1], data.num_classes
    extractor = feature_classifier(cfg.data, steps=cfg.classifier_steps)
    real_feats = extract(extractor, data.test.tensors[0])
    metrics: dict[str, Any] = {"data": cfg.data, "real_test_images": len(real_feats)}
    plots = []

    def train_and_sample(model: str, seed: int, name: str) -> tuple[ImageGANTask, Tensor, Any]:
        """Train ``model`` from ``seed`` (child run ``name``); n_eval samples of fixed noise."""
        torch.manual_seed(seed)
        g, d = build(model, size=size, z_dim=cfg.z_dim, width=cfg.width, classes=classes)
        n_critic = cfg.n_critic if model == "wgan-gp" else 1
        task = ImageGANTask(model, g, d, z_dim=cfg.z_dim, n_critic=n_critic)
        engine = dataclasses.replace(cfg.engine, batch_size=cfg.engine.batch_size * n_critic)
        with ctx.child(name, seed=seed) as sub:
            loop = fit(task, optimizers(model, task, cfg.lr), train, cfg=engine, ctx=sub)
        task.eval()
        gen = torch.Generator().manual_seed(1234)
        z = torch.randn(cfg.n_eval, cfg.z_dim, generator=gen)
        with torch.no_grad():
            fake = task.generate(z.to(loop.device), labels.to(loop.device)).cpu()
        metrics[f"{name}_train_s"] = loop.wall_time_s
        return task, fake, gen

    def sweep(task: ImageGANTask, gen: torch.Generator) -> list[dict[str, Any]]:
        """Scores of samples at every truncation threshold (noise drawn from ``gen``)."""
        rows = []
        for t in cfg.thresholds:
            z = (
                torch.randn(cfg.n_eval, cfg.z_dim, generator=gen)
                if math.isinf(t)
                else truncated_noise(cfg.n_eval, cfg.z_dim, t, generator=gen)
            )
            dev = next(task.parameters()).device
            with torch.no_grad():
                imgs = task.generate(z.to(dev), labels.to(dev)).cpu()
            threshold = t if not math.isinf(t) else "inf"
            rows.append({"threshold": threshold, **_scores(extractor, imgs, real_feats)})
        return rows

    labels = torch.arange(cfg.n_eval) % classes
    for model in cfg.models:
        task, fake, gen = train_and_sample(model, ctx.seed, model)
        metrics.update({f"{model}_{k}": v for k, v in _scores(extractor, fake, real_feats).items()})
        grid = ctx.path(f"samples_{model}.png")
        plots.append(save_image_grid(fake[:64], grid, nrow=8, title=model, value_range=(-1, 1)))
        if model == "biggan":
            sweeps = [sweep(task, gen)]
            for s in range(1, cfg.biggan_seeds):  # the same noise for every seed
                sweeps.append(sweep(*train_and_sample(model, ctx.seed + s, f"biggan-{s}")[::2]))
            metrics["biggan_truncation"] = sweeps[0]
            metrics["biggan_truncation_seeds"] = sweeps
            plots.append(_plot_truncation(sweeps[0], ctx.path("truncation.png")))
    return Result(metrics=metrics, plots=plots)


def _plot_truncation(rows: list[dict[str, Any]], path: Any) -> Any:
    labels = [str(r["threshold"]) for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), dpi=100)
    x = np.arange(len(rows))
    axes[0].plot(x, [r["precision"] for r in rows], "o-", label="precision (fidelity)")
    axes[0].plot(x, [r["recall"] for r in rows], "s-", label="recall (diversity)")
    axes[0].legend(fontsize=8)
    axes[1].plot(x, [r["fid"] for r in rows], "o-", color="C3", label="FID")
    ax2 = axes[1].twinx()
    ax2.plot(x, [r["inception_score"] for r in rows], "s-", color="C2", label="IS")
    axes[1].set_ylabel("FID")
    ax2.set_ylabel("IS")
    for ax in axes:
        ax.set_xticks(x, labels)
        ax.set_xlabel("truncation threshold")
    fig.suptitle("BigGAN truncation trick")
    fig.tight_layout()
    return save_figure(fig, path)
