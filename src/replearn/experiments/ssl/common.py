"""Glue of the ``ssl`` experiments: data, method builders, the pretraining task, evaluation.

* :func:`load_ssl_data`: MNIST-1D (1, 40) signals, digits (1, 8, 8) or Fashion-MNIST
  (1, 28, 28) images as tensors; images are upsampled for the patch-based pretext tasks.
* :func:`build_method`: one of :data:`METHODS` from the config's sizes and switches.
* :class:`SSLTask`: the engine's general form -- draw the views, ``loop.optimize`` the loss,
  then ``momentum_update(loop.progress)`` for methods with an EMA target (declared state:
  the EMA modules, MoCo's queue and DINO's centre are in the task's ``state_dict``). Every
  update logs the collapse monitor of the batch's embeddings.
* :func:`representation_metrics`: linear probe and weighted k-NN on frozen features, plus
  probes on 1% and 10% of the labels.
* :func:`supervised_accuracy`: the same encoder trained from scratch (or fine-tuned) on a
  labelled subset, through the engine.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from replearn.data import load_classification
from replearn.engine import ClassificationTask, EngineConfig, RunContext, Task, fit
from replearn.experiments.common import accuracy
from replearn.ssl.augment import ImageViews, SignalViews
from replearn.ssl.encoders import ConvEncoder
from replearn.ssl.evaluate import (
    collapse_monitor,
    extract_features,
    knn_accuracy,
    label_subset,
    linear_probe_accuracy,
)
from replearn.ssl.ijepa import IJEPA
from replearn.ssl.methods import (
    BYOL,
    CLIP,
    DINO,
    BarlowTwins,
    CaptionVocab,
    MoCo,
    SimCLR,
    TextEncoder,
)
from replearn.ssl.methods.clip import TEMPLATES, class_words, make_captions
from replearn.ssl.pretext import ContextPrediction, Jigsaw, RotationPrediction, grid_features

VIEW_METHODS = ("simclr", "moco", "byol", "barlow", "dino")
PRETEXT = ("rotation", "jigsaw", "context")
METHODS = (*VIEW_METHODS, "clip", "ijepa", *PRETEXT)
PRETEXT_SIDE = 24  # digits are upsampled to 24 x 24 for the patch-based pretext tasks


@dataclass
class SSLData:
    """Inputs and labels of the training pool (SSL uses no label) and the test split."""

    train_x: Tensor
    train_y: Tensor
    test_x: Tensor
    test_y: Tensor
    num_classes: int
    input_shape: tuple[int, ...]
    class_names: tuple[str, ...]
    name: str


def load_ssl_data(name: str, *, n_train: int | None, seed: int, upsample: bool) -> SSLData:
    """Training pool (train + val of ``load_classification``, cut to ``n_train``) and test."""
    d = load_classification(name, val_fraction=0.0, seed=seed)
    x, y = d.train.tensors
    if n_train is not None and n_train < len(x):
        idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n_train]
        x, y = x[idx], y[idx]
    tx, ty = d.test.tensors
    shape = tuple(d.input_shape)
    if upsample and len(shape) == 3 and shape[-1] < PRETEXT_SIDE:
        size = (PRETEXT_SIDE, PRETEXT_SIDE)
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        tx = F.interpolate(tx, size=size, mode="bilinear", align_corners=False)
        shape = (shape[0], *size)
    return SSLData(x, y, tx, ty, d.num_classes, shape, tuple(d.class_names), name)


def pretext_sizes(side: int) -> dict[str, int]:
    """Patch, gap, jitter (context prediction) and tile, cell (jigsaw) for a square side."""
    cell = side // 3
    return {"patch": cell - 2, "gap": 1, "jitter": 1, "tile": cell - 2, "cell": cell}


def build_method(cfg: Any, data: SSLData, vocab: CaptionVocab | None = None) -> nn.Module:
    """The method of ``cfg.method`` with the config's sizes and ablation switches."""
    shape, m = data.input_shape, cfg.method
    kw = {"feat_dim": cfg.features, "proj_dim": cfg.proj_dim, "hidden": cfg.hidden}
    if m in VIEW_METHODS or m in ("clip", "rotation"):
        enc = ConvEncoder(shape, width=cfg.width, features=cfg.features)
    if m == "simclr":
        return SimCLR(enc, temperature=cfg.temperature, head=cfg.head, **kw)
    if m == "moco":
        return MoCo(
            enc,
            queue_size=cfg.queue_size,
            momentum=cfg.momentum,
            temperature=cfg.moco_temperature,
            **kw,
        )
    if m == "byol":
        return BYOL(enc, base_momentum=cfg.momentum, predictor=cfg.predictor, ema=cfg.ema, **kw)
    if m == "barlow":
        return BarlowTwins(enc, lambd=cfg.lambd, redundancy=cfg.redundancy, **kw)
    if m == "dino":
        return DINO(
            enc,
            feat_dim=cfg.features,
            out_dim=cfg.dino_out_dim,
            hidden=cfg.hidden,
            base_momentum=cfg.momentum,
            centering=cfg.centering,
            sharpening=cfg.sharpening,
        )
    if m == "clip":
        assert vocab is not None
        text = TextEncoder(len(vocab), dim=cfg.proj_dim, features=cfg.hidden)
        return CLIP(enc, text, image_dim=cfg.features, text_dim=cfg.hidden, embed_dim=cfg.proj_dim)
    if m == "ijepa":
        return IJEPA(
            shape,
            patch=cfg.patch,
            dim=cfg.vit_dim,
            depth=cfg.vit_depth,
            heads=4,
            mlp_dim=2 * cfg.vit_dim,
            pred_dim=cfg.vit_dim // 2,
            pred_depth=2,
            base_momentum=cfg.momentum,
        )
    if m == "rotation":
        return RotationPrediction(enc, feat_dim=cfg.features)
    if m in ("jigsaw", "context"):
        s = pretext_sizes(shape[-1])
        tile_enc = ConvEncoder(
            (shape[0], s["patch"], s["patch"]), width=cfg.width, features=cfg.features
        )
        if m == "jigsaw":
            return Jigsaw(tile_enc, feat_dim=cfg.features, tile=s["tile"], n_perms=cfg.n_perms)
        gap, jitter = (s["gap"], s["jitter"]) if cfg.gap_jitter else (0, 0)
        return ContextPrediction(
            tile_enc, feat_dim=cfg.features, patch=s["patch"], gap=gap, jitter=jitter
        )
    raise ValueError(f"unknown method {m!r}; known: {', '.join(METHODS)}")


