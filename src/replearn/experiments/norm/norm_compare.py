"""Experiment ``norm-compare``: the same small CNN with each normalization, and seven claims.

replearn run norm-compare                       # Fashion-MNIST (needs the files), ~2.5 CPU min
replearn run norm-compare --preset quick        # 8x8 digits, embedded
replearn claims norm

The CNN of :func:`~replearn.experiments.norm.measure.make_cnn` is trained with SGD +
momentum by ``fit``, one sub-run folder per training: every variant of
``variants`` at the base learning rate (``loss_curves.png``); a learning-rate sweep
of ``none`` and ``batch`` (``lr_sweep.png``); ``batch`` and ``group`` at batch
size ``small_batch`` and ``large_batch`` on the same number of examples, the
learning rate scaled linearly with the batch size (Goyal et al. 2017,
arXiv:1706.02677, as Wu & He 2018 do; ``small_batch.png``). Then the trained
networks are probed: an example alone vs inside a batch (training mode), and
the weight-normed one for ``||w|| = |g|``, invariance to the scale of ``v`` and
``grad_v . v = 0``; RMSNorm and LayerNorm are timed (forward + backward) on both paths:
the from-scratch references, which do the same elementary operations (so their ratio
measures the arithmetic the paper saves), and the fast paths the layers train with (torch's
``F.rms_norm`` and the fused ``F.layer_norm``, whose ratio measures the kernels); each ratio
is the median of per-round paired ratios with a 95% sign-test interval, and "cheaper" needs
the whole interval below 1.

Training seeds (issue 21). The comparisons are judged over ``n_seeds`` training seeds
(``seed, seed + 1, ...``; 3 by default) with
:func:`replearn.experiments.stats.compare_seeds` (paired by seed: at each seed every variant
starts from the same initial convolutions and sees the same batches; the one-sided 95%
Student-t lower bound of the mean paired difference must clear the margin): the base runs of
``none``, ``batch`` and ``layer`` (the claims' variants), the learning-rate sweep of ``none``
and ``batch`` and the four batch-size runs are repeated for every seed; the other variants'
base runs and the weight-norm probe use the first seed only. The data split is
fixed. One seed of this default took 1525 s wall at load ~30 (2026-12-07); the two extra
seeds add 3 base runs of 300 steps and the batch-size runs (3200 + 200 steps per variant)
each, about 1.8x the one-seed CPU time (estimated before any run of the 3-seed default). With
the sweep over the 3 seeds too: 174 CPU s, 553 s wall at load ~3 (one thread, 2026-12-08).

Everything runs on one torch thread (small tensors; the numbers then do not
depend on the machine's core count). The thresholds of the verdicts are config
fields fixed before any run; a claim that fails is reported as failing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from replearn.data import load_classification
from replearn.engine import EngineConfig, RunContext
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.norm.measure import (
    VARIANTS,
    batch_of_one_gap,
    direction_drift,
    make_cnn,
    single_thread,
    time_rms_vs_layer,
    train_sgd_variant,
    weight_norm_checks,
)
from replearn.experiments.stats import MIN_SEEDS, compare_seeds, too_few_seeds
from replearn.report.plots import line_plot


@dataclass(frozen=True)
class Config:
    """Config of ``norm-compare``.

    Attributes:
        data: fashion-mnist (28x28, file) or digits (8x8, embedded).
        widths: channels of the three conv blocks.
        strides: stride of each conv block (spatial size shrinks by it).
        groups: GroupNorm groups (must divide every width).
        variants: normalizations trained at the base learning rate.
        lr: base learning rate of SGD (all variants; the batch-size runs scale it).
        momentum: SGD momentum.
        lrs: learning-rate sweep for ``none`` and ``batch`` (should contain ``lr``).
        target_loss: "trains faster": steps until the logged training loss is <= this.
        stable_loss: a run "tolerates" a learning rate if finite and its final loss < this.
        small_batch: the small batch size of the GroupNorm / BatchNorm comparison.
        large_batch: the large batch size of that comparison.
        batch_examples: training examples each run of that comparison sees.
        degrade_pp: accuracy points by which BatchNorm must lose more than GroupNorm.
        independence_examples: test examples for the batch-of-one check.
        independence_tol: largest |logit difference| that counts as "the same output".
        timing_rows: rows of the (rows, timing_dim) activations timed for RMS vs Layer.
        timing_dim: normalized width of those activations.
        timing_rounds: interleaved timing rounds (median of the per-round ratios).
        weight_tol: relative tolerance of the weight-norm identities.
        fast: use the layers' fused fast paths for training (tested equal to the reference).
        val_fraction: share of the training pool held out (unused by the claims).
        n_seeds: training seeds (``seed, seed + 1, ...``) of the base runs of none, batch and
            layer and of the batch-size runs; the comparisons need >= 3.
        engine: loop settings; ``max_steps`` and ``batch_size`` are the base runs'.
    """

    data: Literal["fashion-mnist", "digits"] = "fashion-mnist"
    widths: tuple[int, int, int] = (16, 32, 32)
    strides: tuple[int, int, int] = (2, 2, 2)
    groups: int = 4
    variants: tuple[str, ...] = VARIANTS
    lr: float = 0.05
    momentum: float = 0.9
    lrs: tuple[float, ...] = (0.05, 0.2, 1.0, 5.0)
    target_loss: float = 0.8
    stable_loss: float = 1.0
    small_batch: int = 2
    large_batch: int = 32
    batch_examples: int = 6400
    degrade_pp: float = 1.0
    independence_examples: int = 32
    independence_tol: float = 1e-5
    timing_rows: int = 256
    timing_dim: int = 512
    timing_rounds: int = 30
    weight_tol: float = 1e-5
    fast: bool = True
    val_fraction: float = 0.1
    n_seeds: int = 3
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=300, batch_size=64, log_every=10, checkpoint_every=0, progress=False
        )
    )

    def __post_init__(self) -> None:
        unknown = set(self.variants) - set(VARIANTS)
        if unknown or not {"none", "batch", "layer", "weight"} <= set(self.variants):
            raise ValueError(f"variants must include none, batch, layer, weight: {self.variants}")
        if any(w % self.groups for w in self.widths):
            raise ValueError(f"groups={self.groups} must divide every width {self.widths}")
        if self.lr <= 0 or any(lr <= 0 for lr in self.lrs) or self.lr not in self.lrs:
            raise ValueError(f"lr={self.lr} and lrs={self.lrs} must be positive, lr in lrs")
        if self.n_seeds < 1:
            raise ValueError(f"n_seeds must be >= 1, got {self.n_seeds}")


def tiny() -> Config:
    """Seconds: digits, a few steps of everything, one seed (comparisons not measured)."""
    return Config(
        data="digits",
        n_seeds=1,
        widths=(8, 8, 8),
        strides=(1, 2, 2),
        lrs=(0.05, 1.0),
        batch_examples=64,
        timing_rows=64,
        timing_dim=64,
        timing_rounds=5,
        engine=dataclasses.replace(Config().engine, max_steps=8, batch_size=32, log_every=4),
    )


def quick() -> Config:
    """Seconds: digits, 15 steps per run, 256 examples per batch-size run, 3 seeds (smoke)."""
    return Config(
        data="digits",
        strides=(1, 2, 2),
        batch_examples=256,
        timing_rounds=3,
        engine=dataclasses.replace(Config().engine, max_steps=15, batch_size=64),
    )


_THRESHOLDS = (
    "lr", "target_loss", "stable_loss", "small_batch", "large_batch", "batch_examples",
    "degrade_pp", "independence_examples", "independence_tol", "timing_rows", "timing_dim",
    "timing_rounds", "weight_tol", "n_seeds",
)  # fmt: skip
"""Config fields copied into the metrics (the verdicts read only the metrics)."""


def _num(x: float | None, spec: str = ".3f") -> str:
    return "never" if x is None else format(x, spec)


def _finite(x: float) -> float | None:
    """JSON-safe: inf (never / diverged) becomes None."""
    return x if math.isfinite(x) else None


def _not_measured(m: dict[str, Any]) -> str | None:
    return too_few_seeds(len(m["seeds"]))


def _seeds_text(values: list[float | None], spec: str = ".3f") -> str:
    return ", ".join(_num(v, spec) for v in values)


def _v_faster(m: dict[str, Any]) -> tuple[bool, str]:
    if (why := _not_measured(m)) is not None:
        return False, why
    fn, fb = m["none_final_loss_seeds"], m["batch_final_loss_seeds"]
    sn, sb = m["none_steps_to_target_seeds"], m["batch_steps_to_target_seeds"]
    head = (
        f"at lr {m['lr']:g}, {m['base_steps']} steps, seeds {m['seeds']}: step at which the "
        f"training loss is first <= {m['target_loss']:g}: BatchNorm {_seeds_text(sb, 'd')}, "
        f"none {_seeds_text(sn, 'd')}; final training loss BatchNorm {_seeds_text(fb)}, none "
        f"{_seeds_text(fn)}"
    )
    if None in fn or None in fb:
        return False, f"{head}; a base run diverged, so the paired comparison is not made"
    never = m["steps_never"]  # "never" counted as the first log step after the end
    steps = compare_seeds(
        [never if s is None else s for s in sb], [never if s is None else s for s in sn],
        higher_is_better=False, label_x="BatchNorm", label_y="none",
    )  # fmt: skip
    loss = compare_seeds(fb, fn, higher_is_better=False, label_x="BatchNorm", label_y="none")
    reached = None not in sb
    holds = reached and steps.holds and loss.holds
    return holds, (
        f"{head}; BatchNorm reaches the target at every seed: {reached}; steps (never = "
        f"{never}, fewer is better): {steps.evidence()}; final loss (lower is better): "
        f"{loss.evidence()}"
    )


def _v_lr(m: dict[str, Any]) -> tuple[bool, str]:
    """Claim ``batchnorm-larger-lr``: BatchNorm's largest stable rate of the sweep is higher
    than none's on every seed (a grid value per seed: a threshold on each seed, no t bound)."""
    cells = []
    for lr in m["sweep_lrs"].split(","):
        row = [
            "/".join(
                _num(x).replace("never", "diverged") for x in m[f"{v}_lr{lr}_final_loss_seeds"]
            )
            for v in VARIANTS[:2]
        ]
        cells.append(f"lr {lr}: none {row[0]} / batch {row[1]}")
    bn, nn_ = m["batch_max_stable_lr_seeds"], m["none_max_stable_lr_seeds"]
    higher = sum(b > n for b, n in zip(bn, nn_, strict=True))
    head = (
        f"seeds {m['seeds']}: largest learning rate with a finite final training loss < "
        f"{m['stable_loss']:g}: BatchNorm {', '.join(f'{x:g}' for x in bn)}, none "
        f"{', '.join(f'{x:g}' for x in nn_)} (0 = none; higher for BatchNorm on {higher}/"
        f"{len(bn)} seeds); final losses per seed (chance: ln 10 = 2.303) {'; '.join(cells)}"
    )
    if (why := _not_measured(m)) is not None:
        return False, f"{why}; {head}"
    return higher == len(bn), f"{head} (holds if higher on every seed)"


