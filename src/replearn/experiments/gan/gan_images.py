"""Experiment ``gan-images``: DCGAN, WGAN-GP, SAGAN, BigGAN and StyleGAN on digits or Fashion-MNIST.

Each model trains through the engine's general loop (:class:`ImageGANTask`: critic
step(s) with ``loop.optimize(d_loss, "d")``, then ``loop.optimize(g_loss, "g")``) on
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
against diversity (recall, FID). Writes ``samples_<model>.png`` and
``truncation.png``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import Tensor, nn

from replearn.data.images import load_classification
from replearn.engine import EngineConfig, Loop, RunContext, Task, fit, single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.gan import losses as L
from replearn.gan.biggan import (
    BigGANDiscriminator,
    BigGANGenerator,
    orthogonal_regularization,
    truncated_noise,
)
from replearn.gan.dcgan import DCGANDiscriminator, DCGANGenerator
from replearn.gan.sagan import SAGANDiscriminator, SAGANGenerator
from replearn.gan.stylegan import StyleGenerator
from replearn.gan.tricks import gradient_penalty
from replearn.metrics import extract, feature_classifier, fid_from_features, inception_score, kid
from replearn.metrics.precision_recall import precision_recall
from replearn.report.plots import save_figure, save_image_grid

MODELS = ("dcgan", "wgan-gp", "sagan", "biggan", "stylegan")


class ImageGANTask(Task):
    """One update: ``n_critic`` critic steps, then one generator step (see the table)."""

    def __init__(
        self, model: str, g: nn.Module, d: nn.Module, *, z_dim: int, n_critic: int = 1
    ) -> None:
        super().__init__()
        self.model, self.G, self.D, self.z_dim, self.n_critic = model, g, d, z_dim, n_critic
        self.conditional = model == "biggan"
        self.loss = {"dcgan": "nonsaturating", "stylegan": "nonsaturating"}.get(model, "hinge")
        if model == "wgan-gp":
            self.loss = "wasserstein"

    def generate(self, z: Tensor, y: Tensor | None) -> Tensor:
        return self.G(z, y) if self.conditional else self.G(z)

    def discriminate(self, x: Tensor, y: Tensor | None) -> Tensor:
        return (self.D(x, y) if self.conditional else self.D(x)).squeeze(1)

    def update(self, batch: Any, loop: Loop) -> dict[str, Tensor]:
        images, labels = batch
        xs, ys = images.chunk(self.n_critic), labels.chunk(self.n_critic)
        out: dict[str, Tensor] = {}
        for real, y in zip(xs, ys, strict=True):
            z = torch.randn(len(real), self.z_dim, device=real.device)
            with loop.autocast():
                fake = self.generate(z, y).detach()
                d_real, d_fake = self.discriminate(real, y), self.discriminate(fake, y)
                if self.loss == "wasserstein":
                    d_loss = L.wasserstein_critic_loss(d_real, d_fake)
                    d_loss = d_loss + gradient_penalty(
                        lambda x, y=y: self.discriminate(x, y), real, fake
                    )
                elif self.loss == "hinge":
                    d_loss = L.discriminator_hinge_loss(d_real, d_fake)
                else:
                    d_loss = L.discriminator_minimax_loss(d_real, d_fake)
            loop.optimize(d_loss, "d")
        real, y = xs[-1], ys[-1]
        z = torch.randn(len(real), self.z_dim, device=real.device)
        with loop.autocast():
            g_out = self.discriminate(self.generate(z, y), y)
            if self.loss == "nonsaturating":
                g_loss = L.generator_nonsaturating_loss(g_out)
            else:
                g_loss = -g_out.mean()  # Wasserstein and hinge generator losses
            if self.conditional:
                ortho = orthogonal_regularization(self.G, 1e-4)
                out["ortho"] = ortho.detach()
                g_loss = g_loss + ortho
        loop.optimize(g_loss, "g")
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), **out}


def build(
    model: str, *, size: int, z_dim: int, width: int, classes: int
) -> tuple[nn.Module, nn.Module]:
    """Generator and discriminator of ``model`` for grey ``size`` x ``size`` images."""
    if model in ("dcgan", "wgan-gp"):
        norm = "none" if model == "wgan-gp" else "batch"
        return (
            DCGANGenerator(z_dim=z_dim, image_size=size, width=width),
            DCGANDiscriminator(image_size=size, width=width, norm=norm),
        )
    if model == "sagan":
        return (
            SAGANGenerator(z_dim=z_dim, image_size=size, width=width),
            SAGANDiscriminator(image_size=size, width=width),
        )
    if model == "biggan":
        return (
            BigGANGenerator(z_dim=z_dim, num_classes=classes, image_size=size, width=width),
            BigGANDiscriminator(num_classes=classes, image_size=size, width=width),
        )
    return (
        StyleGenerator(z_dim=z_dim, w_dim=z_dim, image_size=size, width=width),
        DCGANDiscriminator(image_size=size, width=width, norm="none"),
    )


def optimizers(model: str, task: ImageGANTask, lr: float) -> dict[str, torch.optim.Optimizer]:
    """The optimizers of the table (TTUR for SAGAN and BigGAN)."""
    betas = {"dcgan": (0.5, 0.999), "wgan-gp": (0.5, 0.9), "sagan": (0.0, 0.9)}.get(
        model, (0.0, 0.999) if model == "biggan" else (0.0, 0.99)
    )
    d_lr = 4 * lr if model in ("sagan", "biggan") else lr
    return {
        "d": torch.optim.Adam(task.D.parameters(), lr=d_lr, betas=betas),
        "g": torch.optim.Adam(task.G.parameters(), lr=lr, betas=betas),
    }


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


def tiny() -> Config:
    """Seconds: DCGAN and BigGAN, 3 steps, a 5-step feature classifier, 2 thresholds."""
    return Config(
        models=("dcgan", "biggan"),
        width=8,
        z_dim=12,
        n_eval=64,
        thresholds=(0.5, math.inf),
        classifier_steps=5,
        engine=EngineConfig(max_steps=3, batch_size=16, log_every=1, checkpoint_every=0),
    )


def quick() -> Config:
    """Seconds: DCGAN and BigGAN only, 30 steps, 300 evaluation samples (a smoke check)."""
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


def _verdict_truncation(m: dict[str, Any]) -> tuple[bool, str]:
    if "biggan_truncation" not in m:
        return False, "not measured: needs biggan in models"
    rows = m["biggan_truncation"]
    low, none = rows[0], rows[-1]
    holds = low["precision"] > none["precision"] and low["recall"] < none["recall"]
    table = "; ".join(
        f"t={r['threshold']}: precision {r['precision']:.3f} recall {r['recall']:.3f} "
        f"FID {r['fid']:.2f} IS {r['inception_score']:.2f}"
        for r in rows
    )
    return holds, table


CLAIMS = (
    Claim(
        "truncation-fidelity-diversity",
        "The truncation trick trades diversity for fidelity: sampling BigGAN's latent from a "
        "normal truncated at the smallest threshold gives higher precision (fidelity) and lower "
        "recall (diversity) than no truncation.",
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
    for model in cfg.models:
        torch.manual_seed(ctx.seed)
        g, d = build(model, size=size, z_dim=cfg.z_dim, width=cfg.width, classes=classes)
        n_critic = cfg.n_critic if model == "wgan-gp" else 1
        task = ImageGANTask(model, g, d, z_dim=cfg.z_dim, n_critic=n_critic)
        engine = dataclasses.replace(cfg.engine, batch_size=cfg.engine.batch_size * n_critic)
        with ctx.child(model) as sub:
            loop = fit(task, optimizers(model, task, cfg.lr), train, cfg=engine, ctx=sub)
        task.eval()
        gen = torch.Generator().manual_seed(1234)
        y = (torch.arange(cfg.n_eval) % classes).to(loop.device)
        z = torch.randn(cfg.n_eval, cfg.z_dim, generator=gen).to(loop.device)
        with torch.no_grad():
            fake = task.generate(z, y).cpu()
        scores = _scores(extractor, fake, real_feats)
        metrics.update({f"{model}_{k}": v for k, v in scores.items()})
        metrics[f"{model}_train_s"] = loop.wall_time_s
        plots.append(
            save_image_grid(
                fake[:64],
                ctx.path(f"samples_{model}.png"),
                nrow=8,
                title=model,
                value_range=(-1, 1),
            )
        )
        if model == "biggan":
            rows = []
            for t in cfg.thresholds:
                z = (
                    torch.randn(cfg.n_eval, cfg.z_dim, generator=gen)
                    if math.isinf(t)
                    else (truncated_noise(cfg.n_eval, cfg.z_dim, t, generator=gen))
                )
                with torch.no_grad():
                    imgs = task.generate(z.to(loop.device), y).cpu()
                rows.append(
                    {
                        "threshold": t if not math.isinf(t) else "inf",
                        **_scores(extractor, imgs, real_feats),
                    }
                )
            metrics["biggan_truncation"] = rows
            plots.append(_plot_truncation(rows, ctx.path("truncation.png")))
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
