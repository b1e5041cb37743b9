"""Experiment ``bert-heads``: BERT's tagging and extractive-QA heads on generated tasks.

The two fine-tuning heads of Devlin et al. 2019 (arXiv:1810.04805, Sec. 4.2 and 5.3),
:mod:`replearn.transformer.task_heads`, each on a small BERT trained from scratch through the
engine, on data generated here (token ids: 0 padding, 1 ``[CLS]``, 2 ``[SEP]``, 3 the record
separator, then the words):

* **Tagging** (:func:`tagging_data`): ``[CLS] w_1 ... w_n [SEP]`` with words drawn uniformly
  from ``n_words``; the tag of ``w_i`` is 1 when the same word occurs elsewhere in the sequence.
  No rule that reads a token alone can do better than predicting each word's majority tag
  (the *context-free baseline*, fit on the training set: about
  ``max(p, 1 - p)``, ``p = 1 - (1 - 1/n_words)^(n-1)``); the tag needs the context on both
  sides.
* **Extractive QA** (:func:`qa_data`): ``[CLS] q [SEP] k_1 v v ; k_2 v ; ... [SEP]``: records
  of a key and 1 to ``max_value_len`` value words, with distinct keys; the question ``q`` is
  one of the keys and the answer is the span of its values. Decoding takes the best span
  (Eq. 4 of the heads) inside the context, at most ``max_value_len`` long; a prediction counts
  when start and end are both right (exact match).

Claims (over ``seeds``):

* ``token-head-uses-context``: the tagging head's test accuracy beats the context-free baseline
  (paired t over seeds, margin 0).
* ``span-head-finds-answers``: the QA head's exact match is at least ``qa_target`` on every
  seed (a property of each trained model; the mean over seeds before 2026-12-08).

Writes ``bert_heads.png``.

replearn run bert-heads
replearn run bert-heads --preset quick
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import torch
from torch import Tensor
from torch.utils.data import TensorDataset

from replearn.engine import EngineConfig, RunContext, Task
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import seeded, train_variant
from replearn.experiments.stats import compare_seeds
from replearn.report.plots import CURVE_FIGSIZE, DPI, save_figure
from replearn.transformer.task_heads import BertSpanQA, BertTokenClassifier, best_span

PAD, CLS, SEP, REC = 0, 1, 2, 3
FIRST_WORD = 4


@dataclass(frozen=True)
class Config:
    """Settings of the task-head experiment.

    Attributes:
        n_words: word vocabulary of the tagging task and of the QA values.
        tag_length: words per tagging sequence.
        n_keys: key vocabulary of the QA task; n_records: records per context.
        max_value_len: longest answer (values per record, 1 to this).
        hidden, layers, heads: the BERT encoder (intermediate size 2 x hidden).
        n_train, n_test: sequences per task.
        lr: AdamW learning rate (weight decay 0.01).
        seeds: training seeds (>= 3).
        qa_target: exact match the span head must reach (on every seed).
        engine: updates and batch of every run.
    """

    n_words: int = 12
    tag_length: int = 12
    n_keys: int = 16
    n_records: int = 4
    max_value_len: int = 3
    hidden: int = 32
    layers: int = 2
    heads: int = 2
    n_train: int = 8000
    n_test: int = 1000
    lr: float = 2e-3
    seeds: tuple[int, ...] = (0, 1, 2)
    qa_target: float = 0.9
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=800, batch_size=64, log_every=100, checkpoint_every=0, progress=False
        )
    )

    def __post_init__(self) -> None:
        if self.n_records > self.n_keys or self.max_value_len < 1:
            raise ValueError("need n_records <= n_keys and max_value_len >= 1")
        if len(self.seeds) < 3:
            raise ValueError("the verdicts need >= 3 seeds")


def tiny() -> Config:
    """Seconds: 3 updates per run."""
    return Config(
        hidden=8, layers=1, n_train=64, n_test=32,
        engine=EngineConfig(max_steps=3, batch_size=16, log_every=3, checkpoint_every=0,
                            progress=False),
    )  # fmt: skip


def quick() -> Config:
    """Seconds: one layer, 50 updates (a smoke check; 150 updates took 9 CPU s)."""
    return Config(
        layers=1, n_train=1000, n_test=300,
        engine=EngineConfig(max_steps=50, batch_size=64, log_every=25, checkpoint_every=0,
                            progress=False),
    )  # fmt: skip


def tagging_data(n: int, cfg: Config, seed: int) -> TensorDataset:
    """``[CLS] words [SEP]`` and tags (1: the word occurs elsewhere; -100 on specials).

    Shape:
        -> ids (n, tag_length + 2), tags (n, tag_length + 2) int64.
    """
    gen = torch.Generator().manual_seed(seed)
    words = torch.randint(FIRST_WORD, FIRST_WORD + cfg.n_words, (n, cfg.tag_length), generator=gen)
    same = (words[:, :, None] == words[:, None, :]).sum(-1)  # (n, L) counts, self included
    tags = (same > 1).long()
    ids = torch.cat([torch.full((n, 1), CLS), words, torch.full((n, 1), SEP)], dim=1)
    ignore = torch.full((n, 1), -100)
    return TensorDataset(ids, torch.cat([ignore, tags, ignore], dim=1))


def qa_data(n: int, cfg: Config, seed: int) -> TensorDataset:
    """``[CLS] q [SEP] records [SEP]`` padded to one length, with answer start and end.

    Shape:
        -> ids (n, T), start (n,), end (n,) int64; T = 4 + n_records * (max_value_len + 2).
    """
    gen = torch.Generator().manual_seed(seed)
    key0 = FIRST_WORD + cfg.n_words
    length = 4 + cfg.n_records * (cfg.max_value_len + 2)
    ids = torch.full((n, length), PAD)
    start, end = torch.zeros(n, dtype=torch.long), torch.zeros(n, dtype=torch.long)
    keys = torch.rand(n, cfg.n_keys, generator=gen).argsort(-1)[:, : cfg.n_records] + key0
    lens = torch.randint(1, cfg.max_value_len + 1, (n, cfg.n_records), generator=gen)
    vals = torch.randint(FIRST_WORD, key0, (n, cfg.n_records, cfg.max_value_len), generator=gen)
    pick = torch.randint(0, cfg.n_records, (n,), generator=gen)
    for b in range(n):
        seq = [CLS, int(keys[b, pick[b]]), SEP]
        for r in range(cfg.n_records):
            seq.append(int(keys[b, r]))
            if r == pick[b]:
                start[b], end[b] = len(seq), len(seq) + int(lens[b, r]) - 1
            seq += [*vals[b, r, : lens[b, r]].tolist(), REC]
        seq.append(SEP)
        ids[b, : len(seq)] = torch.tensor(seq)
    return TensorDataset(ids, start, end)


class TaggingTask(Task):
    """Eq. (1) of the heads on (ids, tags) batches; padding masked."""

    def __init__(self, model: BertTokenClassifier) -> None:
        super().__init__()
        self.model = model

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        ids, tags = batch
        return self.model.loss(ids, tags, attention_mask=(ids != PAD).long()), {}


class SpanTask(Task):
    """Eq. (3) of the heads on (ids, start, end) batches; padding masked."""

    def __init__(self, model: BertSpanQA) -> None:
        super().__init__()
        self.model = model

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        ids, start, end = batch
        return self.model.loss(ids, start, end, attention_mask=(ids != PAD).long()), {}


def _bert(cfg: Config, max_len: int) -> dict[str, Any]:
    return dict(vocab_size=FIRST_WORD + cfg.n_words + cfg.n_keys, hidden=cfg.hidden,
                layers=cfg.layers, heads=cfg.heads, intermediate=2 * cfg.hidden,
                max_len=max_len, dropout=0.0, attn_dropout=0.0)  # fmt: skip


def context_free_accuracy(train: TensorDataset, test: TensorDataset) -> float:
    """Accuracy of predicting each word's majority tag (fit on ``train``) on ``test``."""
    ids, tags = train.tensors
    keep = tags != -100
    w, t = ids[keep], tags[keep]
    vocab = int(ids.max()) + 1
    ones = torch.zeros(vocab).index_add_(0, w, t.float())
    total = torch.zeros(vocab).index_add_(0, w, torch.ones_like(t, dtype=torch.float))
    majority = (ones > total / 2).long()
    ids_t, tags_t = test.tensors
    keep_t = tags_t != -100
    return float((majority[ids_t[keep_t]] == tags_t[keep_t]).float().mean())


