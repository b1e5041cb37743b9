"""Experiment ``bert-claims``: masking statistics, ALBERT's sharing, DistilBERT's student.

Three measurements on SST-2 (words tokenized as in ``bert-sst2``):

(a) **Masking statistics.** The dynamic :class:`~replearn.transformer.bert.MLMCollator` corrupts
    ``n_mask_sentences`` SST-2 train sentences ``mask_repeats`` times. Measured: the fraction of
    eligible tokens (not ``[CLS]``/``[SEP]``/padding) selected, and among the selected ones the
    fractions turned into ``[MASK]``, into another token, or kept. Expected: 15%, 80%, 10%
    (1/V less: a random draw can hit the original token) and 10% (+ 0.1/V); the verdict allows
    5 binomial standard deviations computed from the counts.
(b) **ALBERT vs BERT** of the same width, depth, heads and feed-forward size, ALBERT with
    factorized embeddings (E < H) and one shared layer: the parameter ratio, then both trained by
    masked LM alone (no NSP/SOP) for the same steps on the same batches; ``*_heldout_mlm_loss``
    is the masked-token cross-entropy on the SST-2 dev sentences with fixed masks (seeded).
(c) **Distillation** (Sanh et al. 2019): a ``layers``-deep BERT teacher is trained on SST-2;
    a student with every other teacher layer (``student_from_teacher`` of :mod:`.distil`) is
    trained for the same steps on ``alpha * T^2 soft-CE(T) + beta * CE + gamma * cosine`` (the
    class logits' soft targets and the last hidden states of the real tokens), and, as a
    control, the same student on the hard labels only.

(b) and (c) compare trained models: repeated for ``n_seeds`` training seeds (weights, batch
order, dropout; data and held-out masks fixed), judged by
:func:`~replearn.experiments.stats.compare_seeds` (paired, one-sided 95% Student-t bound):
ALBERT's loss vs 1.10 x BERT's, the student's accuracy vs 0.97 x the teacher's (issue 21; one
seed before 2026-12-08). (a) and the parameter counts need no training: measured once.

    replearn run bert-claims                    # 27 CPU min (3 seeds, one thread)
    replearn run bert-claims --preset quick     # about a minute
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from replearn.data.text import SST2
from replearn.engine import EngineConfig, RunContext, Task, fit
from replearn.engine.trainer import evaluate
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import count_params, engine_config
from replearn.experiments.stats import MIN_SEEDS, compare_seeds
from replearn.experiments.transformer import bert_sst2 as common
from replearn.experiments.transformer.bert_sst2 import CLS, MASK, PAD, SEP, MLMTask, SST2Task
from replearn.transformer.bert.albert import ALBERT
from replearn.transformer.bert.distil import cosine_loss, soft_cross_entropy, student_from_teacher
from replearn.transformer.bert.mlm import MLMCollator, mask_tokens, masking_statistics, pad_pairs
from replearn.transformer.bert.model import BERT, IGNORE_INDEX


def _engine(steps: int, batch: int = 64) -> EngineConfig:
    return engine_config(
        steps, batch, log_every=25, lr_schedule="warmup-cosine",
        warmup_steps=max(steps // 10, 1), grad_clip_norm=1.0,
    )  # fmt: skip


@dataclass(frozen=True)
class Config:
    """Settings of the three measurements.

    Attributes:
        vocab_size: tokenizer size. max_len: longest input in tokens.
        n_mask_sentences: SST-2 train sentences corrupted in (a). mask_repeats: passes over them.
        hidden, layers, heads, intermediate: BERT/ALBERT/teacher shape. embedding: ALBERT's E.
        dropout: hidden and attention dropout (BERT, teacher, student; ALBERT has none, as in
            the paper). n_train: SST-2 train phrases for (b) and (c) (0: all).
        lr: AdamW peak learning rate. weight_decay: AdamW weight decay.
        temperature, alpha, beta, gamma: distillation loss (Eq. 3 of :mod:`.distil`).
        threads: torch intra-op threads. mlm: engine of (b), each model. distil: engine of
            each of the three (c) runs.
        n_seeds: training seeds of (b) and (c) (``seed``, ``seed + 1``, ...); the verdicts
            need >= 3 (with fewer they report "not measured").
    """

    vocab_size: int = 8000
    max_len: int = 64
    n_mask_sentences: int = 20_000
    mask_repeats: int = 5
    hidden: int = 128
    layers: int = 4
    heads: int = 4
    intermediate: int = 256
    embedding: int = 64
    dropout: float = 0.1
    n_train: int = 0
    lr: float = 1e-3
    weight_decay: float = 0.01
    temperature: float = 2.0
    alpha: float = 5.0
    beta: float = 2.0
    gamma: float = 1.0
    threads: int = 1
    mlm: EngineConfig = field(default_factory=lambda: _engine(600))
    distil: EngineConfig = field(default_factory=lambda: _engine(500))
    n_seeds: int = 3

    def __post_init__(self) -> None:
        if self.n_seeds < 1:  # the seed verdicts need >= 3; fewer run as a smoke check
            raise ValueError("n_seeds must be >= 1")


def tiny() -> Config:
    """Seconds; one seed (the seed verdicts say "not measured")."""
    return Config(
        vocab_size=1000, n_mask_sentences=500, mask_repeats=1, hidden=32, layers=2, heads=2,
        intermediate=64, embedding=16, n_train=1000, mlm=_engine(5, 32), distil=_engine(5, 32),
        n_seeds=1,
    )  # fmt: skip


def quick() -> Config:
    """Seconds: 4,000 words, 1,000 sentences, 2 layers of width 64, 10 + 8 steps, 3 seeds."""
    return Config(
        vocab_size=4000, max_len=48, n_mask_sentences=1000, mask_repeats=1, hidden=64, layers=2,
        intermediate=128, embedding=32, n_train=1000, mlm=_engine(10, 16), distil=_engine(8, 16),
    )  # fmt: skip


def z_score(count: int, n: int, p: float) -> float:
    """(count - n p) / sqrt(n p (1 - p)): distance from Binomial(n, p)'s mean in std units."""
    return (count - n * p) / math.sqrt(n * p * (1 - p))


