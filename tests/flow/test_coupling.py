"""Affine coupling (Eqs. 6, 8, 9), masks, squeeze and Real NVP against autograd."""

from __future__ import annotations

import pytest
import torch

from replearn.flow.coupling import (
    AffineCoupling,
    channel_mask,
    checkerboard_mask,
    conv_conditioner,
    half_mask,
    mlp_conditioner,
)

F64 = dict(rtol=1e-10, atol=1e-10)


def _nonzero(module: torch.nn.Module) -> torch.nn.Module:
    for m in module.modules():
        if isinstance(m, torch.nn.Linear | torch.nn.Conv2d):
            m.weight.data.normal_(0, 0.2)
            m.bias.data.normal_(0, 0.2)
    return module


def test_masks() -> None:
    cb = checkerboard_mask(3, 4)
    assert cb.shape == (1, 3, 4)
    assert cb[0, 0, 0] == 1 and cb[0, 0, 1] == 0 and cb[0, 1, 0] == 0 and cb[0, 1, 1] == 1
    torch.testing.assert_close(checkerboard_mask(3, 4, parity=1), 1 - cb)
    torch.testing.assert_close(channel_mask(4)[:, 0, 0], torch.tensor([1.0, 1, 0, 0]))
    torch.testing.assert_close(half_mask(5, parity=1), torch.tensor([0.0, 0, 1, 1, 1]))


@pytest.mark.parametrize("scale_map", ["tanh", "sigmoid"])
@pytest.mark.parametrize("kind", ["half", "checkerboard", "channel"])
def test_coupling_log_det_inverse_and_kept_part(kind, scale_map, jac_log_det) -> None:
    torch.manual_seed(0)
    if kind == "half":
        shape, mask, net = (5,), half_mask(5), mlp_conditioner(5, 16)
    elif kind == "checkerboard":
        shape, mask, net = (2, 4, 4), checkerboard_mask(4, 4), conv_conditioner(2, 8)
    else:
        shape, mask, net = (4, 2, 2), channel_mask(4), conv_conditioner(4, 8)
    layer = AffineCoupling(mask, _nonzero(net), scale_map=scale_map, event_shape=shape).double()
    x = torch.randn(3, *shape, dtype=torch.float64)
    z, log_det = layer(x)
    torch.testing.assert_close(log_det, jac_log_det(layer, x), **F64)
    torch.testing.assert_close(layer.inverse(z), x, **F64)
    keep = mask.expand(shape).bool()
    torch.testing.assert_close(z[:, keep], x[:, keep], rtol=0, atol=0)
    assert not torch.allclose(z[:, ~keep], x[:, ~keep])


def test_zero_init_coupling_is_the_identity() -> None:
    layer = AffineCoupling(half_mask(4), mlp_conditioner(4, 8))
    x = torch.randn(6, 4)
    z, log_det = layer(x)
    torch.testing.assert_close(z, x, rtol=0, atol=0)
    torch.testing.assert_close(log_det, torch.zeros(6), rtol=0, atol=0)


def test_coupling_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="scale_map"):
        AffineCoupling(half_mask(4), mlp_conditioner(4, 8), scale_map="exp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="zeros and ones"):
        AffineCoupling(torch.full((4,), 0.5), mlp_conditioner(4, 8))
