"""Experiment ``long-range-models``: LSTM, GRU, S4 (HiPPO vs random) and a transformer compared.

One generated task, *delayed recall*: a sequence of ``length`` symbols from ``num_symbols``
whose first symbol is the label; every later symbol is random noise, and the answer is read
at the last position (chance ``1 / num_symbols``). The dependency spans the whole sequence.
Each model is built at a comparable size (the parameter counts are reported), trained
through the engine on the same data with the same budget for every seed, and scored on
held-out sequences:

* ``lstm`` / ``gru``: replearn's LSTM / GRU (:mod:`replearn.sequence.rnn`), an embedding, the
  output of the last step into a linear head (same hidden size: the GRU has 3/4 of the LSTM's
  recurrent parameters);
* ``s4-hippo`` / ``s4-random``: :class:`~replearn.sequence.ssm.S4Model` (S4D layers, the last
  position into the head) with the S4D-LegS initialization (the diagonal part of HiPPO-LegS)
  or a random one: :math:`\\lambda_n = -|a_n| + i b_n`, :math:`B_n = c_n`, with
  :math:`a, b \\sim N(0, 1)` and :math:`c \\sim CN(0, 1)` i.i.d. (the S4 paper's "random"
  ablation, Sec. 4.4, made diagonal; the real part is kept negative for stability), the same
  step sizes Δ;
* ``transformer``: a GPT (:mod:`replearn.transformer.gpt`) reading the symbols, the logits of
  the last position.

Claims (each over ``seeds``, paired by seed; per-seed numbers in the metrics):

* ``gru-matches-lstm``: on the short task the GRU's accuracy is within ``parity_tolerance`` of
  the LSTM's (the 90% interval of the paired difference lies inside ±tolerance), with fewer
  parameters (Chung et al. 2014, arXiv:1412.3555; Jozefowicz et al. 2015).
* ``s4-hippo-beats-random``: on the long task S4 with HiPPO initialization beats the same S4
  with random initialization.
* ``s4-beats-lstm-long``: on the long task S4 (HiPPO) beats the LSTM.
* ``transformer-beats-rnn-long-range``: on the long task the transformer beats the LSTM, and
  trains faster (the RNN's L sequential steps vs the transformer's one parallel pass), checked
  on intervals (:func:`time_updates`: every (model, length) update once per round in
  ``timing_rounds`` paired rounds, :func:`~replearn.experiments.stats.time_rounds`): at every
  measured length the 95% interval of the median paired ratio t(transformer) / t(LSTM) lies
  below 1, and the LSTM's time grows faster from the shortest to the longest length (the
  interval of the per-round ratio of the two growth factors lies above 1). Measured on one CPU
  thread, which understates the transformer's advantage on parallel hardware.

Writes ``long_range_accuracy.png`` and ``long_range_update_time.png``.

replearn run long-range-models
replearn run long-range-models --preset quick
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from replearn.engine import ClassificationTask, EngineConfig, RunContext
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import count_params, predict, seeded, train_variant
from replearn.experiments.sequence.rnn_common import SequenceModel
from replearn.experiments.stats import (
    TimeRatio,
    compare_seeds,
    ratio_growth,
    time_ratio,
    time_rounds,
)
from replearn.report.plots import CURVE_FIGSIZE, DPI, save_figure
from replearn.sequence.ssm.s4_model import S4Model
from replearn.transformer.gpt import GPT

KINDS = ("lstm", "gru", "s4-hippo", "s4-random", "transformer")


@dataclass(frozen=True)
class Config:
    """Settings of the long-range comparison.

    Attributes:
        short_length: sequence length of the short task (GRU vs LSTM).
        long_length: sequence length of the long task (S4, LSTM, transformer).
        num_symbols: alphabet and classes (chance ``1 / num_symbols``).
        hidden: width of every model (RNN state, S4 channels, transformer embedding).
        s4_layers, s4_state: S4 blocks and the state size N of each SSM.
        gpt_layers, gpt_heads: transformer blocks and heads.
        n_train, n_test: training and test sequences per task.
        lr: AdamW learning rate (no weight decay), every model.
        seeds: training seeds (>= 3).
        parity_tolerance: GRU ~ LSTM when the difference's 90% interval is inside ±this.
        timing_lengths: lengths at which a training update is timed (LSTM vs transformer).
        timing_rounds: paired timing rounds (every model and length once per round, after one
            warm-up round); a 95% interval needs >= 6.
        engine: updates and batch of every training run.
    """

    short_length: int = 16
    long_length: int = 128
    num_symbols: int = 8
    hidden: int = 32
    s4_layers: int = 2
    s4_state: int = 16
    gpt_layers: int = 1
    gpt_heads: int = 2
    n_train: int = 4000
    n_test: int = 1000
    lr: float = 3e-3
    seeds: tuple[int, ...] = (0, 1, 2)
    parity_tolerance: float = 0.05
    timing_lengths: tuple[int, ...] = (32, 128, 512)
    timing_rounds: int = 15
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=400, batch_size=32, log_every=50, checkpoint_every=0, progress=False
        )
    )

    def __post_init__(self) -> None:
        if self.short_length < 2 or self.long_length < self.short_length:
            raise ValueError("need 2 <= short_length <= long_length")
        if len(self.seeds) < 3:
            raise ValueError("the verdicts need >= 3 seeds")
        if self.hidden % self.gpt_heads or self.s4_state % 2:
            raise ValueError("gpt_heads must divide hidden and s4_state must be even")


def tiny() -> Config:
    """Seconds: lengths 8 and 16, 3 updates, small timing."""
    return Config(
        short_length=8, long_length=16, hidden=8, s4_layers=1, s4_state=4, n_train=64,
        n_test=32, timing_lengths=(8, 16), timing_rounds=1,
        engine=EngineConfig(max_steps=3, batch_size=16, log_every=3, checkpoint_every=0,
                            progress=False),
    )  # fmt: skip


def quick() -> Config:
    """Seconds: lengths 8 and 32, 25 updates (a smoke check)."""
    return Config(
        short_length=8, long_length=32, hidden=16, s4_layers=1, s4_state=8, n_train=1000,
        n_test=300, timing_lengths=(16, 64), timing_rounds=6,
        engine=EngineConfig(max_steps=25, batch_size=32, log_every=5, checkpoint_every=0,
                            progress=False),
    )  # fmt: skip


def delayed_recall(n: int, length: int, num_symbols: int, seed: int) -> TensorDataset:
    """Random symbol sequences labelled by their first symbol.

    Shape:
        -> x (n, length) int64, y (n,) int64 with ``y == x[:, 0]``.
    """
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(0, num_symbols, (n, length), generator=gen)
    return TensorDataset(x, x[:, 0].clone())


class LastStep(nn.Module):
    """Logits of a sequence model's last position: (B, L) -> (B, K)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        out = self.model(x)
        return (out[0] if isinstance(out, tuple) else out)[:, -1]