def masking_measurement(cfg: Config, tok: Any, seed: int) -> dict[str, Any]:
    """(a): corruption counts of the dynamic collator on SST-2 sentences, and their z-scores."""
    v = tok.vocab_size
    coll = MLMCollator(vocab_size=v, mask_id=MASK, cls_id=CLS, sep_id=SEP, pad_id=PAD,
                       special_ids=(1,), max_len=cfg.max_len, seed=seed)  # fmt: skip
    pairs = [(tok.encode(s), None, -100) for s in SST2("train").sentences[: cfg.n_mask_sentences]]
    totals = {"eligible": 0, "selected": 0, "masked": 0, "replaced": 0, "kept": 0}
    special = dict(cls_id=CLS, sep_id=SEP, pad_id=PAD, max_len=cfg.max_len)
    for _ in range(cfg.mask_repeats):
        for i in range(0, len(pairs), 1024):
            original = pad_pairs(pairs[i : i + 1024], **special)["input_ids"]  # (B, T)
            batch = coll(pairs[i : i + 1024])
            totals["eligible"] += int((original >= 5).sum())  # words other than <unk>
            stats = masking_statistics(original, batch["input_ids"], batch["labels"], MASK)
            for key, val in stats.items():
                totals[key] += val
    n, k = totals["eligible"], totals["selected"]
    expected = {"masked": 0.8, "replaced": 0.1 * (1 - 1 / v), "kept": 0.1 + 0.1 / v}
    out = {f"mask_{key}": val for key, val in totals.items()}
    out["mask_selected_fraction"], out["mask_selected_z"] = k / n, z_score(k, n, 0.15)
    for key, p in expected.items():
        out[f"mask_{key}_fraction"] = totals[key] / k
        out[f"mask_{key}_z"] = z_score(totals[key], k, p)
    return out


