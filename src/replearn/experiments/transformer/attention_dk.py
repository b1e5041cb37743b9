"""Experiment ``attention-dk``: the key dimension d_k limits what attention can look up.

Vaswani et al. 2017 (arXiv:1706.03762), Table 3 (B): "reducing the attention key size d_k
hurts model quality", suggesting that "determining compatibility is not easy". Here the effect
is isolated on a task that is *only* compatibility: associative recall in one attention step.

Task (generated here, :func:`recall_batch`): ``n_pairs`` (key, value) tokens with distinct
keys drawn from ``n_keys`` and values from ``n_values``, then a query token holding one of the
keys; the answer is that key's value. Model (:class:`KeyQueryAttention`): key and value
embeddings summed (width ``d_model``), one attention step from the query with queries and keys
projected to ``d_k`` and values to ``d_model`` (replearn's
:func:`~replearn.transformer.attention.scaled_dot_product_attention`), a linear head. The
query must give its own key the largest score among ``n_pairs`` keys for every possible key
set: with scores :math:`q^\\top k_j` of rank ``d_k`` this is impossible for ``d_k = 1`` (the
argmax of :math:`a\\,b_j` over j is the largest or the smallest :math:`b_j`, whatever the
query) and gets easier as ``d_k`` grows. Only ``d_k`` changes between the variants.

Claim ``dk-matters``: test accuracy does not fall as ``d_k`` grows, each adjacent step judged
over the seeds (paired t: the one-sided 95% lower bound of ``acc(d_k') - acc(d_k)`` is above
``-slack``, so a dip counts only beyond its seed-to-seed spread), and the largest ``d_k`` beats
the smallest over the seeds (paired t, lower bound > 0).

Writes ``dk_accuracy.png``.

replearn run attention-dk                   # 68 s CPU, 6.6 min wall (one thread, load ~5)
replearn run attention-dk --preset quick
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from replearn.engine import ClassificationTask, EngineConfig, RunContext
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import count_params, predict, seeded, train_variant
from replearn.experiments.stats import compare_seeds, too_few_seeds
from replearn.report.plots import CURVE_FIGSIZE, DPI, save_figure
from replearn.transformer.attention import scaled_dot_product_attention


@dataclass(frozen=True)
class Config:
    """Settings of the key-dimension experiment.

    Attributes:
        d_ks: key dimensions compared (ascending).
        d_model: embedding and value width (fixed).
        n_keys: distinct keys; n_values: distinct values (chance ``1 / n_values``).
        n_pairs: (key, value) pairs per sequence.
        n_train, n_test: training and test sequences.
        lr: AdamW learning rate.
        seeds: training seeds (>= 3).
        slack: allowed dip of the accuracy from one d_k to the next (the lower bound of each
            step's paired difference must exceed ``-slack``).
        engine: updates and batch of every run.
    """

    d_ks: tuple[int, ...] = (1, 2, 4, 8, 16)
    d_model: int = 32
    n_keys: int = 32
    n_values: int = 16
    n_pairs: int = 8
    n_train: int = 20_000
    n_test: int = 2000
    lr: float = 3e-3
    seeds: tuple[int, ...] = (0, 1, 2)
    slack: float = 0.01
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=1500, batch_size=64, log_every=100, checkpoint_every=0, progress=False
        )
    )

    def __post_init__(self) -> None:
        if len(self.d_ks) < 2 or list(self.d_ks) != sorted(self.d_ks) or self.d_ks[0] < 1:
            raise ValueError(f"d_ks must be >= 2 ascending positive sizes, got {self.d_ks}")
        if self.n_pairs > self.n_keys:
            raise ValueError("need n_pairs <= n_keys (distinct keys)")
        if len(self.seeds) < 3:
            raise ValueError("the verdict needs >= 3 seeds")


def tiny() -> Config:
    """Seconds: two d_k, 5 updates."""
    return Config(
        d_ks=(1, 8), d_model=16, n_train=256, n_test=128,
        engine=EngineConfig(max_steps=5, batch_size=32, log_every=5, checkpoint_every=0,
                            progress=False),
    )  # fmt: skip


def quick() -> Config:
    """Seconds: d_k = 1 and 16, 80 updates (a smoke check)."""
    return Config(
        d_ks=(1, 16), n_train=5000, n_test=500,
        engine=EngineConfig(max_steps=80, batch_size=64, log_every=40, checkpoint_every=0,
                            progress=False),
    )  # fmt: skip


def recall_batch(n: int, cfg: Config, seed: int) -> TensorDataset:
    """Sequences of (key, value) pairs and a query key; the label is the query's value.

    Shape:
        -> x (n, n_pairs + 1, 2) int64 (the query's value slot holds ``n_values``, "none"),
        y (n,) int64.
    """
    gen = torch.Generator().manual_seed(seed)
    keys = torch.rand(n, cfg.n_keys, generator=gen).argsort(-1)[:, : cfg.n_pairs]  # distinct
    values = torch.randint(0, cfg.n_values, (n, cfg.n_pairs), generator=gen)
    pick = torch.randint(0, cfg.n_pairs, (n,), generator=gen)
    rows = torch.arange(n)
    query = torch.stack([keys[rows, pick], torch.full((n,), cfg.n_values)], dim=-1)  # (n, 2)
    x = torch.cat([torch.stack([keys, values], dim=-1), query[:, None]], dim=1)
    return TensorDataset(x, values[rows, pick].clone())


class KeyQueryAttention(nn.Module):
    """One attention step from the last token with key size ``d_k``: (B, T, 2) -> (B, n_values).

    The values keep the full width, so only the compatibility function changes with ``d_k``.
    """

    def __init__(self, *, n_keys: int, n_values: int, d_model: int, d_k: int) -> None:
        super().__init__()
        if min(n_keys, n_values, d_model, d_k) < 1:
            raise ValueError("sizes must be >= 1")
        self.d_k = d_k
        self.key_emb = nn.Embedding(n_keys, d_model)
        self.value_emb = nn.Embedding(n_values + 1, d_model)  # + the query's "none"
        self.w_q = nn.Linear(d_model, d_k)
        self.w_k = nn.Linear(d_model, d_k)
        self.w_v = nn.Linear(d_model, d_model)
        self.head = nn.Linear(d_model, n_values)

    def forward(self, x: Tensor) -> Tensor:
        h = self.key_emb(x[..., 0]) + self.value_emb(x[..., 1])  # (B, T, C)
        q = self.w_q(h[:, -1:])  # (B, 1, d_k): the query token
        k, v = self.w_k(h[:, :-1]), self.w_v(h[:, :-1])  # (B, n, d_k), (B, n, C)
        return self.head(scaled_dot_product_attention(q, k, v, training=self.training)[:, 0])

    def extra_repr(self) -> str:
        return f"d_k={self.d_k}"


def dk_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    """Claim ``dk-matters``: no step up in ``d_k`` lowers the accuracy beyond ``slack``, and the
    largest ``d_k`` beats the smallest, each by :func:`~replearn.experiments.stats.compare_seeds`
    over the paired seeds (one-sided 95% Student-t bounds)."""
    dks = m["d_ks"]
    accs = {d: m[f"dk{d}_accuracy"] for d in dks}
    per = ", ".join(
        f"d_k={d}: {statistics.mean(a):.3f} ({'/'.join(f'{v:.3f}' for v in a)})"
        for d, a in accs.items()
    )
    head = f"test accuracy, mean (per seed) (chance {1 / m['n_values']:.3f}): {per}"
    if (why := too_few_seeds(len(accs[dks[0]]))) is not None:
        return False, f"{why}; {head}"
    steps = [
        compare_seeds(accs[b], accs[a], margin=-m["slack"], label_x=f"d_k={b}",
                      label_y=f"d_k={a}", unit="points")
        for a, b in pairwise(dks)
    ]  # fmt: skip
    c = compare_seeds(accs[dks[-1]], accs[dks[0]],
                      label_x=f"d_k={dks[-1]}", label_y=f"d_k={dks[0]}", unit="points")  # fmt: skip
    no_fall = all(s.holds for s in steps)
    return no_fall and c.holds, (
        f"{head}; no step up falls by more than {m['slack']}: {no_fall} ("
        + "; ".join(s.evidence() for s in steps)
        + f"); largest vs smallest: {c.evidence()}"
    )


CLAIMS = (
    Claim("dk-matters", "The key dimension d_k matters: attention with a smaller d_k "
          "determines compatibility worse (Vaswani et al. 2017, Table 3 (B)). Checked over the "
          "training seeds, paired: no step up in d_k lowers the test accuracy by more than "
          "slack (one-sided 95% Student-t bound of each step's difference above -slack), and "
          "the largest d_k beats the smallest (bound above 0).", dk_verdict,
          "dk_accuracy.png"),
)  # fmt: skip


def _plot(path: Any, m: dict[str, Any]) -> Any:
    fig, ax = plt.subplots(figsize=CURVE_FIGSIZE, dpi=DPI)
    dks = m["d_ks"]
    for d in dks:
        ax.scatter([d] * len(m[f"dk{d}_accuracy"]), m[f"dk{d}_accuracy"], c="k", s=8, zorder=3)
    ax.plot(dks, [statistics.mean(m[f"dk{d}_accuracy"]) for d in dks], marker="o")
    ax.axhline(1 / m["n_values"], color="0.5", ls=":", label="chance")
    ax.set_xscale("log", base=2)
    ax.set_xticks(dks, [str(d) for d in dks])
    ax.set_xlabel("key dimension d_k")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"associative recall among {m['n_pairs']} keys, one attention step")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


@experiment(
    "attention-dk",
    topic="transformer",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Vaswani et al. 2017, arXiv:1706.03762 (Table 3, rows B)",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Associative recall in one attention step, key dimension d_k varied alone."""
    train = recall_batch(cfg.n_train, cfg, seed=ctx.seed + 1)
    test = recall_batch(cfg.n_test, cfg, seed=ctx.seed + 2)
    m: dict[str, Any] = {"d_ks": list(cfg.d_ks), "n_values": cfg.n_values,
                         "n_pairs": cfg.n_pairs, "slack": cfg.slack}  # fmt: skip
    model = None
    with single_thread():
        for d_k in cfg.d_ks:
            accs = []
            for s in cfg.seeds:

                def build(d_k: int = d_k) -> KeyQueryAttention:
                    return KeyQueryAttention(n_keys=cfg.n_keys, n_values=cfg.n_values,
                                             d_model=cfg.d_model, d_k=d_k)  # fmt: skip

                model = seeded(build, s)
                opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
                train_variant(ctx, f"dk{d_k}", ClassificationTask(model), opt, train,
                              engine=cfg.engine, seed=s)  # fmt: skip
                pred = predict(model, test).argmax(-1)
                accs.append(float((pred == test.tensors[1]).float().mean()))
            m[f"dk{d_k}_accuracy"] = accs
            m[f"dk{d_k}_params"] = count_params(model)
            ctx.log(d_k, accuracy=statistics.mean(accs))
    return Result(metrics=m, model=model, plots=[_plot(ctx.path("dk_accuracy.png"), m)])
