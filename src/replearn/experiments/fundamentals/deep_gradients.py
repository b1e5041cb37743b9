"""Experiment ``deep-gradients``: gradients vanish through deep sigmoid/tanh MLPs; ReLU with
He initialization and normalization layers keep them alive.

Deep MLPs (``depth`` hidden layers of ``width`` units) on the 8x8 digits, each activation
with its recommended initialization: Glorot (Glorot & Bengio 2010, AISTATS) for sigmoid and
tanh, He (He et al. 2015, arXiv:1502.01852) for ReLU; zero biases. Two normalized variants
put a layer before each non-linearity: BatchNorm (Ioffe & Szegedy 2015,
arXiv:1502.03167) in the sigmoid net and LayerNorm (Ba et al. 2016, arXiv:1607.06450) in the
tanh net (:mod:`replearn.norm`).

Measured, for ``n_seeds`` initializations: the Frobenius norm of the cross-entropy gradient
of each hidden layer's weight matrix at initialization (one batch of ``probe_batch``
training images), and the ratio first layer / last hidden layer; then each net is trained
by the engine (SGD with momentum, same settings for all) and its final training and test
loss recorded. Sigmoid's derivative is at most 1/4, so its backward signal shrinks at least
4x per layer when weights are O(1); tanh's is below 1 away from 0; ReLU's is 1 on active
units; normalization rescales each layer's pre-activations to unit variance.

Writes ``grad_norms.png`` (per-layer gradient norm, log scale) and ``train_loss.png``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.data import load_classification
from replearn.engine import ClassificationTask, EngineConfig, RunContext
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import engine_config, predict, train_variant
from replearn.experiments.stats import compare_seeds
from replearn.norm import BatchNorm1d, LayerNorm
from replearn.report.plots import line_plot

VARIANTS = ("sigmoid", "tanh", "relu", "sigmoid+bn", "tanh+ln")
_ACT = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": F.relu}


_engine = partial(engine_config, batch_size=64, log_lines=20, progress=False)


@dataclass(frozen=True)
class Config:
    """Settings of ``deep-gradients``.

    Attributes:
        depth: hidden layers.
        width: units per hidden layer.
        n_seeds: initializations per variant (>= 3: the training comparison uses seed stats).
        probe_batch: training images in the batch whose gradient norms are measured.
        lr: SGD learning rate (momentum 0.9) for every variant.
        vanish_ratio: gradients "vanish" if the first/last gradient-norm ratio is below this.
        healthy_band: (low, high): the ratio of a "fixed" variant must lie in it.
        engine: training-loop settings.
    """

    depth: int = 20
    width: int = 64
    n_seeds: int = 3
    probe_batch: int = 256
    lr: float = 0.01
    vanish_ratio: float = 1e-2
    healthy_band: tuple[float, float] = (0.1, 10.0)
    engine: EngineConfig = field(default_factory=lambda: _engine(600))

    def __post_init__(self) -> None:
        if self.depth < 2 or self.width < 1:
            raise ValueError("need depth >= 2 and width >= 1")
        if self.n_seeds < 3:
            raise ValueError(f"n_seeds must be >= 3 (seed statistics), got {self.n_seeds}")


def tiny() -> Config:
    """Seconds: shallower nets, a few steps."""
    return Config(depth=6, width=16, probe_batch=64, engine=_engine(5))


def quick() -> Config:
    """Seconds: full depth, 15 training steps (a smoke check; 40 steps took 8 CPU s)."""
    return Config(engine=_engine(15))


class DeepMLP(nn.Module):
    """``depth`` x (Linear -> [norm] -> activation), then a linear classifier."""

    def __init__(self, n_in: int, n_out: int, *, depth: int, width: int, variant: str) -> None:
        super().__init__()
        act, _, norm = variant.partition("+")
        self.act = _ACT[act]
        widths = [n_in] + [width] * depth
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(widths))
        if norm == "bn":
            self.norms = nn.ModuleList(BatchNorm1d(width, fast=True) for _ in range(depth))
        elif norm == "ln":
            self.norms = nn.ModuleList(LayerNorm(width, fast=True) for _ in range(depth))
        else:
            self.norms = nn.ModuleList(nn.Identity() for _ in range(depth))
        self.head = nn.Linear(width, n_out)
        for layer in [*self.hidden, self.head]:
            if act == "relu":
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            else:
                nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: Tensor) -> Tensor:
        h = x.flatten(1)
        for layer, norm in zip(self.hidden, self.norms, strict=True):
            h = self.act(norm(layer(h)))
        return self.head(h)


def gradient_norms(model: DeepMLP, x: Tensor, y: Tensor) -> list[float]:
    """Frobenius norm of dL/dW for every hidden layer (first to last) on one batch."""
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    norms = [float(layer.weight.grad.norm()) for layer in model.hidden]
    model.zero_grad(set_to_none=True)
    return norms


def _ratio(m: dict[str, Any], v: str) -> float:
    return m[f"{v}_grad_ratio"]


def _verdict_vanish(m: dict[str, Any]) -> tuple[bool, str]:
    limit = m["vanish_ratio"]
    holds = _ratio(m, "sigmoid") < limit and _ratio(m, "tanh") < limit
    return holds, (
        f"first/last hidden-layer gradient norm at init (geometric mean over {m['n_seeds']} "
        f"seeds, depth {m['depth']}): sigmoid {_ratio(m, 'sigmoid'):.2e}, tanh "
        f"{_ratio(m, 'tanh'):.2e} (vanish if < {limit:g})"
    )


def _verdict_fixed(m: dict[str, Any]) -> tuple[bool, str]:
    lo, hi = m["healthy_band"]
    fixed = ("relu", "sigmoid+bn", "tanh+ln")
    holds = all(lo <= _ratio(m, v) <= hi for v in fixed)
    return holds, (
        "first/last gradient-norm ratio at init: "
        + ", ".join(f"{v} {_ratio(m, v):.3g}" for v in fixed)
        + f" (band [{lo:g}, {hi:g}]); vs sigmoid {_ratio(m, 'sigmoid'):.2e}"
    )


def _verdict_trains(m: dict[str, Any]) -> tuple[bool, str]:
    parts, holds = [], True
    for v in ("relu", "sigmoid+bn"):
        c = m[f"{v}_vs_sigmoid"]
        holds &= c["holds"]
        parts.append(
            f"{v}: final training loss {m[f'{v}_train_loss_mean']:.3f} vs sigmoid "
            f"{m['sigmoid_train_loss_mean']:.3f}, lower by {c['mean']:.3f} "
            f"(SE {c['se']:.3f}, {c['n_seeds']} seeds, 95% lower bound {c['lower']:.3f} > 0: "
            f"{c['holds']})"
        )
    return holds, "; ".join(parts)


CLAIMS = (
    Claim(
        "deep-sigmoid-tanh-vanish",
        "In a deep (20-layer) sigmoid or tanh MLP with Glorot initialization, the gradient "
        "reaching the first layer is over 100x smaller than at the last hidden layer.",
        _verdict_vanish,
        "grad_norms.png",
    ),
    Claim(
        "relu-norm-fix-vanishing",
        "ReLU with He initialization, BatchNorm in the sigmoid net and LayerNorm in the tanh "
        "net keep the first/last gradient-norm ratio within 0.1-10.",
        _verdict_fixed,
        "grad_norms.png",
    ),
    Claim(
        "fixed-nets-train",
        "With the same SGD settings, the deep ReLU net and the deep sigmoid+BatchNorm net reach "
        "a lower training loss than the plain deep sigmoid net (paired over seeds, 95% bound).",
        _verdict_trains,
        "train_loss.png",
    ),
)


@experiment(
    "deep-gradients",
    topic="fundamentals",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Glorot & Bengio 2010 (AISTATS); He et al. 2015, arXiv:1502.01852; "
    "Ioffe & Szegedy 2015, arXiv:1502.03167",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Per-layer gradient norms of deep MLPs at initialization, then short training runs."""
    with single_thread():  # small matrices: a second thread only adds waiting
        return _run(cfg, ctx)


