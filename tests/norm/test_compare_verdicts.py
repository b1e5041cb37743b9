"""``norm-compare``'s verdicts check every part of their statements (hand-made metrics).

``layernorm-batch-independent`` needs LayerNorm within the tolerance *and* BatchNorm outside it;
the two RMSNorm claims need the 95% sign-test interval of the median time ratio below 1, one on
the from-scratch references, one on the fast paths.
"""

from __future__ import annotations

import pytest

from replearn.experiments.norm.measure import median_interval, time_rms_vs_layer
from replearn.experiments.norm.norm_compare import CLAIMS


def _verdict(claim_id: str):
    return next(c for c in CLAIMS if c.id == claim_id).verdict


def test_median_interval_is_the_sign_test_interval() -> None:
    # n = 30: ranks 10 and 21 (P(Bin(30, 1/2) < 10) = 0.021 <= 0.025 < P(Bin < 11) = 0.049)
    assert median_interval([float(i) for i in range(1, 31)]) == (10.0, 21.0)
    # n = 10: ranks 2 and 9 (P(Bin(10, 1/2) < 2) = 0.011)
    assert median_interval([float(i) for i in range(10, 0, -1)]) == (2.0, 9.0)
    assert median_interval([3.0, 1.0, 2.0]) == (1.0, 3.0)  # too few values: the whole range


def test_layernorm_claim_needs_batchnorm_to_depend_on_the_batch_at_every_seed() -> None:
    verdict = _verdict("layernorm-batch-independent")
    m = {
        "seeds": [0, 1, 2],
        "independence_examples": 32,
        "independence_tol": 1e-5,
        "layer_batch_of_one_gap_seeds": [1e-7, 2e-7, 3e-7],
        "batch_batch_of_one_gap_seeds": [0.7, 0.5, 0.9],
        "layer_batch_of_one_gap": 1e-7,
        "batch_batch_of_one_gap": 0.7,
    }
    assert verdict(m)[0]
    assert not verdict({**m, "batch_batch_of_one_gap_seeds": [0.7, 1e-7, 0.9]})[0]
    assert not verdict({**m, "layer_batch_of_one_gap_seeds": [1e-7, 1e-3, 3e-7]})[0]
    assert not verdict({**m, "batch_batch_of_one_gap_seeds": [0.7, None, 0.9]})[0]  # diverged
    assert not verdict({**m, "layer_batch_of_one_gap_seeds": [None, 2e-7, 3e-7]})[0]


def _faster(none_steps, batch_steps, none_loss, batch_loss) -> dict:
    return {
        "seeds": list(range(len(none_steps))),
        "lr": 0.05,
        "base_steps": 300,
        "target_loss": 0.8,
        "steps_never": 310,
        "none_steps_to_target_seeds": none_steps,
        "batch_steps_to_target_seeds": batch_steps,
        "none_final_loss_seeds": none_loss,
        "batch_final_loss_seeds": batch_loss,
    }


def test_trains_faster_needs_fewer_steps_and_lower_loss_over_seeds() -> None:
    verdict = _verdict("batchnorm-trains-faster")
    good = _faster([280, None, 250], [90, 100, 80], [0.91, 0.95, 0.9], [0.56, 0.6, 0.55])
    holds, evidence = verdict(good)
    assert holds and "3 seeds" in evidence and "never = 310" in evidence
    # BatchNorm never reaching the target at one seed fails the statement
    assert not verdict({**good, "batch_steps_to_target_seeds": [90, None, 80]})[0]
    # a loss difference that the seed-to-seed spread swamps: t bound below 0
    noisy = {
        **good,
        "batch_final_loss_seeds": [0.2, 1.2, 0.6],
        "none_final_loss_seeds": [0.91, 0.95, 0.9],
    }
    assert not verdict(noisy)[0]
    # fewer than 3 seeds: not measured
    holds, evidence = verdict(_faster([280], [90], [0.9], [0.5]))
    assert not holds and evidence.startswith("not measured")


def _group(batch_small, batch_big, group_small, group_big) -> dict:
    m = {"seeds": [0, 1, 2], "small_batch": 2, "large_batch": 32, "batch_examples": 6400,
         "degrade_pp": 1.0}  # fmt: skip
    for v, n, accs in (("batch", 2, batch_small), ("batch", 32, batch_big),
                       ("group", 2, group_small), ("group", 32, group_big)):  # fmt: skip
        m[f"{v}_b{n}_test_accuracy_seeds"] = accs
        m[f"{v}_b{n}_test_accuracy"] = sum(accs) / len(accs)
    return m


def test_groupnorm_claim_needs_both_parts_over_seeds() -> None:
    verdict = _verdict("groupnorm-small-batch")
    # BatchNorm drops ~7 points, GroupNorm gains ~5; GroupNorm better at batch 2
    m = _group([0.70, 0.71, 0.69], [0.77, 0.78, 0.77], [0.80, 0.79, 0.81], [0.75, 0.74, 0.76])
    assert verdict(m)[0]
    # BatchNorm degrades more, but GroupNorm is not better at batch 2
    m2 = _group([0.70, 0.71, 0.69], [0.80, 0.81, 0.80], [0.68, 0.69, 0.69], [0.70, 0.71, 0.70])
    assert not verdict(m2)[0]
    # the drops differ by half a point, less than degrade_pp = 1 point
    m3 = _group([0.765, 0.775, 0.765], [0.77, 0.78, 0.77], [0.80, 0.79, 0.81], [0.80, 0.79, 0.81])
    assert not verdict(m3)[0]
    one = {**m, "seeds": [0]}
    assert verdict(one)[1].startswith("not measured")


def _timing(ref: tuple[float, float, float], torch_: tuple[float, float, float]) -> dict:
    m = {"timing_rows": 256, "timing_dim": 512, "timing_rounds": 30}
    for kind, (r, lo, hi) in (("ref", ref), ("torch", torch_)):
        m.update({f"rms_over_layer_{kind}": r, f"rms_over_layer_{kind}_lo": lo})
        m[f"rms_over_layer_{kind}_hi"] = hi
        m.update({f"time_rms_{kind}_us": 100.0 * r, f"time_layer_{kind}_us": 100.0})
    return m


@pytest.mark.parametrize(
    ("ref", "fast", "expected"),
    [
        ((0.8, 0.75, 0.85), (5.6, 5.0, 6.0), (True, False)),
        ((0.95, 0.9, 1.02), (0.8, 0.7, 0.9), (False, True)),
    ],
)
def test_rmsnorm_claims_check_each_path_by_its_interval(ref, fast, expected) -> None:
    m = _timing(ref, fast)
    assert _verdict("rmsnorm-cheaper")(m)[0] is expected[0]
    assert _verdict("rmsnorm-fast-path-cheaper")(m)[0] is expected[1]


def test_time_rms_vs_layer_reports_intervals() -> None:
    out = time_rms_vs_layer(8, 16, 5)
    for kind in ("ref", "torch"):
        lo, r, hi = (out[f"rms_over_layer_{kind}{s}"] for s in ("_lo", "", "_hi"))
        assert 0 < lo <= r <= hi
