"""Experiment ``roberta-sequence-length``: masked-LM pre-training on full-length sequences.

BERT (Devlin et al. 2019, arXiv:1810.04805, Sec. A.2) pre-trains 90% of its steps on
128-token sequences and only the last 10% on 512-token ones; RoBERTa (Liu et al. 2019,
arXiv:1907.11692, Sec. 4.2 and 5) trains on full-length 512-token sequences throughout and
counts this among the changes that make it better. This experiment measures that change at a
small scale, at equal tokens and equal updates: a BERT encoder is pre-trained with dynamic
masked LM (Eq. (1)-(2) of :mod:`replearn.transformer.bert.mlm`) in three ways,

* ``short``: every update on ``short_len``-token sequences (batch ``batch_long * long_len /
  short_len``, so each update sees the same number of tokens);
* ``bert-recipe``: the first ``1 - long_fraction`` of the updates as ``short``, the rest on
  ``long_len``-token sequences (BERT's 90/10 schedule; the optimizer state carries over, the
  second phase gets its own warm-up and cosine decay);
* ``full-length``: every update on ``long_len``-token sequences (RoBERTa),

with ``long_len / short_len = 4`` (512 / 128 in the papers). The text is the same in every
variant: the short sequences are the long documents cut into windows.

Data (generated, no file): documents of ``long_len`` tokens from a topic-mixture language.
Each document has a hidden topic :math:`z` (one of ``topics``); token :math:`t` is drawn from

.. math::
   p(w_t \\mid z, w_{t-1}) = \\lambda\\, \\theta_z(w_t)
   + (1-\\lambda)\\, B(w_t \\mid w_{t-1}) \\tag{1}

with topic distributions :math:`\\theta_z` and a bigram table :math:`B` (softmaxes of scaled
Gaussians, fixed by the data seed). Local context (the bigram) helps predict a masked token, and
so does the topic, which a single window of ``short_len`` tokens identifies only in part (the
Bayes topic accuracy from 32 tokens drawn from Eq. (1) with a uniform :math:`B` is ~0.81,
from 128 ~1.0 at the default settings): the long-range information that longer pre-training
sequences let a model use.

Score: masked-LM cross-entropy on ``n_eval`` held-out documents with one fixed mask (the same
masked tokens for every variant and seed), the model reading the whole ``long_len``-token
document; ``short`` is scored also on ``short_len``-token windows (the length it was trained
on), which is the fair way to use it.

Claims (paired over ``seeds``, :func:`~replearn.experiments.stats.compare_seeds`, lower loss
better):

* ``full-length-beats-bert-recipe``: ``full-length`` has a lower held-out MLM loss at
  ``long_len`` tokens than ``bert-recipe`` (RoBERTa's change, at equal tokens).
* ``longer-context-helps``: ``full-length`` at ``long_len`` tokens has a lower held-out MLM
  loss than ``short`` read in ``short_len``-token windows (longer pre-training sequences help at
  all, when each model reads text the length it was trained on).

Deviations: a generated language, not books and Wikipedia; a two-layer encoder; lengths
32 / 128 instead of 128 / 512; no downstream task (the score is the pre-training loss on held-out
long text; RoBERTa reports both).

Measured (default config, seed 0, ``replearn run roberta-sequence-length``, 106 CPU s):
held-out loss (nats; uniform ln 95 = 4.554) ``short`` 4.299 (reading 32) / 4.304 (reading
128), ``bert-recipe`` 4.327, ``full-length`` 4.302. ``full-length-beats-bert-recipe`` holds
(0.024 nats, SE 0.005), but ``bert-recipe`` is also worse than ``short``: the gap comes from
the phase switch, not from long context; ``longer-context-helps`` fails (+0.003 nats, SE
0.007): in 250 updates the encoders learn mostly the local (bigram) statistics.

replearn run roberta-sequence-length
replearn run roberta-sequence-length --preset quick
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import TensorDataset

from replearn.engine import EngineConfig, RunContext
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import engine_config, seeded, train_variant
from replearn.experiments.stats import compare_seeds
from replearn.experiments.transformer import bert_sst2 as B
from replearn.report.plots import CURVE_FIGSIZE, DPI, save_figure
from replearn.transformer.bert import BERT
from replearn.transformer.bert.mlm import mask_tokens

VARIANTS = ("short", "bert-recipe", "full-length")
SPECIAL = 5  # ids 0..4 are the special tokens of bert_sst2 ([PAD], [UNK], [CLS], [SEP], [MASK])


@dataclass(frozen=True)
class Config:
    """Settings of the sequence-length comparison.

    Attributes:
        vocab_size: token ids (``SPECIAL`` special ids included).
        topics: hidden topics of the generated language (Eq. (1)).
        topic_weight: :math:`\\lambda` of Eq. (1) (share of tokens drawn from the topic).
        sharpness: scale of the Gaussians whose softmaxes give :math:`\\theta_z` and :math:`B`.
        short_len, long_len: sequence lengths (``long_len`` a multiple of ``short_len``).
        n_train, n_eval: generated training and held-out documents (``long_len`` tokens each).
        hidden, layers, heads: encoder size (feed-forward 4 x hidden).
        dropout: hidden and attention dropout.
        lr, weight_decay: AdamW peak learning rate and weight decay (matrices only).
        steps: updates of every variant.
        batch_long: batch of ``long_len`` sequences (the short batch holds as many tokens).
        long_fraction: share of ``bert-recipe``'s updates on long sequences (BERT: 0.1).
        seeds: training seeds (>= 3): initial weights, masks and batch order.
    """

    vocab_size: int = 100
    topics: int = 16
    topic_weight: float = 0.3
    sharpness: float = 1.5
    short_len: int = 32
    long_len: int = 128
    n_train: int = 2000
    n_eval: int = 256
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    dropout: float = 0.1
    lr: float = 2e-3
    weight_decay: float = 0.01
    steps: int = 250
    batch_long: int = 8
    long_fraction: float = 0.1
    seeds: tuple[int, ...] = (0, 1, 2)

    def __post_init__(self) -> None:
        if len(self.seeds) < 3:
            raise ValueError("the verdicts need >= 3 seeds")
        if self.hidden % self.heads:
            raise ValueError("heads must divide hidden")
        if self.short_len < 2 or self.long_len % self.short_len:
            raise ValueError("long_len must be a multiple of short_len (>= 2)")
        if self.long_len == self.short_len:
            raise ValueError("long_len must be longer than short_len")
        if not 0.0 < self.long_fraction < 1.0:
            raise ValueError(f"long_fraction must be in (0, 1), got {self.long_fraction}")
        if not 0.0 <= self.topic_weight <= 1.0:
            raise ValueError(f"topic_weight must be in [0, 1], got {self.topic_weight}")
        if self.vocab_size <= SPECIAL + 1 or self.topics < 1:
            raise ValueError("vocab_size must exceed the special ids; topics must be >= 1")
        if self.steps < 2:
            raise ValueError("steps must be >= 2 (bert-recipe has two phases)")


def tiny() -> Config:
    """Seconds: a one-layer width-16 encoder, lengths 8 / 16, 4 updates per variant."""
    return Config(vocab_size=40, topics=4, short_len=8, long_len=16, n_train=64, n_eval=16,
                  hidden=16, layers=1, heads=2, steps=4, batch_long=4)  # fmt: skip


def quick() -> Config:
    """Seconds: width 32, lengths 16 / 64, 30 updates per variant (a smoke check)."""
    return Config(vocab_size=200, topics=8, short_len=16, long_len=64, n_train=400,
                  n_eval=64, hidden=32, layers=1, steps=30, batch_long=8)  # fmt: skip


def documents(cfg: Config, n: int, gen: torch.Generator, tables: tuple[Tensor, Tensor]) -> Tensor:
    """``n`` documents of ``long_len`` token ids drawn from Eq. (1).

    Shape:
        output: (n, long_len) ids in ``[SPECIAL, vocab_size)``.
    """
    theta, bigram = tables  # (K, W), (W, W)
    z = torch.randint(cfg.topics, (n,), generator=gen)
    lam = cfg.topic_weight
    out = torch.empty(n, cfg.long_len, dtype=torch.long)
    out[:, 0] = torch.multinomial(theta[z], 1, generator=gen)[:, 0]
    for t in range(1, cfg.long_len):
        p = lam * theta[z] + (1 - lam) * bigram[out[:, t - 1]]
        out[:, t] = torch.multinomial(p, 1, generator=gen)[:, 0]
    return out + SPECIAL


def make_data(cfg: Config, seed: int) -> dict[str, Tensor]:
    """Training and held-out documents, and the fixed held-out mask (inputs, labels)."""
    gen = torch.Generator().manual_seed(seed)
    words = cfg.vocab_size - SPECIAL
    theta = torch.softmax(cfg.sharpness * torch.randn(cfg.topics, words, generator=gen), 1)
    bigram = torch.softmax(cfg.sharpness * torch.randn(words, words, generator=gen), 1)
    train = documents(cfg, cfg.n_train, gen, (theta, bigram))
    held = documents(cfg, cfg.n_eval, gen, (theta, bigram))
    inputs, labels = mask_tokens(held, held >= SPECIAL, mask_id=B.MASK,
                                 vocab_size=cfg.vocab_size, generator=gen)  # fmt: skip
    return {"train": train, "eval_inputs": inputs, "eval_labels": labels}


def mlm_set(docs: Tensor, length: int) -> TensorDataset:
    """Documents cut into ``length``-token windows, in ``MLMTask``'s layout (no NSP labels)."""
    x = docs.reshape(-1, length)
    return TensorDataset(x, torch.zeros_like(x), torch.ones_like(x),
                         torch.full((len(x),), B.IGNORE_INDEX))  # fmt: skip


