"""Experiment ``bias-variance``: the decomposition of the test error and the U-curve in capacity.

Target :math:`f(x) = \\sin(2\\pi x)` on [0, 1], labels :math:`y = f(x) +
\\sigma\\varepsilon`. The training inputs are, by default, a fixed design (the
midpoints of ``n_train`` equal cells; every training set redraws only the noise);
``design="random"`` draws :math:`x \\sim U[0, 1]` per set instead. For each
polynomial degree
:math:`p = 0, \\dots, D` (the capacity):

* ``n_sets`` training sets of ``n_train`` points give ``n_sets`` least-squares
  fits; their predictions on a grid of ``n_test`` points (the midpoints of
  ``n_test`` equal cells of [0, 1], a quadrature of the uniform test
  distribution) give bias², variance and noise (Eqs. 1-3 of
  :mod:`replearn.fundamentals.bias_variance`).
* ``n_eval_sets`` *other*, independent training sets give other fits, scored on
  fresh noisy test labels at the grid: the measured expected test error.

The same training sets are reused for every degree (common random numbers), so
the curves over degree are smooth. With the fixed design (and no ridge) the
exact bias² and variance are known in closed form
(:func:`~replearn.fundamentals.bias_variance.fixed_design_bias_variance`) and
are reported next to the Monte Carlo ones.

Why the fixed design is the default: with random inputs and n = 20 points the
least-squares polynomial of degree >= 6 is occasionally fitted to a nearly
degenerate design and explodes between or beyond the points, so the per-model
errors are so heavy tailed (one model of 1000 carries 20-40% of the total at
degrees 8-10) that their variance is, in effect, infinite: the Monte Carlo
estimates of the variance, and their standard errors, do not settle, and a
check "within k standard errors" says nothing. (Measured with seed 0, degrees
0..10, R = R' = 1000: gaps within 1.1 SE but up to 99% relative, variance at
degree 10 of 3.5e7.) With a fixed design the fits are Gaussian and every
moment is finite.

Sampling error. Each fitted model contributes one independent term: its mean
squared distance to :math:`f` over the grid, :math:`d_r` (the decomposition's
bias² + variance is exactly :math:`\\bar d`), or its mean squared error on fresh
labels, :math:`e_r` (the measured error is :math:`\\bar e`). The :math:`d_r` are
i.i.d. over training sets and so are the :math:`e_r`, independently of the
:math:`d_r`, so the gap :math:`\\bar e - (\\bar d + \\sigma^2)` has mean 0 under
Eq. (1) and standard error
:math:`\\sqrt{s_e^2 / R' + s_d^2 / R}` (sample standard deviations). The
decomposition claim holds if every degree's gap is within ``tolerance_se``
standard errors. The default of 4 keeps the chance of a false failure across
the 11 degrees below 0.1% if the means are close to normal (11 x 6.3e-5); the
per-model errors of high-degree fits are heavy tailed, so that is approximate.

The U-shape claim holds if the measured test error is smallest at a degree
strictly inside [0, D] and both end points exceed that minimum by more than 3
standard errors of the difference (the errors' standard errors added in
quadrature, conservative as the degrees share their training sets).

Writes ``bias_variance.png`` (bias², variance, noise, their sum and the measured
error against the degree, log scale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from replearn.engine.context import RunContext
from replearn.experiments.base import Claim, Result, experiment
from replearn.fundamentals.bias_variance import (
    bias_variance_decomposition,
    draw_training_sets,
    fixed_design,
    fixed_design_bias_variance,
    polynomial_predictions,
    sine_target,
)
from replearn.report.plots import line_plot


@dataclass
class Config:
    """Settings of the bias-variance experiment.

    Attributes:
        max_degree: the largest polynomial degree D; degrees 0..D are fitted
            (must stay below ``n_train`` so least squares is determined).
        n_train: points per training set.
        design: ``"fixed"`` (the same n_train equally spaced inputs in every set,
            only the noise redrawn) or ``"random"`` (x ~ U[0, 1] per set).
        noise_std: standard deviation sigma of the label noise (noise term sigma^2).
        n_sets: training sets R whose fits give bias^2 and variance.
        n_eval_sets: independent training sets R' whose fits give the measured
            test error on fresh noisy labels.
        n_test: grid points (cell midpoints of [0, 1]) where every term is averaged.
        ridge: ridge penalty lambda of the fits (0: ordinary least squares).
        tolerance_se: the decomposition claim allows |gap| <= this many standard errors.
    """

    max_degree: int = 12
    n_train: int = 20
    design: str = "fixed"
    noise_std: float = 0.3
    n_sets: int = 1000
    n_eval_sets: int = 1000
    n_test: int = 100
    ridge: float = 0.0
    tolerance_se: float = 4.0


def tiny() -> Config:
    """Under a second: fewer sets and degrees."""
    return Config(max_degree=8, n_sets=100, n_eval_sets=100, n_test=50)


def quick() -> Config:
    """The claims at reduced cost."""
    return Config(n_sets=300, n_eval_sets=300)


def _mean_se(per_model: Tensor) -> tuple[float, float]:
    """Mean of i.i.d. per-model values and its standard error ``std / sqrt(R)``."""
    return float(per_model.mean()), float(per_model.std() / math.sqrt(per_model.numel()))


def _verdict_sum(m: dict[str, Any]) -> tuple[bool, str]:
    holds = m["max_abs_gap_se"] <= m["tolerance_se"]
    d = m["best_degree"]
    return holds, (
        f"over degrees 0..{m['max_degree']}: max |measured - (bias2 + variance + noise)| = "
        f"{m['max_abs_gap_se']:.2f} standard errors (tolerance {m['tolerance_se']:g}), "
        f"largest absolute gap {m['max_abs_decomposition_gap']:.4g}, largest relative gap "
        f"{100 * m['max_rel_decomposition_gap']:.2f}%; at the best degree {d}: "
        f"bias2 {m[f'bias2_deg{d}']:.4f} + variance {m[f'variance_deg{d}']:.4f} + noise "
        f"{m['noise']:.4f} = {m[f'expected_error_deg{d}']:.4f} vs measured "
        f"{m['min_expected_error']:.4f}"
    )


def _verdict_u(m: dict[str, Any]) -> tuple[bool, str]:
    d, top = m["best_degree"], m["max_degree"]
    holds = 0 < d < top and m["u_left_rise_se"] > 3.0 and m["u_right_rise_se"] > 3.0
    return holds, (
        f"measured test error {m['test_error_deg0']:.4f} at degree 0, minimum "
        f"{m['min_expected_error']:.4f} at degree {d}, {m[f'test_error_deg{top}']:.4g} at "
        f"degree {top}; rises from the minimum: {m['u_left_rise_se']:.1f} SE to the left, "
        f"{m['u_right_rise_se']:.1f} SE to the right (need > 3 and 0 < best < {top})"
    )


CLAIMS = (
    Claim(
        "bias-variance-sum",
        "The expected squared test error equals bias^2 + variance + noise (Geman et al. 1992): "
        "the decomposition from one set of fits matches the error measured on independent "
        "fits and fresh test noise within sampling error, at every capacity.",
        _verdict_sum,
        "bias_variance.png",
    ),
    Claim(
        "bias-variance-u-shape",
        "The test error is U-shaped in capacity: bias^2 falls and variance grows with the "
        "polynomial degree, so the error first decreases, then increases, with its minimum "
        "strictly inside the range of degrees.",
        _verdict_u,
        "bias_variance.png",
    ),
)


@experiment(
    "bias-variance",
    topic="fundamentals",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Geman, Bienenstock & Doursat 1992, Neural Computation 4(1)",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Bias², variance and noise of polynomial fits against the measured test error."""
    if not 0 <= cfg.max_degree < cfg.n_train:
        raise ValueError(f"max_degree must be in [0, n_train), got {cfg.max_degree}")
    if cfg.design not in ("fixed", "random"):
        raise ValueError(f"design must be 'fixed' or 'random', got {cfg.design!r}")
    exact = cfg.design == "fixed" and cfg.ridge == 0
    gen = torch.Generator().manual_seed(ctx.seed)
    dtype = torch.float64
    x_test = fixed_design(cfg.n_test, dtype)  # (N,) cell midpoints of [0, 1]
    f_test = sine_target(x_test)  # (N,)
    noise_var = cfg.noise_std**2
    common = {
        "n_train": cfg.n_train,
        "noise_std": cfg.noise_std,
        "generator": gen,
        "dtype": dtype,
        "design": cfg.design,
    }
    x_fit, y_fit = draw_training_sets(sine_target, n_sets=cfg.n_sets, **common)  # (R, n)
    x_eval, y_eval = draw_training_sets(sine_target, n_sets=cfg.n_eval_sets, **common)  # (R', n)
    # fresh test labels at the grid, one per (evaluation model, grid point)
    test_noise = torch.randn(cfg.n_eval_sets, cfg.n_test, generator=gen, dtype=dtype)
    y_test = f_test + cfg.noise_std * test_noise  # (R', N)

    degrees = list(range(cfg.max_degree + 1))
    keys = ("bias2", "variance", "expected_error", "test_error", "test_se", "gap", "gap_se")
    rows: dict[str, list[float]] = {k: [] for k in (*keys, "exact_error", "exact_rel_dev")}
    metrics: dict[str, Any] = {}
    for p in degrees:
        pred = polynomial_predictions(x_fit, y_fit, x_test, p, cfg.ridge)  # (R, N)
        terms = bias_variance_decomposition(pred, f_test, noise_var)
        _, dec_se = _mean_se(((pred - f_test) ** 2).mean(dim=1))  # (R,) per-model d_r
        pred_eval = polynomial_predictions(x_eval, y_eval, x_test, p, cfg.ridge)  # (R', N)
        test_error, test_se = _mean_se(((y_test - pred_eval) ** 2).mean(dim=1))  # (R',) e_r
        gap = test_error - terms["expected_error"]
        gap_se = math.sqrt(test_se**2 + dec_se**2)
        for key, value in (
            ("bias2", terms["bias2"]),
            ("variance", terms["variance"]),
            ("expected_error", terms["expected_error"]),
            ("test_error", test_error),
            ("test_se", test_se),
            ("gap", gap),
            ("gap_se", gap_se),
        ):
            rows[key].append(value)
            if key in ("bias2", "variance", "expected_error", "test_error"):
                metrics[f"{key}_deg{p}"] = value
        extra: dict[str, float] = {}
        if exact:
            closed = fixed_design_bias_variance(
                fixed_design(cfg.n_train, dtype), x_test, sine_target, p, noise_var
            )
            metrics[f"exact_bias2_deg{p}"] = closed["bias2"]
            metrics[f"exact_variance_deg{p}"] = closed["variance"]
            rows["exact_error"].append(closed["bias2"] + closed["variance"] + noise_var)
            rows["exact_rel_dev"].append(
                abs(terms["expected_error"] - rows["exact_error"][-1]) / rows["exact_error"][-1]
            )
            extra = {
                "exact_bias2": closed["bias2"],
                "exact_variance": closed["variance"],
                "exact_expected_error": rows["exact_error"][-1],
            }
        ctx.log(
            p,
            **extra,
            degree=p,
            bias2=terms["bias2"],
            variance=terms["variance"],
            noise=noise_var,
            expected_error=terms["expected_error"],
            test_error=test_error,
            test_error_se=test_se,
            decomposition_gap=gap,
            decomposition_gap_se=gap_se,
        )

    errors = rows["test_error"]
    best = min(degrees, key=lambda p: errors[p])
    top = cfg.max_degree

    def rise_se(p: int) -> float:
        diff_se = math.hypot(rows["test_se"][p], rows["test_se"][best])
        return (errors[p] - errors[best]) / diff_se if diff_se > 0 else 0.0

    z = [
        abs(g) / s if s > 0 else (0.0 if g == 0 else math.inf)
        for g, s in zip(rows["gap"], rows["gap_se"], strict=True)
    ]
    metrics.update(
        {
            "max_degree": top,
            "noise": noise_var,
            "tolerance_se": cfg.tolerance_se,
            "best_degree": best,
            "min_expected_error": errors[best],
            "min_decomposed_error": min(rows["expected_error"]),
            "max_abs_decomposition_gap": max(abs(g) for g in rows["gap"]),
            "max_rel_decomposition_gap": max(
                abs(g) / e for g, e in zip(rows["gap"], rows["expected_error"], strict=True)
            ),
            "max_abs_gap_se": max(z),
            "u_left_rise_se": rise_se(0),
            "u_right_rise_se": rise_se(top),
        }
    )
    curves = {
        "bias²": rows["bias2"],
        "variance": rows["variance"],
        "noise σ²": [noise_var] * len(degrees),
        "bias² + variance + noise": rows["expected_error"],
        "measured test error": errors,
    }
    if exact:
        metrics["max_rel_dev_from_closed_form"] = max(rows["exact_rel_dev"])
        curves["closed form (fixed design)"] = rows["exact_error"]
    plot = line_plot(
        degrees,
        curves,
        ctx.path("bias_variance.png"),
        xlabel="polynomial degree (capacity)",
        ylabel="squared error",
        title=f"sin(2πx), {cfg.design} design, n={cfg.n_train}, σ={cfg.noise_std}, R={cfg.n_sets}",
        logy=True,
    )
    return Result(metrics=metrics, model=None, plots=[plot])
