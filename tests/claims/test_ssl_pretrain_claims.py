"""Claims of the ssl pretraining experiments (``<method>-mnist1d``, ``clip-fashion``,
``context-fashion``), run with their default configs and seed 0.

Each test asserts the verdict that was measured (numbers in the comments, from
``python -m replearn run <name>`` on a busy 2-core CPU); a change of verdict means the method
or the experiment changed.
"""

from __future__ import annotations

import pytest

from replearn.engine.context import RunContext
from replearn.experiments.base import get_experiment, judge

pytestmark = pytest.mark.slow

# experiment -> {claim id: measured verdict with the default config, seed 0}
#
# 2026-12-08 (issue 21): the improvement verdicts moved from "mean paired difference > 2 SE" to
# compare_seeds (one-sided 95% Student-t lower bound over the 3 seeds, t = 2.920), the
# zero-shot claim from "mean - 2 SE > 3x chance" to the same bound against 3x chance, and the
# collapse claims now require the full method to stay uncollapsed on every seed. The verdicts
# below were RE-JUDGED FROM THE RECORDED NUMBERS UNDER COMPARE_SEEDS' T BOUND (NOT RE-RUN):
# the per-seed differences are the same numbers, only the threshold changed; the collapse
# claims were False and a stricter condition cannot make them hold. Lower bounds:
# simclr raw +23.67 - 2.920 x 0.55 = +22.06, head +13.60 - 2.920 x 1.44 = +9.40, 1% labels
# +6.87 - 2.920 x 0.58 = +5.18 (all hold); moco queue -0.27 - 2.920 x 0.88 = -2.84, momentum
# -0.33 - 2.920 x 0.95 = -3.10 (fail); ijepa +6.30 - 2.920 x 1.29 = +2.53 (holds); context
# +0.19 - 2.920 x 0.19 = -0.36 (fails); clip-mnist1d 65.2 - 30 - 2.920 x 2.08 = +29.1 points
# above 3x chance, clip-fashion 93.7 - 30 - 2.920 x 0.61 = +61.9 (hold). Verdicts unchanged.
MEASURED: dict[str, dict[str, bool]] = {
    # probe 56.6% vs raw 32.9% (+23.67 points, SE 0.55); with vs without head 56.6% vs 43.0%
    # (+13.60, SE 1.44); 1% labels: SSL + probe 27.5% vs from scratch 20.6% (+6.87, SE 0.58).
    # 1123 s on a busy 2-core CPU (load ~25).
    "simclr-mnist1d": {"ssl-beats-raw": True, "projection-head-helps": True, "low-label": True},
    # Does NOT hold in 400 steps: neither ablation collapses. Embedding std (1 = isotropic,
    # collapsed < 0.1): full 0.832, no predictor 0.235, no EMA 0.791; probes 51.1 / 50.3 / 50.7%.
    "byol-mnist1d": {"byol-ablations-collapse": False},
    # zero-shot from prompts 65.2% (SE 2.08, 3 seeds) vs chance 10%; linear probe 76.7%.
    "clip-mnist1d": {"clip-zero-shot": True},
    # effective rank of the embeddings: full 15.4, without the redundancy term 4.5 (std 0.95
    # both: the dimensions stay spread but carry the same signal); probes 52.9 / 51.0%.
    "barlow-mnist1d": {"barlow-no-redundancy-collapses": True},
    # default data = digits: zero-shot 93.7% (SE 0.61, 3 seeds) vs chance 10%; probe 97.5%.
    "clip-fashion": {"clip-zero-shot": True},
    # Neither holds in 400 steps of 128: probe by queue size K=16 54.3%, K=256 54.0%, K=4096
    # 55.2% (small->middle -0.27 points, SE 0.88); momentum 0.99 vs 0: 54.0% vs 54.3%
    # (-0.33, SE 0.95).
    "moco-mnist1d": {"negatives-up-to-a-point": False, "momentum-encoder": False},
    # probe of the target encoder 55.9% vs untrained 49.6% (+6.30 points, SE 1.29, 3 seeds).
    "ijepa-mnist1d": {"ijepa-learns": True},
    # Does NOT hold as a whole: without centring the teacher collapses (std 0.089 < 0.1), without
    # sharpening it does not (std 0.455); full DINO 0.592. Probes 52.6 / 50.7 / 47.7%.
    "dino-mnist1d": {"dino-ablations-collapse": False},
    # default data = digits (24 x 24): probe with gap and jitter 96.2% vs without 96.0%
    # (+0.19 points, SE 0.19): no measurable shortcut effect.
    "context-fashion": {"gap-jitter-helps": False},
}


@pytest.mark.parametrize("name", sorted(MEASURED))
def test_claims_verdicts(name, tmp_path):
    exp = get_experiment(name)
    result = exp.run(exp.config(), RunContext(out=tmp_path, seed=0))
    verdicts = {row["id"]: row for row in judge(exp.claims, result.metrics)}
    assert set(verdicts) == set(MEASURED[name])
    for claim_id, expected in MEASURED[name].items():
        row = verdicts[claim_id]
        assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        if row["plot"] is not None:
            assert (tmp_path / row["plot"]).exists()
