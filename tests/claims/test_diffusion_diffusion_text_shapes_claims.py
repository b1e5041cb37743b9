"""Claims of ``diffusion-text-shapes`` (text-conditioned DDPM on captioned shapes with a
bag-of-words and a transformer text encoder), default config, seed 0. Reads no data file.

MEASURED holds the verdicts of the default config; None where the run could not judge the
claim (its verdict reads "not measured"): the test then checks that the claim is judged "not
measured" again, so a change of the models' quality shows up here.
"""

from __future__ import annotations

import pytest

from replearn.engine.context import RunContext
from replearn.engine.seed import seed_everything
from replearn.experiments.base import judge
from replearn.experiments.diffusion import diffusion_text_shapes as X

pytestmark = pytest.mark.slow

# Measured 2026-12-08 (`OMP_NUM_THREADS=1 replearn run diffusion-text-shapes`, load ~3-7 on 2
# cores: 975 s wall, 652 s CPU). The checker reads real images well (scene accuracy 0.958,
# 0.938, 0.975), but after 800 updates neither model draws the captioned objects: the
# attributes are right in 1.6% (bag) and 3.0% (transformer) of the samples, chance being 2.8%.
# At this budget the experiment cannot test what the text encoder buys; it needs a longer run.
MEASURED: dict[str, bool | None] = {
    # bag of words: largest relative distance caption vs swap 1.36e-07 (< 1e-6) on every seed;
    # transformer: smallest 0.018, 0.0066, 0.0072 (> 1e-3): holds (exact, by construction)
    "bag-of-words-cannot-tell-swaps": True,
    # scene accuracy transformer 0.016, bag 0.009; + 0.69 points (SE 1.20; per seed +0.69,
    # +2.78, -1.39), lower bound -2.82: fails
    "order-aware-encoder-separates": False,
    # not measured: in seed(s) of the transformer model no sample had both objects right, so the
    # relation given the attributes is undefined
    "relations-harder-than-attributes": None,
}


@pytest.mark.timeout(3600)
def test_claims_verdicts(tmp_path):
    seed_everything(0)  # as `replearn run` does
    ctx = RunContext(out=tmp_path, seed=0, progress=False)
    ctx.start()
    try:
        result = X.run(X.Config(), ctx)
    finally:
        ctx.close()
    verdicts = {row["id"]: row for row in judge(X.CLAIMS, result.metrics)}
    assert set(verdicts) == set(MEASURED)
    for claim_id, expected in MEASURED.items():
        row = verdicts[claim_id]
        if expected is None:
            assert not row["holds"] and "not measured" in row["evidence"], row["evidence"]
        else:
            assert row["holds"] is expected, f"{claim_id}: {row['evidence']}"
        assert (tmp_path / row["plot"]).exists()
