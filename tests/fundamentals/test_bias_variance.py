"""Bias-variance decomposition vs closed forms; polynomial fits vs numpy.polyfit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from replearn.fundamentals.bias_variance import (
    bias_variance_decomposition,
    draw_training_sets,
    fit_polynomial,
    fixed_design,
    fixed_design_bias_variance,
    polynomial_features,
    polynomial_predictions,
    predict_polynomial,
    resampled_polynomial_predictions,
    sine_target,
    squared_bias,
    variance,
)

DT = torch.float64


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------- polynomial least squares


def test_polynomial_features():
    x = torch.tensor([0.0, 2.0, -1.0], dtype=DT)
    expected = torch.tensor([[1, 0, 0, 0], [1, 2, 4, 8], [1, -1, 1, -1]], dtype=DT)
    torch.testing.assert_close(polynomial_features(x, 3), expected)
    assert polynomial_features(x.expand(4, 3), 2).shape == (4, 3, 3)


@pytest.mark.parametrize("degree", range(9))
def test_fit_polynomial_matches_numpy_polyfit(degree):
    g = gen(degree)
    x = torch.rand(30, generator=g, dtype=DT)
    y = sine_target(x) + 0.2 * torch.randn(30, generator=g, dtype=DT)
    ours = fit_polynomial(x, y, degree).numpy()[::-1]  # polyfit: decreasing powers
    theirs = np.polyfit(x.numpy(), y.numpy(), degree)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9 * np.abs(theirs).max())


@pytest.mark.parametrize("degree", [10, 12])
def test_high_degree_predictions_match_numpy_polyfit(degree):
    """Coefficients of ill-conditioned fits differ in the last digits; the fitted curves agree."""
    g = gen(degree)
    x = torch.rand(25, generator=g, dtype=DT)
    y = sine_target(x) + 0.2 * torch.randn(25, generator=g, dtype=DT)
    grid = torch.linspace(0, 1, 50, dtype=DT)
    ours = predict_polynomial(fit_polynomial(x, y, degree), grid).numpy()
    theirs = np.polyval(np.polyfit(x.numpy(), y.numpy(), degree), grid.numpy())
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)


def test_very_high_degree_is_a_least_squares_solution():
    """Degree 14 on 25 random points: the scaled Vandermonde matrix has a condition number
    ~1e11, so two correct solvers may differ in the 5th digit away from the data; compare
    what least squares defines instead: the residual is as small as numpy.polyfit's."""
    g = gen(14)
    x = torch.rand(25, generator=g, dtype=DT)
    y = sine_target(x) + 0.2 * torch.randn(25, generator=g, dtype=DT)
    ours = float(torch.linalg.vector_norm(predict_polynomial(fit_polynomial(x, y, 14), x) - y))
    theirs = np.linalg.norm(np.polyval(np.polyfit(x.numpy(), y.numpy(), 14), x.numpy()) - y.numpy())
    assert ours <= theirs * (1 + 1e-6)


def test_fit_is_batched():
    x, y = draw_training_sets(sine_target, n_sets=5, n_train=12, noise_std=0.3, generator=gen(1))
    batched = fit_polynomial(x, y, 4)
    for r in range(5):
        torch.testing.assert_close(
            batched[r], fit_polynomial(x[r], y[r], 4), rtol=1e-10, atol=1e-10
        )


def test_ridge_matches_normal_equations_and_tends_to_least_squares():
    g = gen(2)
    x = torch.rand(20, generator=g, dtype=DT)
    y = sine_target(x) + 0.1 * torch.randn(20, generator=g, dtype=DT)
    phi = np.vander(x.numpy(), 4, increasing=True)
    lam = 0.3
    expected = np.linalg.solve(phi.T @ phi + lam * np.eye(4), phi.T @ y.numpy())
    np.testing.assert_allclose(fit_polynomial(x, y, 3, ridge=lam).numpy(), expected, rtol=1e-10)
    torch.testing.assert_close(
        fit_polynomial(x, y, 3, ridge=1e-12), fit_polynomial(x, y, 3), rtol=1e-5, atol=1e-6
    )


# ----------------------------------------------------------------- the decomposition


def test_mean_squared_deviation_is_exactly_bias2_plus_variance():
    """(1/RN) sum (f_r - f)^2 = bias^2 + variance: an algebraic identity (variance with 1/R)."""
    g = gen(3)
    pred = torch.randn(37, 11, generator=g, dtype=DT) * 2 + 0.5
    f = torch.randn(11, generator=g, dtype=DT)
    terms = bias_variance_decomposition(pred, f, noise_var=0.25)
    mse = float(((pred - f) ** 2).mean())
    assert terms["bias2"] + terms["variance"] == pytest.approx(mse, rel=1e-12, abs=1e-14)
    assert terms["expected_error"] == pytest.approx(mse + 0.25, rel=1e-12)
    assert terms["noise"] == 0.25
    assert float(squared_bias(pred, f)) == terms["bias2"]
    assert float(variance(pred)) == terms["variance"]


