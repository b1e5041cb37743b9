"""The model and the measurements of ``norm-compare`` (the experiment itself is in ``compare.py``).

- :func:`make_cnn`: three ``conv 3x3 -> norm -> ReLU`` blocks (strided, no pooling),
  global average pooling and a linear classifier, with any of the topic's norms;
- :func:`train_sgd_variant`: one sub-run of ``fit`` (SGD + momentum), its loss curve,
  divergence and test accuracy;
- :func:`time_fwd_bwd`, :func:`time_rms_vs_layer`: interleaved forward + backward timings;
- :func:`batch_of_one_gap`, :func:`weight_norm_checks`, :func:`direction_drift`: the
  probes of the batch-independence and weight-norm claims.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.data import ClassificationData
from replearn.engine import (
    ClassificationTask,
    EngineConfig,
    Loop,
    NonFiniteLossError,
    RunContext,
    evaluate,
)
from replearn.engine.context import single_thread  # noqa: F401 (re-exported)
from replearn.experiments import stats
from replearn.norm import (
    BatchNorm2d,
    GroupNorm,
    InstanceNorm2d,
    LayerNorm,
    RMSNorm,
    layer_norm,
    rms_norm,
    weight_norm,
)

VARIANTS = ("none", "batch", "layer", "group", "instance", "rms", "weight")
"""Activation norms of :func:`make_cnn` (``weight``: weight norm, no activation norm)."""


def make_norm(variant: str, c: int, h: int, w: int, *, groups: int, fast: bool) -> nn.Module:
    """The activation normalization of a block of C channels of H x W (Identity for none)."""
    if variant == "batch":
        return BatchNorm2d(c, fast=fast)
    if variant == "layer":
        return LayerNorm((c, h, w), fast=fast)  # statistics over (C, H, W) per example
    if variant == "group":
        return GroupNorm(groups, c, fast=fast)
    if variant == "instance":
        return InstanceNorm2d(c, affine=True, fast=fast)
    if variant == "rms":
        return RMSNorm((c, h, w), fast=fast)
    return nn.Identity()  # "none" and "weight"


def make_cnn(
    variant: str,
    in_shape: tuple[int, ...],
    num_classes: int,
    *,
    widths: tuple[int, ...],
    strides: tuple[int, ...],
    groups: int,
    fast: bool,
) -> nn.Sequential:
    """Conv blocks ``conv 3x3 (stride s, padding 1) -> norm -> ReLU``, average pool, linear.

    Convolutions have a bias only without an activation norm (a norm's beta replaces it).
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    layers: list[nn.Module] = []
    c, h, w = in_shape
    for width, stride in zip(widths, strides, strict=True):
        h, w = (h - 1) // stride + 1, (w - 1) // stride + 1  # output size of the conv
        layers.append(nn.Conv2d(c, width, 3, stride, 1, bias=variant in ("none", "weight")))
        layers.append(make_norm(variant, width, h, w, groups=groups, fast=fast))
        layers.append(nn.ReLU())
        c = width
    model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))
    if variant == "weight":
        for m in model:
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                weight_norm(m, fast=fast)
    return model


def train_sgd_variant(
    model: nn.Module,
    data: ClassificationData,
    ctx: RunContext,
    name: str,
    *,
    lr: float,
    momentum: float,
    engine: EngineConfig,
    target_loss: float,
) -> dict[str, Any]:
    """Train ``model`` with SGD + momentum in sub-run ``name``; a NaN/Inf loss ends it as diverged.

    Returns:
        ``model``, ``diverged``, the logged ``steps`` and training ``losses``,
        ``final_loss`` (inf if diverged), ``steps_to_target`` (first logged step with a
        loss <= ``target_loss``; inf if never) and ``test_accuracy`` (if not diverged).
    """
    task = ClassificationTask(model)
    opt = torch.optim.SGD(task.parameters(), lr=lr, momentum=momentum)
    out: dict[str, Any] = {"model": model, "diverged": False}
    engine = dataclasses.replace(engine, nan_policy="abort")
    with ctx.child(name) as sub:
        loop = Loop(task, opt, data.train, cfg=engine, ctx=sub)
        try:
            loop.run()
        except NonFiniteLossError:
            out["diverged"] = True
        rows = [r for r in loop.history if "train_loss" in r]
        if not out["diverged"]:
            test = evaluate(task, data.test, device=ctx.device, prefix="test_")
            sub.log(engine.max_steps, **test)
            out["test_accuracy"] = test["test_accuracy"]
    out["steps"] = [r["step"] for r in rows]
    out["losses"] = [r["train_loss"] for r in rows]
    final = out["losses"][-1] if out["losses"] else math.inf
    out["final_loss"] = math.inf if out["diverged"] or not math.isfinite(final) else final
    hit = [s for s, loss in zip(out["steps"], out["losses"], strict=True) if loss <= target_loss]
    out["steps_to_target"] = hit[0] if hit else math.inf
    return out


def time_fwd_bwd(
    fns: dict[str, Callable[[], Tensor]],
    rounds: int,
    warmup: int = 3,
    clock: Callable[[], float] = time.thread_time,
) -> dict[str, list[float]]:
    """Seconds of ``fn().sum().backward()`` per round (:func:`~replearn.experiments.stats.
    time_rounds`: every round runs each fn once, in alternating order), in CPU time of the
    calling thread by default (the experiment runs on one thread: the work, not the
    scheduler's waits on a busy machine)."""
    return stats.time_rounds(
        {k: (lambda f=f: f().sum().backward()) for k, f in fns.items()}, rounds, warmup,
        clock=clock,
    )  # fmt: skip


