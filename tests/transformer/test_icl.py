"""In-context regression: baselines against numpy / scikit-learn, layout, causality."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.neighbors import KNeighborsRegressor

from replearn.transformer.icl import (
    InContextRegressor,
    averaging_prediction,
    interleave,
    knn_prediction,
    least_squares_prediction,
    linear_regression_prompts,
)

F64 = torch.float64


def _prompts(batch: int, k: int, d: int, seed: int = 0):
    xs, ys, w = linear_regression_prompts(
        batch, k, d, generator=torch.Generator().manual_seed(seed)
    )
    return xs.double(), ys.double(), w.double()


def test_prompts_are_linear_functions():
    xs, ys, w = _prompts(5, 7, 3)
    assert xs.shape == (5, 8, 3) and ys.shape == (5, 8) and w.shape == (5, 3)
    torch.testing.assert_close(ys, torch.einsum("bnd,bd->bn", xs, w))
    with pytest.raises(ValueError):
        linear_regression_prompts(0, 3, 2)


@pytest.mark.parametrize("k", [2, 3, 8])  # under-, exactly and over-determined for d = 3
def test_least_squares_equals_numpy_lstsq(k):
    xs, ys, _ = _prompts(4, k, 3, seed=k)
    ys = ys + 0.1 * torch.randn(ys.shape, dtype=F64, generator=torch.Generator().manual_seed(1))
    got = least_squares_prediction(xs[:, :k], ys[:, :k], xs[:, k])
    for b in range(4):
        w = np.linalg.lstsq(xs[b, :k].numpy(), ys[b, :k].numpy(), rcond=None)[0]  # min-norm
        np.testing.assert_allclose(got[b].item(), xs[b, k].numpy() @ w, rtol=1e-9, atol=1e-9)


def test_least_squares_is_exact_from_d_noiseless_examples():
    xs, ys, _ = _prompts(6, 4, 4)
    got = least_squares_prediction(xs[:, :4], ys[:, :4], xs[:, 4])
    torch.testing.assert_close(got, ys[:, 4], rtol=1e-5, atol=1e-5)  # ys were made in float32


def test_knn_equals_sklearn():
    xs, ys, _ = _prompts(5, 9, 2, seed=3)
    got = knn_prediction(xs[:, :9], ys[:, :9], xs[:, 9], m=3)
    for b in range(5):
        ref = KNeighborsRegressor(n_neighbors=3).fit(xs[b, :9].numpy(), ys[b, :9].numpy())
        np.testing.assert_allclose(got[b].item(), ref.predict(xs[b, 9:10].numpy())[0], rtol=1e-12)


def test_averaging_equals_loop():
    xs, ys, _ = _prompts(3, 5, 4, seed=2)
    got = averaging_prediction(xs[:, :5], ys[:, :5], xs[:, 5])
    for b in range(3):
        w = sum(ys[b, i] * xs[b, i] for i in range(5)) / 5
        torch.testing.assert_close(got[b], w @ xs[b, 5])


def test_interleave_layout():
    xs, ys, _ = _prompts(2, 2, 3)
    tok = interleave(xs, ys)
    assert tok.shape == (2, 6, 4)
    for i in range(3):
        torch.testing.assert_close(tok[:, 2 * i, :3], xs[:, i])
        assert (tok[:, 2 * i, 3] == 0).all() and (tok[:, 2 * i + 1, :3] == 0).all()
        torch.testing.assert_close(tok[:, 2 * i + 1, 3], ys[:, i])


def test_model_is_causal_and_reads_its_own_label_never():
    torch.manual_seed(0)
    model = InContextRegressor(d=3, n_points=5, n_layer=2, n_head=2, n_embd=16).double()
    xs, ys, _ = _prompts(1, 4, 3)
    xs.requires_grad_(True)
    ys.requires_grad_(True)
    pred = model(xs, ys)
    assert pred.shape == (1, 5)
    for i in range(5):
        gx, gy = torch.autograd.grad(pred[0, i], (xs, ys), retain_graph=True)
        assert gx[0, i + 1 :].abs().max() == 0 if i < 4 else True
        assert gy[0, i:].abs().max() == 0  # y_i itself is never seen at x_i
        if i > 0:
            assert gy[0, :i].abs().max() > 0  # earlier labels are read
    with pytest.raises(ValueError):
        model(xs[:, :, :2], ys)
    xs6, ys6, _ = _prompts(1, 5, 3)
    with pytest.raises(ValueError):
        model(xs6, ys6)
