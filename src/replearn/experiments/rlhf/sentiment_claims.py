"""Claims of ``rlhf-sentiment`` and their verdicts (the experiment is in ``rlhf_sentiment``).

The PPO claims pair the PPO seeds (the KL-penalized run and the beta = 0 run share each seed)
and use :func:`replearn.experiments.stats.compare_seeds`: the one-sided 95% Student-t lower
bound of the mean difference must be above zero (fewer than 3 seeds: "not measured"); the
per-policy conditions (distinct-2) are checked on every seed. The reward model and the SFT
model are trained once, so the calibration and best-of-n claims are properties of that one
model (one training seed), as their statements say.
"""

from __future__ import annotations

from typing import Any

from replearn.experiments.base import Claim
from replearn.experiments.rlhf.sentiment_stages import log_fit
from replearn.experiments.stats import SeedComparison, compare_seeds, too_few_seeds


def _not_measured(m: dict[str, Any]) -> str | None:
    return too_few_seeds(m["n_seeds"])


def win_comparison(m: dict[str, Any]) -> SeedComparison:
    """Ground-truth win rate of PPO over SFT per seed vs 0.5 (SFT against itself)."""
    wins = m["true_win_rate_per_seed"]
    return compare_seeds(wins, [0.5] * len(wins), label_x="PPO win rate", label_y="0.5")


def exploit_comparisons(m: dict[str, Any]) -> tuple[SeedComparison, SeedComparison]:
    """beta = 0 vs beta per seed: reward-model score (beta = 0 higher), ground truth (lower)."""
    z = m["beta0"]
    proxy = compare_seeds(z["proxy_reward_per_seed"], m["proxy_reward_per_seed"],
                          label_x="RM score beta=0", label_y=f"beta={m['beta']:g}")  # fmt: skip
    truth = compare_seeds(m["true_utility_per_seed"], z["true_utility_per_seed"],
                          label_x=f"true utility beta={m['beta']:g}", label_y="beta=0")  # fmt: skip
    return proxy, truth


def _verdict_win(m: dict[str, Any]) -> tuple[bool, str]:
    if missing := _not_measured(m):
        return False, missing
    c = win_comparison(m)
    per_seed = ", ".join(f"{w:.3f}" for w in m["true_win_rate_per_seed"])
    return c.holds, (
        f"ground-truth win rate of PPO (beta={m['beta']}) over SFT samples "
        f"{m['true_win_rate']:.3f} (per seed {per_seed}); {c.evidence()}; under the reward "
        f"model {m['proxy_win_rate']:.3f}; KL {m['kl']:.2f} nats/response"
    )


def _verdict_exploit(m: dict[str, Any]) -> tuple[bool, str]:
    if missing := _not_measured(m):
        return False, missing
    z, b, s = m["beta0"], m, m["sft"]
    proxy, truth = exploit_comparisons(m)
    floor = 0.9 * s["distinct_2"]
    diversity_falls = all(d < floor for d in z["distinct_2_per_seed"])
    prevented = all(d >= floor for d in b["distinct_2_per_seed"]) and win_comparison(m).holds
    holds = proxy.holds and (truth.holds or diversity_falls) and prevented
    per = ", ".join(f"{d:.3f}" for d in b["distinct_2_per_seed"])
    per0 = ", ".join(f"{d:.3f}" for d in z["distinct_2_per_seed"])
    return holds, (
        f"beta=0 vs beta={m['beta']}: reward-model score {z['proxy_reward']:.3f} vs "
        f"{b['proxy_reward']:.3f} ({proxy.evidence()}); ground-truth utility "
        f"{z['true_utility']:.3f} vs {b['true_utility']:.3f} ({truth.evidence()}); distinct-2 "
        f"per seed beta=0 {per0}, beta={m['beta']} {per} (SFT {s['distinct_2']:.3f}, 90% "
        f"{floor:.3f}); KL {z['kl']:.2f} vs {b['kl']:.2f}; true win rate "
        f"{z['true_win_rate']:.3f} vs {b['true_win_rate']:.3f} (distinct-2 conditions on every "
        "seed; win rate above 0.5 by the first claim's rule)"
    )


def _verdict_tau(m: dict[str, Any]) -> tuple[bool, str]:
    best = min(m["ece_by_tau"].values())
    holds = m["ece_learned_tau"] < m["ece_tau_1"] and m["ece_learned_tau"] <= best + 0.02
    grid = ", ".join(f"{t}: {e:.3f}" for t, e in m["ece_by_tau"].items())
    return holds, (
        f"one reward model (one training seed): learned tau {m['tau']:.2f}: ECE "
        f"{m['ece_learned_tau']:.3f} vs {m['ece_tau_1']:.3f} at tau=1 (grid {grid}); held-out "
        f"accuracy {m['reward_model_accuracy']:.3f}"
    )


def _verdict_bon(m: dict[str, Any]) -> tuple[bool, str]:
    bon = m["best_of_n"]
    slope, r2 = log_fit(bon["n"], bon["rm_reward"])
    holds = slope > 0 and r2 >= 0.9
    pts = ", ".join(f"{n}: {y:.3f}" for n, y in zip(bon["n"], bon["rm_reward"], strict=True))
    truth = ", ".join(f"{u:.2f}" for u in bon["true_utility"])
    return holds, (
        f"one SFT model and reward model (one training seed): mean best-of-n reward-model "
        f"score ({pts}); slope {slope:.3f} per unit log n, "
        f"R^2 {r2:.3f}; ground truth of the chosen ({truth})"
    )


CLAIMS = (
    Claim(
        "rlhf-raises-true-win-rate",
        "PPO against the learned reward model with a KL penalty raises the ground-truth "
        "(annotator) win rate over the SFT policy; holds if the 95% lower bound (Student t) "
        "of the mean win rate over >= 3 PPO seeds is above 0.5.",
        _verdict_win,
        "ppo_curves.png",
    ),
    Claim(
        "kl-penalty-prevents-reward-hacking",
        "With beta = 0 the policy exploits the learned reward: its reward-model score exceeds "
        "the KL-penalized policy's while its ground-truth utility is lower (each paired over "
        ">= 3 seeds, 95% lower bound above 0) or its distinct-2 falls below 90% of the SFT "
        "policy's (every seed); and the KL-penalized policy keeps >= 90% of SFT's distinct-2 "
        "(every seed) with a win rate above 0.5.",
        _verdict_exploit,
        "ppo_curves.png",
    ),
    Claim(
        "rm-temperature-calibrates",
        "The reward model's learned temperature calibrates its preference probabilities on "
        "held-out pairs: ECE with the learned tau is below ECE at tau = 1 and within 0.02 of "
        "the best tau on a grid (one reward model, one training seed).",
        _verdict_tau,
        "rm_calibration.png",
    ),
    Claim(
        "best-of-n-grows-with-log-n",
        "The reward-model score of the best of n SFT samples grows roughly linearly in log n "
        "(positive slope, R^2 >= 0.9 over n = 1, 2, 4, ...; one SFT model and one reward "
        "model, one training seed).",
        _verdict_bon,
        "best_of_n.png",
    ),
)
