r"""Experiment ``cnn-arithmetic``: the convolution-arithmetic claims, counted and measured.

No training, a few seconds. Three claims of the course (four verdicts), each computed by
:mod:`replearn.cnn.arithmetic` and measured on ``torch.nn`` modules:

1. **Parameter sharing.** A 3×3 convolution from :math:`C_{in} \times H \times W` to
   :math:`C_{out} \times H \times W` has :math:`C_{out}(9C_{in} + 1)` parameters; the fully
   connected layer between the same sizes has :math:`C_{in}C_{out}H^2W^2 + C_{out}HW`, about
   :math:`(HW)^2/9` times more. Counted on modules built on the ``meta`` device (no memory),
   for the layers of a small Fashion-MNIST CNN. The convolution *is* such a fully connected
   layer with a sparse, shared weight matrix: the Jacobian of a small convolution has
   :math:`C_{out}C_{in} \cdot 9` distinct non-zero values, whatever the image size.
2. **Receptive field.** Measured as the support (non-zero rows and columns) of the gradient
   of the centre output unit with respect to the input, for stacks of :math:`L` 3×3
   convolutions with positive weights and no non-linearity (so no gradient cancels):
   stride 1 gives :math:`2L + 1` (linear), dilations :math:`1, 2, \dots, 2^{L-1}` give
   :math:`2^{L+1} - 1` (exponential), as Eq. (4) of the arithmetic module computes.
3. **Separable cost.** A depthwise-separable 3×3 convolution has the fraction
   :math:`1/C_{out} + 1/k^2` of the parameters and FLOPs of the full one (Eq. 7):
   parameters counted with ``numel``, FLOPs measured by ``torch.utils.flop_counter``.

replearn run cnn-arithmetic
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import torch
from torch import nn

from replearn.cnn.arithmetic import (
    conv_params,
    linear_params,
    receptive_field,
    separable_conv_flops,
    separable_reduction,
)
from replearn.engine import RunContext
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.cnn.common import (
    count_flops,
)
from replearn.experiments.common import count_params
from replearn.report.plots import DPI, line_plot, save_figure, save_image_grid


@dataclass(frozen=True)
class Config:
    """Settings of ``cnn-arithmetic``.

    Attributes:
        layers: conv layers compared with fully connected ones, each ``(C_in, C_out, H)``
            on square ``H × H`` maps ('same' padding).
        max_depth: deepest undilated stack measured (L = 1 .. max_depth).
        max_dilated_depth: deepest dilated stack measured (receptive field 2^(L+1) - 1).
        widths: channel widths ``C_in = C_out`` of the separable-cost table.
        map_size: spatial size of the separable-cost table's maps.
    """

    layers: tuple[tuple[int, int, int], ...] = ((1, 32, 28), (32, 64, 14), (64, 128, 7))
    max_depth: int = 8
    max_dilated_depth: int = 7
    widths: tuple[int, ...] = (16, 32, 64, 128, 256)
    map_size: int = 14

    def __post_init__(self) -> None:
        if min(self.max_depth, self.max_dilated_depth) < 1 or self.max_dilated_depth > 10:
            raise ValueError("need 1 <= max_depth and 1 <= max_dilated_depth <= 10")


def tiny() -> Config:
    """Seconds: shallow stacks, two widths."""
    return Config(max_depth=3, max_dilated_depth=3, widths=(16, 64))


def quick() -> Config:
    """The default is already quick (a few seconds)."""
    return Config()


def conv_jacobian_distinct(c_in: int, c_out: int, size: int = 6) -> tuple[int, int, int]:
    """(non-zero entries, distinct non-zero values, all entries) of a 3×3 conv's Jacobian.

    The convolution is linear, so its Jacobian is the weight matrix of the equivalent
    fully connected layer, ``(C_out H W) × (C_in H W)``.
    """
    conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False).double()
    x = torch.zeros(c_in * size * size, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(
        lambda v: conv(v.view(1, c_in, size, size)).flatten(), x
    )
    nonzero = jac[jac != 0]
    return int(nonzero.numel()), int(nonzero.unique().numel()), int(jac.numel())


def measured_receptive_field(depth: int, dilated: bool) -> tuple[int, torch.Tensor]:
    """Support width of d(centre output)/d(input) for ``depth`` 3×3 convs; and |gradient|."""
    dilations = [2**i if dilated else 1 for i in range(depth)]
    size = 2 * sum(dilations) + 9  # larger than the receptive field: nothing is clipped
    gen = torch.Generator().manual_seed(depth)
    layers = []
    for d in dilations:
        conv = nn.Conv2d(1, 1, 3, padding=d, dilation=d, bias=False).double()
        with torch.no_grad():  # positive weights: no cancellation in the gradient
            conv.weight.copy_(torch.rand(1, 1, 3, 3, generator=gen, dtype=torch.float64) + 0.5)
        layers.append(conv)
    x = torch.zeros(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    nn.Sequential(*layers)(x)[0, 0, size // 2, size // 2].backward()
    grad = x.grad[0, 0].abs()  # (size, size)
    rows = grad.sum(1).nonzero().flatten()
    cols = grad.sum(0).nonzero().flatten()
    width = int(rows[-1] - rows[0] + 1)
    if width != int(cols[-1] - cols[0] + 1):
        raise RuntimeError("the receptive field should be square")
    dense = bool((grad[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] > 0).all())
    return (width if dense else -width), grad


def _separable_pair(c: int) -> tuple[nn.Module, nn.Module]:
    full = nn.Conv2d(c, c, 3, padding=1, bias=False)
    separable = nn.Sequential(
        nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False),  # depthwise
        nn.Conv2d(c, c, 1, bias=False),  # pointwise
    )
    return full, separable


def _verdict_sharing(m: dict[str, Any]) -> tuple[bool, str]:
    holds = m["sharing_min_fc_over_conv"] >= 100 and m["sharing_jacobian_ok"]
    return holds, (
        f"fully connected / conv parameters per layer: {m['sharing_ratios']} (min "
        f"{m['sharing_min_fc_over_conv']:.0f}x; untied (locally connected) / conv, about H*W: "
        f"{m['sharing_untied_ratios']}); Jacobian of a 2->3 channel 3x3 conv on 6x6: "
        f"{m['jacobian_nonzero']} non-zeros of {m['jacobian_entries']}, "
        f"{m['jacobian_distinct']} distinct values (C_out*C_in*9 = 54)"
    )


def _verdict_linear(m: dict[str, Any]) -> tuple[bool, str]:
    holds = m["rf_linear_measured"] == m["rf_linear_computed"] == m["rf_linear_2l_plus_1"]
    return holds, (
        f"L = 1..{len(m['rf_linear_measured'])}: measured {m['rf_linear_measured']}, "
        f"Eq. (4) {m['rf_linear_computed']}, 2L+1 {m['rf_linear_2l_plus_1']}"
    )


def _verdict_dilated(m: dict[str, Any]) -> tuple[bool, str]:
    holds = m["rf_dilated_measured"] == m["rf_dilated_computed"] == m["rf_dilated_formula"]
    return holds, (
        f"L = 1..{len(m['rf_dilated_measured'])}: measured {m['rf_dilated_measured']} "
        f"(negative = holes in the support), Eq. (4) {m['rf_dilated_computed']}, "
        f"2^(L+1)-1 {m['rf_dilated_formula']}"
    )


def _verdict_separable(m: dict[str, Any]) -> tuple[bool, str]:
    factors = m["separable_param_reduction"]
    holds = m["separable_max_error"] < 1e-9 and all(5 <= f <= 10 for f in factors)
    return holds, (
        f"widths {m['separable_widths']}: parameters cut {factors}x, FLOPs cut "
        f"{m['separable_flop_reduction']}x; largest |measured - (1/C_out + 1/9)| "
        f"{m['separable_max_error']:.1e}"
    )


CLAIMS = (
    Claim(
        "conv-parameter-sharing",
        "A 3x3 convolution has far fewer parameters than the fully connected layer with the "
        "same input and output sizes: at least 100x fewer for each layer of a small "
        "Fashion-MNIST CNN (1x28x28->32x28x28, 32x14x14->64x14x14, 64x7x7->128x7x7; counted on "
        "modules), and its Jacobian (the equivalent fully connected weight matrix) holds only "
        "C_out*C_in*9 distinct non-zero values.",
        _verdict_sharing,
        "parameter_sharing.png",
    ),
    Claim(
        "receptive-field-linear",
        "The receptive field of L stacked 3x3 stride-1 convolutions grows linearly, 2L+1: the "
        "support of the gradient of the centre output with respect to the input equals Eq. (4) "
        "and 2L+1 for every L = 1..8.",
        _verdict_linear,
        "receptive_field.png",
    ),
    Claim(
        "receptive-field-dilated-exponential",
        "With dilations 1, 2, 4, ..., 2^(L-1) the receptive field of L 3x3 convolutions grows "
        "exponentially, 2^(L+1)-1, with the same parameters per layer: the measured gradient "
        "support is dense and equals Eq. (4) and 2^(L+1)-1 for every L = 1..7.",
        _verdict_dilated,
        "receptive_field.png",
    ),
    Claim(
        "separable-cost",
        "A depthwise-separable 3x3 convolution needs a fraction 1/C_out + 1/k^2 of the "
        "parameters and FLOPs of the full one: measured (numel; torch.utils.flop_counter) within "
        "1e-9 of Eq. (7), i.e. 5-10x fewer at every width C = 16..256 (14x14 maps).",
        _verdict_separable,
        "separable_cost.png",
    ),
)


@experiment(
    "cnn-arithmetic",
    topic="cnn",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Dumoulin & Visin 2016, arXiv:1603.07285; Araujo et al. 2019 (Distill); "
    "Chollet 2017, arXiv:1610.02357",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Parameter sharing, receptive fields and separable cost: computed and measured."""
    ratios, untied = [], []
    for c_in, c_out, h in cfg.layers:
        conv = count_params(nn.Conv2d(c_in, c_out, 3, padding=1, device="meta"))
        fc = count_params(nn.Linear(c_in * h * h, c_out * h * h, device="meta"))
        if conv != conv_params(c_in, c_out, 3) or fc != linear_params(c_in * h * h, c_out * h * h):
            raise RuntimeError("module parameter counts disagree with replearn.cnn.arithmetic")
        untied_params = h * h * conv_params(c_in, c_out, 3, bias=False) + c_out  # kernel per pixel
        ratios.append(round(fc / conv))
        untied.append(round(untied_params / conv))
    nonzero, distinct, entries = conv_jacobian_distinct(2, 3)

    linear = [measured_receptive_field(d, dilated=False) for d in range(1, cfg.max_depth + 1)]
    dilated = [
        measured_receptive_field(d, dilated=True) for d in range(1, cfg.max_dilated_depth + 1)
    ]
    depths = list(range(1, cfg.max_depth + 1))
    ddepths = list(range(1, cfg.max_dilated_depth + 1))
    dil_computed = [receptive_field([(3, 1, 2**i) for i in range(d)]) for d in ddepths]

    size, param_cut, flop_cut, errors = cfg.map_size, [], [], []
    for c in cfg.widths:
        full, sep = _separable_pair(c)
        x = torch.zeros(1, c, size, size)
        p_ratio = count_params(sep) / count_params(full)
        f_ratio = count_flops(sep, x) / count_flops(full, x)
        if count_flops(sep, x) != separable_conv_flops(c, c, 3, size):
            raise RuntimeError("torch's flop counter disagrees with Eq. (6)")
        errors += [
            abs(p_ratio - separable_reduction(c, 3)),
            abs(f_ratio - separable_reduction(c, 3)),
        ]
        param_cut.append(round(1 / p_ratio, 2))
        flop_cut.append(round(1 / f_ratio, 2))

    metrics: dict[str, Any] = {
        "sharing_ratios": ratios,
        "sharing_min_fc_over_conv": min(ratios),
        "sharing_untied_ratios": untied,
        "jacobian_nonzero": nonzero,
        "jacobian_distinct": distinct,
        "jacobian_entries": entries,
        "sharing_jacobian_ok": distinct == 2 * 3 * 9,
        "rf_linear_measured": [r for r, _ in linear],
        "rf_linear_computed": [receptive_field([3] * d) for d in depths],
        "rf_linear_2l_plus_1": [2 * d + 1 for d in depths],
        "rf_dilated_measured": [r for r, _ in dilated],
        "rf_dilated_computed": dil_computed,
        "rf_dilated_formula": [2 ** (d + 1) - 1 for d in ddepths],
        "separable_widths": list(cfg.widths),
        "separable_param_reduction": param_cut,
        "separable_flop_reduction": flop_cut,
        "separable_max_error": max(errors),
    }
    plots = _plots(cfg, ctx, metrics, linear, dilated)
    return Result(metrics=metrics, plots=plots)


