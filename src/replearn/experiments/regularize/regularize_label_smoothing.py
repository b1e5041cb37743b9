"""Experiment ``regularize-label-smoothing``: calibration and class clusters with label smoothing.

The same MLP is trained from the same initial weights with hard targets and
with smoothed targets (Szegedy et al. 2016, epsilon = 0.1), long enough to
become over-confident. On the test split: expected calibration error (Guo et
al. 2017, 15 bins), mean confidence, negative log-likelihood and accuracy; and
Fisher's ratio of within- to between-class scatter of the penultimate features
(smaller: tighter clusters; Müller, Kornblith & Hinton 2019), on the test and
on the training examples.

Both variants are trained for ``seeds`` training seeds (3 by default; the subset is fixed) and
both claims are judged over the seeds by :func:`replearn.experiments.stats.compare_seeds`
(paired by seed; the one-sided 95% Student-t lower bound of the mean reduction must be above
zero).

Writes ``reliability.png`` (accuracy against confidence per bin) and
``clusters.png`` (penultimate features of three classes projected on the plane
through their three class templates, as in Müller et al.'s Figure 1), both for the first seed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor

from replearn.engine import EngineConfig, RunContext
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import load_data
from replearn.experiments.regularize.common import (
    accuracy,
    fit_classifier,
    mlp,
    over_seeds,
    predict,
    record,
    reduction_comparison,
)
from replearn.experiments.stats import SeedComparison
from replearn.regularize.label_smoothing import (
    calibration_bins,
    class_scatter_ratio,
    expected_calibration_error,
)
from replearn.report.plots import save_figure

VARIANTS = ("hard", "smoothed")


@dataclass(frozen=True)
class Config:
    """Config of ``regularize-label-smoothing``.

    Attributes:
        data: fashion-mnist (file), digits (embedded) or mnist1d.
        n_train: training examples (a seeded subset; None: all).
        hidden: hidden widths of the MLP (the last one is the penultimate layer).
        lr: Adam learning rate.
        smoothing: epsilon of the ``smoothed`` variant.
        n_bins: confidence bins of the expected calibration error.
        classes: three classes shown in ``clusters.png``.
        seeds: training seeds (``seed, seed + 1, ...``; >= 3).
        engine: training-loop settings (shared by the variants).
    """

    data: Literal["fashion-mnist", "digits", "mnist1d"] = "fashion-mnist"
    n_train: int | None = 10000
    hidden: tuple[int, ...] = (256, 256)
    lr: float = 1e-3
    smoothing: float = 0.1
    n_bins: int = 15
    classes: tuple[int, int, int] = (0, 2, 6)
    seeds: int = 3
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=4000, batch_size=128, log_every=100, eval_every=500, checkpoint_every=0
        )
    )


def tiny() -> Config:
    """Seconds: digits, 10 steps per variant and seed (smoke tests)."""
    return Config(
        data="digits",
        n_train=None,
        hidden=(32,),
        classes=(3, 5, 8),
        engine=EngineConfig(max_steps=10, batch_size=32, log_every=5, checkpoint_every=0),
    )


def quick() -> Config:
    """Seconds: digits, 40 steps per variant and seed (a smoke check)."""
    base = Config(data="digits", n_train=None, classes=(3, 5, 8))
    return dataclasses.replace(
        base, engine=dataclasses.replace(base.engine, max_steps=40, log_every=20, eval_every=0)
    )


def _lower(m: dict[str, Any], key: str, what: str) -> SeedComparison:
    return reduction_comparison(m, key, "smoothed", "hard", label=what, what="smoothed",
                                baseline="hard")  # fmt: skip


def _verdict_ece(m: dict[str, Any]) -> tuple[bool, str]:
    c = _lower(m, "test_ece", "ECE")
    return c.holds, (
        f"means over seeds: test ECE ({m['n_bins']} bins): smoothed "
        f"{m['smoothed_test_ece']:.4f} vs hard "
        f"{m['hard_test_ece']:.4f}; mean confidence {m['smoothed_mean_confidence']:.4f} vs "
        f"{m['hard_mean_confidence']:.4f} at accuracy {m['smoothed_test_accuracy']:.4f} vs "
        f"{m['hard_test_accuracy']:.4f}; test NLL {m['smoothed_test_nll']:.4f} vs "
        f"{m['hard_test_nll']:.4f}; {c.evidence()}"
    )


def _verdict_clusters(m: dict[str, Any]) -> tuple[bool, str]:
    c = _lower(m, "scatter_ratio_test", "scatter ratio")
    return c.holds, (
        f"means over seeds: within/between-class scatter of penultimate features, test: smoothed "
        f"{m['smoothed_scatter_ratio_test']:.4f} vs hard {m['hard_scatter_ratio_test']:.4f}; "
        f"training: {m['smoothed_scatter_ratio_train']:.4f} vs "
        f"{m['hard_scatter_ratio_train']:.4f}; "
        f"{c.evidence()}"
    )


CLAIMS = (
    Claim(
        "ls-calibration",
        "Label smoothing lowers over-confidence: the expected calibration error on the test "
        "set is smaller than with hard targets (mean paired difference over training seeds, "
        "one-sided 95% lower bound > 0).",
        _verdict_ece,
        "reliability.png",
    ),
    Claim(
        "ls-clusters",
        "Label smoothing tightens class clusters: the ratio of within- to between-class "
        "scatter of the penultimate features (test set) is smaller than with hard targets (mean "
        "paired difference over training seeds, one-sided 95% lower bound > 0).",
        _verdict_clusters,
        "clusters.png",
    ),
)


def _project(features: Tensor, templates: Tensor) -> Tensor:
    """Coordinates in the plane through three template vectors (Gram-Schmidt of their edges)."""
    e1 = templates[1] - templates[0]
    e1 = e1 / e1.norm()
    e2 = templates[2] - templates[0]
    e2 = e2 - (e2 @ e1) * e1
    e2 = e2 / e2.norm()
    return torch.stack([features @ e1, features @ e2], dim=1)  # (N, 2)


@experiment(
    "regularize-label-smoothing",
    topic="regularize",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Szegedy et al. 2016, arXiv:1512.00567; Müller, Kornblith & Hinton 2019, "
    "arXiv:1906.02629; Guo et al. 2017, arXiv:1706.04599",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Train with hard and with smoothed labels; compare calibration and feature clusters."""
    import matplotlib.pyplot as plt

    data = load_data(cfg.data, n_train=cfg.n_train, n_val=2000, seed=ctx.seed, flatten=True)
    shown: dict[str, tuple] = {}  # variant -> (probs, labels, features, head weight) of seed 0

    def one_seed(run: RunContext) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for variant in VARIANTS:
            torch.manual_seed(run.seed)
            trunk, head = mlp(data.input_shape[0], cfg.hidden, data.num_classes)
            model = torch.nn.Sequential(trunk, head).to(ctx.device)
            eps = cfg.smoothing if variant == "smoothed" else 0.0
            fit_classifier(run, variant, model, data, lr=cfg.lr, engine=cfg.engine, smoothing=eps)
            logits, labels = predict(model, data.test, device=ctx.device)
            probs = torch.softmax(logits.double(), dim=-1)
            feats = {
                s: predict(trunk, getattr(data, s), device=ctx.device) for s in ("train", "test")
            }
            m = {
                "test_accuracy": accuracy(logits, labels),
                "test_nll": float(torch.nn.functional.cross_entropy(logits.double(), labels)),
                "test_ece": expected_calibration_error(probs, labels, cfg.n_bins),
                "mean_confidence": float(probs.max(dim=-1).values.mean()),
                "train_accuracy": accuracy(*predict(model, data.train, device=ctx.device)),
                "scatter_ratio_test": class_scatter_ratio(*feats["test"]),
                "scatter_ratio_train": class_scatter_ratio(*feats["train"]),
            }
            record(out, run, VARIANTS.index(variant), variant, m)
            if run.seed == ctx.seed:
                weight = head.weight.detach().cpu().double()
                shown[variant] = (probs, labels, feats["test"], weight, m)
        return out

    metrics: dict[str, Any] = {"n_bins": cfg.n_bins, "smoothing": cfg.smoothing}
    metrics.update(over_seeds(ctx, cfg.seeds, one_seed))
    rel_fig, rel_ax = plt.subplots(figsize=(5.0, 5.0), dpi=100)
    rel_ax.plot([0, 1], [0, 1], color="grey", ls="--", label="calibrated")
    cl_fig, cl_axes = plt.subplots(1, 2, figsize=(9.0, 4.5), dpi=100)
    for variant, cl_ax in zip(VARIANTS, cl_axes, strict=True):
        probs, labels, (x, y), weight, m = shown[variant]
        acc, conf, count = calibration_bins(probs, labels, cfg.n_bins)
        used = count > 0
        rel_ax.plot(conf[used], acc[used], marker="o", label=f"{variant} (ECE {m['test_ece']:.3f})")
        chosen = torch.isin(y, torch.tensor(cfg.classes))
        plane = _project(x[chosen].double(), weight[list(cfg.classes)])
        for c in cfg.classes:
            pts = plane[y[chosen] == c]
            cl_ax.scatter(pts[:, 0], pts[:, 1], s=3, alpha=0.5, label=data.class_names[c])
        cl_ax.set(title=f"{variant} (ratio {m['scatter_ratio_test']:.3f})")
        cl_ax.legend(fontsize="small", markerscale=3)
    rel_ax.set(
        xlabel="confidence",
        ylabel="accuracy",
        title=f"{cfg.data}: reliability (test, seed {ctx.seed})",
    )
    rel_ax.legend(fontsize="small")
    rel_fig.tight_layout()
    cl_fig.suptitle("penultimate features on the plane of three class templates")
    cl_fig.tight_layout()
    plots = [
        save_figure(rel_fig, ctx.path("reliability.png")),
        save_figure(cl_fig, ctx.path("clusters.png")),
    ]
    return Result(metrics=metrics, plots=plots)
