"""Pieces of the norm-landscape and norm-invariances experiments, against closed forms."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from replearn.experiments.norm.invariance_probes import (
    PixelRNN,
    contrast_change,
    layer_norms,
    make_cnn,
    max_jacobian_norm,
    wine_split,
)
from replearn.experiments.norm.norm_landscape import make_mlp, smoothness_probe


def test_instance_norm_cnn_is_invariant_to_contrast_and_brightness():
    torch.manual_seed(0)
    net = make_cnn("instance", (4, 6)).double().eval()
    x = torch.rand(5, 1, 8, 8, dtype=torch.float64)
    changed = contrast_change(x.float(), 0.5, 2.0, 0.5, seed=3).double()
    assert not torch.allclose(changed, x)
    # eps = 1e-5 inside the variance is the only difference
    torch.testing.assert_close(net(changed), net(x), rtol=1e-3, atol=1e-3)
    bn = make_cnn("batch", (4, 6)).double().eval()
    with torch.no_grad():
        for mod in bn.modules():
            if hasattr(mod, "running_var"):
                mod.running_var.fill_(0.5)  # any fixed statistics: no invariance
    assert (bn(changed) - bn(x)).abs().max() > 1e-2


def test_jacobian_norm_of_a_linear_map_is_its_spectral_norm():
    lin = nn.Linear(6, 3).double()
    x = torch.randn(4, 6, dtype=torch.float64)
    sigma = float(torch.linalg.matrix_norm(lin.weight.detach(), 2))
    assert max_jacobian_norm(lin, x) == pytest.approx(sigma, rel=1e-12)
    other = nn.Linear(3, 2).double()
    expected = [sigma, float(torch.linalg.matrix_norm(other.weight.detach(), 2))]
    assert layer_norms(nn.Sequential(lin, nn.ReLU(), other)) == pytest.approx(expected)


def test_smoothness_probe_on_a_linear_model():
    # a softmax regression: beta and the gradient change are finite and positive;
    # the model is left unchanged.
    torch.manual_seed(0)
    model = nn.Linear(64, 10)
    x, y = torch.randn(32, 64), torch.randint(0, 10, (32,))
    before = [p.detach().clone() for p in model.parameters()]
    row = smoothness_probe(model, x, y, 0.1, (0.5, 1.0))
    assert row["beta"] > 0 and row["pred"] > 0 and row["loss_range"] >= 0
    for p, q in zip(model.parameters(), before, strict=True):
        assert torch.equal(p.detach(), q)


@pytest.mark.parametrize("norm", ["none", "bn", "bn_after", "weight"])
def test_mlp_variants(norm):
    torch.manual_seed(0)
    net = make_mlp(16, norm, init_scale=3.0)
    assert net(torch.randn(4, 64)).shape == (4, 10)


def test_pixel_rnn_and_wine_split():
    for ln in (False, True):
        assert PixelRNN(8, layer_norm=ln)(torch.rand(3, 64)).shape == (3, 10)
    xtr, ytr, _, yte = wine_split(0)
    assert xtr.shape == (124, 13) and len(yte) == 54 and set(ytr.tolist()) == {0, 1, 2}
    assert torch.equal(wine_split(0)[0], xtr) and not torch.equal(wine_split(1)[0], xtr)
