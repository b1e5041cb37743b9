r"""Experiment ``diffusion-spectrum``: forward noising removes high spatial frequencies first.

"Diffusion is spectral autoregression" (S. Dieleman, 2024 blog post; also Rissanen et al.
2023, arXiv:2206.13397): natural images have a radially averaged power spectrum that
falls with frequency (roughly a power law), while the noise of :math:`q(x_t|x_0)` is white.
With :math:`x_t = \sqrt{\bar\alpha_t} x_0 + \sqrt{1 - \bar\alpha_t}\epsilon`, the signal-to-
noise ratio at spatial frequency :math:`f` is

.. math::

    \mathrm{SNR}_t(f) = \frac{\bar\alpha_t\, P_{x_0}(f)}{(1 - \bar\alpha_t)\, P_\epsilon(f)}

so the high frequencies (small :math:`P_{x_0}`) drop below SNR = 1 at earlier steps than
the low ones: denoising from :math:`T` down to 0 generates coarse structure first and
fine detail last. The experiment measures :math:`P_{x_0}` and :math:`P_\epsilon` (and
:math:`P_{x_t}` of actual :func:`~replearn.diffusion.ddpm.q_sample` outputs) with the 2-D FFT,
radially averaged in integer frequency bins, and finds for each bin the first step where
the SNR falls below 1. No training.

Images are scaled to ``[-1, 1]``. Default data: the embedded 8x8 digits (5 radial bins);
``--set data=fashion-mnist`` for 28x28 images. Writes ``spectrum.png`` (power spectra of
:math:`x_t` at several steps, log-log) and ``snr.png`` (SNR per frequency over t).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Literal

import matplotlib.pyplot as plt
import torch
from torch import Tensor

from replearn.data.images import load_classification
from replearn.diffusion.ddpm import q_sample
from replearn.diffusion.schedules import NoiseSchedule
from replearn.engine import RunContext
from replearn.experiments.base import Claim, Result, experiment
from replearn.report.plots import DPI, save_figure


@dataclass(frozen=True)
class Config:
    """Config of ``diffusion-spectrum``.

    Attributes:
        data: digits (embedded, 8x8) or fashion-mnist (28x28, file).
        n_images: training images whose spectra are averaged.
        timesteps: T of the schedule.
        schedule: linear or cosine.
        n_curves: steps at which the spectrum of x_t is drawn.
    """

    data: Literal["digits", "fashion-mnist"] = "digits"
    n_images: int = 1000
    timesteps: int = 1000
    schedule: Literal["linear", "cosine"] = "linear"
    n_curves: int = 6

    def __post_init__(self) -> None:
        if self.n_images < 2 or self.n_curves < 2:
            raise ValueError("n_images and n_curves must be >= 2")


def tiny() -> Config:
    """Seconds: 200 images."""
    return Config(n_images=200)


def quick() -> Config:
    """The default is already quick."""
    return Config()


def radial_power_spectrum(x: Tensor) -> Tensor:
    r"""Mean over images of :math:`|\mathrm{FFT}_2(x)|^2 / (HW)`, averaged over integer radii
    :math:`\lfloor\sqrt{f_x^2 + f_y^2}\rceil` (bin 0 is the mean, DC).

    Shape:
        x: (N, C, H, W) -> (n_bins,).
    """
    h, w = x.shape[-2:]
    power = torch.fft.fft2(x.double()).abs().square().mean(dim=(0, 1)) / (h * w)  # (H, W)
    fy = torch.fft.fftfreq(h, d=1.0 / h)[:, None]
    fx = torch.fft.fftfreq(w, d=1.0 / w)[None, :]
    radius = (fx.square() + fy.square()).sqrt().round().long()  # (H, W)
    n_bins = int(min(h, w) // 2) + 1
    keep = radius < n_bins
    sums = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, radius[keep], power[keep])
    counts = torch.bincount(radius[keep], minlength=n_bins).double()
    return sums / counts


def _verdict(m: dict[str, Any]) -> tuple[bool, str]:
    cross = m["snr_crossing_step"]  # per frequency bin, DC excluded
    monotone = all(b <= a for a, b in itertools.pairwise(cross))
    holds = monotone and cross[-1] < cross[0]
    return holds, (
        f"first step with SNR < 1, per radial frequency bin 1..{len(cross)}: {cross} "
        f"(non-increasing and highest < lowest required); data power spectrum "
        f"{[f'{p:.3g}' for p in m['data_power']]}"
    )


CLAIMS = (
    Claim(
        "high-frequencies-first",
        "Forward noising removes high spatial frequencies first: the per-frequency SNR of "
        "x_t falls below 1 at earlier steps for higher frequencies (diffusion as spectral "
        "autoregression).",
        _verdict,
        "snr.png",
    ),
)


@experiment(
    "diffusion-spectrum",
    topic="diffusion",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Ho et al. 2020, arXiv:2006.11239; Rissanen, Heinonen & Solin 2023, arXiv:2206.13397",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Radially averaged power spectra of x_t and per-frequency SNR over diffusion time."""
    data = load_classification(cfg.data, seed=ctx.seed)
    x0 = data.train.tensors[0][: cfg.n_images] * 2 - 1  # (N, 1, H, W) in [-1, 1]
    sched = NoiseSchedule(cfg.timesteps, kind=cfg.schedule, dtype=torch.float64)
    g = torch.Generator().manual_seed(ctx.seed)
    p_data = radial_power_spectrum(x0)
    p_noise = radial_power_spectrum(torch.randn(x0.shape, generator=g, dtype=torch.float64))
    ab = sched.alpha_bar[:, None]  # (T, 1)
    snr = ab * p_data[None] / ((1 - ab) * p_noise[None])  # (T, n_bins)
    below = snr[:, 1:] < 1
    crossing = [int(below[:, j].nonzero()[0]) if below[:, j].any() else cfg.timesteps
                for j in range(below.shape[1])]  # fmt: skip
    steps = torch.linspace(0, cfg.timesteps - 1, cfg.n_curves).round().long().tolist()
    spectra = {}
    for t in steps:
        noise = torch.randn(x0.shape, generator=g, dtype=torch.float64)
        xt = q_sample(x0.double(), torch.full((len(x0),), t), sched.alpha_bar, noise)
        spectra[t] = radial_power_spectrum(xt)
    freqs = torch.arange(1, len(p_data))
    fig, ax = plt.subplots(figsize=(5.5, 3.8), dpi=DPI)
    ax.loglog(freqs, p_data[1:], "k-", lw=2, label="x_0")
    for t, p in spectra.items():
        ax.loglog(freqs, p[1:], label=f"x_t, t={t}")
    ax.set(xlabel="spatial frequency (cycles per image)", ylabel="radial power",
           title=f"{cfg.data}: power spectrum of x_t")  # fmt: skip
    ax.legend(fontsize="x-small")
    fig.tight_layout()
    plots = [save_figure(fig, ctx.path("spectrum.png"))]
    fig, ax = plt.subplots(figsize=(5.5, 3.8), dpi=DPI)
    for j in range(1, len(p_data)):
        ax.semilogy(snr[:, j].numpy(), label=f"f={j}")
    ax.axhline(1.0, color="k", ls="--", lw=1)
    ax.set(xlabel="step t", ylabel="SNR_t(f)", title="per-frequency signal-to-noise ratio")
    ax.legend(fontsize="x-small")
    fig.tight_layout()
    plots.append(save_figure(fig, ctx.path("snr.png")))
    metrics: dict[str, Any] = {
        "data": cfg.data,
        "snr_crossing_step": crossing,
        "snr_crossing_lowest_frequency": crossing[0],
        "snr_crossing_highest_frequency": crossing[-1],
        "data_power": [float(v) for v in p_data[1:]],
        "noise_power": [float(v) for v in p_noise[1:]],
        "xt_power": {str(t): [float(v) for v in p[1:]] for t, p in spectra.items()},
    }
    return Result(metrics=metrics, plots=plots)
