"""Experiment ``relu-speed``: a ReLU network reaches a target training loss in fewer steps
than the same network with tanh units.

Krizhevsky, Sutskever & Hinton (2012, §3.1, Fig. 1) report that a four-layer CNN with ReLUs
reaches 25% training error on CIFAR-10 six times faster than with tanh units, with each
network's learning rate chosen to make it train as fast as possible. Here: LeNet-5
(:class:`~replearn.fundamentals.lenet.LeNet5`, ``activation="relu"`` vs ``"tanh"``) on the
8x8 digits upsampled to 28x28 (bilinear), SGD with momentum 0.9, batch 64; for each
activation and learning rate in ``lrs`` and each seed, the number of steps until the mean
training loss over the last ``window`` batches falls to ``target_loss`` (training stops
there; a run that never gets there counts as ``engine.max_steps``, a censored value). Each
activation is judged at its own best learning rate (fewest mean steps), as in the paper;
seeds pair the initializations (same seed, same weights up to the activation) and data order.

Deviations from the paper: digits instead of CIFAR-10, LeNet-5 instead of their 4-layer
net, a target loss instead of a target error, a 3-value learning-rate grid.

Writes ``steps_to_target.png`` (steps per learning rate and activation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from replearn.data import load_classification
from replearn.engine import Callback, ClassificationTask, EngineConfig, Loop, RunContext
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import engine_config, train_variant
from replearn.experiments.stats import compare_seeds
from replearn.fundamentals.lenet import LeNet5
from replearn.report.plots import line_plot

ACTIVATIONS = ("relu", "tanh")


_engine = partial(engine_config, batch_size=64, log_every=25, progress=False)


@dataclass(frozen=True)
class Config:
    """Settings of ``relu-speed``.

    Attributes:
        lrs: SGD learning rates tried for each activation (the best one is judged).
        n_seeds: training seeds per activation and learning rate (>= 3).
        target_loss: training cross-entropy (mean over the last ``window`` batches) to reach.
        window: batches averaged for the target test.
        engine: training-loop settings (``max_steps`` caps a run that never reaches the target).
    """

    lrs: tuple[float, ...] = (0.01, 0.03, 0.1)
    n_seeds: int = 5
    target_loss: float = 0.3
    window: int = 10
    engine: EngineConfig = field(default_factory=lambda: _engine(1500))

    def __post_init__(self) -> None:
        if self.n_seeds < 3:
            raise ValueError(f"n_seeds must be >= 3, got {self.n_seeds}")
        if not self.lrs or min(self.lrs) <= 0:
            raise ValueError(f"lrs must be positive, got {self.lrs}")


def tiny() -> Config:
    """Seconds: one learning rate, a handful of steps (the target is not reached)."""
    return Config(lrs=(0.03,), n_seeds=3, engine=_engine(5))


def quick() -> Config:
    """Seconds: one learning rate, three seeds, 40 steps (a smoke check)."""
    return Config(lrs=(0.03,), n_seeds=3, engine=_engine(40))


class StopAtTarget(Callback):
    """Stops training when the mean loss of the last ``window`` batches is <= ``target``."""

    def __init__(self, target: float, window: int) -> None:
        self.target, self.window = target, window
        self.recent: list[float] = []
        self.reached_at: int | None = None

    def on_loss(self, loop: Loop, loss: torch.Tensor) -> bool:
        self.recent = [*self.recent[-(self.window - 1) :], float(loss.detach())]
        return False

    def on_step_end(self, loop: Loop) -> None:
        full = len(self.recent) == self.window
        if full and self.reached_at is None and sum(self.recent) / self.window <= self.target:
            self.reached_at = loop.step
            loop.should_stop = True


def upsampled_digits(seed: int) -> tuple[TensorDataset, int]:
    """Digits' training split, 8x8 -> 28x28 by bilinear interpolation; and the class count."""
    data = load_classification("digits", seed=seed)
    x, y = data.train.tensors
    x = F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False)  # (N, 1, 28, 28)
    return TensorDataset(x, y), data.num_classes


