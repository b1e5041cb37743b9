r"""Experiment ``gan-theory``: three claims about GAN objectives, measured without a full GAN.

1. **Saturation** (Goodfellow et al. 2014, Sec. 3; Arjovsky & Bottou 2017,
   arXiv:1701.04862, Fig. 2). A generator (an MLP at initialization) is held fixed
   while a discriminator learns to tell its samples from the ring of 8 Gaussians
   (Adam, ``d_steps`` steps). Every ``measure_every`` steps the norm of the
   generator's gradient is measured for the saturating loss
   :math:`\mathbb{E}\log(1 - D(G(z)))` and the non-saturating loss
   :math:`-\mathbb{E}\log D(G(z))` on the same batch of 1,024 noise vectors. Repeated
   for ``seeds``. The discriminator trains through the engine (:class:`SaturationProbe`:
   one update = one discriminator step; the measurement is its ``validate``), so each seed's
   run is a child run that checkpoints and resumes like any other.
2. **JS vs W₁ on disjoint supports** (Arjovsky et al. 2017, arXiv:1701.07875,
   Example 1). :math:`P_0` is uniform on :math:`\{0\} \times [0, 1]` and
   :math:`P_\theta` on :math:`\{\theta\} \times [0, 1]`, both represented exactly by
   ``n_points`` equally spaced atoms. JS is computed on the union of the supports
   (:func:`replearn.gan.losses.js_divergence`), W₁ as the optimal assignment
   (``scipy.optimize.linear_sum_assignment``: exact for equal-weight atoms); the
   derivative in θ by central differences (JS) and by autograd through the cost of
   the optimal assignment (W₁, envelope theorem).
3. **Spectral normalization** (Miyato et al. 2018). A DCGAN-style critic (two
   strided 4x4 convolutions and a linear layer) gets
   :func:`replearn.gan.tricks.apply_spectral_norm`; after the power iteration has
   converged, each layer's :math:`\sigma(W)` (SVD of the reshaped weight) and its
   operator norm as a map on its actual input (power iteration on :math:`J^\top J`,
   :func:`replearn.gan.tricks.operator_norm`) are measured.

Writes ``saturation.png``, ``js_w1.png`` and ``spectral.png``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn

from replearn.data import toy2d
from replearn.engine import EngineConfig, Loop, RunContext, SampleStream, Task, fit, single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import mlp
from replearn.gan import losses as L
from replearn.gan.tricks import apply_spectral_norm, layer_sigmas, operator_norm
from replearn.report.plots import save_figure


@dataclass(frozen=True)
class Config:
    """Config of ``gan-theory``.

    Attributes:
        seeds: seeds of the saturation measurement (generator, discriminator, data).
        engine: the discriminator's training (``max_steps`` steps against the fixed generator,
            the two generator gradients measured every ``eval_every`` steps).
        d_lr: Adam learning rate of the discriminator.
        hidden: width of the players' hidden layers.
        n_points: atoms representing each line segment of claim 2.
        image_size: input size of the spectrally normalized critic of claim 3.
        sn_warmup: training-mode forwards that let the power iteration converge.
        power_iters: power iterations measuring each layer's operator norm.
    """

    seeds: tuple[int, ...] = (0, 1, 2)
    engine: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            max_steps=500,
            eval_every=25,
            batch_size=256,
            log_every=25,
            checkpoint_every=0,
            progress=False,
        )
    )
    d_lr: float = 1e-3
    hidden: int = 128
    n_points: int = 64
    image_size: int = 28
    sn_warmup: int = 100
    power_iters: int = 100


def tiny() -> Config:
    """Seconds: one seed, 40 discriminator steps, small critic input."""
    return Config(
        seeds=(0,), engine=replace(Config().engine, max_steps=40, eval_every=20), hidden=32,
        n_points=16, image_size=8, sn_warmup=20, power_iters=20,
    )  # fmt: skip


def quick() -> Config:
    """Seconds: 75 discriminator steps per seed (a smoke check)."""
    return Config(engine=replace(Config().engine, max_steps=75))


# -- claim 1 -----------------------------------------------------------------------------


def _generator_grad_norm(g: nn.Module, d: nn.Module, z: Tensor, loss_fn: Any) -> float:
    g.zero_grad(set_to_none=True)
    loss_fn(d(g(z)).squeeze(1)).backward()
    norm = float(torch.sqrt(sum(p.grad.square().sum() for p in g.parameters())))
    g.zero_grad(set_to_none=True)
    return norm


class SaturationProbe(Task):
    """A discriminator learning against a fixed generator; ``validate`` measures G's gradients.

    One update is one discriminator step on a batch of real points (the stream) and as many
    generated ones. ``validate`` returns the norm of the generator's gradient under the
    saturating and the non-saturating loss on a fixed batch of noise, and the mean
    :math:`D(G(z))` on it.
    """

    def __init__(self, hidden: int, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.G = mlp([8, hidden, hidden, 2], nn.ReLU)
        self.D = mlp([2, hidden, hidden, 1], partial(nn.LeakyReLU, 0.2))
        self.register_buffer("z_eval", torch.randn(1024, 8))

    def update(self, batch: Tensor, loop: Loop) -> dict[str, Tensor]:
        with torch.no_grad():
            fake = self.G(torch.randn(batch.shape[0], 8, device=batch.device))
        with loop.autocast():
            loss = L.discriminator_minimax_loss(self.D(batch).squeeze(1), self.D(fake).squeeze(1))
        loop.optimize(loss, "d")
        return {"d_loss": loss.detach()}

    def measure(self) -> dict[str, float]:
        """Both generator gradient norms and the mean D(G(z)) on the fixed noise."""
        with torch.enable_grad():
            sat = _generator_grad_norm(self.G, self.D, self.z_eval, L.generator_saturating_loss)
            ns = _generator_grad_norm(self.G, self.D, self.z_eval, L.generator_nonsaturating_loss)
        with torch.no_grad():
            d_fake = float(torch.sigmoid(self.D(self.G(self.z_eval))).mean())
        return {"val_grad_saturating": sat, "val_grad_nonsaturating": ns, "val_d_fake": d_fake}

    def validate(self, loop: Loop) -> dict[str, float]:
        return self.measure()


def saturation(cfg: Config, seed: int, ctx: RunContext) -> dict[str, list[float]]:
    """Gradient norms of both generator losses while D learns against a fixed G."""
    probe = SaturationProbe(cfg.hidden, seed).to(ctx.device)
    first = probe.measure()  # step 0, before the discriminator has learnt anything
    opt = torch.optim.Adam(probe.D.parameters(), lr=cfg.d_lr, betas=(0.5, 0.999))
    real = SampleStream(
        lambda n, gen: toy2d.sample("8gaussians", n, generator=gen),
        batch_size=cfg.engine.batch_size, seed=seed,
    )  # fmt: skip
    with ctx.child(f"seed{seed}", seed=seed) as sub:
        loop = fit(probe, {"d": opt}, real, cfg=cfg.engine, ctx=sub)
    rows = [{"step": 0, **first}] + [r for r in loop.history if "val_grad_saturating" in r]
    return {
        "step": [r["step"] for r in rows],
        "sat": [r["val_grad_saturating"] for r in rows],
        "ns": [r["val_grad_nonsaturating"] for r in rows],
        "d_fake": [r["val_d_fake"] for r in rows],
    }


def _verdict_saturation(m: dict[str, Any]) -> tuple[bool, str]:
    sat_drop = np.array(m["sat_final_over_initial"])
    ns_ratio = np.array(m["ns_final_over_initial"])
    holds = bool((sat_drop < 0.01).all() and (ns_ratio >= 1.0).all())
    return holds, (
        f"after D training (mean D(G(z)) {np.mean(m['d_fake_final']):.2e}): saturating gradient "
        f"norm final/initial {', '.join(f'{v:.1e}' for v in sat_drop)}; non-saturating "
        f"{', '.join(f'{v:.2f}' for v in ns_ratio)} (seeds {m['seeds']})"
    )


# -- claim 2 -----------------------------------------------------------------------------


def lines(theta: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Atoms of P_0 and P_theta. Shape: -> (n, 2), (n, 2)."""
    y = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    p0 = torch.stack([torch.zeros_like(y), y], dim=1)
    pt = torch.stack([theta.expand_as(y), y], dim=1)
    return p0, pt


