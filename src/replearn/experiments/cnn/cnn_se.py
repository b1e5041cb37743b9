"""Experiment ``cnn-se``: squeeze-and-excitation, accuracy gained for parameters paid.

Hu et al. (2018): adding an SE block to every residual branch (a global-average
"squeeze", a two-layer bottleneck "excitation" with a sigmoid, and a channel-wise
rescaling) improves accuracy at a small cost: SE-ResNet-50 has about 10% more
parameters than ResNet-50 and under 1% more FLOPs. Here ResNet-20 and SE-ResNet-20
(reduction r = 4, :func:`~replearn.cnn.senet.se_resnet_cifar`) are trained identically
with the engine's ``fit`` (sub-runs ``resnet/`` and ``se-resnet/``: AdamW, cosine
learning rate, same initial-weight seed and data order) and scored on the same test
images; the accuracy difference comes with the standard error of the per-image
paired difference. Default: 500 steps of 64 from a 10,000-image Fashion-MNIST subset
(3.2 epochs), full 10,000-image test set, ~3 minutes on 2 CPU cores.

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
    load_data,
    paired_difference,
    train_classifier,
)
from replearn.experiments.cnn.common import (
    cosine_engine as _engine,
)
from replearn.experiments.common import count_params, seeded
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
        engine: training-loop settings, the same for both networks.
    """

    depth: int = 20
    reduction: int = 4
    data: ImageData = "fashion-mnist"
    n_train: int | None = 10_000
    n_test: int | None = None
    lr: float = 1e-3
    weight_decay: float = 1e-4
    engine: EngineConfig = field(default_factory=lambda: _engine(500))


def tiny() -> Config:
    """Seconds: ResNet-8 on 8x8 digits, a few steps."""
    return Config(depth=8, data="digits", engine=_engine(8, batch_size=16))


def quick() -> Config:
    """Seconds: ResNet-14 on 8x8 digits, 40 steps (a smoke check)."""
    return Config(depth=14, data="digits", engine=_engine(40))


def _verdict_cost(m: dict[str, Any]) -> tuple[bool, str]:
    holds = m["se_extra_params"] <= 0.10 and m["se_extra_flops"] <= 0.05
    return holds, (
        f"parameters {m['resnet_parameters']:,} -> {m['se_parameters']:,} "
        f"(+{100 * m['se_extra_params']:.2f}%); FLOPs per image {m['resnet_flops']:,} -> "
        f"{m['se_flops']:,} (+{100 * m['se_extra_flops']:.2f}%)"
    )


def _verdict_accuracy(m: dict[str, Any]) -> tuple[bool, str]:
    gain, se = m["se_accuracy_gain"], m["se_accuracy_gain_se"]
    holds = gain > 0 and gain >= se
    z = gain / se if se > 0 else float("nan")
    return holds, (
        f"test accuracy ResNet {m['resnet_test_accuracy']:.4f}, SE-ResNet "
        f"{m['se_test_accuracy']:.4f}: gain {100 * gain:+.2f} +- {100 * se:.2f} points "
        f"(paired standard error, {m['test_examples']} images; z = {z:.2f})"
    )


_SETTING = (
    "(ResNet-20 vs SE-ResNet-20 with r = 4, Fashion-MNIST 10k-image subset, 500 AdamW steps "
    "of 64 with cosine decay, same init seed and data order, 10,000 test images)"
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
        "SE improves accuracy: the SE network's test accuracy exceeds the plain ResNet's by a "
        f"positive margin of at least one paired standard error {_SETTING}.",
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
    runs, curves = {}, {}
    for name, build in builders.items():
        model = seeded(build, ctx.seed)
        params, flops = count_params(model), count_flops(model, example)
        with ctx.child(name) as sub:
            trained = train_classifier(
                model,
                data,
                sub,
                engine=cfg.engine,
                lr=cfg.lr,
                weight_decay=cfg.weight_decay,
                validate=False,
            )
        runs[name] = (trained, params, flops)
        curves[name] = trained.train_loss
    (base, p0, f0), (se_net, p1, f1) = runs["resnet"], runs["se-resnet"]
    gain, se = paired_difference(se_net.test_correct, base.test_correct)
    for i, step in enumerate(base.steps):
        ctx.log(step, **{f"{name}_train_loss": c[i] for name, c in curves.items()})
    metrics: dict[str, Any] = {
        "resnet_test_accuracy": base.test_accuracy,
        "se_test_accuracy": se_net.test_accuracy,
        "se_accuracy_gain": gain,
        "se_accuracy_gain_se": se,
        "resnet_test_loss": base.test_loss,
        "se_test_loss": se_net.test_loss,
        "resnet_parameters": p0,
        "se_parameters": p1,
        "se_extra_params": p1 / p0 - 1,
        "resnet_flops": f0,
        "se_flops": f1,
        "se_extra_flops": f1 / f0 - 1,
        "resnet_train_time_s": base.train_time_s,
        "se_train_time_s": se_net.train_time_s,
        "train_examples": len(data.train),
        "test_examples": len(data.test),
    }
    plot = line_plot(
        base.steps,
        curves,
        ctx.path("se_training_loss.png"),
        xlabel="AdamW step",
        ylabel="training cross-entropy (running mean)",
        title=f"ResNet-{cfg.depth} with and without SE ({cfg.data}); test accuracy "
        f"{base.test_accuracy:.4f} vs {se_net.test_accuracy:.4f}",
        logy=True,
    )
    return Result(metrics=metrics, model=se_net.model, plots=[plot])
