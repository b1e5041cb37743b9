"""Glow: ActNorm's initialization, the LU 1x1 convolution and whole models against autograd."""

from __future__ import annotations

import pytest
import torch

from replearn.flow import Glow

F64 = dict(rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mixing", ["conv_lu", "conv", "reverse", "shuffle"])
@pytest.mark.parametrize("shape", [(2,), (1, 8, 8)], ids=["2d", "image"])
def test_glow_log_det_and_inverse(shape, mixing, jac_log_det) -> None:
    torch.manual_seed(0)
    model = Glow(shape, hidden=8, n_steps=2, n_levels=2, mixing=mixing).double()
    model(torch.randn(32, *shape, dtype=torch.float64))  # ActNorm init
    for m in model.modules():
        if isinstance(m, torch.nn.Linear | torch.nn.Conv2d):
            m.weight.data.normal_(0, 0.2)
    x = torch.randn(2, *shape, dtype=torch.float64)
    z, log_det = model(x)
    torch.testing.assert_close(log_det, jac_log_det(model, x), **F64)
    torch.testing.assert_close(model.inverse(z), x, **F64)
    m32, x32 = model.float(), x.float()
    torch.testing.assert_close(m32.inverse(m32(x32)[0]), x32, rtol=0, atol=1e-5)


def test_glow_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="mixing"):
        Glow((2,), mixing="lu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="divide"):
        Glow((1, 6, 6), n_levels=2)