def _plots(cfg: Config, ctx: RunContext, m: dict[str, Any], linear: list, dilated: list) -> list:
    fig, ax = plt.subplots(figsize=(6.0, 4.0), dpi=DPI)
    labels = [f"{ci}x{h}x{h} -> {co}x{h}x{h}" for ci, co, h in cfg.layers]
    convs = [conv_params(ci, co, 3) for ci, co, _ in cfg.layers]
    fcs = [linear_params(ci * h * h, co * h * h) for ci, co, h in cfg.layers]
    untied = [h * h * conv_params(ci, co, 3, bias=False) + co for ci, co, h in cfg.layers]
    pos = torch.arange(len(labels)).float()
    bars = (
        (-0.27, convs, "3x3 conv (shared)"),
        (0.0, untied, "locally connected (3x3, untied)"),
        (0.27, fcs, "fully connected"),
    )
    for shift, values, name in bars:
        ax.bar((pos + shift).numpy(), values, width=0.27, label=name)
    ax.set_yscale("log")
    ax.set_xticks(pos.numpy(), labels, fontsize="small")
    ax.set(ylabel="parameters", title="Parameter sharing: same input and output sizes")
    ax.legend(fontsize="small")
    fig.tight_layout()
    plots = [save_figure(fig, ctx.path("parameter_sharing.png"))]

    n = min(cfg.max_depth, cfg.max_dilated_depth)
    plots.append(
        line_plot(
            list(range(1, n + 1)),
            {
                "3x3 stride 1: measured": m["rf_linear_measured"][:n],
                "2L + 1": m["rf_linear_2l_plus_1"][:n],
                "3x3 dilations 1, 2, 4, ...: measured": m["rf_dilated_measured"][:n],
                "2^(L+1) - 1": m["rf_dilated_formula"][:n],
            },
            ctx.path("receptive_field.png"),
            xlabel="stacked convolutions L",
            ylabel="receptive field (pixels per axis)",
            title="Receptive field: gradient support vs Eq. (4)",
            logy=True,
        )
    )
    k = min(4, n)  # |gradient| maps, padded to one size, undilated row then dilated row
    side = dilated[k - 1][1].shape[0]
    tiles = torch.zeros(2 * k, 1, side, side)
    for row, stack in enumerate((linear, dilated)):
        for i in range(k):
            g = stack[i][1]
            g = g / g.max()
            o = (side - g.shape[0]) // 2
            tiles[row * k + i, 0, o : o + g.shape[0], o : o + g.shape[0]] = g.float()
    plots.append(
        save_image_grid(
            tiles,
            ctx.path("receptive_field_gradients.png"),
            nrow=k,
            scale=3,
            title=f"|d centre / d input|, L = 1..{k}: stride 1 (top), dilated (bottom)",
        )
    )
    plots.append(
        line_plot(
            m["separable_widths"],
            {
                "parameters (measured)": m["separable_param_reduction"],
                "FLOPs (measured)": m["separable_flop_reduction"],
                "1 / (1/C + 1/9)": [round(1 / separable_reduction(c, 3), 2) for c in cfg.widths],
            },
            ctx.path("separable_cost.png"),
            xlabel="channels C_in = C_out",
            ylabel="full / separable",
            title="Depthwise-separable 3x3 convolution: reduction factor",
            logx=True,
        )
    )
    return plots