def js_lines(theta: float, n: int) -> float:
    """JS(P_0 || P_theta) on the union of the atoms (exact)."""
    if theta == 0.0:
        return 0.0
    p = torch.cat([torch.full((n,), 1.0 / n), torch.zeros(n)]).double()
    return float(L.js_divergence(p, p.flip(0)))


def w1_lines(theta: float, n: int) -> tuple[float, float]:
    """W1(P_0, P_theta) by optimal assignment, and its derivative in theta (autograd)."""
    t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    p0, pt = lines(t, n)
    cost = torch.cdist(p0, pt)  # (n, n)
    rows, cols = linear_sum_assignment(cost.detach().numpy())
    w1 = cost[rows, cols].mean()
    (grad,) = torch.autograd.grad(w1, t)
    return float(w1.detach()), float(grad)


def _verdict_js_w1(m: dict[str, Any]) -> tuple[bool, str]:
    js, w1, th = np.array(m["js"]), np.array(m["w1"]), np.array(m["thetas"])
    js_grad, w1_grad = np.array(m["js_grad"]), np.array(m["w1_grad"])
    nz = th != 0
    holds = bool(
        np.allclose(js[nz], np.log(2), atol=1e-12)
        and np.allclose(js_grad[nz], 0.0, atol=1e-9)
        and np.allclose(w1, np.abs(th), atol=1e-9)
        and np.allclose(w1_grad[nz], np.sign(th[nz]), atol=1e-9)
    )
    return holds, (
        f"for theta != 0 in [{th.min():.1f}, {th.max():.1f}]: JS in [{js[nz].min():.6f}, "
        f"{js[nz].max():.6f}] (log 2 = {np.log(2):.6f}), |dJS/dtheta| <= "
        f"{np.abs(js_grad[nz]).max():.1e}; max |W1 - |theta|| = "
        f"{np.abs(w1 - np.abs(th)).max():.1e}, "
        f"dW1/dtheta = sign(theta) (max error {np.abs(w1_grad[nz] - np.sign(th[nz])).max():.1e})"
    )


