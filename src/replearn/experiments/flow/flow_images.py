"""Experiment ``flow-images``: Real NVP / Glow on dequantized images, in bits per dimension.

Images (default: scikit-learn's embedded 8x8 digits, 17 grey levels; ``--set
data=fashion-mnist``: 28x28, 256 levels, zero-padded to 32x32 so that the multi-scale
squeezes divide) are uniformly dequantized and mapped to logit
space (:mod:`replearn.flow.dequantize`; both log-determinants count), and a flow is
trained through the engine by maximum likelihood. ``result.json``: ``test_bpd`` (bits
per dimension on the test split, one fixed dequantization draw), samples in
``samples.png``.

Claims:

1. Glow's invertible 1x1 convolution beats a fixed permutation (``reverse``): test
   bits/dim of the two Glow variants over ``n_seeds`` training seeds (same seeds, same
   budget), judged by :func:`replearn.experiments.stats.compare_seeds`: holds when the
   one-sided 95% Student-t lower bound of the mean paired difference exceeds 0.
2. Anomaly detection with the flow's likelihood: the test images of the training
   distribution against out-of-distribution sets, scored by bits/dim (AUROC; 0.5 is
   chance, below 0.5 the OOD data gets the *higher* likelihood), for the model of every
   training seed (the 1x1-convolution Glows of claim 1 when ``flow=glow``). OOD sets: uniform
   noise, the images inverted (1 - x), and natural-image patches (scikit-learn's two
   embedded photographs, grey, downsampled; digits) or digits upscaled to 28x28
   (Fashion-MNIST, an MNIST-like set). Nalisnick et al. 2019 (arXiv:1810.09136) found
   that flows trained on Fashion-MNIST give MNIST a higher likelihood; the verdict is
   measured, not assumed.

Writes ``samples.png``, ``mixing.png`` and ``ood_bpd.png``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import TensorDataset

from replearn.data import load_classification
from replearn.engine import EngineConfig, RunContext, fit
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import engine_config
from replearn.experiments.flow.common import FlowNLLTask, auroc, build_flow
from replearn.experiments.stats import compare_seeds, too_few_seeds
from replearn.flow import Flow, LogitTransform, bits_per_dim, uniform_dequantize
from replearn.report.plots import DPI, save_figure, save_image_grid

LEVELS = {"digits": 17, "fashion-mnist": 256}


_engine = partial(engine_config, batch_size=128, log_every=50)


@dataclass(frozen=True)
class Config:
    """Config of ``flow-images``.

    Attributes:
        data: digits (embedded, 8x8, 17 levels) or fashion-mnist (28x28 padded to 32x32).
        flow: realnvp or glow (the model of test_bpd, samples and anomaly detection).
        hidden: channels of the conditioners.
        depth: Glow steps per level (Real NVP's scales have a fixed 3+3 / 4 couplings).
        n_scales: scales (Real NVP) / levels (Glow).
        lr: Adam learning rate.
        alpha: margin of the logit transform.
        n_seeds: training seeds of the 1x1-convolution-vs-permutation comparison (0: skip)
            and of the anomaly-detection claim (its model is trained from each seed; with
            ``flow=glow`` these are the comparison's 1x1-convolution Glows).
        n_ood: images per out-of-distribution set.
        engine: training-loop settings (every model).
    """

    data: Literal["digits", "fashion-mnist"] = "digits"
    flow: Literal["realnvp", "glow"] = "glow"
    hidden: int = 32
    depth: int = 2
    n_scales: int = 2
    lr: float = 1e-3
    alpha: float = 0.05
    n_seeds: int = 3
    n_ood: int = 359
    engine: EngineConfig = field(default_factory=lambda: _engine(1000))

    def __post_init__(self) -> None:
        if self.n_seeds < 0 or self.n_ood < 2:
            raise ValueError("n_seeds must be >= 0 and n_ood >= 2")


def tiny() -> Config:
    """Seconds: one small Glow, 5 steps, no seed comparison (no mixing verdict)."""
    return Config(hidden=8, depth=1, n_seeds=0, n_ood=32, engine=_engine(5))


def quick() -> Config:
    """Seconds: a smaller Glow, 12 steps, three seeds (a smoke check)."""
    return Config(hidden=16, depth=1, engine=_engine(12))


def load_images(name: str, seed: int) -> tuple[Tensor, Tensor]:
    """Training and test images in [0, 1], (N, 1, H, W); Fashion-MNIST padded to 32x32."""
    data = load_classification(name, val_fraction=0.0, seed=seed)
    train, test = data.train.tensors[0], data.test.tensors[0]
    if name == "fashion-mnist":
        train, test = F.pad(train, (2, 2, 2, 2)), F.pad(test, (2, 2, 2, 2))
    return train, test


def quantize(x: Tensor, levels: int) -> Tensor:
    """Round to the grid k / (levels - 1)."""
    return torch.round(x.clamp(0, 1) * (levels - 1)) / (levels - 1)


def ood_sets(name: str, test: Tensor, n: int, seed: int) -> dict[str, Tensor]:
    """Out-of-distribution images shaped like ``test``, on the same grey-level grid."""
    gen = torch.Generator().manual_seed(seed + 7)
    levels, shape = LEVELS[name], test.shape[1:]
    sets = {
        "noise": torch.rand(n, *shape, generator=gen),
        "inverted": 1 - test[:n],
    }
    if name == "digits":
        from sklearn.datasets import load_sample_images

        photos = [
            torch.tensor(im, dtype=torch.float32).mean(-1) / 255
            for im in load_sample_images().images
        ]
        small = [F.avg_pool2d(p[None, None], 8)[0, 0] for p in photos]  # (53, 80) each
        patches = []
        while len(patches) < n:
            p = small[int(torch.randint(0, 2, (1,), generator=gen))]
            i = int(torch.randint(0, p.shape[0] - 8, (1,), generator=gen))
            j = int(torch.randint(0, p.shape[1] - 8, (1,), generator=gen))
            patches.append(p[i : i + 8, j : j + 8])
        sets["photo-patches"] = torch.stack(patches)[:, None]
    else:
        digits = load_classification("digits", val_fraction=0.0).test.tensors[0][:n]
        up = F.interpolate(digits, size=(28, 28), mode="bilinear", align_corners=False)
        sets["digits-28px"] = F.pad(up, (2, 2, 2, 2))
    return {k: quantize(v, levels) for k, v in sets.items()}


class Preprocess(torch.nn.Module):
    """Dequantize (Eq. 1) then logit (Eq. 3); returns the flow input and the logit's log-det.

    The dequantization noise comes from ``generator`` when given (a fixed draw for
    evaluation), else from the global RNG (training; the engine checkpoints it).
    """

    def __init__(self, shape: tuple[int, ...], levels: int, alpha: float) -> None:
        super().__init__()
        self.levels, self.logit = levels, LogitTransform(shape, alpha=alpha)
        self.generator: torch.Generator | None = None

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = uniform_dequantize(x, self.levels, generator=self.generator)
        return self.logit(y)


@torch.no_grad()
def bpd(task: FlowNLLTask, x: Tensor, seed: int, batch: int = 512) -> Tensor:
    """Per-image bits/dim with a fixed dequantization draw (eval mode)."""
    task.eval()
    pre: Preprocess = task.preprocess  # type: ignore[assignment]
    pre.generator = torch.Generator().manual_seed(seed)
    nll = torch.cat([task.nll(c) for c in x.split(batch)])
    pre.generator = None
    task.train()
    return bits_per_dim(-nll, x[0].numel(), pre.levels)


def train_flow(
    cfg: Config, ctx: RunContext, train: Tensor, flow_name: str, mixing: str, seed: int, name: str
) -> FlowNLLTask:
    """Train one flow (a child run) and return its task."""
    torch.manual_seed(seed)
    shape = tuple(train.shape[1:])
    flow = build_flow(
        flow_name, shape, hidden=cfg.hidden, depth=cfg.depth, mixing=mixing, n_scales=cfg.n_scales
    )
    task = FlowNLLTask(flow, Preprocess(shape, LEVELS[cfg.data], cfg.alpha)).to(ctx.device)
    opt = torch.optim.Adam(task.parameters(), lr=cfg.lr)
    with single_thread(), ctx.child(name, seed=seed) as sub:
        fit(task, opt, TensorDataset(train), cfg=cfg.engine, ctx=sub)
    return task.cpu()


@torch.no_grad()
def samples(flow: Flow, pre: Preprocess, n: int, temperature: float, seed: int) -> Tensor:
    """Images from the flow: z ~ N(0, T^2 I), inverse flow, inverse logit, clamp to [0, 1]."""
    flow.eval()
    y = flow.sample(n, generator=torch.Generator().manual_seed(seed), temperature=temperature)
    return pre.logit.inverse(y).clamp(0, 1)


def _verdict_mixing(m: dict[str, Any]) -> tuple[bool, str]:
    n = m.get("mixing_n_seeds", 0)
    if (why := too_few_seeds(n)) is not None:
        return False, why
    c = compare_seeds(
        m["bpd_conv_lu"],
        m["bpd_reverse"],
        higher_is_better=False,
        label_x="1x1 conv (LU)",
        label_y="reverse",
    )
    return c.holds, (
        f"test bits/dim over {n} seeds: 1x1 conv (LU) {m['bpd_conv_lu_mean']:.4f}, reverse "
        f"permutation {m['bpd_reverse_mean']:.4f}; bits/dim saved by the 1x1 conv: "
        f"{c.evidence()}"
    )


def _verdict_ood(m: dict[str, Any]) -> tuple[bool, str]:
    per_seed: dict[str, list[float]] = m.get("ood_auroc_seeds", {})
    n = min((len(v) for v in per_seed.values()), default=0)
    if (why := too_few_seeds(n)) is not None:
        return False, why
    holds = min(min(v) for v in per_seed.values()) >= 0.9
    cells = "; ".join(
        f"{k} min {min(v):.3f} (per seed {', '.join(f'{a:.3f}' for a in v)})"
        for k, v in per_seed.items()
    )
    lower = [k for k, v in per_seed.items() if min(v) < 0.5]
    note = f"; OOD given HIGHER likelihood than the test set: {', '.join(lower)}" if lower else ""
    return holds, (
        f"AUROC by bits/dim over {n} training seeds (seed 0: test bpd {m['test_bpd']:.3f}, "
        + ", ".join(f"{k} bpd {m['ood_bpd_' + k]:.3f}" for k in per_seed)
        + f"): {cells}{note}"
    )


CLAIMS = (
    Claim(
        "glow-1x1conv-beats-permutation",
        "Glow's invertible 1x1 convolution gives a lower test NLL (bits/dim) than a fixed "
        "reverse permutation at the same size and budget (mean paired difference over >= 3 "
        "training seeds, one-sided 95% Student-t lower bound > 0).",
        _verdict_mixing,
        "mixing.png",
    ),
    Claim(
        "flow-likelihood-detects-ood",
        "A flow's likelihood detects out-of-distribution images: AUROC >= 0.9 against every "
        "OOD set (noise, inverted images, natural-image patches or upscaled digits), for the "
        "model of every one of >= 3 training seeds.",
        _verdict_ood,
        "ood_bpd.png",
    ),
)


@experiment(
    "flow-images",
    topic="flow",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Dinh et al. 2017, arXiv:1605.08803; Kingma & Dhariwal 2018, arXiv:1807.03039",
)
@single_thread()  # small tensors: a second thread only adds waiting
def run(cfg: Config, ctx: RunContext) -> Result:
    """Real NVP / Glow on dequantized images in bits/dim; 1x1 conv vs permutation; OOD AUROC."""
    train, test = load_images(cfg.data, ctx.seed)
    metrics: dict[str, Any] = {"data": cfg.data, "flow": cfg.flow, "levels": LEVELS[cfg.data]}
    by_mixing: dict[str, list[float]] = {"conv_lu": [], "reverse": []}
    models: list[FlowNLLTask] = []  # the model of every seed (anomaly detection)
    for s in range(cfg.n_seeds):
        for mixing in by_mixing:
            task = train_flow(cfg, ctx, train, "glow", mixing, ctx.seed + s, f"glow-{mixing}-{s}")
            by_mixing[mixing].append(float(bpd(task, test, ctx.seed).mean()))
            if mixing == "conv_lu" and cfg.flow == "glow":
                models.append(task)
    for s in range(max(cfg.n_seeds, 1) if not models else 0):  # realnvp, or no comparison
        name = cfg.flow if s == 0 else f"{cfg.flow}-{s}"
        models.append(train_flow(cfg, ctx, train, cfg.flow, "conv_lu", ctx.seed + s, name))
    main = models[0]
    if cfg.n_seeds:
        metrics.update(
            mixing_n_seeds=cfg.n_seeds,
            bpd_conv_lu=by_mixing["conv_lu"],
            bpd_reverse=by_mixing["reverse"],
            bpd_conv_lu_mean=sum(by_mixing["conv_lu"]) / cfg.n_seeds,
            bpd_reverse_mean=sum(by_mixing["reverse"]) / cfg.n_seeds,
        )
        if cfg.n_seeds >= 3:
            c = compare_seeds(by_mixing["conv_lu"], by_mixing["reverse"], higher_is_better=False)
            metrics["mixing_comparison"] = c.as_dict()
    test_bpd = bpd(main, test, ctx.seed)
    metrics["test_bpd"] = float(test_bpd.mean())
    metrics["test_nll_nats"] = float(test_bpd.mean()) * math.log(2) * test[0].numel()
    ood_bpds = {}
    per_seed: dict[str, list[float]] = {}
    for name, images in ood_sets(cfg.data, test, cfg.n_ood, ctx.seed).items():
        ood_bpds[name] = bpd(main, images, ctx.seed)
        metrics[f"ood_bpd_{name}"] = float(ood_bpds[name].mean())
        metrics[f"auroc_{name}"] = auroc(test_bpd, ood_bpds[name])  # seed 0's model
        per_seed[name] = [
            auroc(bpd(model, test, ctx.seed), bpd(model, images, ctx.seed)) for model in models
        ]
    metrics["ood_auroc_seeds"] = per_seed
    ctx.log(cfg.engine.max_steps, test_bpd=metrics["test_bpd"])
    pre: Preprocess = main.preprocess  # type: ignore[assignment]
    plots = [
        save_image_grid(
            torch.cat([samples(main.flow, pre, 32, t, ctx.seed) for t in (1.0, 0.7)]),
            ctx.path("samples.png"),
            nrow=16,
            title=f"{cfg.flow} samples (rows 1-2: T=1, rows 3-4: T=0.7)",
        ),
        _hist_plot(ctx.path("ood_bpd.png"), test_bpd, ood_bpds, cfg),
    ]
    plots.append(_mixing_plot(ctx.path("mixing.png"), by_mixing))  # empty without seeds
    return Result(metrics=metrics, model=main.flow, plots=plots)


def _hist_plot(path: Any, test_bpd: Tensor, ood: dict[str, Tensor], cfg: Config) -> Any:
    fig, ax = plt.subplots(figsize=(6.0, 3.8), dpi=DPI)
    ax.hist(test_bpd.numpy(), bins=40, alpha=0.6, density=True, label=f"{cfg.data} test")
    for name, v in ood.items():
        ax.hist(
            v.clamp(max=float(test_bpd.max()) * 3).numpy(),
            bins=40,
            alpha=0.5,
            density=True,
            label=name,
        )
    ax.set(
        xlabel="bits/dim (lower = more likely)", ylabel="density", title=f"{cfg.flow} on {cfg.data}"
    )
    ax.legend(fontsize="small")
    fig.subplots_adjust(bottom=0.15)
    return save_figure(fig, path)


def _mixing_plot(path: Any, by_mixing: dict[str, list[float]]) -> Any:
    fig, ax = plt.subplots(figsize=(4.5, 3.5), dpi=DPI)
    for i, (name, vals) in enumerate(by_mixing.items()):
        ax.scatter([i] * len(vals), vals, label=name)
    for a, b in zip(by_mixing["conv_lu"], by_mixing["reverse"], strict=True):
        ax.plot([0, 1], [a, b], color="grey", alpha=0.5)
    ax.set_xticks([0, 1], list(by_mixing))
    ax.set(ylabel="test bits/dim", title="Glow: 1x1 conv vs reverse (lines pair seeds)")
    fig.subplots_adjust(left=0.18)
    return save_figure(fig, path)
