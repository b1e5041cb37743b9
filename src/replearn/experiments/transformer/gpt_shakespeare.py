"""Experiment ``gpt-shakespeare``: a character-level GPT on Tiny Shakespeare against the clock.

The target (issue 6): nanoGPT's published CPU configuration of ``shakespeare_char`` (4 layers,
4 heads, 128 channels, context 64, batch 12, 2000 iterations, no dropout; AdamW lr 1e-3, betas
(0.9, 0.99), weight decay 0.1, warm-up 100, cosine decay to 1e-4, gradient clipping 1.0)
reaches a validation loss of about 1.88 nats/char. Here a :class:`~replearn.transformer.gpt.GPT`
gets a fixed wall-clock budget (10 minutes by default, **evaluation included**) on the same
2-core CPU and must reach **<= 1.70**; and at that same wall time it must beat the nanoGPT
configuration trained by :func:`baseline_nanogpt_loop`, a plain PyTorch loop with nanoGPT's
hyperparameters (its schedule runs in iterations as nanoGPT's does: past iteration 2000 it keeps
training at the minimum rate 1e-4 until the wall time is spent).

The recipe (the default :class:`Config`): nanoGPT's 4x4x128 network with a longer context (128)
and batch 12 (1536 characters per step), fused AdamW at a peak rate of 2e-3, and a schedule driven
by the *clock*: linear warm-up over 100 steps, then a cosine from ``lr`` to ``min_lr`` over the
fraction of the training time spent, so the run ends on the minimum rate whatever the machine's
speed (the baseline instead sits at 1e-4 after iteration 2000). Training stops early enough for
the final evaluation to fit in the budget (its cost is measured on a few batches first).
``precision="bf16"`` (autocast) pays off for wider models only: on this CPU's AMX units a 4x256
step was 1.6x faster in bf16, 4x192 1.4x, 4x128 slower (one thread).

Measured on an idle 2-core machine (2026-11-26, the default, 2 threads): **1.516** after 599 s
(6614 steps, 17.0k characters/s), against **1.672** for the nanoGPT configuration in the plain
loop at the same wall time (13832 iterations; 1.920 at iteration 2000): both claims hold.

Measured earlier on a loaded 2-core machine (one thread, ~3.7k characters/s, far from the
machine's idle speed), none of the recipes reached the target:

* 4x256, context 256, batch 16, bf16, schedule over 400 steps: 2.13 after 400 steps (1.6M
  characters; update-starved: nanoGPT's configuration is at 1.9 after 2000 smaller steps);
* 4x192, context 128, batch 16, bf16, 10 minutes: 373 steps, 2.32; the baseline in the following
  10 minutes (lighter load): 4878 iterations, 1.82 (1.92 at iteration 2000; published 1.88);
* the default, 10 minutes, run at the same time as the baseline (same load): 1419 steps, 1.888,
  vs the baseline 1.874 after 3127 iterations (1.920 at iteration 2000).

Validation loss: mean cross-entropy (nats per character) over a fixed set of windows of the
validation split (the last 10% of the text; ``eval_windows`` evenly spaced windows of the
model's context, the same for every run), in float32. ``val_loss`` is read at the end of the
budget; ``baseline_val_loss`` likewise for the baseline, ``baseline_val_loss_2000_iters`` at
nanoGPT's 2000 iterations. Samples (500 characters each) go to ``samples.txt``.

    replearn run gpt-shakespeare                    # ~20 min: 10 min ours + 10 min baseline
    replearn run gpt-shakespeare --preset quick     # ~2 min
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from replearn.data.text import TinyShakespeare
from replearn.engine import RunContext
from replearn.experiments.base import Claim, Result, experiment
from replearn.transformer.gpt import GPT, GPTConfig

NANOGPT_CPU = {"val_loss": 1.88, "iters": 2000}
"""nanoGPT README, shakespeare_char on a CPU: val loss ~1.88 after 2000 iterations."""


@dataclass(frozen=True)
class Config:
    """Settings of the time-budgeted character-level GPT.

    Attributes:
        time_budget_s: wall-clock seconds for training plus evaluation (each of ours and the
            baseline's).
        n_layer: transformer blocks.
        n_head: attention heads.
        n_embd: model width.
        block_size: context length in characters.
        batch_size: windows per step.
        dropout: dropout rate (0: none; the run sees each character a few times only).
        lr: peak AdamW learning rate.
        min_lr: rate at the end of the cosine.
        warmup_steps: linear warm-up steps.
        weight_decay: AdamW decoupled weight decay on >= 2-D tensors.
        beta2: AdamW second-moment decay (beta1 = 0.9).
        grad_clip: global gradient-norm clipping.
        precision: ``"bf16"`` (autocast) or ``"fp32"``.
        threads: torch intra-op threads.
        eval_windows: validation windows of the final evaluation (evenly spaced).
        eval_every_s: seconds between the small evaluations of the curve (0: none).
        curve_windows: windows of each curve evaluation.
        baseline: also train nanoGPT's configuration with :func:`baseline_nanogpt_loop`.
        sample_chars: characters generated for ``samples.txt``.
        max_steps: stop after this many steps even within the budget (0: no limit); the
            schedule then runs over the steps (or the time, whichever ends first).
    """

    time_budget_s: float = 600.0
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    block_size: int = 128
    batch_size: int = 12
    dropout: float = 0.0
    lr: float = 2e-3
    min_lr: float = 1e-4
    warmup_steps: int = 100
    weight_decay: float = 0.1
    beta2: float = 0.99
    grad_clip: float = 1.0
    precision: Literal["fp32", "bf16"] = "fp32"
    threads: int = 2
    eval_windows: int = 256
    eval_every_s: float = 60.0
    curve_windows: int = 32
    baseline: bool = True
    sample_chars: int = 500
    max_steps: int = 0

    def __post_init__(self) -> None:
        if self.time_budget_s <= 0 or self.eval_windows < 1 or self.threads < 1:
            raise ValueError("need time_budget_s > 0, eval_windows >= 1 and threads >= 1")
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {self.precision!r}")
        if not 0 < self.min_lr <= self.lr:
            raise ValueError(f"need 0 < min_lr <= lr, got {self.min_lr}, {self.lr}")


def tiny() -> Config:
    """Seconds: a tiny model, a few seconds of each loop."""
    return Config(
        time_budget_s=3.0, n_layer=1, n_head=2, n_embd=32, block_size=32, batch_size=8,
        eval_windows=8, eval_every_s=1.0, curve_windows=4, sample_chars=40, threads=1,
    )  # fmt: skip


def quick() -> Config:
    """About 2 minutes: one minute each for ours and the baseline."""
    return Config(time_budget_s=60.0, eval_every_s=20.0)


def batches(data: Tensor, block_size: int, batch_size: int, gen: torch.Generator):
    """Endless random windows as nanoGPT samples them: (x, y) with y = x shifted by one.

    Shape:
        data (N,) -> yields x, y of (batch_size, block_size) int64.
    """
    windows = data.unfold(0, block_size + 1, 1)  # (N - block_size, block_size + 1), a view
    while True:
        idx = torch.randint(len(windows), (batch_size,), generator=gen)
        w = windows[idx]  # (B, block_size + 1)
        yield w[:, :-1], w[:, 1:]


def eval_windows(data: Tensor, block_size: int, n: int) -> Tensor:
    """``n`` evenly spaced windows of ``block_size + 1`` characters (a fixed validation set).

    Shape:
        data (N,) -> (n, block_size + 1).
    """
    starts = torch.linspace(0, len(data) - block_size - 1, n).long()
    return torch.stack([data[s : s + block_size + 1] for s in starts.tolist()])


@torch.no_grad()
def evaluate(model: GPT, windows: Tensor, batch_size: int = 32) -> float:
    """Mean next-character cross-entropy (nats) over ``windows`` (B, T + 1), float32, eval mode."""
    was_training = model.training
    model.eval()
    total = 0.0
    for chunk in windows.split(batch_size):
        total += float(model.loss(chunk[:, :-1], chunk[:, 1:])) * len(chunk)
    model.train(was_training)
    return total / len(windows)


def cosine_lr(progress: float, lr: float, min_lr: float) -> float:
    """Cosine from ``lr`` (progress 0) to ``min_lr`` (progress >= 1)."""
    p = min(max(progress, 0.0), 1.0)
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * p))


def nanogpt_lr(it: int, lr: float = 1e-3, min_lr: float = 1e-4, warmup: int = 100,
               decay_iters: int = 2000) -> float:  # fmt: skip
    """nanoGPT's schedule in iterations: linear warm-up, cosine to ``min_lr``, then constant."""
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    return cosine_lr((it - warmup) / (decay_iters - warmup), lr, min_lr)


def train_for(
    model: GPT,
    opt: torch.optim.Optimizer,
    data: Tensor,
    val: Tensor,
    *,
    budget_s: float,
    batch_size: int,
    lr_at: Callable[[int, float], float],
    grad_clip: float,
    bf16: bool,
    seed: int,
    log: Callable[..., None] | None = None,
    eval_every_s: float = 0.0,
    curve_windows: int = 32,
    max_steps: int = 0,
    on_step: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Train until ``budget_s`` (minus the final evaluation's cost) and evaluate on ``val``.

    ``lr_at(step, train_progress)`` gives each step's rate; ``train_progress`` is the fraction
    of the training time spent (or of ``max_steps``, whichever is larger). Every
    ``eval_every_s`` seconds the first ``curve_windows`` of ``val`` are evaluated (inside the
    budget). Returns the final ``val_loss``, the steps, the times and the curve.
    """
    t_start = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    it = batches(data, model.cfg.block_size, batch_size, gen)
    t0 = time.perf_counter()
    evaluate(model, val[: min(len(val), 2 * 32)])  # cost of the final evaluation, measured
    eval_cost = (time.perf_counter() - t0) * len(val) / min(len(val), 64) * 1.2 + 0.05
    train_budget = max(budget_s - eval_cost - (time.perf_counter() - t_start), 1e-3)
    curve: list[tuple[float, int, float]] = []
    step, t_train, next_eval = 0, 0.0, eval_every_s
    model.train()
    while t_train < train_budget and not (max_steps and step >= max_steps):
        ts = time.perf_counter()
        progress = max(t_train / train_budget, step / max_steps if max_steps else 0.0)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, progress)
        x, y = next(it)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model.loss(x, y)
        loss.backward()
        if grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        if on_step is not None:
            on_step(step)
        if log is not None and step % 25 == 0:
            log(step, train_loss=loss.item(), lr=opt.param_groups[0]["lr"])
        t_train += time.perf_counter() - ts
        if eval_every_s and t_train >= next_eval:
            te = time.perf_counter()
            v = evaluate(model, val[:curve_windows])
            curve.append((time.perf_counter() - t_start, step, v))
            if log is not None:
                log(step, val_loss_curve=v, wall_s=curve[-1][0])
            next_eval += eval_every_s
            train_budget -= time.perf_counter() - te  # evaluation counts in the budget
    train_s = time.perf_counter() - t_start
    val_loss = evaluate(model, val)
    wall = time.perf_counter() - t_start
    curve.append((wall, step, evaluate(model, val[:curve_windows])))
    return {
        "val_loss": val_loss, "steps": step, "train_s": train_s, "wall_s": wall,
        "tokens": step * batch_size * model.cfg.block_size, "curve": curve,
    }  # fmt: skip


def baseline_nanogpt_loop(
    wall_time_s: float, *, seed: int = 0, eval_n: int = 256, log: Callable[..., None] | None = None
) -> dict[str, Any]:
    """nanoGPT's CPU ``shakespeare_char`` configuration in a plain PyTorch loop, for a wall time.

    4 layers, 4 heads, 128 channels, no biases, exact GELU, context 64, batch 12, no dropout;
    AdamW (lr 1e-3, betas (0.9, 0.99), weight decay 0.1 on >= 2-D tensors), warm-up 100,
    cosine to 1e-4 at iteration 2000 then constant, gradient clipping 1.0, float32. Returns
    ``val_loss`` at ``wall_time_s`` (evaluation included), ``val_loss_2000_iters`` (the
    published point; None if not reached) and the steps and curve.
    """
    torch.manual_seed(seed)
    cfg = GPTConfig(n_layer=4, n_head=4, n_embd=128, block_size=64, vocab_size=65,
                    bias=False, activation="gelu", dropout=0.0)  # fmt: skip
    model = GPT(cfg)
    opt = model.configure_optimizers(lr=1e-3, weight_decay=0.1, betas=(0.9, 0.99))
    train = TinyShakespeare("train", block_size=64).data
    val = eval_windows(TinyShakespeare("val", block_size=64).data, 64, eval_n)
    at_2000: dict[str, float] = {}

    def on_step(step: int) -> None:
        if step == NANOGPT_CPU["iters"]:
            at_2000["val_loss"] = evaluate(model, val)

    out = train_for(
        model, opt, train, val, budget_s=wall_time_s, batch_size=12,
        lr_at=lambda step, _p: nanogpt_lr(step), grad_clip=1.0, bf16=False, seed=seed, log=log,
        eval_every_s=wall_time_s / 10, on_step=on_step,
    )  # fmt: skip
    out["val_loss_2000_iters"] = at_2000.get("val_loss")
    return out


def recipe_lr(cfg: Config) -> Callable[[int, float], float]:
    """Warm-up over ``warmup_steps`` steps, then a cosine over the training-time fraction."""

    def lr_at(step: int, progress: float) -> float:
        if step < cfg.warmup_steps:
            return cfg.lr * (step + 1) / cfg.warmup_steps
        return cosine_lr(progress, cfg.lr, cfg.min_lr)

    return lr_at


def _verdict_target(m: dict[str, Any]) -> tuple[bool, str]:
    return m["val_loss"] <= 1.70 and m["train_wall_time_s"] <= m["time_budget_s"] * 1.02, (
        f"val loss {m['val_loss']:.4f} after {m['train_wall_time_s']:.0f} s (budget "
        f"{m['time_budget_s']:.0f} s, evaluation included), {m['steps']} steps, "
        f"{m['tokens_per_s']:.0f} tokens/s; target <= 1.70 (nanoGPT CPU config: ~1.88)"
    )


def _verdict_baseline(m: dict[str, Any]) -> tuple[bool, str]:
    if m.get("baseline_val_loss") is None:
        return False, "baseline not run (baseline=False)"
    b2000 = m.get("baseline_val_loss_2000_iters")
    at = f"{b2000:.4f} at 2000 iterations" if b2000 is not None else "2000 iterations not reached"
    return m["val_loss"] < m["baseline_val_loss"], (
        f"ours {m['val_loss']:.4f} vs nanoGPT configuration {m['baseline_val_loss']:.4f} at the "
        f"same wall time ({m['baseline_wall_time_s']:.0f} s, {m['baseline_steps']} iterations; "
        f"{at})"
    )


CLAIMS = (
    Claim(
        "gpt-val-loss-1.70-in-10-min",
        "A character-level GPT reaches a Tiny Shakespeare validation loss of 1.70 nats/char or "
        "less within 10 minutes on a 2-core CPU, evaluation included (nanoGPT's published CPU "
        "configuration reaches ~1.88).",
        _verdict_target,
        "gpt_shakespeare_val_loss.png",
    ),
    Claim(
        "gpt-beats-plain-loop-at-equal-time",
        "At equal wall time the recipe beats nanoGPT's CPU configuration (4x4x128, context 64, "
        "batch 12, lr 1e-3 cosine to 1e-4) trained with a plain PyTorch loop.",
        _verdict_baseline,
        "gpt_shakespeare_val_loss.png",
    ),
)


def _plot(path: Any, curves: dict[str, list[tuple[float, int, float]]]) -> Any:
    import matplotlib.pyplot as plt

    from replearn.report.plots import DPI, save_figure

    fig, ax = plt.subplots(figsize=(6.0, 4.0), dpi=DPI)
    for label, c in curves.items():
        ax.plot([p[0] for p in c], [p[2] for p in c], marker="o", markersize=3, label=label)
    ax.axhline(1.70, color="0.5", linestyle=":", label="target 1.70")
    ax.set(xlabel="wall time (s)", ylabel="val loss (nats/char, curve windows)",
           title="Tiny Shakespeare, character level")  # fmt: skip
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


@experiment(
    "gpt-shakespeare",
    topic="transformer",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Radford et al. 2019 (GPT-2); nanoGPT shakespeare_char CPU configuration",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Character-level GPT on Tiny Shakespeare in a wall-clock budget vs nanoGPT's CPU config."""
    previous = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        train_set = TinyShakespeare("train", block_size=cfg.block_size)
        vocab = train_set.vocab
        val_data = TinyShakespeare("val", block_size=cfg.block_size).data
        val = eval_windows(val_data, cfg.block_size, cfg.eval_windows)
        gcfg = GPTConfig(
            n_layer=cfg.n_layer, n_head=cfg.n_head, n_embd=cfg.n_embd,
            block_size=cfg.block_size, vocab_size=len(vocab), dropout=cfg.dropout,
        )  # fmt: skip
        model = GPT(gcfg)
        opt = model.configure_optimizers(
            lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, cfg.beta2), fused=True
        )
        ours = train_for(
            model, opt, train_set.data, val, budget_s=cfg.time_budget_s,
            batch_size=cfg.batch_size, lr_at=recipe_lr(cfg), grad_clip=cfg.grad_clip,
            bf16=cfg.precision == "bf16", seed=ctx.seed, log=ctx.log,
            eval_every_s=cfg.eval_every_s, curve_windows=cfg.curve_windows,
            max_steps=cfg.max_steps,
        )  # fmt: skip
        model.eval()
        torch.set_num_threads(1)  # one token at a time: small ops only pay thread syncs on more
        gen = torch.Generator().manual_seed(ctx.seed)
        prompt = torch.tensor([vocab.encode("\n")])
        t0 = time.perf_counter()
        out = model.generate(prompt, cfg.sample_chars, temperature=0.8, top_k=20, generator=gen)
        gen_s = time.perf_counter() - t0
        samples = ["=== ours (temperature 0.8, top-k 20) ===", vocab.decode(out[0, 1:])]
        torch.set_num_threads(cfg.threads)
        base = None
        if cfg.baseline:
            base = baseline_nanogpt_loop(ours["wall_s"], seed=ctx.seed, eval_n=cfg.eval_windows)
    finally:
        torch.set_num_threads(previous)
    ctx.path("samples.txt").write_text("\n".join(samples) + "\n", encoding="utf-8")
    metrics: dict[str, Any] = {
        "val_loss": ours["val_loss"],
        "train_wall_time_s": ours["wall_s"],
        "time_budget_s": cfg.time_budget_s,
        "steps": ours["steps"],
        "tokens_seen": ours["tokens"],
        "tokens_per_s": ours["tokens"] / max(ours["train_s"], 1e-9),
        "parameters": model.num_parameters(),
        "generation_chars_per_s": cfg.sample_chars / gen_s,
        "threads": cfg.threads,
        "nanogpt_published_val_loss": NANOGPT_CPU["val_loss"],
    }
    curves = {"ours": ours["curve"]}
    if base is not None:
        metrics.update(
            baseline_val_loss=base["val_loss"], baseline_val_loss_2000_iters=base[
                "val_loss_2000_iters"], baseline_steps=base["steps"],
            baseline_wall_time_s=base["wall_s"],
        )  # fmt: skip
        curves["nanoGPT CPU config, plain loop"] = base["curve"]
    plots = [_plot(ctx.path("gpt_shakespeare_val_loss.png"), curves)]
    return Result(metrics=metrics, model=model, plots=plots)
