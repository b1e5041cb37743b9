r"""The bias-variance decomposition of the expected squared error.

Paper: S. Geman, E. Bienenstock & R. Doursat, "Neural networks and the
bias/variance dilemma", *Neural Computation* 4(1), 1992.

Data :math:`y = f(x) + \varepsilon` with :math:`\mathbb{E}\varepsilon = 0,\
\operatorname{Var}\varepsilon = \sigma^2`; an estimator :math:`\hat f_D` is fitted on
a random training set :math:`D`. At a test point :math:`x`, with a fresh
:math:`y` independent of :math:`D`:

.. math::

    \mathbb{E}_{D, \varepsilon}\big[(y - \hat f_D(x))^2\big]
      = \underbrace{(\mathbb{E}_D \hat f_D(x) - f(x))^2}_{\text{bias}^2}
      + \underbrace{\mathbb{E}_D (\hat f_D(x) - \mathbb{E}_D \hat f_D(x))^2}_{\text{variance}}
      + \underbrace{\sigma^2}_{\text{noise}}                              \qquad (1)

Here the expectations over :math:`D` are replaced by averages over :math:`R`
training sets drawn independently from the same distribution, and every term
is averaged over a fixed grid of test points :math:`x_1, \dots, x_N`:

.. math::

    \bar f(x_j) = \tfrac1R \textstyle\sum_r \hat f_r(x_j), \quad
    \text{bias}^2 = \tfrac1N \sum_j (\bar f(x_j) - f(x_j))^2            \qquad (2)

    \text{variance} = \tfrac1N \textstyle\sum_j \tfrac1R \sum_r (\hat f_r(x_j) - \bar f(x_j))^2
                                                                         \qquad (3)

With these empirical averages (variance with divisor :math:`R`),
:math:`\tfrac{1}{RN}\sum_{r,j} (\hat f_r(x_j) - f(x_j))^2 = \text{bias}^2 + \text{variance}`
holds exactly (the cross term vanishes), which the tests check to 1e-12. The
plug-in bias² (2) overestimates the true one by :math:`\text{variance}/R` on
average (the mean of R fits is itself noisy); this is visible only where the
true bias² is below that, e.g. high-degree fits of a smooth target.

The estimators are polynomials of degree :math:`p` fitted by (ridge) least
squares on the features :math:`\phi(x) = (1, x, \dots, x^p)`:

.. math::

    \hat c = \arg\min_c \lVert \Phi c - y \rVert^2 + \lambda \lVert c \rVert^2   \qquad (4)

Deviations: none in the decomposition. The ridge penalty (if any) applies to
every coefficient, the intercept included. Without ridge, the columns of
:math:`\Phi` are scaled to unit norm before the least-squares solve (as
``numpy.polyfit`` does), which leaves the solution unchanged and improves the
conditioning of the Vandermonde matrix.

Tests check :func:`fit_polynomial` against ``numpy.polyfit`` (rtol 1e-6), the
decomposition against closed forms (the mean estimator of degree 0, whose
variance is :math:`\sigma^2/n` for a fixed design and :math:`(\operatorname{Var} f(X) +
\sigma^2)/n` for a random one; the fixed-design least-squares bias and
variance :math:`\sigma^2 \phi(x)^\top (\Phi^\top\Phi)^{-1} \phi(x)`), and Eq. (1)
against the squared error on fresh test noise within its sampling error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

__all__ = [
    "bias_variance_decomposition",
    "draw_training_sets",
    "fit_polynomial",
    "fixed_design",
    "fixed_design_bias_variance",
    "polynomial_features",
    "polynomial_predictions",
    "predict_polynomial",
    "resampled_polynomial_predictions",
    "sine_target",
    "squared_bias",
    "variance",
]


def sine_target(x: Tensor) -> Tensor:
    r"""The classic regression target :math:`f(x) = \sin(2\pi x)` (Bishop, PRML, sec. 1.1).

    Shape:
        x: (*) -> (*).
    """
    return torch.sin(2 * math.pi * x)


def squared_bias(predictions: Tensor, f_true: Tensor) -> Tensor:
    r"""Eq. (2): :math:`\tfrac1N \sum_j (\bar f(x_j) - f(x_j))^2`.

    Shape:
        predictions: (R, N); f_true: (N,) -> ().
    """
    mean_prediction = predictions.mean(dim=0)  # (N,)
    return ((mean_prediction - f_true) ** 2).mean()


def variance(predictions: Tensor) -> Tensor:
    r"""Eq. (3): :math:`\tfrac1N \sum_j \tfrac1R \sum_r (\hat f_r(x_j) - \bar f(x_j))^2`.

    Shape:
        predictions: (R, N) -> ().
    """
    return predictions.var(dim=0, correction=0).mean()


def bias_variance_decomposition(
    predictions: Tensor, f_true: Tensor, noise_var: float
) -> dict[str, float]:
    r"""Eq. (1): the three terms of the expected squared error and their sum.

    Args:
        predictions: :math:`\hat f_r(x_j)` of R models, each fitted on its own
            training set, at N test points.
        f_true: the noiseless target :math:`f(x_j)` at the test points.
        noise_var: :math:`\sigma^2`, the variance of the label noise.

    Returns:
        ``{"bias2", "variance", "noise", "expected_error"}`` as floats, with
        ``expected_error = bias2 + variance + noise``.

    Shape:
        predictions: (R, N); f_true: (N,).
    """
    if predictions.ndim != 2 or f_true.shape != predictions.shape[1:]:
        raise ValueError(
            f"predictions must be (R, N) and f_true (N,), got {tuple(predictions.shape)} "
            f"and {tuple(f_true.shape)}"
        )
    if noise_var < 0:
        raise ValueError(f"noise_var must be >= 0, got {noise_var}")
    bias2 = float(squared_bias(predictions, f_true))
    var = float(variance(predictions))
    return {
        "bias2": bias2,
        "variance": var,
        "noise": float(noise_var),
        "expected_error": bias2 + var + float(noise_var),
    }


def polynomial_features(x: Tensor, degree: int) -> Tensor:
    r"""The Vandermonde features :math:`\phi(x) = (1, x, x^2, \dots, x^p)`.

    Shape:
        x: (*, n) -> (*, n, degree + 1), increasing powers.
    """
    if degree < 0:
        raise ValueError(f"degree must be >= 0, got {degree}")
    powers = torch.arange(degree + 1, device=x.device)  # (p + 1,)
    return x.unsqueeze(-1) ** powers


def fit_polynomial(x: Tensor, y: Tensor, degree: int, ridge: float = 0.0) -> Tensor:
    r"""Eq. (4): least-squares (or ridge) polynomial coefficients, increasing powers.

    Batched: every leading index is an independent training set.

    Args:
        x: inputs.
        y: targets.
        degree: polynomial degree p >= 0.
        ridge: :math:`\lambda \ge 0`; 0 gives ordinary least squares (SVD-based,
            minimum-norm if the design is rank deficient).

    Returns:
        The coefficients :math:`c_0, \dots, c_p` (note: ``numpy.polyfit``
        returns them in decreasing order).

    Shape:
        x: (*, n); y: (*, n) -> (*, degree + 1).
    """
    if x.shape != y.shape:
        raise ValueError(
            f"x and y must have the same shape, got {tuple(x.shape)}, {tuple(y.shape)}"
        )
    if ridge < 0:
        raise ValueError(f"ridge must be >= 0, got {ridge}")
    phi = polynomial_features(x, degree)  # (*, n, p + 1)
    if ridge > 0:
        gram = phi.mT @ phi + ridge * torch.eye(degree + 1, dtype=phi.dtype, device=phi.device)
        return torch.linalg.solve(gram, (phi.mT @ y.unsqueeze(-1))).squeeze(-1)  # (*, p + 1)
    scale = torch.linalg.vector_norm(phi, dim=-2, keepdim=True).clamp_min(1e-300)  # (*, 1, p + 1)
    driver = "gelsd" if phi.device.type == "cpu" else None
    coef = torch.linalg.lstsq(phi / scale, y.unsqueeze(-1), driver=driver).solution  # (*, p+1, 1)
    return coef.squeeze(-1) / scale.squeeze(-2)


def predict_polynomial(coef: Tensor, x: Tensor) -> Tensor:
    r"""Evaluate :math:`\sum_k c_k x^k`.

    Shape:
        coef: (*, p + 1); x: (N,) or (*, N) -> (*, N).
    """
    phi = polynomial_features(x, coef.shape[-1] - 1)  # (*, N, p + 1)
    return (phi @ coef.unsqueeze(-1)).squeeze(-1)


def fixed_design(n: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """The midpoints of ``n`` equal cells of [0, 1]: ``(i + 0.5) / n``.

    Shape:
        -> (n,).
    """
    return (torch.arange(n, dtype=dtype) + 0.5) / n


def draw_training_sets(
    target: Callable[[Tensor], Tensor],
    *,
    n_sets: int,
    n_train: int,
    noise_std: float,
    generator: torch.Generator,
    dtype: torch.dtype = torch.float64,
    design: Literal["random", "fixed"] = "random",
) -> tuple[Tensor, Tensor]:
    r"""R independent training sets with labels :math:`y = f(x) + \sigma \varepsilon`.

    Args:
        target: the noiseless function :math:`f`.
        n_sets: R.
        n_train: points per set.
        noise_std: :math:`\sigma`.
        generator: the source of randomness.
        dtype: floating dtype of the tensors.
        design: ``"random"``: every set draws its own :math:`x \sim U[0, 1]`;
            ``"fixed"``: every set has the same inputs :func:`fixed_design` and
            only the noise is redrawn (the fixed-design setting, where the
            least-squares fit is Gaussian and :func:`fixed_design_bias_variance`
            gives bias and variance in closed form).

    Shape:
        -> x: (n_sets, n_train), y: (n_sets, n_train).
    """
    if n_sets < 1 or n_train < 1:
        raise ValueError(f"n_sets and n_train must be >= 1, got {n_sets}, {n_train}")
    if design == "random":
        x = torch.rand(n_sets, n_train, generator=generator, dtype=dtype)
    elif design == "fixed":
        x = fixed_design(n_train, dtype).expand(n_sets, n_train)
    else:
        raise ValueError(f"design must be 'random' or 'fixed', got {design!r}")
    noise = torch.randn(n_sets, n_train, generator=generator, dtype=dtype)
    return x, target(x) + noise_std * noise


def polynomial_predictions(
    x_train: Tensor, y_train: Tensor, x_test: Tensor, degree: int, ridge: float = 0.0
) -> Tensor:
    """Fit one polynomial per training set and evaluate each on the test grid.

    Shape:
        x_train, y_train: (R, n); x_test: (N,) -> (R, N).
    """
    return predict_polynomial(fit_polynomial(x_train, y_train, degree, ridge), x_test)


def fixed_design_bias_variance(
    x_train: Tensor,
    x_test: Tensor,
    target: Callable[[Tensor], Tensor],
    degree: int,
    noise_var: float,
) -> dict[str, float]:
    r"""Exact bias² and variance of least squares (ridge 0) on a fixed design.

    The fit is linear in the labels, :math:`\hat f(x_{test}) = S y` with the
    smoother :math:`S = \Phi_{test} \Phi_{train}^{+}`, so
    :math:`\mathbb{E}\hat f = S f(x_{train})` and
    :math:`\operatorname{Var}\hat f(x_j) = \sigma^2 \lVert S_{j,:} \rVert^2`
    (:math:`= \sigma^2 \phi(x_j)^\top (\Phi^\top\Phi)^{-1} \phi(x_j)`),
    averaged over the test grid as in Eqs. (2)-(3).

    Shape:
        x_train: (n,); x_test: (N,) -> floats.
    """
    n = x_train.shape[0]
    eye = torch.eye(n, dtype=x_train.dtype, device=x_train.device)  # (n, n): one label per row
    # the fit is linear in y: fitting the n unit label vectors gives the columns of S
    smoother = predict_polynomial(fit_polynomial(x_train.expand(n, n), eye, degree), x_test).T
    mean_fit = smoother @ target(x_train)  # (N,)
    return {
        "bias2": float(((mean_fit - target(x_test)) ** 2).mean()),
        "variance": float(noise_var * (smoother**2).sum(dim=1).mean()),
    }


def resampled_polynomial_predictions(
    target: Callable[[Tensor], Tensor],
    x_test: Tensor,
    *,
    degree: int,
    n_sets: int,
    n_train: int,
    noise_std: float,
    generator: torch.Generator,
    ridge: float = 0.0,
    design: Literal["random", "fixed"] = "random",
) -> Tensor:
    """Draw ``n_sets`` training sets from ``target`` and return each fitted model's predictions.

    The input to :func:`bias_variance_decomposition`.

    Shape:
        x_test: (N,) -> (n_sets, N).
    """
    x, y = draw_training_sets(
        target,
        n_sets=n_sets,
        n_train=n_train,
        noise_std=noise_std,
        generator=generator,
        dtype=x_test.dtype,
        design=design,
    )
    return polynomial_predictions(x, y, x_test, degree, ridge)
