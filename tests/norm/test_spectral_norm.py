"""spectral_norm vs torch.nn.utils.parametrizations.spectral_norm with the same u, v (float64)."""

from __future__ import annotations

import copy
import inspect

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrizations

from replearn.norm.spectral_norm import (
    normalize,
    power_iteration,
    spectral_norm,
    spectral_sigma,
    weight_to_matrix,
)

TOL = {"rtol": 1e-10, "atol": 1e-12}
PAIRS = [(spectral_norm, parametrizations.spectral_norm)]
MODULES = {
    "linear": (lambda: nn.Linear(6, 4), (3, 6)),
    "conv2d": (lambda: nn.Conv2d(3, 5, 3), (2, 3, 6, 6)),
    "conv_transpose": (lambda: nn.ConvTranspose2d(3, 2, 3), (2, 3, 4, 4)),
}


def both(kind: str, seed: int = 0, **kw):
    """Torch's and our parametrization of the same module, each built after the same seed."""
    make, shape = MODULES[kind]
    torch.manual_seed(seed)
    base = make().double()
    torch.manual_seed(seed + 1)
    ref = parametrizations.spectral_norm(copy.deepcopy(base), **kw)
    torch.manual_seed(seed + 1)
    ours = spectral_norm(copy.deepcopy(base), **kw)
    return ours, ref, shape


@pytest.mark.parametrize("n_iter", [1, 3])
@pytest.mark.parametrize("kind", sorted(MODULES))
def test_training_matches_torch_with_the_same_init(kind, n_iter):
    ours, ref, shape = both(kind, n_power_iterations=n_iter)
    assert list(ours.state_dict()) == list(ref.state_dict())
    for key, value in ref.state_dict().items():  # same u, v draws and 15 warm-up iterations
        torch.testing.assert_close(ours.state_dict()[key], value, **TOL)
    opts = [torch.optim.SGD(m.parameters(), lr=0.1) for m in (ours, ref)]
    for step in range(4):
        x = torch.randn(shape, dtype=torch.float64) + step
        y, y_ref = ours(x), ref(x)
        torch.testing.assert_close(y, y_ref, **TOL)
        for out, opt in zip((y, y_ref), opts, strict=True):
            opt.zero_grad()
            out.square().mean().backward()
        for p, p_ref in zip(ours.parameters(), ref.parameters(), strict=True):
            torch.testing.assert_close(p.grad, p_ref.grad, **TOL)
        for opt in opts:
            opt.step()
    for key, value in ref.state_dict().items():  # u, v after the training steps
        torch.testing.assert_close(ours.state_dict()[key], value, **TOL)
    ours.eval()
    ref.eval()
    u = ours.parametrizations.weight[0]._u.clone()
    x = torch.randn(shape, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), **TOL)
    assert torch.equal(ours.parametrizations.weight[0]._u, u)  # no iteration in eval mode


@pytest.mark.parametrize("kind", sorted(MODULES))
def test_largest_singular_value_is_one_after_enough_iterations(kind):
    ours, _, _ = both(kind, seed=3, n_power_iterations=200)
    dim = ours.parametrizations.weight[0].dim
    w_sn = ours.weight  # training mode: 200 more iterations on top of the 15
    sigma = torch.linalg.matrix_norm(weight_to_matrix(w_sn.detach(), dim), ord=2)
    torch.testing.assert_close(sigma, torch.tensor(1.0).double(), rtol=1e-8, atol=0)
    w = ours.parametrizations.weight.original.detach()
    exact = torch.linalg.matrix_norm(weight_to_matrix(w, dim), ord=2)
    p = ours.parametrizations.weight[0]
    torch.testing.assert_close(spectral_sigma(weight_to_matrix(w, dim), p._u, p._v), exact, **TOL)


def test_power_iteration_finds_the_top_singular_vectors():
    torch.manual_seed(4)
    a = torch.randn(7, 5, dtype=torch.float64)
    u0 = normalize(torch.randn(7, dtype=torch.float64), 1e-12)
    v0 = normalize(torch.randn(5, dtype=torch.float64), 1e-12)
    u, v = power_iteration(a, u0, v0, 500, 1e-12)
    left, s, right_h = torch.linalg.svd(a)
    torch.testing.assert_close(spectral_sigma(a, u, v), s[0], **TOL)
    torch.testing.assert_close((u @ left[:, 0]).abs(), torch.tensor(1.0).double(), **TOL)
    torch.testing.assert_close((v @ right_h[0]).abs(), torch.tensor(1.0).double(), **TOL)


def test_a_vector_weight_is_divided_by_its_norm():
    torch.manual_seed(5)
    mod = nn.Module()
    mod.weight = nn.Parameter(torch.randn(6, dtype=torch.float64) * 3)
    ref = parametrizations.spectral_norm(copy.deepcopy(mod))
    ours = spectral_norm(copy.deepcopy(mod))
    torch.testing.assert_close(ours.weight, ref.weight, **TOL)
    torch.testing.assert_close(ours.weight.norm(), torch.tensor(1.0).double(), **TOL)


def test_state_dict_round_trips_with_torch():
    ours, ref, shape = both("conv2d", seed=6)
    ref(torch.randn(shape, dtype=torch.float64))  # one step moves torch's u, v
    ours.load_state_dict(ref.state_dict())
    ours.eval()
    ref.eval()
    x = torch.randn(shape, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), **TOL)
    back = parametrizations.spectral_norm(MODULES["conv2d"][0]().double()).eval()
    back.load_state_dict(ours.state_dict())
    torch.testing.assert_close(back(x), ours(x), **TOL)


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match="no parameter"):
        spectral_norm(nn.Linear(3, 2), name="kernel")
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="n_power_iterations"):
            spectral_norm(nn.Linear(3, 2), n_power_iterations=bad)
    with pytest.raises(ValueError, match="dim"):
        spectral_norm(nn.Linear(3, 2), dim=2)
    with pytest.raises(ValueError, match="eps"):
        spectral_norm(nn.Linear(3, 2), eps=-1.0)


def signature(cls) -> list[tuple[str, object]]:
    """Constructor arguments and defaults (without our keyword-only ``fast``)."""
    params = inspect.signature(cls).parameters.items()
    return [(k, p.default) for k, p in params if k != "fast"]


def test_constructor_signature_matches_torch():
    for ours, theirs in PAIRS:
        assert signature(ours) == signature(theirs)