class _GridFeatures(nn.Module):
    def __init__(self, encoder: nn.Module, patch: int, stride: int) -> None:
        super().__init__()
        self.encoder, self.patch, self.stride = encoder, patch, stride

    def forward(self, x: Tensor) -> Tensor:
        return grid_features(self.encoder, x, patch=self.patch, stride=self.stride)


def feature_extractor(method: nn.Module) -> nn.Module:
    """What the probes read: the backbone (pooled tokens for I-JEPA, 3 x 3 patches for
    jigsaw and context prediction)."""
    if isinstance(method, IJEPA):
        return method.feature_extractor()
    if isinstance(method, (Jigsaw, ContextPrediction)):
        return _GridFeatures(
            method.encoder, method.encoder.input_shape[-1], pretext_sizes(PRETEXT_SIDE)["cell"]
        )
    return method.encoder


class SSLTask(Task):
    """One pretraining update: views -> loss -> optimizer step -> EMA update; logs collapse."""

    def __init__(
        self, method: nn.Module, views: nn.Module, *, n_local: int = 0, tokens: Tensor | None = None
    ) -> None:
        super().__init__()
        self.method, self.views, self.n_local = method, views, n_local
        self.tokens = tokens  # CLIP: caption ids of every training example (row = example)

    def update(self, batch: Any, loop: Any) -> dict[str, Tensor]:
        x, idx = batch
        with loop.autocast():
            if isinstance(self.method, CLIP):
                assert self.tokens is not None
                loss, z = self.method(self.views(x), self.tokens[idx.cpu()].to(x.device))
            elif isinstance(self.method, (IJEPA, RotationPrediction, Jigsaw, ContextPrediction)):
                loss, z = self.method(x)
            else:
                local = [self.views(x, local=True) for _ in range(self.n_local)]
                loss, z = self.method(self.views(x), self.views(x), *local)
        loop.optimize(loss)
        if hasattr(self.method, "momentum_update"):
            self.method.momentum_update(loop.progress)
        mon = collapse_monitor(z)
        return {
            "loss": loss.detach(),
            "embedding_std": torch.tensor(mon["embedding_std"]),
            "effective_rank": torch.tensor(mon["effective_rank"]),
        }


def views_for(data: SSLData, strength: float) -> nn.Module:
    """Signal or image augmentation for the data set."""
    return (
        SignalViews(strength=strength)
        if len(data.input_shape) == 2
        else ImageViews(strength=strength)
    )


