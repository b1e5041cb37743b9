"""Experiment ``encoder-costs``: DistilBERT's speed-up, and ELMo's cost on long sequences.

Two timing claims, measured on replearn's own modules with random weights (time does not
depend on the weights), every configuration timed in an interleaved order so that a change of
machine load affects all alike, medians over ``repeats`` rounds, one CPU thread:

* DistilBERT (Sanh et al. 2019, arXiv:1910.01108, Table 3: "60% faster", 410 s vs 668 s of
  inference, a ratio of 0.61) halves BERT's layers at the same width. Here: the inference time
  of a 6-layer :class:`~replearn.transformer.bert.BERT` encoder over that of the 12-layer one of
  the same width, on a batch of ``batch_size`` sequences of ``distil_length`` tokens. Claim
  ``distilbert-faster``: the ratio is at most ``distil_max_ratio`` (0.65: "about 60% faster").
  (Its accuracy, 97% of the teacher's, is the claim ``distilbert-retains-97-percent`` of
  ``bert-claims``.)
* ELMo (Peters et al. 2018, arXiv:1802.05365) runs two LSTM stacks over the sequence, L
  sequential steps; a transformer encoder processes all positions in one pass per layer. Here:
  the time of one training step (forward and backward) of ELMo's two LSTM stacks
  (:class:`~replearn.sequence.rnn.elmo.BiLM`, without its softmax) over that of a BERT
  encoder with as many layers (parameter counts reported; at equal width the transformer has
  more), at each length in ``lengths``. Claim
  ``elmo-slower-on-long-sequences``: at the longest length ELMo takes longer than the
  transformer, and its ratio grows with the length. (On one CPU thread; on a GPU the
  transformer's parallel pass gains more.)

Writes ``encoder_costs.png``.

replearn run encoder-costs
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import torch
from torch import nn

from replearn.engine import RunContext
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import count_params
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
        repeats: timed rounds (medians are reported).
    """

    width: int = 128
    heads: int = 4
    vocab_size: int = 1000
    batch_size: int = 8
    distil_length: int = 128
    distil_max_ratio: float = 0.65
    elmo_layers: int = 2
    lengths: tuple[int, ...] = (32, 128, 512)
    repeats: int = 7

    def __post_init__(self) -> None:
        if self.width % self.heads or self.repeats < 1 or len(self.lengths) < 2:
            raise ValueError("heads must divide width; need repeats >= 1 and >= 2 lengths")


def tiny() -> Config:
    """Seconds: narrow encoders, short sequences, one round."""
    return Config(width=16, heads=2, vocab_size=50, batch_size=2, distil_length=16,
                  lengths=(8, 16), repeats=1)  # fmt: skip


def quick() -> Config:
    """About 20 s: a narrower width, lengths 32 and 256, three rounds."""
    return Config(width=64, distil_length=64, lengths=(32, 256), repeats=3)


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
    """Median seconds per call of every configuration, all timed in shuffled interleaved order."""
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
    times: dict[str, list[float]] = {k: [] for k in jobs}
    order = list(jobs)
    rng = random.Random(seed)
    for r in range(cfg.repeats + 1):  # round 0 warms up
        rng.shuffle(order)
        for k in order:
            t0 = time.perf_counter()
            jobs[k]()
            if r:
                times[k].append(time.perf_counter() - t0)
    out: dict[str, Any] = {f"{k}_s": statistics.median(v) for k, v in times.items()}
    elmo = models["elmo"]
    out["elmo_params"] = sum(count_params(m) for m in (*elmo.forward_lstms, *elmo.backward_lstms))
    bert = models["transformer"]
    out["transformer_params"] = count_params(bert) - sum(
        p.numel() for n, p in bert.named_parameters() if n.endswith("_emb.weight")
    )
    return out


def _distil(m: dict[str, Any]) -> tuple[bool, str]:
    ratio = m["bert6_s"] / m["bert12_s"]
    return ratio <= m["distil_max_ratio"], (
        f"inference on {m['batch_size']} x {m['distil_length']} tokens: 6 layers "
        f"{1e3 * m['bert6_s']:.1f} ms, 12 layers {1e3 * m['bert12_s']:.1f} ms, ratio {ratio:.3f} "
        f"(DistilBERT's paper: 0.61; holds at <= {m['distil_max_ratio']})"
    )


def _elmo(m: dict[str, Any]) -> tuple[bool, str]:
    ns = m["lengths"]
    ratios = [m[f"elmo_L{n}_s"] / m[f"transformer_L{n}_s"] for n in ns]
    per = ", ".join(
        f"L={n}: {1e3 * m[f'elmo_L{n}_s']:.1f} vs {1e3 * m[f'transformer_L{n}_s']:.1f} ms "
        f"(x{q:.2f})"
        for n, q in zip(ns, ratios, strict=True)
    )
    ok = ratios[-1] > 1 and ratios[-1] > ratios[0]
    return ok, (
        f"training step ELMo biLM ({m['elmo_params']} non-embedding params) vs transformer "
        f"encoder ({m['transformer_params']}): {per}; slower at the longest length and the "
        f"ratio grows: {ok}"
    )


CLAIMS = (
    Claim("distilbert-faster", "DistilBERT (6 layers) runs about 60% faster than BERT "
          "(12 layers) of the same width.", _distil, "encoder_costs.png"),
    Claim("elmo-slower-on-long-sequences", "ELMo's biLSTM costs more than a transformer "
          "encoder of similar size on long sequences: its L steps are sequential.", _elmo,
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
