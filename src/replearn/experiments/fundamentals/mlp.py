"""Experiment ``mlp``: a multilayer perceptron classifier trained with the engine.

replearn run mlp                                  # 8x8 digits (embedded), ~10 s
replearn run mlp --set data=fashion-mnist         # needs the Fashion-MNIST files
replearn run mlp --set data=mnist1d hidden=128,128 engine.max_steps=3000
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

import torch

from replearn.data import load_classification
from replearn.engine import ClassificationTask, EngineConfig, RunContext, evaluate, fit
from replearn.experiments.base import Result, experiment
from replearn.experiments.common import count_params, make_optimizer
from replearn.fundamentals.mlp import MLP


@dataclass(frozen=True)
class MLPConfig:
    """Config of the ``mlp`` experiment.

    Attributes:
        data: digits (embedded 8x8), fashion-mnist (28x28, file) or mnist1d (procedural).
        hidden: widths of the hidden layers.
        activation: nonlinearity between layers.
        dropout: dropout probability after each hidden layer.
        optimizer: 'adam' or 'sgd' (with momentum).
        lr: learning rate.
        momentum: SGD momentum.
        weight_decay: L2 penalty coefficient (coupled, as in torch.optim).
        val_fraction: share of the training split held out for validation.
        engine: training-loop settings.
    """

    data: Literal["digits", "fashion-mnist", "mnist1d"] = "digits"
    hidden: tuple[int, ...] = (256, 256)
    activation: Literal["relu", "tanh", "sigmoid", "gelu"] = "relu"
    dropout: float = 0.0
    optimizer: Literal["adam", "sgd"] = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    val_fraction: float = 0.1
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=1500, batch_size=128, log_every=50, eval_every=250, checkpoint_every=500
        )
    )

    def __post_init__(self) -> None:
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")


def tiny() -> MLPConfig:
    """Seconds: a few steps on digits (smoke tests)."""
    return MLPConfig(
        hidden=(32,),
        engine=EngineConfig(
            max_steps=20, batch_size=32, log_every=5, eval_every=10, checkpoint_every=10
        ),
    )


def quick() -> MLPConfig:
    """The tour's entry: digits, 600 steps."""
    base = MLPConfig()
    return dataclasses.replace(
        base, engine=dataclasses.replace(base.engine, max_steps=600, eval_every=200)
    )


def fashion() -> MLPConfig:
    """Fashion-MNIST, about 6 epochs (the benchmark's workload)."""
    base = MLPConfig(data="fashion-mnist")
    return dataclasses.replace(
        base, engine=dataclasses.replace(base.engine, max_steps=2500, eval_every=500)
    )


def optimizer_for(cfg: MLPConfig, params: object) -> torch.optim.Optimizer:
    """The optimizer ``cfg`` names (:func:`replearn.experiments.common.make_optimizer`)."""
    return make_optimizer(
        cfg.optimizer, params, lr=cfg.lr, weight_decay=cfg.weight_decay, momentum=cfg.momentum
    )


@experiment(
    "mlp",
    topic="fundamentals",
    config=MLPConfig,
    presets={"tiny": tiny, "quick": quick, "fashion": fashion},
    paper="Rumelhart, Hinton & Williams 1986 (backpropagation)",
    reference="engine loop vs a hand-written PyTorch loop (benchmarks/bench_fundamentals.py)",
)
def run(cfg: MLPConfig, ctx: RunContext) -> Result:
    """Train an MLP classifier on digits / Fashion-MNIST / MNIST-1D and report test accuracy."""
    data = load_classification(cfg.data, val_fraction=cfg.val_fraction, seed=ctx.seed, flatten=True)
    model = MLP(
        data.input_shape[0],
        cfg.hidden,
        data.num_classes,
        activation=cfg.activation,
        dropout=cfg.dropout,
    ).to(ctx.device)
    task = ClassificationTask(model)
    optimizer = optimizer_for(cfg, task.parameters())
    loop = fit(task, optimizer, data.train, cfg=cfg.engine, ctx=ctx, val_set=data.val)
    test = evaluate(task, data.test, device=ctx.device, prefix="test_")
    val = evaluate(task, data.val, device=ctx.device, prefix="val_")
    ctx.log(loop.step, **test)
    metrics = {
        "test_accuracy": test["test_accuracy"],
        "test_loss": test["test_loss"],
        "val_accuracy": val["val_accuracy"],
        "val_loss": val["val_loss"],
        "train_steps": loop.step,
        "epochs": loop.epoch,
        "parameters": count_params(model),
        "train_examples": len(data.train),
        "train_time_s": round(loop.wall_time_s, 3),
    }
    return Result(metrics=metrics, model=model)
