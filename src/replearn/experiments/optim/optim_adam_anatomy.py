r"""Experiment ``optim-adam-anatomy``: what Adam is made of, measured on digits.

    replearn run optim-adam-anatomy               # a few minutes on 2 cores, no file
    replearn claims optim-adam-anatomy --quick

1. ``adam-beta1-zero-is-rmsprop``: Adam with :math:`\beta_1 = 0` is RMSprop with the
   second moment bias-corrected. With :math:`m_t = g_t` and :math:`c_t = \sqrt{1 -
   \beta_2^t}`, Adam's step :math:`\eta g / (\sqrt{v_t}/c_t + \epsilon) = (\eta c_t)\, g /
   (\sqrt{v_t} + \epsilon c_t)` is RMSprop's (:math:`\alpha = \beta_2`) with rate
   :math:`\eta c_t` and :math:`\epsilon c_t`. Three twins of a tanh MLP (float64, same
   initialisation and batches): Adam(:math:`\beta_1 = 0`), RMSprop with those per-step
   rate and :math:`\epsilon`, and plain RMSprop. ``rmsprop.png``.
2. ``adam-bias-correction``: without Eq. (3)'s corrections, Adam's update is
   :math:`(1 - \beta_1^t)/\sqrt{1 - \beta_2^t}` times too large (for steady gradients):
   :math:`(1 - 0.9)/\sqrt{1 - 0.999} = 3.16` at :math:`t = 1`, still about 3 at
   :math:`t = 100`, about 1 only after :math:`\sim 1/(1 - \beta_2)` steps. Measured: the RMS
   of each update of Adam and of Adam without correction (same start and batches).
   ``bias.png``.
3. ``adam-lr-robust``: the width (in decades) of the range of learning rates that train
   well, Adam vs plain SGD: a log grid of rates, 0.5 decade apart; a rate is "good" when
   its validation accuracy is within ``good_margin`` of the best of both optimizers for
   that seed. Widths per seed, compared with :func:`~replearn.experiments.stats.compare_seeds`.
   ``lr_range.png``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from replearn.engine import EngineConfig, FixedBatches, RunContext, Task, fit
from replearn.engine.trainer import Loop
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import seeded
from replearn.experiments.optim.digits_bench import (
    IndexClassifier,
    index_batches,
    load_bench,
    mlp,
    train_bench,
)
from replearn.experiments.optim.tasks import single_thread
from replearn.experiments.stats import compare_seeds
from replearn.optim import SGD, Adam, RMSprop
from replearn.report.plots import line_plot


@dataclass(frozen=True)
class Config:
    """Config of ``optim-adam-anatomy``.

    Attributes:
        hidden: widths of the MLP's hidden layers (tanh).
        batch: examples per update.
        twin_steps: updates of the Adam / RMSprop twins (claim 1).
        twin_lr: their learning rate.
        twin_beta2: :math:`\\beta_2` of Adam = :math:`\\alpha` of RMSprop.
        bias_steps: updates of Adam with and without bias correction (claim 2).
        bias_lr: their learning rate.
        grid_low: log10 of the smallest learning rate of the grid (claim 3).
        grid_points: rates in the grid, 0.5 decade apart.
        grid_steps: updates per grid run.
        good_margin: accuracy below the seed's best that still counts as good.
        seeds: training seeds of claim 3 (>= 3).
    """

    hidden: tuple[int, ...] = (64,)
    batch: int = 64
    twin_steps: int = 300
    twin_lr: float = 3e-3
    twin_beta2: float = 0.99
    bias_steps: int = 1000
    bias_lr: float = 1e-3
    grid_low: float = -4.0
    grid_points: int = 10
    grid_steps: int = 300
    good_margin: float = 0.02
    seeds: tuple[int, ...] = (0, 1, 2)

    def __post_init__(self) -> None:
        for name in ("batch", "twin_steps", "bias_steps", "grid_points", "grid_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.bias_steps < 100:
            raise ValueError("bias_steps must be >= 100 (the claim reads steps 90-110)")
        if len(self.seeds) < 3:
            raise ValueError(f"seeds needs >= 3 seeds, got {self.seeds}")


def tiny() -> Config:
    """Seconds: very short runs (verdicts not meaningful)."""
    return Config(twin_steps=5, bias_steps=100, grid_points=2, grid_low=-2.0, grid_steps=5)


def quick() -> Config:
    """Seconds: an eighth of the updates and a coarser grid (a smoke check)."""
    return Config(twin_steps=40, bias_steps=120, grid_points=5, grid_low=-3.5, grid_steps=40)


class AdamNoBiasCorrection(torch.optim.Optimizer):
    """Adam without Eq. (3): the step is :math:`\\eta\\, m_t / (\\sqrt{v_t} + \\epsilon)`."""

    def __init__(self, params: Any, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:  # fmt: skip
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st["m"], st["v"] = torch.zeros_like(p), torch.zeros_like(p)
                st["m"].lerp_(p.grad, 1 - b1)  # Eq. (1)
                st["v"].mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)  # Eq. (2)
                p.addcdiv_(st["m"], st["v"].sqrt().add_(group["eps"]), value=-group["lr"])


class TwinsTask(Task):
    """Several copies of one network, each with its optimizer, trained on the same batches.

    ``before_step(name, optimizer, t)`` may change an optimizer's hyperparameters before its step t;
    after every update the RMS of each copy's parameter change is recorded in ``steps``.
    """

    def __init__(self, models: dict[str, nn.Module], x: Tensor, y: Tensor,
                 before_step: Any = None) -> None:  # fmt: skip
        super().__init__()
        self.models = nn.ModuleDict(models)
        self.register_buffer("x", x, persistent=False)
        self.register_buffer("y", y, persistent=False)
        self.before_step = before_step
        self.steps: dict[str, list[float]] = {k: [] for k in models}

    def update(self, idx: Tensor, loop: Loop) -> dict[str, Tensor]:
        out = {}
        for name, model in self.models.items():
            before = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
            loss = nn.functional.cross_entropy(model(self.x[idx]), self.y[idx])
            if self.before_step is not None:
                self.before_step(name, loop.optimizers[name], loop.step + 1)
            loop.optimize(loss, name)
            after = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
            self.steps[name].append(float((after - before).pow(2).mean().sqrt()))
            out[f"{name}_loss"] = loss.detach()
        return out


def _twins(cfg: Config, ctx: RunContext, name: str, opts: dict[str, Any], steps: int,
           before_step: Any = None, dtype: torch.dtype = torch.float32) -> TwinsTask:  # fmt: skip
    bench = load_bench(ctx.seed)
    base = seeded(lambda: mlp((64, *cfg.hidden, 10)), ctx.seed).to(dtype)
    models = {k: copy.deepcopy(base) for k in opts}
    task = TwinsTask(models, bench.x_train.to(dtype), bench.y_train, before_step)
    optimizers = {k: make(list(models[k].parameters())) for k, make in opts.items()}
    engine = EngineConfig(max_steps=steps, batch_size=cfg.batch, log_every=steps,
                          checkpoint_every=0, progress=False)  # fmt: skip
    with ctx.child(name) as sub:
        order = index_batches(len(bench.y_train), steps, cfg.batch, ctx.seed)
        fit(task, optimizers, FixedBatches(order), cfg=engine, ctx=sub)
    return task


def _rmsprop_twins(cfg: Config, ctx: RunContext, m: dict[str, Any]) -> Any:
    b2, lr, eps = cfg.twin_beta2, cfg.twin_lr, 1e-8

    def bias_corrected(name: str, opt: torch.optim.Optimizer, t: int) -> None:
        if name == "rmsprop_corrected":
            c = math.sqrt(1 - b2**t)
            for group in opt.param_groups:
                group["lr"], group["eps"] = lr * c, eps * c

    task = _twins(cfg, ctx, "twins", {
        "adam_beta1_0": lambda p: Adam(p, lr=lr, betas=(0.0, b2), eps=eps),
        "rmsprop_corrected": lambda p: RMSprop(p, lr=lr, alpha=b2, eps=eps),
        "rmsprop": lambda p: RMSprop(p, lr=lr, alpha=b2, eps=eps),
    }, cfg.twin_steps, bias_corrected, torch.float64)  # fmt: skip

    def flat(name: str) -> Tensor:
        return torch.cat([p.detach().reshape(-1) for p in task.models[name].parameters()])

    adam = flat("adam_beta1_0")
    m["twin_max_abs_diff_corrected"] = float((adam - flat("rmsprop_corrected")).abs().max())
    m["twin_max_abs_diff_plain"] = float((adam - flat("rmsprop")).abs().max())
    m["twin_param_scale"] = float(adam.abs().max())
    ratio = [a / b for a, b in zip(task.steps["rmsprop"], task.steps["adam_beta1_0"], strict=True)]
    m["twin_first_step_ratio_plain_to_adam"] = ratio[0]
    return line_plot(range(1, len(ratio) + 1), {"RMSprop / Adam(beta1=0)": ratio},
                     ctx.path("rmsprop.png"), xlabel="update t", ylabel="RMS step ratio",
                     title="plain RMSprop vs Adam with beta1 = 0", logx=True)  # fmt: skip


def _bias(cfg: Config, ctx: RunContext, m: dict[str, Any]) -> Any:
    task = _twins(cfg, ctx, "bias", {
        "adam": lambda p: Adam(p, lr=cfg.bias_lr),
        "no_correction": lambda p: AdamNoBiasCorrection(p, lr=cfg.bias_lr),
    }, cfg.bias_steps)  # fmt: skip
    ratio = [a / b for a, b in zip(task.steps["no_correction"], task.steps["adam"], strict=True)]
    t = torch.arange(1, len(ratio) + 1, dtype=torch.float64)
    theory = ((1 - 0.9**t) / (1 - 0.999**t).sqrt()).tolist()
    m["bias_ratio_step1"] = ratio[0]
    m["bias_ratio_theory_step1"] = theory[0]
    m["bias_ratio_median_steps_90_110"] = float(torch.tensor(ratio[89:110]).median())
    m["bias_ratio_theory_step100"] = theory[99]
    m["bias_ratio_last"] = ratio[-1]
    m["bias_ratio_theory_last"] = theory[-1]
    return line_plot(t.tolist(), {"measured": ratio, "(1-b1^t)/sqrt(1-b2^t)": theory},
                     ctx.path("bias.png"), xlabel="update t",
                     ylabel="RMS step, uncorrected / corrected",
                     title="Adam without bias correction", logx=True)  # fmt: skip


def _lr_range(cfg: Config, ctx: RunContext, m: dict[str, Any]) -> Any:
    lrs = [10 ** (cfg.grid_low + 0.5 * i) for i in range(cfg.grid_points)]
    makers = {"adam": lambda lr: lambda p: Adam(p, lr=lr),
              "sgd": lambda lr: lambda p: SGD(p, lr=lr)}  # fmt: skip
    acc: dict[str, list[list[float]]] = {k: [] for k in makers}
    for seed in cfg.seeds:
        bench = load_bench(seed)
        for name, make in makers.items():
            row = []
            for lr in lrs:
                model = seeded(lambda: mlp((64, *cfg.hidden, 10)), seed)
                task = IndexClassifier(model, bench.x_train, bench.y_train)
                train_bench(ctx, f"grid-{name}-lr{lr:.2g}", task, make(lr),
                            steps=cfg.grid_steps, batch=cfg.batch, seed=seed)  # fmt: skip
                row.append(task.accuracy(bench.x_val, bench.y_val))
            acc[name].append(row)
    widths: dict[str, list[float]] = {k: [] for k in makers}
    for s in range(len(cfg.seeds)):
        best = max(max(acc[k][s]) for k in makers)
        for k in makers:
            widths[k].append(0.5 * sum(a >= best - cfg.good_margin for a in acc[k][s]))
    c = compare_seeds(widths["adam"], widths["sgd"], label_x="Adam", label_y="SGD",
                      unit="")  # fmt: skip
    m["lr_grid"] = lrs
    m["lr_val_accuracy"] = acc
    m["lr_good_width_decades"] = widths
    m["lr_robust_comparison"] = c.as_dict()
    m["lr_robust_evidence"] = c.evidence()
    mean = {f"{k} (mean over seeds)": torch.tensor(v).mean(0).tolist() for k, v in acc.items()}
    return line_plot(lrs, mean, ctx.path("lr_range.png"), xlabel="learning rate",
                     ylabel="validation accuracy", title="accuracy vs learning rate",
                     logx=True)  # fmt: skip


def _v_rmsprop(m: dict[str, Any]) -> tuple[bool, str]:
    same, plain = m["twin_max_abs_diff_corrected"], m["twin_max_abs_diff_plain"]
    return same <= 1e-10 * max(1.0, m["twin_param_scale"]) and plain > 1e-3, (
        f"after the run, max |theta_Adam(beta1=0) - theta_RMSprop,corrected| = {same:.2e} "
        f"(float64), vs plain RMSprop {plain:.3g}; plain RMSprop's first step is "
        f"{m['twin_first_step_ratio_plain_to_adam']:.3g}x Adam's"
    )


def _v_bias(m: dict[str, Any]) -> tuple[bool, str]:
    r1, r100 = m["bias_ratio_step1"], m["bias_ratio_median_steps_90_110"]
    holds = abs(r1 / m["bias_ratio_theory_step1"] - 1) < 0.05 and r100 > 2.0
    return holds, (
        f"uncorrected/corrected RMS step: {r1:.3f} at t=1 (theory "
        f"{m['bias_ratio_theory_step1']:.3f}), median {r100:.3f} over t=90-110 (theory at 100: "
        f"{m['bias_ratio_theory_step100']:.3f}), {m['bias_ratio_last']:.3f} at the last step "
        f"(theory {m['bias_ratio_theory_last']:.3f})"
    )


def _v_lr(m: dict[str, Any]) -> tuple[bool, str]:
    c = m["lr_robust_comparison"]
    w = m["lr_good_width_decades"]
    return c["holds"], (
        f"width of the good range (decades) Adam {w['adam']}, SGD {w['sgd']}; "
        + m["lr_robust_evidence"]
    )


CLAIMS = (
    Claim(
        "adam-beta1-zero-is-rmsprop",
        "Adam with beta1 = 0 is RMSprop with a bias-corrected second moment: the same "
        "parameters after training (float64, |difference| <= 1e-10), unlike plain RMSprop.",
        _v_rmsprop,
        "rmsprop.png",
    ),
    Claim(
        "adam-bias-correction",
        "Without bias correction Adam's first steps are mis-scaled: with betas (0.9, 0.999) "
        "the first update is (1-b1)/sqrt(1-b2) = 3.16x the corrected one (within 5%) and "
        "still more than 2x around t = 100.",
        _v_bias,
        "bias.png",
    ),
    Claim(
        "adam-lr-robust",
        "Adam is robust to its learning rate: its range of good rates (validation accuracy "
        "within 2 points of the best) is wider than plain SGD's, over >= 3 seeds.",
        _v_lr,
        "lr_range.png",
    ),
)


@experiment(
    "optim-adam-anatomy",
    topic="optim",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Kingma & Ba 2015, arXiv:1412.6980 (Sec. 3, bias correction); Hinton 2012 (RMSprop)",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Adam's parts on digits: beta1 = 0 vs RMSprop, bias correction, learning-rate range."""
    metrics: dict[str, Any] = {}
    with single_thread():
        plots = [_rmsprop_twins(cfg, ctx, metrics), _bias(cfg, ctx, metrics),
                 _lr_range(cfg, ctx, metrics)]  # fmt: skip
    return Result(metrics=metrics, plots=plots)
