"""Experiment ``transformer-xl-text``: does Transformer-XL's memory help on long text?

Two character-level language models on Tiny Shakespeare with the same architecture, the
same parameters at initialisation, the same data order and the same segment length
``seg_len``: a :class:`~replearn.transformer.transformer_xl.TransformerXL` that carries a
memory of ``mem_len`` positions per layer across segments (Dai et al. 2019,
arXiv:1901.02860, Sec. 3.2), and the *vanilla* segment-level model, the same network with
``mem_len = 0``, which sees each segment alone (Al-Rfou et al. 2018's setting; the
relative position encoding is kept, so only the recurrence differs, as in the paper's
ablation, Table 6).

Data as in the paper's ordered LM iterator: the train split is cut into ``batch_size``
contiguous streams and each step reads the next ``seg_len`` characters of every stream, so
the memory of a stream holds the text just before its segment. Training: AdamW, linear
warm-up then cosine decay, gradient clipping; memory detached (stop-gradient).

Evaluation on the first ``eval_chars`` characters of the validation split, cut into
``batch_size`` streams read segment by segment: ``val_loss_vanilla`` (nats/char, no
memory), ``val_loss_xl`` (memory ``mem_len``, as trained) and ``val_loss_xl_long_memory``
(memory ``eval_mem_len`` > ``mem_len``, the paper's evaluation with a longer memory).
``val_loss_by_position`` curves (loss at each position of a segment) show where the memory
helps: the vanilla model's first characters of a segment have no context.

Both models are trained for ``seeds`` training seeds (3 by default: initial parameters per
seed, shared by the two models; the text streams are fixed). Claims: the memory lowers the
validation loss at equal segment length; a memory longer than in training lowers it
further. Each is judged over the seeds by :func:`replearn.experiments.stats.compare_seeds`
(paired by seed; the one-sided 95% Student-t lower bound of the mean loss reduction must be
above zero), so the seed-to-seed spread of training enters the verdict, not a bare
``gain > 0``. To keep the default cost sane, each seed trains 400 steps per model (800 with
one seed before): three seeds cost 1.5x the old run. Writes ``xl_loss_by_position.png`` and
``xl_curves.png`` (first seed).

replearn run transformer-xl-text                  # ~4-5 min of CPU time (one thread)
replearn run transformer-xl-text --preset quick   # about a minute
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import Tensor

from replearn.data.text import TinyShakespeare
from replearn.engine import EngineConfig, RunContext, Task, fit
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import count_params
from replearn.experiments.stats import MIN_SEEDS, SeedComparison, compare_seeds
from replearn.report.plots import DPI, save_figure
from replearn.transformer.transformer_xl import TransformerXL


@dataclass(frozen=True)
class Config:
    """Settings of ``transformer-xl-text``.

    Attributes:
        seg_len: characters per training and evaluation segment (both models).
        mem_len: memory per layer of Transformer-XL during training.
        eval_mem_len: the longer memory of the second evaluation.
        d_model: model width.
        n_layer: layers.
        n_head: attention heads.
        d_inner: feed-forward width.
        dropout: dropout rate.
        batch_size: parallel streams of text.
        steps: training steps of each model.
        lr: peak AdamW learning rate (cosine decay to lr / 10).
        warmup_steps: linear warm-up steps.
        weight_decay: AdamW weight decay.
        grad_clip: gradient-norm clipping.
        eval_chars: validation characters evaluated (from the start of the split).
        log_every: steps between logged training losses.
        threads: torch intra-op threads (1: the matrices are small, a second thread mostly
            adds synchronisation, and much of it on a busy machine).
        seeds: training seeds (``seed, seed + 1, ...``; >= 3).
    """

    seg_len: int = 32
    mem_len: int = 32
    eval_mem_len: int = 128
    d_model: int = 128
    n_layer: int = 3
    n_head: int = 4
    d_inner: int = 256
    dropout: float = 0.1
    batch_size: int = 16
    steps: int = 400
    lr: float = 2e-3
    warmup_steps: int = 50
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    eval_chars: int = 32768
    log_every: int = 50
    threads: int = 1
    seeds: int = 3

    def __post_init__(self) -> None:
        if self.seeds < MIN_SEEDS:
            raise ValueError(f"seeds must be >= {MIN_SEEDS} (the claims), got {self.seeds}")
        if min(self.seg_len, self.mem_len, self.batch_size, self.steps, self.threads) < 1:
            raise ValueError("seg_len, mem_len, batch_size, steps and threads must be >= 1")
        if self.eval_mem_len <= self.mem_len:
            raise ValueError(f"eval_mem_len must exceed mem_len, got {self.eval_mem_len}")
        if self.eval_chars < self.batch_size * (self.seg_len + 1):
            raise ValueError("eval_chars must hold one segment per stream")


def tiny() -> Config:
    """Seconds: a tiny model, a few steps per seed, a short evaluation."""
    return Config(
        seg_len=8, mem_len=8, eval_mem_len=16, d_model=16, n_layer=1, n_head=2, d_inner=32,
        batch_size=4, steps=2, eval_chars=256, log_every=2, threads=1,
    )  # fmt: skip


def quick() -> Config:
    """Seconds: 8 steps per model and seed, a 1,024-character evaluation (a smoke check; 20 steps
    and 2,048 characters took 11 CPU s)."""
    return Config(steps=8, warmup_steps=2, eval_chars=1024, log_every=4)


def streams(data: Tensor, batch_size: int) -> Tensor:
    """Cut a token sequence into ``batch_size`` contiguous streams. Shape: (N,) -> (B, N // B)."""
    n = data.numel() // batch_size
    return data[: n * batch_size].view(batch_size, n)


class SegmentTask(Task):
    """Next-character loss on consecutive segments of the streams, the memory carried.

    Draws its own data (``fit(task, opt, None, ...)``): update ``i`` reads segment
    ``i mod (segments per pass)`` of every stream, and the memory goes back to empty at the
    start of the text. The cursor and the memory are checkpointed (``get_extra_state``), so
    a resumed run continues exactly; under torchrun each rank reads its share of the streams.
    """

    def __init__(self, model: TransformerXL, streams: Tensor, seg_len: int) -> None:
        super().__init__()
        self.model, self.streams, self.seg_len = model, streams, seg_len  # streams (B, N)
        self.per_pass = (streams.shape[1] - 1) // seg_len
        self.cursor = 0
        self.memory: list[Tensor] | None = None

    def _rows(self) -> Tensor:
        if not torch.distributed.is_initialized():
            return self.streams
        world, rank = torch.distributed.get_world_size(), torch.distributed.get_rank()
        per = self.streams.shape[0] // world
        return self.streams[rank * per : (rank + 1) * per]

    def training_step(self, batch: Any = None) -> tuple[Tensor, dict[str, Tensor]]:
        t = self.cursor * self.seg_len
        if t == 0:
            self.memory = None  # back at the start of the text
        s = self._rows().to(next(self.model.parameters()).device)
        x, y = s[:, t : t + self.seg_len], s[:, t + 1 : t + 1 + self.seg_len]
        logits, memory = self.model(x, self.memory, return_memory=True)
        self.memory = [m.detach() for m in memory] if memory is not None else None
        self.cursor = (self.cursor + 1) % self.per_pass
        return F.cross_entropy(logits.flatten(0, 1).float(), y.flatten()), {}

    def get_extra_state(self) -> dict[str, Any]:
        mem = [] if self.memory is None else [m.cpu() for m in self.memory]
        return {"cursor": self.cursor, "has_memory": self.memory is not None, "memory": mem}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        dev = next(self.model.parameters()).device
        self.cursor = int(state["cursor"])
        self.memory = [m.to(dev) for m in state["memory"]] if state["has_memory"] else None


def train(model: TransformerXL, data: Tensor, cfg: Config, ctx: RunContext, name: str) -> list:
    """``cfg.steps`` updates through the engine (child run ``name``): linear warm-up, then a
    cosine from ``lr`` to ``lr / 10``, clipping ``grad_clip``; the (step, loss) curve."""
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    engine = EngineConfig(
        max_steps=cfg.steps, batch_size=cfg.batch_size, log_every=cfg.log_every,
        checkpoint_every=0, grad_clip_norm=cfg.grad_clip, lr_schedule="warmup-cosine",
        warmup_steps=cfg.warmup_steps, min_lr_ratio=0.1, progress=False,
    )  # fmt: skip
    task = SegmentTask(model, streams(data, cfg.batch_size), cfg.seg_len)
    with ctx.child(name) as sub:
        loop = fit(task, opt, None, cfg=engine, ctx=sub)
    return [(r["step"], r["train_loss"]) for r in loop.history if "train_loss" in r]


@torch.no_grad()
def evaluate(model: TransformerXL, data: Tensor, cfg: Config, mem_len: int) -> tuple[float, Tensor]:
    """Mean loss (nats/char) over the streams read segment by segment, and loss by position.

    Shape:
        -> float, (seg_len,) mean loss at each position of a segment.
    """
    model.eval()
    s = streams(data, cfg.batch_size)  # (B, N)
    memory, total = None, torch.zeros(cfg.seg_len, dtype=torch.float64)
    n_seg = (s.shape[1] - 1) // cfg.seg_len
    for i in range(n_seg):
        t = i * cfg.seg_len
        x, y = s[:, t : t + cfg.seg_len], s[:, t + 1 : t + 1 + cfg.seg_len]
        logits, memory = model(x, memory, mem_len=mem_len, return_memory=True)
        nll = F.cross_entropy(logits.transpose(1, 2), y, reduction="none")  # (B, L)
        total += nll.double().mean(dim=0)
    by_position = total / n_seg
    return float(by_position.mean()), by_position


def _memory(m: dict[str, Any]) -> SeedComparison:
    return compare_seeds(
        m["val_loss_xl_seeds"],
        m["val_loss_vanilla_seeds"],
        higher_is_better=False,
        label_x="vanilla",
        label_y="Transformer-XL (nats/char)",
    )


def _long(m: dict[str, Any]) -> SeedComparison:
    return compare_seeds(
        m["val_loss_xl_long_memory_seeds"],
        m["val_loss_xl_seeds"],
        higher_is_better=False,
        label_x=f"memory {m['mem_len']}",
        label_y=f"memory {m['eval_mem_len']} (nats/char)",
    )


def _verdict_memory(m: dict[str, Any]) -> tuple[bool, str]:
    c = _memory(m)
    return c.holds, (
        f"val loss (nats/char, {m['eval_chars']} chars, means over seeds) Transformer-XL "
        f"{m['val_loss_xl']:.4f} (memory {m['mem_len']}) vs vanilla {m['val_loss_vanilla']:.4f}; "
        f"first position of a segment {m['val_loss_xl_first_position']:.3f} vs "
        f"{m['val_loss_vanilla_first_position']:.3f}; {c.evidence()}"
    )


def _verdict_long(m: dict[str, Any]) -> tuple[bool, str]:
    c = _long(m)
    return c.holds, (
        f"Transformer-XL val loss with memory {m['eval_mem_len']} at evaluation "
        f"{m['val_loss_xl_long_memory']:.4f} vs {m['val_loss_xl']:.4f} with the training "
        f"memory {m['mem_len']} (means over seeds); {c.evidence()}"
    )


CLAIMS = (
    Claim(
        "memory-lowers-val-loss",
        "At equal segment length, Transformer-XL's segment-level recurrence (a memory of the "
        "previous segment's hidden states) lowers the validation loss on long text compared "
        "with a vanilla model that reads each segment alone (mean paired reduction over training "
        "seeds, one-sided 95% lower bound > 0).",
        _verdict_memory,
        "xl_loss_by_position.png",
    ),
    Claim(
        "longer-memory-at-evaluation-helps",
        "Transformer-XL generalises to a memory longer than in training: evaluating with a "
        "longer memory lowers the validation loss further (mean paired reduction over training "
        "seeds, one-sided 95% lower bound > 0).",
        _verdict_long,
        "xl_loss_by_position.png",
    ),
)


def _plot_positions(path: Any, curves: dict[str, Tensor]) -> Any:
    fig, ax = plt.subplots(figsize=(6.0, 4.0), dpi=DPI)
    for label, c in curves.items():
        ax.plot(range(len(c)), c.numpy(), marker=".", label=label)
    ax.set_xlabel("position in the segment")
    ax.set_ylabel("validation loss (nats/char)")
    ax.set_title("loss by position: the memory gives early positions context")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


def _plot_curves(path: Any, curves: dict[str, list]) -> Any:
    fig, ax = plt.subplots(figsize=(6.0, 4.0), dpi=DPI)
    for label, c in curves.items():
        ax.plot([s for s, _ in c], [v for _, v in c], label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (nats/char)")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


@experiment(
    "transformer-xl-text",
    topic="transformer",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Dai et al. 2019, arXiv:1901.02860",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Transformer-XL vs a vanilla segment-level model on Tiny Shakespeare characters."""
    previous = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        train_data = TinyShakespeare("train", block_size=cfg.seg_len).data
        val_data = TinyShakespeare("val", block_size=cfg.seg_len).data[: cfg.eval_chars]
        vocab = int(max(train_data.max(), val_data.max())) + 1
        per_seed: dict[str, list[float]] = {}
        for seed in range(ctx.seed, ctx.seed + cfg.seeds):
            with ctx.child(f"seed{seed}", seed=seed) as run:
                one = _one_seed(cfg, run, train_data, val_data, vocab)
            for key, value in one.items():
                if isinstance(value, int | float):
                    per_seed.setdefault(key, []).append(value)
            if seed == ctx.seed:
                first = one
    finally:
        torch.set_num_threads(previous)
    metrics: dict[str, Any] = {f"{k}_seeds": v for k, v in per_seed.items()}
    metrics.update({k: sum(v) / len(v) for k, v in per_seed.items()})
    metrics.update(
        seeds=list(range(ctx.seed, ctx.seed + cfg.seeds)),
        seg_len=cfg.seg_len,
        mem_len=cfg.mem_len,
        eval_mem_len=cfg.eval_mem_len,
        eval_chars=int(val_data.numel()),
        parameters=count_params(first["model"]),
    )
    metrics["memory_comparison"] = _memory(metrics).as_dict()
    metrics["long_memory_comparison"] = _long(metrics).as_dict()
    pos_v, pos_x, pos_l = first["pos_vanilla"], first["pos_xl"], first["pos_long"]
    curves = first["curves"]
    plots = [
        _plot_positions(
            ctx.path("xl_loss_by_position.png"),
            {
                "vanilla (no memory)": pos_v,
                f"Transformer-XL, memory {cfg.mem_len}": pos_x,
                f"Transformer-XL, memory {cfg.eval_mem_len}": pos_l,
            },
        ),
        _plot_curves(
            ctx.path("xl_curves.png"),
            {"Transformer-XL": curves["xl"], "vanilla": curves["vanilla"]},
        ),
    ]
    return Result(metrics=metrics, model=first["model"], plots=plots)


def _one_seed(
    cfg: Config, ctx: RunContext, train_data: Tensor, val_data: Tensor, vocab: int
) -> dict[str, Any]:
    """Both models from ``ctx.seed``'s initial parameters; losses, curves and the XL model."""
    models, curves, times = {}, {}, {}
    for name, mem_len in (("xl", cfg.mem_len), ("vanilla", 0)):
        torch.manual_seed(ctx.seed)  # the same initial parameters for both
        model = TransformerXL(
            vocab_size=vocab, d_model=cfg.d_model, n_layer=cfg.n_layer, n_head=cfg.n_head,
            d_inner=cfg.d_inner, mem_len=mem_len, dropout=cfg.dropout,
        )  # fmt: skip
        t0 = time.perf_counter()
        curves[name] = train(model, train_data, cfg, ctx, name)
        times[name] = time.perf_counter() - t0
        models[name] = model.cpu()
    loss_v, pos_v = evaluate(models["vanilla"], val_data, cfg, 0)
    loss_x, pos_x = evaluate(models["xl"], val_data, cfg, cfg.mem_len)
    loss_l, pos_l = evaluate(models["xl"], val_data, cfg, cfg.eval_mem_len)
    return {
        "val_loss_vanilla": loss_v,
        "val_loss_xl": loss_x,
        "val_loss_xl_long_memory": loss_l,
        "val_loss_vanilla_first_position": float(pos_v[0]),
        "val_loss_xl_first_position": float(pos_x[0]),
        "val_loss_vanilla_last_position": float(pos_v[-1]),
        "val_loss_xl_last_position": float(pos_x[-1]),
        "memory_gain_nats": loss_v - loss_x,
        "train_time_xl_s": round(times["xl"], 3),
        "train_time_vanilla_s": round(times["vanilla"], 3),
        "pos_vanilla": pos_v,
        "pos_xl": pos_x,
        "pos_long": pos_l,
        "curves": curves,
        "model": models["xl"],
    }