def test_constant_predictions_have_no_variance():
    pred = torch.full((5, 3), 2.0, dtype=DT)
    terms = bias_variance_decomposition(pred, torch.zeros(3, dtype=DT), 0.0)
    assert terms == {"bias2": 4.0, "variance": 0.0, "noise": 0.0, "expected_error": 4.0}


def test_degree0_fixed_design_closed_form():
    """The mean estimator on a fixed design: bias^2 = mean_x sin^2 = 1/2, variance = sigma^2/n.

    The n = 20 training inputs are cell midpoints, where sin(2 pi x) averages to 0, so
    the mean fit is 0 and bias^2 is the grid average of sin^2, exactly 1/2 on N >= 3
    midpoints. Exact via the smoother; Monte Carlo with R = 20000: the estimated
    variance (of a Gaussian, scaled chi^2) has relative SD sqrt(2/R) = 1%, so rtol 5%
    is 5 SD; the estimated bias^2 exceeds 1/2 by mean_r(f_r)^2 ~ variance/R = 2e-7.
    """
    n, sigma, grid = 20, 0.3, fixed_design(100)
    exact = fixed_design_bias_variance(fixed_design(n), grid, sine_target, 0, sigma**2)
    assert exact["bias2"] == pytest.approx(0.5, abs=1e-12)
    assert exact["variance"] == pytest.approx(sigma**2 / n, rel=1e-12)
    pred = resampled_polynomial_predictions(
        sine_target,
        grid,
        degree=0,
        n_sets=20_000,
        n_train=n,
        noise_std=sigma,
        generator=gen(4),
        design="fixed",
    )
    mc = bias_variance_decomposition(pred, sine_target(grid), sigma**2)
    assert mc["variance"] == pytest.approx(sigma**2 / n, rel=0.05)
    assert mc["bias2"] == pytest.approx(0.5, abs=1e-4)


def test_degree0_random_design_closed_form():
    """x ~ U[0,1]: the mean of n labels has E = E sin(2 pi X) = 0 and
    variance (Var sin(2 pi X) + sigma^2) / n = (1/2 + sigma^2) / n.

    R = 20000: the fit is a mean of 20 i.i.d. terms (near Gaussian), so the variance
    estimate has relative SD about sqrt(2/R) = 1%; rtol 5% is ~5 SD. bias^2 exceeds
    1/2 by (mean_r f_r)^2, of order variance/R = 1.5e-6 (atol 1e-4 is ~70x that).
    """
    n, sigma, grid = 20, 0.3, fixed_design(100)
    pred = resampled_polynomial_predictions(
        sine_target, grid, degree=0, n_sets=20_000, n_train=n, noise_std=sigma, generator=gen(5)
    )
    mc = bias_variance_decomposition(pred, sine_target(grid), sigma**2)
    assert mc["variance"] == pytest.approx((0.5 + sigma**2) / n, rel=0.05)
    assert mc["bias2"] == pytest.approx(0.5, abs=1e-4)


@pytest.mark.parametrize("degree", [1, 3, 7])
def test_fixed_design_monte_carlo_matches_closed_form(degree):
    """Least squares on a fixed design is Gaussian: variance sigma^2 phi^T (Phi^T Phi)^-1 phi.

    R = 20000 fits: the relative SD of the variance estimate is at most sqrt(2/R) = 1%
    (less after averaging over the grid): rtol 5%. bias^2 gets variance/R ~ 1e-6 of
    upward bias from estimating the mean fit: atol 1e-4.
    """
    sigma, grid = 0.3, fixed_design(100)
    exact = fixed_design_bias_variance(fixed_design(20), grid, sine_target, degree, sigma**2)
    pred = resampled_polynomial_predictions(
        sine_target,
        grid,
        degree=degree,
        n_sets=20_000,
        n_train=20,
        noise_std=sigma,
        generator=gen(degree),
        design="fixed",
    )
    mc = bias_variance_decomposition(pred, sine_target(grid), sigma**2)
    assert mc["variance"] == pytest.approx(exact["variance"], rel=0.05)
    assert mc["bias2"] == pytest.approx(exact["bias2"], abs=1e-4)


