"""Timing verdicts of the CNN experiments read 95% intervals (hand-made metrics).

``cnn-trains-faster-than-rnn`` needs every CNN / GRU paired time-ratio interval below 1 at
every length; ``cnn-step-time-linear`` needs both CNNs' slope intervals inside [0.75, 1.25];
``wavenet-cache-exact-and-faster`` needs float64 logits within 1e-9 and the naive / cached
speed-up's interval above 1. With too few rounds there is no interval and the verdicts fail.
"""

from __future__ import annotations

import pytest
import torch

from replearn.experiments.cnn import cnn_parallel, wavenet_demo
from replearn.experiments.stats import time_ratio


def _verdict(claims, claim_id: str):
    return next(c for c in claims if c.id == claim_id).verdict


def _ratios(factors: list[float], rounds: int) -> list[dict]:
    """One TimeRatio dict per length: CNN time = factor * GRU time, +-2% round noise."""
    out = []
    for f in factors:
        gru = [1.0 + 0.01 * (i % 5) for i in range(rounds)]
        cnn = [f * g * (1 + 0.02 * ((-1) ** i)) for i, g in enumerate(gru)]
        out.append(time_ratio({"c": cnn, "g": gru}, "c", "g").as_dict())
    return out


def _parallel_metrics(wavenet: list[float], bytenet: list[float], rounds: int = 20) -> dict:
    return {
        "lengths": [128, 256, 512],
        "rounds": rounds,
        "ratios": {"wavenet": _ratios(wavenet, rounds), "bytenet": _ratios(bytenet, rounds)},
        "params": {"wavenet": 10, "bytenet": 8, "gru_w": 11, "gru_b": 9},
        "hidden": {"gru_w": 4, "gru_b": 4},
        "serial": {"wavenet": 11, "bytenet": 9},
    }


def test_cnn_faster_needs_every_interval_below_one() -> None:
    verdict = _verdict(cnn_parallel.CLAIMS, "cnn-trains-faster-than-rnn")
    holds, evidence = verdict(_parallel_metrics([0.8, 0.5, 0.3], [0.9, 0.6, 0.4]))
    assert holds, evidence
    assert "L=128: 0.8" in evidence and "rule: every interval below 1" in evidence
    # one length where ByteNet is not faster: the whole statement fails
    assert not verdict(_parallel_metrics([0.8, 0.5, 0.3], [1.2, 0.6, 0.4]))[0]
    # a point estimate below 1 whose interval crosses 1 is not enough (noise +-2%)
    assert not verdict(_parallel_metrics([0.8, 0.5, 0.3], [0.99, 0.6, 0.4]))[0]
    # too few rounds: no interval, no verdict
    holds, evidence = verdict(_parallel_metrics([0.5, 0.5, 0.3], [0.5, 0.6, 0.4], rounds=4))
    assert not holds and "no 95% interval" in evidence


def _slopes(wavenet: list[float], bytenet: list[float]) -> dict:
    s = {"wavenet": wavenet, "bytenet": bytenet, "gru_w": [1.0] * len(wavenet)}
    return {
        "lengths": [128, 256, 512],
        "slopes": {k: cnn_parallel.slope_summary(v) for k, v in s.items()},
    }


def test_linear_needs_both_slope_intervals_inside_the_band() -> None:
    verdict = _verdict(cnn_parallel.CLAIMS, "cnn-step-time-linear")
    near_one = [0.9 + 0.01 * i for i in range(20)]  # 0.90 .. 1.09
    holds, evidence = verdict(_slopes(near_one, near_one))
    assert holds, evidence
    assert not verdict(_slopes(near_one, [0.3 + 0.01 * i for i in range(20)]))[0]  # sublinear
    # median inside but the interval reaches past 1.25
    assert not verdict(_slopes([0.8 + 0.05 * i for i in range(20)], near_one))[0]
    holds, evidence = verdict(_slopes(near_one[:4], near_one[:4]))
    assert not holds and "no 95% interval" in evidence


def test_round_slopes_fit_each_round() -> None:
    lengths = [100, 200, 400]
    times = {
        cnn_parallel.contender("m", n): [r * n / 100 for r in (1.0, 2.0, 3.0)] for n in lengths
    }
    assert cnn_parallel.round_slopes(lengths, times, "m") == pytest.approx([1.0, 1.0, 1.0])
    times[cnn_parallel.contender("m", 400)] = [4.0, 8.0, 6.0]  # round 3: flat from 200 on
    slopes = cnn_parallel.round_slopes(lengths, times, "m")
    assert slopes[:2] == pytest.approx([1.0, 1.0]) and 0 < slopes[2] < 1


def test_race_times_every_contender_once_per_round(tmp_path) -> None:
    from replearn.engine import EngineConfig, RunContext, fit

    cfg = cnn_parallel.tiny()
    builders, params, _ = cnn_parallel.build_models(cfg)
    assert params["gru_w"] >= params["wavenet"] and params["gru_b"] >= params["bytenet"]
    models = {k: b() for k, b in builders.items()}
    opts = {k: torch.optim.Adam(m.parameters(), lr=1e-3) for k, m in models.items()}
    task = cnn_parallel.RaceTask(models, lengths=(8, 16), levels=cfg.levels, batch=2, warmup=1,
                                 seed=0)  # fmt: skip
    before = {k: m.state_dict()["head.weight"].clone() for k, m in models.items() if "gru" in k}
    engine = EngineConfig(max_steps=3, batch_size=2, log_every=3, checkpoint_every=0,
                          progress=False)  # fmt: skip
    fit(task, opts, None, cfg=engine, ctx=RunContext(out=tmp_path, seed=0, progress=False))
    assert set(task.times) == {f"{k}@L{n}" for k in models for n in (8, 16)}
    assert all(len(t) == 2 and min(t) > 0 for t in task.times.values())  # 3 steps - 1 warm-up
    assert all(not torch.equal(before[k], models[k].head.weight) for k in before)  # trained


def _wavenet_metrics(speedups: list[float], gap: float = 1e-12) -> dict:
    cached = [0.1 * (1 + 0.01 * (i % 3)) for i in range(len(speedups))]
    naive = [s * c for s, c in zip(speedups, cached, strict=True)]
    r = time_ratio({"naive": naive, "cached": cached}, "naive", "cached")
    return {
        "speedup_ratio": r.as_dict(), "cache_max_abs_logit_diff": gap,
        "cached_naive_agreement": 1.0, "n_generate": 300, "generation_time_s": r.t_b,
        "naive_generation_time_s": r.t_a, "receptive_field": 128,
    }  # fmt: skip


def test_wavenet_cache_needs_exact_logits_and_a_speedup_interval_above_one() -> None:
    verdict = _verdict(wavenet_demo.CLAIMS, "wavenet-cache-exact-and-faster")
    fast = [3.0 + 0.1 * (i % 4) for i in range(15)]
    holds, evidence = verdict(_wavenet_metrics(fast))
    assert holds, evidence
    assert "speed-up naive / cached 3.1" in evidence and "15 paired rounds" in evidence
    assert not verdict(_wavenet_metrics(fast, gap=1e-6))[0]  # logits differ
    # the median is above 1 but the interval is not (4 of 15 rounds slower)
    mixed = [0.9, 1.2, 1.3, 0.8, 1.4, 1.1, 0.95, 1.5, 1.2, 1.3, 0.85, 1.25, 1.1, 1.3, 1.2]
    assert not verdict(_wavenet_metrics(mixed))[0]
    holds, evidence = verdict(_wavenet_metrics(fast[:5]))
    assert not holds and "no 95% interval" in evidence