@torch.no_grad()
def tagging_accuracy(model: BertTokenClassifier, test: TensorDataset) -> float:
    """Accuracy over the tagged (non-special) positions."""
    model.eval()
    ids, tags = test.tensors
    ids = ids.to(next(model.parameters()).device)
    pred = model(ids, attention_mask=(ids != PAD).long()).argmax(-1).cpu()
    keep = tags != -100
    return float((pred[keep] == tags[keep]).float().mean())


@torch.no_grad()
def exact_match(model: BertSpanQA, test: TensorDataset, max_answer_len: int) -> float:
    """Fraction of questions whose best context span has the right start and end."""
    model.eval()
    ids, start, end = test.tensors
    dev = next(model.parameters()).device
    s, e = model(ids.to(dev), attention_mask=(ids != PAD).long().to(dev))
    allowed = ids >= FIRST_WORD
    allowed[:, :3] = False  # the question is not part of the context
    i, j = best_span(s.cpu(), e.cpu(), max_answer_len=max_answer_len, allowed=allowed)
    return float(((i == start) & (j == end)).float().mean())


def _context(m: dict[str, Any]) -> tuple[bool, str]:
    acc = m["tagging_accuracy"]
    base = [m["context_free_accuracy"]] * len(acc)
    c = compare_seeds(acc, base, label_x="BERT tagger", label_y="context-free", unit="points")
    return c.holds, (
        f"tagging accuracy {statistics.mean(acc):.3f} (seeds "
        f"{', '.join(f'{a:.3f}' for a in acc)}) vs the best context-free tagger "
        f"{m['context_free_accuracy']:.3f}; {c.evidence()}"
    )


