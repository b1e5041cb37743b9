"""Experiment ``bert-sst2``: pre-train a small BERT by masked LM (+ NSP), fine-tune it on SST-2.

Devlin et al. 2019 (arXiv:1810.04805) pre-train on a large corpus and fine-tune on GLUE; here
the "corpus" is what the package has: the SST-2 train sentences (each a single segment, masked
LM only) and Tiny Shakespeare, whose speeches give next-sentence pairs (:func:`nsp_pairs`: the
next line of the speech or a line of another speech, 50/50). Words are tokenized by
:class:`~replearn.transformer.tokenizers.WordTokenizer` trained on both texts, with ids
``<pad>, <unk>, [CLS], [SEP], [MASK]`` first. Masks are dynamic (a new one for every batch,
:func:`~replearn.transformer.bert.mask_tokens`, 15% / 80-10-10).

Then the pre-trained encoder gets a classification head (dropout + linear on the pooled
``[CLS]``) and is fine-tuned on the SST-2 train phrases; the same network is also trained from
its random initialisation with the same steps, batches and learning rate (``scratch``).
``dev_accuracy_*`` is read on the 872 dev sentences (the GLUE test labels are hidden).

The whole pipeline is repeated for ``seeds`` training seeds (3 by default: initial weights,
masks, dropout and batch order per seed; the data sets are fixed), and the claim is judged
over the seeds by :func:`replearn.experiments.stats.compare_seeds` (paired by seed; the
one-sided 95% Student-t lower bound of the mean dev-accuracy gain must be above zero), not
by a bare ``gain > 0`` on one seed. To keep the default cost sane, each seed pre-trains 750
steps and fine-tunes 400 (1500 and 800 with one seed before): three seeds cost 1.5x the old
run.

Run folders: ``seed<s>/pretrain/``, ``seed<s>/finetune_pretrained/``,
``seed<s>/finetune_scratch/`` (each with its ``metrics.jsonl``);
``bert_sst2_dev_accuracy.png`` plots the dev accuracy during fine-tuning (first seed).

    replearn run bert-sst2                      # 3 seeds: 753 CPU s on one thread (2026-12-08)
    replearn run bert-sst2 --preset quick       # about a minute
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from replearn.data.text import SST2, tiny_shakespeare_text
from replearn.engine import EngineConfig, RunContext, Task, fit
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import count_params, engine_config
from replearn.experiments.stats import MIN_SEEDS, SeedComparison, compare_seeds
from replearn.report.plots import DPI, save_figure
from replearn.transformer.bert.mlm import mask_tokens, nsp_pairs, pad_pairs
from replearn.transformer.bert.model import BERT, IGNORE_INDEX, pretraining_loss
from replearn.transformer.tokenizers import WordTokenizer

PAD, UNK, CLS, SEP, MASK = range(5)
SPECIALS = ("[CLS]", "[SEP]", "[MASK]")


def _engine(steps: int, batch: int, eval_every: int) -> EngineConfig:
    return engine_config(
        steps, batch, log_every=25, eval_every=eval_every, lr_schedule="warmup-cosine",
        warmup_steps=max(steps // 10, 1), grad_clip_norm=1.0,
    )  # fmt: skip


@dataclass(frozen=True)
class Config:
    """Settings of the pre-train / fine-tune comparison.

    Attributes:
        vocab_size: tokenizer size (5 special ids included).
        max_len: longest input in tokens ([CLS] and [SEP] included).
        hidden: BERT width H.
        layers: encoder layers.
        heads: attention heads.
        intermediate: feed-forward width.
        dropout: hidden and attention dropout.
        nsp: add Tiny Shakespeare next-sentence pairs (else masked LM on SST-2 text only).
        n_pretrain: pre-training sequences (SST-2 sentences and NSP pairs, half each with nsp).
        n_finetune: SST-2 train phrases used for fine-tuning (0: all 67,349).
        lr_pretrain: AdamW peak learning rate of pre-training.
        lr_finetune: AdamW peak learning rate of fine-tuning (both runs).
        weight_decay: AdamW weight decay.
        threads: torch intra-op threads during training.
        seeds: training seeds (``seed, seed + 1, ...``; >= 3), each a whole pipeline.
        pretrain: engine settings of pre-training.
        finetune: engine settings of each fine-tuning run.
    """

    vocab_size: int = 8000
    max_len: int = 64
    hidden: int = 128
    layers: int = 2
    heads: int = 4
    intermediate: int = 256
    dropout: float = 0.1
    nsp: bool = True
    n_pretrain: int = 60_000
    n_finetune: int = 0
    lr_pretrain: float = 1e-3
    lr_finetune: float = 3e-4
    weight_decay: float = 0.01
    threads: int = 1
    seeds: int = 3
    pretrain: EngineConfig = field(default_factory=lambda: _engine(750, 64, 250))
    finetune: EngineConfig = field(default_factory=lambda: _engine(400, 64, 100))

    def __post_init__(self) -> None:
        if self.seeds < MIN_SEEDS:
            raise ValueError(f"seeds must be >= {MIN_SEEDS} (the claim), got {self.seeds}")


def tiny() -> Config:
    """Seconds: a tiny model, a few steps on a few thousand sentences."""
    return Config(
        vocab_size=1000, hidden=32, layers=1, heads=2, intermediate=64, n_pretrain=2000,
        n_finetune=2000, pretrain=_engine(4, 32, 0), finetune=_engine(4, 32, 0),
    )  # fmt: skip


def quick() -> Config:
    """Seconds: a 4,000-word vocabulary, 1,000 sentences, width 64, 6 + 5 steps of 16 per seed
    (smoke; width 128, 2,000 sentences and 12 + 10 steps took 10 CPU s)."""
    return Config(
        vocab_size=4000, max_len=48, hidden=64, intermediate=128, n_pretrain=1000,
        n_finetune=1000, pretrain=_engine(6, 16, 0), finetune=_engine(5, 16, 0),
    )  # fmt: skip


@contextlib.contextmanager
def num_threads(n: int) -> Iterator[None]:
    """``torch.set_num_threads(n)`` inside the block (small matrices gain nothing from more)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def shakespeare_documents(tok: WordTokenizer) -> list[list[list[int]]]:
    """Speeches of Tiny Shakespeare (blocks between blank lines) as lists of encoded lines."""
    docs = []
    for block in re.split(r"\n\s*\n", tiny_shakespeare_text()):
        lines = [tok.encode(line) for line in block.splitlines()[1:] if line.strip()]  # no name
        if len(lines) >= 2:
            docs.append(lines)
    return docs


