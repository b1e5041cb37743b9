r"""Experiment ``norm-invariances``: what a normalization removes, and what that buys.

    replearn run norm-invariances                 # a few minutes on 2 cores, no file
    replearn claims norm-invariances --quick

Embedded data only (scikit-learn's wine and digits), every model trained through the
engine; "X beats Y" claims over ``seeds`` (>= 3) with
:func:`~replearn.experiments.stats.compare_seeds`.

1. ``standardize-speeds-gd``: input standardization (:class:`~replearn.norm.Standardize`,
   fitted on the training split only) speeds up full-batch gradient descent on a
   logistic regression of the wine data (13 features whose scales span 1e-1 to 1e3):
   each variant at its best rate of a log grid, the training loss after
   ``gd_steps`` steps is lower with standardized inputs (seeds = train/test splits).
   The condition numbers of :math:`[X, 1]^\top [X, 1] / n` are reported (see
   :mod:`replearn.optim.least_squares`, Eq. 5). ``standardize.png``.
2. ``layernorm-rnn``: Ba, Kiros & Hinton (2016, arXiv:1607.06450, Sec. 3.1): a tanh RNN
   reading digits pixel by pixel (64 steps) with LayerNorm on the summed input
   :math:`h_t = \tanh(\mathrm{LN}(W_x x_t + W_h h_{t-1}))` ends with a lower training
   loss than the same RNN without it. ``rnn.png``.
3. ``instancenorm-contrast``: Ulyanov, Vedaldi & Lempitsky (2016, arXiv:1607.08022):
   InstanceNorm removes each image's per-channel mean and scale, so a CNN whose first
   convolution (no padding) is followed by InstanceNorm classifies :math:`a x + b`
   (per-image contrast :math:`a > 0`, brightness :math:`b`) as it classifies :math:`x`; the
   same CNN with BatchNorm loses accuracy. ``contrast.png``.
4. ``spectral-norm-lipschitz``: Miyato et al. (2018, arXiv:1802.05957, Sec. 2.1): with
   1-Lipschitz activations, the Lipschitz constant of an MLP is at most the product of
   its layers' spectral norms, which spectral normalization sets to about 1. Measured on
   trained MLPs with and without it: the product of the exact per-layer norms
   (``torch.linalg.matrix_norm(W, 2)`` of the weights the network uses) against the
   largest input-Jacobian norm over test and random inputs (exact, ``torch.func``).
   ``lipschitz.png``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from replearn.engine import EngineConfig, FixedBatches, NonFiniteLossError, RunContext, fit
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import seeded
from replearn.experiments.norm.invariance_probes import (
    PixelRNN,
    contrast_change,
    layer_norms,
    make_cnn,
    max_jacobian_norm,
    wine_split,
)
from replearn.experiments.optim.digits_bench import (
    IndexClassifier,
    load_bench,
    mean_differences,
    mlp,
    seed_bars,
    train_bench,
)
from replearn.experiments.stats import compare_seeds
from replearn.norm import spectral_norm
from replearn.norm.standardize import Standardize
from replearn.optim import SGD, Adam
from replearn.optim.least_squares import normal_matrix


@dataclass(frozen=True)
class Config:
    """Config of ``norm-invariances``.

    Attributes:
        seeds: training seeds (>= 3); for claim 1 they pick the train/test split.
        gd_steps: full-batch gradient-descent steps of claim 1.
        gd_lrs: log10 of the rates of claim 1's grid.
        rnn_hidden: hidden units of the RNNs (claim 2).
        rnn_steps: updates of the RNNs.
        cnn_channels: channels of the two convolutions (claim 3).
        cnn_steps: updates of the CNNs.
        contrast_range: per-image contrast factors drawn log-uniformly in this range.
        brightness: per-image offsets drawn uniformly in [-brightness, brightness].
        lip_width: hidden width of the MLPs of claim 4 (two hidden layers).
        lip_steps: their updates.
        batch: examples per update (claims 2-4).
    """

    seeds: tuple[int, ...] = (0, 1, 2)
    gd_steps: int = 200
    gd_lrs: tuple[float, ...] = (-7.0, -6.0, -5.0, -4.0, -3.0, -2.0, -1.0, 0.0, 1.0)
    rnn_hidden: int = 64
    rnn_steps: int = 300
    cnn_channels: tuple[int, int] = (16, 32)
    cnn_steps: int = 300
    contrast_range: tuple[float, float] = (0.3, 3.0)
    brightness: float = 0.5
    lip_width: int = 128
    lip_steps: int = 500
    batch: int = 64

    def __post_init__(self) -> None:
        if len(self.seeds) < 3:
            raise ValueError(f"seeds needs >= 3 seeds, got {self.seeds}")
        for name in ("gd_steps", "rnn_hidden", "rnn_steps", "cnn_steps", "lip_width",
                     "lip_steps", "batch"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.contrast_range[0] <= self.contrast_range[1]:
            raise ValueError(f"contrast_range must be 0 < low <= high, got {self.contrast_range}")


def tiny() -> Config:
    """Seconds: very short runs (verdicts not meaningful)."""
    return Config(gd_steps=3, gd_lrs=(-2.0,), rnn_hidden=8, rnn_steps=2, cnn_steps=3,
                  lip_width=16, lip_steps=3)  # fmt: skip


def quick() -> Config:
    """Seconds: fewer updates, narrower networks, a coarser grid (a smoke check)."""
    return Config(gd_steps=50, gd_lrs=(-6.0, -4.0, -2.0, 0.0), rnn_hidden=16, rnn_steps=25,
                  cnn_channels=(8, 16), cnn_steps=30, lip_width=32, lip_steps=50)  # fmt: skip


# ---------------------------------------------------------------- 1. standardization


def _condition(x: Tensor) -> float:
    a, _ = normal_matrix(torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1), x[:, 0])
    e = torch.linalg.eigvalsh(a)
    return float(e.max() / e.min())


def _standardize(cfg: Config, ctx: RunContext, m: dict[str, Any]) -> Any:
    final: dict[str, list[float]] = {"raw": [], "standardized": []}
    best_lr: dict[str, list[float]] = {k: [] for k in final}
    cond: dict[str, list[float]] = {k: [] for k in final}
    for seed in cfg.seeds:
        x, y, _, _ = wine_split(seed)
        inputs = {"raw": x, "standardized": Standardize().fit(x)(x)}  # train statistics only
        full = torch.arange(len(y)).expand(cfg.gd_steps, -1)  # full batch every step
        for name, xs in inputs.items():
            cond[name].append(_condition(xs))
            runs = []
            for log_lr in cfg.gd_lrs:
                lr = 10.0**log_lr
                task = IndexClassifier(nn.Linear(13, 3).double(), xs, y)
                nn.init.zeros_(task.model.weight)
                nn.init.zeros_(task.model.bias)
                engine = EngineConfig(max_steps=cfg.gd_steps, batch_size=len(y),
                                      log_every=cfg.gd_steps, checkpoint_every=0, progress=False,
                                      nan_policy="skip", max_skips=10)  # fmt: skip
                with ctx.child(f"gd-{name}-lr1e{log_lr:g}-seed{seed}", seed=seed) as sub:
                    try:
                        fit(task, SGD(task.parameters(), lr=lr), FixedBatches(full),
                            cfg=engine, ctx=sub)  # fmt: skip
                    except NonFiniteLossError:
                        task.diverged = True
                runs.append((task.full_loss(), lr))
            loss, lr = min(runs)
            final[name].append(loss)
            best_lr[name].append(lr)
    c = compare_seeds(final["standardized"], final["raw"], higher_is_better=False,
                      label_x="standardized", label_y="raw")  # fmt: skip
    m.update(std_final_train_loss=final, std_best_lr=best_lr, std_condition=cond,
             std=c.as_dict(), std_evidence=c.evidence())  # fmt: skip
    return seed_bars(final, ctx.path("standardize.png"), ylabel="training loss",
                     title=f"wine, {cfg.gd_steps} GD steps at the best rate")  # fmt: skip


# ---------------------------------------------------------------- 2. LayerNorm RNN


def _rnn(cfg: Config, ctx: RunContext, m: dict[str, Any]) -> Any:
    loss: dict[str, list[float]] = {"layernorm": [], "plain": []}
    for seed in cfg.seeds:
        bench = load_bench(seed)
        for name in loss:
            build: Callable[[], nn.Module] = lambda n=name: PixelRNN(  # noqa: E731
                cfg.rnn_hidden, layer_norm=n == "layernorm"
            )
            task = IndexClassifier(seeded(build, seed), bench.x_train, bench.y_train)
            train_bench(ctx, f"rnn-{name}", task, lambda p: Adam(p, lr=3e-3),
                        steps=cfg.rnn_steps, batch=cfg.batch, seed=seed)  # fmt: skip
            loss[name].append(task.full_loss())
    c = compare_seeds(loss["layernorm"], loss["plain"], higher_is_better=False,
                      label_x="LayerNorm RNN", label_y="RNN")  # fmt: skip
    m.update(rnn_train_loss=loss, rnn=c.as_dict(), rnn_evidence=c.evidence())
    return seed_bars(loss, ctx.path("rnn.png"), ylabel="training loss",
                     title=f"pixel-by-pixel digits, {cfg.rnn_steps} updates")  # fmt: skip


# ---------------------------------------------------------------- 3. InstanceNorm


def _contrast(cfg: Config, ctx: RunContext, m: dict[str, Any]) -> Any:
    drop: dict[str, list[float]] = {"instance": [], "batch": []}
    acc: dict[str, list[float]] = {"instance": [], "batch": []}
    logit_change: list[float] = []
    for seed in cfg.seeds:
        bench = load_bench(seed)
        img = {k: v.view(-1, 1, 8, 8) for k, v in (("tr", bench.x_train), ("te", bench.x_test))}
        changed = contrast_change(img["te"], *cfg.contrast_range, cfg.brightness, seed + 1000)
        for norm in drop:
            task = IndexClassifier(seeded(lambda n=norm: make_cnn(n, cfg.cnn_channels), seed),
                                   img["tr"], bench.y_train)  # fmt: skip
            train_bench(ctx, f"contrast-{norm}", task, lambda p: Adam(p, lr=3e-3),
                        steps=cfg.cnn_steps, batch=cfg.batch, seed=seed)  # fmt: skip
            task.eval()
            a0, a1 = task.accuracy(img["te"], bench.y_test), task.accuracy(changed, bench.y_test)
            acc[norm].append(a0)
            drop[norm].append(a0 - a1)
            if norm == "instance":
                dev = task.x.device  # the task's device
                with torch.no_grad():
                    z0, z1 = task.model(img["te"].to(dev)), task.model(changed.to(dev))
                logit_change.append(float((z1 - z0).abs().max() / z0.abs().max()))
    c = compare_seeds(drop["batch"], drop["instance"], label_x="BN drop", label_y="IN drop",
                      unit="points")  # fmt: skip
    m.update(contrast_drop=drop, contrast_accuracy=acc, contrast_in_logit_change=logit_change,
             contrast=c.as_dict(), contrast_evidence=c.evidence())  # fmt: skip
    return seed_bars(drop, ctx.path("contrast.png"), ylabel="accuracy drop under a x + b",
                     title="per-image contrast and brightness")  # fmt: skip


# ---------------------------------------------------------------- 4. spectral norm


def _lipschitz(cfg: Config, ctx: RunContext, m: dict[str, Any]) -> Any:
    bench = load_bench(ctx.seed)
    probe = torch.cat(
        [bench.x_test, torch.rand(512, 64, generator=torch.Generator().manual_seed(0))]
    )
    out: dict[str, dict[str, Any]] = {}
    for name in ("spectral", "plain"):

        def build(sn: bool = name == "spectral") -> nn.Module:
            net = mlp((64, cfg.lip_width, cfg.lip_width, 10), nn.ReLU)
            if sn:
                for mod in net:
                    if isinstance(mod, nn.Linear):
                        spectral_norm(mod)
            return net

        task = IndexClassifier(seeded(build, ctx.seed), bench.x_train, bench.y_train)
        train_bench(ctx, f"lipschitz-{name}", task, lambda p: Adam(p, lr=1e-3),
                    steps=cfg.lip_steps, batch=cfg.batch, seed=ctx.seed)  # fmt: skip
        task.eval()
        with torch.no_grad():
            norms = layer_norms(task.model)
        out[name] = {"layer_norms": norms, "bound": math.prod(norms),
                     "max_jacobian": max_jacobian_norm(task.model, probe.to(task.x.device)),
                     "test_accuracy": task.accuracy(bench.x_test, bench.y_test)}  # fmt: skip
    m["lipschitz"] = out
    bars = {f"{k} {q}": [v[q]] for k, v in out.items() for q in ("bound", "max_jacobian")}
    return seed_bars(bars, ctx.path("lipschitz.png"), ylabel="Lipschitz bound / measured",
                     title="product of layer norms vs largest Jacobian norm")  # fmt: skip


# ---------------------------------------------------------------- verdicts


def _v_std(m: dict[str, Any]) -> tuple[bool, str]:
    c = m["std_condition"]
    return m["std"]["holds"], (
        f"training loss after GD at each variant's best rate: {m['std_evidence']}; best rates "
        f"raw {m['std_best_lr']['raw']}, standardized {m['std_best_lr']['standardized']}; "
        f"condition number of [X,1]'[X,1]/n: raw {c['raw'][0]:.3g}, standardized "
        f"{c['standardized'][0]:.3g} (seed 0)"
    )


def _v_rnn(m: dict[str, Any]) -> tuple[bool, str]:
    return m["rnn"]["holds"], f"final training loss: {m['rnn_evidence']}"


def _v_contrast(m: dict[str, Any]) -> tuple[bool, str]:
    d = m["contrast_drop"]
    invariant = all(abs(v) <= 0.005 for v in d["instance"])
    return invariant and m["contrast"]["holds"], (
        f"test-accuracy drop under a x + b: InstanceNorm {[round(v, 4) for v in d['instance']]} "
        f"(largest relative logit change {max(m['contrast_in_logit_change']):.1e}), BatchNorm "
        f"{[round(v, 4) for v in d['batch']]}; {m['contrast_evidence']}"
    )


def _v_lip(m: dict[str, Any]) -> tuple[bool, str]:
    sn, plain = m["lipschitz"]["spectral"], m["lipschitz"]["plain"]
    holds = (sn["max_jacobian"] <= sn["bound"] and plain["max_jacobian"] <= plain["bound"]
             and sn["bound"] <= 1.1 and plain["bound"] >= 10 * sn["bound"])  # fmt: skip
    return holds, (
        f"spectral norm: product of layer norms {sn['bound']:.3f} "
        f"({', '.join(f'{v:.3f}' for v in sn['layer_norms'])}), largest Jacobian norm "
        f"{sn['max_jacobian']:.3f}, test accuracy {sn['test_accuracy']:.3f}; plain: product "
        f"{plain['bound']:.3g}, largest Jacobian norm {plain['max_jacobian']:.3g}, test "
        f"accuracy {plain['test_accuracy']:.3f}"
    )


CLAIMS = (
    Claim("standardize-speeds-gd",
          "Standardized inputs (statistics of the training split) speed up gradient descent: "
          "on the wine logistic regression, each at its best rate, the training loss after "
          "the same full-batch steps is lower than with raw inputs, over >= 3 splits.",
          _v_std, "standardize.png"),
    Claim("layernorm-rnn",
          "LayerNorm helps an RNN train (Ba et al. 2016): a pixel-by-pixel tanh RNN with "
          "LayerNorm on its summed input ends with a lower training loss than without, over "
          ">= 3 seeds.", _v_rnn, "rnn.png"),
    Claim("instancenorm-contrast",
          "InstanceNorm makes a CNN invariant to per-image contrast and brightness: its test "
          "accuracy on a x + b changes by at most 0.5 points on every seed, and a BatchNorm "
          "CNN's drops more, over >= 3 seeds.", _v_contrast, "contrast.png"),
    Claim("spectral-norm-lipschitz",
          "Spectral normalization bounds the whole network's Lipschitz constant: the product "
          "of the layers' exact spectral norms is <= 1.1 with it and >= 10x larger without; "
          "the largest measured Jacobian norm never exceeds that product.",
          _v_lip, "lipschitz.png"),
)  # fmt: skip


@experiment(
    "norm-invariances",
    topic="norm",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="LeCun et al. 1998 (Efficient BackProp); Ba, Kiros & Hinton 2016, arXiv:1607.06450; "
    "Ulyanov et al. 2016, arXiv:1607.08022; Miyato et al. 2018, arXiv:1802.05957",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Standardized inputs, LayerNorm RNN, InstanceNorm's invariance, spectral norm's bound."""
    m: dict[str, Any] = {}
    with single_thread():
        plots = [_standardize(cfg, ctx, m), _rnn(cfg, ctx, m), _contrast(cfg, ctx, m),
                 _lipschitz(cfg, ctx, m)]  # fmt: skip
    # flat numbers for result.json: each comparison's mean difference (favouring its X)
    m.update(mean_differences(m))
    for name, row in m["lipschitz"].items():
        m[f"lipschitz_{name}_bound"], m[f"lipschitz_{name}_max_jacobian"] = (
            row["bound"],
            row["max_jacobian"],
        )
    return Result(metrics=m, plots=plots)