def _span(m: dict[str, Any]) -> tuple[bool, str]:
    em = m["exact_match"]
    return min(em) >= m["qa_target"], (
        f"exact match {statistics.mean(em):.3f} (seeds {', '.join(f'{a:.3f}' for a in em)}); "
        f"target >= {m['qa_target']} on every seed"
    )


CLAIMS = (
    Claim("token-head-uses-context", "A token-classification head on BERT learns a tagging "
          "that needs context on both sides: it beats every context-free tagger.", _context,
          "bert_heads.png"),
    Claim("span-head-finds-answers", "A start/end span head on BERT learns extractive QA: it "
          "finds the exact answer span in the context (exact match >= 0.9, qa_target, on every "
          "training seed).", _span, "bert_heads.png"),
)  # fmt: skip


def _plot(path: Any, m: dict[str, Any]) -> Any:
    fig, ax = plt.subplots(figsize=CURVE_FIGSIZE, dpi=DPI)
    bars = {"tagging accuracy": m["tagging_accuracy"], "QA exact match": m["exact_match"]}
    for i, vals in enumerate(bars.values()):
        ax.bar(i, statistics.mean(vals), color=f"C{i}")
        ax.scatter([i] * len(vals), vals, color="k", s=8, zorder=3)
    ax.axhline(m["context_free_accuracy"], color="C0", ls=":", label="context-free tagger")
    ax.set_xticks(range(len(bars)), list(bars))
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


@experiment(
    "bert-heads",
    topic="transformer",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Devlin, Chang, Lee & Toutanova 2019, arXiv:1810.04805 (Sec. 4.2, 5.3)",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """BERT tagging and span-QA heads on generated tasks (duplicate tagging, key-value QA)."""
    tag_train, tag_test = (tagging_data(n, cfg, ctx.seed + i)
                           for i, n in enumerate((cfg.n_train, cfg.n_test)))  # fmt: skip
    qa_train, qa_test = (qa_data(n, cfg, ctx.seed + 10 + i)
                         for i, n in enumerate((cfg.n_train, cfg.n_test)))  # fmt: skip
    m: dict[str, Any] = {"qa_target": cfg.qa_target, "seeds": list(cfg.seeds),
                         "context_free_accuracy": context_free_accuracy(tag_train, tag_test),
                         "tagging_accuracy": [], "exact_match": []}  # fmt: skip
    tag_len, qa_len = tag_train.tensors[0].shape[1], qa_train.tensors[0].shape[1]

    def build_tagger() -> BertTokenClassifier:
        return BertTokenClassifier.build(num_labels=2, head_dropout=0.0, **_bert(cfg, tag_len))

    def build_qa() -> BertSpanQA:
        return BertSpanQA.build(**_bert(cfg, qa_len))

    model: Any = None
    with single_thread():
        for s in cfg.seeds:
            model = seeded(build_tagger, s)
            opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
            train_variant(ctx, "tagging", TaggingTask(model), opt, tag_train,
                          engine=cfg.engine, seed=s)  # fmt: skip
            m["tagging_accuracy"].append(tagging_accuracy(model, tag_test))
            model = seeded(build_qa, s)
            opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
            train_variant(ctx, "span-qa", SpanTask(model), opt, qa_train,
                          engine=cfg.engine, seed=s)  # fmt: skip
            m["exact_match"].append(exact_match(model, qa_test, cfg.max_value_len))
            ctx.log(s, tagging_accuracy=m["tagging_accuracy"][-1], exact_match=m["exact_match"][-1])
    return Result(metrics=m, model=model, plots=[_plot(ctx.path("bert_heads.png"), m)])
