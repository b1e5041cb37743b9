"""The ssl experiments' glue: verdicts, variants, configs, and a bitwise resume of SSLTask."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from replearn.engine import Callback, EngineConfig, RunContext, fit
from replearn.engine.checkpoint import find_resumable
from replearn.engine.seed import seed_everything
from replearn.experiments.ssl import claims as C
from replearn.experiments.ssl.common import SSLTask, pretext_sizes
from replearn.experiments.ssl.pretrain import Config, variants
from replearn.experiments.stats import paired_difference
from replearn.ssl.augment import SignalViews
from replearn.ssl.encoders import ConvEncoder
from replearn.ssl.methods import DINO, MoCo


def test_paired_difference_and_standard_error() -> None:
    diff, se = paired_difference([0.8, 0.7, 0.9], [0.5, 0.5, 0.6])
    assert math.isclose(diff, (0.3 + 0.2 + 0.3) / 3)
    d = [0.3, 0.2, 0.3]
    sd = math.sqrt(sum((x - diff) ** 2 for x in d) / 2)
    assert math.isclose(se, sd / math.sqrt(3))
    assert paired_difference([0.9], [0.1])[1] == math.inf  # one seed: no verdict possible


def test_verdicts_hold_fail_and_report_missing_variants() -> None:
    m = {
        "linear_probe_accuracy": 0.8,
        "linear_probe_accuracy_seeds": [0.8, 0.81, 0.79],
        "nohead_linear_probe_accuracy": 0.6,
        "nohead_linear_probe_accuracy_seeds": [0.6, 0.62, 0.58],
    }
    assert C.head_helps(m)[0]
    m["nohead_linear_probe_accuracy_seeds"] = [0.9, 0.6, 0.79]
    assert not C.head_helps(m)[0]
    holds, evidence = C.byol_collapse({})
    assert not holds and "not measured" in evidence
    holds, evidence = C.moco_negatives({})
    assert not holds and "not measured" in evidence


def test_collapse_verdicts_need_every_ablation_collapsed() -> None:
    m = {}
    for name, std in (("", 0.8), ("nopredictor_", 0.01), ("noema_", 0.02)):
        m[f"{name}embedding_std_seeds"] = [std, std]
        m[f"{name}embedding_std"] = std
        m[f"{name}effective_rank"] = 5.0
        m[f"{name}linear_probe_accuracy"] = 0.5
    assert C.byol_collapse(m)[0]
    m["noema_embedding_std_seeds"] = [0.02, 0.5]
    assert not C.byol_collapse(m)[0]


def test_variants_and_config_validation() -> None:
    assert set(variants(Config(method="byol"))) == {"nopredictor", "noema"}
    assert set(variants(Config(method="moco", queue_sizes=(8, 64)))) == {
        "queue8",
        "queue64",
        "nomomentum",
    }
    assert variants(Config(method="simclr", ablations=False)) == {}
    assert Config(method="ijepa", data="digits").patch == 2
    assert Config(method="ijepa").patch == 4
    with pytest.raises(ValueError, match="pretext"):
        Config(method="jigsaw", data="mnist1d")
    with pytest.raises(ValueError):
        Config(n_seeds=0)
    assert pretext_sizes(24) == {"patch": 6, "gap": 1, "jitter": 1, "tile": 6, "cell": 8}


class _Crash(Exception):
    pass


class _CrashAt(Callback):
    def __init__(self, at: int) -> None:
        self.at = at

    def on_step_end(self, loop: object) -> None:
        if getattr(loop, "step", None) == self.at:
            raise _Crash


CFG = EngineConfig(max_steps=6, batch_size=8, log_every=2, checkpoint_every=2, progress=False)


def _train(out: Path, method: str, *, crash_at: int = -1, resume: bool = False):
    seed_everything(0)
    enc = ConvEncoder((1, 24), width=4, features=8)
    if method == "moco":
        model = MoCo(enc, feat_dim=8, proj_dim=4, hidden=8, queue_size=12)
        task = SSLTask(model, SignalViews())
    else:
        model = DINO(enc, feat_dim=8, out_dim=6, hidden=8, bottleneck=4)
        task = SSLTask(model, SignalViews(), n_local=1)
    data = TensorDataset(
        torch.randn(32, 1, 24, generator=torch.Generator().manual_seed(1)), torch.arange(32)
    )
    state = find_resumable(out / "checkpoints")[1] if resume else None
    ctx = RunContext(out=out, seed=0, progress=False, resume_state=state)
    ctx.logger.open(keep_lines=state["metrics_lines"] if state else None)
    try:
        fit(
            task,
            torch.optim.Adam(model.parameters(), lr=1e-2),
            data,
            cfg=CFG,
            ctx=ctx,
            callbacks=[_CrashAt(crash_at)],
        )
    finally:
        ctx.logger.close()
    return task


@pytest.mark.parametrize("method", ["moco", "dino"])
def test_ssl_task_resumes_bitwise_with_queue_centre_and_ema(tmp_path: Path, method: str) -> None:
    whole = _train(tmp_path / "a", method)
    with pytest.raises(_Crash):
        _train(tmp_path / "b", method, crash_at=5)  # last checkpoint at step 4
    resumed = _train(tmp_path / "b", method, resume=True)
    sa, sb = whole.state_dict(), resumed.state_dict()
    assert sa.keys() == sb.keys()
    assert any("queue" in k or "center" in k for k in sa) and any(
        "teacher" in k or "key" in k for k in sa
    )
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def test_better_builds_the_guarded_paired_verdict() -> None:
    verdict = C.better("a", "b", "a vs b")
    m = {"a": 0.8, "a_seeds": [0.8, 0.81, 0.79], "b": 0.6, "b_seeds": [0.6, 0.62, 0.58]}
    assert verdict(m) == C._better(m, "a", "b", "a vs b")
    assert verdict(m)[0]  # difference 0.2, SE 0.0058: far above 2 SE
    m["b_seeds"] = [0.9, 0.6, 0.79]  # difference 0.037, SE 0.085
    assert not verdict(m)[0]
    holds, evidence = verdict({"a": 0.8})
    assert not holds and "not measured" in evidence


# per-seed differences 1, 2, 4: mean 2.33 > 2 SE (1.76) but below t(0.95, 2) SE = 2.58, so the
# old "> 2 SE" rule held and compare_seeds' Student-t bound does not
_A, _B = [1.01, 1.02, 1.04], [1.0, 1.0, 1.0]


def test_better_uses_the_student_t_bound_and_needs_three_seeds() -> None:
    verdict = C.better("a", "b", "a vs b", ("A", "B"))
    m = {"a": 1.02, "a_seeds": _A, "b": 1.0, "b_seeds": _B}
    holds, evidence = verdict(m)
    assert not holds and "A - B = +2.33 points" in evidence and "3 seeds" in evidence
    m["a_seeds"] = [1.02, 1.021, 1.022]  # tight: lower bound far above 0
    assert verdict(m)[0]
    holds, evidence = verdict({**m, "a_seeds": [0.9, 0.9], "b_seeds": [0.1, 0.1]})
    assert not holds and evidence == "not measured: needs >= 3 seeds, ran 2"
    holds, evidence = verdict({**m, "a_seeds": [0.9, math.nan, 0.9]})
    assert not holds and evidence == "not measured: per-seed values must be finite"


def test_clip_zero_shot_bound_is_above_three_times_chance() -> None:
    m = {"zero_shot_accuracy_seeds": [0.40, 0.42, 0.41], "zero_shot_accuracy": 0.41,
         "linear_probe_accuracy": 0.5}  # fmt: skip
    holds, evidence = C.clip_zero_shot(m)
    assert holds and "zero-shot - 3x chance = +11.00 points" in evidence
    m["zero_shot_accuracy_seeds"] = [0.31, 0.32, 0.34]  # mean 2.33 points above, t bound below
    assert not C.clip_zero_shot(m)[0]
    m["zero_shot_accuracy_seeds"] = [0.9]
    assert C.clip_zero_shot(m) == (False, "not measured: needs >= 3 seeds, ran 1")


def test_moco_negatives_needs_both_paired_comparisons() -> None:
    def metrics(small: list[float], mid: list[float], large: list[float]) -> dict:
        m = {"queue_size": 256, "linear_probe_accuracy_seeds": mid,
             "linear_probe_accuracy": sum(mid) / 3}  # fmt: skip
        for k, v in ((16, small), (4096, large)):
            m[f"queue{k}_linear_probe_accuracy_seeds"] = v
            m[f"queue{k}_linear_probe_accuracy"] = sum(v) / 3
        return m

    holds, evidence = C.moco_negatives(metrics([0.5, 0.51, 0.52], [0.6, 0.6, 0.61],
                                               [0.61, 0.6, 0.615]))  # fmt: skip
    assert holds and "K=256 - K=16" in evidence and "gain small->middle" in evidence
    # the middle queue beats the small one, but the gain beyond is as large: fails
    assert not C.moco_negatives(metrics([0.5, 0.51, 0.52], [0.6, 0.6, 0.61],
                                        [0.7, 0.69, 0.71]))[0]  # fmt: skip


def test_full_method_must_not_collapse_on_any_seed() -> None:
    m = {}
    for name, std in (("", 0.8), ("nocentering_", 0.01), ("nosharpening_", 0.02)):
        m[f"{name}embedding_std_seeds"] = [std, std, std]
        m[f"{name}embedding_std"] = std
        m[f"{name}effective_rank"] = 5.0
        m[f"{name}linear_probe_accuracy"] = 0.5
    assert C.dino_collapse(m)[0]
    m["embedding_std_seeds"] = [0.8, 0.05, 0.8]  # one seed of the full method collapsed
    assert not C.dino_collapse(m)[0]
