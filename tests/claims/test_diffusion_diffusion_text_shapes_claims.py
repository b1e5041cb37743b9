"""Claims of ``diffusion-text-shapes`` (text-conditioned DDPM on captioned shapes with a
bag-of-words and a transformer text encoder), default config, seed 0. Reads no data file.

MEASURED holds the verdicts of the default config; None where the run could not judge the
claim (its verdict reads "not measured"): ``run_default`` then checks that it reads "not
measured" again, so a change of the models' quality shows up here.
"""

from __future__ import annotations

import pytest

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
def test_claims_verdicts(tmp_path, run_default):
    _, verdicts = run_default("diffusion-text-shapes", MEASURED)
    for row in verdicts.values():
        assert (tmp_path / row["plot"]).exists()
