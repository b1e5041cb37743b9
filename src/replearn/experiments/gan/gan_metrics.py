"""Experiment ``gan-metrics``: do IS, Mode Score, FID and KID rank "generators" sensibly?

No GAN is trained: the "generators" are sets of real held-out images with known
defects, so the right ranking is known in advance. The reference ("real") set is
the training pool; each candidate has as many images as the test split:

- ``diverse``: the test images (all classes);
- ``collapsed-3``: test images of classes 0-2 only, resampled with replacement;
- ``collapsed-1``: test images of class 0 only, resampled with replacement;
- ``noisy``: the test images plus Gaussian noise of standard deviation ``noise``;
- ``blurred``: the test images averaged over 3x3 neighbourhoods.

Every set is scored in the feature space of replearn's classifier
(:mod:`replearn.metrics.features`): Inception Score and Mode Score (training class
frequencies as :math:`p^*`), FID and KID against the reference. Writes ``metrics.png``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Literal

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from replearn.data.images import load_classification
from replearn.engine import RunContext, single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.metrics import extract, feature_classifier, fid_from_features, inception_score, kid
from replearn.metrics.inception_score import mode_score
from replearn.report.plots import save_figure

SETS = ("diverse", "collapsed-3", "collapsed-1", "noisy", "blurred")


@dataclass(frozen=True)
class Config:
    """Config of ``gan-metrics``.

    Attributes:
        data: ``digits`` (embedded) or ``fashion-mnist`` (file).
        noise: standard deviation of the noise of the ``noisy`` set (images in [0, 1]).
        kid_subsets: random subsets KID averages over.
        classifier_steps: train the feature classifier for this many steps instead of
            using the cached default (None: the cached, checksummed classifier).
    """

    data: Literal["digits", "fashion-mnist"] = "digits"
    noise: float = 0.2
    kid_subsets: int = 50
    classifier_steps: int | None = None


def tiny() -> Config:
    """Seconds: a 5-step feature classifier, 5 KID subsets."""
    return Config(kid_subsets=5, classifier_steps=5)


def quick() -> Config:
    """The default (seconds once the classifier is cached)."""
    return Config()


def candidate_sets(x: torch.Tensor, y: torch.Tensor, noise: float) -> dict[str, torch.Tensor]:
    """The five image sets of the module docstring, each of len(x) images in [0, 1]."""
    g = torch.Generator().manual_seed(0)
    n = len(x)

    def resample(mask: torch.Tensor) -> torch.Tensor:
        pool = x[mask]
        return pool[torch.randint(len(pool), (n,), generator=g)]

    return {
        "diverse": x,
        "collapsed-3": resample(y <= 2),
        "collapsed-1": resample(y == 0),
        "noisy": (x + noise * torch.randn(x.shape, generator=g)).clamp(0, 1),
        "blurred": F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False),
    }


def _order(m: dict[str, Any], key: str) -> list[str]:
    return sorted(SETS, key=lambda s: m[f"{s}_{key}"])


def _verdict_scores(m: dict[str, Any]) -> tuple[bool, str]:
    chain = ("collapsed-1", "collapsed-3", "diverse")
    holds = all(
        m[f"{a}_{k}"] < m[f"{b}_{k}"]
        for k in ("inception_score", "mode_score")
        for a, b in itertools.pairwise(chain)
    )
    text = "; ".join(
        f"{k}: " + ", ".join(f"{s} {m[f'{s}_{k}']:.2f}" for s in chain)
        for k in ("inception_score", "mode_score")
    )
    return holds, text


def _verdict_agree(m: dict[str, Any]) -> tuple[bool, str]:
    fid, kid_ = _order(m, "fid"), _order(m, "kid")
    by_fid = ", ".join(f"{s} {m[s + '_fid']:.2f}" for s in fid)
    by_kid = ", ".join(f"{s} {m[s + '_kid']:.4f}" for s in kid_)
    return fid == kid_, f"best to worst by FID: {by_fid}; by KID: {by_kid}"


CLAIMS = (
    Claim(
        "scores-rank-collapse-below-diversity",
        "The Inception Score and the Mode Score rank a generator collapsed to one class below "
        "one covering three classes, and that below one covering all classes.",
        _verdict_scores,
        "metrics.png",
    ),
    Claim(
        "fid-kid-agree",
        "FID and KID rank the five image sets (diverse, collapsed to 3 or 1 classes, noisy, "
        "blurred) in the same order.",
        _verdict_agree,
        "metrics.png",
    ),
)


@experiment(
    "gan-metrics",
    topic="gan",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Salimans et al. 2016 (arXiv:1606.03498); Che et al. 2017 (arXiv:1612.02136); "
    "Heusel et al. 2017 (arXiv:1706.08500); Binkowski et al. 2018 (arXiv:1801.01401)",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Score image sets with known defects by IS, Mode Score, FID and KID."""
    with single_thread():
        data = load_classification(cfg.data, val_fraction=0.0, seed=0)
        extractor = feature_classifier(cfg.data, steps=cfg.classifier_steps)
        x_ref, y_ref = data.train.tensors
        ref = extract(extractor, x_ref)
        prior = torch.bincount(y_ref, minlength=data.num_classes).double() / len(y_ref)
        m: dict[str, Any] = {"data": cfg.data, "reference_images": len(ref)}
        for name, images in candidate_sets(*data.test.tensors, cfg.noise).items():
            feats = extract(extractor, images)
            probs = extract(extractor, images, what="probabilities")
            m[f"{name}_inception_score"] = inception_score(probs)[0]
            m[f"{name}_mode_score"] = mode_score(probs, prior)[0]
            m[f"{name}_fid"] = fid_from_features(ref, feats)
            m[f"{name}_kid"] = kid(ref, feats, n_subsets=cfg.kid_subsets, subset_size=len(feats))[0]
    fig, axes = plt.subplots(1, 4, figsize=(13, 3), dpi=100)
    for ax, key in zip(axes, ("inception_score", "mode_score", "fid", "kid"), strict=True):
        ax.bar(range(len(SETS)), [m[f"{s}_{key}"] for s in SETS], color="C0")
        ax.set_xticks(range(len(SETS)), SETS, rotation=35, fontsize=8)
        ax.set_title(key)
    fig.tight_layout()
    return Result(metrics=m, plots=[save_figure(fig, ctx.path("metrics.png"))])
