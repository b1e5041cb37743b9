"""Experiment ``gpt-claims``: three course claims about GPTs, on Tiny Shakespeare characters.

Every claim is judged over ``n_seeds`` training seeds by
:func:`~replearn.experiments.stats.compare_seeds` (paired by seed: a seed fixes the initial
weights, shared by variants of one shape, and the batches, shared by all).

(a) **Position encodings.** Vaswani et al. (2017, Sec. 3.5): learned position embeddings and
fixed sinusoids "produced nearly identical results". The same small
:class:`~replearn.transformer.gpt.GPT` with ``position="learned"`` and ``"sinusoidal"`` (add
``"rotary"`` to ``positions`` for comparison). Equivalence (two one-sided tests): both 95%
bounds of the paired difference lie within ``position_tolerance`` = 0.05 nats/char (fixed
before measuring).
(b) **Scale.** Larger models reach a lower loss (Kaplan et al. 2020, arXiv:2001.08361): a sweep
over ``scaling_sizes`` (layers, width) at equal steps and batches. Holds if every step up in
parameters lowers the final validation loss over the seeds (each pair of neighbouring sizes).
(c) **Dropout on small data.** On ``small_chars`` characters a GPT without dropout reaches its
best validation loss early, then gets worse; dropout (0.2, nanoGPT's Shakespeare value)
regularises. Holds if the run without dropout ends above its best on every seed and dropout's
best validation loss is lower over the seeds.

Runs go through the engine, each in its child folder ``seed<s>/<run>`` (nanoGPT's random
windows and AdamW groups, warm-up then cosine to a tenth of the peak rate, clipping 1.0,
float32, one thread); the validation loss is the mean over fixed evenly spaced windows.

Default config, changed on 2026-12-08 (issue 21) before any run of it: one seed of the old
default (300 / 250 / 400 steps, ``eval_every`` 50) cost ~6 CPU min on one thread (0.013, 0.068,
0.157, 0.291 CPU s per step for the 15k, 104k, 405k, 802k models), three seeds ~18 CPU min,
more than the shared 2-core machine could give. So every run's steps were halved (150 / 125 /
200; ``eval_every`` 25, the same number of curve points): ~9 CPU min for three seeds. The old
default, seed 0 (2026-11-26): learned 2.342 vs sinusoidal 2.315; 15k -> 104k -> 405k -> 802k
parameters 2.603 -> 2.464 -> 2.382 -> 2.375; best val loss with dropout 2.799 vs 2.789 without.

    replearn run gpt-claims                  # ~9 CPU min (one thread)
    replearn run gpt-claims --preset quick   # seconds
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from replearn.data.text import TinyShakespeare
from replearn.engine import EngineConfig, RandomWindows, RunContext, fit
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.stats import compare_seeds, too_few_seeds
from replearn.experiments.transformer.char_gpt import CharLMTask, eval_windows
from replearn.report.plots import line_plot
from replearn.transformer.gpt.model import GPT, GPTConfig


@dataclass(frozen=True)
class Config:
    """Settings of the three GPT claims.

    Attributes:
        block_size: context length (characters). batch_size: windows per step.
        lr: peak AdamW learning rate. warmup_steps: linear warm-up steps.
        eval_windows: validation windows per evaluation. threads: torch intra-op threads.
        position_layers, position_width: layers and width of the position-encoding model.
        position_steps: training steps of each position-encoding run.
        position_tolerance: largest |learned - sinusoidal| val-loss gap (nats) called similar.
        positions: encodings trained (must include "learned" and "sinusoidal"; "rotary" is
            reported for comparison).
        scaling_sizes: (layers, width) of each model of the scaling sweep.
        scaling_steps: training steps of each scaling run.
        small_chars: characters of the training slice of the dropout claim.
        dropout: dropout rate of the regularised run.
        dropout_layers, dropout_width: layers and width of the dropout model.
        dropout_steps: training steps of each dropout run.
        eval_every: steps between evaluations (curves; the dropout claim's best loss).
        n_seeds: training seeds (``seed``, ``seed + 1``, ...); the verdicts need >= 3 (with
            fewer they report "not measured").
    """

    block_size: int = 128
    batch_size: int = 16
    lr: float = 2e-3
    warmup_steps: int = 30
    eval_windows: int = 64
    threads: int = 1
    position_layers: int = 2
    position_width: int = 128
    position_steps: int = 150
    position_tolerance: float = 0.05
    positions: tuple[str, ...] = ("learned", "sinusoidal")
    scaling_sizes: tuple[tuple[int, int], ...] = ((1, 32), (2, 64), (2, 128), (4, 128))
    scaling_steps: int = 125
    small_chars: int = 10_000
    dropout: float = 0.2
    dropout_layers: int = 2
    dropout_width: int = 128
    dropout_steps: int = 200
    eval_every: int = 25
    n_seeds: int = 3

    def __post_init__(self) -> None:
        if not {"learned", "sinusoidal"} <= set(self.positions):
            raise ValueError("positions must include 'learned' and 'sinusoidal'")
        if len(self.scaling_sizes) < 2:
            raise ValueError("the scaling sweep needs at least two sizes")
        if self.small_chars <= self.block_size + 1 or not 0 < self.dropout < 1:
            raise ValueError("need small_chars > block_size + 1 and 0 < dropout < 1")
        steps = (self.position_steps, self.scaling_steps, self.dropout_steps, self.eval_every)
        if min(steps) < 1 or self.n_seeds < 1:
            raise ValueError("steps, eval_every and n_seeds must be >= 1")


def tiny() -> Config:
    """Seconds: tiny models, a few steps, one seed (the verdicts say "not measured")."""
    return Config(
        block_size=16, batch_size=4, eval_windows=4, position_layers=1, position_width=16,
        position_steps=4, scaling_sizes=((1, 8), (1, 16)), scaling_steps=4, small_chars=200,
        dropout_layers=1, dropout_width=16, dropout_steps=6, eval_every=3, n_seeds=1,
    )  # fmt: skip


def quick() -> Config:
    """Seconds: few steps, smaller models, 16 eval windows, 3 seeds (a smoke check)."""
    return Config(
        block_size=64, eval_windows=16, position_width=64, position_steps=10,
        scaling_sizes=((1, 16), (1, 32), (2, 64)), scaling_steps=8, small_chars=10_000,
        dropout_width=64, dropout_steps=10, eval_every=5, warmup_steps=3,
    )  # fmt: skip


def train_steps(
    gcfg: GPTConfig, data: Tensor, val: Tensor, cfg: Config, steps: int, ctx: RunContext, name: str
) -> tuple[GPT, list[tuple[int, float, float]]]:
    """Train a fresh GPT for ``steps`` steps through the engine in child run ``name``.

    Returns the model and its curve of (step, mean train loss since the last point, val loss).
    Same seed -> same initialisation (where shapes agree) and the same batches.
    """
    torch.manual_seed(ctx.seed)
    model = GPT(gcfg)
    opt = model.configure_optimizers(lr=cfg.lr, weight_decay=0.1, betas=(0.9, 0.99))
    engine = EngineConfig(
        max_steps=steps, batch_size=cfg.batch_size, log_every=cfg.eval_every,
        eval_every=cfg.eval_every, checkpoint_every=0, grad_clip_norm=1.0,
        lr_schedule="warmup-cosine", warmup_steps=min(cfg.warmup_steps, steps - 1),
        min_lr_ratio=0.1, progress=False,
    )  # fmt: skip
    task = CharLMTask(model, val, curve_windows=len(val))
    with ctx.child(name) as sub:
        stream = RandomWindows(data, block_size=gcfg.block_size, batch_size=cfg.batch_size,
                               seed=sub.seed)  # fmt: skip
        loop = fit(task, opt, stream, cfg=engine, ctx=sub)
    train = {r["step"]: r["train_loss"] for r in loop.history if "train_loss" in r}
    curve = [
        (r["step"], train[r["step"]], r.get("val_loss", r.get("val_loss_curve")))
        for r in loop.history
        if ("val_loss" in r or "val_loss_curve" in r) and r["step"] in train
    ]
    return model, curve


def _seeds_short(m: dict[str, Any]) -> str | None:
    return too_few_seeds(len(m["seeds"]))


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.4f}" for v in values)


def _verdict_positions(m: dict[str, Any]) -> tuple[bool, str]:
    learned, sinus, tol = m["val_loss_learned_seeds"], m["val_loss_sinusoidal_seeds"], m[
        "position_tolerance"]  # fmt: skip
    head = (
        f"val loss after {m['position_steps']} steps, learned {m['val_loss_learned']:.4f} vs "
        f"sinusoidal {m['val_loss_sinusoidal']:.4f} (means; per seed {_fmt(learned)} vs "
        f"{_fmt(sinus)})"
        + (f"; rotary {m['val_loss_rotary']:.4f}" if "val_loss_rotary" in m else "")
    )
    if short := _seeds_short(m):
        return False, f"{short}; {head}"
    # equivalence (two one-sided tests): neither encoding worse by more than the tolerance
    up = compare_seeds(learned, sinus, higher_is_better=False, margin=-tol, label_x="learned",
                       label_y="sinusoidal")  # fmt: skip
    down = compare_seeds(sinus, learned, higher_is_better=False, margin=-tol,
                         label_x="sinusoidal", label_y="learned")  # fmt: skip
    return up.holds and down.holds, (
        f"{head}; within +-{tol} nats both ways: {up.evidence()}; {down.evidence()}"
    )


def _verdict_scaling(m: dict[str, Any]) -> tuple[bool, str]:
    params, per_seed = m["scaling_parameters"], m["scaling_val_loss_seeds"]
    order = sorted(range(len(params)), key=params.__getitem__)
    pairs = ", ".join(f"{params[i] / 1e3:.0f}k -> {m['scaling_val_loss'][i]:.4f}" for i in order)
    head = f"parameters -> val loss after {m['scaling_steps']} steps (mean over seeds): {pairs}"
    if short := _seeds_short(m):
        return False, f"{short}; {head}"
    steps = [
        compare_seeds(per_seed[b], per_seed[a], higher_is_better=False,
                      label_x=f"{params[b] / 1e3:.0f}k", label_y=f"{params[a] / 1e3:.0f}k")
        for a, b in itertools.pairwise(order)
    ]  # fmt: skip
    holds = all(c.holds for c in steps)
    return holds, f"{head}; every step up lowers the loss: {holds}; " + "; ".join(
        c.evidence() for c in steps
    )


def _verdict_dropout(m: dict[str, Any]) -> tuple[bool, str]:
    # both halves of the statement: without dropout the validation loss rises after its best
    # value (overfitting, on every seed), and dropout's best validation loss is lower (over seeds)
    best_d, best_n = m["best_val_loss_dropout_seeds"], m["best_val_loss_no_dropout_seeds"]
    final_n = m["final_val_loss_no_dropout_seeds"]
    overfit = [f > b for f, b in zip(final_n, best_n, strict=True)]
    head = (
        f"without dropout final above best (overfits) on {sum(overfit)} of {len(overfit)} "
        f"seeds (final {_fmt(final_n)} vs best {_fmt(best_n)}); best val loss on a "
        f"{m['small_chars']}-character slice: dropout {m['dropout']} "
        f"{m['best_val_loss_dropout']:.4f} vs none {m['best_val_loss_no_dropout']:.4f} (means; "
        f"final {m['final_val_loss_dropout']:.4f} vs {m['final_val_loss_no_dropout']:.4f}; no "
        f"dropout: final train loss {m['final_train_loss_no_dropout']:.3f})"
    )
    if short := _seeds_short(m):
        return False, f"{short}; {head}"
    c = compare_seeds(best_d, best_n, higher_is_better=False, label_x="dropout",
                      label_y="no dropout")  # fmt: skip
    return all(overfit) and c.holds, f"{head}; {c.evidence()}"


CLAIMS = (
    Claim("gpt-positions-sinusoidal-equals-learned", "Sinusoidal and learned position encodings "
          "give similar validation loss (same model and steps; similar = within 0.05 nats/char, "
          "fixed before measuring: both one-sided 95% bounds of the paired difference over >= 3 "
          "training seeds inside +-0.05).", _verdict_positions, "gpt_positions.png"),
    Claim("gpt-larger-models-lower-loss", "Larger GPTs reach a lower validation loss at equal "
          "steps (loss falls with parameters: every step up in size lowers it, paired over >= 3 "
          "training seeds).", _verdict_scaling, "gpt_scaling.png"),
    Claim("gpt-dropout-helps-small-data", "On a small training set a GPT overfits (without "
          "dropout its final validation loss is above its best, on every seed); dropout gives a "
          "lower best validation loss (paired over >= 3 training seeds).", _verdict_dropout,
          "gpt_dropout.png"),
)  # fmt: skip


def _curves_plot(path: Any, curves: dict[str, list], index: int, ylabel: str, title: str):
    steps = [c[0] for c in next(iter(curves.values()))]
    ys = {k: [c[index] for c in v] for k, v in curves.items()}
    return line_plot(steps, ys, path, xlabel="step", ylabel=ylabel, title=title)


@experiment(
    "gpt-claims",
    topic="transformer",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Vaswani et al. 2017, arXiv:1706.03762; Kaplan et al. 2020, arXiv:2001.08361; "
    "Srivastava et al. 2014 (dropout)",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """GPT claims: sinusoidal vs learned positions, scaling with size, dropout on small data."""
    previous = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        return _run(cfg, ctx)
    finally:
        torch.set_num_threads(previous)


def _run(cfg: Config, ctx: RunContext) -> Result:
    train = TinyShakespeare("train", block_size=cfg.block_size)
    vocab = len(train.vocab)
    val = eval_windows(TinyShakespeare("val", block_size=cfg.block_size).data, cfg.block_size,
                       cfg.eval_windows)  # fmt: skip
    make: Callable[..., GPTConfig] = lambda layers, width, **kw: GPTConfig(  # noqa: E731
        n_layer=layers, n_head=max(1, width // 32), n_embd=width, block_size=cfg.block_size,
        vocab_size=vocab, **kw,
    )  # fmt: skip
    seeds = list(range(ctx.seed, ctx.seed + cfg.n_seeds))
    per: dict[str, list[Any]] = {}
    kept: list[dict[str, dict[str, list]]] = []  # curves of every seed (the first is plotted)
    small = train.data[: cfg.small_chars]
    params: list[int] = []
    for seed in seeds:
        with ctx.child(f"seed{seed}", seed=seed) as run:
            one, curve, params = _one_seed(cfg, run, make, (train.data, small, val))
        for key, value in one.items():
            per.setdefault(key, []).append(value)
        kept.append(curve)
    curves = kept[0]
    m: dict[str, Any] = {f"{k}_seeds": v for k, v in per.items() if k != "scaling_val_loss"}
    m.update({k: sum(v) / len(v) for k, v in per.items() if k != "scaling_val_loss"})
    by_size = [list(v) for v in zip(*per["scaling_val_loss"], strict=True)]
    m.update(
        seeds=seeds, position_tolerance=cfg.position_tolerance, position_steps=cfg.position_steps,
        scaling_parameters=params, scaling_val_loss_seeds=by_size,
        scaling_val_loss=[sum(v) / len(v) for v in by_size], scaling_steps=cfg.scaling_steps,
        scaling_sizes=[list(s) for s in cfg.scaling_sizes], small_chars=cfg.small_chars,
        dropout=cfg.dropout,
    )  # fmt: skip
    plots = [
        _curves_plot(ctx.path("gpt_positions.png"), curves["positions"], 2,
                     "val loss (nats/char)", f"position encodings (seed {seeds[0]})"),
        line_plot(params, {"val loss": m["scaling_val_loss"]}, ctx.path("gpt_scaling.png"),
                  logx=True, xlabel="parameters", ylabel="val loss (nats/char)",
                  title=f"equal steps ({cfg.scaling_steps}), mean of {len(seeds)} seeds"),
        _curves_plot(ctx.path("gpt_dropout.png"), {
            **{f"val, {k}": v for k, v in curves["dropout"].items()},
            **{f"train, {k}": [(s, t, t) for s, t, _ in v] for k, v in curves["dropout"].items()},
        }, 2, "loss (nats/char)", f"{cfg.small_chars}-character training slice (seed "
           f"{seeds[0]})"),
    ]  # fmt: skip
    return Result(metrics=m, plots=plots)


def _one_seed(
    cfg: Config, ctx: RunContext, make: Callable[..., GPTConfig], data: tuple[Tensor, ...]
) -> tuple[dict[str, Any], dict[str, dict[str, list]], list[int]]:
    """Every run of one seed (``ctx.seed``): the numbers, the curves and the sweep's sizes."""
    text, small, val = data
    m: dict[str, Any] = {}
    curves: dict[str, dict[str, list]] = {"positions": {}, "dropout": {}}
    for position in cfg.positions:
        gcfg = make(cfg.position_layers, cfg.position_width, position=position)
        _, curve = train_steps(gcfg, text, val, cfg, cfg.position_steps, ctx,
                               f"positions-{position}")  # fmt: skip
        curves["positions"][position] = curve
        m[f"val_loss_{position}"] = curve[-1][2]
        ctx.log(cfg.position_steps, **{f"val_loss_{position}": curve[-1][2]})
    params, losses = [], []
    for layers, width in cfg.scaling_sizes:
        model, curve = train_steps(make(layers, width), text, val, cfg, cfg.scaling_steps, ctx,
                                   f"scaling-L{layers}-C{width}")  # fmt: skip
        params.append(model.num_parameters())
        losses.append(curve[-1][2])
        ctx.log(cfg.scaling_steps, **{f"val_loss_L{layers}_C{width}": losses[-1]})
    m["scaling_val_loss"] = losses
    for name, p in (("no_dropout", 0.0), ("dropout", cfg.dropout)):
        gcfg = make(cfg.dropout_layers, cfg.dropout_width, dropout=p)
        _, curve = train_steps(gcfg, small, val, cfg, cfg.dropout_steps, ctx, f"dropout-{name}")
        curves["dropout"][name] = curve
        m[f"best_val_loss_{name}"] = min(c[2] for c in curve)
        m[f"final_val_loss_{name}"] = curve[-1][2]
        m[f"final_train_loss_{name}"] = curve[-1][1]
    return m, curves, params
