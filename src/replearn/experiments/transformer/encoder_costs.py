"""Experiment ``encoder-costs``: DistilBERT's speed-up, and ELMo's cost on long sequences.

Two timing claims, measured on replearn's own modules with random weights (time does not
depend on the weights), on one CPU thread. Every configuration runs once per round, all in one
set of ``rounds`` paired rounds (:func:`~replearn.experiments.stats.time_rounds`, the order
reversing from round to round), so a change of machine load hits all alike; each verdict reads
the median over rounds of a paired time ratio and its distribution-free 95% interval
(:func:`~replearn.experiments.stats.time_ratio`): a claim holds only when the whole interval
lies on its side of the threshold, so a noisy machine makes it fail, not flip.

* DistilBERT (Sanh et al. 2019, arXiv:1910.01108, Table 3: "60% faster", 410 s vs 668 s of
  inference, a ratio of 0.61) halves BERT's layers at the same width. Here: the inference time
  of a 6-layer :class:`~replearn.transformer.bert.BERT` encoder over that of the 12-layer one of
  the same width, on a batch of ``batch_size`` sequences of ``distil_length`` tokens. Claim
  ``distilbert-faster``: the 95% interval of the ratio lies below ``distil_max_ratio`` (0.65:
  "about 60% faster").
  (Its accuracy, 97% of the teacher's, is the claim ``distilbert-retains-97-percent`` of
  ``bert-claims``.)
* ELMo (Peters et al. 2018, arXiv:1802.05365) runs two LSTM stacks over the sequence, L
  sequential steps; a transformer encoder processes all positions in one pass per layer. Here:
  the time of one training step (forward and backward) of ELMo's two LSTM stacks
  (:class:`~replearn.sequence.rnn.elmo.BiLM`, without its softmax) over that of a BERT
  encoder with as many layers (parameter counts reported; at equal width the transformer has
  more), at each length in ``lengths``. Claim
  ``elmo-slower-on-long-sequences``, restated as checked: at the longest length the interval of
  ELMo's time over the transformer's lies above 1, and that ratio grows with the length: for
  each pair of adjacent lengths the per-round ratio of the two ratios has its interval above 1.
  (On one CPU thread; on a GPU the transformer's parallel pass gains more.)

Writes ``encoder_costs.png``.

replearn run encoder-costs
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import matplotlib.pyplot as plt
import torch
from torch import nn

from replearn.engine import RunContext
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import count_params
from replearn.experiments.stats import (
    TimeRatio,
    ratio_growth,
    time_ratio,
    time_rounds,
)
from replearn.report.plots import DPI, save_figure
from replearn.sequence.rnn.elmo import BiLM
from replearn.transformer.bert import BERT


@dataclass(frozen=True)
class Config:
    """Settings of the timing experiment.

    Attributes:
        width: hidden size of every encoder (BERT hidden, ELMo LSTM state per direction).
        heads: attention heads of the BERT encoders.
        vocab_size: token vocabulary.
        batch_size: sequences per timed call.
        distil_length: tokens per sequence for the 6- vs 12-layer comparison.
        distil_max_ratio: the 6-layer time over the 12-layer time must be at most this.
        elmo_layers: LSTM layers per direction of ELMo, and layers of its BERT counterpart.
        lengths: sequence lengths of the ELMo comparison.
        rounds: paired timing rounds (every configuration once per round, after one warm-up
            round); the 95% interval of a median ratio needs >= 6.
    """

    width: int = 128
    heads: int = 4
    vocab_size: int = 1000
    batch_size: int = 8
    distil_length: int = 128
    distil_max_ratio: float = 0.65
    elmo_layers: int = 2
    lengths: tuple[int, ...] = (32, 128, 512)
    rounds: int = 15

    def __post_init__(self) -> None:
        if self.width % self.heads or self.rounds < 1 or len(self.lengths) < 2:
            raise ValueError("heads must divide width; need rounds >= 1 and >= 2 lengths")


def tiny() -> Config:
    """Seconds: narrow encoders, short sequences, one round (no 95% interval: verdicts fail)."""
    return Config(width=16, heads=2, vocab_size=50, batch_size=2, distil_length=16,
                  lengths=(8, 16), rounds=1)  # fmt: skip


def quick() -> Config:
    """About 30 s: a narrower width, lengths 32 and 256, six rounds (the fewest for 95%)."""
    return Config(width=64, distil_length=64, lengths=(32, 256), rounds=6)


def _bert(cfg: Config, layers: int, max_len: int) -> BERT:
    return BERT(vocab_size=cfg.vocab_size, hidden=cfg.width, layers=layers, heads=cfg.heads,
                intermediate=4 * cfg.width, max_len=max_len, dropout=0.0, attn_dropout=0.0,
                pooler=False, mlm_head=False, nsp_head=False)  # fmt: skip


def _elmo_step(model: BiLM, ids: torch.Tensor) -> None:
    _, fwd, bwd = model.directional_states(ids)  # the two LSTM stacks, no softmax
    (fwd[-1].square().mean() + bwd[-1].square().mean()).backward()


def _bert_step(model: BERT, ids: torch.Tensor) -> None:
    model(ids).square().mean().backward()


def timings(cfg: Config, seed: int) -> dict[str, Any]:
    """Every configuration timed in ``cfg.rounds`` paired rounds; medians, ratios, intervals.

    Returns ``<job>_s`` (median seconds per call), ``distil_ratio`` (:class:`~replearn.
    experiments.stats.TimeRatio` of 6 over 12 layers, as a dict), ``elmo_ratios`` (ELMo over
    the transformer at each length) and ``elmo_ratio_growth`` (:func:`ratio_growth` of each
    pair of adjacent lengths), parameter counts.
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    max_len = max(max(cfg.lengths), cfg.distil_length)
    models: dict[str, nn.Module] = {
        "bert12": _bert(cfg, 12, cfg.distil_length).eval(),
        "bert6": _bert(cfg, 6, cfg.distil_length).eval(),
        "elmo": BiLM(vocab_size=cfg.vocab_size, dim=cfg.width, num_layers=cfg.elmo_layers),
        "transformer": _bert(cfg, cfg.elmo_layers, max_len),
    }
    distil_ids = torch.randint(1, cfg.vocab_size, (cfg.batch_size, cfg.distil_length),
                               generator=gen)  # fmt: skip
    ids = {n: torch.randint(1, cfg.vocab_size, (cfg.batch_size, n), generator=gen)
           for n in cfg.lengths}  # fmt: skip

    def distil(name: str) -> None:
        with torch.no_grad():
            models[name](distil_ids)

    jobs: dict[str, Any] = {"bert12": lambda: distil("bert12"), "bert6": lambda: distil("bert6")}
    for n in cfg.lengths:
        jobs[f"elmo_L{n}"] = lambda n=n: _elmo_step(models["elmo"], ids[n])
        jobs[f"transformer_L{n}"] = lambda n=n: _bert_step(models["transformer"], ids[n])
    times = time_rounds(jobs, cfg.rounds, warmup=1)
    out: dict[str, Any] = {f"{k}_s": statistics.median(v) for k, v in times.items()}
    out["rounds"] = cfg.rounds
    out["distil_ratio"] = time_ratio(times, "bert6", "bert12").as_dict()
    out["elmo_ratios"] = [
        time_ratio(times, f"elmo_L{n}", f"transformer_L{n}").as_dict() for n in cfg.lengths
    ]
    out["elmo_ratio_growth"] = [
        ratio_growth(times, f"elmo_L{b}", f"transformer_L{b}", f"elmo_L{a}", f"transformer_L{a}")
        for a, b in pairwise(cfg.lengths)
    ]
    elmo = models["elmo"]
    out["elmo_params"] = sum(count_params(m) for m in (*elmo.forward_lstms, *elmo.backward_lstms))
    bert = models["transformer"]
    out["transformer_params"] = count_params(bert) - sum(
        p.numel() for n, p in bert.named_parameters() if n.endswith("_emb.weight")
    )
    return out


