"""``tbptt-tradeoff``'s cost claim: exact saved bytes that grow with every k, and update times
whose paired ratio t(k') / t(k) has its 95% interval above 1 for each adjacent pair."""

from __future__ import annotations

import pytest

from replearn.engine import RunContext
from replearn.experiments.sequence.tbptt_tradeoff import CLAIMS, Config, measure_costs, train_all


def _verdict():
    return next(c for c in CLAIMS if c.id == "tbptt-cost-grows-with-truncation").verdict


def _ratio(a: int, b: int, r: float, lo: float | None, hi: float | None) -> dict:
    return {"label_a": f"k={b}", "label_b": f"k={a}", "ratio": r, "lo": lo, "hi": hi,
            "rounds": 50, "t_a": 0.01 * r, "t_b": 0.01}  # fmt: skip


def _metrics(saved: list[int], ratios: list[tuple]) -> dict:
    ks = [4, 8, 16]
    m = {"truncations": ks, **{f"k{k}_saved_bytes": s for k, s in zip(ks, saved, strict=True)}}
    m["time_ratios"] = [_ratio(a, b, *r) for a, b, r in zip(ks, ks[1:], ratios, strict=False)]
    return m


GROWS = [459_000, 953_000, 1_941_000]


@pytest.mark.parametrize(
    ("saved", "ratios", "expected"),
    [
        (GROWS, [(1.3, 1.2, 1.4), (1.6, 1.5, 1.8)], True),
        (GROWS, [(1.3, 1.2, 1.4), (1.1, 0.97, 1.2)], False),  # one interval crosses 1
        (GROWS, [(1.3, 1.2, 1.4), (0.9, 0.8, 0.95)], False),  # slower k first
        ([459_000, 459_000, 1_941_000], [(1.3, 1.2, 1.4), (1.6, 1.5, 1.8)], False),  # memory flat
        (GROWS, [(1.3, None, None), (1.6, None, None)], False),  # fewer than 6 rounds
    ],
)
def test_cost_verdict_needs_memory_and_every_time_interval(saved, ratios, expected) -> None:
    holds, evidence = _verdict()(_metrics(saved, ratios))
    assert holds is expected
    assert "95% interval" in evidence


def test_measured_bytes_are_those_of_the_training_updates(tmp_path) -> None:
    cfg = Config(lags=(1,), truncations=(2, 4), hidden_size=8, embed_size=4, batch_size=4,
                 train_tokens=40, test_tokens=10, timing_rounds=2)  # fmt: skip
    costs = measure_costs(cfg, 0)
    ctx = RunContext(out=tmp_path, seed=0, progress=False)
    for k in cfg.truncations:
        assert costs[f"k{k}_saved_bytes"] == train_all(cfg, k, 0, ctx)["train_saved_bytes"]
    assert costs["k4_saved_bytes"] > costs["k2_saved_bytes"] > 0
    assert [d["label_a"] for d in costs["time_ratios"]] == ["k=4"]
    assert costs["time_ratios"][0]["rounds"] == 2 and costs["time_ratios"][0]["lo"] is None
