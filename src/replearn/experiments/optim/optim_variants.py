r"""Experiment ``optim-variants``: AMSGrad vs Adam, and AdamW vs Adam + L2.

    replearn run optim-variants               # ~20 CPU s (one thread, 3 seeds), no file
    replearn claims optim                     # every optim claim, one table

1. ``amsgrad-converges``: Reddi, Kale & Kumar's online problem (2018, Sec. 5):
   :math:`f_t(x) = 1010x` if :math:`t \bmod 101 = 1`, else :math:`-10x`, on
   :math:`x \in [-1, 1]` (optimum :math:`x^* = -1`), with
   :math:`\alpha_t = \alpha/\sqrt{t}` (torch's ``LambdaLR``) and projection on [-1, 1]
   after every step. ``reddi.png``.
2. ``adamw-differs``: least squares with feature scales spread over
   ``reg_scale_range``; the L2 coefficient :math:`\lambda` is Adam's ``weight_decay`` (Adam
   + L2) or AdamW's decoupled decay, cosine schedule to 0, the same minibatches. Both end
   points are compared with the ridge solution
   :math:`(X^\top X/n + \lambda I)^{-1} X^\top y / n`, and AdamW's with the nearest point of
   the whole ridge path (:math:`\lambda'` from 1e-6 to 100). ``decay.png`` (first seed).
   The claim is a property of each trained pair, checked for every one of ``n_seeds``
   training seeds (each seed draws its own regression problem and minibatch order; issue 21).
   Before issue 21 one seed was run; three cost three times that part (a few seconds).

The online problem of part 1 has no randomness (a fixed gradient sequence from x = 0), so
its claim needs no seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from replearn.engine import EngineConfig, FixedBatches, RunContext, Task, fit
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.optim.tasks import (
    anisotropic_regression,
    reddi_gradient,
    ridge_solution,
    single_thread,
)
from replearn.optim import Adam, AdamW, AMSGrad
from replearn.report.plots import line_plot


@dataclass(frozen=True)
class Config:
    """Config of ``optim-variants``.

    Attributes:
        reddi_steps: steps of the online problem.
        reddi_lr: alpha of the schedule alpha / sqrt(t).
        reddi_betas: (beta1, beta2) of Adam and AMSGrad there.
        reg_n: examples of the least-squares problem.
        reg_dim: features.
        reg_scale_range: ratio of the largest to the smallest feature scale.
        reg_noise: standard deviation of the label noise.
        reg_lambda: L2 / weight-decay coefficient.
        reg_lr: peak learning rate (cosine schedule to 0).
        reg_steps: updates.
        batch: examples per update.
        n_seeds: training seeds of part 2 (``seed, seed + 1, ...``); the claim must hold at
            every one.
    """

    reddi_steps: int = 20000
    reddi_lr: float = 0.5
    reddi_betas: tuple[float, ...] = (0.9, 0.99)
    reg_n: int = 512
    reg_dim: int = 20
    reg_scale_range: float = 100.0
    reg_noise: float = 0.5
    reg_lambda: float = 0.1
    reg_lr: float = 0.05
    reg_steps: int = 2000
    batch: int = 64
    n_seeds: int = 3

    def __post_init__(self) -> None:
        if len(self.reddi_betas) != 2:
            raise ValueError(f"reddi_betas needs 2 values, got {self.reddi_betas}")
        for name in ("reddi_steps", "reg_steps", "reg_n", "reg_dim", "batch", "n_seeds"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")


def tiny() -> Config:
    """Seconds: very short runs (verdicts not meaningful)."""
    return Config(reddi_steps=300, reg_steps=100)


def quick() -> Config:
    """Seconds: a sixth of the Reddi steps, a quarter of the regression steps (a smoke check)."""
    return Config(reddi_steps=3000, reg_steps=500)


def reddi_run(opt_cls: type, cfg: Config) -> tuple[list[float], float]:
    """Iterates of ``opt_cls`` on the online problem, and the average regret against x* = -1.

    A direct loop, not the engine, on purpose: Reddi et al.'s counterexample is an online
    convex problem on one scalar with a gradient given in closed form at each step and a
    projection on [-1, 1] after each step (no data, no loss, no model to checkpoint); like the
    toy minimisations of :func:`replearn.experiments.optim.tasks.descend`, issue 11 allows it.
    """
    x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = opt_cls([x], lr=cfg.reddi_lr, betas=tuple(cfg.reddi_betas))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1.0 / math.sqrt(k + 1))
    xs, regret = [], 0.0
    for t in range(1, cfg.reddi_steps + 1):
        g = reddi_gradient(t)
        regret += g * (x.item() + 1.0)  # f_t(x_t) - f_t(-1), f_t linear
        x.grad = torch.full_like(x, g)
        opt.step()
        sched.step()
        with torch.no_grad():
            x.clamp_(-1.0, 1.0)  # projection on the feasible set
        xs.append(x.item())
    return xs, regret / cfg.reddi_steps


def _reddi(cfg: Config, ctx: RunContext, m: dict[str, Any]) -> Any:
    paths = {}
    for name, cls in (("adam", Adam), ("amsgrad", AMSGrad)):
        xs, regret = reddi_run(cls, cfg)
        paths[name] = xs
        m[f"reddi_{name}_final_x"], m[f"reddi_{name}_avg_regret"] = xs[-1], regret
    every = max(1, cfg.reddi_steps // 500)
    steps = list(range(1, cfg.reddi_steps + 1, every))
    sub = {k: v[::every] for k, v in paths.items()}
    return line_plot(
        steps,
        sub,
        ctx.path("reddi.png"),
        xlabel="t",
        ylabel="x_t",
        title="Reddi et al.'s online problem (optimum x* = -1)",
    )


class LinearRegressionTask(Task):
    """Half the mean squared error of ``x @ w`` on batches of example indices (float64)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, dim: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("x", x, persistent=False)
        self.register_buffer("y", y, persistent=False)

    def training_step(self, idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return 0.5 * ((self.x[idx] @ self.w - self.y[idx]) ** 2).mean(), {}


def _decay_one_seed(cfg: Config, ctx: RunContext, seed: int) -> dict[str, Any]:
    """Adam + L2 and AdamW on seed ``seed``'s problem and batches; distances and end points."""
    x, y = anisotropic_regression(
        cfg.reg_n, cfg.reg_dim, scale_range=cfg.reg_scale_range, noise=cfg.reg_noise, seed=seed
    )
    order = torch.randint(
        0, cfg.reg_n, (cfg.reg_steps, cfg.batch), generator=torch.Generator().manual_seed(seed)
    )
    ends = {}
    for name, cls in (("adam_l2", Adam), ("adamw", AdamW)):
        task = LinearRegressionTask(x, y, cfg.reg_dim)
        opt = cls(list(task.parameters()), lr=cfg.reg_lr, weight_decay=cfg.reg_lambda)
        engine = EngineConfig(max_steps=cfg.reg_steps, batch_size=cfg.batch, log_every=100,
                              checkpoint_every=0, lr_schedule="cosine", progress=False)  # fmt: skip
        run = f"decay-{name}" if seed == ctx.seed else f"seed{seed}/decay-{name}"
        with ctx.child(run, seed=seed) as sub:
            fit(task, opt, FixedBatches(order), cfg=engine, ctx=sub)
        ends[name] = task.w.detach().cpu()
    ridge = ridge_solution(x, y, cfg.reg_lambda)

    def rel(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a - b).norm() / b.norm())

    grid = torch.logspace(-6, 2, 161, dtype=torch.float64).tolist()
    nearest = min((rel(ends["adamw"], ridge_solution(x, y, lam)), lam) for lam in grid)
    return {
        "adam_l2_to_ridge": rel(ends["adam_l2"], ridge),
        "adamw_to_ridge": rel(ends["adamw"], ridge),
        "adamw_to_adam_l2": rel(ends["adamw"], ends["adam_l2"]),
        "adamw_nearest_ridge": nearest[0],
        "adamw_nearest_lambda": nearest[1],
        "curves": {"ridge (exact)": ridge, "Adam + L2": ends["adam_l2"], "AdamW": ends["adamw"]},
    }


