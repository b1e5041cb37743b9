"""Verdicts of the RLHF experiments on synthetic per-seed numbers: compare_seeds' Student-t
bound over >= 3 seeds (issue 21), "not measured" below 3 seeds, every part checked."""

from __future__ import annotations

from replearn.experiments.rlhf import grpo_arithmetic, sentiment_claims

# per-seed gains 1, 2, 4 points: mean 2.33 > 2 SE (1.76) but below t(0.95, 2) SE = 2.58
WEAK = (0.01, 0.02, 0.04)
CLEAR = (0.020, 0.021, 0.022)


def _grpo(gains: tuple[float, ...]) -> dict:
    return {"n_seeds": len(gains), "accuracy_sft": 0.2, "accuracy_grpo": 0.22, "kl": 0.1,
            "accuracy_sft_per_seed": [0.2] * len(gains),
            "accuracy_grpo_per_seed": [0.2 + g for g in gains]}  # fmt: skip


def test_grpo_verdict() -> None:
    holds, evidence = grpo_arithmetic._verdict(_grpo(CLEAR))
    assert holds and "GRPO - SFT = +2.10 points" in evidence and "3 seeds" in evidence
    assert not grpo_arithmetic._verdict(_grpo(WEAK))[0]
    assert grpo_arithmetic._verdict(_grpo((0.5,))) == (
        False,
        "not measured: needs >= 3 training seeds, got 1",
    )


def _sentiment(wins: tuple[float, ...], d2_beta: float = 0.34, d2_zero: float = 0.2) -> dict:
    n = len(wins)

    def policy(proxy: float, truth: float, d2: float) -> dict:
        return {"proxy_reward": proxy, "true_utility": truth, "distinct_2": d2, "kl": 1.0,
                "true_win_rate": sum(wins) / n, "proxy_reward_per_seed": [proxy] * n,
                "true_utility_per_seed": [truth + 0.1 * i for i in range(n)],
                "distinct_2_per_seed": [d2] * n}  # fmt: skip

    m = {"n_seeds": n, "beta": 0.1, "true_win_rate_per_seed": list(wins), "proxy_win_rate": 0.9,
         **policy(2.0, 7.0, d2_beta), "beta0": policy(3.0, 2.0, d2_zero)}  # fmt: skip
    m["beta0"]["proxy_reward_per_seed"] = [3.0, 3.1, 3.3]
    m["sft"] = {"distinct_2": 0.35}
    return m


def test_sentiment_win_rate_and_exploit_verdicts() -> None:
    wins = tuple(0.5 + c for c in CLEAR)
    holds, evidence = sentiment_claims._verdict_win(_sentiment(wins))
    assert holds and "PPO win rate - 0.5 = +0.021" in evidence
    assert not sentiment_claims._verdict_win(_sentiment(tuple(0.5 + w for w in WEAK)))[0]
    holds, evidence = sentiment_claims._verdict_exploit(_sentiment(wins))
    assert holds, evidence
    # the KL-penalized policy loses diversity on one seed: the statement's last part fails
    m = _sentiment(wins)
    m["distinct_2_per_seed"] = [0.34, 0.1, 0.34]
    assert not sentiment_claims._verdict_exploit(m)[0]
    assert sentiment_claims._verdict_exploit(_sentiment((0.9,)))[1].startswith("not measured")
