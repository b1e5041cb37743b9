r"""Experiment ``cnn-transposed``: the transposed convolution is the adjoint (not the inverse) of
the convolution, and a learnable upsampler.

1. **Adjoint.** For a convolution :math:`y = Cx` (kernel :math:`W`, stride :math:`S`,
   padding :math:`P`), the transposed convolution with the same :math:`W, S, P` (and the
   ``output_padding`` that restores the input size) is :math:`C^\top`: for every :math:`x, y`,

   .. math:: \langle Cx, y\rangle = \langle x, C^\top y\rangle.                    \qquad (1)

   Checked in float64 with the from-scratch :func:`replearn.cnn.layers.conv2d` and
   :func:`~replearn.cnn.layers.conv_transpose2d` for every combination of stride, padding and
   kernel size in the config (random :math:`x, y, W`). It is *not* the inverse:
   :math:`\|C^\top C x - x\| / \|x\|` is reported too, and is of order one
   (Dumoulin & Visin 2016, arXiv:1603.07285, §4; ``docs/corrections.md``).
2. **Learnable upsampler.** Images are average-pooled by 2 and upsampled back; a single
   transposed convolution (``nn.ConvTranspose2d``, whose from-scratch twin
   :class:`replearn.cnn.layers.ConvTranspose2d` is tested equal to it; kernel 4, stride 2,
   padding 1: the shape that can express bilinear interpolation) is trained from random
   weights with the engine (mean squared error, Adam) and compared on the test images with
   nearest-neighbour and bilinear interpolation (``F.interpolate``), over seeds.

Default: 8x8 digits (4x4 inputs), 600 steps of 64 per seed, 3 seeds, well under a minute.

replearn run cnn-transposed
replearn run cnn-transposed --set data=fashion-mnist   # 14x14 -> 28x28
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Literal

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from replearn.cnn.arithmetic import conv_output_size
from replearn.cnn.layers import conv2d, conv_transpose2d
from replearn.data import load_classification
from replearn.engine import EngineConfig, RegressionTask, RunContext
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import seeded, subset, train_variant
from replearn.experiments.stats import compare_seeds
from replearn.report.plots import DPI, save_figure


@dataclass(frozen=True)
class Config:
    """Settings of ``cnn-transposed``.

    Attributes:
        strides: strides of the adjoint check.
        paddings: paddings of the adjoint check (combinations with P >= K are skipped).
        kernels: kernel sizes of the adjoint check.
        data: digits (embedded, 8x8) or fashion-mnist (file, 28x28).
        n_train: training images of the upsampler (None: all).
        n_test: test images (None: all).
        seeds: training seeds of the upsampler (>= 3 for the verdict).
        lr: Adam learning rate.
        engine: training-loop settings of each upsampler.
    """

    strides: tuple[int, ...] = (1, 2, 3)
    paddings: tuple[int, ...] = (0, 1, 2)
    kernels: tuple[int, ...] = (2, 3, 4, 5)
    data: Literal["digits", "fashion-mnist"] = "digits"
    n_train: int | None = None
    n_test: int | None = None
    seeds: tuple[int, ...] = (0, 1, 2)
    lr: float = 0.01
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=600, batch_size=64, log_every=20, checkpoint_every=0, progress=False
        )
    )


def tiny() -> Config:
    """Seconds: a few adjoint cases, 20 steps per seed."""
    return Config(
        strides=(1, 2),
        paddings=(0, 1),
        kernels=(3,),
        n_train=200,
        n_test=100,
        engine=EngineConfig(max_steps=20, batch_size=32, log_every=5, checkpoint_every=0),
    )


def quick() -> Config:
    """Seconds: 120 steps per seed (a smoke check)."""
    return Config(engine=EngineConfig(max_steps=120, batch_size=64, checkpoint_every=0))


def adjoint_case(k: int, s: int, p: int, size: int = 9, seed: int = 0) -> dict[str, float]:
    """Eq. (1) for one (K, S, P) in float64: relative gap of the two inner products, and
    :math:`\\|C^\\top C x - x\\| / \\|x\\|`."""
    gen = torch.Generator().manual_seed(seed)
    h_out = conv_output_size(size, k, s, p)
    op = size - ((h_out - 1) * s - 2 * p + k)  # output_padding that gives back `size`
    w = torch.randn(3, 2, k, k, generator=gen, dtype=torch.float64)  # (C_out, C_in, K, K)
    x = torch.randn(2, 2, size, size, generator=gen, dtype=torch.float64)
    y = torch.randn(2, 3, h_out, h_out, generator=gen, dtype=torch.float64)
    cx = conv2d(x, w, None, s, p)  # (B, 3, H_out, H_out)
    cty = conv_transpose2d(y, w, None, s, p, op)  # (B, 2, size, size)
    lhs, rhs = float((cx * y).sum()), float((x * cty).sum())
    ctcx = conv_transpose2d(cx, w, None, s, p, op)
    return {
        "k": k, "s": s, "p": p, "output_padding": op,
        "rel_gap": abs(lhs - rhs) / max(abs(lhs), abs(rhs), 1e-300),
        "inverse_error": float((ctcx - x).norm() / x.norm()),
    }  # fmt: skip


def _verdict_adjoint(m: dict[str, Any]) -> tuple[bool, str]:
    worst = max(c["rel_gap"] for c in m["adjoint_cases"])
    inv = min(c["inverse_error"] for c in m["adjoint_cases"])
    holds = worst < 1e-12 and inv > 0.1
    return holds, (
        f"{len(m['adjoint_cases'])} (kernel, stride, padding) cases in float64: largest relative "
        f"gap |<Cx, y> - <x, C^T y>| / |<Cx, y>| = {worst:.2e} (rule: < 1e-12); C^T C x vs x: "
        f"smallest relative error {inv:.2f} (rule: > 0.1, the transpose is not the inverse)"
    )


def _verdict_upsampler(m: dict[str, Any]) -> tuple[bool, str]:
    c = m["learned_vs_bilinear"]
    return c["holds"], (
        f"test MSE ({m['low_size']}->{m['high_size']}): learned transposed conv "
        f"{m['learned_mse_mean']:.5f} (per seed {m['learned_mse']}) vs bilinear "
        f"{m['bilinear_mse']:.5f}, nearest {m['nearest_mse']:.5f}, random init "
        f"{m['init_mse_mean']:.5f}; bilinear - learned: {m['learned_vs_bilinear_evidence']}"
    )


CLAIMS = (
    Claim(
        "transposed-is-adjoint",
        "A transposed convolution is the adjoint of the convolution with the same kernel, stride "
        "and padding: <Cx, y> = <x, C^T y> (float64, relative gap < 1e-12) for every stride, "
        "padding and kernel size checked; it is not its inverse (C^T C x differs from x).",
        _verdict_adjoint,
        None,
    ),
    Claim(
        "transposed-learns-upsampling",
        "A transposed convolution is a learnable upsampler: one 4x4 stride-2 transposed "
        "convolution trained from random weights reconstructs 2x average-pooled test images "
        "with lower mean squared error than bilinear interpolation (over >= 3 seeds, paired "
        "t lower bound > 0).",
        _verdict_upsampler,
        "upsampling.png",
    ),
)


def _pairs(ds: TensorDataset) -> TensorDataset:
    """(2x average-pooled image, image) pairs."""
    x = ds.tensors[0]  # (N, 1, H, W)
    return TensorDataset(F.avg_pool2d(x, 2), x)


def _mse(model: nn.Module, ds: TensorDataset) -> float:
    """Test MSE, computed on the model's device (the fixed interpolations have none: CPU)."""
    dev = next(iter(model.parameters()), torch.empty(0)).device
    with torch.no_grad():
        return float(F.mse_loss(model(ds.tensors[0].to(dev)), ds.tensors[1].to(dev)))


