"""Experiment ``cnn-se``: squeeze-and-excitation, accuracy gained for parameters paid.

Hu et al. (2018): adding an SE block to every residual branch (a global-average
"squeeze", a two-layer bottleneck "excitation" with a sigmoid, and a channel-wise
rescaling) improves accuracy at a small cost: SE-ResNet-50 has about 10% more
parameters than ResNet-50 and under 1% more FLOPs. Here ResNet-20 and SE-ResNet-20
(reduction r = 4, :func:`~replearn.cnn.senet.se_resnet_cifar`) are trained identically
with the engine's ``fit`` (sub-runs ``resnet/`` and ``se-resnet/``: AdamW, cosine
learning rate, same initial-weight seed and data order) and scored on the same test
images, for ``seeds`` training seeds (3 by default: initial weights and data order per
seed; the subset is fixed). The accuracy claim is judged over the seeds by
:func:`replearn.experiments.stats.compare_seeds` (paired by seed; the one-sided 95%
Student-t lower bound of the mean difference must be above zero), so the seed-to-seed
spread of training enters the verdict. Default: 250 steps of 64 per network and seed from a
10,000-image Fashion-MNIST subset (1.6 epochs; one seed of 500 steps before the verdict
went over seeds, so three seeds cost 1.5x the old run), full 10,000-image test set.

replearn run cnn-se
replearn run cnn-se --preset quick            # 8x8 digits, no file
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from replearn.cnn.resnet import resnet_cifar
from replearn.cnn.senet import se_resnet_cifar
from replearn.engine import EngineConfig, RunContext
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.cnn.common import (
    ImageData,
    count_flops,
    log_curves,
    train_classifier,
)
from replearn.experiments.cnn.common import (
    cosine_engine as _engine,
)
from replearn.experiments.common import count_params, load_data, seeded
from replearn.experiments.stats import MIN_SEEDS, SeedComparison, compare_seeds
from replearn.report.plots import line_plot


@dataclass(frozen=True)
class Config:
    """Settings of ``cnn-se``.

    Attributes:
        depth: ResNet depth (6n + 2).
        reduction: SE reduction ratio r (bottleneck of C / r units).
        data: ``fashion-mnist`` (28×28) or ``digits`` (8×8, embedded).
        n_train: training images (seeded subset).
        n_test: test images scored (none: all).
        lr: AdamW peak learning rate (cosine decay).
        weight_decay: AdamW weight decay.
        seeds: training seeds (``seed, seed + 1, ...``; >= 3), each training both networks.
        engine: training-loop settings, the same for both networks.
    """

    depth: int = 20
    reduction: int = 4
    data: ImageData = "fashion-mnist"
    n_train: int | None = 10_000
    n_test: int | None = None
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seeds: int = 3
    engine: EngineConfig = field(default_factory=lambda: _engine(250))

    def __post_init__(self) -> None:
        if self.seeds < MIN_SEEDS:
            raise ValueError(f"seeds must be >= {MIN_SEEDS} (the accuracy claim), got {self.seeds}")


def tiny() -> Config:
    """Seconds: ResNet-8 on 8x8 digits, a few steps per seed."""
    return Config(depth=8, data="digits", engine=_engine(3, batch_size=16))


def quick() -> Config:
    """Seconds: ResNet-8 on 8x8 digits, 10 steps per seed (a smoke check)."""
    return Config(depth=8, data="digits", engine=_engine(10))


def _verdict_cost(m: dict[str, Any]) -> tuple[bool, str]:
    holds = m["se_extra_params"] <= 0.10 and m["se_extra_flops"] <= 0.05
    return holds, (
        f"parameters {m['resnet_parameters']:,} -> {m['se_parameters']:,} "
        f"(+{100 * m['se_extra_params']:.2f}%); FLOPs per image {m['resnet_flops']:,} -> "
        f"{m['se_flops']:,} (+{100 * m['se_extra_flops']:.2f}%)"
    )


def _comparison(m: dict[str, Any]) -> SeedComparison:
    return compare_seeds(
        m["se_test_accuracy_seeds"],
        m["resnet_test_accuracy_seeds"],
        label_x="SE-ResNet",
        label_y="ResNet",
        unit="points",
    )


def _verdict_accuracy(m: dict[str, Any]) -> tuple[bool, str]:
    c = _comparison(m)
    return c.holds, (
        f"test accuracy ResNet {m['resnet_test_accuracy']:.4f}, SE-ResNet "
        f"{m['se_test_accuracy']:.4f} (means over seeds, {m['test_examples']} images); "
        f"{c.evidence()}"
    )


_SETTING = (
    "(ResNet-20 vs SE-ResNet-20 with r = 4, Fashion-MNIST 10k-image subset, 250 AdamW steps "
    "of 64 with cosine decay, 3 training seeds, both networks sharing each seed's init and "
    "data order, 10,000 test images)"
)
CLAIMS = (
    Claim(
        "se-small-cost",
        "SE blocks cost little: at most 10% more parameters and 5% more FLOPs per image than "
        f"the network without them (counted; torch.utils.flop_counter) {_SETTING}.",
        _verdict_cost,
        None,
    ),
    Claim(
        "se-improves-accuracy",
        "SE improves accuracy: the SE network's test accuracy exceeds the plain ResNet's "
        "(mean paired difference over training seeds, one-sided 95% Student-t lower bound "
        f"> 0) {_SETTING}.",
        _verdict_accuracy,
        "se_training_loss.png",
    ),
)


@experiment(
    "cnn-se",
    topic="cnn",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Hu, Shen, Albanie, Sun & Wu 2018, arXiv:1709.01507 (squeeze-and-excitation)",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """ResNet vs SE-ResNet trained identically: parameter and FLOP cost, accuracy gain."""
    data = load_data(cfg.data, n_train=cfg.n_train, n_val=None, n_test=cfg.n_test, seed=ctx.seed)
    chans, k = data.input_shape[0], data.num_classes
    builders = {
        "resnet": lambda: resnet_cifar(cfg.depth, k, chans),
        "se-resnet": lambda: se_resnet_cifar(cfg.depth, k, chans, reduction=cfg.reduction),
    }
    example = data.test.tensors[0][:1]
    sizes = {name: count_params(b()) for name, b in builders.items()}
    flops = {name: count_flops(seeded(b, ctx.seed), example) for name, b in builders.items()}
    per_seed: dict[str, list[float]] = {}
    curves: dict[str, list[float]] = {}
    steps: list[int] = []
    trained_se: Any = None
    for s in range(ctx.seed, ctx.seed + cfg.seeds):
        with ctx.child(f"seed{s}", seed=s) as run:
            for name, build in builders.items():
                trained = train_classifier(
                    seeded(build, s),
                    data,
                    run,
                    engine=cfg.engine,
                    lr=cfg.lr,
                    weight_decay=cfg.weight_decay,
                    validate=False,
                    name=name,
                )
                key = "se" if name == "se-resnet" else "resnet"
                for metric in ("test_accuracy", "test_loss", "train_time_s"):
                    per_seed.setdefault(f"{key}_{metric}", []).append(getattr(trained, metric))
                if s == ctx.seed:
                    curves[name], steps = trained.train_loss, trained.steps
                if name == "se-resnet":
                    trained_se = trained
    log_curves(ctx, steps, curves)
    p0, p1, f0, f1 = sizes["resnet"], sizes["se-resnet"], flops["resnet"], flops["se-resnet"]
    metrics: dict[str, Any] = {f"{k}_seeds": v for k, v in per_seed.items()}
    metrics.update({k: sum(v) / len(v) for k, v in per_seed.items()})
    metrics["seeds"] = list(range(ctx.seed, ctx.seed + cfg.seeds))
    metrics["se_accuracy_comparison"] = _comparison(metrics).as_dict()
    metrics.update(
        {
            "resnet_parameters": p0,
            "se_parameters": p1,
            "se_extra_params": p1 / p0 - 1,
            "resnet_flops": f0,
            "se_flops": f1,
            "se_extra_flops": f1 / f0 - 1,
            "train_examples": len(data.train),
            "test_examples": len(data.test),
        }
    )
    plot = line_plot(
        steps,
        curves,
        ctx.path("se_training_loss.png"),
        xlabel="AdamW step",
        ylabel="training cross-entropy (running mean)",
        title=f"ResNet-{cfg.depth} with and without SE ({cfg.data}, seed {ctx.seed}); mean test "
        f"accuracy {metrics['resnet_test_accuracy']:.4f} vs {metrics['se_test_accuracy']:.4f}",
        logy=True,
    )
    return Result(metrics=metrics, model=trained_se.model, plots=[plot])