def randomize_s4(model: S4Model, generator: torch.Generator) -> S4Model:
    """Replace every S4D kernel's HiPPO initialization of Λ and B by the random one."""
    with torch.no_grad():
        for block in model.blocks:
            k = block.s4.kernel
            shape = k.im.shape  # (H, N/2)
            a = torch.randn(shape, generator=generator).abs().clamp(min=1e-4)
            k.log_neg_re.copy_(torch.log(a))
            k.im.copy_(torch.randn(shape, generator=generator))
            c = torch.randn((*shape, 2), generator=generator) / 2**0.5
            k.B.copy_(c)
    return model


def build(kind: str, cfg: Config, length: int) -> nn.Module:
    """One model of ``KINDS`` for sequences of ``length`` symbols."""
    k, h = cfg.num_symbols, cfg.hidden
    if kind in ("lstm", "gru"):
        return LastStep(SequenceModel(kind, input_size=h, hidden_size=h, output_size=k,
                                      vocab_size=k))  # fmt: skip
    if kind.startswith("s4"):
        model = S4Model(vocab_size=k, d_output=k, d_model=h, n_layers=cfg.s4_layers,
                        d_state=cfg.s4_state, pool="last")  # fmt: skip
        if kind == "s4-random":
            randomize_s4(model, torch.Generator().manual_seed(int(torch.randint(0, 2**31, ()))))
        return model
    if kind == "transformer":
        return LastStep(GPT(n_layer=cfg.gpt_layers, n_head=cfg.gpt_heads, n_embd=h,
                            block_size=max(length, *cfg.timing_lengths), vocab_size=k))  # fmt: skip
    raise ValueError(f"unknown kind {kind!r}")


