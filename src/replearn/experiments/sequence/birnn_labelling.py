"""Experiment ``birnn-labelling``: sequence labelling whose labels depend on future inputs.

The package generates the task (:func:`labelling_data`): sequences of ``length``
tokens drawn uniformly from ``vocab`` symbols; the label at step ``t`` is

* ``window-max`` (default): the largest token in the centred window
  ``x[t-k .. t+k]`` (clipped at the ends): half of the window is in the future, so a
  left-to-right RNN can only guess from the past half;
* ``future``: the token ``x[t+k]`` (the last ``k`` steps have no label): a
  left-to-right RNN is at chance.

A :class:`~replearn.sequence.rnn.BiRNN` (LSTMs, the course's ``y_t = V_f h^f_t +
V_b h^b_t``) and a unidirectional LSTM tagger whose hidden size is chosen so that it
has as many parameters (within a few percent) are trained the same way with the
engine's ``fit`` (sub-runs ``seed<s>/bidirectional/`` and ``seed<s>/unidirectional/``), for
``seeds`` training seeds (3 by default: initial weights and batch order per seed; the data
are fixed); ``*_test_accuracy`` is the per-step labelling accuracy on held-out sequences
(mean over seeds; ``*_seeds`` per seed). The claim is judged over the seeds by
:func:`replearn.experiments.stats.compare_seeds` with its stated margin of 0.1 (the one-sided
95% Student-t lower bound of the mean paired gap must exceed 0.1).

replearn run birnn-labelling                       # ~3 min on 2 cores
replearn run birnn-labelling --set task=future
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from replearn.engine import EngineConfig, RunContext, Task, evaluate, fit
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import count_params, engine_config
from replearn.experiments.stats import MIN_SEEDS, compare_seeds
from replearn.report.plots import line_plot
from replearn.sequence.rnn.birnn import BiRNN
from replearn.sequence.rnn.layers import LSTM

IGNORE = -100


_engine = partial(engine_config, batch_size=64, log_every=25)


@dataclass(frozen=True)
class Config:
    """Settings of the bidirectional vs unidirectional labelling comparison.

    Attributes:
        task: ``window-max`` or ``future`` (see the module docstring).
        k: half-width of the window (``window-max``) or look-ahead (``future``).
        vocab: number of token symbols (and of labels).
        length: tokens per sequence.
        n_train: training sequences.
        n_val: validation sequences.
        n_test: held-out sequences for the final accuracies.
        embed_size: token embedding size (both models).
        hidden_size: state size of each direction of the BiRNN; the unidirectional
            LSTM gets the size that matches the BiRNN's parameter count.
        lr: Adam learning rate.
        engine: training-loop settings (each model).
        seeds: training seeds (``seed, seed + 1, ...``; >= 3).
    """

    task: Literal["window-max", "future"] = "window-max"
    k: int = 3
    vocab: int = 8
    length: int = 24
    n_train: int = 8000
    n_val: int = 500
    n_test: int = 2000
    embed_size: int = 16
    hidden_size: int = 32
    lr: float = 5e-3
    engine: EngineConfig = field(default_factory=lambda: _engine(800, eval_every=200))
    seeds: int = 3

    def __post_init__(self) -> None:
        if self.seeds < MIN_SEEDS:
            raise ValueError(f"seeds must be >= {MIN_SEEDS} (the claim), got {self.seeds}")
        if self.k < 1 or self.length <= 2 * self.k:
            raise ValueError(f"need k >= 1 and length > 2k, got k={self.k}, length={self.length}")
        if self.vocab < 2:
            raise ValueError(f"vocab must be >= 2, got {self.vocab}")


def tiny() -> Config:
    """Seconds: small data and networks, a few steps."""
    return Config(n_train=256, n_val=64, n_test=64, hidden_size=8, engine=_engine(3))


def quick() -> Config:
    """Seconds: 1,000 training sequences, 20 steps (a smoke check)."""
    return Config(n_train=1000, n_val=100, n_test=200, engine=_engine(20))


def labelling_data(cfg: Config, n: int, generator: torch.Generator) -> TensorDataset:
    """``n`` sequences and their labels (``-100`` where a step has none).

    Shape:
        -> TensorDataset of x (n, length) and y (n, length), int64.
    """
    x = torch.randint(0, cfg.vocab, (n, cfg.length), generator=generator)
    if cfg.task == "future":
        y = torch.full_like(x, IGNORE)
        y[:, : -cfg.k] = x[:, cfg.k :]
        return TensorDataset(x, y)
    padded = F.pad(x, (cfg.k, cfg.k), value=-1)  # (n, length + 2k); -1 never wins the max
    y = padded.unfold(1, 2 * cfg.k + 1, 1).amax(dim=-1)  # (n, length)
    return TensorDataset(x, y)


class UniTagger(nn.Module):
    """Left-to-right LSTM tagger: ``y_t = V h_t + c``. Shape: (B, T) ids -> (B, T, O)."""

    def __init__(self, *, vocab: int, embed_size: int, hidden_size: int, output_size: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed_size)
        self.rnn = LSTM(embed_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, output_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.rnn(self.embed(x))[0])


class BiTagger(nn.Module):
    """Token embedding + :class:`BiRNN`. Shape: (B, T) ids -> (B, T, O)."""

    def __init__(self, *, vocab: int, embed_size: int, hidden_size: int, output_size: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed_size)
        self.birnn = BiRNN(input_size=embed_size, hidden_size=hidden_size, output_size=output_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.birnn(self.embed(x))


def matched_unidirectional(cfg: Config, target: int) -> UniTagger:
    """The unidirectional tagger whose parameter count is closest to ``target``."""
    v, e = cfg.vocab, cfg.embed_size

    def count(h: int) -> int:  # embedding + LSTM (4 gates, two biases) + output map
        return v * e + 4 * h * (e + h + 2) + h * v + v

    h = min(range(1, 8 * cfg.hidden_size), key=lambda h: abs(count(h) - target))
    return UniTagger(vocab=v, embed_size=e, hidden_size=h, output_size=v)


class TaggingTask(Task):
    """Per-step cross-entropy of a tagger (steps labelled -100 ignored)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        x, y = batch
        logits = self.model(x)  # (B, T, V)
        loss = F.cross_entropy(logits.transpose(1, 2), y, ignore_index=IGNORE)
        real = y != IGNORE
        hits = (logits.detach().argmax(-1) == y) & real
        return loss, {"accuracy": hits.sum() / real.sum()}


