"""Experiment ``tbptt-vanishing``: what truncated BPTT does and does not do to gradients.

A common statement is that truncated backpropagation through time "mitigates vanishing
gradients". Truncation (Williams & Peng 1990; Sutskever 2013, Sec. 2.8) runs the recurrence
over the whole stream but back-propagates only through the last ``k`` steps of each window:
the state entering the window is a constant. Measured here, in float64, on a vanilla tanh RNN
(replearn's :class:`~replearn.sequence.rnn.RNN`) with random inputs and a loss on the last
output: the gradient of the loss with respect to the input ``j`` steps back,
:math:`g_j = \\lVert\\partial L/\\partial x_{T-j}\\rVert`, under full BPTT and under truncation
with window ``k``, for several random networks (``seeds``) at a contracting recurrent scale
(``weight_scale`` < 1: the regime where gradients vanish).

Claims:

* ``tbptt-does-not-fix-vanishing``: inside the window the truncated gradient *equals* full
  BPTT's (relative difference below ``equal_rtol`` at every lag ``j < k``): the same products
  of Jacobians, so the same decay (the full gradient at lag ``k - 1`` is below
  ``vanished_ratio`` of lag 0 in every network); beyond the window it is exactly 0. Truncation
  cuts the long paths off instead of preserving them.
* ``tbptt-bounds-memory-and-reach``: what it does do: the bytes saved for the backward pass of
  one update scale with ``k`` instead of ``T`` (ratio within 25% of ``k / T``) and the gradient
  reaches exactly ``k - 1`` steps back.

Writes ``tbptt_vanishing.png`` (g_j vs j, full and truncated, log scale).

replearn run tbptt-vanishing
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import torch
from torch import Tensor

from replearn.engine import RunContext
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.sequence.rnn_common import SavedTensorBytes
from replearn.report.plots import CURVE_FIGSIZE, DPI, save_figure
from replearn.sequence.rnn.layers import RNN


@dataclass(frozen=True)
class Config:
    """Settings of the truncated-BPTT gradient measurement.

    Attributes:
        length: T, steps of the sequence.
        truncation: k, the window of truncated BPTT.
        hidden_size, input_size, batch_size: the RNN and its random input.
        weight_scale: spectral scale of the recurrent matrix (W_hh = scale * orthogonal).
        seeds: random networks measured.
        equal_rtol: in-window gradients count as equal below this relative difference.
        vanished_ratio: full BPTT's gradient at lag k - 1 over lag 0 must be below this.
    """

    length: int = 200
    truncation: int = 20
    hidden_size: int = 64
    input_size: int = 8
    batch_size: int = 16
    weight_scale: float = 0.8
    seeds: tuple[int, ...] = (0, 1, 2)
    equal_rtol: float = 1e-10
    vanished_ratio: float = 0.1

    def __post_init__(self) -> None:
        if not 1 <= self.truncation < self.length:
            raise ValueError(f"need 1 <= truncation < length, got {self.truncation}")


def tiny() -> Config:
    """Seconds: a short sequence, a small network."""
    return Config(length=30, truncation=5, hidden_size=16)


def quick() -> Config:
    """Seconds: the default is already fast."""
    return Config(length=100, truncation=10)


def input_gradients(
    rnn: RNN, readout: Tensor, x: Tensor, truncation: int | None
) -> tuple[Tensor, int]:
    """Norms of dL/dx_t for every t (full BPTT, or truncated to the last ``truncation`` steps)
    and the bytes autograd saved for the backward pass.

    Shape:
        x: (T, B, I); readout: (H,) -> norms (T,) (index 0 = the last step), bytes.
    """
    x = x.clone().requires_grad_(True)
    T = x.shape[0]
    cut = 0 if truncation is None else T - truncation
    with torch.no_grad():  # the stream before the window: state carried, no graph
        _, h = rnn(x[:cut]) if cut else (None, None)
    with SavedTensorBytes() as saved:
        out, _ = rnn(x[cut:], h)  # (T - cut, B, H)
    loss = (out[-1] @ readout).sum()
    loss.backward()
    assert x.grad is not None
    norms = x.grad.norm(dim=(1, 2)).flip(0)  # lag 0 first
    return norms, saved.bytes


def measure(cfg: Config, seed: int) -> dict[str, Any]:
    """Full and truncated input-gradient norms of one random network."""
    torch.manual_seed(seed)
    rnn = RNN(cfg.input_size, cfg.hidden_size, 1).double()
    with torch.no_grad():
        q, _ = torch.linalg.qr(torch.randn(cfg.hidden_size, cfg.hidden_size, dtype=torch.float64))
        rnn.weight_hh_l0.copy_(cfg.weight_scale * q)
    readout = torch.randn(cfg.hidden_size, dtype=torch.float64)
    x = torch.randn(cfg.length, cfg.batch_size, cfg.input_size, dtype=torch.float64)
    full, full_bytes = input_gradients(rnn, readout, x, None)
    trunc, trunc_bytes = input_gradients(rnn, readout, x, cfg.truncation)
    k = cfg.truncation
    rel = ((trunc[:k] - full[:k]).abs() / full[:k]).max().item()
    nonzero = (trunc > 0).nonzero()
    return {
        "full": full.tolist(), "truncated": trunc.tolist(), "in_window_rel_diff": rel,
        "beyond_window_max": trunc[k:].abs().max().item(),
        "full_ratio_at_k": (full[k - 1] / full[0]).item(),
        "reach": int(nonzero.max()) if len(nonzero) else -1,
        "full_bytes": full_bytes, "truncated_bytes": trunc_bytes,
    }  # fmt: skip


def _no_fix(m: dict[str, Any]) -> tuple[bool, str]:
    rows = m["networks"]
    equal = all(r["in_window_rel_diff"] < m["equal_rtol"] for r in rows)
    zero = all(r["beyond_window_max"] == 0.0 for r in rows)
    vanish = all(r["full_ratio_at_k"] < m["vanished_ratio"] for r in rows)
    return equal and zero and vanish, (
        f"k = {m['truncation']}, T = {m['length']}: in-window relative difference "
        f"{max(r['in_window_rel_diff'] for r in rows):.1e} (< {m['equal_rtol']:.0e}: {equal}); "
        f"largest gradient beyond the window {max(r['beyond_window_max'] for r in rows):.1e} "
        f"(exactly 0: {zero}); full-BPTT gradient at lag k-1 / lag 0: "
        + ", ".join(f"{r['full_ratio_at_k']:.1e}" for r in rows)
        + f" (vanished below {m['vanished_ratio']}: {vanish})"
    )


def _memory_reach(m: dict[str, Any]) -> tuple[bool, str]:
    rows, k, T = m["networks"], m["truncation"], m["length"]
    ratios = [r["truncated_bytes"] / r["full_bytes"] for r in rows]
    scale_ok = all(abs(q / (k / T) - 1) < 0.25 for q in ratios)
    reach_ok = all(r["reach"] == k - 1 for r in rows)
    return scale_ok and reach_ok, (
        f"saved bytes per update, truncated / full: {', '.join(f'{q:.3f}' for q in ratios)} "
        f"(k/T = {k / T:.3f}; within 25%: {scale_ok}); gradient reach "
        f"{', '.join(str(r['reach']) for r in rows)} steps back (k - 1 = {k - 1}: {reach_ok})"
    )


CLAIMS = (
    Claim("tbptt-does-not-fix-vanishing", "Truncated BPTT does not mitigate vanishing "
          "gradients: inside its window the gradient is exactly full BPTT's (the same decay), "
          "beyond it zero.", _no_fix, "tbptt_vanishing.png"),
    Claim("tbptt-bounds-memory-and-reach", "What truncation does: the memory of one update "
          "scales with k instead of T, and gradients reach exactly k - 1 steps back.",
          _memory_reach, "tbptt_vanishing.png"),
)  # fmt: skip


def _plot(path: Any, m: dict[str, Any]) -> Any:
    fig, ax = plt.subplots(figsize=CURVE_FIGSIZE, dpi=DPI)
    r = m["networks"][0]
    ax.semilogy(r["full"], label="full BPTT")
    trunc = [v if v > 0 else float("nan") for v in r["truncated"]]
    ax.semilogy(trunc, "--", label=f"truncated, k = {m['truncation']}")
    ax.axvline(m["truncation"] - 0.5, color="0.6", lw=0.8)
    ax.set_xlabel("lag j (steps before the loss)")
    ax.set_ylabel("||dL/dx_(T-j)||")
    ax.set_title("truncation zeroes long paths; it does not slow the decay")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


@experiment(
    "tbptt-vanishing",
    topic="sequence",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Williams & Peng 1990, Neural Computation 2(4); Pascanu, Mikolov & Bengio 2013, "
    "arXiv:1211.5063",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Input-gradient norms vs lag under full and truncated BPTT (vanilla tanh RNN, float64)."""
    with single_thread():
        rows = [measure(cfg, s) for s in cfg.seeds]
    m = {"networks": rows, "truncation": cfg.truncation, "length": cfg.length,
         "equal_rtol": cfg.equal_rtol, "vanished_ratio": cfg.vanished_ratio}  # fmt: skip
    for s, r in zip(cfg.seeds, rows, strict=True):
        ctx.log(s, in_window_rel_diff=r["in_window_rel_diff"], reach=r["reach"])
    return Result(metrics=m, plots=[_plot(ctx.path("tbptt_vanishing.png"), m)])
