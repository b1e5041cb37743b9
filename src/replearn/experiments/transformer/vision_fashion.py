"""Experiment ``vision-fashion``: a small ViT and a small Swin Transformer on Fashion-MNIST.

Both are trained from scratch with the engine's ``fit`` (AdamW, weight decay 0.05, linear
warm-up then cosine decay, batch 64) for the same number of steps on the same images in the
same order, and scored on the 10,000-image test set:

* ViT (:class:`~replearn.transformer.vit.ViT`, Dosovitskiy et al. 2021): 4×4 patches of the
  28×28 images (49 tokens + class token), width 64, 4 layers, 4 heads, MLP 128 (0.14M
  parameters);
* Swin (:class:`~replearn.transformer.swin.Swin`, Liu et al. 2021): 2×2 patches (14×14 tokens),
  7×7 windows shifted by 3 in every other block, two stages of width 32 and 64 (the second,
  7×7 after patch merging, is one window), MLP ratio 2, stochastic depth 0.1 (0.10M).

No claim: the course contrasts global attention on coarse patches (ViT) with local, shifted
windows on finer patches and a pyramid (Swin); the run reports their test accuracies, training
curves (``vision_train_loss.png``, ``vision_val_accuracy.png``), parameters, FLOPs per image
and training throughput. Measured with the default config, seed 0 (400 steps = 25,600 images,
under half an epoch): ViT 0.798 test accuracy, Swin 0.739, both validation curves still
rising. At this scale neither has the data or the steps the papers' results need; compare with
the convolutional networks of ``cnn-fashion``.

Training runs on ``threads`` intra-op threads on CPU (1 by default: the tensors are small, and
on a shared 2-core machine a second thread made each step ~10x slower; on a quiet machine try
``--set threads=2``).

replearn run vision-fashion                    # 5.5-8 min on 2 busy cores (1 thread)
replearn run vision-fashion --preset quick     # ~1-2 min
replearn run vision-fashion --preset tiny      # seconds, 8x8 digits
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from replearn.engine import EngineConfig, RunContext
from replearn.experiments.base import Result, experiment
from replearn.experiments.cnn.common import (
    ImageData,
    count_flops,
    log_curves,
    train_classifier,
)
from replearn.experiments.common import count_params, engine_config, load_data, seeded
from replearn.report.plots import line_plot
from replearn.transformer.swin.model import Swin
from replearn.transformer.vit.model import ViT


def _engine(max_steps: int, eval_every: int, warmup: int, batch_size: int = 64) -> EngineConfig:
    return engine_config(
        max_steps, batch_size, log_lines=10, log_every=10, eval_every=eval_every,
        lr_schedule="warmup-cosine", warmup_steps=warmup,
    )  # fmt: skip


@dataclass(frozen=True)
class Config:
    """Settings of ``vision-fashion``.

    Attributes:
        data: ``fashion-mnist`` (28×28, the file) or ``digits`` (8×8, embedded).
        n_train: training images (a seeded subset of the pool; none: all 54,000).
        n_val: validation images, evaluated every ``engine.eval_every`` steps (the curves).
        n_test: test images (none: all 10,000).
        vit_patch: ViT patch side (must divide the image side).
        vit_dim: ViT width.
        vit_depth: ViT encoder layers.
        vit_heads: ViT attention heads.
        vit_mlp_dim: ViT MLP hidden width.
        swin_patch: Swin patch side.
        swin_window: Swin window side M (shift M // 2).
        swin_dim: Swin width of the first stage (doubled by each patch merging).
        swin_depths: Swin blocks per stage.
        swin_heads: Swin attention heads per stage.
        swin_mlp_ratio: Swin MLP hidden width / stage width.
        drop_path_rate: Swin stochastic depth rate (linear over the blocks).
        lr: peak AdamW learning rate.
        weight_decay: AdamW decoupled weight decay.
        threads: torch intra-op threads while training on CPU (none: leave as is).
        engine: training-loop settings (both models).
    """

    data: ImageData = "fashion-mnist"
    n_train: int | None = None
    n_val: int | None = 1_000
    n_test: int | None = None
    vit_patch: int = 4
    vit_dim: int = 64
    vit_depth: int = 4
    vit_heads: int = 4
    vit_mlp_dim: int = 128
    swin_patch: int = 2
    swin_window: int = 7
    swin_dim: int = 32
    swin_depths: tuple[int, ...] = (2, 2)
    swin_heads: tuple[int, ...] = (2, 4)
    swin_mlp_ratio: float = 2.0
    drop_path_rate: float = 0.1
    lr: float = 2e-3
    weight_decay: float = 0.05
    threads: int | None = 1
    engine: EngineConfig = field(default_factory=lambda: _engine(400, 50, 40))

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.weight_decay < 0:
            raise ValueError(
                f"need lr > 0 and weight_decay >= 0, got {self.lr}, {self.weight_decay}"
            )
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1 or none, got {self.threads}")


def tiny() -> Config:
    """Seconds: 8x8 digits, one-layer models, a few steps (smoke tests)."""
    return Config(
        data="digits", n_val=100, vit_patch=2, vit_dim=16, vit_depth=1, vit_heads=2,
        vit_mlp_dim=32, swin_patch=1, swin_window=4, swin_dim=8, swin_depths=(1, 1),
        swin_heads=(1, 2), engine=_engine(5, 0, 1, batch_size=32),
    )  # fmt: skip


def quick() -> Config:
    """About a minute: 80 steps per model, 2,000 test images."""
    return Config(n_val=500, n_test=2_000, engine=_engine(80, 20, 10))


def build_models(
    cfg: Config, in_chans: int, side: int, k: int
) -> dict[str, Callable[[], nn.Module]]:
    """Builders of the two networks for ``side``×``side`` images with ``in_chans`` channels."""
    return {
        "vit": lambda: ViT(
            image_size=side, patch_size=cfg.vit_patch, in_chans=in_chans, num_classes=k,
            dim=cfg.vit_dim, depth=cfg.vit_depth, heads=cfg.vit_heads, mlp_dim=cfg.vit_mlp_dim,
        ),
        "swin": lambda: Swin(
            image_size=side, patch_size=cfg.swin_patch, in_chans=in_chans, num_classes=k,
            embed_dim=cfg.swin_dim, depths=cfg.swin_depths, heads=cfg.swin_heads,
            window_size=cfg.swin_window, mlp_ratio=cfg.swin_mlp_ratio,
            drop_path_rate=cfg.drop_path_rate,
        ),
    }  # fmt: skip


@experiment(
    "vision-fashion",
    topic="transformer",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    paper="Dosovitskiy et al. 2021, arXiv:2010.11929 (ViT); Liu et al. 2021, arXiv:2103.14030 "
    "(Swin); Xiao, Rasul & Vollgraf 2017 (Fashion-MNIST)",
    reference="models checked against transformers ViT / Swin (tests/transformer)",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """ViT vs Swin Transformer trained from scratch on Fashion-MNIST: accuracy and curves."""
    data = load_data(cfg.data, n_train=cfg.n_train, n_val=cfg.n_val, n_test=cfg.n_test,
                     seed=ctx.seed)  # fmt: skip
    chans, side = data.input_shape[0], data.input_shape[-1]
    example = data.test.tensors[0][:1]
    metrics: dict[str, Any] = {
        "train_steps": cfg.engine.max_steps,
        "train_images_seen": cfg.engine.max_steps * cfg.engine.batch_size,
    }
    losses: dict[str, list[float]] = {}
    val_acc: dict[str, list[float]] = {}
    steps: list[int] = []
    val_steps: list[int] = []
    previous = torch.get_num_threads()
    single = cfg.threads is not None and ctx.device.type == "cpu"
    models = {}
    try:
        if single:
            torch.set_num_threads(cfg.threads)
        for name, build in build_models(cfg, chans, side, data.num_classes).items():
            model = seeded(build, ctx.seed)
            metrics[f"{name}_parameters"] = count_params(model)
            metrics[f"{name}_flops_per_image"] = count_flops(model, example)
            trained = train_classifier(model, data, ctx, engine=cfg.engine, lr=cfg.lr,
                                       weight_decay=cfg.weight_decay, name=name)  # fmt: skip
            rows = [r for r in trained.history if "val_accuracy" in r]
            steps, losses[name] = trained.steps, trained.train_loss
            val_steps, val_acc[name] = (
                [int(r["step"]) for r in rows],
                [r["val_accuracy"] for r in rows],
            )
            metrics[f"{name}_test_accuracy"] = trained.test_accuracy
            metrics[f"{name}_test_loss"] = trained.test_loss
            metrics[f"{name}_final_val_accuracy"] = val_acc[name][-1] if rows else float("nan")
            metrics[f"{name}_train_time_s"] = trained.train_time_s
            metrics[f"{name}_train_images_per_s"] = round(
                metrics["train_images_seen"] / max(trained.train_time_s, 1e-9), 1
            )
            models[name] = trained.model
    finally:
        torch.set_num_threads(previous)
    log_curves(ctx, steps, losses)
    title = f"ViT vs Swin on {cfg.data}"
    plots = [
        line_plot(
            steps,
            losses,
            ctx.path("vision_train_loss.png"),
            xlabel="AdamW step",
            ylabel="training cross-entropy (running mean)",
            title=title,
            logy=True,
        )
    ]
    if val_steps:
        plots.append(
            line_plot(
                val_steps,
                val_acc,
                ctx.path("vision_val_accuracy.png"),
                xlabel="AdamW step",
                ylabel="validation accuracy",
                title=title,
            )
        )
    metrics["test_examples"] = len(data.test)
    metrics["train_examples"] = len(data.train)
    metrics["test_accuracy_swin_minus_vit"] = (
        metrics["swin_test_accuracy"] - metrics["vit_test_accuracy"]
    )
    return Result(metrics=metrics, model=models["vit"], plots=plots)
