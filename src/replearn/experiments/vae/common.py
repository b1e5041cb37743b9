"""Glue shared by the VAE experiments: binarized image data, the training task, evaluation, plots.

Data: grey images in [0, 1] (digits embedded by default, Fashion-MNIST with
``--set data=fashion-mnist``), **dynamically binarized**: every training batch draws
:math:`x \\sim \\mathrm{Bernoulli}(\\text{grey level})` afresh from the global torch RNG (seeded by
the runner and stored in checkpoints); the validation and test images are binarized once,
with a fixed generator, so every model is scored on the same binary images.

Numbers in nats per image: ``nll_nats`` = -(importance-sampled log p(x)) with ``k_eval``
samples, ``elbo_nats`` = the ELBO itself (a lower bound on log p(x), so at most -nll_nats).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

import matplotlib.pyplot as plt
import torch
from torch import Tensor
from torch.utils.data import TensorDataset

from replearn.data import load_classification
from replearn.engine import EngineConfig, Loop, RunContext, Task, fit, single_thread
from replearn.experiments.common import engine_config, seeded
from replearn.experiments.stats import MIN_SEEDS, SeedComparison, compare_seeds
from replearn.report.plots import DPI, save_figure, save_image_grid
from replearn.vae.diagnostics import active_units
from replearn.vae.model import LatentVariableModel

ImageName = Literal["digits", "fashion-mnist"]


@dataclass
class ImageData:
    """Grey training images and fixed binarized validation / test images, flattened.

    Attributes:
        train: ``TensorDataset(grey images (N, P))``, binarized per batch by the task.
        val: ``TensorDataset(binary images)``.
        test: binary test images (N, P).
        test_grey: the same test images in grey levels.
        test_labels: their classes (for the latent maps).
        side: (H, W) of one image.
        name: data set name.
    """

    train: TensorDataset
    val: TensorDataset
    test: Tensor
    test_grey: Tensor
    test_labels: Tensor
    side: tuple[int, int]
    name: str

    @property
    def x_dim(self) -> int:
        return self.side[0] * self.side[1]


def _take(x: Tensor, n: int | None, seed: int) -> Tensor:
    if n is None or n >= len(x):
        return x
    return x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]]


def load_images(
    name: str, *, seed: int, n_train: int | None = None, n_test: int | None = None
) -> ImageData:
    """Load, flatten, subsample (seeded) and binarize the held-out splits (fixed generator)."""
    data = load_classification(name, val_fraction=0.1, seed=seed, flatten=True)
    side = (8, 8) if name == "digits" else (28, 28)
    g = torch.Generator().manual_seed(1234)  # the binarization of val/test never changes
    x_train = _take(data.train.tensors[0], n_train, seed + 1)
    x_val = torch.bernoulli(data.val.tensors[0], generator=g)
    test_x, test_y = data.test.tensors
    if n_test is not None and n_test < len(test_x):
        idx = torch.randperm(len(test_x), generator=torch.Generator().manual_seed(7))[:n_test]
        test_x, test_y = test_x[idx], test_y[idx]
    return ImageData(
        train=TensorDataset(x_train),
        val=TensorDataset(x_val),
        test=torch.bernoulli(test_x, generator=g),
        test_grey=test_x,
        test_labels=test_y,
        side=side,
        name=name,
    )


class VAETask(Task):
    """Maximize the ELBO (``objective='elbo'``, KL weight ``beta``) or the k-sample IWAE bound
    of a :class:`~replearn.vae.model.LatentVariableModel` on dynamically binarized images."""

    def __init__(
        self,
        model: LatentVariableModel,
        *,
        objective: Literal["elbo", "iwae"] = "elbo",
        k: int = 1,
        beta: float = 1.0,
    ) -> None:
        super().__init__()
        if objective not in ("elbo", "iwae"):
            raise ValueError(f"objective must be 'elbo' or 'iwae', got {objective!r}")
        self.model, self.objective, self.k, self.beta = model, objective, k, beta

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        x = torch.bernoulli(batch[0])  # dynamic binarization
        if self.objective == "iwae":
            bound = self.model.iwae(x, self.k).mean()
            return -bound, {"bound": bound.detach()}
        terms = self.model.elbo(x, beta=self.beta)
        loss = -terms.elbo.mean()
        return loss, {"rec": terms.log_px_z.mean().detach(), "kl": terms.kl.mean().detach()}

    def validation_step(self, batch: Any) -> dict[str, Tensor]:
        terms = self.model.elbo(batch[0])  # beta = 1: the bound itself
        return {"loss": -terms.elbo.mean(), "kl": terms.kl.mean()}


#: The engine settings of the VAE experiments: about 5 log lines (at most every 100 updates).
engine = partial(engine_config, batch_size=100, log_lines=5, log_every=100, progress=False)


def train(
    model: LatentVariableModel,
    data: ImageData,
    cfg: EngineConfig,
    ctx: RunContext,
    *,
    lr: float,
    objective: Literal["elbo", "iwae"] = "elbo",
    k: int = 1,
    beta: float = 1.0,
) -> Loop:
    """Adam on the task, through the engine (``ctx`` is usually a child run).

    On a CPU it runs on one intra-op thread: these MLPs are small, and a second thread only
    adds synchronisation (tens of times slower on a busy 2-core machine).
    """
    model.to(ctx.device)
    task = VAETask(model, objective=objective, k=k, beta=beta)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    threads = single_thread() if ctx.device.type == "cpu" else contextlib.nullcontext()
    with threads:
        return fit(task, opt, data.train, cfg=cfg, ctx=ctx, val_set=data.val)


@torch.no_grad()
def evaluate(
    model: LatentVariableModel, x: Tensor, *, k_eval: int, chunk: int = 250
) -> dict[str, Any]:
    """Test metrics: nll_nats (k_eval samples), elbo_nats, its terms, active units.

    Also returns the per-example log-likelihoods and ELBOs (``_ll``, ``_elbo``, tensors) for
    paired comparisons.
    """
    model.eval()
    x = x.to(next(model.parameters()).device)
    with single_thread():
        ll = model.log_likelihood(x, k_eval, chunk=chunk)
    terms = [model.elbo(x) for _ in range(10)]  # 10 draws per image: a low-noise ELBO
    elbo = torch.stack([t.elbo for t in terms]).mean(0)
    mu, _ = model.encode(x)
    n_active, _ = active_units(mu)
    return {
        "nll_nats": float(-ll.mean()),
        "elbo_nats": float(elbo.mean()),
        "rec_nats": float(torch.stack([t.log_px_z for t in terms]).mean()),
        "kl_nats": float(torch.stack([t.kl for t in terms]).mean()),
        "active_units": n_active,
        "_ll": ll.cpu(),
        "_elbo": elbo.cpu(),
    }


def train_seeds_and_variants(
    variants: Sequence[str],
    seeds: int,
    build: Callable[[str], LatentVariableModel],
    data: ImageData,
    cfg: EngineConfig,
    ctx: RunContext,
    *,
    lr: float,
    options: Callable[[str], dict[str, Any]] = lambda variant: {},
) -> Iterator[tuple[int, str, LatentVariableModel, Loop]]:
    """Train every variant on every seed, paired: yields ``(s, variant, model, loop)``.

    For seed index ``s`` each variant starts from ``torch.manual_seed(ctx.seed + s)`` (the same
    initial weights when the variants share an architecture) and is trained by :func:`train`
    with ``options(variant)`` in child run ``<variant>-seed<s>``. The caller scores the model
    before the next one is built.
    """
    for s in range(seeds):
        for variant in variants:
            model = seeded(lambda v=variant: build(v), ctx.seed + s)
            with ctx.child(f"{variant}-seed{s}", seed=ctx.seed + s) as sub:
                loop = train(model, data, cfg, sub, lr=lr, **options(variant))
            yield s, variant, model, loop


def compare_nll(
    m: dict[str, Any], better: str, worse: str, *, label_x: str, label_y: str
) -> SeedComparison | None:
    """Is variant ``better``'s test NLL lower than ``worse``'s? :func:`compare_seeds` (paired
    by seed, Student-t lower bound of the mean NLL reduction) of ``m[f"{v}_nll_per_seed"]``;
    None with fewer than :data:`~replearn.experiments.stats.MIN_SEEDS` seeds."""
    x, y = m[f"{better}_nll_per_seed"], m[f"{worse}_nll_per_seed"]
    if len(x) < MIN_SEEDS:
        return None
    return compare_seeds(
        x, y, higher_is_better=False, label_x=label_x, label_y=label_y
    )  # fmt: skip


def paired_nll(
    nll: dict[str, list[float]], baseline: str, other: str, *, label_x: str, label_y: str
) -> dict[str, Any]:
    """Metrics of a paired NLL comparison over seeds: is ``other`` better than ``baseline``?

    ``<v>_nll_mean`` and ``<v>_nll_per_seed`` of every variant ``v`` in ``nll``, and
    ``nll_comparison`` (:meth:`~replearn.experiments.stats.SeedComparison.as_dict` of
    :func:`compare_nll`, positive differences when ``other`` is better; None with too few
    seeds).
    """
    out: dict[str, Any] = {}
    for v, values in nll.items():
        out[f"{v}_nll_mean"] = sum(values) / len(values)
        out[f"{v}_nll_per_seed"] = values
    c = compare_nll(out, other, baseline, label_x=label_x, label_y=label_y)
    out["nll_comparison"] = None if c is None else c.as_dict()
    return out


def public(metrics: dict[str, Any]) -> dict[str, Any]:
    """Drop the per-example tensors (keys starting with '_')."""
    return {k: v for k, v in metrics.items() if not k.startswith("_")}


# -- plots -------------------------------------------------------------------------------
def _images(x: Tensor, side: tuple[int, int]) -> Tensor:
    return x.detach().cpu().reshape(-1, 1, *side).clamp(0, 1)


@torch.no_grad()
def plot_reconstructions(model: Any, data: ImageData, path: Path, n: int = 16) -> Path:
    """Rows of test images (binary) and the decoder means of one posterior sample each."""
    model.eval()
    x = data.test[:n].to(next(model.parameters()).device)
    z, _ = model.sample_posterior(x, 1)  # (1, n, D)
    recon = model.decode_mean(z[0])
    grid = torch.cat([_images(x, data.side), _images(recon, data.side)])
    return save_image_grid(grid, path, nrow=n, title="test images (top), reconstructions")


@torch.no_grad()
def plot_samples(model: Any, data: ImageData, path: Path, n: int = 64) -> Path:
    """Decoder means of draws from the prior."""
    model.eval()
    gen = torch.Generator().manual_seed(0)
    return save_image_grid(
        _images(model.sample(n, generator=gen), data.side), path, nrow=16, title="samples (means)"
    )


@torch.no_grad()
def plot_traversal(model: Any, data: ImageData, path: Path, dims: int = 8, steps: int = 9) -> Path:
    """Decoder means along each latent axis in [-3, 3] from the encoder mean of a test image."""
    model.eval()
    x = data.test[:1].to(next(model.parameters()).device)
    mu, _ = model.encode(x)
    dims = min(dims, model.z_dim)
    values = torch.linspace(-3, 3, steps, device=mu.device)
    z = mu.repeat(dims * steps, 1)
    for d in range(dims):
        z[d * steps : (d + 1) * steps, d] = values
    imgs = _images(model.decode_mean(z), data.side)
    return save_image_grid(imgs, path, nrow=steps, title="latent traversal: one row per axis")


@torch.no_grad()
def plot_latent_map(model: Any, data: ImageData, path: Path) -> Path:
    """A 2-D latent space: test-set encoder means by class, and decoded images on a grid."""
    model.eval()
    device = next(model.parameters()).device
    mu, _ = model.encode(data.test.to(device))
    mu = mu.cpu()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.0, 5.0), dpi=DPI)
    sc = ax1.scatter(mu[:, 0], mu[:, 1], c=data.test_labels, cmap="tab10", s=6)
    fig.colorbar(sc, ax=ax1, label="class")
    ax1.set(xlabel="$z_1$", ylabel="$z_2$", title="encoder means of test images")
    n, (h, w) = 12, data.side
    grid = torch.linspace(-2.5, 2.5, n)
    zz = torch.stack(torch.meshgrid(grid, grid.flip(0), indexing="xy"), -1).reshape(-1, 2)
    imgs = model.decode_mean(zz.to(device)).cpu().reshape(n, n, h, w)
    canvas = imgs.permute(0, 2, 1, 3).reshape(n * h, n * w)
    ax2.imshow(canvas.numpy(), cmap="gray", extent=(-2.5, 2.5, -2.5, 2.5))
    ax2.set(xlabel="$z_1$", ylabel="$z_2$", title="decoder means on a grid")
    fig.tight_layout()
    return save_figure(fig, path)


def bar_plot(values: dict[str, float], path: Path, *, ylabel: str, title: str) -> Path:
    """One bar per entry, its value printed above it."""
    fig, ax = plt.subplots(figsize=(6.0, 4.0), dpi=DPI)
    bars = ax.bar(list(values), list(values.values()), color="tab:blue")
    for bar, v in zip(bars, values.values(), strict=True):
        ax.annotate(f"{v:.3g}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize="small")  # fmt: skip
    ax.set(ylabel=ylabel, title=title)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)
