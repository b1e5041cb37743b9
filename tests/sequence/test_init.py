"""Orthogonal initialisation (QR with sign correction) and spectral-radius scaling."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from replearn.sequence.rnn.init import (
    init_recurrent_,
    orthogonal,
    orthogonal_,
    scale_spectral_radius,
    spectral_radius,
)
from replearn.sequence.rnn.layers import GRU, LSTM

D = torch.float64


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 12), cols=st.integers(1, 12), seed=st.integers(0, 2**16))
def test_orthonormal_rows_or_columns(rows: int, cols: int, seed: int) -> None:
    q = orthogonal(rows, cols, generator=torch.Generator().manual_seed(seed), dtype=D)
    assert q.shape == (rows, cols)
    gram = q.T @ q if rows >= cols else q @ q.T
    torch.testing.assert_close(gram, torch.eye(min(rows, cols), dtype=D), rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", [(6, 6), (8, 3), (3, 8), (4, 2, 3)])
def test_equals_torch_orthogonal_with_same_generator(shape) -> None:
    ours = orthogonal_(torch.empty(shape, dtype=D), 1.5, generator=torch.Generator().manual_seed(7))
    ref = nn.init.orthogonal_(
        torch.empty(shape, dtype=D), 1.5, generator=torch.Generator().manual_seed(7)
    )
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)


def test_sign_correction_makes_it_unbiased() -> None:
    """Haar: E[Q_11] = 0. The unsigned QR of LAPACK gives a biased Q_11 (so the test can fail)."""
    g = torch.Generator().manual_seed(0)
    signed = torch.stack([orthogonal(4, 4, generator=g, dtype=D)[0, 0] for _ in range(2000)])
    unsigned = torch.stack(
        [torch.linalg.qr(torch.randn(4, 4, generator=g, dtype=D))[0][0, 0] for _ in range(2000)]
    )
    assert abs(float(signed.mean())) < 0.05  # std of Q_11 is 1/2, s.e. of the mean ~0.011
    assert abs(float(unsigned.mean())) > 0.3


def test_scale_spectral_radius() -> None:
    w = torch.randn(10, 10, generator=torch.Generator().manual_seed(1), dtype=D)
    torch.testing.assert_close(
        spectral_radius(scale_spectral_radius(w, 0.7)), torch.tensor(0.7, dtype=D)
    )
    with pytest.raises(ValueError, match="square"):
        scale_spectral_radius(torch.ones(2, 3), 1.0)


@pytest.mark.parametrize("scheme", ["orthogonal", "uniform", "normal"])
def test_init_recurrent_sets_each_gate_block(scheme) -> None:
    model = LSTM(3, 6, 2, bidirectional=True).to(D)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    init_recurrent_(
        model, scheme=scheme, spectral_radius=0.9, generator=torch.Generator().manual_seed(0)
    )
    for name, w in model.state_dict().items():
        if not name.startswith("weight_hh"):
            assert torch.equal(w, before[name]), name  # input weights and biases untouched
            continue
        for block in w.split(6):
            eig = torch.linalg.eigvals(block).abs()
            torch.testing.assert_close(eig.max(), torch.tensor(0.9, dtype=D))
            if scheme == "orthogonal":  # every eigenvalue on the circle of radius 0.9
                torch.testing.assert_close(eig, torch.full_like(eig, 0.9))
                torch.testing.assert_close(block.T @ block, 0.81 * torch.eye(6, dtype=D))


def test_init_recurrent_plain_orthogonal_on_torch_module() -> None:
    model = nn.GRU(2, 5).to(D)
    init_recurrent_(model)
    for block in model.weight_hh_l0.split(5):
        torch.testing.assert_close(block @ block.T, torch.eye(5, dtype=D))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="scheme"):
        init_recurrent_(GRU(2, 3), scheme="xavier")
    with pytest.raises(ValueError, match="spectral_radius"):
        init_recurrent_(GRU(2, 3), spectral_radius=0.0)
    with pytest.raises(ValueError, match="weight_hh"):
        init_recurrent_(nn.Linear(2, 3))
    with pytest.raises(ValueError, match="2 dimensions"):
        orthogonal_(torch.empty(4))