@torch.no_grad()
def heldout_mlm_loss(model: nn.Module, data: TensorDataset, vocab: int, seed: int) -> float:
    """Masked-token cross-entropy (nats) on ``data`` with masks fixed by ``seed``, eval mode."""
    model.eval()
    g = torch.Generator().manual_seed(seed)
    total, count = 0.0, 0
    x_all, mask_all = data.tensors[0], data.tensors[1]
    for i in range(0, len(x_all), 256):
        m = mask_all[i : i + 256]
        x, mask = common.trim(x_all[i : i + 256], m, mask=m)
        inputs, labels = mask_tokens(x, x >= 5, mask_id=MASK, vocab_size=vocab, generator=g)
        logits, _ = model.pretraining_logits(inputs, None, mask)
        sel = labels != IGNORE_INDEX
        total += float(F.cross_entropy(logits[sel], labels[sel], reduction="sum"))
        count += int(sel.sum())
    return total / count


class DistilTask(Task):
    """Student on soft targets (T), hard labels and the teacher's hidden directions."""

    def __init__(self, student: BERT, teacher: BERT, cfg: Config) -> None:
        super().__init__()
        self.model, self._teacher, self.cfg = student, [teacher.eval()], cfg  # teacher not a child

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        x, mask, y = batch
        x, mask = common.trim(x, mask, mask=mask)
        teacher, c, keep = self._teacher[0], self.cfg, mask.bool()
        with torch.no_grad():
            ht = teacher(x, None, mask)
            t_logits = teacher.classifier(teacher.pooled(ht))
        hs = self.model(x, None, mask)
        s_logits = self.model.classifier(self.model.drop(self.model.pooled(hs)))
        soft = c.temperature**2 * soft_cross_entropy(s_logits, t_logits, c.temperature)
        hard, cos = F.cross_entropy(s_logits, y), cosine_loss(hs[keep], ht[keep])
        loss = c.alpha * soft + c.beta * hard + c.gamma * cos
        acc = (s_logits.argmax(-1) == y).float().mean()
        return loss, {"accuracy": acc, "soft_ce": soft.detach(), "cosine": cos.detach()}


def _model(cfg: Config, vocab: int, kind: str) -> nn.Module:
    common = dict(vocab_size=vocab, hidden=cfg.hidden, layers=cfg.layers, heads=cfg.heads,
                  intermediate=cfg.intermediate, max_len=cfg.max_len, pad_id=PAD)  # fmt: skip
    if kind == "albert":
        return ALBERT(**common, embedding=cfg.embedding, sop_head=False)
    if kind == "bert":
        return BERT(**common, dropout=cfg.dropout, attn_dropout=cfg.dropout, nsp_head=False)
    return BERT(**common, dropout=cfg.dropout, attn_dropout=cfg.dropout, num_labels=2)


def _train(
    task: Task, cfg: Config, engine: EngineConfig, ctx: RunContext, name: str,
    train: TensorDataset, val: TensorDataset | None = None,
) -> float:  # fmt: skip
    """Train ``task.model`` in sub-run ``name``; the accuracy on ``val`` (NaN without)."""
    with ctx.child(name) as sub:
        fit(task, common.adamw(task.model, cfg.lr, cfg.weight_decay), train, cfg=engine, ctx=sub)
    return float("nan") if val is None else evaluate(task, val, device=ctx.device)["val_accuracy"]


def _masking_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    zs = [m[f"mask_{k}_z"] for k in ("selected", "masked", "replaced", "kept")]
    return max(abs(z) for z in zs) <= 5.0, (
        f"{m['mask_selected']} of {m['mask_eligible']} eligible SST-2 tokens selected "
        f"({100 * m['mask_selected_fraction']:.3f}%, z = {zs[0]:+.2f}); of them "
        f"{100 * m['mask_masked_fraction']:.2f}% [MASK] (z = {zs[1]:+.2f}), "
        f"{100 * m['mask_replaced_fraction']:.2f}% random (z = {zs[2]:+.2f}), "
        f"{100 * m['mask_kept_fraction']:.2f}% kept (z = {zs[3]:+.2f}); bound |z| <= 5"
    )


