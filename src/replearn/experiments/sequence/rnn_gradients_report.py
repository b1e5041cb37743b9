"""Claims and plots of the experiment ``rnn-gradients``.

The experiment itself (config, measurements, ``run``) is
:mod:`replearn.experiments.sequence.rnn_gradients`.

Bengio, Simard & Frasconi (1994) and Pascanu, Mikolov & Bengio (2013, arXiv:1211.5063): the
gradient of a loss at step ``T`` with respect to ``h_t`` is a product of ``T - t`` Jacobians
``diag(phi'(a_s)) W_hh``, so ``log ||dL/dh_t||`` is close to linear in the distance ``T - t``:
falling when the spectral radius of ``W_hh`` is below 1, growing (linear RNN) when above; Saxe,
McClelland & Ganguli (2014, arXiv:1312.6120): an orthogonal ``W_hh`` is an isometry.

The five claims of the course, each a verdict ``metrics -> (holds, evidence)`` reading the final
metrics that :func:`~replearn.experiments.sequence.rnn_gradients.run` computes (the thresholds
are written in each evidence string), and the three figures they point to:
``gradient_norms.png`` (:func:`plot_profiles`), ``clipping.png`` (:func:`plot_clipping`) and
``orthogonal_vs_gaussian.png`` (:func:`plot_orthogonal`).

Tests: ``tests/sequence/test_rnn_gradients_report.py`` (every verdict on metrics that hold and on
metrics that fail; each plot writes its PNG); the measured verdicts with the default config:
``tests/claims/test_sequence_rnn_gradients_claims.py``.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import matplotlib.pyplot as plt
from torch import Tensor

from replearn.experiments.base import Claim
from replearn.experiments.stats import MIN_SEEDS, compare_seeds, too_few_seeds
from replearn.report.plots import CURVE_FIGSIZE, DPI, save_figure

__all__ = [
    "CLAIMS", "clipping_verdict", "exploding_verdict", "isometry_verdict", "orthogonal_verdict",
    "plot_clipping", "plot_orthogonal", "plot_profiles", "vanishing_verdict",
]  # fmt: skip


def plot_profiles(path: Any, curves: dict[str, Tensor]) -> Any:
    """``gradient_norms.png``: log10 of the norm relative to its start against the distance."""
    fig, ax = plt.subplots(figsize=CURVE_FIGSIZE, dpi=DPI)
    for label, log_prof in curves.items():
        rel = (log_prof - log_prof[0]) / math.log(10)
        ax.plot(range(len(log_prof)), rel.numpy(), label=label)
    ax.set_xlabel("distance T - t (steps back from the loss)")
    ax.set_ylabel("log10 ||dL/dh_t|| / ||dL/dh_T|| (batch geo. mean)")
    ax.set_title("gradient norm vs distance, Gaussian W_hh at spectral radius rho")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_clipping(path: Any, runs: dict[str, list[dict[str, list[float]]]]) -> Any:
    """``clipping.png``: loss and raw gradient norm of the clipped and unclipped runs.

    ``runs`` maps ``"clipped"`` / ``"unclipped"`` to one run per training seed (one colour per
    variant, one line per seed).
    """
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10.0, 3.8), dpi=DPI)
    for color, (label, per_seed) in zip(("C0", "C1"), runs.items(), strict=False):
        for i, run in enumerate(per_seed):
            loss = [v if math.isfinite(v) else float("nan") for v in run["loss"]]
            norm = [v if math.isfinite(v) else float("nan") for v in run["grad_norm"]]
            name = f"{label} ({len(per_seed)} seeds)" if i == 0 else None
            a1.plot(range(len(loss)), loss, color=color, label=name, linewidth=1, alpha=0.7)
            a2.plot(range(len(norm)), norm, color=color, label=name, linewidth=1, alpha=0.7)
    a1.axhline(1 / 6, color="0.5", linestyle=":", label="predict the mean (1/6)")
    a1.set_ylim(1e-2, 1e4)  # the unclipped loss leaves the axis on its way to inf
    for ax, name in ((a1, "training loss (MSE)"), (a2, "gradient norm before clipping")):
        ax.set_yscale("log")
        ax.set_xlabel("SGD step")
        ax.set_ylabel(name)
        ax.legend(fontsize="small")
    a1.set_title("adding problem, tanh RNN at a large spectral radius")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_orthogonal(path: Any, res: dict[str, Any]) -> Any:
    """``orthogonal_vs_gaussian.png``: every tanh profile, orthogonal and Gaussian ``W_hh``."""
    fig, ax = plt.subplots(figsize=CURVE_FIGSIZE, dpi=DPI)
    for color, name in (("C0", "orthogonal"), ("C1", "gaussian")):
        for i, log_prof in enumerate(res["profiles"][name]):
            label = f"{name} (median distance {statistics.median(res[name])})" if i == 0 else None
            rel = (log_prof - log_prof[0]) / math.log(10)
            ax.plot(rel.numpy(), color=color, alpha=0.6, label=label)
    ax.axhline(math.log10(1e-3), color="0.5", linestyle=":")
    ax.set_xlabel("distance T - t")
    ax.set_ylabel("log10 ||dL/dh_t|| / ||dL/dh_T||")
    ax.set_title("tanh RNN, orthogonal vs Gaussian W_hh of the same scale")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


def vanishing_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    """Claim ``vanishing-gradients``: every tanh log-profile falls (slope < 0, R² >= 0.9)."""
    holds = all(
        m[f"tanh_rho{r}_slope"] < 0 and m[f"tanh_rho{r}_r2"] >= 0.9 for r in m["vanish_radii"]
    )
    parts = [
        f"rho={r}: log-slope {m[f'tanh_rho{r}_slope']:.3f}/step (R² {m[f'tanh_rho{r}_r2']:.3f}), "
        f"norm x1e{m[f'tanh_rho{r}_log10_ratio']:.1f} over {m['seq_len']} steps, below 1e-3 "
        f"after {m[f'tanh_rho{r}_distance']} steps"
        for r in m["vanish_radii"]
    ]
    return holds, "tanh RNN: " + "; ".join(parts) + " (holds if slope < 0 with R² >= 0.9)"


def exploding_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    """Claim ``exploding-gradients``: the linear RNN grows by more than 1e6 over ``seq_len``."""
    r = m["explode_radius"]
    holds = m["linear_explode_slope"] > 0 and m["linear_explode_log10_ratio"] > 6
    return holds, (
        f"rho={r}: linear RNN log-slope {m['linear_explode_slope']:.3f}/step (log rho = "
        f"{math.log(r):.3f}), norm x1e{m['linear_explode_log10_ratio']:.1f} over {m['seq_len']} "
        f"steps; ReLU slope {m['relu_explode_slope']:.3f}, tanh slope {m['tanh_explode_slope']:.3f}"
        " (holds if the linear RNN grows by more than 1e6)"
    )


def clipping_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    """Claim ``clipping-stabilises``, over training seeds (metrics are per-seed lists).

    Holds when, on every seed, the clipped run stays finite with its last-10% loss below its
    first-10% loss and the unclipped run diverges (a non-finite loss) or does not improve, and
    the clipped run's decrease (first - last 10%) is positive by
    :func:`~replearn.experiments.stats.compare_seeds` (one-sided 95% Student-t bound > 0).
    """
    first, last = m["clipped_loss_first"], m["clipped_loss_last"]
    u_first, u_last = m["unclipped_loss_first"], m["unclipped_loss_last"]
    n = len(first)
    stable = [f and b < a for f, a, b in zip(m["clipped_finite"], first, last, strict=True)]
    unstable = [
        (not f) or b >= a for f, a, b in zip(m["unclipped_finite"], u_first, u_last, strict=True)
    ]
    head = (
        f"{n} seeds; clipped (max norm {m['clip_max_norm']}): loss first/last 10% "
        + ", ".join(f"{a:.3g} -> {b:.3g}" for a, b in zip(first, last, strict=True))
        + f", all finite: {m['clipped_finite']}, largest raw gradient norm "
        + ", ".join(f"{g:.3g}" for g in m["clipped_max_grad_norm"])
        + f"; unclipped: {m['unclipped_steps']} steps, loss "
        + ", ".join(f"{a:.3g} -> {b:.3g}" for a, b in zip(u_first, u_last, strict=True))
        + f", all finite: {m['unclipped_finite']}; stable with clipping on "
        f"{sum(stable)}/{n} seeds, diverged or stalled without on {sum(unstable)}/{n}"
    )
    if (why := too_few_seeds(n)) is not None:
        return False, f"{why}; {head}"
    if not all(math.isfinite(v) for v in first + last):
        return False, f"{head}; clipped loss not finite on every seed"
    c = compare_seeds(last, first, higher_is_better=False, label_x="last 10%", label_y="first 10%")
    return all(stable) and all(unstable) and c.holds, (
        f"{head}; clipped loss decrease: {c.evidence()} (holds if stable/diverged-or-stalled on "
        "every seed and the bound > 0)"
    )


def orthogonal_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    """Claim ``orthogonal-init-preserves-gradients``: longer vanishing distance, over draws.

    The ``n_inits`` draws are paired (draw ``i`` gives both matrices the same input weights
    and inputs) and judged by :func:`~replearn.experiments.stats.compare_seeds`: the
    one-sided 95% Student-t lower bound of the mean paired difference orthogonal - Gaussian
    must exceed 0. A profile that never falls below the ratio counts as ``T + 1`` (censored).
    """
    ortho, gauss = m["orthogonal_distances"], m["gaussian_distances"]
    head = (
        f"distance to a 1e-3 fall (T={m['ortho_seq_len']}; {m['ortho_seq_len'] + 1} = never), "
        f"{m['n_inits']} paired draws: orthogonal {ortho} (median "
        f"{m['orthogonal_median_distance']}) vs Gaussian {gauss} (median "
        f"{m['gaussian_median_distance']}); linear-RNN log-slope "
        f"{m['orthogonal_linear_slope']:.4f} vs {m['gaussian_linear_slope']:.4f} per step"
    )
    if len(ortho) < MIN_SEEDS:
        return False, f"not measured: needs >= {MIN_SEEDS} draws (n_inits); {head}"
    c = compare_seeds(ortho, gauss, label_x="orthogonal", label_y="Gaussian")
    return c.holds, f"{head}; {c.evidence().replace(' seeds', ' draws')}"


def isometry_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    """Claim ``orthogonal-init-isometry-linear``: drift < 0.01 decades vs > 1 decade."""
    holds = (
        m["orthogonal_linear_max_log10_drift"] < 0.01 and m["gaussian_linear_min_log10_drift"] > 1
    )
    return holds, (
        f"linear RNN, T={m['ortho_seq_len']}, {m['n_inits']} inits: largest |log10 "
        f"||dL/dh_t|| / ||dL/dh_T|| | is at most {m['orthogonal_linear_max_log10_drift']:.2e} "
        f"for orthogonal W_hh and between {m['gaussian_linear_min_log10_drift']:.2f} and "
        f"{m['gaussian_linear_max_log10_drift']:.2f} for Gaussian W_hh (holds if < 0.01 vs > 1)"
    )


CLAIMS = (
    Claim(
        "vanishing-gradients",
        "In a vanilla tanh RNN whose recurrent matrix has spectral radius < 1 the gradient "
        "norm ||dL/dh_t|| decays exponentially with the distance T - t (checked on one "
        "Gaussian draw of W_hh per radius: the log-norm falls linearly, slope < 0, R² >= 0.9).",
        vanishing_verdict,
        "gradient_norms.png",
    ),
    Claim(
        "exploding-gradients",
        "With a large spectral radius (linear RNN) the gradient norm grows exponentially "
        "with the distance (checked on one Gaussian draw of W_hh: the linear RNN's norm grows "
        "by more than 1e6 over T steps).",
        exploding_verdict,
        "gradient_norms.png",
    ),
    Claim(
        "clipping-stabilises",
        "Clipping the gradient norm keeps training stable under exploding gradients: the loss "
        "stays finite and decreases with clipping, while without it training diverges or "
        "does not improve. Checked over >= 3 training seeds (per seed, both runs share the "
        "initial weights and batches): on every seed the clipped loss stays finite and its last "
        "10% is below its first 10%, and the unclipped run hits a non-finite loss or its last "
        "10% is not below its first; the clipped decrease is also positive by a one-sided 95% "
        "paired Student-t bound over seeds.",
        clipping_verdict,
        "clipping.png",
    ),
    Claim(
        "orthogonal-init-preserves-gradients",
        "Orthogonal initialisation of W_hh preserves the gradient norm over more steps than a "
        "Gaussian initialisation of the same scale. Checked over n_inits paired random draws: "
        "the distance at which ||dL/dh_t|| of a tanh RNN (small inputs) falls below 1e-3 of "
        "||dL/dh_T||, orthogonal minus Gaussian, has a mean whose one-sided 95% Student-t "
        "lower bound is above 0.",
        orthogonal_verdict,
        "orthogonal_vs_gaussian.png",
    ),
    Claim(
        "orthogonal-init-isometry-linear",
        "In the linear regime an orthogonal W_hh keeps ||dL/dh_t|| exactly constant over "
        "any distance, while a Gaussian W_hh of the same scale makes it drift by orders of "
        "magnitude.",
        isometry_verdict,
        None,
    ),
)
