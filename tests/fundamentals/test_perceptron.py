"""Rosenblatt's perceptron vs scikit-learn's Perceptron, and Novikoff's mistake bound."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.linear_model import Perceptron as SkPerceptron

from replearn.fundamentals.perceptron import (
    Perceptron,
    augment,
    margin,
    novikoff_bound,
    perceptron_predict,
    perceptron_score,
    perceptron_update,
    train_perceptron,
)

DT = torch.float64


def separable(n: int, d: int, gamma: float, seed: int) -> tuple[torch.Tensor, ...]:
    """Gaussian points kept at distance >= gamma from a random hyperplane (w*, b*), |w*| = 1."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(d, generator=g, dtype=DT)
    w = w / torch.linalg.vector_norm(w)
    b = 0.3 * torch.randn((), generator=g, dtype=DT)
    x = torch.randn(20 * n, d, generator=g, dtype=DT)
    x = x[(x @ w + b).abs() >= gamma][:n]
    assert len(x) == n
    y = torch.where(x @ w + b > 0, 1.0, -1.0).to(DT)
    return x, y, w, b


def sklearn_rosenblatt(epochs: int) -> SkPerceptron:
    """The configuration in which sklearn's update is exactly Rosenblatt's.

    sklearn's Perceptron is SGD on the hinge loss with threshold 0: its
    gradient is -y when y * s <= 0, so with a constant rate eta0 = 1, no
    penalty, no shuffling, zero initial weights and the intercept updated like a
    weight of a constant-1 input (intercept_decay is 1 for dense data), each
    step is w += y x, b += y exactly on our mistakes. tol=None runs exactly
    ``epochs`` passes.
    """
    return SkPerceptron(
        eta0=1.0,
        alpha=0.0,
        penalty=None,
        shuffle=False,
        fit_intercept=True,
        tol=None,
        max_iter=epochs,
        early_stopping=False,
    )


