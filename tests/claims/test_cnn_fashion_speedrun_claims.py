"""Claim of ``fashion-speedrun`` through the CLI: its wall time is the runner's, as in the README.

The claim has a time budget (93% test accuracy within 300 s of wall time on 2 cores), so the
machine decides it as much as the method: measured on three machines so far.

- 2026-11-26, idle 2-core machine with AMX (bf16 autocast): test accuracy 0.9421 in 203.3 s
  (holds); 2026-12-07, same kind of machine, load ~2: 0.9411 in 144.7 s (holds).
- 2026-12-08 (fifth session), this session's machine: a 2-core AMD EPYC with AVX2 only (no
  AVX-512, no AMX). With the old ``precision="bf16"`` default, oneDNN ran the convolutions on
  reference kernels: 1.6 s per update (20 updates profiled), so the run was stopped. After the
  default became ``engine.precision="auto"`` (fp32 here; bf16 where the CPU has bf16 units):
  `REPLEARN_DATA=../shared/data replearn run fashion-speedrun --no-progress --no-report`, quiet
  machine (load 1.0 at the start; the fresh-clone CI started in the last 5 minutes of it):
  test accuracy 0.9430 (0.9407 without TTA) in 807.7 s wall (774.7 s training, 1238 s CPU,
  2 threads, fp32): the accuracy part holds, the 300 s budget does not: FAILS on this machine.
"""

from __future__ import annotations

import json

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.requires_data("fashion-mnist", reason="needs Fashion-MNIST in $REPLEARN_DATA"),
]

MEASURED = {"speedrun-93-in-5-min": False}


def test_fashion_speedrun_claim(tmp_path):
    from replearn.cli import main

    out = tmp_path / "speedrun"
    assert main(["run", "fashion-speedrun", "--no-progress", "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    (claim,) = result["claims"]
    print(f"fashion-speedrun {claim['id']}: {claim['evidence']}")
    assert claim["id"] == "speedrun-93-in-5-min"
    assert result["test_accuracy"] >= 0.93, claim["evidence"]
    expected = result["wall_time_s"] <= 300.0
    assert claim["holds"] is expected, claim["evidence"]
    # the verdict pinned on this session's machine (the time part decides it)
    assert claim["holds"] is MEASURED[claim["id"]] or result["precision"] == "bf16"
