"""The SVM baseline: margin conditions, the primal objective, scikit-learn's SVC."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from sklearn.svm import SVC

from replearn.fundamentals.svm import SVMClassifier, hinge_loss, svm_primal_objective

D = torch.float64


def _states(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=n)), dtype=D)


def _tiny_rbm(seed: int = 0, n_v: int = 4, n_h: int = 3):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(n_h, n_v, generator=g, dtype=D)
    b = torch.randn(n_v, generator=g, dtype=D)
    c = torch.randn(n_h, generator=g, dtype=D)
    return w, b, c


def _separable(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(-2, 0.6, (30, 2)), rng.normal(2, 0.6, (30, 2))])
    y = np.array([0] * 30 + [1] * 30)
    return x, y


def test_linear_svm_satisfies_the_margin_conditions():
    x, y = _separable()
    svm = SVMClassifier(c=1e4, kernel="linear").fit(torch.tensor(x), torch.tensor(y))
    w = torch.tensor(svm.svc.coef_[0])
    b = torch.tensor(svm.svc.intercept_[0])
    xt, ys = torch.tensor(x), torch.tensor(2.0 * y - 1.0)
    f = svm.decision_function(xt)
    torch.testing.assert_close(f, xt @ w + b, rtol=1e-10, atol=1e-10)
    margins = ys * f
    assert float(margins.min()) >= 1 - 1e-3
    sv = torch.tensor(svm.svc.support_)
    torch.testing.assert_close(margins[sv], torch.ones(len(sv), dtype=D), atol=1e-3, rtol=0)
    obj = svm_primal_objective(xt, ys, w, b, c=1e4)
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        dw = 1e-2 * torch.randn(2, generator=g, dtype=D)
        assert svm_primal_objective(xt, ys, w + dw, b, c=1e4) >= obj - 1e-9
    assert float(hinge_loss(f, ys).sum()) < 1e-2


def test_wrapper_predicts_as_sklearn_on_digits_features():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(80, 5))
    y = (x[:, 0] + x[:, 1] ** 2 > 0.5).astype(int) + (x[:, 2] > 1).astype(int)
    ours = SVMClassifier(c=3.0).fit(x.reshape(80, 1, 5), y)
    ref = SVC(C=3.0, kernel="rbf", gamma="scale").fit(x, y)
    np.testing.assert_array_equal(ours.predict(torch.tensor(x)).numpy(), ref.predict(x))
    assert ours.score(x, y) == pytest.approx(ref.score(x, y))
    assert ours.n_support == int(ref.n_support_.sum())
    with pytest.raises(ValueError, match="c must be"):
        SVMClassifier(c=0)
    with pytest.raises(ValueError, match="kernel"):
        SVMClassifier(kernel="sigmoidal")