@torch.no_grad()
def heldout_loss(model: BERT, inputs: Tensor, labels: Tensor, length: int) -> float:
    """Mean MLM cross-entropy over the masked held-out tokens, reading ``length``-token windows.

    Shape:
        inputs, labels: (N, long_len); labels -100 where a token is not masked.
    """
    model.eval()
    dev = next(model.parameters()).device  # the engine may have moved the model
    x, y = inputs.reshape(-1, length).to(dev), labels.reshape(-1, length).to(dev)
    total, count = 0.0, 0
    for i in range(0, len(x), 256):
        h = model(x[i : i + 256], None, torch.ones_like(x[i : i + 256]))
        sel = y[i : i + 256] != B.IGNORE_INDEX
        total += float(F.cross_entropy(model.mlm(h[sel]).double(), y[i : i + 256][sel],
                                       reduction="sum"))  # fmt: skip
        count += int(sel.sum())
    model.train()
    return total / count


def _engine(steps: int, batch: int) -> EngineConfig:
    return engine_config(steps, batch, log_lines=10, lr_schedule="warmup-cosine",
                         warmup_steps=max(steps // 10, 1), grad_clip_norm=1.0,
                         progress=False)  # fmt: skip


def run_variant(
    cfg: Config, name: str, seed: int, ctx: RunContext, data: dict[str, Tensor]
) -> dict[str, float]:
    """Pre-train one variant; its held-out MLM loss at ``long_len`` (and ``short_len``) tokens."""
    model = seeded(lambda: BERT(vocab_size=cfg.vocab_size, hidden=cfg.hidden, layers=cfg.layers,
                                heads=cfg.heads, intermediate=4 * cfg.hidden,
                                max_len=cfg.long_len, dropout=cfg.dropout,
                                attn_dropout=cfg.dropout, pad_id=B.PAD,
                                nsp_head=False), seed)  # fmt: skip
    task, opt = B.MLMTask(model, cfg.vocab_size), B.adamw(model, cfg.lr, cfg.weight_decay)
    ratio = cfg.long_len // cfg.short_len
    short = mlm_set(data["train"], cfg.short_len)
    long = mlm_set(data["train"], cfg.long_len)
    n_long = {"short": 0, "full-length": cfg.steps}.get(
        name, max(1, round(cfg.long_fraction * cfg.steps))
    )
    if n_long < cfg.steps:
        train_variant(ctx, f"{name}-short", task, opt, short, seed=seed,
                      engine=_engine(cfg.steps - n_long, cfg.batch_long * ratio))  # fmt: skip
    if n_long:
        train_variant(ctx, f"{name}-long", task, opt, long, seed=seed,
                      engine=_engine(n_long, cfg.batch_long))  # fmt: skip
    out = {"long": heldout_loss(model, data["eval_inputs"], data["eval_labels"], cfg.long_len)}
    out["short"] = heldout_loss(model, data["eval_inputs"], data["eval_labels"], cfg.short_len)
    return out


def _compare(x: str, y: str, x_key: str, y_key: str) -> Any:
    def verdict(m: dict[str, Any]) -> tuple[bool, str]:
        c = compare_seeds(m[x_key], m[y_key], higher_is_better=False, label_x=x, label_y=y,
                          unit="nats")  # fmt: skip
        means = f"{x} {statistics.mean(m[x_key]):.4f}, {y} {statistics.mean(m[y_key]):.4f}"
        return c.holds, f"held-out MLM loss (nats, mean over seeds): {means}; {c.evidence()}"

    return verdict


CLAIMS = (
    Claim("full-length-beats-bert-recipe", "Pre-training on full-length sequences throughout "
          "(RoBERTa) gives a lower held-out masked-LM loss on long text than BERT's recipe "
          "(90% of the updates on sequences 4x shorter), at equal tokens and updates.",
          _compare("full-length", "bert-recipe", "full-length_loss_long",
                   "bert-recipe_loss_long"), "sequence_length.png"),
    Claim("longer-context-helps", "A model pre-trained on long sequences and reading long text "
          "predicts masked tokens better than one pre-trained on 4x shorter sequences reading "
          "the same text in windows of its own length.",
          _compare("full-length", "short", "full-length_loss_long", "short_loss_short"),
          "sequence_length.png"),
)  # fmt: skip


def _plot(path: Any, m: dict[str, Any]) -> Any:
    fig, ax = plt.subplots(figsize=CURVE_FIGSIZE, dpi=DPI)
    bars = [("short", "short"), ("short", "long"), ("bert-recipe", "long"),
            ("full-length", "long")]  # fmt: skip
    for i, (v, k) in enumerate(bars):
        vals = m[f"{v}_loss_{k}"]
        ax.bar(i, statistics.mean(vals), color=f"C{i}")
        ax.scatter([i] * len(vals), vals, color="k", s=8, zorder=3)
    ax.set_xticks(range(len(bars)), [f"{v}\n(reads {k})" for v, k in bars], fontsize="small")
    ax.set_ylabel("held-out MLM loss (nats)")
    lo = min(min(m[f"{v}_loss_{k}"]) for v, k in bars)
    ax.set_ylim(lo - 0.1, None)
    fig.tight_layout()
    return save_figure(fig, path)


@experiment(
    "roberta-sequence-length",
    topic="transformer",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Liu et al. 2019, arXiv:1907.11692 (RoBERTa); Devlin et al. 2019, arXiv:1810.04805",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """MLM pre-training on short, mixed (BERT) and full-length (RoBERTa) sequences."""
    data = make_data(cfg, ctx.seed)
    m: dict[str, Any] = {"seeds": list(cfg.seeds)}
    with single_thread():
        for v in VARIANTS:
            rows = [run_variant(cfg, v, s, ctx, data) for s in cfg.seeds]
            for k in ("long", "short"):
                m[f"{v}_loss_{k}"] = [r[k] for r in rows]
                m[f"{v}_loss_{k}_mean"] = statistics.mean(m[f"{v}_loss_{k}"])
            ctx.log(len(m), **{f"{v}_loss_long": m[f"{v}_loss_long_mean"]})
    return Result(metrics=m, plots=[_plot(ctx.path("sequence_length.png"), m)])
