"""Real NVP on vectors and images against autograd; inverse(forward(x)) == x."""

from __future__ import annotations

import pytest
import torch

from replearn.flow import RealNVP

F64 = dict(rtol=1e-10, atol=1e-10)


def _nonzero(module: torch.nn.Module) -> torch.nn.Module:
    for m in module.modules():
        if isinstance(m, torch.nn.Linear | torch.nn.Conv2d):
            m.weight.data.normal_(0, 0.2)
            m.bias.data.normal_(0, 0.2)
    return module


@pytest.mark.parametrize("shape", [(2,), (6,), (1, 8, 8)], ids=["2d", "6d", "image"])
def test_realnvp_log_det_and_inverse(shape, jac_log_det) -> None:
    torch.manual_seed(0)
    model = _nonzero(RealNVP(shape, hidden=8, n_couplings=4, n_scales=2)).double()
    x = torch.randn(2, *shape, dtype=torch.float64)
    z, log_det = model(x)
    assert z.shape == (2, *model.latent_shape)
    torch.testing.assert_close(log_det, jac_log_det(model, x), **F64)
    torch.testing.assert_close(model.inverse(z), x, **F64)
    m32 = model.float()
    x32 = x.float()
    torch.testing.assert_close(m32.inverse(m32(x32)[0]), x32, rtol=0, atol=1e-5)


def test_realnvp_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="event_shape"):
        RealNVP((2, 3))
    with pytest.raises(ValueError, match="divide"):
        RealNVP((1, 6, 6), n_scales=3)
