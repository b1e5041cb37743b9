"""Claims of the regularization topic, run with their default configs and seed 0.

Each test asserts the verdict that was measured (the evidence strings quote the
numbers); a change of verdict means a method or an experiment changed. Every
default config trains on Fashion-MNIST and needs ``$REPLEARN_DATA``.
"""

from __future__ import annotations

import pytest

from replearn.engine.context import RunContext
from replearn.engine.seed import seed_everything
from replearn.experiments.base import get_experiment, judge

pytestmark = [
    pytest.mark.slow,
    pytest.mark.requires_data(
        "fashion-mnist", reason="REPLEARN_DATA with fashion-mnist/ is not set"
    ),
]

# experiment -> {claim id: measured verdict with the default config, seed 0}
MEASURED = {
    # over 3 training seeds (issue 21), measured 2026-12-08 (`OMP_NUM_THREADS=1
    # REPLEARN_DATA=/work/shared/data nice -n 19 replearn run regularize-penalties`, load
    # ~13-16: 827 s wall, 129.5 CPU s): near-zero fraction (|w| <= 1e-3) L1 0.768, 0.781, 0.786;
    # none 0.0199, 0.0196, 0.0196; L2 0.0551, 0.0555, 0.0539. L1 - 2 x none = +0.739 (SE 0.0057),
    # lower bound +0.723; L1 - 2 x L2 = +0.669 (SE 0.0060), lower bound +0.651: l1-sparse holds.
    # ||W||_2 L2 15.27, 15.29, 15.37 vs none 25.17, 25.24, 25.17: 9.88 smaller (SE 0.043), lower
    # bound 9.76; near-zero fraction L2 below L1's by 0.724 (SE 0.0057), lower bound 0.707:
    # l2-small holds (both held with one seed too). Test accuracy none 0.8614, 0.8554, 0.8615;
    # L1 0.8478, 0.8391, 0.8544; L2 0.8625, 0.8270, 0.8639.
    "regularize-penalties": {"l1-sparse": True, "l2-small": True},
    # over 3 training seeds (issue 21), measured 2026-12-07 at load ~30 (1961 s wall):
    # test ECE 0.0415 smoothed vs 0.0904 hard (means); hard - smoothed = +0.0488 (SE 0.0014;
    # per seed +0.047, +0.048, +0.052), lower bound +0.045: holds; scatter ratio 0.5264 vs
    # 0.5233, hard - smoothed = -0.0031 (SE 0.030; per seed -0.014, -0.048, +0.053), lower
    # bound -0.089: FAILS (it held with one seed: the tighter clusters do not survive the
    # seed-to-seed spread).
    "regularize-label-smoothing": {"ls-calibration": True, "ls-clusters": False},
    # over 3 training seeds (issue 21), measured 2026-12-07 (`replearn run regularize-dropout`,
    # one torch thread, load ~20-28: 1876 s wall, 244 s CPU): train - validation accuracy gap
    # 0.1422 with dropout vs 0.1477 without (means; per seed dropout 0.1460, 0.1460, 0.1345,
    # none 0.1475, 0.1455, 0.1500); gap (none) - gap (dropout) = +0.55 points (SE 0.50; per seed
    # +0.15, -0.05, +1.55), 95% lower bound -0.92: FAILS (it held with one seed). Test accuracy
    # 0.8308 vs 0.8291; validation - train loss 0.839 vs 1.350 (dropout shrinks the loss gap).
    "regularize-dropout": {"dropout-gap": False},
    # over 3 training seeds (issue 21), measured 2026-12-07 (`replearn run
    # regularize-stochastic-depth`, one torch thread, load ~15-28: 2385 s wall, 324 s CPU):
    # train - validation accuracy gap 0.1260 with stochastic depth vs 0.1240 with every block
    # kept (means; per seed 0.1257, 0.1288, 0.1235 vs 0.1230, 0.1224, 0.1266); gap (kept) - gap
    # (stochastic depth) = -0.20 points (SE 0.28; per seed -0.27, -0.64, +0.31), lower bound
    # -1.01: FAILS (held with one seed). Test accuracy 0.8442 vs 0.8398 (per seed 0.8473, 0.8414,
    # 0.8440 vs 0.8456, 0.8411, 0.8328): +0.44 points (SE 0.34; per seed +0.17, +0.03, +1.12),
    # lower bound -0.56: FAILS (held with one seed at z = 2.1 on test examples).
    "regularize-stochastic-depth": {"stochastic-depth-gap": False, "stochastic-depth-test": False},
    # over 3 training seeds (issue 21), measured 2026-12-07 (`replearn run regularize-multitask`,
    # one torch thread, load ~5-16: 817 s wall, 167 s CPU), 1000 labelled images: test accuracy
    # single-task 0.8087, 0.8046, 0.8061; multi-task 0.8082, 0.8084, 0.8086 (+0.19 points, SE
    # 0.13; per seed -0.05, +0.38, +0.25; lower bound -0.18): FAILS; learned task weights 0.8074,
    # 0.8066, 0.8089 (+0.12 points, SE 0.13; per seed -0.13, +0.20, +0.28; lower bound -0.25):
    # FAILS (both failed with one seed too).
    "regularize-multitask": {"multitask-helps": False, "multitask-learned-weights": False},
    # over 3 training seeds (issue 21), measured 2026-12-07 (`replearn run regularize-transfer`,
    # one torch thread, load ~5-16: 358 s wall, 108 s CPU), 100 labelled target images, backbone
    # pretrained to 0.9177 on the source classes: test accuracy scratch 0.8884, 0.8912, 0.8888;
    # frozen backbone 0.8200, 0.7898, 0.8018 (-8.56 points, SE 0.96; lower bound -11.35): FAILS;
    # fine-tuned 0.8914, 0.8820, 0.8970 (+0.07 points, SE 0.52; per seed +0.30, -0.92, +0.82;
    # lower bound -1.44): FAILS (both failed with one seed too).
    "regularize-transfer": {"transfer-freeze": False, "transfer-finetune": False},
    # over 3 training seeds (issue 21), measured 2026-12-07 (`replearn run
    # regularize-early-stopping`, one torch thread, load ~6: 204 s wall, 160 s CPU): best step
    # 200, 200, 250, stopped at 700, 700, 750 of 3000. gap: train - test accuracy early-stopped
    # 0.0971, 0.0930, 0.1108 vs full 0.1702, 0.1683, 0.1742 (+7.06 points, SE 0.37; lower bound
    # +5.99): holds. retrain (best epoch count on subtrain + validation): test accuracy 0.8360,
    # 0.8294, 0.8306 vs early-stopped 0.8204, 0.8235, 0.8257 (+0.88 points, SE 0.34; per seed
    # +1.56, +0.59, +0.49; lower bound -0.12): FAILS (held with one seed). surrogate (continue to
    # the subtrain loss): 0.8314, 0.8358, 0.8387 (+1.21 points, SE 0.06; lower bound +1.04): holds.
    "regularize-early-stopping": {
        "early-stopping-gap": True,
        "early-stopping-retrain": False,
        "early-stopping-surrogate": True,
    },
    # over 3 training seeds (issue 21), measured 2026-12-07 (`replearn run regularize-augment`,
    # one torch thread, load ~2-7: 1324 s wall, 533 s CPU): test accuracy without augmentation
    # 0.8747, 0.8687, 0.8703; MixUp 0.8753, 0.8722, 0.8699 (+0.12 points, SE 0.12; per seed
    # +0.06, +0.35, -0.04; lower bound -0.22): FAILS (held with one seed at z = 2.4 on test
    # examples); CutMix 0.8578, 0.8618, 0.8574 (-1.22, SE 0.29), RandAugment 0.8548, 0.8536,
    # 0.8486 (-1.89, SE 0.20), Cutout 0.8607, 0.8527, 0.8482 (-1.74, SE 0.24): FAIL (as with one
    # seed). Random erasing (no claim here) 0.8699, 0.8585, 0.8663.
    "regularize-augment": {
        "mixup-improves": False,
        "cutmix-improves": False,
        "randaugment-improves": False,
        "cutout-improves": False,
    },
}

# Issue 21 made every comparison claim of these experiments a verdict over 3 training seeds
# (replearn.experiments.stats.compare_seeds); all were re-measured with their default configs
# (see MEASURED; the test asserts every experiment's full claim set). The verdicts measured
# with one seed and the old rules (a bare comparison, or "difference > 2 paired SE on test
# examples") were: dropout-gap True; ls-calibration True, ls-clusters True; early-stopping
# gap/retrain/surrogate True/True/True; augment mixup True (z = 2.4), cutmix/randaugment/cutout
# False; stochastic-depth gap True, test True (z = 2.1); transfer freeze/finetune False/False;
# multitask helps/learned-weights False/False.


@pytest.mark.parametrize("name", sorted(MEASURED))
def test_claims_verdicts(name, tmp_path):
    exp = get_experiment(name)
    seed_everything(0)
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
