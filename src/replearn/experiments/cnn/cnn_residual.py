"""Experiment ``cnn-residual``: the degradation problem and how shortcuts remove it.

He et al. (2016, Sec. 4.2, Fig. 6): on CIFAR-10 the plain 56-layer network reaches a
*higher training error* than the plain 20-layer one (so the gap is not overfitting),
while with identity shortcuts the 56-layer ResNet trains at least as well as ResNet-20.
Here the four CIFAR-style networks of :mod:`replearn.cnn.resnet` (widths 16/32/64, one
input channel, option-A shortcuts) are trained on Fashion-MNIST with the paper's
optimizer (SGD, momentum 0.9, weight decay 1e-4) and, for each of ``seeds`` training
seeds (3 by default), the same initial-weight seed and data order, one sub-run each
(``seed<s>/plain20/``, ``seed<s>/plain56/``, ``seed<s>/resnet20/``, ``seed<s>/resnet56/``;
the subset is fixed). The budget is short (default: 280 steps of 32 images from a
10,000-image subset, about 0.9 epoch, ~3 minutes per seed on 2 CPU cores), so the
claims are about how fast each network *trains*, measured as the training loss averaged
over the last 25% of the steps (the logged running loss, train mode, as in Fig. 6).

Every claim compares trained networks, so it is judged over the seeds with
:func:`replearn.experiments.stats.compare_seeds` (paired by seed, one-sided 95% Student-t
bound; issue 21); the thresholds (10% lower, at most 1.05x) enter as scaled losses, e.g.
ResNet-56's loss against 0.9x plain-56's. Before 2026-12-08 they were judged on one seed.

replearn run cnn-residual                                 # Fashion-MNIST, 3 seeds, ~10 min
replearn run cnn-residual --preset quick                  # 8x8 digits, no file
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from replearn.cnn.resnet import plainnet_cifar, resnet_cifar
from replearn.engine import EngineConfig, RunContext
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.cnn.common import (
    ImageData,
    log_curves,
    tail_mean_by_step,
    train_classifier,
    training_seeds,
)
from replearn.experiments.common import count_params, engine_config, load_data, seeded
from replearn.experiments.stats import compare_seeds, too_few_seeds
from replearn.report.plots import line_plot

_engine = partial(engine_config, batch_size=32, log_lines=28)


@dataclass(frozen=True)
class Config:
    """Settings of ``cnn-residual``.

    Attributes:
        shallow: depth of the shallow pair (6n + 2).
        deep: depth of the deep pair (6n + 2).
        data: ``fashion-mnist`` (28×28) or ``digits`` (8×8, embedded).
        n_train: training images (seeded subset).
        lr: SGD learning rate (momentum 0.9), constant.
        weight_decay: L2 weight decay (the paper's 1e-4).
        seeds: training seeds (``seed, seed + 1, ...``), each training all four networks;
            the claims need >= 3 (the tiny preset's single seed reports them not measured).
        engine: training-loop settings, the same for all four networks.
    """

    shallow: int = 20
    deep: int = 56
    data: ImageData = "fashion-mnist"
    n_train: int | None = 10_000
    lr: float = 0.02
    weight_decay: float = 1e-4
    seeds: int = 3
    engine: EngineConfig = field(default_factory=lambda: _engine(280))

    def __post_init__(self) -> None:
        if self.deep <= self.shallow:
            raise ValueError(f"deep ({self.deep}) must exceed shallow ({self.shallow})")
        if self.seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {self.seeds}")


def tiny() -> Config:
    """Seconds: 8- and 14-layer networks on 8x8 digits, a few steps, one seed (not judged)."""
    return Config(shallow=8, deep=14, data="digits", seeds=1, engine=_engine(8, batch_size=16))


def quick() -> Config:
    """Seconds: 8x8 digits, 8 vs 20 layers, 30 steps, 3 seeds (a smoke check)."""
    return Config(shallow=8, deep=20, data="digits", engine=_engine(30))


def _names(m: dict[str, Any]) -> tuple[str, str, str, str]:
    s, d = m["shallow_depth"], m["deep_depth"]
    return f"plain{s}", f"plain{d}", f"resnet{s}", f"resnet{d}"


def _losses(m: dict[str, Any], name: str, scale: float = 1.0) -> list[float]:
    """Per seed: ``name``'s training loss (mean of the last 25% of steps) times ``scale``."""
    return [scale * v for v in m[f"{name}_final_train_loss_seeds"]]


def _loss_text(m: dict[str, Any]) -> str:
    return f"training loss (mean of the last 25% of steps; mean over {len(m['seeds'])} " + (
        "seeds): " + ", ".join(f"{n} {m[f'{n}_final_train_loss']:.4f}" for n in _names(m))
    )


def _judged(m: dict[str, Any], evidence: str, *args: Any, **kwargs: Any) -> tuple[bool, str]:
    """``compare_seeds(*args, **kwargs)``'s verdict after ``evidence``; too few seeds: False."""
    if (why := too_few_seeds(len(m["seeds"]))) is not None:
        return False, f"{why}; {evidence}"
    c = compare_seeds(*args, **kwargs)
    return c.holds, f"{evidence}; {c.evidence()}"


def _verdict_degrades(m: dict[str, Any]) -> tuple[bool, str]:
    plain_s, plain_d, _, _ = _names(m)
    return _judged(
        m,
        _loss_text(m),
        _losses(m, plain_d),
        _losses(m, plain_s),
        label_x=f"{plain_d} loss",
        label_y=f"{plain_s} loss",
    )


def _verdict_shortcuts(m: dict[str, Any]) -> tuple[bool, str]:
    _, plain_d, _, res_d = _names(m)
    cuts = [1 - r / p for r, p in zip(_losses(m, res_d), _losses(m, plain_d), strict=True)]
    evidence = f"{res_d}'s loss is {', '.join(f'{100 * c:.1f}%' for c in cuts)} lower than "
    evidence += f"{plain_d}'s per seed; " + _loss_text(m)
    return _judged(
        m,
        evidence,
        _losses(m, plain_d, 0.9),
        _losses(m, res_d),
        label_x=f"0.9 x {plain_d} loss",
        label_y=f"{res_d} loss",
    )


def _verdict_depth(m: dict[str, Any]) -> tuple[bool, str]:
    _, _, res_s, res_d = _names(m)
    ratios = [d / s for d, s in zip(_losses(m, res_d), _losses(m, res_s), strict=True)]
    evidence = f"{res_d} / {res_s} training loss per seed {', '.join(f'{r:.3f}' for r in ratios)}"
    return _judged(
        m,
        f"{evidence}; {_loss_text(m)}",
        _losses(m, res_s, 1.05),
        _losses(m, res_d),
        label_x=f"1.05 x {res_s} loss",
        label_y=f"{res_d} loss",
    )


_SETTING = (
    "(CIFAR-style nets, Fashion-MNIST 10k-image subset, 280 SGD steps of 32, 3 training seeds, "
    "the four nets sharing each seed's init seed and data order; training loss = mean over "
    "the last 25% of steps; judged by the one-sided 95% Student-t bound of the mean paired "
    "difference over seeds)"
)
CLAIMS = (
    Claim(
        "plain-net-degrades",
        "Degradation: the plain 56-layer network trains to a higher training loss than the plain "
        f"20-layer one {_SETTING}.",
        _verdict_degrades,
        "residual_training_loss.png",
    ),
    Claim(
        "shortcuts-train-deep-net",
        "Residual connections let the deep network train where the plain one degrades: "
        f"ResNet-56's training loss is at least 10% below plain-56's {_SETTING}.",
        _verdict_shortcuts,
        "residual_training_loss.png",
    ),
    Claim(
        "deep-resnet-no-degradation",
        "With shortcuts depth no longer hurts: ResNet-56's training loss is at most 1.05x "
        f"ResNet-20's {_SETTING}.",
        _verdict_depth,
        "residual_training_loss.png",
    ),
)


@experiment(
    "cnn-residual",
    topic="cnn",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="He, Zhang, Ren & Sun 2016, arXiv:1512.03385 (Sec. 4.2, Fig. 6)",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Plain vs residual CIFAR-style networks at two depths: training loss on Fashion-MNIST."""
    data = load_data(cfg.data, n_train=cfg.n_train, n_val=None, n_test=2_000, seed=ctx.seed)
    chans, k = data.input_shape[0], data.num_classes
    builders = {
        f"plain{cfg.shallow}": lambda: plainnet_cifar(cfg.shallow, k, chans),
        f"plain{cfg.deep}": lambda: plainnet_cifar(cfg.deep, k, chans),
        f"resnet{cfg.shallow}": lambda: resnet_cifar(cfg.shallow, k, chans),
        f"resnet{cfg.deep}": lambda: resnet_cifar(cfg.deep, k, chans),
    }
    seeds = training_seeds(ctx.seed, cfg.seeds)
    metrics: dict[str, Any] = {"shallow_depth": cfg.shallow, "deep_depth": cfg.deep}
    metrics["seeds"] = seeds
    per_seed: dict[str, list[float]] = {}
    curves, steps = {}, []
    for seed in seeds:
        with ctx.child(f"seed{seed}", seed=seed) as sub:
            for name, build in builders.items():
                model = seeded(build, seed)
                trained = train_classifier(
                    model,
                    data,
                    sub,
                    engine=cfg.engine,
                    optimizer="sgd",
                    lr=cfg.lr,
                    weight_decay=cfg.weight_decay,
                    validate=False,
                    name=name,
                )
                if seed == ctx.seed:
                    steps, curves[name] = trained.steps, trained.train_loss
                    metrics[f"{name}_parameters"] = count_params(model)
                loss = tail_mean_by_step(trained.train_loss, trained.steps)
                for key, value in (
                    ("final_train_loss", loss),
                    ("test_accuracy", trained.test_accuracy),
                    ("train_time_s", trained.train_time_s),
                ):
                    per_seed.setdefault(f"{name}_{key}", []).append(value)
    for key, values in per_seed.items():
        metrics[key] = sum(values) / len(values)
        metrics[f"{key}_seeds"] = values
    log_curves(ctx, steps, curves)
    metrics["train_examples"] = len(data.train)
    plot = line_plot(
        steps,
        curves,
        ctx.path("residual_training_loss.png"),
        xlabel="SGD step",
        ylabel="training cross-entropy (running mean)",
        title=f"Plain vs residual, {cfg.shallow} and {cfg.deep} layers ({cfg.data}, seed "
        f"{ctx.seed})",
        logy=True,
    )
    return Result(metrics=metrics, plots=[plot])
