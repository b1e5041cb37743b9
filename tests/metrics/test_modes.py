"""Mode coverage on hand-built sample sets."""

from __future__ import annotations

import pytest
import torch

from replearn.metrics.modes import mode_counts, mode_coverage

CENTRES = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])


def test_perfect_collapsed_and_off_manifold():
    g = torch.Generator().manual_seed(0)
    perfect = CENTRES.repeat(250, 1) + 0.1 * torch.randn(1000, 2, generator=g)
    out = mode_coverage(perfect, CENTRES, 0.1)
    assert out["modes_covered"] == 4.0 and out["high_quality_fraction"] > 0.98
    collapsed = CENTRES[:1].repeat(1000, 1)
    assert mode_coverage(collapsed, CENTRES, 0.1) == {
        "modes_covered": 1.0,
        "high_quality_fraction": 1.0,
    }
    between = torch.full((1000, 2), 5.0)
    assert mode_coverage(between, CENTRES, 0.1) == {
        "modes_covered": 0.0,
        "high_quality_fraction": 0.0,
    }


def test_threshold_and_counts():
    # 3 std = 0.3: the point at distance 0.29 is high quality, 0.31 is not
    samples = torch.tensor([[0.29, 0.0], [10.31, 0.0], [0.0, 10.0]] + [[10.0, 10.0]] * 7)
    hq, counts = mode_counts(samples, CENTRES, 0.1)
    assert hq.tolist() == [True, False] + [True] * 8
    assert counts.tolist() == [1, 0, 1, 7]
    # need tau * N / K = 0.5 * 10 / 4 = 1.25 samples: only the last mode
    assert mode_coverage(samples, CENTRES, 0.1, tau=0.5)["modes_covered"] == 1.0
    assert mode_coverage(samples, CENTRES, 0.1, tau=0.1)["modes_covered"] == 3.0
    with pytest.raises(ValueError):
        mode_coverage(samples, CENTRES, 0.0)