def _v_layer(m: dict[str, Any]) -> tuple[bool, str]:
    others = ", ".join(
        f"{v} {m[f'{v}_batch_of_one_gap']:.2e}" for v in VARIANTS if f"{v}_batch_of_one_gap" in m
    )
    tol = m["independence_tol"]
    # None: that seed's run diverged (no trained network to probe): the seed fails
    layer = [math.inf if g is None else g for g in m["layer_batch_of_one_gap_seeds"]]
    batch = [math.nan if g is None else g for g in m["batch_batch_of_one_gap_seeds"]]
    holds = bool(layer and batch) and max(layer) <= tol and all(g > tol for g in batch)
    return holds, (
        f"max |f(x_i alone) - f(batch)_i| of the trained networks in training mode over "
        f"{m['independence_examples']} test images, every one of the seeds {m['seeds']}: "
        f"LayerNorm {', '.join(f'{g:.2e}' for g in layer)} (each must be <= {tol:g}), "
        f"BatchNorm {', '.join(f'{g:.2e}' for g in batch)} (each must be > {tol:g}); all "
        f"variants at seed {m['seeds'][0]}: {others}"
    )


def _group_comparisons(m: dict[str, Any]) -> tuple[Any, Any]:
    s, big = m["small_batch"], m["large_batch"]
    acc = {(v, n): m[f"{v}_b{n}_test_accuracy_seeds"] for v in ("batch", "group") for n in (s, big)}
    drop = {
        v: [a - b for a, b in zip(acc[v, big], acc[v, s], strict=True)] for v in ("batch", "group")
    }
    degrade = compare_seeds(
        drop["batch"], drop["group"], margin=m["degrade_pp"] / 100, unit="points",
        label_x="BatchNorm's drop", label_y="GroupNorm's drop",
    )  # fmt: skip
    small = compare_seeds(
        acc["group", s], acc["batch", s], unit="points",
        label_x=f"GroupNorm at batch {s}", label_y=f"BatchNorm at batch {s}",
    )  # fmt: skip
    return degrade, small


