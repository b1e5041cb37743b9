"""Atomic, verified, never-unpickled-freely checkpoints.

File format (``*.ckpt``)::

    b"REPLEARN-CKPT-1\\n"  (16 bytes)   magic
    32 bytes                            SHA-256 of the payload
    payload                             a ``torch.save`` zip archive

Writing: payload to a temporary file in the same folder, ``fsync``, ``os.replace``
onto the final name, ``fsync`` of the folder; the ``latest`` pointer (a one-line
text file naming the newest checkpoint) is written the same way, last.

Reading (:func:`load_checkpoint`): magic, then the digest, then
``torch.load(..., weights_only=True)``. A truncated or corrupted file, a
foreign file (e.g. a plain pickle) or a payload that ``weights_only`` refuses
raises :class:`CheckpointError` naming the file and the reason; nothing in the
file is executed.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import torch

from replearn import runfolder

MAGIC = b"REPLEARN-CKPT-1\n"
_DIGEST = 32
_NAME = re.compile(rf"^step-(\d{{9}}){re.escape(runfolder.CHECKPOINT_SUFFIX)}$")
LATEST = runfolder.LATEST


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be trusted or does not fit the run."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Text variant of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def save_checkpoint(path: Path, state: dict[str, Any]) -> Path:
    """Serialize ``state`` (tensors, numbers, strings, lists, dicts) atomically to ``path``."""
    buf = io.BytesIO()
    torch.save(state, buf)
    payload = buf.getvalue()
    atomic_write_bytes(Path(path), MAGIC + hashlib.sha256(payload).digest() + payload)
    return Path(path)


def load_checkpoint(path: Path | str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and verify a checkpoint written by :func:`save_checkpoint`.

    Raises:
        CheckpointError: missing, truncated, corrupted, foreign or unsafe file.
    """
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as err:
        raise CheckpointError(f"cannot read checkpoint {path}: {err.strerror}") from None
    head = len(MAGIC) + _DIGEST
    if len(blob) < head or not blob.startswith(MAGIC):
        raise CheckpointError(f"{path} is not a replearn checkpoint (bad header)")
    digest, payload = blob[len(MAGIC) : head], blob[head:]
    if hashlib.sha256(payload).digest() != digest:
        raise CheckpointError(f"{path} is corrupted or truncated (SHA-256 mismatch)")
    try:
        state = torch.load(io.BytesIO(payload), map_location=map_location, weights_only=True)
    except Exception as err:  # weights_only refusals, zip errors, ...
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path} refused by the safe loader: {reason}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} does not hold a checkpoint dictionary")
    return state


def checkpoint_name(step: int) -> str:
    """File name of the checkpoint taken after ``step`` optimizer steps."""
    return f"step-{step:09d}{runfolder.CHECKPOINT_SUFFIX}"


def list_checkpoints(folder: Path) -> list[Path]:
    """Checkpoint files in ``folder``, newest (highest step) first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if _NAME.match(p.name)]
    return sorted(found, key=lambda p: int(_NAME.match(p.name).group(1)), reverse=True)


def write_latest(folder: Path, ckpt: Path) -> None:
    """Point ``folder/latest`` at ``ckpt`` (written last, atomically)."""
    atomic_write_text(Path(folder) / LATEST, ckpt.name + "\n")


def prune(folder: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest checkpoints (and stale temp files)."""
    for old in list_checkpoints(folder)[keep:]:
        old.unlink(missing_ok=True)
    for tmp in Path(folder).glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def find_resumable(folder: Path, warn: Any = print) -> tuple[Path, dict[str, Any]] | None:
    """Newest checkpoint in ``folder`` that loads and verifies.

    The ``latest`` pointer is tried first, then every ``step-*.ckpt`` newest
    first; each invalid one is reported through ``warn``. Returns ``None`` when the
    folder holds no checkpoint at all.

    Raises:
        CheckpointError: checkpoints exist but none of them is valid.
    """
    folder = Path(folder)
    candidates = list_checkpoints(folder)
    pointer = folder / LATEST
    if pointer.is_file():
        named = folder / pointer.read_text(encoding="utf-8").strip()
        if named in candidates:
            candidates.remove(named)
            candidates.insert(0, named)
    errors = []
    for path in candidates:
        try:
            return path, load_checkpoint(path)
        except CheckpointError as err:
            errors.append(str(err))
            warn(f"skipping invalid checkpoint: {err}")
    if errors:
        raise CheckpointError(f"no valid checkpoint in {folder}: {errors[0]}")
    return None
