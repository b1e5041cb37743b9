"""``xor-wider-less-stuck`` is judged over the initializations by ``compare_seeds`` (issue 21)."""

from __future__ import annotations

from replearn.experiments.fundamentals import xor_stuck


def _verdict(claim_id: str):
    return next(c for c in xor_stuck.CLAIMS if c.id == claim_id).verdict


def _metrics(stuck_lo: int, stuck_hi: int, n: int = 200) -> dict:
    return {
        "hidden_widths": [2, 3, 8],
        "n_inits": n,
        "h2_stuck": stuck_lo,
        "h8_stuck": stuck_hi,
        "h2_stuck_flags": [1] * stuck_lo + [0] * (n - stuck_lo),
        "h8_stuck_flags": [0] * (n - stuck_hi) + [1] * stuck_hi,
    }


def test_width_claim_uses_the_t_bound_over_initializations() -> None:
    verdict = _verdict("xor-wider-less-stuck")
    # 21/200 vs 0/200: difference 0.105, SE sqrt(0.105 * 0.895 / 199) = 0.0217, bound 0.069
    holds, evidence = verdict(_metrics(21, 0))
    assert holds
    assert "+0.105 (SE 0.02173 over 200 seeds, paired-t)" in evidence
    assert "per seed" not in evidence
    # 4/200 vs 0/200: difference 0.02, SE 0.0099, t(199) bound 0.02 - 1.653 * 0.0099 > 0
    assert verdict(_metrics(4, 0))[0]
    # 2/200 vs 0/200: 0.01 - 1.653 * 0.00705 < 0
    assert not verdict(_metrics(2, 0))[0]
    assert not verdict(_metrics(5, 5))[0]
    assert verdict(_metrics(1, 0, n=2))[1].endswith(">= 3 initializations")