def _v_group(m: dict[str, Any]) -> tuple[bool, str]:
    if (why := _not_measured(m)) is not None:
        return False, why
    s, big = m["small_batch"], m["large_batch"]
    acc = {(v, n): m[f"{v}_b{n}_test_accuracy"] for v in ("batch", "group") for n in (s, big)}
    degrade, small = _group_comparisons(m)
    return degrade.holds and small.holds, (
        f"test accuracy after {m['batch_examples']} examples (means over seeds {m['seeds']}), "
        f"batch {big} -> {s}: BatchNorm {100 * acc['batch', big]:.1f}% -> "
        f"{100 * acc['batch', s]:.1f}%, GroupNorm {100 * acc['group', big]:.1f}% -> "
        f"{100 * acc['group', s]:.1f}%; needs BatchNorm to drop more than {m['degrade_pp']:g} "
        f"points more than GroupNorm: {degrade.evidence()}; and GroupNorm better at batch {s}: "
        f"{small.evidence()}"
    )


def _rms_evidence(m: dict[str, Any], kind: str, names: tuple[str, str]) -> tuple[bool, str]:
    r, lo, hi = (m[f"rms_over_layer_{kind}{x}"] for x in ("", "_lo", "_hi"))
    holds = hi < 1.0
    return holds, (
        f"forward+backward on ({m['timing_rows']}, {m['timing_dim']}) float32, CPU time of "
        f"one thread, {m['timing_rounds']} interleaved rounds: "
        f"{names[0]} {m[f'time_rms_{kind}_us']:.0f} us vs "
        f"{names[1]} {m[f'time_layer_{kind}_us']:.0f} us (medians); paired ratio "
        f"RMS / Layer {r:.2f}, 95% interval of the median {lo:.2f}-{hi:.2f} "
        f"({'below' if holds else 'not below'} 1)"
    )


