"""``attention-dk``'s and ``icl-regression``'s "rises / falls with size" verdicts judge every
adjacent step over the paired seeds (compare_seeds), not the means (issue 21). Fabricated
metrics, no training."""

from __future__ import annotations

from replearn.experiments.transformer.attention_dk import CLAIMS as DK_CLAIMS
from replearn.experiments.transformer.attention_dk import dk_verdict
from replearn.experiments.transformer.icl_regression import CLAIMS as ICL_CLAIMS
from replearn.experiments.transformer.icl_regression import scale_verdict


def dk_metrics(*accs: list[float], slack: float = 0.01) -> dict:
    dks = [2**i for i in range(len(accs))]
    m: dict = {"d_ks": dks, "n_values": 16, "slack": slack}
    return m | {f"dk{d}_accuracy": a for d, a in zip(dks, accs, strict=True)}


def test_dk_claim_uses_the_step_verdict() -> None:
    assert [c.id for c in DK_CLAIMS] == ["dk-matters"] and DK_CLAIMS[0].verdict is dk_verdict


def test_dk_holds_when_every_step_holds_and_saturation_is_no_fall() -> None:
    m = dk_metrics([0.40, 0.41, 0.42], [0.88, 0.87, 0.90], [1.0] * 3, [1.0] * 3)
    holds, evidence = dk_verdict(m)
    assert holds is True
    # the step 1 -> 2: +48, +46, +48 points, mean 47.33, SE 0.67, bound 45.39 > -1
    assert "d_k=2 - d_k=1 = +47.33 points" in evidence and "+45.39 > margin -1.00" in evidence
    # saturated steps: differences all 0, bound 0 > -1 point
    assert "d_k=8 - d_k=4 = +0.00 points" in evidence
    assert "largest vs smallest: d_k=8 - d_k=1 = +59.00 points" in evidence


def test_dk_a_mean_dip_within_slack_fails_when_one_seed_falls_far() -> None:
    # means 0.90 -> 0.8967: a dip of 0.0033 < slack 0.01 (the old means rule passed), but the
    # step's per-seed differences 0, 0, -0.01 give mean -0.33 points with SE 0.33 over 3 seeds:
    # bound -0.33 - 2.92 x 0.33 = -1.31 points < -1 point (-slack): fails
    m = dk_metrics([0.40] * 3, [0.90, 0.90, 0.90], [0.90, 0.90, 0.89])
    holds, evidence = dk_verdict(m)
    assert holds is False and "no step up falls by more than 0.01: False" in evidence


def test_dk_fails_when_the_largest_does_not_beat_the_smallest() -> None:
    holds, _ = dk_verdict(dk_metrics([0.5, 0.6, 0.4], [0.5, 0.3, 0.7]))
    assert holds is False


def test_dk_fewer_than_three_seeds_is_not_measured() -> None:
    holds, evidence = dk_verdict(dk_metrics([0.4, 0.4], [1.0, 1.0]))
    assert holds is False and evidence.startswith("not measured: needs >= 3 training seeds")


def icl_metrics(*errors: list[float]) -> dict:
    sizes = [[1, 8], [1, 16], [2, 32]][: len(errors)]
    m: dict = {"sizes": sizes}
    for i, e in enumerate(errors):
        m |= {f"size{i}_query_errors": e, f"size{i}_query_error": sum(e) / len(e)}
        m[f"size{i}_params"] = 1000 * (i + 1)
    return m


def test_icl_scale_claim_uses_the_step_verdict() -> None:
    assert ICL_CLAIMS[1].id == "icl-improves-with-scale"
    assert ICL_CLAIMS[1].verdict is scale_verdict


def test_icl_scale_holds_when_every_step_lowers_the_error() -> None:
    holds, evidence = scale_verdict(
        icl_metrics([0.74, 0.75, 0.73], [0.53, 0.50, 0.52], [0.10, 0.12, 0.11])
    )
    assert holds is True and "every step up lowers the error: True" in evidence
    # the step 1x8 -> 1x16: falls 0.21, 0.25, 0.21: mean 0.2233, SE 0.01333 over 3 seeds
    assert "1x8 - 1x16 = +0.2233 (SE 0.01333 over 3 seeds, paired-t" in evidence


def test_icl_scale_means_falling_is_not_enough() -> None:
    # the recorded 2026-12-07 shape: the means fall at every step (0.74 > 0.517 > 0.396), but
    # the step 1x16 -> 2x32 falls on one seed only (-0.001, +0.352, +0.01): bound -0.218 <= 0
    holds, evidence = scale_verdict(
        icl_metrics([0.74, 0.75, 0.73], [0.53, 0.50, 0.52], [0.531, 0.148, 0.51])
    )
    assert holds is False and "every step up lowers the error: False" in evidence
    assert "1x16 - 2x32 = +0.1203" in evidence and "-0.218 <= margin +0" in evidence


def test_icl_scale_fewer_than_three_seeds_is_not_measured() -> None:
    holds, evidence = scale_verdict(icl_metrics([0.7, 0.7], [0.5, 0.5]))
    assert holds is False and evidence.startswith("not measured: needs >= 3 training seeds")
