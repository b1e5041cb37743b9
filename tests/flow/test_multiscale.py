"""Squeeze and the multi-scale split (Eqs. 13-14)."""

from __future__ import annotations

import pytest
import torch

from replearn.flow import MultiScale, Squeeze, squeeze, unsqueeze
from replearn.flow.coupling import AffineCoupling, checkerboard_mask, conv_conditioner


def test_squeeze_against_a_loop_and_unsqueeze_inverts() -> None:
    x = torch.randn(2, 3, 4, 6)
    y = squeeze(x)
    assert y.shape == (2, 12, 2, 3)
    for c in range(3):
        for di in range(2):
            for dj in range(2):
                torch.testing.assert_close(y[:, 4 * c + 2 * di + dj], x[:, c, di::2, dj::2])
    torch.testing.assert_close(unsqueeze(y), x, rtol=0, atol=0)


def test_squeeze_flow_and_multiscale_log_det(jac_log_det) -> None:
    torch.manual_seed(0)
    level = [
        AffineCoupling(
            checkerboard_mask(4, 4), conv_conditioner(1, 4), event_shape=(1, 4, 4), zero_init=False
        ),
        Squeeze((1, 4, 4)),
    ]
    final = AffineCoupling(
        checkerboard_mask(2, 2), conv_conditioner(2, 4), event_shape=(2, 2, 2), zero_init=False
    )
    model = MultiScale([level], final).double()
    x = torch.randn(2, 1, 4, 4, dtype=torch.float64)
    z, log_det = model(x)
    assert z.shape == (2, 16)
    torch.testing.assert_close(log_det, jac_log_det(model, x), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(model.inverse(z), x, rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match="even"):
        Squeeze((1, 3, 4))