def paired_ratio(times: dict[str, list[float]], a: str, b: str) -> float:
    """Median over rounds of ``t_a / t_b`` (robust to the machine's drift)."""
    return statistics.median(x / y for x, y in zip(times[a], times[b], strict=True))


def median_interval(values: list[float], confidence: float = 0.95) -> tuple[float, float]:
    """The sign-test interval of the median (:func:`~replearn.experiments.stats.
    median_interval`); with too few values for the level, the whole range (min, max)."""
    return stats.median_interval(values, confidence) or (min(values), max(values))


def time_rms_vs_layer(rows: int, dim: int, rounds: int) -> dict[str, float]:
    """Forward + backward of RMSNorm vs LayerNorm on (rows, dim): our references, torch's kernels.

    Timed in CPU time of the thread (:func:`time_fwd_bwd`).

    The torch kernels (``F.layer_norm``, ``F.rms_norm``) are the layers' fast paths
    (:func:`replearn.norm.layernorm.layer_norm_fast`, ``rms_norm_fast``). Returns the median
    times (``time_<name>_us``), the paired ratios ``rms_over_layer_ref`` and
    ``rms_over_layer_torch`` (median over rounds of t_rms / t_layer) and the 95%
    sign-test interval of each median (``..._lo``, ``..._hi``, :func:`median_interval`).
    """
    x = torch.randn(rows, dim, requires_grad=True)
    w, b = torch.ones(dim, requires_grad=True), torch.zeros(dim, requires_grad=True)
    times = time_fwd_bwd(
        {
            "layer_ref": lambda: layer_norm(x, (dim,), w, b, 1e-5),
            "rms_ref": lambda: rms_norm(x, (dim,), w, 1e-5),
            "layer_torch": lambda: F.layer_norm(x, (dim,), w, b, 1e-5),
            "rms_torch": lambda: F.rms_norm(x, (dim,), w, 1e-5),
        },
        rounds,
    )
    out = {f"time_{k}_us": 1e6 * statistics.median(v) for k, v in times.items()}
    for kind in ("ref", "torch"):
        a, b = times[f"rms_{kind}"], times[f"layer_{kind}"]
        out[f"rms_over_layer_{kind}"] = paired_ratio(times, f"rms_{kind}", f"layer_{kind}")
        lo, hi = median_interval([x / y for x, y in zip(a, b, strict=True)])
        out[f"rms_over_layer_{kind}_lo"], out[f"rms_over_layer_{kind}_hi"] = lo, hi
    return out


def batch_of_one_gap(model: nn.Module, x: Tensor) -> float:
    """max |f(x_i alone) - f(X)_i| over the examples, in training mode (buffers restored)."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    with torch.no_grad():
        full = model(x)  # (N, K)
        alone = torch.cat([model(x[i : i + 1]) for i in range(len(x))])  # (N, K)
    model.load_state_dict(state)  # undo BatchNorm's running-statistics updates
    model.eval()
    return float((alone - full).abs().max())


def _weight_normed(model: nn.Module) -> list[nn.Module]:
    return [m.parametrizations.weight for m in model.modules() if hasattr(m, "parametrizations")]


def weight_norm_checks(model: nn.Module, x: Tensor, y: Tensor) -> dict[str, float]:
    """||w|| = |g|, invariance to rescaling v, and grad_v orthogonal to v, per output unit."""
    plists = _weight_normed(model)
    model.eval()
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    rel_norm = cos = 0.0
    with torch.no_grad():
        for p in plists:
            g, v = p.original0, p.original1
            w = p[0](g, v)  # the weight the layer uses, Eq. (2)
            ratio = w.flatten(1).norm(dim=1) / g.flatten().abs()  # ||w_i|| / |g_i|
            rel_norm = max(rel_norm, float((ratio - 1).abs().max()))
            cosine = F.cosine_similarity(v.grad.flatten(1), v.flatten(1), dim=1)
            cos = max(cos, float(cosine.abs().max()))
        before = model(x)
        for p in plists:
            p.original1.mul_(10.0)
        after = model(x)
        for p in plists:
            p.original1.div_(10.0)
    scale = float((after - before).abs().max() / before.abs().max())
    return {"wn_rel_norm_error": rel_norm, "wn_max_abs_cos_grad_v": cos, "wn_rescale_v_rel": scale}


def direction_drift(init: nn.Module, trained: nn.Module) -> dict[str, float]:
    """Mean |change of log g| and mean angle (degrees) between the initial and final v."""
    dlog, angles = [], []
    with torch.no_grad():
        for pa, pb in zip(_weight_normed(init), _weight_normed(trained), strict=True):
            ga, gb = pa.original0.cpu(), pb.original0.cpu()  # the trained model may sit elsewhere
            va, vb = pa.original1.cpu(), pb.original1.cpu()
            dlog.append((gb.abs().log() - ga.abs().log()).abs().flatten())
            cos = F.cosine_similarity(va.flatten(1), vb.flatten(1), dim=1)
            angles.append(torch.rad2deg(torch.acos(cos.clamp(-1.0, 1.0))))
    return {
        "wn_mean_abs_dlog_g": float(torch.cat(dlog).mean()),
        "wn_mean_angle_deg": float(torch.cat(angles).mean()),
    }
