"""Experiment ``mlp-xor``: one hidden layer is enough to fit XOR, which no perceptron can.

A small :class:`~replearn.fundamentals.mlp.MLP` (``2 -> hidden -> 1`` logit) is
trained on the four XOR points with full-batch gradient descent (plain SGD on
all four points, no momentum) on the logistic loss, by the engine's ``fit`` (one
sub-run ``seed<i>/`` per initialization, each with its metrics and checkpoint).
Gradient descent on XOR has local minima and plateaus, so the run repeats
training from ``n_seeds`` random initializations and reports the fraction that
reach training accuracy 1.0.

Writes ``xor_decision_surfaces.png`` (p(y=1 | x) of every seed's network) and
``xor_loss.png`` (loss curves of every seed). The model returned is seed 0's.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import TensorDataset

from replearn.engine import EngineConfig, RunContext, Task, fit
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import engine_config
from replearn.fundamentals.mlp import MLP
from replearn.report.plots import DPI, line_plot, save_figure

_engine = partial(engine_config, batch_size=4, log_every=20, progress=False)


@dataclass(frozen=True)
class Config:
    """Settings of the MLP-on-XOR experiment.

    Attributes:
        hidden: widths of the hidden layers.
        activation: hidden non-linearity (``relu``, ``tanh``, ``sigmoid``, ``gelu``).
        lr: learning rate of full-batch gradient descent.
        n_seeds: independent random initializations trained and reported.
        engine: training-loop settings (``max_steps`` gradient steps on all 4 points,
            ``batch_size`` 4 = full batch; a metrics row every ``log_every`` steps).
    """

    hidden: tuple[int, ...] = (4,)
    activation: Literal["relu", "tanh", "sigmoid", "gelu"] = "tanh"
    lr: float = 0.5
    n_seeds: int = 10
    engine: EngineConfig = field(default_factory=lambda: _engine(2000))

    def __post_init__(self) -> None:
        if self.engine.batch_size != 4:
            raise ValueError(
                f"XOR has 4 points: engine.batch_size must be 4, got {self.engine.batch_size}"
            )
        if self.n_seeds < 1:
            raise ValueError(f"n_seeds must be >= 1, got {self.n_seeds}")


def tiny() -> Config:
    """Seconds: three seeds, short training."""
    return Config(n_seeds=3, engine=_engine(300, log_every=50))


def quick() -> Config:
    """Seconds: three seeds, 600 steps each (a smoke check)."""
    return Config(n_seeds=3, engine=_engine(600, log_every=50))


def xor_data(dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """The four XOR points in {0, 1}^2 and their labels in {0, 1}."""
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=dtype)
    return x, torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=dtype)


def init_mlp(cfg: Config, generator: torch.Generator) -> MLP:
    """A fresh MLP drawn with ``generator``: PyTorch's default ``nn.Linear`` distribution,
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases, without touching the global RNG."""
    model = MLP(2, cfg.hidden, 1, activation=cfg.activation)
    with torch.no_grad():
        for layer in model.layers:
            bound = 1.0 / math.sqrt(layer.in_features)
            layer.weight.uniform_(-bound, bound, generator=generator)
            layer.bias.uniform_(-bound, bound, generator=generator)
    return model


class XORTask(Task):
    """Logistic loss of a one-logit network on ``(x, y)`` with y in {0, 1}."""

    def __init__(self, model: MLP) -> None:
        super().__init__()
        self.model = model

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        x, y = batch
        logits = self.model(x).squeeze(-1)  # (B,)
        loss = F.binary_cross_entropy_with_logits(logits, y)
        accuracy = ((logits.detach() > 0).float() == y).float().mean()
        return loss, {"accuracy": accuracy}


def train_xor(model: MLP, cfg: Config, ctx: RunContext) -> tuple[list[int], list[float]]:
    """Full-batch gradient descent with the engine; the logged (steps, training losses)."""
    x, y = xor_data()
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    loop = fit(XORTask(model), opt, TensorDataset(x, y), cfg=cfg.engine, ctx=ctx)
    ctx.logger.flush()
    rows = [r for r in loop.history if "train_loss" in r]
    return [r["step"] for r in rows], [r["train_loss"] for r in rows]


def final_accuracy(model: MLP, x: Tensor, y: Tensor) -> float:
    """Training accuracy of the trained network."""
    dev = next(model.parameters()).device
    with torch.no_grad():
        return float(((model(x.to(dev)).squeeze(-1) > 0).float() == y.to(dev)).float().mean())


def _plot_surfaces(path: Any, models: list[MLP], accs: list[float], x: Tensor, y: Tensor) -> Any:
    n = len(models)
    ncols = min(5, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(2.6 * ncols, 2.6 * nrows), dpi=DPI, squeeze=False
    )
    grid = torch.linspace(-0.5, 1.5, 101)
    xx, yy = torch.meshgrid(grid, grid, indexing="xy")
    pts = torch.stack([xx, yy], -1).reshape(-1, 2)
    for i, (ax, model) in enumerate(zip(axes.flat, models, strict=False)):
        with torch.no_grad():
            dev = next(model.parameters()).device
            p = torch.sigmoid(model(pts.to(dev)).squeeze(-1)).reshape(xx.shape).cpu()
        ax.contourf(xx.numpy(), yy.numpy(), p.numpy(), levels=20, cmap="RdBu_r", vmin=0, vmax=1)
        ax.contour(xx.numpy(), yy.numpy(), p.numpy(), levels=[0.5], colors="k", linewidths=1)
        ax.scatter(
            x[:, 0],
            x[:, 1],
            c=["tab:red" if t > 0.5 else "tab:blue" for t in y],
            s=50,
            edgecolors="k",
        )
        ax.set_title(f"seed {i}: acc {accs[i]:.2f}", fontsize="small")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle("p(y=1 | x): XOR, red = 1, blue = 0", fontsize="medium")
    fig.tight_layout()
    return save_figure(fig, path)


def _verdict(m: dict[str, Any]) -> tuple[bool, str]:
    holds = m["solved_fraction"] >= 0.5
    return holds, (
        f"{m['solved_seeds']}/{m['n_seeds']} initializations reach training accuracy 1.0 "
        f"(fraction {m['solved_fraction']:.2f}; mean accuracy {m['mean_train_accuracy']:.3f}); "
        f"final loss median {m['median_final_loss']:.4f}, max {m['max_final_loss']:.4f}"
    )


CLAIMS = (
    Claim(
        "mlp-solves-xor",
        "An MLP with one hidden layer trained by full-batch gradient descent fits XOR exactly "
        "(training accuracy 1.0), which no perceptron can; holds if at least half of the "
        "random initializations reach accuracy 1.0.",
        _verdict,
        "xor_decision_surfaces.png",
    ),
)


@experiment(
    "mlp-xor",
    topic="fundamentals",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Rumelhart, Hinton & Williams 1986, Nature 323; Minsky & Papert 1969 (XOR)",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """A small MLP learns XOR with gradient descent, over several random initializations."""
    gen = torch.Generator().manual_seed(ctx.seed)
    x, y = xor_data()
    models, curves, accs, final_losses = [], [], [], []
    for i in range(cfg.n_seeds):
        model = init_mlp(cfg, gen)
        with single_thread(), ctx.child(f"seed{i}") as sub:
            steps, losses = train_xor(model, cfg, sub)
        models.append(model)
        curves.append(losses)
        accs.append(final_accuracy(model, x, y))
        with torch.no_grad():
            batch = (x.to(ctx.device), y.to(ctx.device))
            final_losses.append(float(XORTask(model).training_step(batch)[0]))
    for t, step in enumerate(steps):
        losses_t = [c[t] for c in curves]
        ctx.log(step, mean_loss=sum(losses_t) / len(losses_t), max_loss=max(losses_t))
    final_losses.sort()
    solved = sum(a == 1.0 for a in accs)
    metrics: dict[str, Any] = {
        "n_seeds": cfg.n_seeds,
        "solved_seeds": solved,
        "solved_fraction": solved / cfg.n_seeds,
        "mean_train_accuracy": sum(accs) / len(accs),
        "min_train_accuracy": min(accs),
        "train_accuracy_seed0": accs[0],
        "median_final_loss": statistics.median(final_losses),
        "max_final_loss": final_losses[-1],
    }
    plots = [
        _plot_surfaces(ctx.path("xor_decision_surfaces.png"), models, accs, x, y),
        line_plot(
            steps,
            {f"seed {i}": c for i, c in enumerate(curves)},
            ctx.path("xor_loss.png"),
            xlabel="gradient step",
            ylabel="logistic loss",
            title="MLP on XOR: training loss per initialization",
            logy=True,
        ),
    ]
    return Result(metrics=metrics, model=models[0], plots=plots)
