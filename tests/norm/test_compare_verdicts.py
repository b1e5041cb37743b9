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


def test_layernorm_claim_needs_batchnorm_to_depend_on_the_batch() -> None:
    verdict = _verdict("layernorm-batch-independent")
    m = {
        "independence_examples": 32,
        "independence_tol": 1e-5,
        "layer_batch_of_one_gap": 1e-7,
        "batch_batch_of_one_gap": 0.7,
    }
    assert verdict(m)[0]
    assert not verdict({**m, "batch_batch_of_one_gap": 1e-7})[0]
    assert not verdict({**m, "layer_batch_of_one_gap": 1e-3})[0]
    assert not verdict({k: v for k, v in m.items() if k != "batch_batch_of_one_gap"})[0]


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
