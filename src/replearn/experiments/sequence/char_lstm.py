"""Experiment ``char-lstm``: a character-level LSTM language model on Tiny Shakespeare.

The char-rnn setting (Karpathy 2015; Graves 2013, arXiv:1308.0850): an embedding, an
LSTM (Hochreiter & Schmidhuber 1997) and a linear read-out give ``p(x_{t+1} | x_{<=t})``
over the 65 characters of :class:`~replearn.data.text.TinyShakespeare`. The train split
(first 90%) is cut into ``batch_size`` contiguous columns read in parallel and trained
with truncated BPTT (:class:`~replearn.engine.bptt.TruncatedBPTTTask`, ``k1 = k2 =
bptt``): the state is carried across updates and the gradient is cut every ``bptt``
characters, so the model can use context longer than one window. ``val_loss_nats`` is
the mean next-character cross-entropy over the val split read the same way (state
carried, no gradient).

The sanity check: the model must beat the best context-free model, the unigram
distribution of the train split, whose cross-entropy on the val split is
``unigram_val_nats`` (about 3.3 nats/char), judged over ``seeds`` training seeds
(``seed, seed + 1, ...``: initial weights; the stream is the same), one sub-run
``seed<s>/`` each. After training, ``sample_chars`` characters are sampled at
``temperature`` from the prime ``prime`` by the first seed's model and written to
``samples.txt``. Needs ``tinyshakespeare/input.txt`` in ``$REPLEARN_DATA``.

replearn run char-lstm                      # 3 seeds: 121 s CPU, 5 min wall (one thread, load ~6)
replearn run char-lstm --preset quick       # 3 seeds of 40 updates
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
from torch import Tensor

from replearn import runfolder
from replearn.data.text import TinyShakespeare
from replearn.engine import EngineConfig, RunContext, fit
from replearn.engine.bptt import TruncatedBPTTTask, language_model_streams
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import count_params, engine_config
from replearn.experiments.sequence.rnn_common import SequenceModel, single_thread
from replearn.experiments.stats import compare_seeds, too_few_seeds
from replearn.report.plots import line_plot
from replearn.transformer.decoding import sample_next

_engine = partial(engine_config, batch_size=1, log_every=50, grad_clip_norm=1.0)


@dataclass(frozen=True)
class Config:
    """Settings of the character LSTM.

    Attributes:
        embed_size: character embedding width.
        hidden_size: LSTM state size.
        num_layers: stacked LSTM layers.
        batch_size: parallel columns of the stream.
        bptt: truncation window (characters per update, k1 = k2).
        lr: Adam learning rate.
        val_chars: characters of the val split scored (None: all 111,540).
        sample_chars: characters sampled after training.
        temperature: sampling temperature (0: greedy).
        prime: text the samples start from.
        seeds: training seeds (each trains its own LSTM; the claim needs >= 3).
        engine: training-loop settings (one step = one TBPTT update; clipping at 1).
    """

    embed_size: int = 32
    hidden_size: int = 128
    num_layers: int = 1
    batch_size: int = 32
    bptt: int = 64
    lr: float = 3e-3
    val_chars: int | None = None
    sample_chars: int = 600
    temperature: float = 0.8
    prime: str = "ROMEO:\n"
    seeds: int = 3
    engine: EngineConfig = field(default_factory=lambda: _engine(1500, eval_every=500))

    def __post_init__(self) -> None:
        if self.bptt < 1 or self.batch_size < 1:
            raise ValueError("bptt and batch_size must be >= 1")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0: greedy), got {self.temperature}")
        if not self.prime:
            raise ValueError("prime must hold at least one character")
        if self.seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {self.seeds}")


def tiny() -> Config:
    """Seconds: a small LSTM, a few updates, 4,000 val characters, one seed."""
    return Config(
        embed_size=16,
        hidden_size=32,
        bptt=16,
        val_chars=4000,
        sample_chars=80,
        seeds=1,
        engine=_engine(10),
    )


def quick() -> Config:
    """Seconds: 3 seeds of 40 updates, 4,000 val characters, a short sample (a smoke check)."""
    return Config(val_chars=4000, sample_chars=200, engine=_engine(40))


def unigram_cross_entropy(train: Tensor, val: Tensor, vocab_size: int) -> float:
    r"""Cross-entropy (nats) on ``val`` of the train split's character frequencies.

    .. math:: H = -\frac{1}{|val|} \sum_{t} \log \hat p(x_t), \quad
        \hat p(v) = \frac{n_v + 1}{N + V} \ \text{(add-one smoothed)}

    Shape:
        train (N,), val (M,) int64 -> float.
    """
    counts = torch.bincount(train, minlength=vocab_size).double() + 1.0
    log_p = (counts / counts.sum()).log()
    return float(-log_p[val].mean())


@torch.no_grad()
def generate(
    model: SequenceModel,
    prime: Tensor,
    n: int,
    *,
    temperature: float,
    generator: torch.Generator,
) -> Tensor:
    """Sample ``n`` characters after ``prime``, carrying the LSTM state one step at a time.

    Shape:
        prime (P,) int64 -> (n,) int64.
    """
    was_training = model.training
    model.eval()
    logits, state = model(prime[:, None])  # (P, 1, V): time-major, one column
    out = []
    for _ in range(n):
        nxt = sample_next(logits[-1], temperature=temperature, generator=generator)  # (1,)
        out.append(nxt)
        logits, state = model(nxt[None], state)  # (1, 1, V)
    model.train(was_training)
    return torch.cat(out)


def beats_unigram_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    """Claim ``char-lstm-beats-unigram``: below the unigram on every seed and by compare_seeds.

    ``val_loss_nats_per_seed`` holds one val loss per training seed; the unigram baseline
    has no training noise, so the paired comparison is against the same number on every seed
    (a one-sample Student-t bound of the mean gap over seeds).
    """
    losses, uni = m["val_loss_nats_per_seed"], m["unigram_val_nats"]
    n = len(losses)
    below = sum(v < uni for v in losses)
    head = (
        f"val loss per seed {', '.join(f'{v:.3f}' for v in losses)} nats/char vs "
        f"{uni:.3f} for the train unigram distribution and {m['uniform_nats']:.3f} for a "
        f"uniform guess, after {m['train_steps']} updates ({m['train_chars']:,} characters) "
        f"each; below the unigram on {below}/{n} seeds"
    )
    if (why := too_few_seeds(n)) is not None:
        return False, f"{why}; {head}"
    c = compare_seeds(
        losses, [uni] * n, higher_is_better=False, label_x="LSTM", label_y="unigram",
    )  # fmt: skip
    return below == n and c.holds, (
        f"{head}; {c.evidence()} nats/char (holds if below on every seed and the bound > 0)"
    )


CLAIMS = (
    Claim(
        "char-lstm-beats-unigram",
        "A character LSTM trained with truncated BPTT predicts held-out Shakespeare better "
        "than the unigram character distribution: over >= 3 training seeds, the val loss is "
        "below the unigram cross-entropy on every seed, and the gap (unigram - LSTM) has a "
        "one-sided 95% Student-t lower bound above 0 (the unigram has no training noise).",
        beats_unigram_verdict,
        "char_lstm_val_loss.png",
    ),
)


def train_seed(
    cfg: Config,
    x: Tensor,
    y: Tensor,
    vx: Tensor,
    vy: Tensor,
    vocab_size: int,
    *,
    seed: int,
    ctx: RunContext,
) -> dict[str, Any]:
    """Train one LSTM from seed ``seed`` in the sub-run ``seed<seed>/``; its val loss (nats).

    Shape:
        x, y (T, B) and vx, vy (T', B) int64: the train and val streams.
    """
    torch.manual_seed(seed)
    model = SequenceModel(
        "lstm",
        input_size=cfg.embed_size,
        hidden_size=cfg.hidden_size,
        output_size=vocab_size,
        vocab_size=vocab_size,
        num_layers=cfg.num_layers,
        batch_first=False,
    ).to(ctx.device)
    task = TruncatedBPTTTask(model, x, y, k1=cfg.bptt, val_inputs=vx, val_targets=vy)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    with single_thread(), ctx.child(f"seed{seed}", seed=seed) as sub:
        loop = fit(task, opt, None, cfg=cfg.engine, ctx=sub)
        model = model.cpu()
        val_loss = float(task.cpu().validation_step()["loss"])
    return {"model": model, "loop": loop, "val_loss": val_loss}


@experiment(
    "char-lstm",
    topic="sequence",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Hochreiter & Schmidhuber 1997; Graves 2013, arXiv:1308.0850; Karpathy 2015 (char-rnn)",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Character LSTM language model on Tiny Shakespeare, trained with truncated BPTT."""
    train_data = TinyShakespeare("train", block_size=cfg.bptt)
    vocab = train_data.vocab
    val_data = TinyShakespeare("val", block_size=cfg.bptt).data
    if cfg.val_chars is not None:
        val_data = val_data[: cfg.val_chars + 1]
    x, y = language_model_streams(train_data.data, cfg.batch_size)  # (T, B)
    vx, vy = language_model_streams(val_data, cfg.batch_size)
    seeds = [ctx.seed + i for i in range(cfg.seeds)]
    runs = [train_seed(cfg, x, y, vx, vy, len(vocab), seed=s, ctx=ctx) for s in seeds]
    model, loop = runs[0]["model"], runs[0]["loop"]
    with single_thread():
        gen = torch.Generator().manual_seed(ctx.seed)
        prime = torch.tensor(vocab.encode(cfg.prime))
        ids = generate(model, prime, cfg.sample_chars, temperature=cfg.temperature, generator=gen)
    text = cfg.prime + vocab.decode(ids)
    ctx.path(runfolder.SAMPLES).write_text(text, encoding="utf-8")
    losses = [r["val_loss"] for r in runs]
    metrics: dict[str, Any] = {
        "seeds": seeds,
        "val_loss_nats_per_seed": losses,
        "val_loss_nats": sum(losses) / len(losses),  # mean over seeds
        "val_bits_per_char": sum(losses) / len(losses) / math.log(2),
        "unigram_val_nats": unigram_cross_entropy(train_data.data, val_data[1:], len(vocab)),
        "uniform_nats": math.log(len(vocab)),
        "val_chars": len(val_data) - 1,
        "train_steps": loop.step,
        "train_chars": loop.step * cfg.bptt * cfg.batch_size,
        "train_time_s": round(sum(r["loop"].wall_time_s for r in runs), 3),  # all seeds
        "parameters": count_params(model),
    }
    curves = {}
    for s, r in zip(seeds, runs, strict=True):
        rows = [row for row in r["loop"].history if "val_loss" in row]
        curves[f"seed {s}"] = ([row["step"] for row in rows], [row["val_loss"] for row in rows])
    plots = []
    steps = next(iter(curves.values()))[0]
    if steps:
        plots.append(
            line_plot(
                steps,
                {label: ys for label, (_, ys) in curves.items()},
                ctx.path("char_lstm_val_loss.png"),
                xlabel="update",
                ylabel="nats per character",
                title="char LSTM on Tiny Shakespeare (val split, state carried)",
            )
        )
    return Result(metrics=metrics, model=model, plots=plots)
