r"""Experiment ``attention-claims``: softmax temperature and the :math:`1/\sqrt{d_k}` scale.

No training; about 10 s of CPU time. Two claims of the course (Vaswani et al. 2017,
arXiv:1706.03762, Sec. 3.2.1 and footnote 4), measured on
:func:`~replearn.transformer.attention.attention_weights` and
:func:`~replearn.transformer.decoding.sample_next`:

1. **Temperature.** Dividing the logits by ``T`` sharpens the softmax for ``T < 1`` and
   flattens it for ``T > 1``. Measured (a) on attention: ``n_queries`` queries against
   ``n_keys`` keys, entries i.i.d. N(0, 1), ``d_k = attn_dk``, scaled by
   :math:`1/(T\sqrt{d_k})`: the mean row entropy (nats, at most :math:`\ln L_k`); (b) on
   sampling: a Zipf next-token distribution over ``vocab`` tokens
   (:math:`p_v \propto 1/v`, as word frequencies), its exact entropy after temperature and
   the plug-in entropy of ``n_samples`` tokens drawn by ``sample_next``. Holds if all three
   entropies increase strictly with ``T``.
2. **Scale.** With i.i.d. N(0, 1) entries, :math:`q^\top k` has variance :math:`d_k`; without
   the :math:`1/\sqrt{d_k}` scale the logits grow with :math:`d_k`, the softmax saturates
   (nearly one-hot) and its gradient vanishes. For every ``d_k`` in ``dks``: the mean
   attention entropy and the mean Frobenius norm of the softmax Jacobian
   :math:`\partial p / \partial z` (computed by autograd, ``torch.func.jacrev``) with and
   without the scale (without = ``temperature = 1/sqrt(d_k)``). Holds if, without the scale,
   entropy and gradient norm decrease strictly with ``d_k`` and end below half their scaled
   values, while with the scale the entropy stays within 10% of its mean.

Writes ``attention_temperature.png`` and ``attention_scale.png``.

replearn run attention-claims
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import torch
from torch import Tensor

from replearn.engine import RunContext
from replearn.experiments.base import Claim, Result, experiment
from replearn.report.plots import DPI, save_figure
from replearn.transformer.attention import attention_weights
from replearn.transformer.decoding import sample_next, temperature_probs


@dataclass(frozen=True)
class Config:
    """Settings of ``attention-claims``.

    Attributes:
        temperatures: softmax temperatures T compared (increasing).
        attn_dk: key size of the temperature measurement on attention.
        n_queries: queries (rows) averaged over.
        n_keys: keys per query, L_k.
        vocab: size of the Zipf next-token distribution.
        n_samples: tokens sampled per temperature for the plug-in entropy.
        dks: key sizes d_k of the scale measurement (increasing).
    """

    temperatures: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
    attn_dk: int = 64
    n_queries: int = 512
    n_keys: int = 32
    vocab: int = 1000
    n_samples: int = 20000
    dks: tuple[int, ...] = (4, 16, 64, 256, 1024)

    def __post_init__(self) -> None:
        if list(self.temperatures) != sorted(set(self.temperatures)) or min(self.temperatures) <= 0:
            raise ValueError(
                f"temperatures must be positive and increasing, got {self.temperatures}"
            )
        if list(self.dks) != sorted(set(self.dks)) or min(self.dks) < 1:
            raise ValueError(f"dks must be positive and increasing, got {self.dks}")
        if min(self.n_queries, self.n_keys, self.vocab, self.n_samples) < 2:
            raise ValueError("n_queries, n_keys, vocab and n_samples must be >= 2")


def tiny() -> Config:
    """Well under a second."""
    return Config(n_queries=32, n_keys=8, vocab=50, n_samples=2000, dks=(4, 64, 256))


def quick() -> Config:
    """A second or two: 128 queries, 5,000 samples per temperature (a smoke check)."""
    return Config(n_queries=128, n_samples=5000)


def entropy(p: Tensor) -> Tensor:
    r"""Row entropies :math:`-\sum_v p_v \ln p_v` in nats (0 ln 0 = 0). Shape: (..., V) -> (...)."""
    return -(p * p.clamp_min(1e-300).log()).sum(dim=-1)


def softmax_jacobian_norm(z: Tensor) -> Tensor:
    r"""Frobenius norm of :math:`\partial\,\mathrm{softmax}(z)/\partial z` per row, by autograd.

    Shape:
        z: (N, L) -> (N,).
    """
    jac = torch.func.vmap(torch.func.jacrev(lambda row: row.softmax(dim=-1)))(z)  # (N, L, L)
    return jac.flatten(1).norm(dim=-1)


def measure(cfg: Config, generator: torch.Generator) -> dict[str, float]:
    """All metrics: entropies vs T (attention, sampling) and vs d_k (with / without scale)."""
    m: dict[str, float] = {"log_n_keys": math.log(cfg.n_keys), "log_vocab": math.log(cfg.vocab)}
    f64 = dict(dtype=torch.float64, generator=generator)
    q = torch.randn(cfg.n_queries, cfg.attn_dk, **f64)
    k = torch.randn(cfg.n_keys, cfg.attn_dk, **f64)
    zipf = -torch.arange(1, cfg.vocab + 1, dtype=torch.float64).log()  # log p_v up to a constant
    for t in cfg.temperatures:
        m[f"attn_entropy_T{t:g}"] = float(entropy(attention_weights(q, k, temperature=t)).mean())
        m[f"sample_entropy_T{t:g}"] = float(entropy(temperature_probs(zipf, t)))
        draws = sample_next(zipf.expand(cfg.n_samples, -1), temperature=t, generator=generator)
        freq = torch.bincount(draws, minlength=cfg.vocab).double() / cfg.n_samples
        m[f"empirical_sample_entropy_T{t:g}"] = float(entropy(freq))
    for dk in cfg.dks:
        q = torch.randn(cfg.n_queries, dk, **f64)
        k = torch.randn(cfg.n_keys, dk, **f64)
        for name, t in (("scaled", 1.0), ("unscaled", 1.0 / math.sqrt(dk))):
            logits = q @ k.T / (t * math.sqrt(dk))  # (N, L): what the softmax sees
            p = attention_weights(q, k, temperature=t)
            m[f"entropy_{name}_dk{dk}"] = float(entropy(p).mean())
            m[f"gradnorm_{name}_dk{dk}"] = float(softmax_jacobian_norm(logits).mean())
            m[f"logit_std_{name}_dk{dk}"] = float(logits.std())
    return m


def series(m: dict[str, Any], prefix: str) -> list[tuple[float, float]]:
    """``[(x, m[prefix + x])]`` sorted by x, for the keys written by :func:`measure`."""
    return sorted((float(key[len(prefix) :]), v) for key, v in m.items() if key.startswith(prefix))


def _increasing(values: list[float]) -> bool:
    return all(a < b for a, b in itertools.pairwise(values))


def _fmt(pairs: list[tuple[float, float]], x: str) -> str:
    return ", ".join(f"{x}={a:g}: {b:.3f}" for a, b in pairs)


def _temperature_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    names = ("attn_entropy_T", "sample_entropy_T", "empirical_sample_entropy_T")
    curves = [series(m, n) for n in names]
    holds = all(_increasing([v for _, v in c]) for c in curves)
    return holds, (
        f"attention entropy (nats, max ln L = {m['log_n_keys']:.3f}): {_fmt(curves[0], 'T')}; "
        f"Zipf sampling entropy (max {m['log_vocab']:.3f}): {_fmt(curves[1], 'T')}; "
        f"plug-in entropy of samples: {_fmt(curves[2], 'T')}"
    )


def _scale_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    h_s, h_u = series(m, "entropy_scaled_dk"), series(m, "entropy_unscaled_dk")
    g_s, g_u = series(m, "gradnorm_scaled_dk"), series(m, "gradnorm_unscaled_dk")
    scaled = [v for _, v in h_s]
    mean = sum(scaled) / len(scaled)
    flat = all(abs(v - mean) <= 0.1 * mean for v in scaled)
    saturates = (
        _increasing([-v for _, v in h_u])
        and _increasing([-v for _, v in g_u])
        and h_u[-1][1] < 0.5 * h_s[-1][1]
        and g_u[-1][1] < 0.5 * g_s[-1][1]
    )
    return flat and saturates, (
        f"entropy with 1/sqrt(d_k): {_fmt(h_s, 'd_k')}; without: {_fmt(h_u, 'd_k')}; "
        f"softmax Jacobian norm with: {_fmt(g_s, 'd_k')}; without: {_fmt(g_u, 'd_k')}"
    )


CLAIMS = (
    Claim(
        "temperature-sharpens-and-flattens",
        "Dividing the logits by a temperature T < 1 sharpens the softmax (attention weights "
        "and sampling distributions) and T > 1 flattens it: the entropy increases with T.",
        _temperature_verdict,
        "attention_temperature.png",
    ),
    Claim(
        "scale-prevents-saturation",
        "Without the 1/sqrt(d_k) scale the dot products grow with d_k and the softmax "
        "saturates: its entropy and its gradient shrink as d_k grows, while with the scale "
        "they do not depend on d_k.",
        _scale_verdict,
        "attention_scale.png",
    ),
)


def _plot_temperature(path: Any, m: dict[str, Any]) -> Any:
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.6), dpi=DPI)
    for ax, (label, prefix, bound) in zip(
        axes,
        (("attention rows", "attn_entropy_T", m["log_n_keys"]),
         ("Zipf next token", "sample_entropy_T", m["log_vocab"])),
        strict=True,
    ):  # fmt: skip
        pairs = series(m, prefix)
        ax.plot([t for t, _ in pairs], [v for _, v in pairs], "o-", label="exact")
        if prefix == "sample_entropy_T":
            emp = series(m, "empirical_sample_entropy_T")
            ax.plot([t for t, _ in emp], [v for _, v in emp], "s--", label="samples (plug-in)")
        ax.axhline(bound, color="0.6", linestyle=":", label="uniform")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("temperature T")
        ax.set_ylabel("entropy (nats)")
        ax.set_title(label)
        ax.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


def _plot_scale(path: Any, m: dict[str, Any]) -> Any:
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.6), dpi=DPI)
    for ax, (what, ylabel) in zip(
        axes, (("entropy", "attention entropy (nats)"), ("gradnorm", "|d softmax / d z|_F")),
        strict=True,
    ):  # fmt: skip
        for name, label in (("scaled", "QK^T / sqrt(d_k)"), ("unscaled", "QK^T (no scale)")):
            pairs = series(m, f"{what}_{name}_dk")
            ax.plot([d for d, _ in pairs], [v for _, v in pairs], "o-", label=label)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("d_k")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize="small")
    fig.suptitle("softmax saturation without the 1/sqrt(d_k) scale")
    fig.tight_layout()
    return save_figure(fig, path)


@experiment(
    "attention-claims",
    topic="transformer",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Vaswani et al. 2017, arXiv:1706.03762",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Softmax temperature and the 1/sqrt(d_k) scale: entropies and gradients, measured."""
    metrics = measure(cfg, torch.Generator().manual_seed(ctx.seed))
    plots = [
        _plot_temperature(ctx.path("attention_temperature.png"), metrics),
        _plot_scale(ctx.path("attention_scale.png"), metrics),
    ]
    return Result(metrics=metrics, plots=plots)