def train_one(cfg: Config, ctx: RunContext, data: dict, name: str, model: nn.Module) -> dict:
    """Train one tagger in a sub-run; its test accuracy and training curve."""
    model = model.to(ctx.device)
    task = TaggingTask(model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    with ctx.child(name) as sub:
        loop = fit(task, opt, data["train"], cfg=cfg.engine, ctx=sub, val_set=data["val"])
        sub.logger.flush()
        rows = [r for r in loop.history if "train_loss" in r]
    test = evaluate(task, data["test"], device=ctx.device, prefix="test_")
    return {
        "model": model.cpu(),
        "accuracy": test["test_accuracy"],
        "loss": test["test_loss"],
        "parameters": count_params(model),
        "train_time_s": round(loop.wall_time_s, 3),
        "curve": ([r["step"] for r in rows], [r["train_loss"] for r in rows]),
    }


def _verdict(m: dict[str, Any]) -> tuple[bool, str]:
    c = compare_seeds(
        m["bidirectional_test_accuracy_seeds"],
        m["unidirectional_test_accuracy_seeds"],
        margin=0.1,
        label_x="bidirectional",
        label_y="unidirectional",
    )
    gap = m["bidirectional_test_accuracy"] - m["unidirectional_test_accuracy"]
    return c.holds, (
        f"task {m['task']} (k={m['k']}): per-step test accuracy "
        f"{m['bidirectional_test_accuracy']:.3f} bidirectional ({m['bidirectional_parameters']} "
        f"parameters) vs {m['unidirectional_test_accuracy']:.3f} unidirectional "
        f"({m['unidirectional_parameters']} parameters, hidden {m['unidirectional_hidden']}), "
        f"gap {gap:.3f} (means over seeds); chance {m['chance_accuracy']:.3f}; {c.evidence()}"
    )


CLAIMS = (
    Claim(
        "bidirectional-beats-unidirectional",
        "When the output at step t depends on inputs after t, a bidirectional RNN, whose "
        "output sees the past and the future, beats a left-to-right RNN with the same "
        "parameter budget; holds if its per-step test accuracy is higher by at least 0.1 (mean "
        "paired gap over training seeds, one-sided 95% Student-t lower bound > 0.1).",
        _verdict,
        "birnn_loss.png",
    ),
)


@experiment(
    "birnn-labelling",
    topic="sequence",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Schuster & Paliwal 1997, IEEE Trans. Signal Processing 45(11)",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Bidirectional vs unidirectional LSTM taggers (same parameter budget) on future labels."""
    gen = torch.Generator().manual_seed(ctx.seed)
    data = {s: labelling_data(cfg, n, gen) for s, n in
            (("train", cfg.n_train), ("val", cfg.n_val), ("test", cfg.n_test))}  # fmt: skip
    kw = dict(vocab=cfg.vocab, embed_size=cfg.embed_size, output_size=cfg.vocab)
    per_seed: dict[str, list[float]] = {}
    first: dict[str, dict] = {}
    for seed in range(ctx.seed, ctx.seed + cfg.seeds):
        torch.manual_seed(seed)
        bi = BiTagger(hidden_size=cfg.hidden_size, **kw)
        uni = matched_unidirectional(cfg, count_params(bi))
        with ctx.child(f"seed{seed}", seed=seed) as run, single_thread():
            runs = {
                "bidirectional": train_one(cfg, run, data, "bidirectional", bi),
                "unidirectional": train_one(cfg, run, data, "unidirectional", uni),
            }
        for name, r in runs.items():
            for key, value in (("test_accuracy", r["accuracy"]), ("test_loss", r["loss"]),
                               ("train_time_s", r["train_time_s"])):  # fmt: skip
                per_seed.setdefault(f"{name}_{key}", []).append(value)
        first = first or runs
    runs = first
    y = data["test"].tensors[1]
    counts = torch.bincount(y[y != IGNORE], minlength=cfg.vocab)
    metrics: dict[str, Any] = {
        "task": cfg.task,
        "k": cfg.k,
        "chance_accuracy": float(counts.max() / counts.sum()),  # the majority label
        "unidirectional_hidden": uni.rnn.hidden_size,
    }
    metrics |= {f"{k}_seeds": v for k, v in per_seed.items()}
    metrics |= {k: sum(v) / len(v) for k, v in per_seed.items()}
    metrics |= {f"{name}_parameters": r["parameters"] for name, r in runs.items()}
    metrics["seeds"] = list(range(ctx.seed, ctx.seed + cfg.seeds))
    plot = line_plot(
        runs["bidirectional"]["curve"][0],
        {f"{n} (acc {r['accuracy']:.2f})": r["curve"][1] for n, r in runs.items()},
        ctx.path("birnn_loss.png"),
        xlabel="step",
        ylabel="training cross-entropy (nats / step)",
        title=f"labelling '{cfg.task}' (k={cfg.k}), seed {ctx.seed}",
    )
    return Result(metrics=metrics, model=runs["bidirectional"]["model"], plots=[plot])