@lru_cache(maxsize=2)
def build_tokenizer(vocab_size: int) -> WordTokenizer:
    """Word tokenizer on SST-2 train + Tiny Shakespeare; ids 2-4 are [CLS], [SEP], [MASK]."""
    base = WordTokenizer.train([*SST2("train").sentences, tiny_shakespeare_text()], vocab_size - 3)
    return WordTokenizer([*SPECIALS, *base.itos[2:]])


def pretraining_set(cfg: Config, tok: WordTokenizer, seed: int) -> TensorDataset:
    """(input_ids, token_type_ids, attention_mask, pair_labels): SST-2 text and NSP pairs."""
    g = torch.Generator().manual_seed(seed)
    sentences = sorted(set(SST2("train").sentences))
    n_sst = cfg.n_pretrain // 2 if cfg.nsp else cfg.n_pretrain
    pick = torch.randperm(len(sentences), generator=g)[:n_sst].tolist()
    pairs: list[Any] = [(tok.encode(sentences[i]), None, IGNORE_INDEX) for i in pick]
    if cfg.nsp:
        nsp = nsp_pairs(shakespeare_documents(tok), seed=seed)
        order = torch.randperm(len(nsp), generator=g)[: cfg.n_pretrain - n_sst].tolist()
        pairs += [nsp[i] for i in order]
        pairs = [pairs[i] for i in torch.randperm(len(pairs), generator=g).tolist()]  # mixed
    b = pad_pairs(pairs, cls_id=CLS, sep_id=SEP, pad_id=PAD, max_len=cfg.max_len)
    keys = ("input_ids", "token_type_ids", "attention_mask", "pair_labels")
    return TensorDataset(*(b[k] for k in keys))


def sst2_set(split: str, tok: WordTokenizer, max_len: int, limit: int = 0) -> TensorDataset:
    """(input_ids, attention_mask, labels) of ``[CLS] sentence [SEP]``; ``limit`` > 0 keeps the
    first ``limit`` items."""
    data = SST2(split)
    n = limit or len(data)
    pairs = [
        (tok.encode(s), None, y) for s, y in zip(data.sentences[:n], data.labels[:n], strict=True)
    ]
    b = pad_pairs(pairs, cls_id=CLS, sep_id=SEP, pad_id=PAD, max_len=max_len)
    return TensorDataset(b["input_ids"], b["attention_mask"], b["pair_labels"])


def trim(*tensors: Tensor, mask: Tensor) -> tuple[Tensor, ...]:
    """Cut (B, T) tensors to the longest sequence of the batch (padding costs compute)."""
    n = int(mask.sum(1).max())
    return tuple(t[:, :n] for t in tensors)