def _run(cfg: Config, ctx: RunContext) -> Result:
    data = load_classification("digits", seed=ctx.seed, flatten=True)
    xs, ys = data.train.tensors
    probe = torch.randperm(len(xs), generator=torch.Generator().manual_seed(ctx.seed))
    x_probe, y_probe = xs[probe[: cfg.probe_batch]], ys[probe[: cfg.probe_batch]]
    metrics: dict[str, Any] = {
        "depth": cfg.depth, "n_seeds": cfg.n_seeds, "vanish_ratio": cfg.vanish_ratio,
        "healthy_band": list(cfg.healthy_band),
    }  # fmt: skip
    profiles: dict[str, list[float]] = {}
    curves: dict[str, list[float]] = {}
    losses: dict[str, list[float]] = {}
    steps: list[int] = []
    for v in VARIANTS:
        log_norms = torch.zeros(cfg.depth, dtype=torch.float64)
        losses[v], curve = [], None
        for s in range(cfg.n_seeds):
            seed = ctx.seed * 1000 + s
            torch.manual_seed(seed)
            model = DeepMLP(64, data.num_classes, depth=cfg.depth, width=cfg.width, variant=v)
            log_norms += (
                torch.tensor(gradient_norms(model, x_probe, y_probe)).clamp_min(1e-300).log()
            )
            opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)
            loop = train_variant(ctx, v.replace("+", "_"), ClassificationTask(model), opt,
                                 data.train, engine=cfg.engine, seed=seed)  # fmt: skip
            rows = [r for r in loop.history if "train_loss" in r]
            steps = [r["step"] for r in rows]
            c = torch.tensor([r["train_loss"] for r in rows])
            curve = c if curve is None else curve + c
            full = predict(model, data.train)
            losses[v].append(float(F.cross_entropy(full, ys)))
            test = predict(model, data.test)
            metrics.setdefault(f"{v}_test_accuracy", []).append(
                float((test.argmax(1) == data.test.tensors[1]).float().mean())
            )
        profiles[v] = (log_norms / cfg.n_seeds).exp().tolist()
        curves[v] = (curve / cfg.n_seeds).tolist()
        metrics[f"{v}_grad_norms"] = profiles[v]
        metrics[f"{v}_grad_ratio"] = profiles[v][0] / profiles[v][-1]
        metrics[f"{v}_train_losses"] = losses[v]
        metrics[f"{v}_train_loss_mean"] = sum(losses[v]) / len(losses[v])
        ctx.log(VARIANTS.index(v), **{f"{v}_grad_ratio": metrics[f"{v}_grad_ratio"]})
    for v in ("relu", "sigmoid+bn"):
        c = compare_seeds(losses[v], losses["sigmoid"], higher_is_better=False,
                          label_x=v, label_y="sigmoid")  # fmt: skip
        metrics[f"{v}_vs_sigmoid"] = c.as_dict()
    plots = [
        line_plot(
            list(range(1, cfg.depth + 1)),
            profiles,
            ctx.path("grad_norms.png"),
            xlabel="hidden layer (1 = nearest the input)",
            ylabel="||dL/dW|| at initialization",
            title=f"depth {cfg.depth}, width {cfg.width}, digits",
            logy=True,
        ),
        line_plot(
            steps,
            curves,
            ctx.path("train_loss.png"),
            xlabel="SGD step",
            ylabel="training loss (running mean)",
            title=f"SGD lr {cfg.lr}, momentum 0.9, mean of {cfg.n_seeds} seeds",
            logy=True,
        ),
    ]
    metrics["geometric_decay_sigmoid"] = math.exp(
        math.log(max(metrics["sigmoid_grad_ratio"], 1e-300)) / (cfg.depth - 1)
    )
    return Result(metrics=metrics, plots=plots)
