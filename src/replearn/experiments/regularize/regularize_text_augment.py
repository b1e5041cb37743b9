"""Experiment ``regularize-text-augment``: can text be augmented? Word dropout, synonym
replacement and random swap on SST-2, measured.

A common claim says data augmentation is for images: text has no label-preserving
transformations. EDA (Wei & Zou 2019, arXiv:1901.11196) reports gains on small training
sets from synonym replacement, random swap and random deletion; word dropout (Iyyer et al.
2015) is random deletion applied at every epoch. Measured here: a word-level CNN
classifier (Kim 2014: embeddings, width-3 convolution, max over time, linear) is trained
from scratch on ``n_train`` SST-2 training phrases, from the same initial weights and data
order, without augmentation and with each augmentation of
:mod:`replearn.regularize.text_augment` applied to every training batch (word dropout
p = 0.1, synonym replacement p = 0.5 of the words with synonyms in the embedded table,
one random swap per sentence; chosen before any run). Scored on the 872 dev sentences
(the test split's labels are not public), over seeds
(:func:`replearn.experiments.stats.compare_seeds`).

``data=toy`` (the tiny preset; no file) generates sentences such as "the film was not very
good" (label: the adjective's polarity, flipped by "not").

replearn run regularize-text-augment                  # needs $REPLEARN_DATA/sst2
replearn run regularize-text-augment --preset tiny    # generated sentences
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Literal

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from replearn.data.text import SST2, WordVocab
from replearn.engine import EngineConfig, RunContext, Task
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import seeded, subset, train_variant
from replearn.experiments.stats import compare_seeds
from replearn.regularize.text_augment import (
    random_swap,
    synonym_replace,
    synonym_table,
    word_dropout,
)
from replearn.report.plots import DPI, save_figure

AUGMENTATIONS = ("word-dropout", "synonym", "swap")


@dataclass(frozen=True)
class Config:
    """Config of ``regularize-text-augment``.

    Attributes:
        data: ``sst2`` (files in $REPLEARN_DATA/sst2) or ``toy`` (generated).
        n_train: training phrases (a seeded subset per seed).
        max_tokens: sentences are cut to this many tokens.
        dim: embedding and convolution width.
        dropout_p: word-dropout probability.
        synonym_p: replacement probability of a word that has synonyms.
        swaps: random swaps per sentence.
        seeds: training seeds (>= 3).
        lr: Adam learning rate.
        engine: training-loop settings (shared by every variant and seed).
    """

    data: Literal["sst2", "toy"] = "sst2"
    n_train: int = 2000
    max_tokens: int = 50
    dim: int = 64
    dropout_p: float = 0.1
    synonym_p: float = 0.5
    swaps: int = 1
    seeds: tuple[int, ...] = (0, 1, 2)
    lr: float = 1e-3
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=600, batch_size=64, log_every=100, checkpoint_every=0, progress=False
        )
    )

    def __post_init__(self) -> None:
        if len(self.seeds) < 3:
            raise ValueError(f"need >= 3 seeds, got {self.seeds}")


def tiny() -> Config:
    """Seconds: generated sentences, 3 seeds of 10 steps."""
    return Config(data="toy", n_train=200, dim=8,
                  engine=EngineConfig(max_steps=10, batch_size=32, log_every=5,
                                      checkpoint_every=0))  # fmt: skip


def quick() -> Config:
    """Seconds: SST-2, 300 training sentences, 3 seeds of 12 steps (a smoke check; 500 sentences
    and 30 steps took 12 CPU s)."""
    return Config(n_train=300, engine=EngineConfig(max_steps=12, batch_size=64, log_every=4,
                                                   checkpoint_every=0))  # fmt: skip


def toy_sentences(n: int, seed: int) -> tuple[list[str], list[int]]:
    """``the <noun> was [not] [very] <adjective>``; label = polarity, flipped by ``not``."""
    rng = random.Random(seed)
    pos, neg = (
        ["good", "great", "funny", "smart", "fun"],
        ["bad", "boring", "dull", "weak", "awful"],
    )
    sentences, labels = [], []
    for _ in range(n):
        label = rng.random() < 0.5
        negate = rng.random() < 0.3
        adj = rng.choice(pos if label != negate else neg)
        words = ["the", rng.choice(["movie", "film", "story", "plot"]), "was"]
        words += (["not"] if negate else []) + (["very"] if rng.random() < 0.5 else []) + [adj]
        sentences.append(" ".join(words))
        labels.append(int(label))
    return sentences, labels


def encode(sentences: list[str], labels: list[int], vocab: WordVocab, t: int) -> TensorDataset:
    """Padded ids (N, T), lengths (N,), labels (N,)."""
    ids = torch.zeros(len(sentences), t, dtype=torch.int64)
    lengths = torch.zeros(len(sentences), dtype=torch.int64)
    for i, s in enumerate(sentences):
        row = vocab.encode(s)[:t] or [WordVocab.UNK_ID]
        ids[i, : len(row)], lengths[i] = torch.tensor(row), len(row)
    return TensorDataset(ids, lengths, torch.tensor(labels, dtype=torch.int64))


class TextCNN(nn.Module):
    """Embedding, width-3 convolution, ReLU, max over real positions, linear (Kim 2014)."""

    def __init__(self, vocab_size: int, dim: int, num_classes: int = 2) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.conv = nn.Conv1d(dim, dim, 3, padding=1)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        h = F.relu(self.conv(self.embed(ids).transpose(1, 2)))  # (B, D, T)
        mask = torch.arange(ids.shape[1], device=ids.device)[None] < lengths[:, None]  # (B, T)
        h = h.masked_fill(~mask[:, None], float("-inf")).amax(dim=2)  # (B, D)
        return self.head(h)


class AugmentedTextTask(Task):
    """Cross-entropy on ``(ids, lengths, labels)`` with the augmentation applied in training."""

    def __init__(self, model: TextCNN, augment: str, cfg: Config, table: Tensor) -> None:
        super().__init__()
        self.model, self.augment, self.cfg = model, augment, cfg
        self.register_buffer("table", table, persistent=False)

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        ids, lengths, y = batch
        if self.augment == "word-dropout":
            ids, lengths = word_dropout(ids, lengths, self.cfg.dropout_p)
        elif self.augment == "synonym":
            ids = synonym_replace(ids, self.table, self.cfg.synonym_p)
        elif self.augment == "swap":
            ids = random_swap(ids, lengths, self.cfg.swaps)
        logits = self.model(ids, lengths)
        return F.cross_entropy(logits, y), {"accuracy": (logits.argmax(-1) == y).float().mean()}


def _verdict(m: dict[str, Any], *, aug: str) -> tuple[bool, str]:
    acc = m["dev_accuracy"]
    return m["comparisons"][aug]["holds"], (
        f"{m['data']} dev accuracy, {m['n_train']} training phrases: {aug} "
        f"{sum(acc[aug]) / len(acc[aug]):.4f} vs none {sum(acc['none']) / len(acc['none']):.4f} "
        f"(synonym table covers {m['synonym_coverage']:.1%} of training tokens); "
        f"{m['evidence'][aug]}"
    )


CLAIMS = tuple(
    Claim(
        f"text-{aug}-improves",
        f"Text can be augmented: {desc} improves the dev accuracy of a word-level CNN trained "
        "from scratch on 2,000 SST-2 phrases over no augmentation (paired over >= 3 seeds, t "
        "lower bound > 0).",
        lambda m, a=aug: _verdict(m, aug=a),
        "text_augment.png",
    )
    for aug, desc in (
        ("word-dropout", "word dropout (p = 0.1)"),
        ("synonym", "synonym replacement (EDA, embedded table)"),
        ("swap", "random swap (EDA, one swap per sentence)"),
    )
)


@experiment(
    "regularize-text-augment",
    topic="regularize",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Wei & Zou 2019, arXiv:1901.11196; Iyyer et al. 2015 (ACL); Kim 2014, arXiv:1408.5882",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Train a text CNN with and without each augmentation over seeds; compare dev accuracy."""
    if cfg.data == "toy":
        train_text, dev_text = toy_sentences(4 * cfg.n_train, ctx.seed), toy_sentences(500, 99)
        vocab = WordVocab.build(train_text[0])
    else:
        train_sst, dev_sst = SST2("train"), SST2("dev")
        vocab = train_sst.vocab
        train_text = (train_sst.sentences, train_sst.labels)
        dev_text = (dev_sst.sentences, dev_sst.labels)
    pool = encode(*train_text, vocab, cfg.max_tokens)
    dev = encode(*dev_text, vocab, cfg.max_tokens)
    table = synonym_table(vocab.itos)
    acc: dict[str, list[float]] = {v: [] for v in ("none", *AUGMENTATIONS)}
    for s in cfg.seeds:
        train = subset(pool, cfg.n_train, 1000 + s)
        for aug in acc:
            model = seeded(lambda: TextCNN(len(vocab), cfg.dim), s)
            opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
            task = AugmentedTextTask(model, aug, cfg, table)
            train_variant(ctx, aug, task, opt, train, engine=cfg.engine, seed=s)
            model.eval()
            with torch.no_grad():
                device = model.head.weight.device
                pred = model(dev.tensors[0].to(device), dev.tensors[1].to(device)).argmax(-1)
            acc[aug].append(float((pred.cpu() == dev.tensors[2]).double().mean()))
            ctx.log(s, **{f"{aug}_dev_accuracy": acc[aug][-1]})
    ids, lengths = train.tensors[0], train.tensors[1]
    real = torch.arange(ids.shape[1])[None] < lengths[:, None]
    coverage = float(((table[ids][..., 0] >= 0) & real).sum() / real.sum())
    comps = {a: compare_seeds(acc[a], acc["none"], label_x=a, label_y="none", unit="points")
             for a in AUGMENTATIONS}  # fmt: skip
    metrics: dict[str, Any] = {
        "data": cfg.data, "n_train": len(train), "dev_accuracy": acc,
        "synonym_coverage": coverage,
        "comparisons": {a: c.as_dict() for a, c in comps.items()},
        "evidence": {a: c.evidence() for a, c in comps.items()},
    }  # fmt: skip
    fig, ax = plt.subplots(figsize=(6.0, 4.0), dpi=DPI)
    names = list(acc)
    for j, s in enumerate(cfg.seeds):
        ax.plot(range(len(names)), [acc[n][j] for n in names], marker="o", label=f"seed {s}")
    ax.set_xticks(range(len(names)), names)
    ax.set(ylabel="dev accuracy", title=f"{cfg.data}: text CNN, {len(train)} training phrases")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return Result(metrics=metrics, plots=[save_figure(fig, ctx.path("text_augment.png"))])
