"""Fast tests of ``benchmarks/harness.py`` (a second or two: sleeps of 1-2 ms)."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
import torch

HARNESS_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "harness.py"


def _load_harness() -> ModuleType:
    """Import benchmarks/harness.py (benchmarks/ is not a package)."""
    if "harness" in sys.modules:
        return sys.modules["harness"]
    spec = importlib.util.spec_from_file_location("harness", HARNESS_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["harness"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


harness = _load_harness()


class FakeClock:
    """A scripted clock: ``work(seconds)`` returns a contender that advances it by ``seconds``.

    Timing logic is tested with it, so no assertion depends on the speed of a loaded machine.
    """

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def work(self, *durations: float) -> Callable[[], None]:
        """A contender whose successive calls take ``durations`` (cycled)."""
        calls = iter(range(10**9))

        def run() -> None:
            self.now += durations[next(calls) % len(durations)]

        return run


def _compare(clock: FakeClock, contenders: dict, **kw: object):
    kw = {"rounds": 15, "warmup": 2, "threads": None, "out_dir": None,
          "collect_garbage": False, "timer": clock, **kw}  # fmt: skip
    return harness.compare("fake", contenders, **kw)


def test_ratios_from_scripted_timings() -> None:
    clock = FakeClock()
    res = _compare(clock, {"slow": clock.work(0.002), "peer": clock.work(0.001)}, rounds=15)
    assert res.rounds == 15
    assert res.stats["slow"].rounds == res.stats["peer"].rounds == 15
    assert res.ratio_of_medians["peer"] == 1.0
    assert res.ratio_of_medians["slow"] == pytest.approx(2.0)
    assert res.paired_ratio["slow"] == pytest.approx(2.0)
    assert res.paired_ratio_ci95["slow"] == pytest.approx((2.0, 2.0))
    assert res.stats["slow"].median == pytest.approx(0.002)
    # interleaved: every round ran each contender exactly once
    assert all(sorted(order) == ["peer", "slow"] for order in res.orders)
    assert res.threshold is None and res.verdicts == {} and res.passed is None


def test_sleep_runs_interleaved_real_clock(tmp_path: Path) -> None:
    """The real clock: structure only (no assertion on speed, which load changes)."""
    res = harness.compare(
        "sleep",
        {"slow": lambda: time.sleep(0.002), "peer": lambda: time.sleep(0.001)},
        rounds=6,
        warmup=1,
        threads=None,
        collect_garbage=False,  # gc.collect() with torch loaded takes ~40 ms a call
        out_dir=tmp_path,
        command="pytest tests/test_bench_harness.py",
    )
    assert res.rounds == 6 and res.stats["slow"].min >= 0.002  # a sleep never ends early
    ci = res.paired_ratio_ci95["slow"]
    assert ci is not None and ci[0] <= res.paired_ratio["slow"] <= ci[1]
    assert all(sorted(order) == ["peer", "slow"] for order in res.orders)


def test_files_written(tmp_path: Path) -> None:
    res = harness.compare(
        "files",
        {"a": lambda: None, "peer": lambda: None},
        rounds=6,
        warmup=1,
        threads=1,
        out_dir=tmp_path,
        command="python benchmarks/bench_x.py --rounds 6",
    )
    js, md = tmp_path / "files.json", tmp_path / "files.md"
    assert js.is_file() and md.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["files.json", "files.md"]  # no temps
    data = json.loads(js.read_text())
    assert data["settings"]["rounds"] == 6 and data["settings"]["threads"] == 1
    assert len(data["raw"]["timings_s"]["a"]) == 6 and len(data["raw"]["orders"]) == 6
    for key in ("cpu_count", "cpu_model", "torch", "torch_threads", "platform", "date", "python"):
        assert key in data["machine"]
    assert data["summary"]["a"]["rounds"] == 6
    assert data["machine"]["load_average_start"] and data["machine"]["load_average"]
    assert data["machine_shared"] in (True, False)  # measured, whichever it was
    assert "ratio_of_medians" in data["summary"]["a"]
    text = md.read_text()
    assert "| contender | median s | IQR s |" in text
    assert "python benchmarks/bench_x.py --rounds 6" in text
    assert res.write(tmp_path) == (js, md)  # rewriting replaces both files
    back = harness.load_result(js)
    assert back.to_dict() == res.to_dict() and back.to_markdown() == text


def test_judge_ratio_target_reads_the_interval() -> None:
    judge = harness.judge_ratio
    assert judge((0.80, 0.95), 1.0) == "holds"  # whole interval below the target
    assert judge((0.75, 1.02), 1.0) == "parity"  # crosses it: GPT's 0.746-1.024
    assert judge((1.0, 1.2), 1.0) == "parity"  # touching counts as containing
    assert judge((1.01, 1.2), 1.0) == "fails"  # whole interval above
    assert judge(None, 1.0) == "inconclusive"  # too few rounds for an interval
    assert judge(None, 1.0, parity=True) == "inconclusive"
    with pytest.raises(ValueError, match="positive"):
        judge((0.9, 1.1), 0.0)
    with pytest.raises(ValueError, match="order"):
        judge((1.1, 0.9), 1.0)


def test_judge_ratio_parity_check_band() -> None:
    judge = harness.judge_ratio
    t = 1 / 0.9
    assert judge((0.95, 1.05), t, parity=True) == "parity"  # inside 0.9-1.11
    assert judge((0.95, 1.05), 0.9, parity=True) == "parity"  # the band is symmetric in T, 1/T
    assert judge((0.786, 1.086), t, parity=True) == "inconclusive"  # LSTM: crosses 0.9
    assert judge((1.2, 1.4), t, parity=True) == "fails"  # wholly above
    assert judge((0.5, 0.8), t, parity=True) == "fails"  # wholly below: not the same cost
    assert set(harness.VERDICTS) == {"holds", "parity", "fails", "inconclusive"}


def test_threshold_verdicts_from_scripted_timings(tmp_path: Path) -> None:
    clock = FakeClock()
    jitter = (0.0010, 0.0011, 0.0009, 0.0010, 0.0012)
    res = _compare(clock, {"fast": clock.work(0.0005), "peer": clock.work(*jitter)},
                   threshold=1.0)  # fmt: skip
    assert res.verdicts == {"fast": "holds"} and res.passed is True
    # ratio of medians below the target, but the interval crosses it: parity, not holds
    res = _compare(clock, {"near": clock.work(0.00095, 0.00105), "peer": clock.work(0.001)},
                   threshold=1.0)  # fmt: skip
    assert res.ratio_of_medians["near"] <= 1.0
    ci = res.paired_ratio_ci95["near"]
    assert ci is not None and ci[0] < 1.0 < ci[1]
    assert res.verdicts == {"near": "parity"} and res.passed is False
    res = _compare(clock, {"slow": clock.work(0.002), "peer": clock.work(0.001)},
                   threshold=1.05, out_dir=tmp_path, rounds=6)  # fmt: skip
    assert res.verdicts == {"slow": "fails"} and res.passed is False
    md = (tmp_path / "fake.md").read_text()
    assert "**fails** (target ≤ 1.05)" in md and "not retried" in md
    assert "whole interval lies below 1.05" in md
    assert json.loads((tmp_path / "fake.json").read_text())["passed"] is False
    # fewer than 6 rounds: no interval, so no verdict but inconclusive
    res = _compare(clock, {"slow": clock.work(0.002), "peer": clock.work(0.001)},
                   threshold=1.05, rounds=5)  # fmt: skip
    assert res.paired_ratio_ci95["slow"] is None and res.verdicts == {"slow": "inconclusive"}
    assert "no 95% interval" in res.to_markdown()


def test_parity_check_is_never_a_win(tmp_path: Path) -> None:
    """A contender that runs the baseline's own kernel: parity, never holds, even when faster."""
    clock = FakeClock()
    res = _compare(clock, {"same": clock.work(0.00099, 0.00101), "peer": clock.work(0.001)},
                   threshold=1 / 0.9, parity=True, out_dir=tmp_path)  # fmt: skip
    assert res.verdicts == {"same": "parity"} and res.passed is True
    res = _compare(clock, {"same": clock.work(0.0005), "peer": clock.work(0.001)},
                   threshold=1 / 0.9, parity=True)  # fmt: skip
    assert res.verdicts == {"same": "fails"} and res.passed is False
    md = (tmp_path / "fake.md").read_text()
    assert "Parity check" in md and "**parity** (parity within 0.9–1.11)" in md
    data = json.loads((tmp_path / "fake.json").read_text())
    assert data["settings"]["check"] == "parity"
    back = harness.load_result(tmp_path / "fake.json")
    assert back.parity is True and back.to_markdown() == md
    with pytest.raises(ValueError, match="parity check needs a threshold"):
        _compare(clock, {"a": clock.work(0.001), "peer": clock.work(0.001)}, parity=True)


