"""IAF: log-determinants against the autograd Jacobian, log q(z|x) by change of variables."""

from __future__ import annotations

import pytest
import torch
from torch.autograd.functional import jacobian

from replearn.vae.iaf import IAFVAE, IAFPosterior, iaf_step
from replearn.vae.objectives import log_normal_diag

F64 = torch.float64


def test_iaf_step_log_det_is_log_abs_det_jacobian() -> None:
    torch.manual_seed(0)
    flow = IAFPosterior(5, context_dim=3, n_flows=1, hidden=(16,)).double()
    h = torch.randn(3, dtype=F64)
    z = torch.randn(5, dtype=F64)
    jac = jacobian(lambda v: flow(v, h)[0], z)  # (D, D)
    assert torch.triu(jac, 1).abs().max() == 0.0  # lower triangular, diagonal = sigma
    _, log_det = flow(z, h)
    torch.testing.assert_close(log_det, torch.linalg.slogdet(jac)[1], rtol=1e-10, atol=1e-10)
    m, s = torch.randn(2, 5, dtype=F64)
    _, ld = iaf_step(z, m, s)
    torch.testing.assert_close(ld, torch.log(torch.sigmoid(s)).sum())


@pytest.mark.parametrize("n_flows", [2, 3])
def test_stacked_flow_with_reversals_log_det(n_flows: int) -> None:
    torch.manual_seed(1)
    flow = IAFPosterior(4, context_dim=2, n_flows=n_flows, hidden=(8, 8)).double()
    with torch.no_grad():  # move away from the near-identity start
        for p in flow.parameters():
            p.add_(0.5 * torch.randn_like(p))
    h = torch.randn(2, dtype=F64)
    for _ in range(3):
        z = torch.randn(4, dtype=F64)
        jac = jacobian(lambda v: flow(v, h)[0], z)
        sign, logabs = torch.linalg.slogdet(jac)
        assert sign != 0
        torch.testing.assert_close(flow(z, h)[1], logabs, rtol=1e-10, atol=1e-10)


def test_log_q_is_the_change_of_variables_of_the_base_density() -> None:
    torch.manual_seed(2)
    model = IAFVAE(8, 3, hidden=(16,), n_flows=2, flow_hidden=(8,)).double()
    x = torch.rand(4, 8, dtype=F64).round()
    torch.manual_seed(3)
    z, log_q = model.sample_posterior(x, 2)
    torch.manual_seed(3)
    mu, log_var, h = model.encode_with_context(x)
    z0 = mu + torch.exp(0.5 * log_var) * torch.randn(2, *mu.shape, dtype=F64)
    for b in range(4):
        for i in range(2):
            jac = jacobian(lambda v, b=b: model.flow(v, h[b])[0], z0[i, b])
            want = log_normal_diag(z0[i, b], mu[b], log_var[b]) - torch.linalg.slogdet(jac)[1]
            torch.testing.assert_close(log_q[i, b], want, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(z[:, 0], model.flow(z0[:, 0], h[0])[0])


def test_elbo_iwae_and_validation() -> None:
    torch.manual_seed(4)
    model = IAFVAE(8, 3, hidden=(16,), n_flows=2, flow_hidden=(8,))
    x = torch.rand(16, 8).round()
    (-model.iwae(x, 4).mean()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
    terms = model.elbo(x)
    torch.testing.assert_close(terms.elbo, terms.log_px_z - terms.kl)
    with pytest.raises(ValueError, match="analytic"):
        model.elbo(x, kl="analytic")
    with pytest.raises(ValueError, match="n_flows"):
        IAFPosterior(3, context_dim=2, n_flows=0)
    assert "n_flows=2" in repr(model)
