"""ActNorm's data-dependent initialization, the LU 1x1 convolution and permutations."""

from __future__ import annotations

import pytest
import torch

from replearn.flow import ActNorm, InvConv1x1, Permutation

F64 = dict(rtol=1e-10, atol=1e-10)


def test_actnorm_data_dependent_init_and_log_det(jac_log_det) -> None:
    torch.manual_seed(0)
    layer = ActNorm(3, event_shape=(3, 4, 4)).double()
    x = 2 + 3 * torch.randn(16, 3, 4, 4, dtype=torch.float64)
    y, _ = layer(x)  # first call initializes
    assert bool(layer.initialized)
    torch.testing.assert_close(y.mean(dim=(0, 2, 3)), torch.zeros(3).double(), **F64)
    torch.testing.assert_close(y.std(dim=(0, 2, 3)), torch.ones(3).double(), rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        layer.log_scale.add_(0.3)
    x2 = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    z, log_det = layer(x2)
    torch.testing.assert_close(log_det, jac_log_det(layer, x2), **F64)
    torch.testing.assert_close(layer.inverse(z), x2, **F64)
    state = layer.state_dict()  # the init is declared state: a checkpoint keeps it
    fresh = ActNorm(3, event_shape=(3, 4, 4)).double()
    fresh.load_state_dict(state)
    torch.testing.assert_close(fresh(x2)[0], z, rtol=0, atol=0)


@pytest.mark.parametrize("lu", [True, False])
def test_invconv_log_det_inverse_and_lu_determinant(lu, jac_log_det) -> None:
    torch.manual_seed(0)
    layer = InvConv1x1(4, lu=lu, event_shape=(4, 3, 3)).double()
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.1 * torch.randn_like(p))
    torch.testing.assert_close(layer.log_abs_det(), torch.linalg.slogdet(layer.matrix())[1], **F64)
    x = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    z, log_det = layer(x)
    torch.testing.assert_close(log_det, jac_log_det(layer, x), **F64)
    torch.testing.assert_close(layer.inverse(z), x, **F64)
    ref = torch.nn.functional.conv2d(x, layer.matrix()[:, :, None, None])  # a 1x1 convolution
    torch.testing.assert_close(z, ref, **F64)


def test_permutation() -> None:
    layer = Permutation(5, kind="shuffle")
    x = torch.randn(3, 5, 2)
    z, log_det = layer(x)
    assert sorted(z[0, :, 0].tolist()) == sorted(x[0, :, 0].tolist())
    torch.testing.assert_close(layer.inverse(z), x, rtol=0, atol=0)
    assert torch.all(log_det == 0)
    with pytest.raises(ValueError, match="kind"):
        Permutation(3, kind="random")  # type: ignore[arg-type]