def test_rejudge_from_stored_intervals(tmp_path: Path) -> None:
    clock = FakeClock()
    res = _compare(clock, {"near": clock.work(0.00095, 0.00105), "peer": clock.work(0.001)},
                   threshold=1.0)  # fmt: skip
    res.verdicts["near"] = "holds"  # what the point-estimate rule used to write
    changed = harness.rejudge(res, reason="rule changed")
    assert changed == {"near": ("holds", "parity")} and res.verdicts == {"near": "parity"}
    assert "Re-judged from stored samples (rule changed)" in res.to_markdown()
    assert harness.rejudge(res) == {}  # idempotent
    # as a parity check with tolerance 1.0 the band is the point 1.0: the interval crosses it
    assert harness.rejudge(res, parity=True) == {"near": ("parity", "inconclusive")}
    assert res.parity is True and res.to_dict()["settings"]["check"] == "parity"


def test_threads_restored() -> None:
    before = torch.get_num_threads()
    clock = FakeClock()
    res = _compare(clock, {"a": clock.work(0.001), "peer": clock.work(0.001)}, threads=1)
    assert res.threads == 1 and res.machine["torch_threads"] == 1
    assert torch.get_num_threads() == before


def test_load_statement_from_measured_load() -> None:
    quiet = {"load_average_start": [0.4, 0.5, 0.5], "load_average": [1.2, 0.6, 0.5],
             "cpu_count": 2}  # fmt: skip
    shared, text = harness.load_statement(quiet, 1)
    assert shared is False and text.startswith("Machine quiet") and "0.40–1.20" in text
    busy = {**quiet, "load_average": [6.5, 6.0, 5.0]}
    shared, text = harness.load_statement(busy, 1)
    assert shared is True and "Machine shared" in text and "more runnable threads" in text
    shared, text = harness.load_statement({**quiet, "load_average": [2.2, 1, 1]}, 2)
    assert shared is False  # two threads of our own explain a load of 2.2
    shared, text = harness.load_statement({}, 1)
    assert shared is None and "unknown" in text


