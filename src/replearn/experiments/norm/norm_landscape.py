r"""Experiment ``norm-landscape``: what normalization does to optimization, on digits MLPs.

    replearn run norm-landscape                   # a few minutes on 2 cores, no file
    replearn claims norm-landscape --quick

A 4-hidden-layer ReLU MLP (width ``width``) on scikit-learn's digits, SGD with momentum
0.9, every run through the engine; each claim over ``seeds`` (>= 3) training seeds with
:func:`~replearn.experiments.stats.compare_seeds` (paired by seed: same minibatches).
Normalization layers are replearn's (:class:`~replearn.norm.BatchNorm1d`,
:func:`~replearn.norm.weight_norm`).

1. ``batchnorm-smooths-landscape`` (Santurkar, Tsipras, Ilyas & Madry 2018,
   arXiv:1805.11604, Sec. 3.1, Fig. 4): every ``probe_every`` updates, on a fixed probe
   batch, move along the gradient :math:`\theta' = \theta - \eta' g` for step sizes
   :math:`\eta'` in ``probe_steps`` and record the *effective* :math:`\beta`-smoothness
   :math:`\max_{\eta'} \|\nabla L(\theta) - \nabla L(\theta')\| / \|\theta - \theta'\|` and
   the gradient predictiveness :math:`\max_{\eta'} \|\nabla L(\theta) - \nabla
   L(\theta')\|`; their trajectory means are lower with BatchNorm (both).
   ``smoothness.png``.
2. ``batchnorm-init-scale``: every weight matrix's default initialisation multiplied by
   each factor of ``init_scales``: the worst validation accuracy over the scales is
   higher with BatchNorm than without. ``init_scale.png``.
3. ``batchnorm-before-activation``: Ioffe & Szegedy (2015, arXiv:1502.03167, Sec. 3.2)
   normalize :math:`Wu` *before* the non-linearity; BN before the ReLU ends with a lower
   training loss than BN after it. ``placement.png``.
4. ``weightnorm-eases-optimization`` (Salimans & Kingma 2016, arXiv:1602.07868): weight
   normalization on every linear layer ends with a lower training loss than the plain
   MLP at the same rate. ``weightnorm.png``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.engine import Callback, RunContext
from replearn.engine.context import single_thread
from replearn.engine.trainer import Loop
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.optim.digits_bench import (
    IndexClassifier,
    load_bench,
    mean_differences,
    seed_bars,
    train_on_bench,
)
from replearn.experiments.stats import compare_seeds
from replearn.norm import BatchNorm1d, weight_norm
from replearn.optim import SGD
from replearn.report.plots import line_plot


@dataclass(frozen=True)
class Config:
    """Config of ``norm-landscape``.

    Attributes:
        seeds: training seeds (>= 3).
        width: hidden units per layer (4 hidden layers).
        steps: updates per run.
        batch: examples per update.
        lr: SGD's rate (momentum 0.9).
        probe_every: updates between two smoothness probes (claim 1).
        probe_steps: the step sizes, as multiples of ``lr``, along the gradient (claim 1).
        probe_batch: examples of the fixed probe batch (claim 1).
        init_scales: factors of the default initialisation (claim 2).
        init_steps: updates per run of claim 2.
    """

    seeds: tuple[int, ...] = (0, 1, 2)
    width: int = 64
    steps: int = 400
    batch: int = 64
    lr: float = 0.05
    probe_every: int = 20
    probe_steps: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    probe_batch: int = 256
    init_scales: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0, 10.0)
    init_steps: int = 300

    def __post_init__(self) -> None:
        if len(self.seeds) < 3:
            raise ValueError(f"seeds needs >= 3 seeds, got {self.seeds}")
        for name in ("width", "steps", "batch", "probe_every", "probe_batch", "init_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.probe_steps or not self.init_scales:
            raise ValueError("probe_steps and init_scales need at least one value")


def tiny() -> Config:
    """Seconds: very short runs (verdicts not meaningful)."""
    return Config(steps=4, probe_every=2, probe_steps=(1.0,), init_scales=(1.0,), init_steps=4)


def quick() -> Config:
    """Seconds: 40 + 40 updates, three scales (a smoke check)."""
    return Config(steps=40, probe_every=10, probe_batch=128, init_scales=(0.1, 1.0, 10.0),
                  init_steps=40)  # fmt: skip


def make_mlp(width: int, norm: str = "none", init_scale: float = 1.0) -> nn.Sequential:
    """64 -> 4 x ``width`` (ReLU) -> 10; ``norm``: none, bn (before ReLU), bn_after, weight."""
    layers: list[nn.Module] = []
    sizes = (64, width, width, width, width)
    for i in range(4):
        linear = nn.Linear(sizes[i], sizes[i + 1])
        with torch.no_grad():
            linear.weight.mul_(init_scale)
        if norm == "weight":
            weight_norm(linear)
        layers.append(linear)
        if norm == "bn":
            layers += [BatchNorm1d(width), nn.ReLU()]
        elif norm == "bn_after":
            layers += [nn.ReLU(), BatchNorm1d(width)]
        else:
            layers.append(nn.ReLU())
    head = nn.Linear(width, 10)
    with torch.no_grad():
        head.weight.mul_(init_scale)
    if norm == "weight":
        weight_norm(head)
    return nn.Sequential(*layers, head)


def _grad(model: nn.Module, x: Tensor, y: Tensor) -> tuple[float, Tensor]:
    model.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    return float(loss.detach()), torch.cat([p.grad.reshape(-1) for p in model.parameters()])


def smoothness_probe(model: nn.Module, x: Tensor, y: Tensor, lr: float,
                     multiples: tuple[float, ...]) -> dict[str, float]:  # fmt: skip
    """Santurkar et al.'s measures at the current point, on a copy (train-mode statistics).

    Returns ``beta`` (effective beta-smoothness), ``pred`` (gradient predictiveness: the
    largest gradient change) and ``loss_range`` (loss variation along the gradient).
    """
    probe = copy.deepcopy(model)
    _, g = _grad(probe, x, y)
    start = [p.detach().clone() for p in probe.parameters()]
    beta, pred, losses = 0.0, 0.0, []
    for k in multiples:
        step = lr * k
        with torch.no_grad():
            offset = 0
            for p, p0 in zip(probe.parameters(), start, strict=True):
                p.copy_(p0 - step * g[offset : offset + p.numel()].view_as(p))
                offset += p.numel()
        loss, g2 = _grad(probe, x, y)
        change = float((g - g2).norm())
        beta = max(beta, change / max(step * float(g.norm()), 1e-30))
        pred = max(pred, change)
        losses.append(loss)
    return {"beta": beta, "pred": pred, "loss_range": max(losses) - min(losses)}


class SmoothnessProbe(Callback):
    """Runs :func:`smoothness_probe` every ``every`` updates; keeps the rows in ``rows``."""

    def __init__(self, x: Tensor, y: Tensor, lr: float, multiples: tuple[float, ...],
                 every: int) -> None:  # fmt: skip
        self.x, self.y, self.lr, self.multiples, self.every = x, y, lr, multiples, every
        self.rows: list[dict[str, float]] = []

    def on_step_end(self, loop: Loop) -> None:
        if loop.step % self.every == 0:
            x, y = self.x.to(loop.device), self.y.to(loop.device)
            row = smoothness_probe(loop.task.model, x, y, self.lr, self.multiples)
            self.rows.append({"step": loop.step, **row})


def _train(cfg: Config, ctx: RunContext, name: str, build: Callable[[], nn.Module], seed: int,
           steps: int, callbacks: tuple[Callback, ...] = ()) -> IndexClassifier:  # fmt: skip
    task, _ = train_on_bench(ctx, name, build, lambda p: SGD(p, lr=cfg.lr, momentum=0.9),
                             seed=seed, steps=steps, batch=cfg.batch,
                             callbacks=callbacks)  # fmt: skip
    return task


def _smoothness(cfg: Config, ctx: RunContext, m: dict[str, Any]) -> Any:
    means: dict[str, dict[str, list[float]]] = {"none": {}, "bn": {}}
    curves: dict[str, list[float]] = {}
    for seed in cfg.seeds:
        bench = load_bench(seed)
        px, py = bench.x_train[: cfg.probe_batch], bench.y_train[: cfg.probe_batch]
        for norm in means:
            probe = SmoothnessProbe(px, py, cfg.lr, cfg.probe_steps, cfg.probe_every)
            _train(cfg, ctx, f"smooth-{norm}", lambda n=norm: make_mlp(cfg.width, n), seed,
                   cfg.steps, (probe,))  # fmt: skip
            for key in ("beta", "pred", "loss_range"):
                vals = [r[key] for r in probe.rows]
                means[norm].setdefault(key, []).append(sum(vals) / max(len(vals), 1))
            if seed == cfg.seeds[0]:
                curves[f"beta, {norm}"] = [r["beta"] for r in probe.rows]
                steps = [r["step"] for r in probe.rows]
    for key in ("beta", "pred"):
        c = compare_seeds(means["bn"][key], means["none"][key], higher_is_better=False,
                          label_x="BN", label_y="no norm")  # fmt: skip
        m[f"smooth_{key}"], m[f"smooth_{key}_evidence"] = c.as_dict(), c.evidence()
    m["smooth_trajectory_means"] = means
    return line_plot(steps, curves, ctx.path("smoothness.png"), xlabel="update",
                     ylabel="effective beta-smoothness", title="Santurkar et al.'s probe, seed 0",
                     logy=True)  # fmt: skip


def _init_scale(cfg: Config, ctx: RunContext, m: dict[str, Any]) -> Any:
    acc: dict[str, list[list[float]]] = {"none": [], "bn": []}
    for seed in cfg.seeds:
        bench = load_bench(seed)
        for norm in acc:
            row = []
            for s in cfg.init_scales:
                task = _train(cfg, ctx, f"init-{norm}-x{s:g}",
                              lambda n=norm, sc=s: make_mlp(cfg.width, n, sc), seed,
                              cfg.init_steps)  # fmt: skip
                row.append(task.accuracy(bench.x_val, bench.y_val))
            acc[norm].append(row)
    worst = {k: [min(r) for r in v] for k, v in acc.items()}
    c = compare_seeds(worst["bn"], worst["none"], label_x="BN", label_y="no norm", unit="points")
    m.update(init_val_accuracy=acc, init_worst=worst, init=c.as_dict(), init_evidence=c.evidence())
    mean = {k: torch.tensor(v).mean(0).tolist() for k, v in acc.items()}
    return line_plot(list(cfg.init_scales), mean, ctx.path("init_scale.png"),
                     xlabel="init scale factor", ylabel="validation accuracy (mean of seeds)",
                     title="initialisation scale", logx=True)  # fmt: skip


def _pair(cfg: Config, ctx: RunContext, m: dict[str, Any], key: str, x: str, y: str,
          plot: str) -> Any:  # fmt: skip
    loss: dict[str, list[float]] = {x: [], y: []}
    for seed in cfg.seeds:
        for norm in loss:
            task = _train(cfg, ctx, f"{key}-{norm}", lambda n=norm: make_mlp(cfg.width, n), seed,
                          cfg.steps)  # fmt: skip
            task.train()  # training loss as the optimizer saw it (batch statistics)
            loss[norm].append(task.full_loss())
    c = compare_seeds(loss[x], loss[y], higher_is_better=False, label_x=x, label_y=y)
    m[key], m[f"{key}_evidence"], m[f"{key}_train_loss"] = c.as_dict(), c.evidence(), loss
    return seed_bars(
        loss, ctx.path(plot), ylabel="training loss", title=f"after {cfg.steps} updates"
    )


def _v_smooth(m: dict[str, Any]) -> tuple[bool, str]:
    return m["smooth_beta"]["holds"] and m["smooth_pred"]["holds"], (
        f"trajectory mean of the effective beta-smoothness: {m['smooth_beta_evidence']}; of the "
        f"largest gradient change: {m['smooth_pred_evidence']}"
    )


def _v_init(m: dict[str, Any]) -> tuple[bool, str]:
    w = m["init_worst"]
    return m["init"]["holds"], (
        f"worst validation accuracy over the init scales: BN {[round(v, 3) for v in w['bn']]}, "
        f"none {[round(v, 3) for v in w['none']]}; {m['init_evidence']}"
    )


def _v(key: str) -> Callable[[dict[str, Any]], tuple[bool, str]]:
    def verdict(m: dict[str, Any]) -> tuple[bool, str]:
        return m[key]["holds"], f"final training loss: {m[f'{key}_evidence']}"

    return verdict


CLAIMS = (
    Claim("batchnorm-smooths-landscape",
          "BatchNorm smooths the loss landscape (Santurkar et al. 2018): along the training "
          "trajectory, the effective beta-smoothness and the gradient change over a step are "
          "both lower with BatchNorm, over >= 3 seeds.", _v_smooth, "smoothness.png"),
    Claim("batchnorm-init-scale",
          "BatchNorm makes the initialisation scale less critical: over init scales 0.1x to "
          "10x, the worst validation accuracy is higher with BatchNorm, over >= 3 seeds.",
          _v_init, "init_scale.png"),
    Claim("batchnorm-before-activation",
          "BatchNorm before the non-linearity (Ioffe & Szegedy's placement) trains faster than "
          "after it: lower training loss after the same updates, over >= 3 seeds.",
          _v("placement"), "placement.png"),
    Claim("weightnorm-eases-optimization",
          "Weight normalization eases optimization: lower training loss than the same MLP "
          "without it after the same updates at the same rate, over >= 3 seeds.",
          _v("weightnorm"), "weightnorm.png"),
)  # fmt: skip


@experiment(
    "norm-landscape",
    topic="norm",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Santurkar et al. 2018, arXiv:1805.11604; Ioffe & Szegedy 2015, arXiv:1502.03167; "
    "Salimans & Kingma 2016, arXiv:1602.07868",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Normalization and optimization on digits MLPs: smoothness, init scale, placement, WN."""
    m: dict[str, Any] = {}
    with single_thread():
        plots = [
            _smoothness(cfg, ctx, m),
            _init_scale(cfg, ctx, m),
            _pair(cfg, ctx, m, "placement", "bn", "bn_after", "placement.png"),
            _pair(cfg, ctx, m, "weightnorm", "weight", "none", "weightnorm.png"),
        ]
    # flat numbers for result.json: each comparison's mean difference (favouring its X)
    m.update(mean_differences(m))
    return Result(metrics=m, plots=plots)