def _albert_size_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    return m["parameter_ratio"] >= 2.0, (
        f"BERT {m['bert_parameters']:,} vs ALBERT {m['albert_parameters']:,} parameters: "
        f"{m['parameter_ratio']:.2f}x fewer (threshold 2x)"
    )


def _seeds_short(m: dict[str, Any]) -> str:
    n = len(m["seeds"])
    return "" if n >= MIN_SEEDS else f"not measured: needs >= {MIN_SEEDS} seeds, ran {n}; "


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.4f}" for v in values)


def _albert_cost_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    b, a = m["bert_heldout_mlm_loss_seeds"], m["albert_heldout_mlm_loss_seeds"]
    head = (
        f"held-out masked-token loss after {m['mlm_steps']} steps each: ALBERT "
        f"{m['albert_heldout_mlm_loss']:.3f} vs BERT {m['bert_heldout_mlm_loss']:.3f} nats "
        f"(means, {100 * (m['albert_heldout_mlm_loss'] / m['bert_heldout_mlm_loss'] - 1):+.1f}%;"
        f" per seed {_fmt(a)} vs {_fmt(b)}); threshold +10%"
    )
    if short := _seeds_short(m):
        return False, short + head
    c = compare_seeds(a, [1.10 * v for v in b], higher_is_better=False, label_x="ALBERT",
                      label_y="1.10 x BERT")  # fmt: skip
    return c.holds, f"{head}; {c.evidence()}"


def _distil_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    s, t = m["student_dev_accuracy_seeds"], m["teacher_dev_accuracy_seeds"]
    head = (
        f"teacher ({m['teacher_parameters']:,} parameters) dev accuracy "
        f"{m['teacher_dev_accuracy']:.4f}; distilled half-depth student "
        f"({m['student_parameters']:,}) {m['student_dev_accuracy']:.4f} = "
        f"{100 * m['student_retained_fraction']:.1f}% of it (means; per seed {_fmt(s)} vs "
        f"{_fmt(t)}; threshold 97%); the same student on hard labels only "
        f"{m['student_hard_labels_dev_accuracy']:.4f}"
    )
    if short := _seeds_short(m):
        return False, short + head
    c = compare_seeds(s, [0.97 * v for v in t], label_x="student", label_y="0.97 x teacher",
                      unit="points")  # fmt: skip
    return c.holds, f"{head}; {c.evidence()}"


CLAIMS = (
    Claim("mlm-masking-15-80-10-10", "BERT's masked LM selects 15% of the tokens and replaces a "
          "selected token by [MASK] 80% of the time, by a random token 10% and keeps it 10% "
          "(Devlin et al. Sec. 3.1); holds if each count on SST-2 text is within 5 binomial "
          "standard deviations.", _masking_verdict),
    Claim("albert-fewer-parameters", "ALBERT's factorized embeddings and cross-layer sharing cut "
          "the parameters of a BERT of the same width and depth (Lan et al. Table 1); holds if "
          "BERT has >= 2x as many.", _albert_size_verdict),
    Claim("albert-small-cost", "The parameter reduction costs little quality (Lan et al. Tables "
          "3-4: sharing loses a few points); holds if ALBERT's held-out masked-LM loss after the "
          "same steps on the same batches is at most 10% above BERT's (one-sided 95% bound, "
          "paired over >= 3 training seeds).", _albert_cost_verdict),
    Claim("distilbert-retains-97-percent", "A student with half the layers, initialised from "
          "every other teacher layer and trained on soft targets + hard labels + hidden-state "
          "cosine, keeps 97% of the teacher's performance (Sanh et al. 2019); holds if its SST-2 "
          "dev accuracy is >= 0.97x the teacher's (one-sided 95% bound, paired over >= 3 "
          "training seeds).", _distil_verdict),
)  # fmt: skip