def pretrain(cfg: Any, data: SSLData, ctx: RunContext, *, name: str, seed: int) -> dict[str, Any]:
    """Pretrain ``cfg.method`` in the child run ``name``; returns the method and its numbers."""
    torch.manual_seed(seed)
    vocab = tokens = None
    if cfg.method == "clip":
        captions = make_captions(data.train_y, data.class_names, seed=seed)
        vocab = CaptionVocab([*captions, *TEMPLATES])
        tokens = vocab.encode(captions)
    method = build_method(cfg, data, vocab).to(ctx.device)
    n_local = cfg.n_local if cfg.method == "dino" else 0
    task = SSLTask(method, views_for(data, cfg.strength), n_local=n_local, tokens=tokens)
    params = [p for p in method.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    train = TensorDataset(data.train_x, torch.arange(len(data.train_x)))
    t0 = time.perf_counter()
    with ctx.child(name, seed=seed) as sub:
        loop = fit(task, opt, train, cfg=cfg.engine, ctx=sub)
    wall = time.perf_counter() - t0
    method.eval()
    with torch.no_grad():
        x = data.test_x[: cfg.monitor_examples].to(ctx.device)
        if isinstance(method, CLIP):
            z = method.encode_image(x)
        elif isinstance(method, (IJEPA, RotationPrediction, Jigsaw, ContextPrediction)):
            z = feature_extractor(method)(x)
        else:
            z = method(x, x)[1]
    out = {"method": method, "wall_time_s": wall, "steps": loop.step, "vocab": vocab}
    out.update(collapse_monitor(z.cpu()))
    out["final_loss"] = (
        float(loop.history[-1].get("train_loss", math.nan)) if loop.history else math.nan
    )
    return out


def zero_shot_accuracy(method: CLIP, data: SSLData, vocab: CaptionVocab) -> float:
    """Test accuracy of classifying by the first template's prompt per class."""
    prompts = [[TEMPLATES[0].format(class_words(c))] for c in data.class_names]
    prompt_tokens = torch.stack([vocab.encode(p) for p in prompts])  # (C, 1, T)
    device = next(method.parameters()).device
    method.eval()
    logits = torch.cat(
        [
            method.zero_shot_logits(
                data.test_x[i : i + 1000].to(device), prompt_tokens.to(device)
            ).cpu()
            for i in range(0, len(data.test_x), 1000)
        ]
    )
    return accuracy(logits, data.test_y)


def representation_metrics(
    extractor: nn.Module,
    data: SSLData,
    *,
    n_probe: int | None,
    fractions: tuple[float, ...],
    seed: int,
) -> dict[str, float]:
    """Linear probe, k-NN (k = 20, tau = 0.07) and low-label linear probes of frozen features."""
    xtr, ytr = data.train_x, data.train_y
    if n_probe is not None and n_probe < len(xtr):
        idx = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(seed))[:n_probe]
        xtr, ytr = xtr[idx], ytr[idx]
    ftr, fte = extract_features(extractor, xtr), extract_features(extractor, data.test_x)
    out = {
        "linear_probe_accuracy": linear_probe_accuracy(ftr, ytr, fte, data.test_y),
        "knn_accuracy": knn_accuracy(ftr, ytr, fte, data.test_y, num_classes=data.num_classes),
    }
    for frac in fractions:
        sub = label_subset(data.train_y, frac, seed=seed)
        f_sub = extract_features(extractor, data.train_x[sub])
        key = f"probe_{round(100 * frac)}pct_accuracy"
        out[key] = linear_probe_accuracy(f_sub, data.train_y[sub], fte, data.test_y)
    return out


def supervised_accuracy(
    cfg: Any,
    data: SSLData,
    ctx: RunContext,
    *,
    fraction: float,
    seed: int,
    name: str,
    init: nn.Module | None = None,
) -> float:
    """Test accuracy of the encoder + linear head trained on ``fraction`` of the labels
    (from scratch, or fine-tuned from ``init``), through the engine."""
    torch.manual_seed(seed)
    enc = ConvEncoder(data.input_shape, width=cfg.width, features=cfg.features)
    if init is not None:
        enc.load_state_dict(init.state_dict())
    model = nn.Sequential(enc, nn.Linear(cfg.features, data.num_classes)).to(ctx.device)
    sub = label_subset(data.train_y, fraction, seed=seed)
    train = TensorDataset(data.train_x[sub], data.train_y[sub])
    eng = EngineConfig(
        max_steps=cfg.supervised_steps,
        batch_size=min(32, len(sub)),
        log_every=max(cfg.supervised_steps // 4, 1),
        checkpoint_every=0,
        progress=False,
    )
    with ctx.child(name, seed=seed) as child:
        fit(
            ClassificationTask(model),
            torch.optim.Adam(model.parameters(), lr=1e-3),
            train,
            cfg=eng,
            ctx=child,
        )
    return accuracy(extract_features(model, data.test_x), data.test_y)


def raw_probe_accuracy(data: SSLData, *, n_probe: int | None, seed: int) -> float:
    """Linear probe on the flattened raw inputs."""
    flat = nn.Flatten()
    return representation_metrics(flat, data, n_probe=n_probe, fractions=(), seed=seed)[
        "linear_probe_accuracy"
    ]
