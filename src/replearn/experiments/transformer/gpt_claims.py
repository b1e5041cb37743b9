"""Experiment ``gpt-claims``: three course claims about GPTs, on Tiny Shakespeare characters.

(a) **Position encodings.** Vaswani et al. (2017, Sec. 3.5) report that learned position
embeddings and the fixed sinusoids "produced nearly identical results". The same small
:class:`~replearn.transformer.gpt.GPT` is trained with ``position="learned"`` and
``"sinusoidal"`` (add ``"rotary"`` to ``positions`` for comparison), same seed, data order
and steps. Tolerance, fixed before measuring: the claim holds if the two final validation
losses differ by at most ``position_tolerance`` = 0.05 nats/char.

(b) **Scale.** Larger models reach a lower loss (Kaplan et al. 2020, arXiv:2001.08361): a sweep
over ``scaling_sizes`` (layers, width), every model trained for the same steps on the same
batches. Holds if the final validation loss decreases strictly with the parameter count. Plot:
loss vs parameters (log axis).

(c) **Dropout on small data.** Trained on a small slice of the text (``small_chars``
characters) for long enough to overfit, a GPT without dropout reaches its best validation loss
early and then gets worse; dropout (``dropout`` = 0.2, nanoGPT's Shakespeare value) regularises.
Holds if the best validation loss with dropout is lower than without.

Every run trains through the engine in its own child run folder (random windows of the text as
in nanoGPT; AdamW with nanoGPT's groups; the engine's warm-up then cosine to a tenth of the peak
rate; gradient clipping 1.0; float32; one thread); the validation loss is the mean over a fixed
set of evenly spaced windows of the validation split.

Measured with the default config, seed 0 (2026-11-26, a loaded machine): learned 2.342 vs
sinusoidal 2.315 nats/char (holds); 15k -> 104k -> 405k -> 802k parameters give 2.603 -> 2.464
-> 2.382 -> 2.375 (holds); best val loss with dropout 2.799 vs 2.789 without (fails: dropout
gives the lower *final* loss, 2.888 vs 2.924, as the run without it overfits, but its best
point is no better at this length).

    replearn run gpt-claims                  # ~6 min on a quiet machine (one thread)
    replearn run gpt-claims --preset quick   # ~1 min
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
from replearn.experiments.transformer.char_gpt import CharLMTask, eval_windows
from replearn.report.plots import line_plot
from replearn.transformer.gpt.model import GPT, GPTConfig


@dataclass(frozen=True)
class Config:
    """Settings of the three GPT claims.

    Attributes:
        block_size: context length (characters).
        batch_size: windows per step.
        lr: peak AdamW learning rate.
        warmup_steps: linear warm-up steps.
        eval_windows: validation windows per evaluation.
        threads: torch intra-op threads.
        position_layers: layers of the position-encoding model.
        position_width: width of the position-encoding model.
        position_steps: training steps of each position-encoding run.
        position_tolerance: largest |learned - sinusoidal| val-loss gap (nats) called similar.
        positions: encodings trained (must include "learned" and "sinusoidal"; "rotary" is
            reported for comparison).
        scaling_sizes: (layers, width) of each model of the scaling sweep.
        scaling_steps: training steps of each scaling run.
        small_chars: characters of the training slice of the dropout claim.
        dropout: dropout rate of the regularised run.
        dropout_layers: layers of the dropout model.
        dropout_width: width of the dropout model.
        dropout_steps: training steps of each dropout run.
        eval_every: steps between evaluations (curves; the dropout claim's best loss).
    """

    block_size: int = 128
    batch_size: int = 16
    lr: float = 2e-3
    warmup_steps: int = 30
    eval_windows: int = 64
    threads: int = 1
    position_layers: int = 2
    position_width: int = 128
    position_steps: int = 300
    position_tolerance: float = 0.05
    positions: tuple[str, ...] = ("learned", "sinusoidal")
    scaling_sizes: tuple[tuple[int, int], ...] = ((1, 32), (2, 64), (2, 128), (4, 128))
    scaling_steps: int = 250
    small_chars: int = 10_000
    dropout: float = 0.2
    dropout_layers: int = 2
    dropout_width: int = 128
    dropout_steps: int = 400
    eval_every: int = 50

    def __post_init__(self) -> None:
        if not {"learned", "sinusoidal"} <= set(self.positions):
            raise ValueError("positions must include 'learned' and 'sinusoidal'")
        if len(self.scaling_sizes) < 2:
            raise ValueError("the scaling sweep needs at least two sizes")
        if self.small_chars <= self.block_size + 1 or not 0 < self.dropout < 1:
            raise ValueError("need small_chars > block_size + 1 and 0 < dropout < 1")
        if min(self.position_steps, self.scaling_steps, self.dropout_steps, self.eval_every) < 1:
            raise ValueError("steps and eval_every must be >= 1")


def tiny() -> Config:
    """Seconds: tiny models, a few steps."""
    return Config(
        block_size=16, batch_size=4, eval_windows=4, position_layers=1, position_width=16,
        position_steps=4, scaling_sizes=((1, 8), (1, 16)), scaling_steps=4, small_chars=200,
        dropout_layers=1, dropout_width=16, dropout_steps=6, eval_every=3,
    )  # fmt: skip


def quick() -> Config:
    """Seconds: few steps, smaller models, 16 eval windows (a smoke check)."""
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


def _verdict_positions(m: dict[str, Any]) -> tuple[bool, str]:
    gap = abs(m["val_loss_learned"] - m["val_loss_sinusoidal"])
    return gap <= m["position_tolerance"], (
        f"learned {m['val_loss_learned']:.4f} vs sinusoidal {m['val_loss_sinusoidal']:.4f}: "
        f"gap {gap:.4f} nats (tolerance {m['position_tolerance']}); "
        + (f"rotary {m['val_loss_rotary']:.4f}; " if "val_loss_rotary" in m else "")
        + f"{m['position_steps']} steps each"
    )


def _verdict_scaling(m: dict[str, Any]) -> tuple[bool, str]:
    params, losses = m["scaling_parameters"], m["scaling_val_loss"]
    order = sorted(range(len(params)), key=params.__getitem__)
    holds = all(losses[a] > losses[b] for a, b in itertools.pairwise(order))
    pairs = ", ".join(f"{params[i] / 1e3:.0f}k -> {losses[i]:.4f}" for i in order)
    return holds, f"parameters -> val loss after {m['scaling_steps']} steps: {pairs}"


def _verdict_dropout(m: dict[str, Any]) -> tuple[bool, str]:
    # both halves of the statement: without dropout the validation loss rises after its best
    # value (overfitting), and dropout's best validation loss is lower
    overfits = m["final_val_loss_no_dropout"] > m["best_val_loss_no_dropout"]
    lower = m["best_val_loss_dropout"] < m["best_val_loss_no_dropout"]
    return overfits and lower, (
        f"overfits without dropout: {'yes' if overfits else 'no'} (final val loss above the "
        f"best); best val loss on a {m['small_chars']}-character slice: dropout {m['dropout']} "
        f"{m['best_val_loss_dropout']:.4f} vs none {m['best_val_loss_no_dropout']:.4f}; final "
        f"{m['final_val_loss_dropout']:.4f} vs {m['final_val_loss_no_dropout']:.4f} "
        f"(no dropout: final train loss {m['final_train_loss_no_dropout']:.3f})"
    )


CLAIMS = (
    Claim(
        "gpt-positions-sinusoidal-equals-learned",
        "Sinusoidal and learned position encodings give similar validation loss (same model "
        "and steps; similar = within 0.05 nats/char, fixed before measuring).",
        _verdict_positions,
        "gpt_positions.png",
    ),
    Claim(
        "gpt-larger-models-lower-loss",
        "Larger GPTs reach a lower validation loss at equal steps (loss falls with parameters).",
        _verdict_scaling,
        "gpt_scaling.png",
    ),
    Claim(
        "gpt-dropout-helps-small-data",
        "On a small training set a GPT overfits (without dropout its final validation loss is "
        "above its best); dropout gives a lower best validation loss.",
        _verdict_dropout,
        "gpt_dropout.png",
    ),
)


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
    m: dict[str, Any] = {"position_tolerance": cfg.position_tolerance}
    pos_curves = {}
    for position in cfg.positions:
        gcfg = make(cfg.position_layers, cfg.position_width, position=position)
        _, curve = train_steps(gcfg, train.data, val, cfg, cfg.position_steps, ctx,
                               f"positions-{position}")  # fmt: skip
        pos_curves[position] = curve
        m[f"val_loss_{position}"] = curve[-1][2]
        ctx.log(cfg.position_steps, **{f"val_loss_{position}": curve[-1][2]})
    m["position_steps"] = cfg.position_steps
    params, losses = [], []
    for layers, width in cfg.scaling_sizes:
        name = f"scaling-L{layers}-C{width}"
        model, curve = train_steps(make(layers, width), train.data, val, cfg,
                                   cfg.scaling_steps, ctx, name)  # fmt: skip
        params.append(model.num_parameters())
        losses.append(curve[-1][2])
        ctx.log(cfg.scaling_steps, **{f"val_loss_L{layers}_C{width}": losses[-1]})
    m.update(scaling_parameters=params, scaling_val_loss=losses, scaling_steps=cfg.scaling_steps,
             scaling_sizes=[list(s) for s in cfg.scaling_sizes])  # fmt: skip
    small = train.data[: cfg.small_chars]
    drop_curves = {}
    for name, p in (("no_dropout", 0.0), ("dropout", cfg.dropout)):
        gcfg = make(cfg.dropout_layers, cfg.dropout_width, dropout=p)
        _, curve = train_steps(gcfg, small, val, cfg, cfg.dropout_steps, ctx, f"dropout-{name}")
        drop_curves[name] = curve
        m[f"best_val_loss_{name}"] = min(c[2] for c in curve)
        m[f"final_val_loss_{name}"] = curve[-1][2]
        m[f"final_train_loss_{name}"] = curve[-1][1]
    m.update(small_chars=cfg.small_chars, dropout=cfg.dropout)
    plots = [
        _curves_plot(ctx.path("gpt_positions.png"), pos_curves, 2, "val loss (nats/char)",
                     "position encodings"),
        line_plot(params, {"val loss": losses}, ctx.path("gpt_scaling.png"), logx=True,
                  xlabel="parameters", ylabel="val loss (nats/char)",
                  title=f"equal steps ({cfg.scaling_steps})"),
        _curves_plot(ctx.path("gpt_dropout.png"), {
            **{f"val, {k}": v for k, v in drop_curves.items()},
            **{f"train, {k}": [(s, t, t) for s, t, _ in v] for k, v in drop_curves.items()},
        }, 2, "loss (nats/char)", f"{cfg.small_chars}-character training slice"),
    ]  # fmt: skip
    return Result(metrics=m, plots=plots)