class MLMTask(Task):
    """Masked LM (+ NSP when the batch has pair labels) with a fresh mask every batch."""

    def __init__(self, model: nn.Module, vocab_size: int) -> None:
        super().__init__()
        self.model, self.vocab_size = model, vocab_size

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        x, tt, mask, pair = batch
        x, tt, mask = trim(x, tt, mask, mask=mask)
        inputs, labels = mask_tokens(x, x >= 5, mask_id=MASK, vocab_size=self.vocab_size)
        h = self.model(inputs, tt, mask)  # (B, T, H)
        sel = labels != IGNORE_INDEX
        mlm = self.model.mlm(h[sel])  # (n_selected, V): logits only where the loss reads them
        nsp = self.model.nsp(self.model.pooled(h)) if self.model.nsp is not None else None
        loss = pretraining_loss(mlm, labels[sel], nsp, pair)
        metrics = {
            "mlm_loss": F.cross_entropy(mlm.detach(), labels[sel]),
            "mlm_accuracy": (mlm.detach().argmax(-1) == labels[sel]).float().mean(),
        }
        has = pair != IGNORE_INDEX
        if nsp is not None and bool(has.any()):
            metrics["nsp_accuracy"] = (nsp[has].detach().argmax(-1) == pair[has]).float().mean()
        return loss, metrics


class SST2Task(Task):
    """Cross-entropy of the classification head; reports accuracy."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        x, mask, y = batch
        x, mask = trim(x, mask, mask=mask)
        logits = self.model.classify(x, None, mask)  # (B, 2)
        return F.cross_entropy(logits, y), {"accuracy": (logits.argmax(-1) == y).float().mean()}


def make_bert(cfg: Config, vocab: int, num_labels: int = 0) -> BERT:
    """The BERT of the config (pre-training heads always built, classifier if num_labels)."""
    return BERT(
        vocab_size=vocab, hidden=cfg.hidden, layers=cfg.layers, heads=cfg.heads,
        intermediate=cfg.intermediate, max_len=cfg.max_len, dropout=cfg.dropout,
        attn_dropout=cfg.dropout, num_labels=num_labels, pad_id=PAD,
    )  # fmt: skip


def adamw(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW without decay on biases, LayerNorm and embeddings' padding (1-D tensors)."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    rest = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0}]
    return torch.optim.AdamW(groups, lr=lr)


def finetune(
    model: nn.Module, cfg: Config, ctx: RunContext, name: str, data: tuple
) -> tuple[float, float, list[dict[str, Any]]]:
    """Fine-tune in sub-run ``name``; the final dev accuracy, the training time (s) and the
    validation rows of the loop's history."""
    task = SST2Task(model)
    with ctx.child(name) as sub:
        loop = fit(task, adamw(model, cfg.lr_finetune, cfg.weight_decay), data[0],
                   cfg=cfg.finetune, ctx=sub, val_set=data[1])  # fmt: skip
    rows = [r for r in loop.history if "val_accuracy" in r]
    return float(rows[-1]["val_accuracy"]) if rows else float("nan"), loop.wall_time_s, rows


def _plot(ctx: RunContext, histories: dict[str, list[dict[str, Any]]]) -> Any:
    fig, ax = plt.subplots(figsize=(5.5, 3.5), dpi=DPI)
    for name, rows in histories.items():
        ax.plot([r["step"] for r in rows], [r["val_accuracy"] for r in rows], "o-", label=name)
    ax.set_xlabel("fine-tuning step")
    ax.set_ylabel("SST-2 dev accuracy")
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, ctx.path("bert_sst2_dev_accuracy.png"))


def _comparison(m: dict[str, Any]) -> SeedComparison:
    return compare_seeds(
        m["dev_accuracy_pretrained_seeds"],
        m["dev_accuracy_scratch_seeds"],
        label_x="pre-trained",
        label_y="scratch",
        unit="points",
    )


def _verdict(m: dict[str, Any]) -> tuple[bool, str]:
    c = _comparison(m)
    return c.holds, (
        f"SST-2 dev accuracy {m['dev_accuracy_pretrained']:.4f} after MLM"
        f"{'+NSP' if m['nsp'] else ''} pre-training ({m['pretrain_steps']:.0f} steps, final "
        f"masked-token accuracy {m['pretrain_mlm_accuracy']:.3f}) vs "
        f"{m['dev_accuracy_scratch']:.4f} from scratch, {m['finetune_steps']} fine-tuning steps "
        f"each (means over seeds); {c.evidence()}"
    )


