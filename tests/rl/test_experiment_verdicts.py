"""Verdicts of the RL experiments on synthetic per-seed numbers: compare_seeds' Student-t bound
over >= 3 seeds (issue 21), "not measured" below 3 seeds, every part of the statement checked."""

from __future__ import annotations

import math

from replearn.experiments.rl import cliff_td, dqn_target_network, pg_variance, ppo_clip_kl

# per-seed differences 1, 2, 4: mean 2.33 > 2 SE (1.76) but below t(0.95, 2) SE = 2.58, so the
# old "> 2 SE" rule held and compare_seeds' bound does not
WEAK = (1.0, 2.0, 4.0)
CLEAR = (2.0, 2.1, 2.2)


def _cliff(diffs: tuple[float, ...]) -> dict:
    m = {"n_seeds": len(diffs), "last": 100, "online_return_sarsa": 0.0,
         "online_return_q_learning": 0.0}  # fmt: skip
    for i, d in enumerate(diffs):
        m[f"online_return_sarsa_seed{i}"] = -20.0 + d
        m[f"online_return_q_learning_seed{i}"] = -20.0
    return m


def test_cliff_online_claim() -> None:
    holds, evidence = cliff_td._online_claim(_cliff(CLEAR))
    assert holds and "SARSA - Q-learning = +2.1" in evidence and "3 seeds" in evidence
    assert not cliff_td._online_claim(_cliff(WEAK))[0]
    assert cliff_td._online_claim(_cliff((5.0, 5.0))) == (
        False,
        "not measured: needs >= 3 training seeds, got 2",
    )


def _pg(log_reductions: tuple[float, ...]) -> dict:
    m = {"n_seeds": len(log_reductions), "n_batches": 4, "batch_steps": 64}
    for i, r in enumerate(log_reductions):
        m[f"var_reinforce_seed{i}"] = 10.0
        for name in ("baseline", "actor_critic"):
            m[f"var_{name}_seed{i}"] = 10.0 * math.exp(-r)
            m[f"var_ratio_{name}_seed{i}"] = math.exp(-r)
    return m


def test_pg_variance_claims_compare_log_variances() -> None:
    for name in ("baseline", "actor_critic"):
        holds, evidence = pg_variance._claim(name)(_pg(CLEAR))
        assert holds and f"log var REINFORCE - log var {name} = +2.1" in evidence
        assert not pg_variance._claim(name)(_pg(WEAK))[0]
        assert not pg_variance._claim(name)(_pg(tuple(-x for x in CLEAR)))[0]  # variance rose
        assert "not measured" in pg_variance._claim(name)(_pg((1.0,)))[1]


def _ppo(log_reductions: tuple[float, ...]) -> dict:
    m = {"n_seeds": len(log_reductions), "kl_clipped": 0.01, "kl_unclipped": 0.1}
    for i, r in enumerate(log_reductions):
        m[f"kl_unclipped_seed{i}"] = 0.1
        m[f"kl_clipped_seed{i}"] = 0.1 * math.exp(-r)
    return m


def test_ppo_clip_smaller_kl() -> None:
    holds, evidence = ppo_clip_kl._smaller(_ppo(CLEAR))
    assert holds and "log KL unclipped - log KL clipped = +2.1" in evidence
    assert not ppo_clip_kl._smaller(_ppo(WEAK))[0]
    assert ppo_clip_kl._smaller(_ppo((3.0,)))[0] is False


def _dqn(half: tuple[float, ...], drop: tuple[float, ...]) -> dict:
    m = {"n_seeds": len(half)}
    for key in ("second_half", "collapse", "eval"):
        for v in ("target", "no_target"):
            m[f"{key}_{v}"] = 0.0
    for i, (h, d) in enumerate(zip(half, drop, strict=True)):
        m[f"second_half_target_seed{i}"], m[f"second_half_no_target_seed{i}"] = 100.0 + h, 100.0
        m[f"drop_target_seed{i}"], m[f"drop_no_target_seed{i}"] = 50.0 - d, 50.0
    return m


def test_dqn_target_network_needs_higher_return_and_smaller_drop() -> None:
    holds, evidence = dqn_target_network._claim(_dqn(CLEAR, CLEAR))
    assert holds and "target - no target = +2.1" in evidence
    assert not dqn_target_network._claim(_dqn(CLEAR, WEAK))[0]  # drop not clearly smaller
    assert not dqn_target_network._claim(_dqn(WEAK, CLEAR))[0]  # return not clearly higher
    assert not dqn_target_network._claim(_dqn(CLEAR, (-2.0, -2.1, -2.2)))[0]  # larger drop
    assert "not measured" in dqn_target_network._claim(_dqn((9.0,), (9.0,)))[1]
