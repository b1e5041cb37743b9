"""Experiment ``xor-stuck``: some initializations of a small XOR network get stuck.

Gradient descent on XOR has plateaus and local minima (Rumelhart, Hinton & Williams 1986
report a 2-2-1 network stuck in a local minimum; the landscape is analysed by Hamey 1998,
*Neural Networks* 11(4), and Sprinkhuizen-Kuyper & Boers 1999). Here a population of
``n_inits`` independent ``2 -> H -> 1`` sigmoid networks per hidden width ``H`` is trained
by full-batch gradient descent on the logistic loss of the four XOR points, all in one
engine run per width (the population's loss is the *sum* of the networks' losses, so each
network gets exactly its own gradient). Weights and biases start from PyTorch's
``nn.Linear`` distribution, U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

A network is **solved** if it classifies all four points; it is **stuck** if it is not
solved and its loss fell by less than ``plateau_tol`` (relative) over the last half of
training (a plateau or a local minimum, not merely slow). Writes ``xor_stuck.png`` (the
fraction stuck per width) and ``xor_stuck_loss.png`` (final losses).

Every initialization is an independent training seed, so the width claim is judged over them
by :func:`replearn.experiments.stats.compare_seeds` (issue 21): the stuck indicators (0/1)
of the widest and of the narrowest population, paired by index (the populations are drawn
independently, so the pairing only orders them), and the one-sided 95% Student-t lower bound
of the mean difference in stuck fraction must be above 0 (before issue 21: a difference of
more than 2 binomial standard errors).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from replearn.engine import Callback, EngineConfig, Loop, RunContext, Task, fit
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import engine_config
from replearn.experiments.fundamentals.mlp_xor import xor_data
from replearn.experiments.stats import MIN_SEEDS, compare_seeds
from replearn.report.plots import line_plot

_engine = partial(engine_config, batch_size=4, log_lines=20, progress=False)


@dataclass(frozen=True)
class Config:
    """Settings of ``xor-stuck``.

    Attributes:
        hidden_widths: hidden widths H compared (each a population of ``n_inits`` networks).
        n_inits: random initializations per width.
        lr: learning rate of full-batch gradient descent (no momentum).
        plateau_tol: a network is stuck if unsolved and its loss fell by less than this
            fraction over the last half of training.
        engine: training-loop settings (``max_steps`` full-batch steps; ``batch_size`` 4).
    """

    hidden_widths: tuple[int, ...] = (2, 3, 8)
    n_inits: int = 200
    lr: float = 2.0
    plateau_tol: float = 0.01
    engine: EngineConfig = field(default_factory=lambda: _engine(4000))

    def __post_init__(self) -> None:
        if self.engine.batch_size != 4:
            raise ValueError(
                f"XOR has 4 points: engine.batch_size must be 4, got {self.engine.batch_size}"
            )
        if self.n_inits < 1 or not self.hidden_widths:
            raise ValueError("need n_inits >= 1 and at least one hidden width")


def tiny() -> Config:
    """Seconds: small populations, short training."""
    return Config(hidden_widths=(2, 8), n_inits=20, engine=_engine(100))


def quick() -> Config:
    """The claims at reduced cost."""
    return Config(n_inits=100, engine=_engine(1500))


class XORPopulation(Task):
    """``S`` independent ``2 -> H -> 1`` sigmoid MLPs evaluated together with batched matmuls."""

    def __init__(self, n_nets: int, hidden: int, generator: torch.Generator) -> None:
        super().__init__()
        b1, b2 = 1 / math.sqrt(2), 1 / math.sqrt(hidden)

        def u(bound: float, *shape: int) -> nn.Parameter:
            return nn.Parameter((torch.rand(*shape, generator=generator) * 2 - 1) * bound)

        self.w1, self.b1 = u(b1, n_nets, 2, hidden), u(b1, n_nets, 1, hidden)
        self.w2, self.b2 = u(b2, n_nets, hidden, 1), u(b2, n_nets, 1, 1)

    def logits(self, x: Tensor) -> Tensor:
        """Shape: (B, 2) -> (S, B)."""
        h = torch.sigmoid(x.unsqueeze(0) @ self.w1 + self.b1)  # (S, B, H)
        return (h @ self.w2 + self.b2).squeeze(-1)  # (S, B)

    def losses(self, x: Tensor, y: Tensor) -> Tensor:
        """Per-network mean logistic loss, (S,)."""
        z = self.logits(x)
        return F.binary_cross_entropy_with_logits(z, y.expand_as(z), reduction="none").mean(1)

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        x, y = batch
        losses = self.losses(x, y)
        return losses.sum(), {"mean_loss": losses.detach().mean()}


class _MidLoss(Callback):
    """Records every network's loss after update ``step`` (the half-way point)."""

    def __init__(self, step: int, x: Tensor, y: Tensor) -> None:
        self.step, self.x, self.y = step, x, y
        self.loss = torch.full((1,), float("inf"))

    def on_step_end(self, loop: Loop) -> None:
        if loop.step == self.step:
            with torch.no_grad():
                self.loss = loop.task.losses(self.x.to(loop.device), self.y.to(loop.device)).cpu()


