"""A two-optimizer experiment (gan-mixture, WGAN-GP: five critic steps per generator step)
killed with SIGKILL right after a checkpoint lands, then ``--resume``: bitwise identical."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SET = [
    "--set", "method=wgan-gp", "engine.max_steps=40", "engine.checkpoint_every=10",
    "engine.log_every=5",
]  # fmt: skip


def _cmd(out: Path, *extra: str) -> list[str]:
    head = [sys.executable, "-m", "replearn", "run", "gan-mixture", "--preset", "tiny"]
    return [*head, "--no-progress", "--no-report", "--seed", "3", "--out", str(out), *SET, *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "REPLEARN_OFFLINE": "1"}


def test_kill_9_then_resume_is_bitwise_identical(tmp_path: Path) -> None:
    ref, out = tmp_path / "ref", tmp_path / "run"
    subprocess.run(_cmd(ref), env=_env(), check=True, capture_output=True, timeout=300)
    child = "wgan-gp-seed0"
    proc = subprocess.Popen(_cmd(out), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)  # fmt: skip
    killed = False
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if (out / child / "checkpoints" / "step-000000020.ckpt").exists():
            os.kill(proc.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.002)
    proc.wait(timeout=300)
    done = subprocess.run(_cmd(out, "--resume"), env=_env(), capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert killed, "the run finished before the kill"
    for name in ("metrics.jsonl", "checkpoints/step-000000040.ckpt"):
        assert (out / child / name).is_file()
    metrics = (out / child / "metrics.jsonl").read_bytes()
    assert metrics == (ref / child / "metrics.jsonl").read_bytes()
    a = (ref / "result.json").read_text().split('"wall_time_s"')[0]
    b = (out / "result.json").read_text().split('"wall_time_s"')[0]
    assert a == b  # every measured number before the timing is the same