@experiment(
    "bert-claims", topic="transformer", config=Config, presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS, paper="Devlin et al. 2019, arXiv:1810.04805; Lan et al. 2019, "
    "arXiv:1909.11942; Sanh et al. 2019, arXiv:1910.01108",
)  # fmt: skip
def run(cfg: Config, ctx: RunContext) -> Result:
    """Masking statistics on SST-2; ALBERT vs BERT parameters and MLM loss; DistilBERT student."""
    tok = common.build_tokenizer(cfg.vocab_size)
    vocab = tok.vocab_size
    m: dict[str, Any] = masking_measurement(cfg, tok, ctx.seed)
    train = common.sst2_set("train", tok, cfg.max_len, cfg.n_train)
    dev = common.sst2_set("dev", tok, cfg.max_len)
    x, mask, _ = train.tensors
    mlm_train = TensorDataset(x, torch.zeros_like(x), mask, torch.full((len(x),), IGNORE_INDEX))
    seeds, per, students = list(range(ctx.seed, ctx.seed + cfg.n_seeds)), {}, []
    with common.num_threads(cfg.threads):
        for seed in seeds:
            with ctx.child(f"seed{seed}", seed=seed) as run:
                # held-out masks fixed by the base seed: every seed is scored on the same masks
                one, student, sizes = _one_seed(cfg, run, vocab, (train, mlm_train, dev), ctx.seed)
            for key, value in one.items():
                per.setdefault(key, []).append(value)
            students.append(student)
    m.update({f"{k}_seeds": v for k, v in per.items()})
    m.update({k: sum(v) / len(v) for k, v in per.items()}, seeds=seeds, **sizes)
    m.update(parameter_ratio=m["bert_parameters"] / m["albert_parameters"],
             student_retained_fraction=m["student_dev_accuracy"] / m["teacher_dev_accuracy"],
             mlm_steps=cfg.mlm.max_steps)  # fmt: skip
    return Result(metrics=m, model=students[0])


def _one_seed(
    cfg: Config, ctx: RunContext, vocab: int, data: tuple[TensorDataset, ...], mask_seed: int
) -> tuple[dict[str, float], nn.Module, dict[str, int]]:
    """(b) and (c) from ``ctx.seed``: the numbers, the distilled student, the parameter counts."""
    train, mlm_train, dev = data
    m, sizes = {}, {}
    for kind in ("bert", "albert"):  # (b): the same initial seed and batches
        torch.manual_seed(ctx.seed)
        model = _model(cfg, vocab, kind).to(ctx.device)
        _train(MLMTask(model, vocab), cfg, cfg.mlm, ctx, f"mlm_{kind}", mlm_train)
        sizes[f"{kind}_parameters"] = count_params(model)
        m[f"{kind}_heldout_mlm_loss"] = heldout_mlm_loss(model, dev, vocab, mask_seed)
    torch.manual_seed(ctx.seed)  # (c)
    teacher = _model(cfg, vocab, "classifier").to(ctx.device)
    m["teacher_dev_accuracy"] = _train(SST2Task(teacher), cfg, cfg.distil, ctx, "teacher", train,
                                       dev)  # fmt: skip
    student = student_from_teacher(teacher.eval()).train()
    control = student_from_teacher(teacher).train()
    m["student_dev_accuracy"] = _train(DistilTask(student, teacher, cfg), cfg, cfg.distil, ctx,
                                       "student_distilled", train, dev)  # fmt: skip
    m["student_hard_labels_dev_accuracy"] = _train(SST2Task(control), cfg, cfg.distil, ctx,
                                                   "student_hard_labels", train, dev)  # fmt: skip
    sizes.update(teacher_parameters=count_params(teacher), student_parameters=count_params(student))
    return m, student, sizes
