"""McCulloch-Pitts units: gate truth tables, the two-layer XOR, no single-unit XOR."""

from __future__ import annotations

import pytest
import torch

from replearn.fundamentals.mcculloch_pitts import (
    McCullochPittsUnit,
    ThresholdNetwork,
    gate,
    mp_output,
    truth_table,
    xor_network,
)

TABLES = {
    "and": [0, 0, 0, 1],
    "or": [0, 1, 1, 1],
    "nand": [1, 1, 1, 0],
    "nor": [1, 0, 0, 0],
}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_two_input_gates_have_their_truth_tables(name):
    out = gate(name)(truth_table(2))
    assert out.tolist() == TABLES[name]


def test_not_gate():
    assert gate("not")(truth_table(1)).tolist() == [1, 0]


def test_two_layer_network_computes_xor():
    out = xor_network()(truth_table(2)).squeeze(-1)
    assert out.tolist() == [0, 1, 1, 0]


def test_no_single_unit_on_a_grid_computes_xor():
    grid = torch.arange(-6, 7, dtype=torch.float32) / 2
    w = torch.cartesian_prod(grid, grid).T  # (2, 169): every weight pair
    x = truth_table(2)
    target = torch.tensor([0.0, 1.0, 1.0, 0.0]).unsqueeze(1)
    for theta in grid.tolist():
        out = mp_output(x, w, theta)  # (4, 169): each column one unit
        assert not bool((out == target).all(dim=0).any())
    assert torch.equal(mp_output(x, w[:, :1] * 0 + 1, 2.0).squeeze(1), gate("and")(x))


def test_unit_and_network_validate_arguments():
    with pytest.raises(ValueError, match="unknown gate"):
        gate("xnor")
    with pytest.raises(ValueError, match="at least one weight"):
        McCullochPittsUnit((), 1.0)
    with pytest.raises(ValueError, match="expected 2 inputs"):
        gate("and")(truth_table(3))
    with pytest.raises(ValueError, match="inputs after"):
        ThresholdNetwork([(torch.ones(2, 3), torch.ones(3)), (torch.ones(2, 1), torch.ones(1))])
