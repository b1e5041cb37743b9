"""The shared helpers of regularize/common.py that the experiments call instead of copies."""

from __future__ import annotations

import json

import torch
from torch.utils.data import TensorDataset

from replearn.data.images import ClassificationData
from replearn.engine import EngineConfig, RunContext, fit
from replearn.experiments.regularize.common import (
    RegularizedClassificationTask,
    fit_classifier,
    gap_comparison,
    record,
    reduction_comparison,
)
from replearn.experiments.stats import compare_seeds


def _data() -> ClassificationData:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 5, generator=g), torch.randint(0, 3, (64,), generator=g)
    ds = TensorDataset(x, y)
    return ClassificationData(train=ds, val=ds, test=ds, num_classes=3, input_shape=(5,),
                              name="toy", class_names=("a", "b", "c"))  # fmt: skip


def test_gap_comparison_is_compare_seeds_on_the_gaps():
    m = {"x_gap_accuracy_seeds": [0.10, 0.12, 0.08], "b_gap_accuracy_seeds": [0.2, 0.25, 0.22]}
    got = gap_comparison(m, "x", "b", "X", "B")
    want = compare_seeds(m["x_gap_accuracy_seeds"], m["b_gap_accuracy_seeds"],
                         higher_is_better=False, label_x="gap (B)", label_y="gap (X)",
                         unit="points")  # fmt: skip
    assert got == want and got.holds
    assert abs(got.mean - (0.67 - 0.30) / 3) < 1e-12


def test_reduction_comparison_labels_and_direction():
    m = {"s_ece_seeds": [0.02, 0.03, 0.01], "h_ece_seeds": [0.05, 0.06, 0.05]}
    got = reduction_comparison(m, "ece", "s", "h", label="ECE", what="smoothed", baseline="hard")
    want = compare_seeds(m["s_ece_seeds"], m["h_ece_seeds"], higher_is_better=False,
                         label_x="ECE (hard)", label_y="ECE (smoothed)")  # fmt: skip
    assert got == want and got.holds and got.mean > 0


def test_record_prefixes_and_logs(tmp_path):
    out: dict[str, float] = {}
    ctx = RunContext(out=tmp_path, seed=0, progress=False)
    ctx.logger.open()
    record(out, ctx, 7, "v", {"acc": 0.5, "loss": 1.0})
    ctx.logger.close()
    assert out == {"v_acc": 0.5, "v_loss": 1.0}
    rows = [json.loads(r) for r in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert any(r.get("step") == 7 and r.get("v_acc") == 0.5 for r in rows)


def test_fit_classifier_equals_the_hand_built_fit(tmp_path):
    data, engine = _data(), EngineConfig(max_steps=4, batch_size=16, log_every=2,
                                         checkpoint_every=0, progress=False)  # fmt: skip
    weights = []
    for i, helper in enumerate((True, False)):
        torch.manual_seed(1)
        model = torch.nn.Linear(5, 3)
        ctx = RunContext(out=tmp_path / str(i), seed=0, progress=False)
        if helper:
            fit_classifier(ctx, "v", model, data, lr=1e-2, engine=engine, smoothing=0.1)
        else:
            task = RegularizedClassificationTask(model, 3, smoothing=0.1)
            opt = torch.optim.Adam(model.parameters(), lr=1e-2)
            with ctx.child("v") as sub:
                fit(task, opt, data.train, cfg=engine, ctx=sub, val_set=data.val)
        weights.append(model.weight.detach().clone())
    torch.testing.assert_close(weights[0], weights[1], rtol=0, atol=0)
    assert not torch.equal(weights[0], torch.nn.Linear(5, 3).weight)
