"""Experiment ``cnn-invariance``: pooling and (approximate) translation invariance, measured.

Convolutions are translation *equivariant*: shift the input and the feature maps
shift with it. Pooling summarizes a neighbourhood, so a small shift changes a pooled
representation little (Goodfellow, Bengio & Courville 2016, Sec. 9.3). Two
measurements on Fashion-MNIST, no data augmentation anywhere:

1. **Features.** A network with pooling is trained; the relative change
   ``||P(f(T_s x)) - P(f(x))|| / ||P(f(x))||`` of its first feature maps ``f`` (conv,
   BN, ReLU; 28×28) under a shift ``T_s`` of ``s`` pixels (up, down, left, right; zeros
   shifted in) is measured for ``P`` = none, 2×2 max pooling, 4×4 max pooling and
   global average pooling.
2. **Networks.** Two networks with the same convolutions are trained identically
   (sub-runs ``pooled/`` and ``unpooled/``, same initial-weight seed and data order):
   ``pooled`` subsamples with 2×2 max pooling and ends with global average pooling,
   ``unpooled`` subsamples with stride-2 convolutions and ends with a fully connected
   layer on the flattened feature maps. Their test accuracy is measured on images
   shifted by 0-4 pixels (mean over the four directions)::

       pooled:   conv 1->16, max-pool, conv 16->32, max-pool, conv 32->64, global avg, linear
       unpooled: conv 1->16, conv 16->32 /2, conv 32->64 /2, flatten (64x7x7), linear

Both measurements are repeated for ``seeds`` training seeds (3 by default; initial
weights and data order per seed, sub-runs ``seed<s>/pooled`` and ``seed<s>/unpooled``; the
training subset and the test images are fixed). The feature claim must hold for every
seed's network; the robustness claim is judged over the seeds with
:func:`replearn.experiments.stats.compare_seeds` (paired by seed, one-sided 95% Student-t
bound; issue 21). Before 2026-12-08 both claims were judged on one training seed.

Default: 400 AdamW steps of 64 per network and seed from a 10,000-image subset (2.6
epochs), 5,000 test images, about a minute per seed on 2 CPU cores.

replearn run cnn-invariance
replearn run cnn-invariance --preset quick      # 8x8 digits, no file
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from replearn.engine import EngineConfig, RunContext
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.cnn.common import (
    ImageData,
    log_curves,
    shift_images,
    train_classifier,
    training_seeds,
)
from replearn.experiments.common import engine_config, load_data, predict, seeded
from replearn.experiments.stats import SeedComparison, compare_seeds, too_few_seeds
from replearn.report.plots import line_plot, save_image_grid

DIRECTIONS = ((-1, 0), (1, 0), (0, -1), (0, 1))
"""Unit shifts (rows, columns): up, down, left, right."""
POOLINGS = ("none", "max2", "max4", "global")


def block(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    """3×3 convolution (stride ``stride``), batch norm, ReLU."""
    return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


def shift_net(
    widths: Sequence[int], in_chans: int, num_classes: int, size: int, *, pooled: bool
) -> nn.Sequential:
    """The ``pooled`` or ``unpooled`` network of the module docstring (three conv blocks)."""
    c1, c2, c3 = widths
    if pooled:
        layers = [*block(in_chans, c1), nn.MaxPool2d(2), *block(c1, c2), nn.MaxPool2d(2)]
        layers += [
            *block(c2, c3),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(c3, num_classes),
        ]
    else:
        side = math.ceil(math.ceil(size / 2) / 2)
        layers = [*block(in_chans, c1), *block(c1, c2, stride=2), *block(c2, c3, stride=2)]
        layers += [nn.Flatten(), nn.Linear(c3 * side * side, num_classes)]
    return nn.Sequential(*layers)


def pool(f: Tensor, kind: str) -> Tensor:
    """Feature maps ``(B, C, H, W)`` pooled by ``kind``, flattened to ``(B, D)``."""
    if kind == "max2":
        f = F.max_pool2d(f, 2)
    elif kind == "max4":
        f = F.max_pool2d(f, 4)
    elif kind == "global":
        f = f.mean(dim=(2, 3))
    return f.flatten(1)


@torch.no_grad()
def relative_change(features: nn.Module, x: Tensor, s: int, kind: str) -> float:
    """Mean over images and the four directions of ||P(f(T_s x)) - P(f(x))|| / ||P(f(x))||."""
    x = x.to(next(features.parameters()).device)
    ref = pool(features(x), kind)  # (B, D)
    changes = []
    for dy, dx in DIRECTIONS:
        moved = pool(features(shift_images(x, s * dy, s * dx)), kind)
        changes.append((moved - ref).norm(dim=1) / ref.norm(dim=1).clamp_min(1e-12))
    return float(torch.cat(changes).mean())


def shifted_accuracy(model: nn.Module, ds: TensorDataset, s: int) -> float:
    """Test accuracy on images shifted by ``s`` pixels, mean over the four directions."""
    x, y = ds.tensors
    moves = DIRECTIONS if s else ((0, 0),)
    accs = []
    for dy, dx in moves:
        pred = predict(model, TensorDataset(shift_images(x, s * dy, s * dx))).argmax(-1)
        accs.append(float((pred == y).float().mean()))
    return sum(accs) / len(accs)


_engine = partial(engine_config, log_lines=20, lr_schedule="cosine")


@dataclass(frozen=True)
class Config:
    """Settings of ``cnn-invariance``.

    Attributes:
        widths: channels of the three conv blocks.
        data: ``fashion-mnist`` (28×28) or ``digits`` (8×8, embedded).
        n_train: training images (seeded subset).
        n_test: test images for the shifted accuracies (none: all).
        n_features: test images for the feature measurement.
        max_shift: shifts 0..max_shift pixels are measured.
        lr: AdamW peak learning rate (cosine decay).
        seeds: training seeds (``seed, seed + 1, ...``), each training both networks; the
            claims need >= 3 (the tiny preset's single seed reports them as not measured).
        engine: training-loop settings, the same for both networks.
    """

    widths: tuple[int, int, int] = (16, 32, 64)
    data: ImageData = "fashion-mnist"
    n_train: int | None = 10_000
    n_test: int | None = 5_000
    n_features: int = 500
    max_shift: int = 4
    lr: float = 1e-3
    seeds: int = 3
    engine: EngineConfig = field(default_factory=lambda: _engine(400, 64))

    def __post_init__(self) -> None:
        if self.max_shift < 3:
            raise ValueError(
                f"max_shift must be >= 3 (the claims read shifts 1-3), got {self.max_shift}"
            )
        if self.seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {self.seeds}")


def tiny() -> Config:
    """Seconds: narrow networks on 8x8 digits, a few steps, one seed (claims not measured)."""
    return Config(widths=(4, 8, 8), data="digits", n_features=50, seeds=1, engine=_engine(8, 16))


def quick() -> Config:
    """Seconds: 8x8 digits, 50 steps per network, 3 seeds (a smoke check)."""
    return Config(data="digits", engine=_engine(50, 64))


def _verdict_features(m: dict[str, Any]) -> tuple[bool, str]:
    n = len(m["seeds"])
    per_seed = []
    for i in range(n):
        rows = {s: [m[f"feature_change_{p}_s{s}_seeds"][i] for p in POOLINGS] for s in (1, 2, 3)}
        monotone = all(all(a > b for a, b in itertools.pairwise(r)) for r in rows.values())
        per_seed.append((monotone, rows[1][3] / rows[1][0]))
    rows = {s: [m[f"feature_change_{p}_s{s}"] for p in POOLINGS] for s in (1, 2, 3)}
    text = "; ".join(
        f"s={s}: " + ", ".join(f"{p} {v:.3f}" for p, v in zip(POOLINGS, r, strict=True))
        for s, r in rows.items()
    )
    evidence = (
        f"relative change of the first feature maps (mean over {n} seeds): {text}; strictly "
        f"decreasing per seed: {', '.join(str(ok) for ok, _ in per_seed)}; global / none at "
        f"s=1 per seed: {', '.join(f'{r:.3f}' for _, r in per_seed)} (rule: every seed "
        "decreasing and <= 0.25)"
    )
    if (why := too_few_seeds(n)) is not None:
        return False, f"{why}; {evidence}"
    return all(ok and r <= 0.25 for ok, r in per_seed), evidence


def _drops(m: dict[str, Any], net: str, shift: int) -> list[float]:
    """Per seed: accuracy at 0 px minus accuracy at ``shift`` px of ``net``."""
    a0, a1 = m[f"{net}_accuracy_s0_seeds"], m[f"{net}_accuracy_s{shift}_seeds"]
    return [x - y for x, y in zip(a0, a1, strict=True)]


def _comparison(m: dict[str, Any], shift: int) -> SeedComparison:
    """Half the unpooled drop minus the pooled drop at ``shift`` px, over seeds (> 0 claimed)."""
    return compare_seeds(
        [0.5 * d for d in _drops(m, "unpooled", shift)],
        _drops(m, "pooled", shift),
        label_x=f"half the unpooled drop at {shift} px",
        label_y="the pooled drop",
        unit="points",
    )


def _verdict_network(m: dict[str, Any]) -> tuple[bool, str]:
    drops = {
        net: [m[f"{net}_accuracy_s0"] - m[f"{net}_accuracy_s{s}"] for s in (2, 3)]
        for net in ("pooled", "unpooled")
    }
    evidence = (
        f"unshifted accuracy pooled {m['pooled_accuracy_s0']:.4f}, unpooled "
        f"{m['unpooled_accuracy_s0']:.4f}; accuracy lost at 2 / 3 px: pooled "
        f"{100 * drops['pooled'][0]:.1f} / {100 * drops['pooled'][1]:.1f} points, unpooled "
        f"{100 * drops['unpooled'][0]:.1f} / {100 * drops['unpooled'][1]:.1f} points (means "
        f"over {len(m['seeds'])} seeds)"
    )
    if (why := too_few_seeds(len(m["seeds"]))) is not None:
        return False, f"{why}; {evidence}"
    cs = [_comparison(m, s) for s in (2, 3)]
    return all(c.holds for c in cs), evidence + "; " + "; ".join(c.evidence() for c in cs)


CLAIMS = (
    Claim(
        "pooling-feature-invariance",
        "Pooling makes a representation approximately invariant to small translations: for the "
        "first feature maps of a CNN trained on Fashion-MNIST (no augmentation), the relative "
        "change under a 1, 2 or 3 pixel shift decreases strictly from no pooling to 2x2 max to "
        "4x4 max to global average pooling, and at 1 pixel the global average changes at most a "
        "quarter as much as the unpooled maps; for the network of each of 3 training seeds.",
        _verdict_features,
        "feature_invariance.png",
    ),
    Claim(
        "pooling-network-robustness",
        "A CNN with max pooling and a global-average-pooled head loses at most half as much test "
        "accuracy on images shifted by 2 and by 3 pixels as the same convolutions with stride-2 "
        "subsampling and a flattened fully connected head: at each shift the one-sided 95% "
        "Student-t lower bound, over 3 training seeds, of the mean of (half the unpooled drop - "
        "the pooled drop) is above 0, the two networks sharing each seed's init and data order "
        "(Fashion-MNIST 10k-image subset, 400 AdamW steps of 64 each, no augmentation, 5,000 "
        "test images, mean over 4 directions).",
        _verdict_network,
        "shift_accuracy.png",
    ),
)


@experiment(
    "cnn-invariance",
    topic="cnn",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Goodfellow, Bengio & Courville 2016, Deep Learning, Sec. 9.3 (pooling)",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Pooled vs unpooled CNNs: feature and accuracy changes under small translations."""
    data = load_data(cfg.data, n_train=cfg.n_train, n_val=None, n_test=cfg.n_test, seed=ctx.seed)
    chans, k, size = data.input_shape[0], data.num_classes, data.input_shape[-1]
    shifts = list(range(cfg.max_shift + 1))
    seeds = training_seeds(ctx.seed, cfg.seeds)
    x = data.test.tensors[0][: cfg.n_features]
    per_seed: dict[str, list[float]] = {}
    first: dict[str, Any] = {}  # the first seed's trained networks (model, plots)
    for seed in seeds:
        with ctx.child(f"seed{seed}", seed=seed) as sub:
            for name in ("pooled", "unpooled"):
                model = seeded(
                    lambda n=name: shift_net(cfg.widths, chans, k, size, pooled=n == "pooled"),
                    seed,
                )
                trained = train_classifier(
                    model, data, sub, engine=cfg.engine, lr=cfg.lr, validate=False, name=name
                )
                for s in shifts:
                    acc = shifted_accuracy(trained.model, data.test, s)
                    per_seed.setdefault(f"{name}_accuracy_s{s}", []).append(acc)
                per_seed.setdefault(f"{name}_train_time_s", []).append(trained.train_time_s)
                first.setdefault(name, trained)
                if name == "pooled":
                    features = trained.model[:3].eval()  # conv, BN, ReLU: (B, C1, H, W)
                    for p in POOLINGS:
                        for s in shifts[1:]:
                            per_seed.setdefault(f"feature_change_{p}_s{s}", []).append(
                                relative_change(features, x, s, p)
                            )
    metrics: dict[str, Any] = {"seeds": seeds}
    for key, values in per_seed.items():
        metrics[key] = sum(values) / len(values)
        metrics[f"{key}_seeds"] = values
    metrics["test_examples"] = len(data.test)
    metrics["robustness_comparisons"] = (
        {f"s{s}": _comparison(metrics, s).as_dict() for s in (2, 3)} if len(seeds) >= 3 else None
    )
    log_curves(ctx, first["pooled"].steps, {n: t.train_loss for n, t in first.items()})
    names = {
        "none": "no pooling",
        "max2": "2x2 max pool",
        "max4": "4x4 max pool",
        "global": "global average pool",
    }
    example = x[:1]
    gallery = torch.cat([shift_images(example, 0, s) for s in shifts])
    plots = [
        line_plot(
            shifts,
            {
                f"{n} network": [metrics[f"{n}_accuracy_s{s}"] for s in shifts]
                for n in ("pooled", "unpooled")
            },
            ctx.path("shift_accuracy.png"),
            xlabel="shift (pixels, mean over 4 directions)",
            ylabel="test accuracy",
            title=f"Accuracy on shifted test images ({cfg.data}, mean over {len(seeds)} seeds)",
        ),
        line_plot(
            shifts[1:],
            {names[p]: [metrics[f"feature_change_{p}_s{s}"] for s in shifts[1:]] for p in POOLINGS},
            ctx.path("feature_invariance.png"),
            xlabel="shift (pixels)",
            ylabel="||P(f(shifted x)) - P(f(x))|| / ||P(f(x))||",
            title="Relative change of the first feature maps under translation",
        ),
        save_image_grid(
            gallery, ctx.path("shift_examples.png"), title=f"shifted right by 0..{cfg.max_shift} px"
        ),
    ]
    return Result(metrics=metrics, model=first["pooled"].model, plots=plots)
