"""Experiment ``regularize-multitask``: a shared trunk with a classifier and a decoder head.

With few labelled images, the classifier (task ``class``, cross-entropy) is
trained alone, and together with an auxiliary task on the same images:
reconstructing the input (task ``recon``, squared error of a sigmoid decoder
head) through the same MLP trunk (hard parameter sharing, Caruana 1997).
Variants, all from the same initial trunk and with the same batches:

* ``single-class``: the classifier alone;
* ``single-recon``: the decoder alone (to compare the reconstruction error);
* ``multi``: both, loss ``class + recon_weight * recon`` (Eq. 1 of
  :mod:`replearn.regularize.multitask`);
* ``multi-learned``: both, with Kendall et al.'s learned weights (Eq. 2).

Every variant is trained for ``seeds`` training seeds (3 by default; the labelled subset is
fixed). A claim holds if the multi-task classifier's test accuracy exceeds the single-task
one over the seeds: the one-sided 95% Student-t lower bound of the mean paired difference
must be above zero (:func:`replearn.experiments.stats.compare_seeds`). Writes
``accuracy.png`` (means over seeds).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from replearn.engine import EngineConfig, RunContext, fit
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import load_data
from replearn.experiments.regularize.common import (
    MultiTaskTask,
    accuracy,
    bar_chart,
    comparison,
    improvement_over_seeds,
    mlp,
    over_seeds,
)
from replearn.regularize.multitask import MultiTaskNet

VARIANTS: dict[str, tuple[str, ...]] = {
    "single-class": ("class",),
    "single-recon": ("recon",),
    "multi": ("class", "recon"),
    "multi-learned": ("class", "recon"),
}


@dataclass(frozen=True)
class Config:
    """Config of ``regularize-multitask``.

    Attributes:
        data: fashion-mnist (file), digits (embedded) or mnist1d.
        n_train: labelled training images (a seeded subset).
        hidden: widths of the shared trunk.
        recon_weight: weight w of the reconstruction loss in ``multi``.
        lr: Adam learning rate.
        seeds: training seeds (``seed, seed + 1, ...``; >= 3).
        engine: training-loop settings (shared by the variants).
    """

    data: Literal["fashion-mnist", "digits", "mnist1d"] = "fashion-mnist"
    n_train: int | None = 1000
    hidden: tuple[int, ...] = (256, 128)
    recon_weight: float = 1.0
    lr: float = 1e-3
    seeds: int = 3
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=2000, batch_size=100, log_every=100, eval_every=250, checkpoint_every=0
        )
    )


def tiny() -> Config:
    """Seconds: digits, 7 steps per variant and seed (smoke tests)."""
    return Config(
        data="digits",
        n_train=300,
        hidden=(32,),
        engine=EngineConfig(max_steps=7, batch_size=50, log_every=7, checkpoint_every=0),
    )


def quick() -> Config:
    """Seconds: digits, 300 labelled images, 40 steps per variant and seed (a smoke check)."""
    base = Config(data="digits", n_train=300)
    return dataclasses.replace(
        base,
        engine=dataclasses.replace(
            base.engine, max_steps=40, batch_size=50, log_every=20, eval_every=0
        ),
    )


def _verdict(m: dict[str, Any], key: str, name: str) -> tuple[bool, str]:
    holds, evidence = improvement_over_seeds(m, key, "single-class", name, "single-task")
    return holds, (
        f"{evidence}; {m['train_examples']} labelled images; reconstruction MSE "
        f"{m[f'{key}_test_recon_mse']:.4f} vs decoder alone "
        f"{m['single-recon_test_recon_mse']:.4f} (means over seeds)"
    )


CLAIMS = (
    Claim(
        "multitask-helps",
        "Multi-task learning with hard parameter sharing improves the classifier: training the "
        "trunk also to reconstruct its input (loss class + recon) raises test accuracy over the "
        "single-task classifier with few labels (mean paired difference over training seeds, "
        "one-sided 95% lower bound > 0).",
        lambda m: _verdict(m, "multi", "multi-task"),
        "accuracy.png",
    ),
    Claim(
        "multitask-learned-weights",
        "The same holds with task weights learned by homoscedastic uncertainty (Kendall, Gal & "
        "Cipolla 2018), judged the same way.",
        lambda m: _verdict(m, "multi-learned", "multi-task (learned weights)"),
        "accuracy.png",
    ),
)


@torch.no_grad()
def _outputs(net: MultiTaskNet, x: torch.Tensor, device: torch.device) -> dict[str, torch.Tensor]:
    net.eval()
    outs = [net(x[i : i + 1000].to(device)) for i in range(0, len(x), 1000)]
    net.train()
    return {t: torch.cat([o[t].float().cpu() for o in outs]) for t in outs[0]}


@experiment(
    "regularize-multitask",
    topic="regularize",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Caruana 1997, Machine Learning 28; Kendall, Gal & Cipolla 2018, arXiv:1705.07115",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Classifier alone vs classifier + reconstruction through a shared trunk, few labels."""
    data = load_data(cfg.data, n_train=cfg.n_train, n_val=2000, seed=ctx.seed, flatten=True)
    n_in, k = data.input_shape[0], data.num_classes
    x_test, y_test = data.test.tensors

    def one_seed(run: RunContext) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for variant, tasks in VARIANTS.items():
            torch.manual_seed(run.seed)
            trunk, cls_head = mlp(n_in, cfg.hidden, k)
            heads = {"class": cls_head, "recon": nn.Linear(cfg.hidden[-1], n_in)}
            net = MultiTaskNet(trunk, {t: heads[t] for t in tasks}).to(ctx.device)
            fixed = {"class": 1.0, "recon": cfg.recon_weight}
            task = MultiTaskTask(net, None if variant == "multi-learned" else fixed)
            task = task.to(ctx.device)
            opt = torch.optim.Adam(task.parameters(), lr=cfg.lr)
            with run.child(variant) as sub:
                loop = fit(task, opt, data.train, cfg=cfg.engine, ctx=sub, val_set=data.val)
            pred = _outputs(net, x_test, ctx.device)
            m: dict[str, float] = {}
            if "class" in pred:
                m["test_accuracy"] = accuracy(pred["class"], y_test)
            if "recon" in pred:
                m["test_recon_mse"] = float(((torch.sigmoid(pred["recon"]) - x_test) ** 2).mean())
            if task.learned is not None:
                m.update({f"weight_{t}": w for t, w in task.learned.weights().items()})
            out.update({f"{variant}_{key}": v for key, v in m.items()})
            run.log(loop.step, **{f"{variant}_{key}": v for key, v in m.items()})
        return out

    metrics: dict[str, Any] = {"train_examples": len(data.train), "recon_weight": cfg.recon_weight}
    metrics.update(over_seeds(ctx, cfg.seeds, one_seed))
    for variant in ("multi", "multi-learned"):
        c = comparison(metrics, variant, "single-class", variant, "single-class")
        metrics[f"{variant}_comparison"] = c.as_dict()
    plots = [
        bar_chart(
            {v: metrics[f"{v}_test_accuracy"] for v in VARIANTS if v != "single-recon"},
            ctx.path("accuracy.png"),
            ylabel=f"test accuracy (classification, mean of {cfg.seeds} seeds)",
            title=f"{cfg.data}: {len(data.train)} labelled images",
        )
    ]
    return Result(metrics=metrics, plots=plots)
