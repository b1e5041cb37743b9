"""Experiment ``layerwise-pretraining``: greedy unsupervised pre-training helps a deep sigmoid
net learn from few labels.

Hinton, Osindero & Teh (2006) and Bengio, Lamblin, Popovici & Larochelle (2006) trained deep
nets by first training one layer at a time without labels (an RBM or an autoencoder on the
codes of the layers below), then fine-tuning the whole net with labels; Erhan et al. (2010,
JMLR 11, "Why does unsupervised pre-training help deep learning?") measured the gain.

Here: a sigmoid :class:`~replearn.fundamentals.mlp.MLP` 64-128-128-128-128-10 on the 8x8
digits with only ``n_labels`` labelled training images; the unlabelled pool is all 1,294
training images. Three variants per seed, fine-tuned identically (Adam, ``finetune_steps``):

* ``scratch`` -- PyTorch's default initialization;
* ``sae`` -- greedy stacked denoising autoencoders
  (:class:`~replearn.fundamentals.stacked_autoencoder.StackedAutoencoder`, masking noise
  ``noise``), each layer trained by the engine for ``pretrain_steps`` Adam steps;
* ``dbn`` -- a deep belief net (:class:`~replearn.fundamentals.rbm.DeepBeliefNet`), each RBM
  trained by CD-1 (SGD with momentum) for ``pretrain_steps`` steps on the hidden
  probabilities of the one below (pixel intensities in [0, 1] are the first RBM's data,
  as in Hinton & Salakhutdinov 2006).

Seed ``s`` draws the labelled subset and every initialization (the output layer and the
scratch net start alike across variants). Writes ``pretraining.png``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import TensorDataset

from replearn.data import load_classification
from replearn.engine import ClassificationTask, EngineConfig, RunContext, Task
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import engine_config, predict, subset, train_variant
from replearn.experiments.stats import compare_seeds
from replearn.fundamentals.mlp import MLP
from replearn.fundamentals.rbm import RBM, DeepBeliefNet
from replearn.fundamentals.stacked_autoencoder import AutoencoderLayer, StackedAutoencoder
from replearn.report.plots import line_plot

VARIANTS = ("scratch", "sae", "dbn")


_engine = partial(engine_config, log_lines=10, progress=False)


@dataclass(frozen=True)
class Config:
    """Settings of ``layerwise-pretraining``.

    Attributes:
        hidden: hidden widths of the sigmoid MLP (and of the pre-trained stacks).
        n_labels: labelled training images (a seeded random subset).
        n_seeds: seeds (labelled subset and initializations), >= 3.
        pretrain_steps: unsupervised steps per layer (autoencoder or RBM), batch 64.
        ae_lr: Adam learning rate of the autoencoder layers.
        noise: masking probability of the denoising autoencoders.
        rbm_lr: SGD learning rate of CD-1 (momentum 0.5).
        finetune_lr: Adam learning rate of supervised fine-tuning (every variant).
        finetune: fine-tuning settings (``max_steps`` Adam steps on the labelled subset).
    """

    hidden: tuple[int, ...] = (128, 128, 128, 128)
    n_labels: int = 100
    n_seeds: int = 5
    pretrain_steps: int = 400
    ae_lr: float = 3e-3
    noise: float = 0.2
    rbm_lr: float = 0.05
    finetune_lr: float = 1e-3
    finetune: EngineConfig = field(default_factory=lambda: _engine(500, 50))

    def __post_init__(self) -> None:
        if self.n_seeds < 3:
            raise ValueError(f"n_seeds must be >= 3, got {self.n_seeds}")
        if not self.hidden or self.n_labels < 10:
            raise ValueError("need at least one hidden layer and n_labels >= 10")


def tiny() -> Config:
    """Seconds: two small layers, a few steps."""
    return Config(hidden=(32, 32), n_seeds=3, pretrain_steps=3, finetune=_engine(3, 50))


def quick() -> Config:
    """Seconds: three seeds, 25 pre-training and 40 fine-tuning steps (a smoke check)."""
    return Config(n_seeds=3, pretrain_steps=25, finetune=_engine(40, 50))


class LayerTask(Task):
    """Unsupervised training of one layer: an autoencoder's Eq. (2) or an RBM's CD-1 (Eq. 5)."""

    def __init__(self, layer: AutoencoderLayer | RBM) -> None:
        super().__init__()
        self.layer = layer

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        (x,) = batch
        if isinstance(self.layer, RBM):
            loss = self.layer.cd_loss(x, k=1)
            recon = ((self.layer.visible(self.layer.hidden(x)) - x) ** 2).sum(1).mean()
            return loss, {"reconstruction_sq_error": recon.detach()}
        return self.layer.loss(x), {}


def pretrain(cfg: Config, variant: str, x: Tensor, ctx: RunContext, seed: int) -> MLP:
    """Greedy layer-wise pre-training; returns the sigmoid MLP initialized from the stack."""
    widths = (x.shape[1], *cfg.hidden)
    torch.manual_seed(seed)
    mlp = MLP(widths[0], cfg.hidden, 10, activation="sigmoid")
    if variant == "scratch":
        return mlp
    stack: StackedAutoencoder | DeepBeliefNet
    if variant == "sae":
        stack = StackedAutoencoder(widths, noise=cfg.noise)
        layers = list(stack.layers)
    else:
        stack = DeepBeliefNet(widths)
        layers = list(stack.rbms)
    engine = _engine(cfg.pretrain_steps, 64)
    codes = x
    for i, layer in enumerate(layers):
        if variant == "sae":
            opt = torch.optim.Adam(layer.parameters(), lr=cfg.ae_lr)
        else:
            opt = torch.optim.SGD(layer.parameters(), lr=cfg.rbm_lr, momentum=0.5)
        train_variant(ctx, f"{variant}-layer{i + 1}", LayerTask(layer), opt,
                      TensorDataset(codes), engine=engine, seed=seed)  # fmt: skip
        layer.eval()
        dev = next(layer.parameters()).device
        with torch.no_grad():  # the next layer's data set, on the CPU
            codes = (
                layer.encode(codes.to(dev)) if variant == "sae" else layer.hidden(codes.to(dev))
            ).cpu()
    return stack.init_mlp(mlp)


def _verdict(variant: str) -> Any:
    def verdict(m: dict[str, Any]) -> tuple[bool, str]:
        c = m[f"{variant}_vs_scratch"]
        return c["holds"], (
            f"test accuracy with {m['n_labels']} labels: {variant} "
            f"{100 * m[f'{variant}_mean_accuracy']:.1f}% vs scratch "
            f"{100 * m['scratch_mean_accuracy']:.1f}%; difference {100 * c['mean']:+.1f} pts "
            f"(SE {100 * c['se']:.1f}, {c['n_seeds']} seeds, 95% bound {100 * c['lower']:+.1f} "
            f"> 0: {c['holds']})"
        )

    return verdict


CLAIMS = (
    Claim(
        "sae-pretraining-helps",
        "Greedy layer-wise pre-training with stacked denoising autoencoders on unlabelled "
        "images raises the test accuracy of a deep sigmoid net fine-tuned on 100 labels, "
        "compared with the same net trained from scratch (paired over seeds, 95% bound).",
        _verdict("sae"),
        "pretraining.png",
    ),
    Claim(
        "dbn-pretraining-helps",
        "Greedy layer-wise pre-training as a deep belief net (RBMs trained by CD-1) raises the "
        "test accuracy of the same deep sigmoid net fine-tuned on 100 labels, compared with "
        "training from scratch (paired over seeds, 95% bound).",
        _verdict("dbn"),
        "pretraining.png",
    ),
)


@experiment(
    "layerwise-pretraining",
    topic="fundamentals",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Hinton, Osindero & Teh 2006; Bengio, Lamblin, Popovici & Larochelle 2006, NeurIPS",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """A deep sigmoid net on 100 labels: from scratch vs SAE- and DBN-pre-trained."""
    with single_thread():  # small matrices: a second thread only adds waiting
        return _run(cfg, ctx)


def _run(cfg: Config, ctx: RunContext) -> Result:
    data = load_classification("digits", seed=ctx.seed, flatten=True)
    x_all = data.train.tensors[0]
    acc: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for s in range(cfg.n_seeds):
        seed = ctx.seed * 1000 + s
        labelled = subset(data.train, cfg.n_labels, seed)
        for v in VARIANTS:
            mlp = pretrain(cfg, v, x_all, ctx, seed)
            torch.manual_seed(seed + 1)  # the output layer starts alike in every variant
            head = mlp.layers[-1]
            head.reset_parameters()
            opt = torch.optim.Adam(mlp.parameters(), lr=cfg.finetune_lr)
            train_variant(ctx, f"{v}-finetune", ClassificationTask(mlp), opt, labelled,
                          engine=cfg.finetune, seed=seed)  # fmt: skip
            a = float((predict(mlp, data.test).argmax(1) == data.test.tensors[1]).float().mean())
            acc[v].append(a)
            ctx.log(s, **{f"{v}_test_accuracy": a})
    metrics: dict[str, Any] = {"n_labels": cfg.n_labels}
    for v in VARIANTS:
        metrics[f"{v}_accuracy"] = acc[v]
        metrics[f"{v}_mean_accuracy"] = sum(acc[v]) / len(acc[v])
    for v in ("sae", "dbn"):
        metrics[f"{v}_vs_scratch"] = compare_seeds(
            acc[v], acc["scratch"], label_x=v, label_y="scratch", unit="points"
        ).as_dict()
    plots = [
        line_plot(
            list(range(cfg.n_seeds)),
            {v: acc[v] for v in VARIANTS},
            ctx.path("pretraining.png"),
            xlabel="seed",
            ylabel="test accuracy",
            title=f"deep sigmoid MLP {cfg.hidden}, {cfg.n_labels} labels",
        )
    ]
    return Result(metrics=metrics, plots=plots)
