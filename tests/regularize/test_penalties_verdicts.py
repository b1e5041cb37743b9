"""``regularize-penalties``' verdicts are judged over training seeds (hand-made per-seed numbers).

Both claims go through :func:`replearn.experiments.stats.compare_seeds` (paired by seed, one-sided
95% Student-t lower bound > 0) and need every part of their statement.
"""

from __future__ import annotations

import pytest

from replearn.experiments.regularize import regularize_penalties as rp


def _verdict(claim_id: str):
    return next(c for c in rp.CLAIMS if c.id == claim_id).verdict


def _metrics(**per_seed: list[float]) -> dict:
    m = {"zero_tol": 1e-3, "seeds": [0, 1, 2]}
    base = {
        "none_sparsity": [0.01, 0.012, 0.011],
        "l1_sparsity": [0.40, 0.42, 0.39],
        "l2_sparsity": [0.02, 0.021, 0.019],
        "none_weight_norm": [20.0, 21.0, 20.5],
        "l1_weight_norm": [10.0, 10.5, 10.2],
        "l2_weight_norm": [12.0, 12.4, 12.1],
    }
    base.update(per_seed)
    for v in rp.VARIANTS:
        base.setdefault(f"{v}_max_abs_weight", [0.5, 0.5, 0.5])
        base.setdefault(f"{v}_test_accuracy", [0.85, 0.86, 0.85])
    for k, values in base.items():
        m[f"{k}_seeds"] = values
        m[k] = sum(values) / len(values)
    return m


def test_both_claims_hold_on_clear_per_seed_numbers() -> None:
    m = _metrics()
    for claim_id in ("l1-sparse", "l2-small"):
        holds, evidence = _verdict(claim_id)(m)
        assert holds, evidence
        assert "over 3 seeds, paired-t" in evidence


@pytest.mark.parametrize(
    ("claim_id", "change"),
    [
        # L1 sparser than none but not twice L2's fraction at every seed (mean below 2x)
        ("l1-sparse", {"l2_sparsity": [0.25, 0.2, 0.21]}),
        # twice none's on average, but the seed-to-seed spread swamps it
        ("l1-sparse", {"l1_sparsity": [0.10, 0.0, 0.09], "l2_sparsity": [0.0, 0.0, 0.0]}),
        # L2's norm is not smaller than none's
        ("l2-small", {"l2_weight_norm": [20.5, 21.0, 20.0]}),
        # L2 smaller, but as sparse as L1
        ("l2-small", {"l2_sparsity": [0.41, 0.43, 0.40]}),
    ],
)
def test_each_part_of_the_statement_can_fail(claim_id: str, change: dict) -> None:
    holds, evidence = _verdict(claim_id)(_metrics(**change))
    assert not holds, evidence


def test_fewer_than_three_seeds_is_refused() -> None:
    with pytest.raises(ValueError, match=">= 3"):
        rp.Config(seeds=2)