@pytest.mark.parametrize("degree", [0, 2, 5, 9])
def test_mean_variance_at_training_points_is_trace_of_hat_matrix(degree):
    """At the training inputs the hat matrix H is a projection of rank p+1: mean variance
    sigma^2 tr(H)/n = sigma^2 (p+1)/n, and the mean fit is the projection of f."""
    x = fixed_design(20)
    exact = fixed_design_bias_variance(x, x, sine_target, degree, 0.09)
    assert exact["variance"] == pytest.approx(0.09 * (degree + 1) / 20, rel=1e-8)
    proj = predict_polynomial(fit_polynomial(x, sine_target(x), degree), x)
    assert exact["bias2"] == pytest.approx(float(((proj - sine_target(x)) ** 2).mean()), abs=1e-12)


@pytest.mark.parametrize("design", ["fixed", "random"])
def test_expected_error_on_fresh_noise_matches_the_sum(design):
    """Eq. (1) in sampling: independent fits scored on fresh labels vs bias^2 + var + noise.

    Per model r the grid-averaged squared distance d_r (decomposition set) and squared
    error e_r (independent evaluation set, fresh labels) are i.i.d. over r, the two sets
    independent, so the gap mean(e) - mean(d) - sigma^2 has mean 0 and standard error
    sqrt(s_e^2/R' + s_d^2/R). Degree 3 with n = 20 has light tails (the CLT applies);
    |gap| <= 4 SE fails by chance with probability ~6e-5.
    """
    sigma, grid, r = 0.3, fixed_design(100), 2000
    f = sine_target(grid)
    kw = {"n_train": 20, "noise_std": sigma, "generator": gen(6), "design": design}
    x1, y1 = draw_training_sets(sine_target, n_sets=r, **kw)
    x2, y2 = draw_training_sets(sine_target, n_sets=r, **kw)
    y_test = f + sigma * torch.randn(r, 100, generator=gen(7), dtype=DT)
    pred = polynomial_predictions(x1, y1, grid, 3)
    terms = bias_variance_decomposition(pred, f, sigma**2)
    d = ((pred - f) ** 2).mean(1)
    e = ((y_test - polynomial_predictions(x2, y2, grid, 3)) ** 2).mean(1)
    se = math.sqrt(e.var() / r + d.var() / r)
    assert abs(float(e.mean()) - terms["expected_error"]) <= 4 * se
    # not vacuous: leaving the variance (or the noise) out of the sum would be detected
    assert 4 * se < min(terms["variance"], terms["noise"])


def test_draw_training_sets_shapes_and_designs():
    x, y = draw_training_sets(sine_target, n_sets=3, n_train=7, noise_std=0.0, generator=gen(8))
    assert x.shape == y.shape == (3, 7) and x.dtype == DT
    assert bool(((x >= 0) & (x <= 1)).all())
    torch.testing.assert_close(y, sine_target(x))
    xf, _ = draw_training_sets(
        sine_target, n_sets=3, n_train=4, noise_std=1.0, generator=gen(8), design="fixed"
    )
    torch.testing.assert_close(xf, torch.tensor([[0.125, 0.375, 0.625, 0.875]] * 3, dtype=DT))


def test_bad_arguments():
    with pytest.raises(ValueError, match="degree"):
        polynomial_features(torch.zeros(3), -1)
    with pytest.raises(ValueError, match="same shape"):
        fit_polynomial(torch.zeros(3), torch.zeros(4), 1)
    with pytest.raises(ValueError, match="ridge"):
        fit_polynomial(torch.zeros(3), torch.zeros(3), 1, ridge=-1.0)
    with pytest.raises(ValueError, match="noise_var"):
        bias_variance_decomposition(torch.zeros(2, 3), torch.zeros(3), -0.1)
    with pytest.raises(ValueError, match=r"\(R, N\)"):
        bias_variance_decomposition(torch.zeros(2, 3), torch.zeros(4), 0.1)
    with pytest.raises(ValueError, match="design"):
        draw_training_sets(
            sine_target, n_sets=1, n_train=2, noise_std=0.1, generator=gen(0), design="grid"
        )  # type: ignore[arg-type]


def test_experiment_tiny_is_deterministic(tmp_path):
    from replearn.engine.context import RunContext
    from replearn.experiments.base import get_experiment
    from replearn.report.plots import read_metrics

    exp = get_experiment("bias-variance")
    metrics = []
    for i in range(2):
        ctx = RunContext(out=tmp_path / str(i), seed=2)
        ctx.logger.open()
        metrics.append(exp.run(exp.make_config("tiny"), ctx).metrics)
        ctx.logger.close()
        rows = read_metrics(tmp_path / str(i) / "metrics.jsonl")
        assert [row["degree"] for row in rows] == list(
            range(exp.make_config("tiny").max_degree + 1)
        )
        assert (tmp_path / str(i) / "bias_variance.png").exists()
    assert metrics[0] == metrics[1]
