"""Shared oracles of the flow tests: the autograd Jacobian and a grid integral (fixtures)."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from replearn.flow import Flow


def autograd_log_det(flow: Flow, x: Tensor) -> Tensor:
    """log|det J_f(x_b)| per example from torch.autograd.functional.jacobian."""
    out = []
    for xb in x:

        def f(v: Tensor) -> Tensor:
            return flow(v[None])[0].reshape(-1)

        jac = torch.autograd.functional.jacobian(f, xb)  # (D, *E)
        out.append(torch.linalg.slogdet(jac.reshape(jac.shape[0], -1))[1])
    return torch.stack(out)


def grid_integral(flow: Flow, *, half_width: float = 10.0, n: int = 801) -> float:
    """Integral of exp(log_prob) over [-w, w]^2 by the trapezoid rule (float64)."""
    axis = torch.linspace(-half_width, half_width, n, dtype=torch.float64)
    xx, yy = torch.meshgrid(axis, axis, indexing="ij")
    pts = torch.stack([xx, yy], -1).reshape(-1, 2)
    with torch.no_grad():
        p = torch.cat([flow.log_prob(c).exp() for c in pts.split(65536)]).reshape(n, n)
    return float(torch.trapezoid(torch.trapezoid(p, axis, dim=1), axis))


@pytest.fixture
def jac_log_det():
    """:func:`autograd_log_det`."""
    return autograd_log_det


@pytest.fixture
def integral():
    """:func:`grid_integral`."""
    return grid_integral