# -- claim 3 -----------------------------------------------------------------------------


def sn_critic(image_size: int) -> nn.Sequential:
    """DCGAN-style critic: conv 4x4/2 (32), conv 4x4/2 (64), linear; LeakyReLU(0.2)."""
    s = image_size // 4
    return nn.Sequential(
        nn.Conv2d(1, 32, 4, stride=2, padding=1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(32, 64, 4, stride=2, padding=1),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(64 * s * s, 1),
    )


def spectral(cfg: Config) -> dict[str, Any]:
    """sigma(W) and the operator norm of every layer of a spectrally normalized critic."""
    torch.manual_seed(0)
    net = apply_spectral_norm(sn_critic(cfg.image_size))
    for _ in range(cfg.sn_warmup):
        net(torch.randn(4, 1, cfg.image_size, cfg.image_size))
    net.eval()
    sig = layer_sigmas(net)
    s = cfg.image_size
    shapes = {"0": (1, 1, s, s), "2": (1, 32, s // 2, s // 2), "5": (1, 64 * (s // 4) ** 2)}
    ops = {}
    for name, shape in shapes.items():
        layer = net[int(name)]
        w = layer.weight.detach().double()
        if isinstance(layer, nn.Conv2d):
            fn = lambda x, w=w, lay=layer: F.conv2d(x, w, stride=lay.stride, padding=lay.padding)  # noqa: E731
        else:
            fn = lambda x, w=w: x @ w.T  # noqa: E731
        ops[name] = operator_norm(fn, shape, iters=cfg.power_iters)
    return {"sigma": sig, "operator_norm": ops}


def _verdict_spectral(m: dict[str, Any]) -> tuple[bool, str]:
    sig, ops = m["sn_sigma"], m["sn_operator_norm"]
    holds = all(v <= 1.0 + 1e-2 for v in ops.values())
    return holds, (
        "per layer sigma(W) (SVD): "
        + ", ".join(f"{k} {v:.4f}" for k, v in sig.items())
        + "; Lipschitz constant (operator norm on the layer's input): "
        + ", ".join(f"{k} {v:.4f}" for k, v in ops.items())
    )


CLAIMS = (
    Claim(
        "saturating-gradient-vanishes",
        "When the discriminator is strong, the saturating (minimax) generator loss gives "
        "vanishing gradients (norm falls below 1% of its initial value) while the "
        "non-saturating loss does not (norm at least its initial value), on every seed.",
        _verdict_saturation,
        "saturation.png",
    ),
    Claim(
        "js-constant-w1-informative",
        "On disjoint supports (two parallel segments at distance theta) the Jensen-Shannon "
        "divergence is constant, log 2, with zero gradient, while W1 = |theta| gives the "
        "gradient sign(theta) towards the data (computed exactly).",
        _verdict_js_w1,
        "js_w1.png",
    ),
    Claim(
        "spectral-norm-bounds-lipschitz",
        "Spectral normalization bounds each layer's Lipschitz constant by 1: after it, every "
        "layer of a DCGAN-style critic (convolutions and linear) is 1-Lipschitz.",
        _verdict_spectral,
        "spectral.png",
    ),
)


@experiment(
    "gan-theory",
    topic="gan",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Goodfellow et al. 2014 (arXiv:1406.2661); Arjovsky et al. 2017 (arXiv:1701.07875); "
    "Miyato et al. 2018 (arXiv:1802.05957)",
)
@single_thread()
def run(cfg: Config, ctx: RunContext) -> Result:
    """Saturating vs non-saturating gradients, JS vs W1, spectral norm's Lipschitz bound."""
    m: dict[str, Any] = {"seeds": list(cfg.seeds)}
    curves = [saturation(cfg, s, ctx) for s in cfg.seeds]
    m["sat_final_over_initial"] = [c["sat"][-1] / c["sat"][0] for c in curves]
    m["ns_final_over_initial"] = [c["ns"][-1] / c["ns"][0] for c in curves]
    m["d_fake_final"] = [c["d_fake"][-1] for c in curves]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for i, c in enumerate(curves):
        ax.semilogy(
            c["step"], c["sat"], color="C3", alpha=0.7, label="saturating" if not i else None
        )
        ax.semilogy(
            c["step"], c["ns"], color="C0", alpha=0.7, label="non-saturating" if not i else None
        )
    ax.set(
        xlabel="discriminator steps (G fixed)", ylabel="|grad_G loss|", title="generator gradients"
    )
    ax.legend()
    fig.tight_layout()
    plots = [save_figure(fig, ctx.path("saturation.png"))]

    thetas = np.round(np.linspace(-1, 1, 21), 10)
    h = 1e-4
    m["thetas"] = thetas.tolist()
    m["js"] = [js_lines(float(t), cfg.n_points) for t in thetas]
    m["js_grad"] = [
        (js_lines(float(t) + h, cfg.n_points) - js_lines(float(t) - h, cfg.n_points)) / (2 * h)
        for t in thetas
    ]
    w = [w1_lines(float(t), cfg.n_points) for t in thetas]
    m["w1"], m["w1_grad"] = [v for v, _ in w], [g for _, g in w]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot(thetas, m["js"], "o-", label="JS (nats)")
    ax.plot(thetas, m["w1"], "s-", label="W1")
    ax.set(xlabel="theta", ylabel="divergence", title="two parallel segments")
    ax.legend()
    fig.tight_layout()
    plots.append(save_figure(fig, ctx.path("js_w1.png")))

    sn = spectral(cfg)
    m["sn_sigma"], m["sn_operator_norm"] = sn["sigma"], sn["operator_norm"]
    # scalar summaries (the lists and dicts above hold the details)
    m["saturating_grad_ratio_max"] = max(m["sat_final_over_initial"])
    m["nonsaturating_grad_ratio_min"] = min(m["ns_final_over_initial"])
    m["w1_max_abs_error"] = max(abs(w - abs(t)) for w, t in zip(m["w1"], thetas, strict=True))
    m["sn_max_operator_norm"] = max(sn["operator_norm"].values())
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=100)
    names = list(sn["sigma"])
    x = np.arange(len(names))
    ax.bar(x - 0.2, [sn["sigma"][k] for k in names], 0.4, label="sigma(W) of the reshaped weight")
    ax.bar(x + 0.2, [sn["operator_norm"][k] for k in names], 0.4, label="operator norm (Lipschitz)")
    ax.axhline(1.0, color="gray", ls="--", lw=1)
    ax.set_xticks(x, [f"layer {k}" for k in names])
    ax.legend(fontsize=8)
    fig.tight_layout()
    plots.append(save_figure(fig, ctx.path("spectral.png")))
    return Result(metrics=m, plots=plots)