def _decay(cfg: Config, ctx: RunContext, m: dict[str, Any]) -> Any:
    seeds = list(range(ctx.seed, ctx.seed + cfg.n_seeds))
    rows = [_decay_one_seed(cfg, ctx, s) for s in seeds]
    m["decay_seeds"] = seeds
    for key in rows[0]:
        if key != "curves":
            m[f"decay_{key}_seeds"] = [r[key] for r in rows]
            m[f"decay_{key}"] = rows[0][key]  # the first seed's (plotted)
    return line_plot(
        range(cfg.reg_dim),
        rows[0]["curves"],
        ctx.path("decay.png"),
        xlabel="feature (scale increasing)",
        ylabel="weight",
        title=f"end points, lambda = {cfg.reg_lambda:g}, seed {seeds[0]}",
    )


def _reddi_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    adam, ams = m["reddi_adam_final_x"], m["reddi_amsgrad_final_x"]
    return ams <= -0.8 and adam > 0, (
        f"last iterate (optimum x* = -1): AMSGrad {ams:.3f}, Adam {adam:.3f}; average regret "
        f"AMSGrad {m['reddi_amsgrad_avg_regret']:.3f}, Adam {m['reddi_adam_avg_regret']:.3f}"
    )


def _decay_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    apart, converged = m["decay_adamw_to_adam_l2_seeds"], m["decay_adam_l2_to_ridge_seeds"]
    holds = min(apart) > 0.05 and max(converged) < 0.02

    def per_seed(key: str, spec: str = ".3f") -> str:
        return ", ".join(format(v, spec) for v in m[f"decay_{key}_seeds"])

    return holds, (
        f"every one of the seeds {m['decay_seeds']}: relative distance AdamW to Adam+L2 "
        f"{per_seed('adamw_to_adam_l2')} (each must be > 0.05); Adam+L2 to the ridge solution "
        f"{per_seed('adam_l2_to_ridge', '.4f')} (each must be < 0.02); AdamW to it "
        f"{per_seed('adamw_to_ridge')}; the nearest ridge solution to AdamW's (lambda "
        f"{per_seed('adamw_nearest_lambda', '.3g')}) is still {per_seed('adamw_nearest_ridge')} "
        "away"
    )


CLAIMS = (
    Claim(
        "amsgrad-converges",
        "On Reddi et al.'s online counterexample AMSGrad converges to the optimum x* = -1 "
        "(last iterate <= -0.8) where Adam does not (last iterate > 0).",
        _reddi_verdict,
        "reddi.png",
    ),
    Claim(
        "adamw-differs",
        "AdamW and Adam + L2 end at different solutions (relative distance > 5%, with Adam + "
        "L2 within 2% of the L2-regularized optimum), at every one of 3 training seeds (each "
        "its own regression problem and minibatch order).",
        _decay_verdict,
        "decay.png",
    ),
)


@experiment(
    "optim-variants",
    topic="optim",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Reddi, Kale & Kumar 2018, arXiv:1904.09237; Loshchilov & Hutter 2019, arXiv:1711.05101",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """AMSGrad vs Adam on Reddi et al.'s counterexample; AdamW vs Adam + L2 end points."""
    metrics: dict[str, Any] = {}
    with single_thread():
        plots = [_reddi(cfg, ctx, metrics), _decay(cfg, ctx, metrics)]
    return Result(metrics=metrics, plots=plots)