def train_kind(cfg: Config, kind: str, length: int, seed: int, ctx: RunContext) -> float:
    """Train one model on one task length in a child run; its test accuracy."""
    train = delayed_recall(cfg.n_train, length, cfg.num_symbols, seed=1000 + seed)
    test = delayed_recall(cfg.n_test, length, cfg.num_symbols, seed=2000 + seed)
    model = seeded(lambda: build(kind, cfg, length), seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    train_variant(ctx, f"{kind}-L{length}", ClassificationTask(model), opt, train,
                  engine=cfg.engine, seed=seed)  # fmt: skip
    pred = predict(model, test).argmax(-1)
    return float((pred == test.tensors[1]).float().mean())


def time_updates(cfg: Config) -> dict[str, Any]:
    """One training update (forward, backward, AdamW) of the LSTM and the GPT at every length.

    Every (model, length) update runs once per round, in ``cfg.timing_rounds`` paired rounds
    (:func:`~replearn.experiments.stats.time_rounds`, one warm-up round). Returns
    ``<kind>_update_ms`` (medians per length), ``timing_ratios`` (t(transformer) / t(LSTM) per
    length, :class:`~replearn.experiments.stats.TimeRatio` dicts) and ``lstm_growth_ratio``:
    the median over rounds of the LSTM's growth factor t(L_max) / t(L_min) over the
    transformer's, with its 95% sign-test interval (``lo``/``hi``; None with < 6 rounds).
    """
    kinds, ns = ("lstm", "transformer"), cfg.timing_lengths
    models = {kind: seeded(lambda kind=kind: build(kind, cfg, max(ns)), 0) for kind in kinds}
    opts = {kind: torch.optim.AdamW(m.parameters(), lr=cfg.lr) for kind, m in models.items()}
    data = {n: delayed_recall(cfg.engine.batch_size, n, cfg.num_symbols, seed=n).tensors
            for n in ns}  # fmt: skip

    def update(kind: str, n: int) -> None:
        loss = nn.functional.cross_entropy(models[kind](data[n][0]), data[n][1])
        opts[kind].zero_grad()
        loss.backward()
        opts[kind].step()

    times = time_rounds({f"{kind}_L{n}": lambda kind=kind, n=n: update(kind, n)
                         for n in ns for kind in kinds}, cfg.timing_rounds, warmup=1)  # fmt: skip
    out: dict[str, Any] = {
        f"{kind}_update_ms": [1e3 * statistics.median(times[f"{kind}_L{n}"]) for n in ns]
        for kind in kinds
    }
    out["timing_ratios"] = [
        time_ratio(times, f"transformer_L{n}", f"lstm_L{n}").as_dict() for n in ns
    ]
    lo_n, hi_n = ns[0], ns[-1]
    out["lstm_growth_ratio"] = ratio_growth(  # (LSTM's growth L_min -> L_max) / transformer's
        times, f"lstm_L{hi_n}", f"transformer_L{hi_n}", f"lstm_L{lo_n}", f"transformer_L{lo_n}"
    )
    out["timing_rounds"] = cfg.timing_rounds
    return out


def _acc(m: dict[str, Any], kind: str, task: str) -> list[float]:
    return m[f"{kind}_{task}_accuracy"]


def _gru_lstm(m: dict[str, Any]) -> tuple[bool, str]:
    gru, lstm = _acc(m, "gru", "short"), _acc(m, "lstm", "short")
    tol = m["parity_tolerance"]
    c = compare_seeds(gru, lstm, label_x="GRU", label_y="LSTM", unit="points", confidence=0.95)
    # two one-sided bounds at 95% = a 90% interval for the difference
    c_rev = compare_seeds(lstm, gru, label_x="LSTM", label_y="GRU", unit="points")
    lo, hi = c.lower, -c_rev.lower
    fewer = m["gru_params"] < m["lstm_params"]
    ok = -tol < lo and hi < tol and fewer
    return ok, (
        f"short task (L = {m['short_length']}): GRU {statistics.mean(gru):.3f}, LSTM "
        f"{statistics.mean(lstm):.3f}; {c.evidence()}; 90% interval of GRU - LSTM "
        f"[{100 * lo:+.2f}, {100 * hi:+.2f}] points, inside ±{100 * tol:.0f}: "
        f"{-tol < lo and hi < tol}; parameters GRU {m['gru_params']} vs LSTM {m['lstm_params']}"
    )


def _beats(x: str, y: str) -> Any:
    def verdict(m: dict[str, Any]) -> tuple[bool, str]:
        c = compare_seeds(_acc(m, x, "long"), _acc(m, y, "long"), label_x=x, label_y=y,
                          unit="points")  # fmt: skip
        return c.holds, (
            f"long task (L = {m['long_length']}, chance {1 / m['num_symbols']:.3f}): {x} "
            f"{statistics.mean(_acc(m, x, 'long')):.3f} ({m[f'{x}_params']} params), {y} "
            f"{statistics.mean(_acc(m, y, 'long')):.3f} ({m[f'{y}_params']} params); "
            f"{c.evidence()}"
        )

    return verdict


def timing_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    """The "trains faster" part: every length's interval below 1, the LSTM's growth above 1."""
    ns, ratios = m["timing_lengths"], [TimeRatio(**d) for d in m["timing_ratios"]]
    g = m["lstm_growth_ratio"]
    faster = all(r.below(1.0) for r in ratios)
    grows = g["lo"] is not None and g["lo"] > 1.0
    ci = "no 95% interval" if g["lo"] is None else f"95% interval {g['lo']:.3g}-{g['hi']:.3g}"
    per = "; ".join(f"L={n}: {r.evidence()}" for n, r in zip(ns, ratios, strict=True))
    return faster and grows, (
        f"update time, transformer over LSTM: {per} (every interval below 1: {faster}); the "
        f"LSTM's growth from L={ns[0]} to L={ns[-1]} over the transformer's: "
        f"x{g['ratio']:.3g} ({ci}, {g['rounds']} rounds; above 1: {grows})"
    )


def _transformer(m: dict[str, Any]) -> tuple[bool, str]:
    acc_ok, acc_ev = _beats("transformer", "lstm")(m)
    time_ok, time_ev = timing_verdict(m)
    return acc_ok and time_ok, f"{acc_ev}; {time_ev}"


CLAIMS = (
    Claim("gru-matches-lstm", "A GRU performs on par with an LSTM of the same hidden size, "
          "with fewer parameters.", _gru_lstm, "long_range_accuracy.png"),
    Claim("s4-hippo-beats-random", "HiPPO initialization of S4 beats random initialization "
          "on a long-range task.", _beats("s4-hippo", "s4-random"), "long_range_accuracy.png"),
    Claim("s4-beats-lstm-long", "S4 beats an LSTM of the same width on long sequences "
          "(parameter counts in the evidence).",
          _beats("s4-hippo", "lstm"), "long_range_accuracy.png"),
    Claim("transformer-beats-rnn-long-range", "At equal width (the transformer's position table "
          "gives it more parameters, in the evidence) a transformer learns a long-range "
          "dependency better than an RNN and trains faster: its update is one parallel pass, "
          "the RNN's L sequential steps (time: the 95% interval of the paired ratio "
          "t(transformer) / t(LSTM) below 1 at every measured length, and the LSTM's growth "
          "factor over the transformer's above 1).", _transformer,
          "long_range_update_time.png"),
)  # fmt: skip


def _plot_accuracy(path: Any, m: dict[str, Any]) -> Any:
    fig, ax = plt.subplots(figsize=CURVE_FIGSIZE, dpi=DPI)
    rows = [("lstm", "short"), ("gru", "short")] + [(k, "long") for k in KINDS if k != "gru"]
    for i, (kind, task) in enumerate(rows):
        accs = _acc(m, kind, task)
        ax.bar(i, statistics.mean(accs), color="C1" if task == "short" else "C0")
        ax.scatter([i] * len(accs), accs, color="k", s=8, zorder=3)
    ax.axhline(1 / m["num_symbols"], color="0.5", ls=":", label="chance")
    ax.set_xticks(range(len(rows)), [f"{k}\nL={m[f'{t}_length']}" for k, t in rows],
                  fontsize="small")  # fmt: skip
    ax.set_ylabel("test accuracy (bars: mean, dots: seeds)")
    ax.set_title("delayed recall of the first symbol")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


def _plot_time(path: Any, m: dict[str, Any]) -> Any:
    fig, ax = plt.subplots(figsize=CURVE_FIGSIZE, dpi=DPI)
    for kind in ("lstm", "transformer"):
        ax.plot(m["timing_lengths"], m[f"{kind}_update_ms"], marker="o", label=kind)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length L")
    ax.set_ylabel("median time of one training update (ms)")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


@experiment(
    "long-range-models",
    topic="sequence",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Chung et al. 2014, arXiv:1412.3555; Gu, Goel & Ré 2022, arXiv:2111.00396; "
    "Vaswani et al. 2017, arXiv:1706.03762",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Delayed recall: GRU vs LSTM (short), S4 HiPPO/random, LSTM, transformer (long)."""
    m: dict[str, Any] = {
        "short_length": cfg.short_length, "long_length": cfg.long_length,
        "num_symbols": cfg.num_symbols, "parity_tolerance": cfg.parity_tolerance,
        "seeds": list(cfg.seeds), "timing_lengths": list(cfg.timing_lengths),
    }  # fmt: skip
    plan = [("lstm", "short"), ("gru", "short")] + [(k, "long") for k in KINDS if k != "gru"]
    with single_thread():
        for kind, task in plan:
            length = cfg.short_length if task == "short" else cfg.long_length
            accs = [train_kind(cfg, kind, length, s, ctx) for s in cfg.seeds]
            m[f"{kind}_{task}_accuracy"] = accs
            m[f"{kind}_params"] = count_params(build(kind, cfg, length))
            ctx.log(len(m), **{f"{kind}_{task}_accuracy": statistics.mean(accs)})
        m.update(time_updates(cfg))
    plots = [_plot_accuracy(ctx.path("long_range_accuracy.png"), m),
             _plot_time(ctx.path("long_range_update_time.png"), m)]  # fmt: skip
    return Result(metrics=m, plots=plots)
