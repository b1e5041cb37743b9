"""Claims of the RL topic, run with their default configs and seed 0.

Each test asserts the verdict that was measured (numbers in the comments, from
``replearn run <name>`` on the shared 2-core machine, 2026-12-07, heavily loaded: times are
not meaningful, verdicts are); a change of verdict means the method or the experiment changed.
Experiments whose default run was not completed are not pinned here (see the RL report).
"""

from __future__ import annotations

import pytest

from replearn.engine.context import RunContext
from replearn.experiments.base import get_experiment, judge

# in the default suite: default configs of a few seconds CPU (dp-gridworlds 1.8 s, cliff-td
# 3.3 s, measured at load ~15), tabular and seeded; the others are slow
FAST = {"dp-gridworlds", "cliff-td"}

# experiment -> {claim id: measured verdict with the default config, seed 0}
MEASURED = {
    # FrozenLake: PI 6 iterations vs VI 184 sweeps; CliffWalking: PI 15 vs VI 15 (a
    # deterministic shortest-path world: VI is exact after as many sweeps as the longest
    # optimal path, and PI needs as many improvements), so the whole statement fails.
    # Greedy Q* vs 4132 deterministic policies: gap 0.
    "dp-gridworlds": {"pi-fewer-iterations-than-vi": False, "greedy-q-star-is-optimal": True},
    # re-measured 2026-12-08 after the switch to compare_seeds (commit 94e931a's code):
    # OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice -n 19 replearn run cliff-td; wall 52 s, user
    # CPU 9.2 s, load 1.0 -> 7.7. Greedy return: Q-learning -13 on 5/5 seeds, SARSA -17 on 5/5;
    # online return over the last 100 episodes: SARSA -26.4, Q-learning -51.4; SARSA -
    # Q-learning +25.08 (SE 2.41 over 5 seeds; per seed +20.93, +32.54, +22.46, +20.50,
    # +28.95), 95% Student-t lower bound +19.95 > 0
    "cliff-td": {"qlearning-optimal-sarsa-safe": True, "sarsa-higher-online-return": True},
    # re-measured 2026-12-08 after the switch to compare_seeds (commit 94e931a's code):
    # OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice -n 19 replearn run ppo-clip-kl; wall 13 min 35 s,
    # user CPU 90 s, load 13 -> 14. Mean KL per update: clipped 0.0046 (0.0050, 0.0047, 0.0040),
    # unclipped 0.130 (0.104, 0.167, 0.119); log KL unclipped - log KL clipped +3.331 (SE 0.155,
    # 3 seeds; per seed +3.040, +3.570, +3.383), 95% Student-t lower bound +2.878 > 0; largest
    # |ratio - 1| after a clipped update per seed 0.49, 0.89, 0.89 (> 0.2)
    "ppo-clip-kl": {"ppo-clip-smaller-kl": True, "ppo-clip-does-not-bound-kl": True},
    # re-measured 2026-12-08 after the switch to compare_seeds (commit 94e931a's code):
    # OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice -n 19 replearn run pg-variance; wall 4 min 19 s,
    # user CPU 21.6 s, load 8 -> 15. Variance ratio vs REINFORCE: baseline 0.234/0.267/0.242,
    # log var REINFORCE - log var baseline +1.397 (SE 0.040, 3 seeds; per seed +1.452, +1.320,
    # +1.420), 95% Student-t lower bound +1.281 > 0; actor-critic 0.184/0.162/0.200, +1.706
    # (SE 0.061; +1.690, +1.819, +1.610), lower bound +1.528 > 0 (same numbers as 2026-12-07)
    "pg-variance": {"baseline-reduces-pg-variance": True, "actor-critic-lower-variance": True},
    # final 20% of training episodes, seeds 0/1/2: proxy return 5.10/5.10/5.10 (intended
    # policy 1.30), true return 0.00/0.00/0.00 after a peak of 0.99/1.00/0.96
    "reward-hacking": {"proxy-reward-is-hacked": True},
    # greedy evaluation over 100 episodes after 100,096 steps: 500.0 on each of 3 seeds
    # (process CPU time 2 min 13 s for the whole run, 3 seeds and evaluations included)
    "ppo-cartpole": {"ppo-solves-cartpole": True},
    # second-half training return: with target 136.8, without 9.6 (paired difference
    # 127.2 +- 34.7 SE, 3 seeds); greedy evaluation 401.7 vs 9.4. The verdict's second
    # condition fails: the drop from the best 20-episode window is 41.9 with the target
    # and 13.0 without (the run without a target network never learns, so cannot drop).
    # 2026-12-08 (issue 21): both parts now compare_seeds over the 3 seeds (95% Student-t lower
    # bound above 0). RE-MEASURED after the change (commit 94e931a's code):
    # OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice -n 19 replearn run dqn-target-network
    # --no-progress; wall 20 min 46 s, user CPU 295 s, load 10.7 -> 8.9. Same numbers as
    # 2026-12-07: second-half return with 165.4/177.3/67.7, without 9.6/9.6/9.5: +127.2 (SE 34.7;
    # +155.8, +167.7, +58.2), lower bound +26.0 (holds); drop from the best window with
    # 30.2/0.0/95.6, without 13.5/12.4/13.0: smaller with the target by -28.95 (SE 28.1;
    # -16.65, +12.4, -82.6), lower bound -111.0 (fails), so the claim fails.
    "dqn-target-network": {"target-network-stabilizes-dqn": False},
    # first measured 2026-12-08 (fifth session; run started at commit 7170f05):
    # OMP_NUM_THREADS=1 replearn run dqn-cartpole --no-progress; wall 11 min 13 s, user CPU 475 s,
    # load 5 -> 7 (other jobs alongside). RL-zoo's CartPole settings, 100,096 environment steps
    # per seed; greedy evaluation over 100 episodes: 98.2, 168.1, 18.4 (mean 94.9): fails on
    # every seed (stable-baselines3 with the same settings: 131.6, benchmarks/results/
    # rl_dqn_cartpole.md). PPO solves it (ppo-cartpole above).
    "dqn-cartpole": {"dqn-solves-cartpole": False},
}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=() if n in FAST else pytest.mark.slow) for n in sorted(MEASURED)]
)
def test_claims_verdicts(name, tmp_path):
    exp = get_experiment(name)
    ctx = RunContext(out=tmp_path, seed=0, progress=False)
    ctx.start()
    try:
        result = exp.run(exp.config(), ctx)
    finally:
        ctx.close()
    verdicts = {row["id"]: row for row in judge(exp.claims, result.metrics)}
    assert set(verdicts) == set(MEASURED[name])
    for claim_id, expected in MEASURED[name].items():
        row = verdicts[claim_id]
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        if row["plot"] is not None:
            assert (tmp_path / row["plot"]).exists()
    for plot in result.plots:
        assert plot.exists() and plot.stat().st_size > 0
