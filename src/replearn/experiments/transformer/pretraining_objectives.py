"""Experiment ``pretraining-objectives``: MLM vs left-to-right LM, BERT vs GPT, NSP, masking.

Devlin et al. 2019 (arXiv:1810.04805) argue that a bidirectional masked-LM encoder fine-tunes
better than a left-to-right LM (GPT, Radford et al. 2018), and use next-sentence prediction;
RoBERTa (Liu et al. 2019, arXiv:1907.11692, Tables 1-2) drops NSP and masks dynamically. Here
every variant has the same size (width, layers, heads, feed-forward 4x width), sees the same
pre-training sentences (SST-2 train sentences; the NSP variant also gets Tiny Shakespeare
next-line pairs, as in ``bert-sst2``) for the same number of updates, and is fine-tuned the
same way on SST-2 train phrases; the score is the accuracy on the 872 dev sentences, over
``seeds`` (each seed: its own initial weights, masks and batch order; the data are fixed).
The pieces (tokenizer, data sets, masked-LM task, fine-tuning task) are those of
:mod:`replearn.experiments.transformer.bert_sst2`.

Variants: ``bert-scratch`` / ``gpt-scratch`` (no pre-training); ``bert-mlm`` (dynamic masks,
no NSP); ``bert-mlm-nsp`` (+ NSP); ``bert-mlm-static`` (one mask per sentence, fixed for the
whole pre-training); ``gpt-lm`` (:class:`~replearn.transformer.gpt.GPT` pre-trained
left-to-right; for classification the final state of the last real token goes to a linear
head). An objective also fixes the attention pattern (MLM needs a bidirectional encoder, a
left-to-right LM a causal one), so ``bert-mlm`` vs ``gpt-lm`` compares the two recipes, and
``bert-scratch`` vs ``gpt-scratch`` the two architectures without pre-training (BERT: post-LN,
GPT: pre-LN, as published).

Claims (paired over seeds, :func:`~replearn.experiments.stats.compare_seeds`):

* ``mlm-beats-lm-pretraining``: ``bert-mlm`` > ``gpt-lm``.
* ``encoder-beats-gpt-same-size``: ``bert-scratch`` > ``gpt-scratch`` (same size, same data).
* ``nsp-not-needed``: ``bert-mlm`` is not worse than ``bert-mlm-nsp`` by more than
  ``non_inferiority`` (RoBERTa's finding; the lower bound of the difference above -margin).
* ``dynamic-masking-not-worse``: ``bert-mlm`` (dynamic) is not worse than
  ``bert-mlm-static`` by more than ``non_inferiority``. RoBERTa's third change, longer
  sequences, is not tested here (SST-2 sentences are short): see ``roberta-sequence-length``.

Data: SST-2 and Tiny Shakespeare files (``replearn data download``); the tiny preset uses
generated sentences (``data="synthetic"``) and reads no file.

replearn run pretraining-objectives
replearn run pretraining-objectives --preset quick
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from replearn.engine import EngineConfig, RunContext, Task
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import engine_config, seeded, train_variant
from replearn.experiments.stats import compare_seeds
from replearn.experiments.transformer import bert_sst2 as B
from replearn.report.plots import CURVE_FIGSIZE, DPI, save_figure
from replearn.transformer.bert.mlm import mask_tokens
from replearn.transformer.gpt import GPT, lm_loss

VARIANTS = ("bert-scratch", "gpt-scratch", "bert-mlm", "bert-mlm-nsp", "bert-mlm-static",
            "gpt-lm")  # fmt: skip


def _engine(steps: int) -> EngineConfig:
    return engine_config(
        steps, 64, log_every=25, lr_schedule="warmup-cosine", warmup_steps=max(steps // 10, 1),
        grad_clip_norm=1.0, progress=False,
    )  # fmt: skip


@dataclass(frozen=True)
class Config:
    """Settings of the pre-training objective comparison.

    Attributes:
        vocab_size: word tokenizer size (5 special ids included).
        max_len: longest input in tokens.
        hidden, layers, heads: the size shared by every variant (feed-forward 4 x hidden).
        dropout: hidden and attention dropout of every variant.
        n_pretrain: pre-training sequences (SST-2 sentences; half NSP pairs for the NSP variant).
        n_finetune: SST-2 train phrases for fine-tuning.
        lr_pretrain, lr_finetune: AdamW peak learning rates.
        weight_decay: AdamW weight decay (matrices only).
        seeds: training seeds (>= 3).
        non_inferiority: margin of the "not worse" claims (accuracy).
        pretrain, finetune: engine settings of each pre-training and fine-tuning run.
        data: ``"sst2"`` (SST-2 and Tiny Shakespeare files) or ``"synthetic"`` (generated
            sentences whose label is the majority of "positive" vs "negative" words; no file,
            used by the tiny preset).
    """

    vocab_size: int = 4000
    max_len: int = 48
    hidden: int = 64
    layers: int = 2
    heads: int = 2
    dropout: float = 0.1
    n_pretrain: int = 20_000
    n_finetune: int = 20_000
    lr_pretrain: float = 1e-3
    lr_finetune: float = 3e-4
    weight_decay: float = 0.01
    seeds: tuple[int, ...] = (0, 1, 2)
    non_inferiority: float = 0.01
    pretrain: EngineConfig = field(default_factory=lambda: _engine(200))
    finetune: EngineConfig = field(default_factory=lambda: _engine(150))
    data: str = "sst2"

    def __post_init__(self) -> None:
        if len(self.seeds) < 3:
            raise ValueError("the verdicts need >= 3 seeds")
        if self.hidden % self.heads:
            raise ValueError("heads must divide hidden")
        if self.data not in ("sst2", "synthetic"):
            raise ValueError(f"data must be 'sst2' or 'synthetic', got {self.data!r}")


def tiny() -> Config:
    """Seconds: a tiny model on generated sentences, 2 + 2 updates per variant."""
    return Config(vocab_size=60, hidden=16, layers=1, n_pretrain=300, n_finetune=200,
                  pretrain=_engine(2), finetune=_engine(2), data="synthetic")  # fmt: skip


def quick() -> Config:
    """Seconds: one narrow layer, 32 tokens, 8 + 6 updates per variant (a smoke check; 20 + 15
    updates of width 64 took 39 CPU s)."""
    return Config(vocab_size=2000, max_len=32, hidden=32, layers=1, n_pretrain=1000,
                  n_finetune=1000, pretrain=_engine(8), finetune=_engine(6))  # fmt: skip


def _sst2_cfg(cfg: Config, nsp: bool) -> B.Config:
    return B.Config(vocab_size=cfg.vocab_size, max_len=cfg.max_len, hidden=cfg.hidden,
                    layers=cfg.layers, heads=cfg.heads, intermediate=4 * cfg.hidden,
                    dropout=cfg.dropout, nsp=nsp, n_pretrain=cfg.n_pretrain)  # fmt: skip


class GPTClassifier(nn.Module):
    """A GPT whose final state at the last real token feeds a linear head (GPT-1's recipe)."""

    def __init__(self, gpt: GPT, num_labels: int = 2) -> None:
        super().__init__()
        self.gpt = gpt
        self.head = nn.Linear(gpt.cfg.n_embd, num_labels)

    def classify(self, x: Tensor, _tt: Tensor | None, mask: Tensor) -> Tensor:
        t = self.gpt.transformer
        h = t.drop(t.wte(x) + t.wpe(torch.arange(x.shape[1], device=x.device)))
        for block in t.h:
            h, _ = block(h)
        h = t.ln_f(h)  # (B, T, C)
        last = mask.sum(1).long() - 1  # (B,) the [SEP] of each sequence
        return self.head(h[torch.arange(len(x)), last])


class LMTask(Task):
    """Left-to-right LM on (ids, token types, mask, pair labels) batches; padding ignored."""

    def __init__(self, model: GPT) -> None:
        super().__init__()
        self.model = model

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        x, _, mask, _ = batch
        (x, mask) = B.trim(x, mask, mask=mask)
        targets = torch.where(mask[:, 1:].bool(), x[:, 1:], torch.full_like(x[:, 1:], -1))
        return lm_loss(self.model(x[:, :-1]), targets), {}


class StaticMLMTask(Task):
    """Masked LM with masks drawn once (``inputs``, ``labels`` stored in the data set)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        inputs, labels, tt, mask = batch
        inputs, labels, tt, mask = B.trim(inputs, labels, tt, mask, mask=mask)
        h = self.model(inputs, tt, mask)
        sel = labels != B.IGNORE_INDEX
        return F.cross_entropy(self.model.mlm(h[sel]), labels[sel]), {}


def static_masks(data: TensorDataset, vocab: int, seed: int) -> TensorDataset:
    """One mask per sentence, drawn once (BERT's original recipe; RoBERTa Sec. 4.1)."""
    x, tt, mask, _ = data.tensors
    inputs, labels = mask_tokens(x, x >= 5, mask_id=B.MASK, vocab_size=vocab,
                                 generator=torch.Generator().manual_seed(seed))  # fmt: skip
    return TensorDataset(inputs, labels, tt, mask)


def synthetic_data(cfg: Config, seed: int) -> dict[str, Any]:
    """Generated stand-ins of the four data sets (same layouts as the SST-2 ones).

    Words ``5 .. vocab_size - 1``; the first third are "positive", the second "negative"; a
    sentence's label is 1 when it has more positive than negative words. NSP pairs join two
    sentences with a random IsNext label (a smoke path, nothing to learn).
    """
    gen = torch.Generator().manual_seed(seed)
    words, third = cfg.vocab_size - 5, (cfg.vocab_size - 5) // 3

    def sentences(n: int, length: int) -> tuple[Tensor, Tensor]:
        w = torch.randint(5, cfg.vocab_size, (n, length), generator=gen)
        pos = ((w >= 5) & (w < 5 + third)).sum(1)
        neg = ((w >= 5 + third) & (w < 5 + 2 * third)).sum(1)
        ids = torch.cat([torch.full((n, 1), B.CLS), w, torch.full((n, 1), B.SEP)], dim=1)
        return ids, (pos > neg).long()

    assert words >= 3, "vocab_size too small for the synthetic data"
    length = min(cfg.max_len - 2, 10)
    x, _ = sentences(cfg.n_pretrain, length)
    ones, ignore = torch.ones_like(x), torch.full((len(x),), B.IGNORE_INDEX)
    pre = TensorDataset(x, torch.zeros_like(x), ones, ignore)
    a, _ = sentences(cfg.n_pretrain, length // 2)
    b, _ = sentences(cfg.n_pretrain, length // 2)
    pair = torch.cat([a, b[:, 1:]], dim=1)  # [CLS] a [SEP] b [SEP]
    tt = torch.cat([torch.zeros_like(a), torch.ones_like(b[:, 1:])], dim=1)
    pre_nsp = TensorDataset(pair, tt, torch.ones_like(pair),
                            torch.randint(0, 2, (len(pair),), generator=gen))  # fmt: skip
    tx, ty = sentences(cfg.n_finetune, length)
    dx, dy = sentences(max(cfg.n_finetune // 4, 8), length)
    return {"vocab": cfg.vocab_size, "pre": pre, "pre_nsp": pre_nsp,
            "train": TensorDataset(tx, torch.ones_like(tx), ty),
            "dev": TensorDataset(dx, torch.ones_like(dx), dy)}  # fmt: skip


def run_variant(cfg: Config, name: str, seed: int, ctx: RunContext, data: dict[str, Any]) -> float:
    """Pre-train (if the variant does) and fine-tune one variant; its SST-2 dev accuracy."""
    vocab = data["vocab"]
    scfg = _sst2_cfg(cfg, nsp=name == "bert-mlm-nsp")
    if name.startswith("bert"):
        model: nn.Module = seeded(lambda: B.make_bert(scfg, vocab, num_labels=2), seed)
    else:
        gpt = seeded(lambda: GPT(n_layer=cfg.layers, n_head=cfg.heads, n_embd=cfg.hidden,
                                 block_size=cfg.max_len, vocab_size=vocab,
                                 dropout=cfg.dropout), seed)  # fmt: skip
        model = GPTClassifier(gpt)
    task: Task | None = None
    pre = data["pre_nsp"] if name == "bert-mlm-nsp" else data["pre"]
    if name in ("bert-mlm", "bert-mlm-nsp"):
        task = B.MLMTask(model, vocab)
    elif name == "bert-mlm-static":
        task, pre = StaticMLMTask(model), static_masks(pre, vocab, seed)
    elif name == "gpt-lm":
        task = LMTask(model.gpt)
    if task is not None:
        train_variant(ctx, f"{name}-pretrain", task, B.adamw(model, cfg.lr_pretrain,
                      cfg.weight_decay), pre, engine=cfg.pretrain, seed=seed)  # fmt: skip
    train_variant(ctx, f"{name}-finetune", B.SST2Task(model), B.adamw(model, cfg.lr_finetune,
                  cfg.weight_decay), data["train"], engine=cfg.finetune, seed=seed)  # fmt: skip
    model.eval()
    x, mask, y = data["dev"].tensors
    with torch.no_grad():
        pred = model.classify(x, None, mask).argmax(-1)
    return float((pred == y).float().mean())


def _compare(x: str, y: str, margin: float = 0.0) -> Any:
    def verdict(m: dict[str, Any]) -> tuple[bool, str]:
        c = compare_seeds(m[f"{x}_dev_accuracy"], m[f"{y}_dev_accuracy"], label_x=x,
                          label_y=y, unit="points", margin=-margin if margin else 0.0)  # fmt: skip
        means = ", ".join(f"{v} {statistics.mean(m[f'{v}_dev_accuracy']):.3f}" for v in (x, y))
        data = "SST-2" if m.get("data", "sst2") == "sst2" else "synthetic"
        return c.holds, f"{data} dev accuracy (mean over seeds): {means}; {c.evidence()}"

    return verdict


CLAIMS = (
    Claim("mlm-beats-lm-pretraining", "Masked-LM pre-training of a bidirectional encoder "
          "(BERT) fine-tunes better on SST-2 than left-to-right LM pre-training (GPT) of the "
          "same size on the same data.", _compare("bert-mlm", "gpt-lm"), "pretraining.png"),
    Claim("encoder-beats-gpt-same-size", "Without pre-training, a BERT-style encoder beats a "
          "GPT of the same size on SST-2.", _compare("bert-scratch", "gpt-scratch"),
          "pretraining.png"),
    Claim("nsp-not-needed", "Next-sentence prediction can be removed without loss (RoBERTa): "
          "MLM alone is not worse than MLM + NSP by more than the margin.",
          _compare("bert-mlm", "bert-mlm-nsp", margin=0.01), "pretraining.png"),
    Claim("dynamic-masking-not-worse", "Dynamic masking (a new mask each time) is not worse "
          "than one static mask per sentence (RoBERTa).",
          _compare("bert-mlm", "bert-mlm-static", margin=0.01), "pretraining.png"),
)  # fmt: skip


def _plot(path: Any, m: dict[str, Any]) -> Any:
    fig, ax = plt.subplots(figsize=CURVE_FIGSIZE, dpi=DPI)
    for i, v in enumerate(VARIANTS):
        accs = m[f"{v}_dev_accuracy"]
        ax.bar(i, statistics.mean(accs), color=f"C{i}")
        ax.scatter([i] * len(accs), accs, color="k", s=8, zorder=3)
    ax.set_xticks(range(len(VARIANTS)), VARIANTS, rotation=30, fontsize="small")
    ax.set_ylim(0.45, max(0.6, max(max(m[f"{v}_dev_accuracy"]) for v in VARIANTS) + 0.05))
    ax.set_ylabel("SST-2 dev accuracy")
    fig.tight_layout()
    return save_figure(fig, path)


@experiment(
    "pretraining-objectives",
    topic="transformer",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Devlin et al. 2019, arXiv:1810.04805; Radford et al. 2018 (GPT); Liu et al. 2019, "
    "arXiv:1907.11692 (RoBERTa)",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """BERT (MLM, +NSP, static masks) vs GPT (LM) vs no pre-training, fine-tuned on SST-2."""
    if cfg.data == "synthetic":
        data = synthetic_data(cfg, ctx.seed)
    else:
        tok = B.build_tokenizer(cfg.vocab_size)
        data = {
            "vocab": len(tok.itos),
            "pre": B.pretraining_set(_sst2_cfg(cfg, nsp=False), tok, ctx.seed),
            "pre_nsp": B.pretraining_set(_sst2_cfg(cfg, nsp=True), tok, ctx.seed),
            "train": B.sst2_set("train", tok, cfg.max_len, cfg.n_finetune),
            "dev": B.sst2_set("dev", tok, cfg.max_len),
        }
    m: dict[str, Any] = {"seeds": list(cfg.seeds), "data": cfg.data}
    with single_thread():
        for v in VARIANTS:
            m[f"{v}_dev_accuracy"] = [run_variant(cfg, v, s, ctx, data) for s in cfg.seeds]
            m[f"{v}_dev_accuracy_mean"] = statistics.mean(m[f"{v}_dev_accuracy"])
            ctx.log(len(m), **{f"{v}_dev_accuracy": statistics.mean(m[f"{v}_dev_accuracy"])})
    return Result(metrics=m, plots=[_plot(ctx.path("pretraining.png"), m)])
