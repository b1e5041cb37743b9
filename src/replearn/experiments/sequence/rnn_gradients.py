"""Experiment ``rnn-gradients``: vanishing and exploding gradients of a vanilla RNN.

Bengio, Simard & Frasconi (1994) and Pascanu, Mikolov & Bengio (2013, arXiv:1211.5063):
in ``h_t = phi(W_hh h_{t-1} + W_ih x_t + b)`` the gradient of a loss at step ``T`` with
respect to ``h_t`` is a product of ``T - t`` Jacobians ``diag(phi'(a_s)) W_hh``, so its
norm behaves like ``exp(s (T - t))``: it vanishes when the spectral radius of ``W_hh``
is below 1 and can explode when it is above. Four measurements, all on the unrolled
recurrence of :func:`~replearn.experiments.sequence.rnn_common.hidden_gradient_norms`
(float64, a Gaussian ``W_hh`` rescaled to a chosen spectral radius ``rho``, Gaussian
inputs):

1. ``vanish``: tanh RNN, ``rho < 1``; the log-norm of ``dL/dh_t`` against the distance
   ``T - t`` is fitted by a line (slope per step, R²).
2. ``explode``: linear RNN (and ReLU, tanh for comparison) at ``rho > 1``.
3. ``clipping`` (Pascanu et al. 2013, Alg. 1): a tanh RNN initialised at a large
   spectral radius is trained with plain SGD on the adding problem, once with the
   gradient norm clipped (:func:`replearn.sequence.rnn.clip_grad_norm`) and once
   without, from the same initial weights and batches, for each of ``clip_seeds``
   training seeds (``seed, seed + 1, ...``: initial weights and data). The loss curves
   are compared: the first and last 10% of the steps, and whether any loss was
   non-finite (the unclipped run stops at its first non-finite loss).
4. ``orthogonal``: orthogonal ``W_hh`` (Saxe et al. 2014, arXiv:1312.6120) vs a Gaussian
   ``N(0, 1/H)`` of the same scale (both keep ``E||W v||^2 = ||v||^2``), tanh RNN with
   small inputs (near its linear regime, so that the matrix and not saturation decides);
   the distance at which ``||dL/dh_t||`` falls below ``1e-3`` of ``||dL/dh_T||``, median
   over ``n_inits`` draws. In the linear regime (``orthogonal-init-isometry-linear``) the
   largest drift of ``log10 ||dL/dh_t||`` from its start over the ``T`` steps of a linear
   RNN, for each init: an orthogonal matrix is an isometry, a Gaussian one is not (its
   spectral radius fluctuates around 1 and its singular values spread from 0 to 2).

Writes ``gradient_norms.png``, ``clipping.png`` and ``orthogonal_vs_gaussian.png``. The claims'
verdicts and the plots are in :mod:`replearn.experiments.sequence.rnn_gradients_report`.

replearn run rnn-gradients                  # 24 s CPU, 40 s wall, one thread, load 3.4-4.0
replearn run rnn-gradients --preset quick
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from replearn.data.sequences import AddingProblem
from replearn.engine import Callback, EngineConfig, FixedBatches, Loop, RunContext, Task, fit
from replearn.experiments.base import Result, experiment
from replearn.experiments.sequence.rnn_common import (
    SequenceModel,
    fit_log_slope,
    head_mean,
    hidden_gradient_norms,
    single_thread,
    tail_mean,
    vanishing_distance,
)
from replearn.experiments.sequence.rnn_gradients_report import (
    CLAIMS,
    plot_clipping,
    plot_orthogonal,
    plot_profiles,
)
from replearn.sequence.rnn.clipping import clip_grad_norm, global_norm
from replearn.sequence.rnn.init import orthogonal_, scale_spectral_radius


@dataclass(frozen=True)
class Config:
    """Settings of the gradient-flow measurements.

    Attributes:
        hidden_size: recurrent state size H.
        input_size: input features per step.
        seq_len: unrolled steps T of the vanish / explode measurements.
        batch_size: input sequences averaged over (geometric mean of the norms).
        input_scale: standard deviation of the Gaussian inputs (vanish / explode).
        vanish_radii: spectral radii (< 1) of the tanh RNN for claim ``vanish``.
        explode_radius: spectral radius (> 1) for claim ``explode``.
        clip_radius: initial spectral radius of the RNN trained in claim ``clipping``.
        clip_lr: SGD learning rate of both clipping runs.
        clip_max_norm: gradient-norm threshold of the clipped run.
        clip_steps: SGD updates of each clipping run.
        clip_seq_len: length of the adding-problem sequences.
        clip_batch_size: adding-problem examples per update.
        clip_seeds: training seeds of the clipping comparison (each: one clipped and one
            unclipped run from the same initial weights and batches).
        ortho_seq_len: unrolled steps of claim ``orthogonal``.
        ortho_input_scale: standard deviation of its inputs (small: near-linear tanh).
        n_inits: random initialisations compared in claim ``orthogonal``.
        vanish_ratio: a gradient has vanished below this fraction of its start.
    """

    hidden_size: int = 64
    input_size: int = 8
    seq_len: int = 100
    batch_size: int = 16
    input_scale: float = 1.0
    vanish_radii: tuple[float, ...] = (0.5, 0.9)
    explode_radius: float = 1.5
    clip_radius: float = 2.0
    clip_lr: float = 0.1
    clip_max_norm: float = 1.0
    clip_steps: int = 400
    clip_seq_len: int = 50
    clip_batch_size: int = 32
    clip_seeds: int = 5
    ortho_seq_len: int = 400
    ortho_input_scale: float = 0.1
    n_inits: int = 8
    vanish_ratio: float = 1e-3

    def __post_init__(self) -> None:
        if not self.vanish_radii or max(self.vanish_radii) >= 1:
            raise ValueError(f"vanish_radii must be < 1, got {self.vanish_radii}")
        if self.explode_radius <= 1 or self.clip_radius <= 0:
            raise ValueError("explode_radius must be > 1 and clip_radius > 0")
        if min(self.seq_len, self.ortho_seq_len, self.clip_steps, self.n_inits) < 2:
            raise ValueError("seq_len, ortho_seq_len, clip_steps and n_inits must be >= 2")
        if self.clip_seeds < 1:
            raise ValueError(f"clip_seeds must be >= 1, got {self.clip_seeds}")


def tiny() -> Config:
    """Seconds: short sequences, a few clipping steps, two initialisations and seeds."""
    return Config(
        hidden_size=16, seq_len=30, clip_steps=20, clip_seq_len=20, ortho_seq_len=60, n_inits=2,
        clip_seeds=2,
    )  # fmt: skip


def quick() -> Config:
    """Seconds: fewer clipping steps, initialisations and seeds (a smoke check)."""
    return Config(clip_steps=40, n_inits=4, clip_seeds=3)


def gaussian_recurrent(hidden: int, generator: torch.Generator) -> Tensor:
    """``W_hh ~ N(0, 1/H)`` in float64 (spectral radius close to 1)."""
    return torch.randn(hidden, hidden, generator=generator, dtype=torch.float64) / math.sqrt(hidden)


def log_norm_profile(norms: Tensor) -> Tensor:
    """Mean over the batch of ``log ||dL/dh_t||``, reordered by distance ``d = T - t``.

    Shape:
        norms: (T + 1, B) -> (T + 1,), entry ``d`` for distance ``d``.
    """
    return norms.log().mean(dim=1).flip(0)


def profile(cfg: Config, rho: float, nonlinearity: str, gen: torch.Generator) -> dict[str, Any]:
    """Norm profile of one RNN with a Gaussian ``W_hh`` at spectral radius ``rho``."""
    w_hh = scale_spectral_radius(gaussian_recurrent(cfg.hidden_size, gen), rho)
    w_ih = torch.randn(cfg.hidden_size, cfg.input_size, generator=gen, dtype=torch.float64)
    w_ih = w_ih / math.sqrt(cfg.input_size)
    x = cfg.input_scale * torch.randn(
        cfg.seq_len, cfg.batch_size, cfg.input_size, generator=gen, dtype=torch.float64
    )
    norms, _ = hidden_gradient_norms(w_hh, w_ih, x, nonlinearity=nonlinearity)  # type: ignore[arg-type]
    log_prof = log_norm_profile(norms)  # (T + 1,)
    ok = torch.isfinite(log_prof)
    d = torch.arange(cfg.seq_len + 1)
    slope, _, r2 = fit_log_slope(log_prof[ok].exp(), d[ok])
    return {
        "log_profile": log_prof,
        "slope": slope,
        "r2": r2,
        "log10_ratio": float(log_prof[-1] - log_prof[0]) / math.log(10),
        "distance": vanishing_distance(log_prof.exp(), cfg.vanish_ratio),
    }


class AddingTask(Task):
    """Squared error of the last output on adding-problem batches; stops at a non-finite loss.

    Records every update's loss and global gradient norm (after clipping with replearn's
    :func:`~replearn.sequence.rnn.clipping.clip_grad_norm` when ``clip``, measured before the
    step otherwise), the curves the clipping claim reads.
    """

    def __init__(self, model: SequenceModel, data: AddingProblem, *, clip: float | None) -> None:
        super().__init__()
        self.model, self.data, self.clip = model, data, clip
        self.losses: list[float] = []
        self.grad_norms: list[float] = []

    def update(self, idx: Tensor, loop: Loop) -> dict[str, Tensor]:
        rows = idx.cpu()  # the problem's tensors stay on the CPU; the batch goes to the device
        out, _ = self.model(self.data.x[rows].to(loop.device))  # (B, T, 1)
        loss = (out[:, -1] - self.data.y[rows].to(loop.device)).square().mean()
        self.losses.append(loss.item())
        if not math.isfinite(self.losses[-1]):
            self.grad_norms.append(float("nan"))
            loop.should_stop = True  # diverged: nothing left to learn from this run
            return {}
        loop.optimize(loss)
        return {"loss": loss.detach()}


class _ClipAndMeasure(Callback):
    def __init__(self, task: AddingTask) -> None:
        self.task = task

    def on_before_optimizer_step(self, loop: Loop) -> None:
        params = loop.stepping_parameters()
        if self.task.clip is not None:
            norm = clip_grad_norm(params, self.task.clip)
        else:
            norm = global_norm([p.grad for p in params])
        self.task.grad_norms.append(float(norm))


def train_adding(cfg: Config, *, clip: bool, seed: int, ctx: RunContext) -> dict[str, list[float]]:
    """SGD on the adding problem from a tanh RNN at spectral radius ``clip_radius``, through the
    engine (child run; batches in order; stops at the first non-finite loss)."""
    data = AddingProblem(cfg.clip_steps * cfg.clip_batch_size, seq_len=cfg.clip_seq_len, seed=seed)
    torch.manual_seed(seed)
    model = SequenceModel("rnn", input_size=2, hidden_size=cfg.hidden_size, output_size=1)
    with torch.no_grad():
        w = model.rnn.weight_hh_l0
        w.copy_(scale_spectral_radius(w, cfg.clip_radius))
    task = AddingTask(model, data, clip=cfg.clip_max_norm if clip else None)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.clip_lr)
    order = torch.arange(len(data.y)).view(cfg.clip_steps, cfg.clip_batch_size)
    engine = EngineConfig(max_steps=cfg.clip_steps, batch_size=cfg.clip_batch_size,
                          log_every=10, checkpoint_every=0, progress=False)  # fmt: skip
    with ctx.child(f"{'clipped' if clip else 'unclipped'}_s{seed}", seed=seed) as sub:
        fit(task, opt, FixedBatches(order), cfg=engine, ctx=sub, callbacks=[_ClipAndMeasure(task)])
    return {"loss": task.losses, "grad_norm": task.grad_norms}


def orthogonal_vs_gaussian(cfg: Config, seed: int) -> dict[str, Any]:
    """Vanishing distances and profiles for ``n_inits`` orthogonal and Gaussian ``W_hh``."""
    out: dict[str, Any] = {"orthogonal": [], "gaussian": [], "profiles": {}, "linear_slope": {}}
    t = cfg.ortho_seq_len
    for i in range(cfg.n_inits):
        gen = torch.Generator().manual_seed(seed * 1000 + i)
        gauss = gaussian_recurrent(cfg.hidden_size, gen)
        ortho = torch.empty(cfg.hidden_size, cfg.hidden_size, dtype=torch.float64)
        ortho = orthogonal_(ortho, generator=gen)
        w_ih = torch.randn(cfg.hidden_size, cfg.input_size, generator=gen, dtype=torch.float64)
        w_ih = w_ih / math.sqrt(cfg.input_size)
        x = cfg.ortho_input_scale * torch.randn(
            t, cfg.batch_size, cfg.input_size, generator=gen, dtype=torch.float64
        )
        for name, w in (("orthogonal", ortho), ("gaussian", gauss)):
            norms, _ = hidden_gradient_norms(w, w_ih, x, nonlinearity="tanh")
            log_prof = log_norm_profile(norms)
            dist = vanishing_distance(log_prof.exp(), cfg.vanish_ratio)
            out[name].append(t + 1 if dist is None else dist)
            out["profiles"].setdefault(name, []).append(log_prof)
            lin, _ = hidden_gradient_norms(w, w_ih, x, nonlinearity="linear")
            lin_prof = log_norm_profile(lin)
            slope, _, _ = fit_log_slope(lin_prof.exp(), torch.arange(t + 1))
            out["linear_slope"].setdefault(name, []).append(slope)
            drift = float((lin_prof - lin_prof[0]).abs().max()) / math.log(10)
            out.setdefault("linear_drift", {}).setdefault(name, []).append(drift)
    return out


@experiment(
    "rnn-gradients",
    topic="sequence",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Bengio et al. 1994; Pascanu et al. 2013, arXiv:1211.5063; Saxe et al. 2014, "
    "arXiv:1312.6120",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Vanishing / exploding gradients of a vanilla RNN, clipping and orthogonal init."""
    gen = torch.Generator().manual_seed(ctx.seed)
    metrics: dict[str, Any] = {
        "seq_len": cfg.seq_len,
        "vanish_radii": list(cfg.vanish_radii),
        "explode_radius": cfg.explode_radius,
        "clip_max_norm": cfg.clip_max_norm,
        "n_inits": cfg.n_inits,
        "ortho_seq_len": cfg.ortho_seq_len,
    }
    curves: dict[str, Tensor] = {}
    with single_thread():
        for rho in cfg.vanish_radii:
            p = profile(cfg, rho, "tanh", gen)
            curves[f"tanh, rho={rho}"] = p["log_profile"]
            for key in ("slope", "r2", "log10_ratio", "distance"):
                metrics[f"tanh_rho{rho}_{key}"] = p[key]
        for nl in ("linear", "relu", "tanh"):
            p = profile(cfg, cfg.explode_radius, nl, gen)
            curves[f"{nl}, rho={cfg.explode_radius}"] = p["log_profile"]
            metrics[f"{nl}_explode_slope"] = p["slope"]
            metrics[f"{nl}_explode_log10_ratio"] = p["log10_ratio"]
        seeds = [ctx.seed + i for i in range(cfg.clip_seeds)]
        runs = {
            name: [train_adding(cfg, clip=name == "clipped", seed=s, ctx=ctx) for s in seeds]
            for name in ("clipped", "unclipped")
        }
        ortho = orthogonal_vs_gaussian(cfg, ctx.seed)
    metrics["clip_seeds"] = seeds
    for name, per_seed in runs.items():  # one entry per training seed
        metrics[f"{name}_steps"] = [len(r["loss"]) for r in per_seed]
        metrics[f"{name}_finite"] = [all(math.isfinite(v) for v in r["loss"]) for r in per_seed]
        metrics[f"{name}_loss_first"] = [head_mean(r["loss"]) for r in per_seed]
        metrics[f"{name}_loss_last"] = [tail_mean(r["loss"]) for r in per_seed]
        metrics[f"{name}_max_grad_norm"] = [max(r["grad_norm"]) for r in per_seed]
    for name in ("orthogonal", "gaussian"):
        metrics[f"{name}_distances"] = ortho[name]
        metrics[f"{name}_median_distance"] = statistics.median(ortho[name])
        metrics[f"{name}_linear_slope"] = statistics.mean(ortho["linear_slope"][name])
        metrics[f"{name}_linear_max_log10_drift"] = max(ortho["linear_drift"][name])
        metrics[f"{name}_linear_min_log10_drift"] = min(ortho["linear_drift"][name])
    unclipped = runs["unclipped"][0]["loss"]  # the logged curves: the first seed's
    for step, a in enumerate(runs["clipped"][0]["loss"]):
        row = {"clipped_loss": a}
        if step < len(unclipped) and math.isfinite(unclipped[step]):
            row["unclipped_loss"] = unclipped[step]
        if math.isfinite(a):
            ctx.log(step, **row)
    plots = [
        plot_profiles(ctx.path("gradient_norms.png"), curves),
        plot_clipping(ctx.path("clipping.png"), runs),
        plot_orthogonal(ctx.path("orthogonal_vs_gaussian.png"), ortho),
    ]
    return Result(metrics=metrics, plots=plots)
