"""MLP vs an nn.Sequential of nn.Linear with copied weights, and the parameter-count formula."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from replearn.fundamentals.mlp import MLP, linear_param_count, mlp_param_count

TORCH_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}


def reference(model: MLP) -> nn.Sequential:
    """The same network written as torch.nn layers, with the weights copied."""
    layers: list[nn.Module] = [nn.Flatten()] if model.flatten else []
    for i, lin in enumerate(model.layers):
        ref = nn.Linear(lin.in_features, lin.out_features, bias=lin.bias is not None)
        ref.load_state_dict(lin.state_dict())
        layers.append(ref)
        if i < len(model.layers) - 1:
            layers.append(TORCH_ACTIVATIONS[model.activation]())
            layers.append(nn.Dropout(model.dropout))
    return nn.Sequential(*layers).to(torch.float64)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "gelu"])
@pytest.mark.parametrize("hidden", [(), (7,), (16, 8, 5)])
def test_matches_sequential_of_linear(activation, hidden):
    torch.manual_seed(0)
    model = MLP(12, hidden, 3, activation=activation, dropout=0.3).double().eval()
    ref = reference(model).eval()
    x = torch.randn(6, 3, 4, dtype=torch.float64)  # flattened to 12 features
    torch.testing.assert_close(model(x), ref(x), rtol=0, atol=1e-6)
    assert model(x).shape == (6, 3)


def test_gradients_match_reference():
    torch.manual_seed(1)
    model = MLP(5, (9, 4), 2, activation="tanh").double()
    ref = reference(model)
    x = torch.randn(8, 5, dtype=torch.float64)
    model(x).square().sum().backward()
    ref(x).square().sum().backward()
    ref_linears = [m for m in ref if isinstance(m, nn.Linear)]
    for ours, theirs in zip(model.layers, ref_linears, strict=True):
        torch.testing.assert_close(ours.weight.grad, theirs.weight.grad, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(ours.bias.grad, theirs.bias.grad, rtol=1e-10, atol=1e-12)


def test_no_flatten_acts_on_last_dimension():
    torch.manual_seed(2)
    model = MLP(4, (6,), 3, flatten=False).double()
    ref = reference(model)
    x = torch.randn(2, 5, 4, dtype=torch.float64)
    out = model(x)
    assert out.shape == (2, 5, 3)
    torch.testing.assert_close(out, ref(x), rtol=0, atol=1e-6)


def test_dropout_only_in_training_mode():
    torch.manual_seed(3)
    model = MLP(10, (200,), 1, dropout=0.5)
    x = torch.randn(4, 10)
    model.eval()
    torch.testing.assert_close(model(x), model(x))
    model.train()
    torch.manual_seed(0)
    a = model(x)
    torch.manual_seed(1)
    b = model(x)
    assert not torch.allclose(a, b)


@pytest.mark.parametrize(
    "n_in, hidden, n_out",
    [(1, (), 1), (784, (256, 128), 10), (12, (16, 8), 3), (3, (1, 1, 1), 2)],
)
@pytest.mark.parametrize("bias", [True, False])
def test_param_count(n_in, hidden, n_out, bias):
    model = MLP(n_in, hidden, n_out, bias=bias)
    assert mlp_param_count(n_in, hidden, n_out, bias=bias) == sum(
        p.numel() for p in model.parameters()
    )


def test_linear_param_count_closed_form():
    assert linear_param_count(784, 256) == 784 * 256 + 256 == 200_960
    assert linear_param_count(784, 256, bias=False) == 200_704
    assert linear_param_count(3, 4) == sum(p.numel() for p in nn.Linear(3, 4).parameters())
    assert mlp_param_count(784, (256, 128), 10) == 200_960 + 32_896 + 1_290


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((0, (4,), 2), {}, "in_features"),
        ((3, (4,), 0), {}, "out_features"),
        ((3, (4, 0), 2), {}, "hidden"),
        ((3, (4.5,), 2), {}, "hidden"),
        ((3, (4,), 2), {"activation": "swish"}, "activation"),
        ((3, (4,), 2), {"dropout": 1.0}, "dropout"),
        ((3, (4,), 2), {"dropout": -0.1}, "dropout"),
    ],
)
def test_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        MLP(*args, **kwargs)


def test_wrong_input_size_is_a_clear_error():
    with pytest.raises(ValueError, match="expected 12 input features"):
        MLP(12, (4,), 2)(torch.zeros(2, 13))


def test_repr_names_the_hyperparameters():
    text = repr(MLP(2, (4,), 1, activation="tanh"))
    assert "hidden=(4,)" in text and "activation='tanh'" in text


def test_xor_experiment_tiny_is_deterministic(tmp_path):
    from replearn.engine.context import RunContext
    from replearn.experiments.base import get_experiment
    from replearn.report.plots import read_metrics

    exp = get_experiment("mlp-xor")
    runs = []
    for i in range(2):
        ctx = RunContext(out=tmp_path / str(i), seed=1)
        ctx.logger.open()
        result = exp.run(exp.make_config("tiny"), ctx)
        ctx.logger.close()
        runs.append((result.metrics, result.model.state_dict()))
        assert read_metrics(tmp_path / str(i) / "metrics.jsonl")
        assert all(p.exists() for p in result.plots)
    assert runs[0][0] == runs[1][0]
    for k, v in runs[0][1].items():
        torch.testing.assert_close(v, runs[1][1][k], rtol=0, atol=0)
