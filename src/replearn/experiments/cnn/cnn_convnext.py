r"""Experiment ``cnn-convnext``: ConvNeXt vs ViT and Swin at similar compute, and its ablation.

Liu et al. (2022, arXiv:2201.03545) modernize a ResNet toward a transformer's design and
report that ConvNeXt matches or beats Swin at the same FLOPs (Table 1), each step adding
a little accuracy (Fig. 2). A small-scale version on 8x8 digits bilinearly resized to
``resolution`` px (every network sees 2x2 patches, so 8x8 tokens or positions):

* ConvNeXt: 2 stages, depths ``depths``, widths ``dims``, built by
  :func:`replearn.cnn.convnext_ablation.ablated_convnext` with the paper's block choices
  (tested equal to :class:`replearn.cnn.convnext.ConvNeXtBlock`);
* ViT (:class:`replearn.transformer.vit.model.ViT`) and Swin
  (:class:`replearn.transformer.swin.model.Swin`, 2 stages, window 4) sized to similar FLOPs
  (``torch.utils.flop_counter``; the claim requires each within ``flops_factor`` of ConvNeXt);
* the ablation: ConvNeXt with one choice undone - 3x3 instead of 7x7 depthwise kernels,
  BatchNorm instead of LayerNorm, ReLU instead of GELU, no inverted bottleneck (MLP
  expansion 1 instead of 4; fewer FLOPs, reported).

All train with the engine (AdamW, cosine schedule, same steps and data order) over seeds and
are scored on the same test images. Parity ("matches") is judged as non-inferiority: the
one-sided 95% lower bound of ConvNeXt minus the other, over seeds, must exceed
``-parity_tolerance`` (2 points). Each ablation claim: the full block beats the ablated one
(lower bound > 0).

Default budget: 200 steps of 64 per network and seed (about 10 epochs of the 1,294 digits;
3 seeds x 7 networks = 4,200 steps). It was 400 steps; halved on 2026-12-07 before any
default run had finished, on a cost estimate (~650 CPU s) that later proved inflated by OpenMP
threads spinning on an oversubscribed 2-core machine: the 200-step default measured 266 CPU s
single-threaded (OMP_NUM_THREADS=1, under load). The verdicts were measured once, on this
default, and not tuned after.

Measured (2026-12-07, default config, seed 0), mean test accuracy over 3 seeds: ConvNeXt 0.804
(5.08 MFLOPs, 102k parameters), ViT 0.214 (5.10 MFLOPs, 53k), Swin 0.372 (6.57 MFLOPs, 135k).
"Matches" HOLDS, but only because neither transformer trains in this budget (far below the
0.97-0.98 that cnn-scaling's EfficientNets reach on these digits; ConvNeXt itself is not
converged): it is not evidence of parity between trained models. Ablations (ConvNeXt minus the
ablated block, points, SE over 3 seeds): 7x7 vs 3x3 kernels +10.6 (SE 1.5, HOLDS); LayerNorm vs
BatchNorm -9.1 (SE 1.2; BatchNorm is better here: FAILS); GELU vs ReLU +0.5 (SE 1.3, FAILS);
inverted bottleneck vs none +3.5 (SE 1.1, 95% lower bound +0.3: HOLDS, narrowly; the ablated
block has 2.6x fewer FLOPs).

replearn run cnn-convnext
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from replearn.cnn.convnext_ablation import ablated_convnext
from replearn.data import load_classification
from replearn.engine import ClassificationTask, EngineConfig, RunContext
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.cnn.common import count_flops
from replearn.experiments.common import (
    accuracy,
    count_params,
    predict,
    seeded,
    subset,
    train_variant,
)
from replearn.experiments.stats import compare_seeds
from replearn.report.plots import DPI, save_figure
from replearn.transformer.swin.model import Swin
from replearn.transformer.vit.model import ViT

ABLATIONS = {
    "kernel3": ("3x3 instead of 7x7 depthwise", {"kernel_size": 3}),
    "batchnorm": ("BatchNorm instead of LayerNorm", {"norm": "batch"}),
    "relu": ("ReLU instead of GELU", {"act": "relu"}),
    "no-inverted": ("no inverted bottleneck (expansion 1)", {"expansion": 1}),
}
PEERS = ("vit", "swin")


@dataclass(frozen=True)
class Config:
    """Settings of ``cnn-convnext``.

    Attributes:
        resolution: input side (px) the 8x8 digits are resized to.
        n_train: training images (None: all 1,294).
        depths: ConvNeXt blocks per stage.
        dims: ConvNeXt widths per stage.
        vit_dim: ViT width (depth ``vit_depth``, 4 heads, MLP 4x).
        vit_depth: ViT layers.
        swin_dim: Swin embedding width (2 stages of 2 blocks, heads 2 and 4).
        flops_factor: largest FLOPs ratio (either way) between ConvNeXt and a peer.
        parity_tolerance: accuracy ConvNeXt may lose and still "match" (fraction).
        seeds: training seeds (>= 3).
        lr: AdamW learning rate.
        engine: training-loop settings (shared by every network and seed).
    """

    resolution: int = 16
    n_train: int | None = None
    depths: tuple[int, ...] = (2, 2)
    dims: tuple[int, ...] = (32, 64)
    vit_dim: int = 32
    vit_depth: int = 4
    swin_dim: int = 32
    flops_factor: float = 1.5
    parity_tolerance: float = 0.02
    seeds: tuple[int, ...] = (0, 1, 2)
    lr: float = 2e-3
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=200, batch_size=64, log_every=50, checkpoint_every=0,
            lr_schedule="cosine", progress=False,
        )
    )  # fmt: skip

    def __post_init__(self) -> None:
        if len(self.seeds) < 3 or self.resolution % 8:
            raise ValueError("need >= 3 seeds and a resolution divisible by 8")


def tiny() -> Config:
    """Seconds: 3 seeds of 2 steps on 64 images, narrow networks (a smoke check)."""
    return Config(
        n_train=64, depths=(1, 1), dims=(8, 16), vit_dim=8, vit_depth=1, swin_dim=8,
        engine=EngineConfig(max_steps=2, batch_size=16, log_every=1, checkpoint_every=0),
    )  # fmt: skip


def quick() -> Config:
    """Seconds: 3 seeds of 8 steps of 32 on 300 images, half-width networks (a smoke check;
    15 steps at full width on every image took 18 CPU s)."""
    return Config(
        n_train=300, dims=(16, 32), vit_dim=16, vit_depth=2, swin_dim=16,
        engine=EngineConfig(max_steps=8, batch_size=32, log_every=4, checkpoint_every=0,
                            lr_schedule="cosine"),
    )  # fmt: skip


def builders(cfg: Config, k: int) -> dict[str, Any]:
    """name -> a function building that network (ConvNeXt, its ablations, ViT, Swin)."""
    kw = {"num_classes": k, "in_chans": 1, "patch_size": 2}
    out: dict[str, Any] = {"convnext": lambda: ablated_convnext(cfg.depths, cfg.dims, **kw)}
    for name, (_, opts) in ABLATIONS.items():
        out[name] = lambda o=opts: ablated_convnext(cfg.depths, cfg.dims, block=o, **kw)
    out["vit"] = lambda: ViT(
        image_size=cfg.resolution,
        patch_size=2,
        in_chans=1,
        num_classes=k,
        dim=cfg.vit_dim,
        depth=cfg.vit_depth,
        heads=4,
        mlp_dim=4 * cfg.vit_dim,
    )
    out["swin"] = lambda: Swin(image_size=cfg.resolution, patch_size=2, in_chans=1, num_classes=k,
                               embed_dim=cfg.swin_dim, depths=(2, 2), heads=(2, 4), window_size=4,
                               drop_path_rate=0.0)  # fmt: skip
    return out


def _mean(v: list[float]) -> float:
    return sum(v) / len(v)


def _verdict_peers(m: dict[str, Any]) -> tuple[bool, str]:
    f = m["flops"]
    ratios = {p: f[p] / f["convnext"] for p in PEERS}
    flops_ok = all(1 / m["flops_factor"] <= r <= m["flops_factor"] for r in ratios.values())
    holds = flops_ok and all(m["comparisons"][p]["holds"] for p in PEERS)
    acc = m["test_accuracy"]
    return holds, (
        f"mean test accuracy ConvNeXt {_mean(acc['convnext']):.4f} ({f['convnext'] / 1e6:.2f} "
        f"MFLOPs, {m['params']['convnext']} params), ViT {_mean(acc['vit']):.4f} "
        f"({f['vit'] / 1e6:.2f} MFLOPs, {m['params']['vit']}), Swin {_mean(acc['swin']):.4f} "
        f"({f['swin'] / 1e6:.2f} MFLOPs, {m['params']['swin']}); FLOPs within "
        f"{m['flops_factor']}x: {flops_ok}; {m['evidence']['vit']}; {m['evidence']['swin']} "
        f"(rule: lower bound > -{100 * m['parity_tolerance']:.0f} points for both)"
    )


def _verdict_ablation(m: dict[str, Any], *, name: str) -> tuple[bool, str]:
    acc = m["test_accuracy"]
    return m["comparisons"][name]["holds"], (
        f"mean test accuracy ConvNeXt {_mean(acc['convnext']):.4f} vs {ABLATIONS[name][0]} "
        f"{_mean(acc[name]):.4f} (FLOPs {m['flops']['convnext'] / 1e6:.2f} vs "
        f"{m['flops'][name] / 1e6:.2f} M); {m['evidence'][name]}"
    )


CLAIMS = (
    Claim(
        "convnext-matches-transformers",
        "ConvNeXt matches ViT and Swin at similar compute (FLOPs within 1.5x): its test "
        "accuracy is not more than 2 points below either (one-sided 95% bound over >= 3 "
        "seeds) - measured at small scale (8x8 digits at 16 px, ~0.1M-parameter networks).",
        _verdict_peers,
        "convnext.png",
    ),
    *(
        Claim(
            f"convnext-ablation-{name}",
            f"ConvNeXt's design choice helps: the block as published beats the one with "
            f"{desc} (paired over >= 3 seeds, t lower bound > 0; small scale).",
            lambda m, n=name: _verdict_ablation(m, name=n),
            "convnext.png",
        )
        for name, (desc, _) in ABLATIONS.items()
    ),
)


@experiment(
    "cnn-convnext",
    topic="cnn",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Liu et al. 2022, arXiv:2201.03545; Dosovitskiy et al. 2021, arXiv:2010.11929; "
    "Liu et al. 2021, arXiv:2103.14030",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Train ConvNeXt, its four ablations, ViT and Swin over seeds; compare test accuracy."""
    data = load_classification("digits", val_fraction=0.1, seed=ctx.seed)
    k, r = data.num_classes, cfg.resolution

    def resized(ds: TensorDataset) -> TensorDataset:
        x, y = ds.tensors
        return TensorDataset(F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False), y)

    train, test = resized(subset(data.train, cfg.n_train, ctx.seed + 1)), resized(data.test)
    build = builders(cfg, k)
    x1 = test.tensors[0][:1]
    flops = {n: count_flops(b(), x1) for n, b in build.items()}
    params = {n: count_params(b()) for n, b in build.items()}
    acc: dict[str, list[float]] = {n: [] for n in build}
    for s in cfg.seeds:
        for name, b in build.items():
            model: nn.Module = seeded(b, s)
            opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.05)
            train_variant(ctx, name, ClassificationTask(model), opt, train, engine=cfg.engine,
                          seed=s)  # fmt: skip
            acc[name].append(accuracy(predict(model, test), test.tensors[1]))
            ctx.log(s, **{f"{name}_test_accuracy": acc[name][-1]})
    comps = {
        p: compare_seeds(
            acc["convnext"],
            acc[p],
            label_x="ConvNeXt",
            label_y=p,
            margin=-cfg.parity_tolerance,
            unit="points",
        )
        for p in PEERS
    }
    comps.update({a: compare_seeds(acc["convnext"], acc[a], label_x="ConvNeXt", label_y=a,
                                   unit="points") for a in ABLATIONS})  # fmt: skip
    metrics: dict[str, Any] = {
        "test_accuracy": acc, "flops": flops, "params": params,
        "comparisons": {n: c.as_dict() for n, c in comps.items()},
        "evidence": {n: c.evidence() for n, c in comps.items()},
        "flops_factor": cfg.flops_factor, "parity_tolerance": cfg.parity_tolerance,
    }  # fmt: skip
    fig, ax = plt.subplots(figsize=(8.0, 4.0), dpi=DPI)
    names = list(acc)
    for i, n in enumerate(names):
        ax.scatter([i] * len(acc[n]), acc[n], color=f"C{i}")
        ax.annotate(f"{flops[n] / 1e6:.1f} MFLOPs", (i, min(acc[n])), fontsize=7,
                    ha="center", va="top")  # fmt: skip
    ax.set_xticks(range(len(names)), names, rotation=20)
    ax.set(ylabel="test accuracy", title=f"digits at {r} px, {len(cfg.seeds)} seeds")
    fig.tight_layout()
    return Result(metrics=metrics, plots=[save_figure(fig, ctx.path("convnext.png"))])