def _v_rms(m: dict[str, Any]) -> tuple[bool, str]:
    holds, text = _rms_evidence(m, "ref", ("reference RMSNorm", "reference LayerNorm"))
    return holds, (
        f"{text}; the fast paths for context: F.rms_norm {m['time_rms_torch_us']:.0f} us vs "
        f"F.layer_norm {m['time_layer_torch_us']:.0f} us (ratio {m['rms_over_layer_torch']:.2f}, "
        "claim rmsnorm-fast-path-cheaper)"
    )


def _v_rms_fast(m: dict[str, Any]) -> tuple[bool, str]:
    holds, text = _rms_evidence(m, "torch", ("F.rms_norm", "F.layer_norm"))
    return holds, (
        f"{text}; on CPU F.layer_norm is one fused kernel, F.rms_norm a composite of a few; "
        f"the same arithmetic written alike (references): ratio {m['rms_over_layer_ref']:.2f}"
    )


def _v_weight(m: dict[str, Any]) -> tuple[bool, str]:
    keys = ("wn_rel_norm_error", "wn_rescale_v_rel", "wn_max_abs_cos_grad_v")
    holds = all(m[k] <= m["weight_tol"] for k in keys)
    return holds, (
        f"trained weight-normed CNN, every output unit: max | ||w||/|g| - 1 | = "
        f"{m['wn_rel_norm_error']:.1e}; output change when every v is scaled by 10: "
        f"{m['wn_rescale_v_rel']:.1e} (relative); max |cos(grad_v, v)| = "
        f"{m['wn_max_abs_cos_grad_v']:.1e} (tolerance {m['weight_tol']:g}); in training "
        f"|log g| moved {m['wn_mean_abs_dlog_g']:.3f} on average while the directions of v "
        f"turned by {m['wn_mean_angle_deg']:.1f} deg"
    )


