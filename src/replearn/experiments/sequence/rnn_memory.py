"""Experiment ``rnn-memory``: gated RNNs (LSTM, GRU) remember where a vanilla RNN forgets.

The adding problem (Hochreiter & Schmidhuber 1997, exp. 4, in the form of Le et al.
2015, :class:`~replearn.data.sequences.AddingProblem`): a sequence of ``T`` values with
two marked positions, one in each half; the target is the sum of the two marked
values, read from the output at the last step. Predicting the mean (1) gives a mean
squared error of 1/6 ≈ 0.167, so a network that has not learnt to carry the first
marked value across ``T/2`` or more steps stays near 0.167.

For every length in ``lengths`` and every training seed in ``seeds`` (initial weights and
training sequences) a vanilla tanh RNN, an LSTM and a GRU with the same hidden size are
trained with the same optimizer (Adam, gradient-norm clipping), the same number of steps and
the same data order, one sub-run each (``rnn_T50_s0/``, ``lstm_T50_s0/``, ...); the test MSE
on one fixed set of held-out sequences is compared with the 0.167 baseline. A model *solves*
a length when its test MSE is below ``solved_mse`` and *fails* it when its MSE stays above
half the baseline; the claims need this on every seed.

Writes ``adding_mse.png`` (test MSE per model and length) and ``adding_curves.png``
(validation MSE during training).

replearn run rnn-memory                     # 18 networks: 526 s CPU, 12 min wall (load ~3)
replearn run rnn-memory --preset quick      # length 50 only, 3 seeds
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import TensorDataset

from replearn.data.sequences import AddingProblem
from replearn.engine import EngineConfig, RunContext, Task, evaluate, fit
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import engine_config
from replearn.experiments.sequence.rnn_common import SequenceModel, single_thread
from replearn.experiments.stats import too_few_seeds
from replearn.report.plots import CURVE_FIGSIZE, DPI, save_figure

BASELINE_MSE = 1.0 / 6.0
"""MSE of always predicting 1, the mean of the target (the variance of a sum of two U[0, 1])."""


def _engine(max_steps: int) -> EngineConfig:
    return engine_config(max_steps, 64, eval_every=max(max_steps // 10, 1), grad_clip_norm=1.0)


@dataclass(frozen=True)
class Config:
    """Settings of the adding-problem comparison.

    Attributes:
        lengths: sequence lengths T compared.
        kinds: recurrent networks compared (``rnn`` is the vanilla tanh RNN).
        hidden_size: state size of every network.
        n_train: training sequences per length.
        n_test: held-out sequences (validation during training and the final test MSE).
        lr: Adam learning rate.
        solved_mse: a model solves a length below this test MSE.
        seeds: training seeds (initial weights and training data; the claims need >= 3).
        engine: training-loop settings (each model; gradient-norm clipping at 1).
    """

    lengths: tuple[int, ...] = (50, 100)
    kinds: tuple[str, ...] = ("rnn", "lstm", "gru")
    hidden_size: int = 64
    n_train: int = 10_000
    n_test: int = 1000
    lr: float = 3e-3
    solved_mse: float = 0.01
    seeds: tuple[int, ...] = (0, 1, 2)
    engine: EngineConfig = field(default_factory=lambda: _engine(1500))

    def __post_init__(self) -> None:
        if not self.lengths or min(self.lengths) < 2:
            raise ValueError(f"lengths must be >= 2, got {self.lengths}")
        unknown = set(self.kinds) - {"rnn", "lstm", "gru"}
        if unknown or not self.kinds:
            raise ValueError(f"kinds must be among rnn, lstm, gru, got {self.kinds}")
        if not self.seeds:
            raise ValueError("need at least one seed")


def tiny() -> Config:
    """Seconds: short sequences, a few steps, one seed."""
    return Config(
        lengths=(10,), hidden_size=16, n_train=256, n_test=64, seeds=(0,), engine=_engine(10)
    )


def quick() -> Config:
    """Seconds: length 50 only, 40 steps, 1,000 training sequences, 3 seeds (a smoke check)."""
    return Config(lengths=(50,), n_train=1000, n_test=200, engine=_engine(40))


class AddingTask(Task):
    """MSE between the output at the last step and the sum of the two marked values."""

    def __init__(self, model: SequenceModel) -> None:
        super().__init__()
        self.model = model

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        x, y = batch  # (B, T, 2), (B, 1)
        out, _ = self.model(x)  # (B, T, 1)
        return F.mse_loss(out[:, -1], y), {}


def train_one(cfg: Config, kind: str, length: int, seed: int, ctx: RunContext) -> dict[str, Any]:
    """Train one network on one length from training seed ``seed`` in a sub-run; its test MSE
    (on the run's fixed test set, drawn from ``10_000 + ctx.seed``) and training time."""
    train = AddingProblem(cfg.n_train, seq_len=length, seed=seed)
    test = AddingProblem(cfg.n_test, seq_len=length, seed=10_000 + ctx.seed)
    torch.manual_seed(seed)  # the same initial-weight stream for every model of this seed
    model = SequenceModel(kind, input_size=2, hidden_size=cfg.hidden_size, output_size=1)  # type: ignore[arg-type]
    task = AddingTask(model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    val = TensorDataset(test.x, test.y)
    with ctx.child(f"{kind}_T{length}_s{seed}", seed=seed) as sub:
        loop = fit(task, opt, TensorDataset(train.x, train.y), cfg=cfg.engine, ctx=sub, val_set=val)
        curve = [(row["step"], row["val_loss"]) for row in loop.history if "val_loss" in row]
    mse = evaluate(task, val, batch_size=500)["val_loss"]
    return {"mse": mse, "time_s": loop.wall_time_s, "curve": curve}


def _plot_mse(path: Any, cfg: Config, res: dict[tuple[str, int, int], dict[str, Any]]) -> Any:
    fig, ax = plt.subplots(figsize=CURVE_FIGSIZE, dpi=DPI)
    width = 0.8 / len(cfg.kinds)
    for k, kind in enumerate(cfg.kinds):
        xs = [i + (k - (len(cfg.kinds) - 1) / 2) * width for i in range(len(cfg.lengths))]
        per = [[res[kind, n, s]["mse"] for s in cfg.seeds] for n in cfg.lengths]
        ax.bar(xs, [sum(p) / len(p) for p in per], width, label=kind.upper())
        for x, p in zip(xs, per, strict=True):
            ax.scatter([x] * len(p), p, c="k", s=6, zorder=3)
    ax.axhline(BASELINE_MSE, color="k", linestyle="--", label="predict the mean (1/6)")
    ax.axhline(cfg.solved_mse, color="0.5", linestyle=":", label=f"solved (< {cfg.solved_mse})")
    ax.set_xticks(range(len(cfg.lengths)), [f"T = {n}" for n in cfg.lengths])
    ax.set_yscale("log")
    ax.set_ylabel("test MSE")
    ax.set_title(
        f"adding problem, hidden {cfg.hidden_size}, {cfg.engine.max_steps} steps "
        f"(bars: mean, dots: {len(cfg.seeds)} seeds)"
    )
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3)
    fig.tight_layout()
    return save_figure(fig, path)


def _plot_curves(path: Any, res: dict[tuple[str, int, int], dict[str, Any]]) -> Any:
    fig, ax = plt.subplots(figsize=CURVE_FIGSIZE, dpi=DPI)
    first = min(s for _, _, s in res)
    for (kind, n, s), r in res.items():
        if r["curve"] and s == first:
            steps, vals = zip(*r["curve"], strict=True)
            ax.plot(steps, vals, label=f"{kind.upper()} T={n}")
    ax.axhline(BASELINE_MSE, color="k", linestyle="--", linewidth=1)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("validation MSE")
    ax.set_title(f"adding problem: validation MSE, seed {first} (dashed: 1/6)")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


def _seeds(values: list[float]) -> str:
    return "/".join(f"{v:.4f}" for v in values)


def _table(m: dict[str, Any]) -> str:
    return "; ".join(
        f"T={n}: " + ", ".join(f"{k.upper()} {_seeds(m[f'{k}_T{n}_test_mse'])}" for k in m["kinds"])
        for n in m["lengths"]
    )


def _missing(m: dict[str, Any]) -> str | None:
    need = {"rnn", "lstm", "gru"} - set(m["kinds"])
    if need:
        return f"not measured: kinds lack {sorted(need)}"
    return too_few_seeds(len(m["seeds"]))


def gated_beat_vanilla_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    """Claim ``gated-rnns-solve-adding-where-rnn-fails``: at some length, on every seed, LSTM
    and GRU are below ``solved_mse`` while the RNN stays above half the baseline."""
    head = f"test MSE per seed ({_table(m)}; predicting the mean gives {BASELINE_MSE:.3f})"
    if (why := _missing(m)) is not None:
        return False, f"{why}; {head}"
    solved = m["solved_mse"]
    won = [
        n
        for n in m["lengths"]
        if max(m[f"lstm_T{n}_test_mse"]) < solved
        and max(m[f"gru_T{n}_test_mse"]) < solved
        and min(m[f"rnn_T{n}_test_mse"]) > BASELINE_MSE / 2
    ]
    return bool(won), (
        f"{head}; LSTM and GRU below {solved} while the RNN stays above "
        f"{BASELINE_MSE / 2:.3f}, on every one of {len(m['seeds'])} seeds, at T in "
        f"{won or 'no length'}"
    )


def gated_long_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    """Claim ``gated-rnns-solve-long-adding``: LSTM and GRU below ``solved_mse`` at the longest
    length on every seed."""
    if (why := _missing(m)) is not None:
        return False, f"{why}; test MSE per seed ({_table(m)})"
    n = max(m["lengths"])
    head = (
        f"T={n}, per seed: LSTM {_seeds(m[f'lstm_T{n}_test_mse'])}, GRU "
        f"{_seeds(m[f'gru_T{n}_test_mse'])}, RNN {_seeds(m[f'rnn_T{n}_test_mse'])} after "
        f"{m['steps']} steps (solved below {m['solved_mse']}, baseline {BASELINE_MSE:.3f})"
    )
    ok = {k: sum(v < m["solved_mse"] for v in m[f"{k}_T{n}_test_mse"]) for k in ("lstm", "gru")}
    s = len(m["seeds"])
    return all(v == s for v in ok.values()), (
        f"{head}; solved on LSTM {ok['lstm']}/{s}, GRU {ok['gru']}/{s} seeds (holds if on every "
        "seed)"
    )


CLAIMS = (
    Claim(
        "gated-rnns-solve-adding-where-rnn-fails",
        "LSTM and GRU solve the adding problem (test MSE far below the 0.167 of predicting "
        "the mean) at a length where a vanilla RNN of the same size, trained the same way, "
        "stays near the baseline: on every one of >= 3 training seeds, LSTM and GRU below "
        "solved_mse and the RNN above half the baseline, at one length at least.",
        gated_beat_vanilla_verdict,
        "adding_mse.png",
    ),
    Claim(
        "gated-rnns-solve-long-adding",
        "LSTM and GRU also solve the longest length tried (test MSE below solved_mse on every "
        "one of >= 3 training seeds).",
        gated_long_verdict,
        "adding_mse.png",
    ),
)


@experiment(
    "rnn-memory",
    topic="sequence",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Hochreiter & Schmidhuber 1997; Cho et al. 2014, arXiv:1406.1078; Le et al. 2015, "
    "arXiv:1504.00941",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Adding problem: vanilla RNN vs LSTM vs GRU at several sequence lengths."""
    res: dict[tuple[str, int, int], dict[str, Any]] = {}
    with single_thread():
        for n in cfg.lengths:
            for kind in cfg.kinds:
                for s in cfg.seeds:
                    res[kind, n, s] = train_one(cfg, kind, n, s, ctx)
    metrics: dict[str, Any] = {
        "lengths": list(cfg.lengths),
        "kinds": list(cfg.kinds),
        "seeds": list(cfg.seeds),
        "solved_mse": cfg.solved_mse,
        "baseline_mse": BASELINE_MSE,
        "steps": cfg.engine.max_steps,
    }
    for kind in cfg.kinds:  # one entry per seed
        for n in cfg.lengths:
            metrics[f"{kind}_T{n}_test_mse"] = [res[kind, n, s]["mse"] for s in cfg.seeds]
            times = [res[kind, n, s]["time_s"] for s in cfg.seeds]
            metrics[f"{kind}_T{n}_train_time_s"] = [round(t, 3) for t in times]
    plots = [
        _plot_mse(ctx.path("adding_mse.png"), cfg, res),
        _plot_curves(ctx.path("adding_curves.png"), res),
    ]
    return Result(metrics=metrics, plots=plots)
