"""Pieces of the long-range-models experiment: the recall task, the random S4 init, and the
"trains faster" verdict on 95% intervals of paired time ratios (hand-made metrics)."""

from __future__ import annotations

import pytest
import torch

from replearn.experiments.sequence.long_range_models import (
    CLAIMS,
    Config,
    build,
    delayed_recall,
    randomize_s4,
    time_updates,
    timing_verdict,
)
from replearn.sequence.ssm.hippo import s4d_legs


def test_delayed_recall_label_is_the_first_symbol():
    x, y = delayed_recall(100, 12, 5, seed=0).tensors
    assert x.shape == (100, 12) and (y == x[:, 0]).all()
    assert int(x.max()) == 4 and int(x.min()) == 0


def test_random_init_replaces_hippo_and_stays_stable():
    cfg = Config()
    model = build("s4-hippo", cfg, 16)
    k = model.blocks[0].s4.kernel
    legs, _ = s4d_legs(cfg.s4_state)
    torch.testing.assert_close(k.im[0].double(), legs.imag, rtol=1e-5, atol=1e-5)
    randomize_s4(model, torch.Generator().manual_seed(0))
    Lambda, *_ = k.parts()
    assert (Lambda.real < 0).all()  # stable
    assert not torch.allclose(k.im[0].double(), legs.imag, atol=1e-2)
    assert model(torch.randint(0, cfg.num_symbols, (2, 16))).shape == (2, cfg.num_symbols)


def test_every_kind_classifies():
    cfg = Config(hidden=8, s4_state=4, s4_layers=1)
    x = torch.randint(0, cfg.num_symbols, (3, 10))
    for kind in ("lstm", "gru", "s4-hippo", "s4-random", "transformer"):
        assert build(kind, cfg, 10)(x).shape == (3, cfg.num_symbols)


def _timing(ratios: list[tuple], growth: tuple) -> dict:
    ns = [32, 128, 512]
    rows = [{"label_a": f"transformer_L{n}", "label_b": f"lstm_L{n}", "ratio": r, "lo": lo,
             "hi": hi, "rounds": 15, "t_a": 0.1 * r, "t_b": 0.1}
            for n, (r, lo, hi) in zip(ns, ratios, strict=True)]  # fmt: skip
    g = dict(zip(("ratio", "lo", "hi"), growth, strict=True)) | {"rounds": 15}
    return {"timing_lengths": ns, "timing_ratios": rows, "lstm_growth_ratio": g}


FAST = [(0.5, 0.4, 0.6), (0.3, 0.25, 0.35), (0.2, 0.15, 0.25)]


@pytest.mark.parametrize(
    ("ratios", "growth", "expected"),
    [
        (FAST, (2.5, 2.0, 3.0), True),
        ([(0.5, 0.4, 0.6), (0.9, 0.8, 1.05), (0.2, 0.15, 0.25)], (2.5, 2.0, 3.0), False),
        ([(2.0, 1.8, 2.2), *FAST[1:]], (2.5, 2.0, 3.0), False),  # slower at the shortest L
        (FAST, (1.1, 0.9, 1.3), False),  # the LSTM's growth not above the transformer's
        ([(r, None, None) for r, _, _ in FAST], (2.5, None, None), False),  # < 6 rounds
    ],
)
def test_trains_faster_part_reads_every_interval(ratios, growth, expected) -> None:
    holds, evidence = timing_verdict(_timing(ratios, growth))
    assert holds is expected
    assert ("no 95% interval" in evidence) is (growth[1] is None)


def test_transformer_claim_needs_accuracy_and_time() -> None:
    verdict = next(c for c in CLAIMS if c.id == "transformer-beats-rnn-long-range").verdict
    m = _timing(FAST, (2.5, 2.0, 3.0)) | {
        "long_length": 128, "num_symbols": 8, "transformer_params": 29_000, "lstm_params": 9_000,
        "transformer_long_accuracy": [0.88, 0.90, 0.86], "lstm_long_accuracy": [0.12, 0.13, 0.12],
    }  # fmt: skip
    assert verdict(m)[0]
    assert not verdict(m | {"transformer_long_accuracy": [0.12, 0.14, 0.11]})[0]
    assert not verdict(m | _timing(FAST, (1.1, 0.9, 1.3)))[0]


def test_time_updates_returns_paired_ratios() -> None:
    cfg = Config(hidden=8, s4_state=4, timing_lengths=(4, 8), timing_rounds=2)
    out = time_updates(cfg)
    assert len(out["lstm_update_ms"]) == 2 and len(out["timing_ratios"]) == 2
    assert out["lstm_growth_ratio"]["rounds"] == 2 and out["lstm_growth_ratio"]["lo"] is None