def _ci(d: dict[str, Any]) -> str:
    if d["lo"] is None:
        return f"x{d['ratio']:.3g} (no 95% interval, {d['rounds']} rounds)"
    return f"x{d['ratio']:.3g} (95% interval {d['lo']:.3g}-{d['hi']:.3g})"


def _distil(m: dict[str, Any]) -> tuple[bool, str]:
    r = TimeRatio(**m["distil_ratio"])
    thr = m["distil_max_ratio"]
    ok = r.below(thr)
    return ok, (
        f"inference on {m['batch_size']} x {m['distil_length']} tokens: 6 over 12 layers: "
        f"{r.evidence()}; DistilBERT's paper: 0.61; holds if the interval lies below {thr}: {ok}"
    )


def _elmo(m: dict[str, Any]) -> tuple[bool, str]:
    ns = m["lengths"]
    ratios = [TimeRatio(**d) for d in m["elmo_ratios"]]
    growth = m["elmo_ratio_growth"]
    slower = ratios[-1].above(1.0)
    grows = all(g["lo"] is not None and g["lo"] > 1.0 for g in growth)
    per = "; ".join(f"L={n}: {r.evidence()}" for n, r in zip(ns, ratios, strict=True))
    steps = ", ".join(
        f"L={a}->{b}: {_ci(g)}" for (a, b), g in zip(pairwise(ns), growth, strict=True)
    )
    return slower and grows, (
        f"training step, ELMo biLM ({m['elmo_params']} non-embedding params) over transformer "
        f"encoder ({m['transformer_params']}): {per}. Interval above 1 at L={ns[-1]}: {slower}; "
        f"growth of the ratio (per-round ratio of ratios) {steps}, every interval above 1: "
        f"{grows}"
    )


