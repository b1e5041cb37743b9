"""μ-law companding and quantisation vs the closed forms, round trips and error bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from replearn.cnn.mulaw import (
    dequantize,
    mu_law_compress,
    mu_law_decode,
    mu_law_encode,
    mu_law_expand,
    quantize,
)

X = torch.linspace(-1.0, 1.0, 2001, dtype=torch.float64)


@pytest.mark.parametrize("mu", [255.0, 15.0, 1.0])
def test_compress_and_expand_match_the_closed_form(mu):
    x = X.numpy()
    f = np.sign(x) * np.log(1.0 + mu * np.abs(x)) / np.log(1.0 + mu)
    np.testing.assert_allclose(mu_law_compress(X, mu).numpy(), f, rtol=0, atol=1e-12)
    inv = np.sign(x) * ((1.0 + mu) ** np.abs(x) - 1.0) / mu
    np.testing.assert_allclose(mu_law_expand(X, mu).numpy(), inv, rtol=0, atol=1e-12)
    torch.testing.assert_close(mu_law_expand(mu_law_compress(X, mu), mu), X, rtol=0, atol=1e-12)


def test_compression_is_odd_monotone_and_fixes_endpoints():
    y = mu_law_compress(X)
    assert torch.all(y[1:] > y[:-1])
    torch.testing.assert_close(y, -mu_law_compress(-X), rtol=0, atol=0)
    assert y[0] == -1.0 and y[-1] == 1.0 and mu_law_compress(torch.zeros(1)).item() == 0.0
    # Small signals are stretched: the slope at 0 is mu / ln(1 + mu) ~ 46 for mu = 255.
    small = torch.tensor([1e-6], dtype=torch.float64)
    assert mu_law_compress(small).item() == pytest.approx(255 / math.log(256) * 1e-6, rel=1e-3)


def test_quantize_matches_the_rounding_formula():
    y = X.numpy()
    expected = np.floor((y + 1.0) / 2.0 * 255 + 0.5).astype(np.int64)
    q = quantize(X, 256)
    assert q.dtype == torch.int64
    np.testing.assert_array_equal(q.numpy(), expected)
    assert q.min().item() == 0 and q.max().item() == 255


@pytest.mark.parametrize("levels", [256, 16, 2])
def test_every_level_round_trips(levels):
    q = torch.arange(levels)
    torch.testing.assert_close(quantize(dequantize(q, levels), levels), q, rtol=0, atol=0)
    torch.testing.assert_close(
        mu_law_encode(mu_law_decode(q, levels, torch.float64), levels), q, rtol=0, atol=0
    )


@pytest.mark.parametrize("levels", [256, 64])
def test_round_trip_error_bounds(levels):
    mu = levels - 1
    y = mu_law_compress(X, float(mu))
    y_hat = dequantize(mu_law_encode(X, levels), levels, torch.float64)
    # Companded domain: at most half a level (1 / mu), up to rounding of the arithmetic.
    assert (y_hat - y).abs().max().item() <= 1.0 / mu + 1e-12
    # Signal domain: the decoded value lies between the expansions of f(x) -+ 1/mu.
    x_hat = mu_law_decode(mu_law_encode(X, levels), levels, torch.float64)
    lo = mu_law_expand(y - 1.0 / mu, float(mu)) - 1e-12
    hi = mu_law_expand(y + 1.0 / mu, float(mu)) + 1e-12
    assert torch.all((lo <= x_hat) & (x_hat <= hi))
    # Hence fine near zero, coarse near +-1.
    err = (x_hat - X).abs()
    quiet = X.abs() < 0.01
    assert err[quiet].max() < err[~quiet].max() / 10
    bound = math.log1p(mu) * (1 + mu) / mu**2  # the slope of f^-1 at |y| = 1 times 1 / mu
    assert err.max().item() <= bound


def test_encode_clamps_out_of_range_values():
    q = mu_law_encode(torch.tensor([-3.0, 3.0]))
    assert q.tolist() == [0, 255]


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="levels"):
        quantize(X, 1)
    with pytest.raises(ValueError, match="mu"):
        mu_law_compress(X, 0.0)