_SEEDS = (
    "judged over 3 training seeds (variants share each seed's initial weights and batches; "
    "mean paired difference, one-sided 95% Student-t lower bound)"
)
CLAIMS = (
    Claim(
        "batchnorm-trains-faster",
        "BatchNorm trains faster than no normalization (Ioffe & Szegedy 2015): at the same "
        "learning rate it reaches the target training loss (at every seed) in fewer steps and "
        f"ends at a lower training loss, both {_SEEDS} (a run that never reaches the target "
        "counts as the first log step after the end).",
        _v_faster,
        "loss_curves.png",
    ),
    Claim(
        "batchnorm-larger-lr",
        "BatchNorm tolerates a larger learning rate than no normalization: the largest rate of "
        "the sweep that still trains (finite final training loss below stable_loss) is higher, "
        "on every one of >= 3 training seeds.",
        _v_lr,
        "lr_sweep.png",
    ),
    Claim(
        "layernorm-batch-independent",
        "LayerNorm's output does not depend on the batch: an example alone gives the same output "
        "as inside a batch, in training mode too (BatchNorm's does not): holds if, for the "
        "trained networks of every one of the 3 training seeds, LayerNorm's largest difference "
        "is within the tolerance and BatchNorm's exceeds it.",
        _v_layer,
    ),
    Claim(
        "groupnorm-small-batch",
        "GroupNorm holds up at batch size 2 where BatchNorm degrades (Wu & He 2018): going from "
        "batch 32 to batch 2 (same examples, learning rate scaled with the batch), BatchNorm's "
        "test accuracy drops by more than 1 point more than GroupNorm's, and GroupNorm is more "
        f"accurate at batch 2; both {_SEEDS}.",
        _v_group,
        "small_batch.png",
    ),
    Claim(
        "rmsnorm-cheaper",
        "RMSNorm needs less computation than LayerNorm (Zhang & Sennrich 2019: one statistic, "
        "no centring): written the same way in elementary torch operations (the layers' "
        "from-scratch reference paths), its forward + backward takes less CPU time on one "
        "thread; holds if the 95% interval of the median paired time ratio RMSNorm / "
        "LayerNorm lies below 1.",
        _v_rms,
    ),
    Claim(
        "rmsnorm-fast-path-cheaper",
        "RMSNorm is also cheaper through the fast paths the layers train with (torch's "
        "F.rms_norm vs F.layer_norm, on the machine that runs the experiment): holds if the 95% "
        "interval of the median paired time ratio RMSNorm / LayerNorm lies below 1.",
        _v_rms_fast,
    ),
    Claim(
        "weightnorm-decouples",
        "Weight norm decouples magnitude and direction (Salimans & Kingma 2016): ||w|| = |g|, "
        "the output ignores the scale of v, and the gradient in v is orthogonal to v.",
        _v_weight,
    ),
)