def check_same_as_sklearn(x, y, epochs, order=None):
    ours = train_perceptron(x, y, epochs=epochs, order=order)
    idx = torch.arange(len(x)) if order is None else order
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning etc. expected with tol=None
        sk = sklearn_rosenblatt(epochs).fit(x[idx].numpy(), y[idx].numpy())
    np.testing.assert_allclose(ours.w.numpy(), sk.coef_[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.b.item(), sk.intercept_[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(
        perceptron_predict(x, ours.w, ours.b).numpy(), sk.predict(x.numpy())
    )
    return ours


@pytest.mark.parametrize("epochs", [1, 2, 5, 40])
@pytest.mark.parametrize("seed", [0, 1])
def test_same_weights_as_sklearn_separable(epochs, seed):
    x, y, _, _ = separable(60, 5, 0.05, seed)
    check_same_as_sklearn(x, y, epochs)


@pytest.mark.parametrize("epochs", [1, 3, 17])
def test_same_weights_as_sklearn_non_separable(epochs):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(50, 4, generator=g, dtype=DT)
    y = torch.where(torch.rand(50, generator=g) > 0.5, 1.0, -1.0).to(DT)
    res = check_same_as_sklearn(x, y, epochs)
    assert not res.converged and len(res.mistakes_per_epoch) == epochs


def test_same_weights_as_sklearn_in_a_permuted_order_and_on_integer_data():
    g = torch.Generator().manual_seed(4)
    x = torch.randint(-3, 4, (40, 3), generator=g).to(DT)  # ties y*s = 0 happen here
    y = torch.where(x[:, 0] - x[:, 1] + 0.5 > 0, 1.0, -1.0).to(DT)
    order = torch.randperm(40, generator=g)
    for epochs in (1, 4, 30):
        check_same_as_sklearn(x, y, epochs, order=order)


def test_order_changes_the_solution():
    x, y, _, _ = separable(80, 2, 0.02, 5)
    a = train_perceptron(x, y, epochs=1000)
    b = train_perceptron(
        x, y, epochs=1000, order=torch.randperm(80, generator=torch.Generator().manual_seed(0))
    )
    assert a.converged and b.converged
    assert not torch.allclose(a.w / a.w.norm(), b.w / b.w.norm())


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("lr", [1.0, 0.01])
def test_novikoff_mistake_bound(seed, lr):
    """Total updates <= (R / gamma)^2 (Novikoff 1962), in random orders, for any eta > 0."""
    x, y, w_star, b_star = separable(100, 2 + seed % 3, 0.1, seed)
    bound = novikoff_bound(x, y, w_star, b_star)
    assert np.isfinite(bound)
    order = torch.randperm(100, generator=torch.Generator().manual_seed(seed))
    res = train_perceptron(x, y, epochs=10_000, lr=lr, order=order)
    assert res.converged
    assert res.total_mistakes <= bound
    assert bool((perceptron_predict(x, res.w, res.b) == y).all())
    assert margin(x, y, res.w, res.b) > 0


def test_learning_rate_only_scales_the_solution():
    x, y, _, _ = separable(50, 3, 0.05, 7)
    a = train_perceptron(x, y, epochs=100, lr=1.0)
    b = train_perceptron(x, y, epochs=100, lr=0.25)
    assert a.mistakes_per_epoch == b.mistakes_per_epoch
    torch.testing.assert_close(0.25 * a.w, b.w, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(0.25 * a.b, b.b, rtol=1e-12, atol=1e-12)


def test_xor_never_converges():
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=DT)
    y = torch.tensor([-1.0, 1.0, 1.0, -1.0], dtype=DT)
    res = train_perceptron(x, y, epochs=500)
    assert not res.converged and len(res.mistakes_per_epoch) == 500
    assert float((perceptron_predict(x, res.w, res.b) == y).double().mean()) <= 0.75


def test_equations():
    w = torch.tensor([1.0, -2.0], dtype=DT)
    b = torch.tensor(0.5, dtype=DT)
    x = torch.tensor([[1.0, 1.0], [2.0, 1.25], [3.0, 0.0]], dtype=DT)
    torch.testing.assert_close(perceptron_score(x, w, b), torch.tensor([-0.5, 0.0, 3.5], dtype=DT))
    # sign(0) -> -1, as in sklearn's predict
    torch.testing.assert_close(
        perceptron_predict(x, w, b), torch.tensor([-1.0, -1.0, 1.0], dtype=DT)
    )
    w2, b2 = perceptron_update(w, b, x[0], -1.0, lr=0.5)
    torch.testing.assert_close(w2, torch.tensor([0.5, -2.5], dtype=DT))
    torch.testing.assert_close(b2, torch.tensor(0.0, dtype=DT))
    torch.testing.assert_close(augment(x)[:, 2], torch.ones(3, dtype=DT))


def test_margin_and_bound_closed_form():
    x = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=DT)
    y = torch.tensor([1.0, -1.0], dtype=DT)
    w = torch.tensor([1.0, 0.0], dtype=DT)
    # margin over (x, 1) with (w, b) = (1, 0, 0): 1; R = sqrt(2) -> bound 2
    assert float(margin(x, y, w, 0.0)) == pytest.approx(1.0)
    assert novikoff_bound(x, y, w, 0.0) == pytest.approx(2.0)
    assert novikoff_bound(x, -y, w, 0.0) == float("inf")


def test_continue_from_init_equals_one_long_run():
    x, y, _, _ = separable(40, 2, 0.01, 8)
    long = train_perceptron(x, y, epochs=3)
    first = train_perceptron(x, y, epochs=1)
    rest = train_perceptron(x, y, epochs=2, init=(first.w, first.b))
    if long.converged and len(long.mistakes_per_epoch) < 3:
        pytest.skip("converged within one epoch")
    torch.testing.assert_close(rest.w, long.w, rtol=0, atol=0)
    assert first.mistakes_per_epoch + rest.mistakes_per_epoch == long.mistakes_per_epoch


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"epochs": 0}, "epochs"),
        ({"epochs": 1, "lr": 0.0}, "lr"),
        ({"epochs": 1, "order": torch.tensor([0, 0, 1, 2])}, "permutation"),
    ],
)
def test_bad_arguments(kwargs, match):
    x = torch.zeros(4, 2, dtype=DT)
    y = torch.tensor([1.0, -1.0, 1.0, -1.0], dtype=DT)
    with pytest.raises(ValueError, match=match):
        train_perceptron(x, y, **kwargs)


def test_bad_labels_and_shapes():
    x = torch.zeros(3, 2, dtype=DT)
    with pytest.raises(ValueError, match="-1 or \\+1"):
        train_perceptron(x, torch.tensor([0.0, 1.0, 1.0], dtype=DT), epochs=1)
    with pytest.raises(ValueError, match="shape"):
        train_perceptron(x, torch.ones(2, dtype=DT), epochs=1)
    with pytest.raises(ValueError, match="in_features"):
        Perceptron(0)


def test_module_scores_with_trained_weights():
    x, y, _, _ = separable(30, 3, 0.05, 9)
    res = train_perceptron(x, y, epochs=200)
    module = Perceptron(3).double().load_result(res)
    torch.testing.assert_close(module(x), perceptron_score(x, res.w, res.b), rtol=0, atol=0)
    torch.testing.assert_close(module.predict(x), y)
    assert "in_features=3" in repr(module)
    with pytest.raises(ValueError, match="input features"):
        module(torch.zeros(2, 4, dtype=DT))


def test_experiment_tiny_is_deterministic_and_logs(tmp_path):
    from replearn.engine.context import RunContext
    from replearn.experiments.base import get_experiment
    from replearn.report.plots import read_metrics

    exp = get_experiment("perceptron")
    results = []
    for i in range(2):
        ctx = RunContext(out=tmp_path / str(i), seed=3)
        ctx.logger.open()
        results.append(exp.run(exp.make_config("tiny"), ctx).metrics)
        ctx.logger.close()
        assert read_metrics(tmp_path / str(i) / "metrics.jsonl")
        assert (tmp_path / str(i) / "perceptron.png").stat().st_size > 0
    assert results[0] == results[1]