CLAIMS = (
    Claim("distilbert-faster", "DistilBERT (6 layers) runs about 60% faster than BERT "
          "(12 layers) of the same width.", _distil, "encoder_costs.png"),
    Claim("elmo-slower-on-long-sequences", "ELMo's biLSTM costs more than a transformer "
          "encoder of similar size on long sequences: its L steps are sequential. Checked as: "
          "at the longest length ELMo's training step takes longer (95% interval of the time "
          "ratio above 1) and the ratio grows from each length to the next.", _elmo,
          "encoder_costs.png"),
)  # fmt: skip


def _plot(path: Any, m: dict[str, Any]) -> Any:
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.0, 3.6), dpi=DPI)
    a1.bar([0, 1], [1e3 * m["bert12_s"], 1e3 * m["bert6_s"]], color=["C0", "C1"])
    a1.set_xticks([0, 1], ["12 layers", "6 layers"])
    a1.set_ylabel("inference time (ms)")
    for name in ("elmo", "transformer"):
        a2.plot(m["lengths"], [1e3 * m[f"{name}_L{n}_s"] for n in m["lengths"]], marker="o",
                label=name)  # fmt: skip
    a2.set_xscale("log", base=2)
    a2.set_yscale("log")
    a2.set_xlabel("sequence length")
    a2.set_ylabel("training step (ms)")
    a2.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


@experiment(
    "encoder-costs",
    topic="transformer",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Sanh et al. 2019, arXiv:1910.01108; Peters et al. 2018, arXiv:1802.05365",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Time: a 6- vs 12-layer BERT encoder, and ELMo's biLM vs a transformer over lengths."""
    with single_thread():
        m = timings(cfg, ctx.seed)
    m.update(batch_size=cfg.batch_size, distil_length=cfg.distil_length,
             distil_max_ratio=cfg.distil_max_ratio, lengths=list(cfg.lengths))  # fmt: skip
    ctx.log(0, **{k: v for k, v in m.items() if k.endswith("_s")})
    return Result(metrics=m, plots=[_plot(ctx.path("encoder_costs.png"), m)])
