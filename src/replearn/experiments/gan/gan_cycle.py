"""Experiment ``gan-cycle``: CycleGAN translates digits to rotated digits without pairs.

Domain X holds the first half of the digits training pool; domain Y the second
half, rotated by 90 degrees, so no image of X has its counterpart in Y (unpaired);
a correct translation exists (the rotation) and serves as the evaluation's ground
truth. :class:`replearn.gan.cyclegan.CycleGAN` trains through the engine's general
loop: the generators' objective (LS adversarial + lambda * cycle consistency,
``loop.optimize(g_loss, "g")``), then both critics on images from the history pools
(``loop.optimize(d_loss, "d")``). The identity loss is off by default: it pulls G
towards the identity, which is wrong for a rotation (the paper uses it for
colour-preserving tasks such as Monet to photo).

Measured on the test split (images in [-1, 1]): the cycle error
:math:`\\mathbb{E}|F(G(x)) - x|` (and for y), the translation error
:math:`\\mathbb{E}|G(x) - \\mathrm{rot}(x)|`, and as the scale of both the mean
absolute difference between two random test images. A CycleGAN is trained from each of
``seeds`` (initialization, unpaired shuffle of Y and data order; three by default, each in
its own child run); the claim is checked for every seed. Writes ``cycle.png`` (rows: x,
G(x), F(G(x)), rot(x); the first seed's model).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import TensorDataset

from replearn.data.images import load_classification
from replearn.engine import EngineConfig, Loop, RunContext, Task, fit, single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.stats import too_few_seeds
from replearn.gan.cyclegan import CycleGAN
from replearn.report.plots import save_image_grid


def rotate(x: Tensor) -> Tensor:
    """90 degrees counter-clockwise. Shape: (B, C, H, W) -> (B, C, W, H)."""
    return torch.rot90(x, 1, dims=(2, 3))


class CycleTask(Task):
    """One update: the generators' step, then the critics' step on pooled fakes."""

    def __init__(self, model: CycleGAN) -> None:
        super().__init__()
        self.model = model

    def update(self, batch: Any, loop: Loop) -> dict[str, Tensor]:
        x, y = batch
        with loop.autocast():
            g_loss = self.model(x, y)
        loop.optimize(g_loss, "g")
        with torch.no_grad():
            fake_y, fake_x = self.model.G(x), self.model.F(y)
        with loop.autocast():
            d_loss = self.model.discriminator_loss(x, y, fake_x, fake_y)
        loop.optimize(d_loss, "d")
        return {"g_loss": g_loss.detach(), "d_loss": d_loss.detach()}


@dataclass(frozen=True)
class Config:
    """Config of ``gan-cycle``.

    Attributes:
        seeds: training seeds (one CycleGAN each; the claim is checked for every one).
        width: channels of the generators' first convolution and the critics'.
        blocks: residual blocks per generator.
        lambda_cyc: weight of the cycle-consistency loss (the paper: 10).
        lambda_id: weight of the identity loss (0: off, see the module docstring).
        pool_size: images in each history pool (the paper: 50).
        lr: Adam learning rate of both groups (betas 0.5, 0.999 as in the paper).
        engine: training-loop settings.
    """

    seeds: tuple[int, ...] = (0, 1, 2)
    width: int = 16
    blocks: int = 2
    lambda_cyc: float = 10.0
    lambda_id: float = 0.0
    pool_size: int = 50
    lr: float = 2e-4
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=600, batch_size=32, log_every=50, checkpoint_every=0
        )
    )

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ValueError("seeds must not be empty")


def tiny() -> Config:
    """Seconds: one seed, 3 steps, width 4."""
    return Config(
        seeds=(0,),
        width=4,
        blocks=1,
        engine=EngineConfig(max_steps=3, batch_size=8, log_every=1, checkpoint_every=0),
    )


def quick() -> Config:
    """Seconds: three seeds of 20 steps (a smoke check)."""
    base = Config()
    return dataclasses.replace(base, engine=dataclasses.replace(base.engine, max_steps=20))


def _verdict(m: dict[str, Any]) -> tuple[bool, str]:
    n = len(m.get("cycle_error_seeds", []))
    if (why := too_few_seeds(n)) is not None:
        return False, why
    bound = 0.25 * m["pair_distance"]
    holds = max(m["cycle_error_seeds"]) < bound

    def cells(key: str) -> str:
        return ", ".join(f"{v:.3f}" for v in m[key])

    return holds, (
        f"per training seed ({n}): cycle error |F(G(x)) - x| {cells('cycle_error_x_seeds')}, "
        f"|G(F(y)) - y| {cells('cycle_error_y_seeds')} (mean of the two "
        f"{cells('cycle_error_seeds')}; worst {max(m['cycle_error_seeds']):.3f}) vs "
        f"{m['pair_distance']:.3f} between random test images (bound 25%: {bound:.3f}); "
        f"translation error |G(x) - rot(x)| {cells('translation_error_seeds')}"
    )


CLAIMS = (
    Claim(
        "cycle-consistency-reconstructs",
        "Cycle consistency reconstructs the inputs: on held-out images F(G(x)) and G(F(y)) "
        "differ from x and y by less than a quarter of the distance between two random images "
        "(mean of the two cycle errors, for the CycleGAN of every one of >= 3 training seeds).",
        _verdict,
        "cycle.png",
    ),
)


@experiment(
    "gan-cycle",
    topic="gan",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Zhu, Park, Isola & Efros 2017, arXiv:1703.10593",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """CycleGAN between digits and rotated digits; cycle and translation errors per seed."""
    with single_thread():
        data = load_classification("digits", val_fraction=0.0, seed=ctx.seed)
        pool = data.train.tensors[0] * 2 - 1
        half = len(pool) // 2
        x = data.test.tensors[0] * 2 - 1
        y = rotate(x.flip(0))  # held-out images of Y (other digits than x's)
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(ctx.seed))
        m: dict[str, Any] = {"seeds": list(cfg.seeds)}
        m["pair_distance"] = float((x - x[perm]).abs().mean())
        keys = ("cycle_error_x", "cycle_error_y", "translation_error", "cycle_error")
        per_seed: dict[str, list[float]] = {k: [] for k in keys}
        first: tuple[CycleGAN, Tensor, Tensor] | None = None
        for seed in cfg.seeds:
            g = torch.Generator().manual_seed(seed)
            x_train = pool[:half]
            y_train = rotate(pool[half : 2 * half])[torch.randperm(half, generator=g)]
            torch.manual_seed(seed)
            model = CycleGAN(
                width=cfg.width, blocks=cfg.blocks, pool_size=cfg.pool_size, image_size=8,
                lambda_cyc=cfg.lambda_cyc, lambda_id=cfg.lambda_id,
            )  # fmt: skip
            gen_params = [*model.G.parameters(), *model.F.parameters()]
            disc_params = [*model.D_X.parameters(), *model.D_Y.parameters()]
            opts = {
                "g": torch.optim.Adam(gen_params, lr=cfg.lr, betas=(0.5, 0.999)),
                "d": torch.optim.Adam(disc_params, lr=cfg.lr, betas=(0.5, 0.999)),
            }
            with ctx.child(f"seed{seed}", seed=seed) as sub:
                loop = fit(CycleTask(model), opts, TensorDataset(x_train, y_train),
                           cfg=cfg.engine, ctx=sub)  # fmt: skip
            model.eval()
            dev = loop.device
            with torch.no_grad():
                gx, fy = model.G(x.to(dev)), model.F(y.to(dev))
                rec_x, rec_y = model.F(gx).cpu(), model.G(fy).cpu()
                gx = gx.cpu()
            err_x, err_y = float((rec_x - x).abs().mean()), float((rec_y - y).abs().mean())
            per_seed["cycle_error_x"].append(err_x)
            per_seed["cycle_error_y"].append(err_y)
            per_seed["translation_error"].append(float((gx - rotate(x)).abs().mean()))
            per_seed["cycle_error"].append((err_x + err_y) / 2)
            if first is None:
                first = (model, gx, rec_x)
        for k, v in per_seed.items():
            m[f"{k}_seeds"] = v
            m[k] = sum(v) / len(v)  # mean over seeds
        m["steps"] = loop.step
    assert first is not None
    first_model, gx, rec_x = first
    grid = torch.cat([x[:8], gx[:8], rec_x[:8], rotate(x[:8])])
    plot = save_image_grid(grid, ctx.path("cycle.png"), nrow=8, value_range=(-1, 1),
                           title="x / G(x) / F(G(x)) / rot(x)")  # fmt: skip
    return Result(metrics=m, model=first_model, plots=[plot])
