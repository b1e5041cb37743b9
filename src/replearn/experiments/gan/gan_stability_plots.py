"""Plots of ``gan-stability`` (:mod:`replearn.experiments.gan.gan_stability`).

``curves[method][lr]`` holds, per seed, the evaluation rows of one run (``step``, ``val_w1``,
``val_d_estimate``) or None for a run that diverged; ``final[method][lr]`` the final W1 per seed.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from replearn.report.plots import save_figure

GRID_METHODS = ("wgan", "wgan-gp", "sn")


def plot_tracking(curves: dict[str, Any], lr: str, path: Any) -> Any:
    """W1 of the samples and the discriminator's -L_D over training, WGAN and minimax."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), dpi=100)
    for ax, method in zip(axes, ("wgan", "minimax"), strict=True):
        rows = curves[method][lr][0]
        if rows is not None:
            steps = [r["step"] for r in rows]
            ax.plot(steps, [r["val_w1"] for r in rows], color="C0", label="W1 of samples")
            est = np.array([r["val_d_estimate"] for r in rows])
            twin = ax.twinx()
            twin.plot(steps, est, color="C1", label="-L_D")
            twin.set_ylabel("-L_D (fixed batch)", color="C1")
        ax.set(xlabel="step", ylabel="W1", title=f"{method}, first seed")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_smoothness(curves: dict[str, Any], lr: str, path: Any) -> Any:
    """W1 over training for clipping and GP, every seed."""
    fig, ax = plt.subplots(figsize=(6, 3.4), dpi=100)
    for color, method in (("C0", "wgan"), ("C2", "wgan-gp")):
        for i, rows in enumerate(curves[method][lr]):
            if rows is not None:
                label = ("clipping" if method == "wgan" else "GP") if i == 0 else None
                ax.plot([r["step"] for r in rows], [r["val_w1"] for r in rows], color=color,
                        alpha=0.7, label=label)  # fmt: skip
    ax.set(xlabel="step", ylabel="W1 of samples", yscale="log", title="each line: a seed")
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)


def plot_lr_grid(final: dict[str, Any], lrs: tuple[float, ...], thr: float, path: Any) -> Any:
    """Final W1 per method and learning rate, every seed, with the threshold."""
    fig, ax = plt.subplots(figsize=(6, 3.4), dpi=100)
    for j, method in enumerate(GRID_METHODS):
        for i, lr in enumerate(lrs):
            vals = [np.nan if v is None else v for v in final[method][f"{lr:g}"]]
            x = i + 0.25 * (j - 1)
            ax.scatter([x] * len(vals), vals, color=f"C{j}", s=14, label=method if i == 0 else None)
    ax.axhline(thr, color="gray", ls="--", lw=1)
    ax.set_xticks(range(len(lrs)), [f"{lr:g}" for lr in lrs])
    ax.set(xlabel="learning rate", ylabel="final W1 (missing: diverged)", yscale="log")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
