"""Experiment ``gpt-shakespeare``: a character-level GPT on Tiny Shakespeare against the clock.

The target: nanoGPT's published CPU configuration of ``shakespeare_char`` (4 layers, 4 heads,
128 channels, context 64, batch 12, 2000 iterations, no dropout; AdamW lr 1e-3, betas (0.9,
0.99), weight decay 0.1, warm-up 100, cosine decay to 1e-4, gradient clipping 1.0) reaches a
validation loss of about 1.88 nats/char. Here a :class:`~replearn.transformer.gpt.GPT` trained
through the engine gets a wall-clock budget (``engine.time_budget_s``, 10 minutes by default,
**evaluation included, never exceeded**) on a 2-core CPU and must reach **<= 1.70**; and at
that same wall time it must beat the nanoGPT configuration trained by
:func:`~replearn.experiments.transformer.nanogpt_baseline.baseline_nanogpt_loop`, the plain
PyTorch loop kept as the peer. The budget covers training and evaluation
(``train_wall_time_s`` in ``result.json``, checked by the verdict); reading the text, building
the model and writing ``samples.txt`` happen outside it, so the run's ``wall_time_s`` is a few
seconds longer (602 s measured for a 600 s budget).

The recipe (the default :class:`Config`): nanoGPT's 4x4x128 network with a longer context (128)
and batch 12 (1536 characters per step), fused AdamW at a peak rate of 2e-3, and the engine's
clock-driven ``warmup-cosine`` schedule: linear warm-up over 100 steps, then a cosine from
``lr`` to ``lr * engine.min_lr_ratio`` over the fraction of the time budget spent, so the run
ends on the minimum rate whatever the machine's speed (the baseline instead sits at 1e-4 after
iteration 2000). The engine stops early enough for the final evaluation to fit in the budget
(its cost is measured by an evaluation at step 0). ``engine.precision="bf16"`` pays off for
wider models only (on this CPU's AMX units a 4x256 step was 1.6x faster in bf16, 4x192 1.4x,
4x128 slower, one thread).

``--set engine.max_steps=N`` alone turns the time budget off: the run is then step-budgeted,
deterministic and resumable bitwise (``--resume``), and runs data-parallel under torchrun.

Validation loss: mean cross-entropy (nats per character) over ``eval_windows`` evenly spaced
windows of the validation split (:mod:`~replearn.experiments.transformer.char_gpt`), float32,
read at the end of the budget; periodic evaluations (``engine.eval_every_s``) read the first
``curve_windows``. Samples (``sample_chars`` characters) go to ``samples.txt``. Measured
results are in the README and in the claims test. Both claims rest on one training run per side
(seed 0), stated so in the claims and the evidence: a comparison over 3 seeds (issue 21) would
cost 3 x 2 x 10 minutes of an otherwise idle machine.

    replearn run gpt-shakespeare                    # ~20 min: 10 min ours + 10 min baseline
    replearn run gpt-shakespeare --preset quick     # ~2 min
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from replearn import runfolder
from replearn.data.text import TinyShakespeare
from replearn.engine import EngineConfig, RandomWindows, RunContext, distributed, fit
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import engine_config
from replearn.experiments.transformer.char_gpt import CharLMTask, eval_windows
from replearn.experiments.transformer.nanogpt_baseline import NANOGPT_CPU, baseline_nanogpt_loop
from replearn.transformer.gpt.model import GPT, GPTConfig


def _engine() -> EngineConfig:
    return engine_config(
        10_000_000, 12, time_budget_s=600.0, log_every=25, eval_every_s=60.0,
        checkpoint_every=500, grad_clip_norm=1.0, lr_schedule="warmup-cosine", warmup_steps=100,
        min_lr_ratio=0.05,
    )  # fmt: skip


@dataclass(frozen=True)
class Config:
    """Settings of the time-budgeted character-level GPT.

    Attributes:
        n_layer: transformer blocks.
        n_head: attention heads.
        n_embd: model width.
        block_size: context length in characters.
        dropout: dropout rate (0: none; the run sees each character a few times only).
        lr: peak AdamW learning rate (the schedule ends at ``lr * engine.min_lr_ratio``).
        weight_decay: AdamW decoupled weight decay on >= 2-D tensors.
        beta2: AdamW second-moment decay (beta1 = 0.9).
        threads: torch intra-op threads.
        eval_windows: validation windows of the final evaluation (evenly spaced).
        curve_windows: windows of each periodic evaluation (``engine.eval_every_s``).
        baseline: also train nanoGPT's configuration in the plain loop for the same wall time.
        sample_chars: characters generated for ``samples.txt``.
        engine: the training loop (time budget, batch size, schedule, clipping, precision).
    """

    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    block_size: int = 128
    dropout: float = 0.0
    lr: float = 2e-3
    weight_decay: float = 0.1
    beta2: float = 0.99
    threads: int = 2
    eval_windows: int = 256
    curve_windows: int = 32
    baseline: bool = True
    sample_chars: int = 500
    engine: EngineConfig = field(default_factory=_engine)

    def __post_init__(self) -> None:
        if self.eval_windows < 1 or self.threads < 1 or self.lr <= 0:
            raise ValueError("need eval_windows >= 1, threads >= 1 and lr > 0")


def tiny() -> Config:
    """Seconds: a tiny model, a few seconds of each loop."""
    return Config(
        n_layer=1, n_head=2, n_embd=32, block_size=32, eval_windows=8, curve_windows=4,
        sample_chars=40, threads=1,
        engine=EngineConfig(max_steps=10_000_000, time_budget_s=3.0, batch_size=8, log_every=5,
                            eval_every_s=1.0, checkpoint_every=20, grad_clip_norm=1.0,
                            lr_schedule="warmup-cosine", warmup_steps=10, min_lr_ratio=0.05,
                            progress=False),
    )  # fmt: skip


def quick() -> Config:
    """Seconds: 2 s of training each for ours and the baseline, 32 val windows (a smoke check;
    the budget is wall-clock time, so this preset costs about 5 s on any machine)."""
    return Config(
        eval_windows=32, curve_windows=16, sample_chars=200,
        engine=replace(_engine(), time_budget_s=2.0, eval_every_s=1.0, warmup_steps=10),
    )  # fmt: skip


def _verdict_target(m: dict[str, Any]) -> tuple[bool, str]:
    budget = m["time_budget_s"]
    within = budget is None or m["train_wall_time_s"] <= budget
    return m["val_loss"] <= 1.70 and within and budget is not None, (
        f"val loss {m['val_loss']:.4f} after {m['train_wall_time_s']:.0f} s (budget "
        f"{budget if budget is None else round(budget)} s, evaluation included), {m['steps']} "
        f"steps, {m['tokens_per_s']:.0f} tokens/s; target <= 1.70 within the budget "
        "(nanoGPT CPU config: ~1.88); one training seed"
    )


def _verdict_baseline(m: dict[str, Any]) -> tuple[bool, str]:
    if m.get("baseline_val_loss") is None:
        return False, "baseline not run (baseline=False)"
    b2000 = m.get("baseline_val_loss_2000_iters")
    at = f"{b2000:.4f} at 2000 iterations" if b2000 is not None else "2000 iterations not reached"
    return m["val_loss"] < m["baseline_val_loss"], (
        f"ours {m['val_loss']:.4f} vs nanoGPT configuration {m['baseline_val_loss']:.4f} at the "
        f"same wall time ({m['baseline_wall_time_s']:.0f} s, {m['baseline_steps']} iterations; "
        f"{at}); one training seed per side, no seed spread"
    )


CLAIMS = (
    Claim(
        "gpt-val-loss-1.70-in-10-min",
        "A character-level GPT reaches a Tiny Shakespeare validation loss of 1.70 nats/char or "
        "less within 10 minutes on a 2-core CPU, evaluation included (nanoGPT's published CPU "
        "configuration reaches ~1.88). One training seed.",
        _verdict_target,
        "gpt_shakespeare_val_loss.png",
    ),
    Claim(
        "gpt-beats-plain-loop-at-equal-time",
        "At equal wall time the recipe beats nanoGPT's CPU configuration (4x4x128, context 64, "
        "batch 12, lr 1e-3 cosine to 1e-4) trained with a plain PyTorch loop, in one training "
        "run per side (seed 0): a lower final validation loss, without a seed-to-seed spread "
        "(3 seeds x 2 x 10 minutes is beyond the experiment's budget).",
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
    ax.set(xlabel="wall time (s)", ylabel="val loss (nats/char)",
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
        val = eval_windows(TinyShakespeare("val", block_size=cfg.block_size).data,
                           cfg.block_size, cfg.eval_windows)  # fmt: skip
        gcfg = GPTConfig(
            n_layer=cfg.n_layer, n_head=cfg.n_head, n_embd=cfg.n_embd,
            block_size=cfg.block_size, vocab_size=len(vocab), dropout=cfg.dropout,
        )  # fmt: skip
        model = GPT(gcfg)
        task = CharLMTask(model, val, curve_windows=cfg.curve_windows)
        opt = model.configure_optimizers(
            lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, cfg.beta2),
            fused=ctx.device.type == "cpu" or None,
        )  # fmt: skip
        stream = RandomWindows(train_set.data, block_size=cfg.block_size,
                               batch_size=cfg.engine.batch_size, seed=ctx.seed)  # fmt: skip
        loop = fit(task, opt, stream, cfg=cfg.engine, ctx=ctx)
        val_loss = next(r["val_loss"] for r in reversed(loop.history) if "val_loss" in r)
        model.eval()
        torch.set_num_threads(1)  # one token at a time: small ops only pay thread syncs on more
        gen = torch.Generator(device=ctx.device).manual_seed(ctx.seed)
        prompt = torch.tensor([vocab.encode("\n")], device=ctx.device)
        t0 = time.perf_counter()
        out = model.generate(prompt, cfg.sample_chars, temperature=0.8, top_k=20, generator=gen)
        gen_s = time.perf_counter() - t0
        samples = ["=== ours (temperature 0.8, top-k 20) ===", vocab.decode(out[0, 1:].cpu())]
        torch.set_num_threads(cfg.threads)
        base = None
        if cfg.baseline and ctx.dist.is_main:
            base = baseline_nanogpt_loop(loop.wall_time_s, seed=ctx.seed, eval_n=cfg.eval_windows)
        distributed.barrier()
    finally:
        torch.set_num_threads(previous)
    if ctx.dist.is_main:
        ctx.path(runfolder.SAMPLES).write_text("\n".join(samples) + "\n", encoding="utf-8")
    tokens = loop.step * cfg.engine.batch_size * cfg.block_size
    metrics: dict[str, Any] = {
        "val_loss": val_loss,
        "train_wall_time_s": loop.wall_time_s,
        "time_budget_s": cfg.engine.time_budget_s,
        "steps": loop.step,
        "tokens_seen": tokens,
        "tokens_per_s": tokens / max(loop.wall_time_s, 1e-9),
        "parameters": model.num_parameters(),
        "generation_chars_per_s": cfg.sample_chars / gen_s,
        "threads": cfg.threads,
        "nanogpt_published_val_loss": NANOGPT_CPU["val_loss"],
    }
    curves = {"ours": task.curve}
    if base is not None:
        metrics.update(
            baseline_val_loss=base["val_loss"], baseline_val_loss_2000_iters=base[
                "val_loss_2000_iters"], baseline_steps=base["steps"],
            baseline_wall_time_s=base["wall_s"],
        )  # fmt: skip
        curves["nanoGPT CPU config, plain loop"] = base["curve"]
    plots = [_plot(ctx.path("gpt_shakespeare_val_loss.png"), curves)] if ctx.dist.is_main else []
    return Result(metrics=metrics, model=model, plots=plots)