class _Interpolate(nn.Module):
    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def forward(self, x: Tensor) -> Tensor:
        kw = {} if self.mode == "nearest" else {"align_corners": False}
        return F.interpolate(x, scale_factor=2, mode=self.mode, **kw)


@experiment(
    "cnn-transposed",
    topic="cnn",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Dumoulin & Visin 2016, arXiv:1603.07285; Long, Shelhamer & Darrell 2015, "
    "arXiv:1411.4038 (learned upsampling)",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Check the adjoint identity; train a transposed convolution to upsample."""
    cases = [
        adjoint_case(k, s, p, seed=i)
        for i, (k, s, p) in enumerate(itertools.product(cfg.kernels, cfg.strides, cfg.paddings))
        if p < k
    ]
    data = load_classification(cfg.data, val_fraction=0.1, seed=ctx.seed)
    train = _pairs(subset(data.train, cfg.n_train, ctx.seed + 1))
    test = _pairs(subset(data.test, cfg.n_test, ctx.seed + 3))
    fixed = {mode: _mse(_Interpolate(mode), test) for mode in ("nearest", "bilinear")}
    learned, init, curves, models = [], [], {}, {}
    for s in cfg.seeds:
        model = seeded(lambda: nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1), s)
        init.append(_mse(model, test))
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        loop = train_variant(
            ctx, "upsampler", RegressionTask(model), opt, train, engine=cfg.engine, seed=s
        )
        learned.append(_mse(model, test))
        rows = [r for r in loop.history if "train_loss" in r]
        curves[s] = ([r["step"] for r in rows], [r["train_loss"] for r in rows])
        models[s] = model
    comp = compare_seeds(
        learned, [fixed["bilinear"]] * len(learned), higher_is_better=False,
        label_x="learned", label_y="bilinear",
    )  # fmt: skip
    metrics: dict[str, Any] = {
        "adjoint_cases": cases,
        "low_size": test.tensors[0].shape[-1], "high_size": test.tensors[1].shape[-1],
        "learned_mse": [round(v, 6) for v in learned],
        "learned_mse_mean": sum(learned) / len(learned),
        "init_mse_mean": sum(init) / len(init),
        "bilinear_mse": fixed["bilinear"], "nearest_mse": fixed["nearest"],
        "learned_vs_bilinear": comp.as_dict(),
        "learned_vs_bilinear_evidence": comp.evidence(),
    }  # fmt: skip
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.0, 4.0), dpi=DPI)
    for s, (xs, ys) in curves.items():
        ax1.plot(xs, ys, label=f"learned, seed {s}")
    for mode, v in fixed.items():
        ax1.axhline(v, ls="--", color="grey" if mode == "nearest" else "black", label=mode)
    ax1.set(xlabel="step", ylabel="MSE", yscale="log", title="transposed conv learns to upsample")
    ax1.legend(fontsize="small")
    w = models[cfg.seeds[0]].weight.detach()[0, 0]
    ax2.imshow(w.numpy(), cmap="RdBu_r")
    for (i, j), v in zip(itertools.product(range(4), range(4)), w.flatten().tolist(), strict=True):
        ax2.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8)
    ax2.set(title="learned 4x4 kernel (bilinear: outer product of .25 .75 .75 .25)")
    fig.tight_layout()
    return Result(metrics=metrics, plots=[save_figure(fig, ctx.path("upsampling.png"))])