CLAIMS = (
    Claim(
        "pretraining-helps-finetuning",
        "Pre-training a bidirectional encoder by masked language modelling (Devlin et al. 2019) "
        "gives a better SST-2 classifier than training the same network from scratch with the "
        "same fine-tuning budget; holds if the dev accuracy is higher after pre-training (mean "
        "paired gain over training seeds, one-sided 95% Student-t lower bound > 0).",
        _verdict,
        "bert_sst2_dev_accuracy.png",
    ),
)


@experiment(
    "bert-sst2", topic="transformer", config=Config, presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS, paper="Devlin, Chang, Lee & Toutanova 2019, arXiv:1810.04805",
)  # fmt: skip
def run(cfg: Config, ctx: RunContext) -> Result:
    """Small BERT: MLM (+NSP) pre-training on SST-2 + Shakespeare, then SST-2 fine-tuning."""
    tok = build_tokenizer(cfg.vocab_size)
    vocab = tok.vocab_size
    data = (sst2_set("train", tok, cfg.max_len, cfg.n_finetune), sst2_set("dev", tok, cfg.max_len))
    pre_set = pretraining_set(cfg, tok, ctx.seed)
    n_val = min(1000, len(pre_set) // 10)
    pre_train = TensorDataset(*(t[n_val:] for t in pre_set.tensors))
    pre_val = TensorDataset(*(t[:n_val] for t in pre_set.tensors))
    per_seed: dict[str, list[float]] = {}
    histories: dict[str, list[dict[str, Any]]] = {}
    with num_threads(cfg.threads):
        for seed in range(ctx.seed, ctx.seed + cfg.seeds):
            with ctx.child(f"seed{seed}", seed=seed) as run:
                one, rows, model = _one_seed(cfg, run, vocab, (pre_train, pre_val), data)
            for key, value in one.items():
                per_seed.setdefault(key, []).append(value)
            if seed == ctx.seed:
                histories, first = rows, model
    metrics: dict[str, Any] = {f"{k}_seeds": v for k, v in per_seed.items()}
    metrics.update({k: sum(v) / len(v) for k, v in per_seed.items()})
    metrics.update(
        vocab_size=vocab, nsp=cfg.nsp, n_pretrain=len(pre_train),
        seeds=list(range(ctx.seed, ctx.seed + cfg.seeds)),
        finetune_steps=cfg.finetune.max_steps,
        gain_points=100 * (metrics["dev_accuracy_pretrained"] - metrics["dev_accuracy_scratch"]),
        parameters=count_params(first),
    )  # fmt: skip
    metrics["comparison"] = _comparison(metrics).as_dict()
    plot = _plot(ctx, histories)
    return Result(metrics=metrics, model=first, plots=[plot])


def _one_seed(
    cfg: Config, ctx: RunContext, vocab: int, pre: tuple[TensorDataset, TensorDataset], data: tuple
) -> tuple[dict[str, float], dict[str, list[dict[str, Any]]], nn.Module]:
    """Pre-train from ``ctx.seed``'s initial weights, fine-tune it and the same weights unpre-
    trained; the numbers, the fine-tuning histories and the pre-trained model."""
    torch.manual_seed(ctx.seed)
    model = make_bert(cfg, vocab, num_labels=2).to(ctx.device)
    init = {k: v.clone() for k, v in model.state_dict().items()}
    task = MLMTask(model, vocab)
    with ctx.child("pretrain") as sub:
        opt = adamw(model, cfg.lr_pretrain, cfg.weight_decay)
        loop = fit(task, opt, pre[0], cfg=cfg.pretrain, ctx=sub, val_set=pre[1])
    last = [r for r in loop.history if "val_mlm_loss" in r][-1]
    m: dict[str, float] = dict(
        pretrain_steps=loop.step, pretrain_time_s=loop.wall_time_s,
        pretrain_mlm_loss=last["val_mlm_loss"], pretrain_mlm_accuracy=last["val_mlm_accuracy"],
        pretrain_nsp_accuracy=last.get("val_nsp_accuracy", float("nan")),
    )  # fmt: skip
    acc, t, rows_pre = finetune(model, cfg, ctx, "finetune_pretrained", data)
    m.update(dev_accuracy_pretrained=acc, finetune_time_s=t)
    scratch = make_bert(cfg, vocab, num_labels=2).to(ctx.device)
    scratch.load_state_dict(init)  # the same initial weights, no pre-training
    m["dev_accuracy_scratch"], _, rows_scratch = finetune(
        scratch, cfg, ctx, "finetune_scratch", data
    )
    return m, {"finetune_pretrained": rows_pre, "finetune_scratch": rows_scratch}, model
