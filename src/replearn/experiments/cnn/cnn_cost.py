r"""Experiment ``cnn-cost``: what weight sharing and bottleneck blocks save, measured.

No training, seconds. Two claims of the course, each stated precisely and measured on
modules (parameters: ``numel``; FLOPs: ``torch.utils.flop_counter``, a multiply-add = 2,
for one image; wall-clock of a forward + backward pass, the two modules of a comparison
timed in the same ``rounds`` paired rounds, :func:`~replearn.experiments.stats.time_rounds`:
the median paired time ratio and its 95% interval are reported but not judged, since they
depend on the kernels and the machine).

1. **Weight sharing saves parameters, not FLOPs.** A 3×3 convolution and a locally
   connected layer of the same shape (:class:`replearn.cnn.locally_connected.LocallyConnected2d`:
   the same windows, one kernel per output position) are compared layer by layer. Eq. (3)
   of that module predicts :math:`M = H_{out} W_{out}` times more parameters for the
   locally connected layer, Eq. (4) the same FLOPs. (The often-heard "sharing makes
   convolutions cheap to compute" is wrong: the savings are memory and statistical
   efficiency; see ``docs/corrections.md``.)
2. **Bottleneck blocks cut cost at equal width.** He et al. (2016, arXiv:1512.03385, §4.1,
   Fig. 5) replace two 3×3 convolutions by 1×1 (reduce to C/4), 3×3, 1×1 (expand to C).
   At the same input/output width C and map size, the bottleneck block
   (:class:`replearn.cnn.resnet.Bottleneck`) has :math:`C^2/16 \cdot 9 + 2C^2/4 = 17C^2/16`
   conv weights against :math:`18C^2` for the basic block
   (:class:`~replearn.cnn.resnet.BasicBlock`):
   about 17 times fewer parameters and FLOPs (BN parameters excluded from the ratio).

replearn run cnn-cost
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import torch
from torch import nn

from replearn.cnn.locally_connected import (
    LocallyConnected2d,
    locally_connected_flops,
    locally_connected_params,
)
from replearn.cnn.resnet import BasicBlock, Bottleneck
from replearn.engine import RunContext
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.cnn.common import count_flops
from replearn.experiments.common import count_params
from replearn.experiments.stats import TimeRatio, time_ratio, time_rounds
from replearn.report.plots import DPI, save_figure


@dataclass(frozen=True)
class Config:
    """Settings of ``cnn-cost``.

    Attributes:
        layers: conv / locally connected pairs, each ``(C_in, C_out, H)``: 3×3 kernels,
            'same' padding, stride 1, on ``H × H`` maps.
        widths: block widths ``C`` (input = output channels) of the bottleneck comparison.
        block_map: spatial size of the maps the blocks run on.
        rounds: paired rounds timing a forward + backward pass of each module of a pair.
        warmup: untimed rounds before them.
        batch: images per timed pass.
    """

    layers: tuple[tuple[int, int, int], ...] = ((1, 16, 28), (16, 32, 14), (32, 64, 7))
    widths: tuple[int, ...] = (64, 128, 256)
    block_map: int = 14
    rounds: int = 15
    warmup: int = 1
    batch: int = 8

    def __post_init__(self) -> None:
        if not self.layers or not self.widths or min(self.widths) < 4 or self.rounds < 1:
            raise ValueError("need layers, widths >= 4 and rounds >= 1")


def tiny() -> Config:
    """Seconds: one layer pair, one width, one timed round."""
    return Config(layers=((1, 4, 8),), widths=(16,), block_map=8, rounds=1, warmup=0, batch=2)


def quick() -> Config:
    """The default layers and widths, 6 timed rounds."""
    return Config(rounds=6)


def _time_pair(a: nn.Module, b: nn.Module, x: torch.Tensor, cfg: Config) -> TimeRatio:
    """Paired time ratio of one forward + backward pass of ``a`` over ``b`` on ``x``."""

    def pass_of(module: nn.Module) -> None:
        module.zero_grad(set_to_none=True)
        module(x).sum().backward()

    times = time_rounds(
        {"a": lambda: pass_of(a), "b": lambda: pass_of(b)}, rounds=cfg.rounds, warmup=cfg.warmup
    )
    return time_ratio(times, "a", "b")


def _ratio_text(r: dict[str, Any]) -> str:
    ci = "no 95% interval" if r["time_lo"] is None else f"{r['time_lo']:.2f}-{r['time_hi']:.2f}"
    return f"time x{r['time_ratio']:.2f} ({ci})"


def _conv_weights(module: nn.Module) -> int:
    """Parameters of the convolutions only (BN's gamma and beta excluded)."""
    return sum(
        p.numel() for m in module.modules() if isinstance(m, nn.Conv2d) for p in m.parameters()
    )


def _verdict_sharing(m: dict[str, Any]) -> tuple[bool, str]:
    rows = m["sharing"]
    params_ok = all(r["params_ratio"] == r["positions"] for r in rows)
    flops_ok = all(abs(r["flops_ratio"] - 1.0) < 0.01 for r in rows)
    formula_ok = all(r["formula_ok"] for r in rows)
    per_layer = "; ".join(
        f"{r['c_in']}->{r['c_out']} @ {r['h']}x{r['h']}: params x{r['params_ratio']:.0f} "
        f"(M = {r['positions']}), FLOPs x{r['flops_ratio']:.3f}, {_ratio_text(r)}"
        for r in rows
    )
    return params_ok and flops_ok and formula_ok, (
        f"locally connected / conv per layer: {per_layer}; Eqs. (3)-(4) match the "
        f"measurements: {formula_ok} (rule: params ratio = M exactly, FLOPs ratio within 1% of 1; "
        "median paired time ratios with 95% intervals reported, not judged)"
    )


def _verdict_bottleneck(m: dict[str, Any]) -> tuple[bool, str]:
    rows = m["bottleneck"]
    holds = all(r["params_ratio"] > 10 and r["flops_ratio"] > 10 for r in rows)
    per_width = "; ".join(
        f"C = {r['width']}: conv params {r['basic_params']} vs {r['bottleneck_params']} "
        f"(x{r['params_ratio']:.2f}), FLOPs x{r['flops_ratio']:.2f}, {_ratio_text(r)}"
        for r in rows
    )
    return holds, (
        f"basic / bottleneck block at equal width on {m['block_map']}x{m['block_map']} maps: "
        f"{per_width} (predicted 18 / (17/16) = 16.9; rule: both ratios > 10 at every width; "
        "time reported, not judged)"
    )


CLAIMS = (
    Claim(
        "sharing-params-not-flops",
        "Weight sharing saves parameters, not FLOPs: a 3x3 convolution has M = H_out*W_out "
        "times fewer parameters than a locally connected layer of the same shape (one kernel "
        "per position), and the same FLOPs (within 1%).",
        _verdict_sharing,
        "cost.png",
    ),
    Claim(
        "bottleneck-cuts-cost",
        "Bottleneck blocks cut cost: at equal input/output width C, a 1x1-3x3-1x1 bottleneck "
        "block (C/4 inside) has more than 10x fewer conv parameters and FLOPs than a basic "
        "block of two 3x3 convolutions (He et al. 2016; 17/16 C^2 vs 18 C^2 weights).",
        _verdict_bottleneck,
        "cost.png",
    ),
)


def _sharing_rows(cfg: Config) -> list[dict[str, Any]]:
    rows = []
    for c_in, c_out, h in cfg.layers:
        conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        local = LocallyConnected2d(c_in, c_out, 3, input_size=(h, h), padding=1)
        x1, xb = torch.randn(1, c_in, h, h), torch.randn(cfg.batch, c_in, h, h)
        p_conv, p_local = count_params(conv), count_params(local)
        f_conv, f_local = count_flops(conv, x1), count_flops(local, x1)
        t = _time_pair(local, conv, xb, cfg)
        positions = h * h
        formula_ok = p_local == locally_connected_params(c_in, c_out, 3, (h, h)) and (
            f_local == locally_connected_flops(c_in, c_out, 3, (h, h))
        )
        rows.append(
            {
                "c_in": c_in, "c_out": c_out, "h": h, "positions": positions,
                "conv_params": p_conv, "local_params": p_local,
                "conv_flops": f_conv, "local_flops": f_local,
                "params_ratio": p_local / p_conv, "flops_ratio": f_local / f_conv,
                "conv_time_s": t.t_b, "local_time_s": t.t_a, "time_ratio": t.ratio,
                "time_lo": t.lo, "time_hi": t.hi, "time_rounds": t.rounds,
                "formula_ok": formula_ok,
            }
        )  # fmt: skip
    return rows


def _bottleneck_rows(cfg: Config) -> list[dict[str, Any]]:
    rows = []
    for c in cfg.widths:
        basic, bottle = BasicBlock(c, c), Bottleneck(c, c)
        x1 = torch.randn(1, c, cfg.block_map, cfg.block_map)
        xb = torch.randn(cfg.batch, c, cfg.block_map, cfg.block_map)
        pb, pn = _conv_weights(basic), _conv_weights(bottle)
        fb, fn = count_flops(basic, x1), count_flops(bottle, x1)
        t = _time_pair(basic, bottle, xb, cfg)
        rows.append(
            {
                "width": c, "basic_params": pb, "bottleneck_params": pn,
                "basic_all_params": count_params(basic),
                "bottleneck_all_params": count_params(bottle),
                "basic_flops": fb, "bottleneck_flops": fn,
                "params_ratio": pb / pn, "flops_ratio": fb / fn,
                "basic_time_s": t.t_a, "bottleneck_time_s": t.t_b, "time_ratio": t.ratio,
                "time_lo": t.lo, "time_hi": t.hi, "time_rounds": t.rounds,
            }
        )  # fmt: skip
    return rows


@experiment(
    "cnn-cost",
    topic="cnn",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Goodfellow et al. 2016 §9.5 (unshared convolution); He et al. 2016 arXiv:1512.03385",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Count and time conv vs locally connected layers, basic vs bottleneck blocks."""
    torch.manual_seed(ctx.seed)
    sharing, bottleneck = _sharing_rows(cfg), _bottleneck_rows(cfg)
    for i, r in enumerate(sharing):
        ctx.log(i, **{f"sharing_{k}": v for k, v in r.items() if not isinstance(v, bool)})
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.0, 4.0), dpi=DPI)
    labels = [f"{r['c_in']}->{r['c_out']}\n{r['h']}x{r['h']}" for r in sharing]
    xs = range(len(sharing))
    ax1.bar([x - 0.2 for x in xs], [r["params_ratio"] for r in sharing], 0.4, label="parameters")
    ax1.bar([x + 0.2 for x in xs], [r["flops_ratio"] for r in sharing], 0.4, label="FLOPs")
    ax1.set_yscale("log")
    ax1.set_xticks(list(xs), labels)
    ax1.set(ylabel="locally connected / conv", title="weight sharing")
    ax1.legend(fontsize="small")
    xs = range(len(bottleneck))
    ax2.bar([x - 0.2 for x in xs], [r["params_ratio"] for r in bottleneck], 0.4, label="parameters")
    ax2.bar([x + 0.2 for x in xs], [r["flops_ratio"] for r in bottleneck], 0.4, label="FLOPs")
    ax2.bar([x + 0.6 for x in xs], [r["time_ratio"] for r in bottleneck], 0.4, label="time")
    ax2.set_xticks(list(xs), [f"C = {r['width']}" for r in bottleneck])
    ax2.set(ylabel="basic / bottleneck", title=f"blocks on {cfg.block_map}x{cfg.block_map} maps")
    ax2.legend(fontsize="small")
    fig.tight_layout()
    plot = save_figure(fig, ctx.path("cost.png"))
    metrics = {"sharing": sharing, "bottleneck": bottleneck, "block_map": cfg.block_map}
    return Result(metrics=metrics, plots=[plot])