def test_typed_load_claims_dropped_from_notes() -> None:
    notes = (
        "Workload: one layer. Machine shared with other jobs: quote ratios.\n\n"
        "Claim: x. The machine was shared with other jobs (see the load average): quote the "
        "ratios, not the absolute times.\n\nThe machine may be shared (see the load average): "
        "quote the ratios."
    )
    out = harness._strip_typed_load(notes)
    assert "shared" not in out and "Workload: one layer." in out and "Claim: x." in out
    clock = FakeClock()
    res = _compare(clock, {"a": clock.work(0.001), "peer": clock.work(0.001)}, notes=notes)
    res.machine.update(load_average_start=[0.3, 0, 0], load_average=[0.4, 0, 0])
    md = res.to_markdown()
    assert "Machine quiet" in md and "Machine shared" not in md and "may be shared" not in md
    assert res.to_dict()["machine_shared"] is False


def test_contender_setup_and_teardown_are_untimed() -> None:
    calls: list[str] = []

    def setup() -> None:
        calls.append("setup")
        time.sleep(0.01)

    def teardown(out: object) -> None:
        calls.append(f"teardown {out}")
        time.sleep(0.01)

    work = harness.Contender(lambda: calls.append("run") or 7, setup=setup, teardown=teardown)
    res = harness.compare(
        "setup", {"work": work, "peer": lambda: None}, rounds=3, warmup=0, out_dir=None
    )
    assert calls == ["setup", "run", "teardown 7"] * 3
    assert res.stats["work"].max < 0.005


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="baseline"):
        harness.compare("x", {"a": lambda: None, "b": lambda: None}, out_dir=None)
    with pytest.raises(ValueError, match="two contenders"):
        harness.compare("x", {"peer": lambda: None}, out_dir=None)


def test_summary_statistics() -> None:
    st = harness.summarize([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (st.median, st.q25, st.q75, st.iqr, st.min, st.max) == (3.0, 2.0, 4.0, 2.0, 1.0, 5.0)
    assert harness.median_ci(range(5)) is None  # too few for 95%
    assert harness.median_ci(range(1, 16)) == (4, 12)  # standard table, n = 15
    assert harness.median_ci(range(1, 21)) == (6, 15)  # n = 20


def test_add_throughput_reads_the_medians():
    """items per round / median time per contender, ours over the baseline, one notes line."""
    clock = FakeClock()
    result = _compare(clock, {"replearn": clock.work(0.001), "peer": clock.work(0.002)},
                      rounds=5, warmup=1, baseline="peer")  # fmt: skip
    rate = harness.add_throughput(result, 10, "images", digits=1)
    for name, stats in result.stats.items():
        assert rate[name] == pytest.approx(10 / stats.median)
    assert result.extra["images_per_s_median"] == rate
    assert result.extra["throughput_ratio"] == pytest.approx(rate["replearn"] / rate["peer"])
    assert result.extra["throughput_ratio"] == pytest.approx(2.0)
    assert "images/s" in result.notes and "x** (claim: >= 1.0x)" in result.notes


def test_committed_results_verdicts_read_their_intervals() -> None:
    """No committed benchmark result says ``holds`` (or anything else) that its stored 95%
    interval does not give: every verdict equals :func:`judge_ratio` of its own interval."""
    results = sorted((HARNESS_PATH.parent / "results").glob("*.json"))
    checked = 0
    for path in results:
        data = json.loads(path.read_text(encoding="utf-8"))
        runs = [data] if "summary" in data else list(data.get("layers", {}).values())
        for run in runs:
            settings = run["settings"]
            threshold = settings.get("threshold")
            for name, row in run["summary"].items():
                if row.get("verdict") is None:
                    continue
                assert threshold is not None, (path.name, name)
                parity = settings.get("check") == "parity"
                expected = harness.judge_ratio(row["paired_ratio_ci95"], threshold, parity=parity)
                assert row["verdict"] == expected, (path.name, name, row["paired_ratio_ci95"])
                checked += 1
    assert checked >= 30  # the GPT/BERT/ViT, CNN, RNN, optimizer, ... results
