"""Checkpoints: round trip, and refusal of truncated, corrupted, foreign and unsafe files."""

from __future__ import annotations

import hashlib
import io
import pickle
from pathlib import Path

import pytest
import torch

from replearn.engine.checkpoint import (
    MAGIC,
    CheckpointError,
    find_resumable,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
    write_latest,
)


def _state() -> dict:
    torch.manual_seed(0)
    return {"w": torch.randn(4, 3), "step": 7, "nested": {"lr": 0.1, "xs": [1, 2, 3]}}


def test_round_trip_is_exact(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "a.ckpt", _state())
    back = load_checkpoint(path)
    assert torch.equal(back["w"], _state()["w"])
    assert back["step"] == 7 and back["nested"] == {"lr": 0.1, "xs": [1, 2, 3]}
    assert not list(tmp_path.glob(".*.tmp")), "temporary file left behind"


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.3, 0.5, 0.9, 0.999])
def test_truncated_file_is_refused(tmp_path: Path, fraction: float) -> None:
    path = save_checkpoint(tmp_path / "a.ckpt", _state())
    blob = path.read_bytes()
    path.write_bytes(blob[: int(len(blob) * fraction)])
    with pytest.raises(CheckpointError, match=r"a\.ckpt"):
        load_checkpoint(path)


@pytest.mark.parametrize("where", [0, 20, 60, -10])
def test_flipped_byte_is_refused(tmp_path: Path, where: int) -> None:
    path = save_checkpoint(tmp_path / "a.ckpt", _state())
    blob = bytearray(path.read_bytes())
    blob[where] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


class _Evil:
    """Unpickling this would create a file."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


def test_plain_pickle_is_refused_without_running_it(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps({"x": _Evil(target)}))
    with pytest.raises(CheckpointError, match="not a replearn checkpoint"):
        load_checkpoint(path)
    assert not target.exists()


def test_evil_payload_with_valid_header_is_refused_by_weights_only(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    buf = io.BytesIO()
    torch.save({"x": _Evil(target)}, buf)  # a torch zip whose pickle calls Path.touch
    payload = buf.getvalue()
    path = tmp_path / "evil.ckpt"
    path.write_bytes(MAGIC + hashlib.sha256(payload).digest() + payload)
    with pytest.raises(CheckpointError, match="safe loader"):
        load_checkpoint(path)
    assert not target.exists()


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"nope\.ckpt"):
        load_checkpoint(tmp_path / "nope.ckpt")


def test_find_resumable_skips_a_corrupt_newest(tmp_path: Path) -> None:
    good = save_checkpoint(tmp_path / "step-000000005.ckpt", {"step": 5})
    bad = save_checkpoint(tmp_path / "step-000000010.ckpt", {"step": 10})
    write_latest(tmp_path, bad)
    bad.write_bytes(bad.read_bytes()[:-3])
    warnings: list[str] = []
    path, state = find_resumable(tmp_path, warn=warnings.append)
    assert path == good and state["step"] == 5
    assert len(warnings) == 1 and "step-000000010" in warnings[0]
    assert list_checkpoints(tmp_path) == [bad, good]


def test_find_resumable_raises_when_nothing_is_valid(tmp_path: Path) -> None:
    (tmp_path / "step-000000005.ckpt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="no valid checkpoint"):
        find_resumable(tmp_path, warn=lambda _m: None)
    assert find_resumable(tmp_path / "empty", warn=lambda _m: None) is None
