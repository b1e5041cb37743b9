"""Experiment ``ddpm-fashion``: class-conditional DDPM/DDIM with classifier-free guidance on images.

A :class:`~replearn.diffusion.UNet` (time and label embedding, attention at the lowest
resolution) is trained with :math:`L_{simple}` (Ho et al. 2020) and label dropout
(``p_uncond``, Ho & Salimans 2022) through the engine
(:class:`~replearn.experiments.diffusion.common.DiffusionTask`, EMA weights) for
``n_seeds`` seeds, on the embedded 8x8 digits by default (``--set data=fashion-mnist`` for
28x28 Fashion-MNIST). Images are scaled to ``[-1, 1]``.

Evaluation, per seed's EMA model, with ``n_samples`` samples balanced over the classes,
compared with training images (four times as many, at least 200, at most 2,000) in the
feature space of replearn's checksummed classifier
(:func:`replearn.metrics.feature_classifier`; numbers are comparable only within it):
FID (:func:`~replearn.metrics.fid_from_features`), KID (:func:`~replearn.metrics.kid`),
improved precision/recall (:func:`~replearn.metrics.precision_recall`) and the
classifier's accuracy on the requested labels (fidelity to the condition), for

- DDIM (:math:`\\eta = 0`) with each of ``ddim_steps`` steps at guidance scale 1
  (1 step is one-shot decoding: :math:`\\hat x_0` predicted from pure noise);
- DDIM with ``guidance_steps`` steps at each guidance scale of ``guidance_scales``;
- DDPM ancestral sampling (T steps) for seed 0 only (``fid_ddpm``; the full side-by-side
  timing is ``benchmarks/bench_diffusion.py``).

Both claims compare samplers of the same trained models over seeds with
:func:`~replearn.experiments.stats.compare_seeds` (paired by seed, >= 3 seeds, one-sided 95%
Student-t lower bounds > 0; else "not measured"). ``result.json``: ``fid`` and ``kid`` are
those of DDIM with ``guidance_steps`` steps at scale 1, averaged over seeds; per-sampler and
per-scale metrics (``*_per_seed``); timings. Writes
``samples.png`` (one row per class, seed 0), ``fid_vs_steps.png`` and ``guidance.png``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import torch
from torch import Tensor
from torch.utils.data import TensorDataset

from replearn.data.images import load_classification
from replearn.diffusion import GaussianDiffusion, UNet
from replearn.engine import EngineConfig, RunContext, fit, single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import accuracy, engine_config
from replearn.experiments.diffusion.common import DiffusionTask, timed
from replearn.experiments.stats import (
    MIN_SEEDS,
    SeedComparison,
    compare_seeds,
    mean_se,
    too_few_seeds,
)
from replearn.metrics import extract, feature_classifier, fid_from_features, kid, precision_recall
from replearn.report.plots import line_plot, save_image_grid

_engine = partial(engine_config, log_every=100, progress=False)


@dataclass(frozen=True)
class Config:
    """Config of ``ddpm-fashion``.

    Attributes:
        data: digits (embedded, 8x8) or fashion-mnist (28x28, file).
        timesteps: diffusion steps T (linear schedule).
        base: width of the U-Net's first level.
        mults: width multipliers of the U-Net's levels.
        p_uncond: label-dropout probability (classifier-free guidance).
        lr: Adam learning rate.
        ema_decay: EMA decay of the sampled weights.
        n_seeds: training seeds.
        n_samples: generated images per evaluated sampler (balanced over classes).
        ddim_steps: DDIM step counts of the quality-vs-steps sweep (at guidance scale 1).
        guidance_steps: DDIM steps of the guidance sweep (and of ``fid``/``kid``).
        guidance_scales: classifier-free guidance scales w (1 = conditional, 0 = unconditional).
        ddpm: also draw seed 0's samples with DDPM ancestral sampling (T network calls).
        feature_steps: training steps of the feature classifier (None: the cached default).
        engine: training-loop settings of each seed.
    """

    data: Literal["digits", "fashion-mnist"] = "digits"
    timesteps: int = 1000
    base: int = 16
    mults: tuple[int, ...] = (1, 2)
    p_uncond: float = 0.1
    lr: float = 1e-3
    ema_decay: float = 0.999
    n_seeds: int = 3
    n_samples: int = 500
    ddim_steps: tuple[int, ...] = (1, 5, 10, 25, 50)
    guidance_steps: int = 25
    guidance_scales: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0)
    ddpm: bool = True
    feature_steps: int | None = None
    engine: EngineConfig = field(default_factory=lambda: _engine(2000))

    def __post_init__(self) -> None:
        if self.n_seeds < 1 or self.n_samples < 20:
            raise ValueError("n_seeds must be >= 1 and n_samples >= 20")
        if any(not 1 <= s <= self.timesteps for s in (*self.ddim_steps, self.guidance_steps)):
            raise ValueError(f"DDIM steps must be in [1, {self.timesteps}]")
        if 1.0 not in self.guidance_scales:
            raise ValueError("guidance_scales must include 1.0 (the conditional model)")


def tiny() -> Config:
    """Seconds: T = 10, 10 updates, one seed, a short feature classifier."""
    return Config(
        timesteps=10, base=8, n_seeds=1, n_samples=20, ddim_steps=(1, 3), guidance_steps=3,
        guidance_scales=(1.0, 2.0), feature_steps=10, engine=_engine(10, 32),
    )  # fmt: skip


def quick() -> Config:
    """Seconds: three seeds, T = 100, width 8, 15 steps of 32 each, 32 samples, DDIM 1/3 (a
    smoke check; 40 steps of 64 at width 16 with 64 samples took 22 CPU s)."""
    base = Config(timesteps=100, base=8, n_samples=32, ddpm=False, ddim_steps=(1, 3),
                  guidance_steps=3, guidance_scales=(1.0, 4.0))  # fmt: skip
    return dataclasses.replace(base, engine=_engine(15, 32))


def _scale(x: Tensor) -> Tensor:
    return x * 2 - 1


def _unscale(x: Tensor) -> Tensor:
    return ((x.clamp(-1, 1) + 1) / 2).float()


class _Scorer:
    """Features of the real images once; FID, KID, precision/recall, accuracy of a sample set."""

    def __init__(self, net: Any, real: Tensor, seed: int) -> None:
        self.net, self.seed = net, seed
        self.real = extract(net, real)

    def __call__(self, images: Tensor, labels: Tensor) -> dict[str, float]:
        feats = extract(self.net, images)
        probs = extract(self.net, images, what="probabilities")
        pr = precision_recall(self.real, feats, k=3)
        size = min(len(feats), len(self.real), 200)
        kid_mean, _ = kid(feats, self.real, n_subsets=20, subset_size=size, seed=self.seed)
        return {
            "fid": fid_from_features(feats, self.real),
            "kid": kid_mean,
            "precision": pr["precision"],
            "recall": pr["recall"],
            "accuracy": accuracy(probs, labels),
        }


def _evaluate(cfg: Config, model: GaussianDiffusion, scorer: _Scorer, shape: tuple[int, ...],
              num_classes: int, seed: int, with_ddpm: bool) -> tuple[dict, dict]:  # fmt: skip
    n = cfg.n_samples
    dev = next(model.parameters()).device
    y = torch.arange(n) % num_classes
    g = torch.Generator().manual_seed(30_000 + seed)
    x_T = torch.randn((n, *shape), generator=g).to(dev)
    y_dev = y.to(dev)
    out: dict[str, Any] = {}
    images: dict[str, Tensor] = {}
    for steps in sorted(set(cfg.ddim_steps) | {cfg.guidance_steps}):
        x, out[f"time_ddim{steps}_s"] = timed(
            lambda s=steps: model.sample(x_T.shape, x_T=x_T, y=y_dev, steps=s).cpu()
        )
        images[f"ddim{steps}"] = _unscale(x)
        out.update({f"{k}_ddim{steps}": v for k, v in scorer(_unscale(x), y).items()})
    for w in cfg.guidance_scales:
        x = model.sample(
            x_T.shape, x_T=x_T, y=y_dev, steps=cfg.guidance_steps, guidance_scale=w
        ).cpu()
        out.update({f"{k}_w{w:g}": v for k, v in scorer(_unscale(x), y).items()})
        images[f"w{w:g}"] = _unscale(x)
    if with_ddpm:
        x, out["time_ddpm_s"] = timed(
            lambda: model.sample(x_T.shape, x_T=x_T, y=y_dev, generator=g).cpu()
        )
        out.update({f"{k}_ddpm": v for k, v in scorer(_unscale(x), y).items()})
        images["ddpm"] = _unscale(x)
    return out, images


def comparisons(m: dict[str, Any]) -> dict[str, SeedComparison] | None:
    """Paired by seed: accuracy gain and recall loss from w = 1 to the highest scale, FID
    saved by many DDIM steps over one-shot decoding; None with fewer than MIN_SEEDS seeds."""
    if m["n_seeds"] < MIN_SEEDS:
        return None
    w, lo, hi = m["guidance_high"], m["steps_one_shot"], m["steps_many"]

    def seeds(key: str) -> list[float]:
        return m[f"{key}_per_seed"]

    return {
        "accuracy": compare_seeds(seeds(f"accuracy_w{w:g}"), seeds("accuracy_w1"),
                                  label_x=f"w={w:g}", label_y="w=1"),
        "recall": compare_seeds(seeds("recall_w1"), seeds(f"recall_w{w:g}"),
                                label_x="w=1", label_y=f"w={w:g}"),
        "fid": compare_seeds(seeds(f"fid_ddim{hi}"), seeds(f"fid_ddim{lo}"),
                             higher_is_better=False, label_x=f"{hi} steps", label_y=f"{lo} step"),
    }  # fmt: skip


def _verdict_guidance(m: dict[str, Any]) -> tuple[bool, str]:
    w, cs = m["guidance_high"], comparisons(m)
    rule = too_few_seeds(m["n_seeds"]) if cs is None else (
        f"accuracy gain {cs['accuracy'].evidence()}; recall loss {cs['recall'].evidence()}"
    )  # fmt: skip
    return cs is not None and cs["accuracy"].holds and cs["recall"].holds, (
        f"w = 1 -> {w:g}: accuracy on the requested class {m['accuracy_w1']:.3f} -> "
        f"{m[f'accuracy_w{w:g}']:.3f}, recall (diversity) {m['recall_w1']:.3f} -> "
        f"{m[f'recall_w{w:g}']:.3f} (means over {m['n_seeds']} seeds); {rule}; FID "
        f"{m['fid_w1']:.2f} -> {m[f'fid_w{w:g}']:.2f}, precision {m['precision_w1']:.3f} -> "
        f"{m[f'precision_w{w:g}']:.3f}"
    )


def _verdict_steps(m: dict[str, Any]) -> tuple[bool, str]:
    cs = comparisons(m)
    curve = ", ".join(f"{s}: {m[f'fid_ddim{s}']:.2f}" for s in m["ddim_steps"])
    rule = too_few_seeds(m["n_seeds"]) if cs is None else (
        f"FID saved by {m['steps_many']} steps over {m['steps_one_shot']}: {cs['fid'].evidence()}"
    )  # fmt: skip
    return cs is not None and cs["fid"].holds, (
        f"FID by DDIM steps (means over {m['n_seeds']} seeds): {curve}; {rule}"
    )


CLAIMS = (
    Claim("guidance-fidelity-diversity", "Classifier-free guidance trades diversity for "
          "fidelity: raising the guidance scale above 1 raises the accuracy of a classifier on "
          "the requested class and lowers recall (diversity) (each paired over 3 training "
          "seeds, one-sided 95% Student-t lower bound > 0).", _verdict_guidance,
          "guidance.png"),
    Claim("iterative-refinement", "Iterative refinement beats one-shot decoding: sampling "
          "with one DDIM step (x0 predicted from pure noise) has a worse FID than with many "
          "steps (paired over 3 training seeds, one-sided 95% Student-t lower bound > 0).",
          _verdict_steps, "fid_vs_steps.png"),
)  # fmt: skip


@experiment(
    "ddpm-fashion",
    topic="diffusion",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Ho et al. 2020, arXiv:2006.11239; Song et al. 2021, arXiv:2010.02502; "
    "Ho & Salimans 2022, arXiv:2207.12598",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Class-conditional DDPM/DDIM with classifier-free guidance: FID/KID, steps, guidance."""
    data = load_classification(cfg.data, val_fraction=0.0, seed=ctx.seed)
    x_train, y_train = data.train.tensors
    train = TensorDataset(_scale(x_train), y_train)
    with single_thread():
        net = feature_classifier(cfg.data, steps=cfg.feature_steps)
    scorer = _Scorer(net, x_train[: min(2000, max(4 * cfg.n_samples, 200))], ctx.seed)
    per_seed: list[dict[str, Any]] = []
    first: tuple[GaussianDiffusion, dict[str, Tensor]] | None = None
    for i in range(cfg.n_seeds):
        seed = ctx.seed + i
        torch.manual_seed(seed)
        heads = 4 if cfg.base * cfg.mults[-1] % 4 == 0 else 1
        unet = UNet(in_channels=data.input_shape[0], base=cfg.base, mults=cfg.mults,
                    num_classes=data.num_classes, heads=heads)  # fmt: skip
        diff = GaussianDiffusion(unet, timesteps=cfg.timesteps, p_uncond=cfg.p_uncond)
        task = DiffusionTask(diff, ema_decay=cfg.ema_decay)
        opt = torch.optim.Adam(diff.parameters(), lr=cfg.lr)
        with ctx.child(f"seed{i}", seed=seed) as sub:
            fit(task, opt, train, cfg=cfg.engine, ctx=sub)
        model = task.sampler.eval()
        m, images = _evaluate(cfg, model, scorer, data.input_shape, data.num_classes, seed,
                              with_ddpm=cfg.ddpm and i == 0)  # fmt: skip
        per_seed.append(m)
        ctx.log(i, **{k: v for k, v in m.items() if isinstance(v, float)})
        first = first or (model, images)
    metrics: dict[str, Any] = {
        "n_seeds": cfg.n_seeds,
        "data": cfg.data,
        "ddim_steps": list(cfg.ddim_steps),
    }
    for key in per_seed[0]:
        values = [m[key] for m in per_seed if key in m]
        metrics[key], metrics[f"{key}_per_seed"] = mean_se(values)[0], values
    metrics["fid"] = metrics[f"fid_ddim{cfg.guidance_steps}"]
    metrics["kid"] = metrics[f"kid_ddim{cfg.guidance_steps}"]
    metrics["guidance_high"] = max(cfg.guidance_scales)
    metrics["steps_one_shot"], metrics["steps_many"] = min(cfg.ddim_steps), max(cfg.ddim_steps)
    cs = comparisons(metrics)
    metrics["comparisons"] = None if cs is None else {k: c.as_dict() for k, c in cs.items()}
    model, images = first  # type: ignore[misc]
    k = data.num_classes
    per_row = min(8, cfg.n_samples // k)
    labels = torch.arange(cfg.n_samples) % k
    order = torch.cat([(labels == c).nonzero()[:per_row, 0] for c in range(k)])
    steps = list(cfg.ddim_steps)
    scales = list(cfg.guidance_scales)
    plots = [
        save_image_grid(images[f"ddim{cfg.guidance_steps}"][order], ctx.path("samples.png"),
                        nrow=per_row, title="DDIM, one class per row"),
        line_plot(steps, {"FID": [metrics[f"fid_ddim{s}"] for s in steps]},
                  ctx.path("fid_vs_steps.png"), xlabel="DDIM steps",
                  ylabel="FID (replearn features)", title="quality vs steps", logx=True),
        line_plot(scales, {"accuracy": [metrics[f"accuracy_w{w:g}"] for w in scales],
                           "precision": [metrics[f"precision_w{w:g}"] for w in scales],
                           "recall": [metrics[f"recall_w{w:g}"] for w in scales]},
                  ctx.path("guidance.png"), xlabel="guidance scale w", ylabel="value",
                  title="classifier-free guidance: fidelity vs diversity"),
    ]  # fmt: skip
    return Result(metrics=metrics, model=model, plots=plots)
