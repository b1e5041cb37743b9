"""The change of variables (Eq. 1), the base density (Eq. 2) and chains (Eq. 3)."""

from __future__ import annotations

import pytest
import torch
from torch import distributions as D

from replearn.flow import (
    FlowChain,
    Glow,
    IResNet,
    PlanarFlow,
    RealNVP,
    chain_log_det,
    change_of_variables_log_prob,
    standard_normal_log_prob,
)
from replearn.flow.glow_layers import InvConv1x1
from replearn.flow.planar import PlanarLayer


def test_standard_normal_log_prob_matches_torch_distributions() -> None:
    z = torch.randn(7, 3, 2, dtype=torch.float64)
    ref = D.Normal(torch.zeros(6, dtype=torch.float64), 1.0).log_prob(z.reshape(7, 6)).sum(1)
    torch.testing.assert_close(standard_normal_log_prob(z), ref, rtol=1e-12, atol=1e-12)


def test_change_of_variables_matches_transformed_distribution() -> None:
    # f(x) = A x + c (data -> latent); torch's TransformedDistribution goes latent -> data,
    # so it is given f^{-1}.
    torch.manual_seed(0)
    a = torch.randn(3, 3, dtype=torch.float64) + 3 * torch.eye(3, dtype=torch.float64)
    c = torch.randn(3, dtype=torch.float64)
    x = torch.randn(5, 3, dtype=torch.float64)
    z = x @ a.T + c
    log_det = torch.linalg.slogdet(a)[1].expand(5)
    ours = change_of_variables_log_prob(standard_normal_log_prob(z), log_det)
    a_inv = torch.linalg.inv(a)
    base = D.MultivariateNormal(torch.zeros(3, dtype=torch.float64), torch.eye(3).double())
    ref = D.MultivariateNormal(-a_inv @ c, scale_tril=torch.linalg.cholesky(a_inv @ a_inv.T))
    torch.testing.assert_close(ours, ref.log_prob(x), rtol=1e-10, atol=1e-10)
    assert base.log_prob(z).shape == (5,)


def test_chain_log_dets_add_and_equal_the_jacobian_of_the_composition(jac_log_det) -> None:
    torch.manual_seed(1)
    parts = [PlanarLayer(3), InvConv1x1(3, lu=True), PlanarLayer(3)]
    chain = FlowChain(*parts).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    z, log_det = chain(x)
    h, pieces = x, []
    for p in parts:
        h, ld = p(h)
        pieces.append(ld)
    torch.testing.assert_close(z, h)
    torch.testing.assert_close(log_det, chain_log_det(pieces), rtol=0, atol=0)
    torch.testing.assert_close(log_det, jac_log_det(chain, x), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(chain.inverse(z), x, rtol=1e-9, atol=1e-9)


def test_chain_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="at least one"):
        FlowChain()
    with pytest.raises(ValueError, match="Flow modules"):
        FlowChain(torch.nn.Linear(2, 2))  # type: ignore[arg-type]


def _perturbed(model: torch.nn.Module) -> torch.nn.Module:
    for m in model.modules():  # leave the identity start: a non-trivial density
        if isinstance(m, torch.nn.Linear | torch.nn.Conv2d):
            m.weight.data.normal_(0, 0.15)
    return model


@pytest.mark.parametrize(
    "make",
    [
        lambda: PlanarFlow(2, n_layers=6, init_scale=2.0),
        lambda: _perturbed(RealNVP((2,), hidden=16, n_couplings=4)),
        lambda: _perturbed(Glow((2,), hidden=16, n_steps=3)),
        lambda: IResNet(2, n_blocks=2, hidden=16, log_det="exact", actnorm=False),
    ],
    ids=["planar", "realnvp", "glow", "iresnet"],
)
def test_a_2d_density_integrates_to_one(make, integral) -> None:
    torch.manual_seed(0)
    flow = make().double().eval()
    if isinstance(flow, Glow):
        flow(torch.randn(64, 2, dtype=torch.float64))  # ActNorm's data-dependent init
    total = integral(flow, half_width=12.0, n=601)
    assert total == pytest.approx(1.0, abs=2e-3)


def test_sample_has_the_event_shape_and_inverts() -> None:
    torch.manual_seed(0)
    flow = RealNVP((1, 8, 8), hidden=8, n_scales=2).double()
    x = flow.sample(3, generator=torch.Generator().manual_seed(0))
    assert x.shape == (3, 1, 8, 8)
    z, _ = flow(x)
    torch.testing.assert_close(flow.inverse(z), x, rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="n must be"):
        flow.sample(0)
