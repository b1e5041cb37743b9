"""``rnn-memory``'s claims are judged on every one of >= 3 training seeds (issue 21): gated
networks solve and the vanilla RNN fails on each seed. Fabricated metrics, no training."""

from __future__ import annotations

import pytest

from replearn.experiments.sequence.rnn_memory import (
    CLAIMS,
    Config,
    gated_beat_vanilla_verdict,
    gated_long_verdict,
)


def metrics(**per_seed: list[float]) -> dict:
    """Metrics of lengths 50 and 100, 3 seeds; ``per_seed`` overrides e.g. ``rnn_T50=[...]``."""
    m: dict = {"lengths": [50, 100], "kinds": ["rnn", "lstm", "gru"], "seeds": [0, 1, 2]}
    m |= {"solved_mse": 0.01, "baseline_mse": 1 / 6, "steps": 1500}
    for n in (50, 100):
        m[f"rnn_T{n}_test_mse"] = [0.17, 0.16, 0.18]
        m[f"lstm_T{n}_test_mse"] = [0.001, 0.002, 0.003]
        m[f"gru_T{n}_test_mse"] = [0.0003, 0.0004, 0.0005]
    return m | {f"{k.split('_')[0]}_{k.split('_')[1]}_test_mse": v for k, v in per_seed.items()}


def test_claims_use_the_seed_verdicts() -> None:
    assert [c.verdict for c in CLAIMS] == [gated_beat_vanilla_verdict, gated_long_verdict]


def test_both_hold_when_every_seed_solves_and_the_rnn_fails_on_every_seed() -> None:
    holds, evidence = gated_beat_vanilla_verdict(metrics())
    assert holds is True and "on every one of 3 seeds, at T in [50, 100]" in evidence
    assert "RNN 0.1700/0.1600/0.1800" in evidence
    holds, evidence = gated_long_verdict(metrics())
    assert holds is True and "solved on LSTM 3/3, GRU 3/3 seeds" in evidence


@pytest.mark.parametrize(
    "change",
    [
        {"lstm_T50": [0.001, 0.02, 0.001], "lstm_T100": [0.001, 0.02, 0.001]},  # one seed unsolved
        {"gru_T50": [0.001, 0.001, 0.05], "gru_T100": [0.001, 0.001, 0.05]},
        {"rnn_T50": [0.17, 0.001, 0.17], "rnn_T100": [0.17, 0.05, 0.17]},  # the RNN learns once
    ],
)
def test_adding_fails_when_one_seed_breaks_it_at_every_length(change) -> None:
    holds, evidence = gated_beat_vanilla_verdict(metrics(**change))
    assert holds is False and "at T in no length" in evidence


def test_adding_holds_at_the_one_length_where_every_seed_agrees() -> None:
    holds, evidence = gated_beat_vanilla_verdict(metrics(rnn_T100=[0.17, 0.05, 0.17]))
    assert holds is True and "at T in [50]" in evidence


def test_long_fails_when_one_seed_of_one_gated_network_misses() -> None:
    holds, evidence = gated_long_verdict(metrics(lstm_T100=[0.001, 0.0107, 0.001]))
    assert holds is False and "solved on LSTM 2/3, GRU 3/3 seeds" in evidence


def test_fewer_than_three_seeds_or_a_missing_kind_is_not_measured() -> None:
    m = metrics()
    m["seeds"] = [0]
    for key in [k for k in m if k.endswith("_test_mse")]:
        m[key] = m[key][:1]
    for verdict in (gated_beat_vanilla_verdict, gated_long_verdict):
        holds, evidence = verdict(m)
        assert holds is False and evidence.startswith("not measured: needs >= 3 training seeds")
    m = metrics() | {"kinds": ["lstm", "gru"]}
    for key in [k for k in m if k.startswith("rnn_")]:
        del m[key]
    for verdict in (gated_beat_vanilla_verdict, gated_long_verdict):
        holds, evidence = verdict(m)
        assert holds is False and evidence.startswith("not measured: kinds lack ['rnn']")


def test_config_needs_a_seed() -> None:
    with pytest.raises(ValueError, match="seed"):
        Config(seeds=())