def _cnn(cfg: Config, variant: str, data: Any, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)  # the same initial convolutions for every variant
    kw = {"widths": cfg.widths, "strides": cfg.strides, "groups": cfg.groups, "fast": cfg.fast}
    return make_cnn(variant, data.input_shape, data.num_classes, **kw)


@experiment(
    "norm-compare",
    topic="norm",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Ioffe & Szegedy 2015; Ba et al. 2016; Ulyanov et al. 2016; Salimans & Kingma 2016; "
    "Wu & He 2018; Zhang & Sennrich 2019",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """One small CNN per normalization: loss curves, a learning-rate sweep, batch size 2."""
    with single_thread():
        return _run(cfg, ctx)


def _run(cfg: Config, ctx: RunContext) -> Result:
    data = load_classification(cfg.data, val_fraction=cfg.val_fraction, seed=ctx.seed)
    m: dict[str, Any] = {k: getattr(cfg, k) for k in _THRESHOLDS}
    m["base_steps"] = cfg.engine.max_steps
    m["steps_never"] = cfg.engine.max_steps + cfg.engine.log_every
    seeds = list(range(ctx.seed, ctx.seed + cfg.n_seeds))
    m["seeds"] = seeds
    x_test, y_test = (t[: cfg.independence_examples].to(ctx.device) for t in data.test.tensors)

    def train(run: RunContext, name: str, variant: str, lr: float, seed: int,
              engine: EngineConfig = cfg.engine) -> dict:  # fmt: skip
        model = _cnn(cfg, variant, data, seed).to(ctx.device)
        return train_sgd_variant(model, data, run, name, lr=lr, momentum=cfg.momentum,
                                 engine=engine, target_loss=cfg.target_loss)  # fmt: skip

    per_seed: dict[str, list[Any]] = {}

    def record(key: str, value: Any) -> None:
        per_seed.setdefault(f"{key}_seeds", []).append(value)

    runs: dict[str, dict] = {}
    for s in seeds:  # the first seed in the top folder (every variant), the others in seed<s>/
        with contextlib.ExitStack() as stack:
            run = ctx if s == ctx.seed else stack.enter_context(ctx.child(f"seed{s}", seed=s))
            variants = cfg.variants if s == ctx.seed else ("none", "batch", "layer")
            seed_runs = {v: train(run, v, v, cfg.lr, s) for v in variants}
            for v in ("none", "batch"):
                record(f"{v}_final_loss", _finite(seed_runs[v]["final_loss"]))
                record(f"{v}_steps_to_target", _finite(seed_runs[v]["steps_to_target"]))
            for v in ("layer", "batch"):
                r = seed_runs[v]
                record(f"{v}_batch_of_one_gap",
                       None if r["diverged"] else batch_of_one_gap(r["model"], x_test))  # fmt: skip
            for v in ("batch", "group"):  # same examples, learning rate proportional to batch
                for size in (cfg.small_batch, cfg.large_batch):
                    steps = max(cfg.batch_examples // size, 1)
                    engine = dataclasses.replace(cfg.engine, max_steps=steps, batch_size=size)
                    lr = cfg.lr * size / cfg.engine.batch_size
                    r = train(run, f"{v}-b{size}", v, lr, s, engine)
                    record(f"{v}_b{size}_test_accuracy", r.get("test_accuracy", 0.0))  # 0: diverged
            for lr in cfg.lrs:  # learning-rate sweep; base rate: the runs above
                for v in ("none", "batch"):
                    r = seed_runs[v] if lr == cfg.lr else train(run, f"{v}-lr{lr:g}", v, lr, s)
                    record(f"{v}_lr{lr:g}_final_loss", _finite(r["final_loss"]))
            for v in ("none", "batch"):
                rates = [0.0] + [
                    lr
                    for lr, x in zip(cfg.lrs, per_seed_sweep(per_seed, v, cfg.lrs), strict=True)
                    if x is not None and x < cfg.stable_loss
                ]
                record(f"{v}_max_stable_lr", max(rates))
            if s == ctx.seed:
                runs = seed_runs
    m.update(per_seed)
    for v in ("batch", "group"):
        for size in (cfg.small_batch, cfg.large_batch):
            accs = per_seed[f"{v}_b{size}_test_accuracy_seeds"]
            m[f"{v}_b{size}_test_accuracy"] = sum(accs) / len(accs)  # mean over seeds
    for v, r in runs.items():  # the first seed's runs
        m[f"{v}_final_loss"] = _finite(r["final_loss"])
        m[f"{v}_steps_to_target"] = _finite(r["steps_to_target"])
        m[f"{v}_test_accuracy"] = r.get("test_accuracy")
        if not r["diverged"]:
            m[f"{v}_batch_of_one_gap"] = batch_of_one_gap(r["model"], x_test)
    if len(seeds) >= MIN_SEEDS:
        degrade, small = _group_comparisons(m)
        m["group_degrade_comparison"], m["group_small_comparison"] = (
            degrade.as_dict(),
            small.as_dict(),
        )

    for i, lr in enumerate(cfg.lrs):  # the sweep's first seed: plotted and logged
        for v in ("none", "batch"):
            m[f"{v}_lr{lr:g}_final_loss"] = per_seed[f"{v}_lr{lr:g}_final_loss_seeds"][0]
        losses = {f"{v}_final_loss": m[f"{v}_lr{lr:g}_final_loss"] for v in ("none", "batch")}
        ctx.log(i, lr=lr, **{k: x for k, x in losses.items() if x is not None})
    for v in ("none", "batch"):
        m[f"{v}_max_stable_lr"] = per_seed[f"{v}_max_stable_lr_seeds"][0]
    m["sweep_lrs"] = ",".join(f"{lr:g}" for lr in cfg.lrs)

    m.update(time_rms_vs_layer(cfg.timing_rows, cfg.timing_dim, cfg.timing_rounds))
    wn = runs["weight"]["model"]
    m.update(weight_norm_checks(wn, x_test, y_test))
    m.update(direction_drift(_cnn(cfg, "weight", data, ctx.seed), wn))
    return Result(metrics=m, model=None, plots=_plots(cfg, ctx, runs, m))


def per_seed_sweep(per_seed: dict[str, list[Any]], variant: str, lrs: tuple[float, ...]) -> list:
    """The latest seed's final training losses of ``variant`` over the sweep ``lrs``."""
    return [per_seed[f"{variant}_lr{lr:g}_final_loss_seeds"][-1] for lr in lrs]


def _plots(cfg: Config, ctx: RunContext, runs: dict, m: dict) -> list:
    longest = max(runs.values(), key=lambda r: len(r["steps"]))["steps"]
    curves = {v: r["losses"] + [math.nan] * (len(longest) - len(r["losses"]))
              for v, r in runs.items()}  # fmt: skip
    sweep = {v: [m[f"{v}_lr{lr:g}_final_loss"] or math.nan for lr in cfg.lrs]
             for v in ("none", "batch")}  # fmt: skip
    sizes = [cfg.small_batch, cfg.large_batch]
    accs = {v: [m[f"{v}_b{n}_test_accuracy"] for n in sizes] for v in ("batch", "group")}
    return [
        line_plot(longest, curves, ctx.path("loss_curves.png"), xlabel="step",
                  ylabel="training loss", title=f"{cfg.data}, SGD lr {cfg.lr:g}"),
        line_plot(cfg.lrs, sweep, ctx.path("lr_sweep.png"), xlabel="learning rate",
                  ylabel="final training loss", title="learning-rate sweep (missing: NaN loss)",
                  logx=True),
        line_plot(sizes, accs, ctx.path("small_batch.png"), xlabel="batch size",
                  ylabel="test accuracy", title=f"{cfg.batch_examples} examples, lr ∝ batch"),
    ]  # fmt: skip