def train_population(cfg: Config, hidden: int, ctx: RunContext) -> dict[str, Any]:
    """Train one population; per-network final loss, loss at mid-training, solved flags."""
    x, y = xor_data()
    task = XORPopulation(cfg.n_inits, hidden, torch.Generator().manual_seed(ctx.seed + hidden))
    mid = _MidLoss(cfg.engine.max_steps // 2, x, y)
    opt = torch.optim.SGD(task.parameters(), lr=cfg.lr)
    with single_thread(), ctx.child(f"h{hidden}") as sub:
        loop = fit(task, opt, TensorDataset(x, y), cfg=cfg.engine, ctx=sub, callbacks=(mid,))
    xd, yd = x.to(loop.device), y.to(loop.device)
    with torch.no_grad():
        final = task.losses(xd, yd).cpu()
        solved = ((task.logits(xd) > 0).float() == yd).all(dim=1).cpu()
    drop = (mid.loss - final) / mid.loss.clamp_min(1e-12)
    stuck = ~solved & (drop < cfg.plateau_tol)
    return {
        "final_loss": final,
        "solved": solved,
        "stuck": stuck,
        "steps": loop.step,
    }


def _verdict_stuck(m: dict[str, Any]) -> tuple[bool, str]:
    h = m["hidden_widths"][0]
    k, n = m[f"h{h}_stuck"], m["n_inits"]
    holds = k >= 1
    return holds, (
        f"H={h}: {k}/{n} initializations stuck (fraction {k / n:.3f}), "
        f"{m[f'h{h}_solved']}/{n} solved; per width stuck/solved: "
        + ", ".join(f"H={w}: {m[f'h{w}_stuck']}/{m[f'h{w}_solved']}" for w in m["hidden_widths"])
    )


def _verdict_width(m: dict[str, Any]) -> tuple[bool, str]:
    n = m["n_inits"]
    lo, hi = m["hidden_widths"][0], m["hidden_widths"][-1]
    p_lo, p_hi = m[f"h{lo}_stuck"] / n, m[f"h{hi}_stuck"] / n
    head = f"stuck fraction H={lo} {p_lo:.3f} vs H={hi} {p_hi:.3f} ({n} initializations each)"
    if n < MIN_SEEDS or lo == hi:
        return False, f"{head}; not measured: needs two widths and >= {MIN_SEEDS} initializations"
    c = compare_seeds(
        m[f"h{hi}_stuck_flags"], m[f"h{lo}_stuck_flags"], higher_is_better=False,
        label_x=f"H={hi}", label_y=f"H={lo}",
    )  # fmt: skip
    per_seed = c.evidence().split("; per seed ")  # 0/1 differences: their counts instead
    evidence = per_seed[0] + ")" + per_seed[1][per_seed[1].index(")") + 1 :]
    return c.holds, (
        f"{head}; stuck fraction, lower is better (each initialization a seed, paired by "
        f"index): {evidence}"
    )


CLAIMS = (
    Claim(
        "xor-some-inits-stuck",
        "Some initializations of a small XOR network get stuck: with 2 sigmoid hidden units, "
        "at least one of the random initializations ends unsolved on a loss plateau "
        "(relative loss decrease < 1% over the second half of training).",
        _verdict_stuck,
        "xor_stuck.png",
    ),
    Claim(
        "xor-wider-less-stuck",
        "Wider hidden layers get stuck less often: the stuck fraction with the widest "
        "hidden layer is below the one with 2 hidden units (over the initializations, each an "
        "independent training seed: one-sided 95% Student-t lower bound of the difference > 0).",
        _verdict_width,
        "xor_stuck.png",
    ),
)


@experiment(
    "xor-stuck",
    topic="fundamentals",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Rumelhart, Hinton & Williams 1986, Nature 323; Hamey 1998, Neural Networks 11(4)",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Train populations of small XOR networks; count the initializations that get stuck."""
    metrics: dict[str, Any] = {"hidden_widths": list(cfg.hidden_widths), "n_inits": cfg.n_inits}
    fractions: dict[str, list[float]] = {"stuck": [], "solved": []}
    finals = {}
    for h in cfg.hidden_widths:
        r = train_population(cfg, h, ctx)
        metrics[f"h{h}_stuck"] = int(r["stuck"].sum())
        metrics[f"h{h}_stuck_flags"] = [int(v) for v in r["stuck"].tolist()]
        metrics[f"h{h}_solved"] = int(r["solved"].sum())
        metrics[f"h{h}_median_final_loss"] = float(r["final_loss"].median())
        fractions["stuck"].append(metrics[f"h{h}_stuck"] / cfg.n_inits)
        fractions["solved"].append(metrics[f"h{h}_solved"] / cfg.n_inits)
        finals[f"H={h}"] = r["final_loss"].sort().values.tolist()
        ctx.log(h, stuck=fractions["stuck"][-1], solved=fractions["solved"][-1])
    plots = [
        line_plot(
            list(cfg.hidden_widths),
            {"stuck": fractions["stuck"], "solved": fractions["solved"]},
            ctx.path("xor_stuck.png"),
            xlabel="hidden units H",
            ylabel=f"fraction of {cfg.n_inits} initializations",
            title=f"XOR, sigmoid 2-H-1, {cfg.engine.max_steps} full-batch steps, lr {cfg.lr}",
        ),
        line_plot(
            list(range(cfg.n_inits)),
            finals,
            ctx.path("xor_stuck_loss.png"),
            xlabel="initialization (sorted by final loss)",
            ylabel="final logistic loss",
            title="final losses: the stuck ones sit on plateaus",
            logy=True,
        ),
    ]
    return Result(metrics=metrics, plots=plots)
