"""Planar flows: Eqs. (10)-(12), A.1 against autograd and normflows."""

from __future__ import annotations

import pytest
import torch

from replearn.flow.planar import PlanarFlow, PlanarLayer, planar_u_hat


def test_u_hat_satisfies_the_invertibility_constraint() -> None:
    torch.manual_seed(0)
    for _ in range(100):
        w = torch.randn(5, dtype=torch.float64)
        u = -(1 + 9 * torch.rand(())) * w / w.square().sum()  # w^T u in [-10, -1]
        u = u + 0.1 * torch.randn(5, dtype=torch.float64)
        assert torch.dot(w, planar_u_hat(u, w)) > -1
    w = torch.ones(3, dtype=torch.float64)
    assert torch.dot(w, planar_u_hat(-1e3 * w, w)) >= -1 - 1e-12  # saturates at -1


def test_log_det_matches_autograd_jacobian(jac_log_det) -> None:
    torch.manual_seed(0)
    flow = PlanarFlow(3, n_layers=5, init_scale=3.0).double()
    x = torch.randn(6, 3, dtype=torch.float64)
    torch.testing.assert_close(flow(x)[1], jac_log_det(flow, x), rtol=1e-10, atol=1e-10)


def test_inverse_of_forward_is_identity() -> None:
    torch.manual_seed(0)
    flow = PlanarFlow(4, n_layers=8)
    x = torch.randn(64, 4)
    torch.testing.assert_close(flow.inverse(flow(x)[0]), x, rtol=0, atol=1e-5)
    # large u: ill-conditioned layers; exact up to float64 round-off
    flow = PlanarFlow(4, n_layers=8, init_scale=3.0).double()
    x = x.double()
    torch.testing.assert_close(flow.inverse(flow(x)[0]), x, rtol=0, atol=1e-9)


def test_matches_normflows_planar() -> None:
    nf = pytest.importorskip("normflows")
    torch.manual_seed(0)
    ours = PlanarLayer(3).double()
    ref = nf.flows.Planar((3,), act="tanh").double()
    with torch.no_grad():
        ref.u.copy_(ours.u[None])
        ref.w.copy_(ours.w[None])
        ref.b.copy_(ours.b.reshape(1))
    x = torch.randn(5, 3, dtype=torch.float64)
    z, ld = ours(x)
    z_ref, ld_ref = ref(x)
    torch.testing.assert_close(z, z_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ld, ld_ref, rtol=1e-12, atol=1e-12)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="dim"):
        PlanarLayer(0)
    with pytest.raises(ValueError, match="n_layers"):
        PlanarFlow(2, n_layers=0)