def _verdict(m: dict[str, Any]) -> tuple[bool, str]:
    c = m["relu_vs_tanh"]
    return c["holds"], (
        f"steps to training loss {m['target_loss']}: ReLU {m['relu_mean_steps']:.0f} "
        f"(lr {m['relu_best_lr']}) vs tanh {m['tanh_mean_steps']:.0f} (lr {m['tanh_best_lr']}); "
        f"ratio tanh/ReLU {m['speedup']:.2f}x (Krizhevsky et al. 2012: ~6x on CIFAR-10); "
        f"ReLU fewer by {c['mean']:.0f} steps (SE {c['se']:.0f}, {c['n_seeds']} seeds, "
        f"95% lower bound {c['lower']:.0f} > 0: {c['holds']}); runs that never reached the "
        f"target: ReLU {m['relu_censored']}, tanh {m['tanh_censored']}"
    )


CLAIMS = (
    Claim(
        "relu-faster-than-tanh",
        "ReLU trains faster than tanh: at each activation's best learning rate, LeNet-5 with "
        "ReLUs reaches the target training loss in fewer SGD steps than with tanh (paired "
        "over seeds, 95% bound); the speed-up ratio is reported beside the paper's 6x.",
        _verdict,
        "steps_to_target.png",
    ),
)


@experiment(
    "relu-speed",
    topic="fundamentals",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Krizhevsky, Sutskever & Hinton 2012, NeurIPS (§3.1, Fig. 1); Nair & Hinton 2010",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Steps to a target training loss for LeNet-5 with ReLU vs tanh units."""
    train, k = upsampled_digits(ctx.seed)
    steps: dict[str, dict[float, list[int]]] = {a: {} for a in ACTIVATIONS}
    for act in ACTIVATIONS:
        for lr in cfg.lrs:
            steps[act][lr] = []
            for s in range(cfg.n_seeds):
                seed = ctx.seed * 1000 + s
                torch.manual_seed(seed)
                model = LeNet5(num_classes=k, image_size=28, activation=act)
                stop = StopAtTarget(cfg.target_loss, cfg.window)
                opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
                with single_thread():  # small convolutions: a second thread only adds waiting
                    train_variant(ctx, f"{act}-lr{lr:g}", ClassificationTask(model), opt, train,
                                  engine=cfg.engine, seed=seed, callbacks=(stop,))  # fmt: skip
                n = stop.reached_at if stop.reached_at is not None else cfg.engine.max_steps
                steps[act][lr].append(n)
                ctx.log(len(steps[act][lr]), **{f"{act}_lr{lr:g}_steps": n})
    metrics: dict[str, Any] = {"target_loss": cfg.target_loss, "lrs": list(cfg.lrs)}
    best: dict[str, float] = {}
    for act in ACTIVATIONS:
        best[act] = min(cfg.lrs, key=lambda lr, a=act: sum(steps[a][lr]))
        chosen = steps[act][best[act]]
        metrics[f"{act}_best_lr"] = best[act]
        metrics[f"{act}_steps"] = chosen
        metrics[f"{act}_mean_steps"] = sum(chosen) / len(chosen)
        metrics[f"{act}_censored"] = sum(n >= cfg.engine.max_steps for n in chosen)
        metrics[f"{act}_steps_by_lr"] = {str(lr): v for lr, v in steps[act].items()}
    metrics["speedup"] = metrics["tanh_mean_steps"] / metrics["relu_mean_steps"]
    c = compare_seeds(metrics["relu_steps"], metrics["tanh_steps"], higher_is_better=False,
                      label_x="ReLU", label_y="tanh", unit="")  # fmt: skip
    metrics["relu_vs_tanh"] = c.as_dict()
    plots = [
        line_plot(
            list(cfg.lrs),
            {a: [sum(steps[a][lr]) / cfg.n_seeds for lr in cfg.lrs] for a in ACTIVATIONS},
            ctx.path("steps_to_target.png"),
            xlabel="SGD learning rate",
            ylabel=f"steps to training loss {cfg.target_loss} (mean of {cfg.n_seeds} seeds)",
            title="LeNet-5 on digits (28x28): ReLU vs tanh",
            logx=True,
        )
    ]
    return Result(metrics=metrics, plots=plots)
