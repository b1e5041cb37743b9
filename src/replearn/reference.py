"""One switch from every replearn layer's fast path to its from-scratch (reference) path.

Each replearn layer with two paths (the norms, the attention of :mod:`replearn.transformer`,
the recurrent layers of :mod:`replearn.sequence`, the Mamba scan, the S4 kernel, ...) is built
with ``fast=True`` or ``fast=False``; at forward time it takes its reference path when built
with ``fast=False`` **or** when reference mode is on. So a whole model, built with its fast
paths for speed, runs on the written-out equations inside :func:`reference_mode`::

    with reference_mode():
        loss = model(x).sum()  # every replearn layer: reference path

``replearn run NAME --reference`` wraps the run in :func:`reference_mode`; the environment
variable ``REPLEARN_REFERENCE=1`` turns it on for a whole process (e.g. under ``torchrun``).

The switch is one module-level flag (not thread-local: a run is one process, and DataLoader
workers never run the model), saved and restored by the context manager so that nested uses
and exceptions leave it as it was. The layers read it in ``forward``, so it acts on models
already built and costs one function call per layer call when off.

Tests: ``tests/test_reference_mode.py`` checks every registered module's forward and backward
in float64 in both modes (equal within explicit tolerances) and that the switch restores its
state; ``tests/test_reference_smoke.py`` runs the tour's tiny preset under ``--reference``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["reference_mode", "set_reference", "use_reference"]

_REFERENCE: bool = os.environ.get("REPLEARN_REFERENCE", "").strip().lower() in {"1", "true", "yes"}


def use_reference() -> bool:
    """True when every replearn layer must take its from-scratch path (read at forward time)."""
    return _REFERENCE


def set_reference(on: bool) -> bool:
    """Turn reference mode on or off for the process; returns the previous state."""
    global _REFERENCE
    if not isinstance(on, bool):
        raise ValueError(f"reference mode is a bool, got {on!r}")
    previous, _REFERENCE = _REFERENCE, on
    return previous


@contextmanager
def reference_mode(on: bool = True) -> Iterator[None]:
    """Run the block with reference mode ``on`` (default) or off; restores the previous state.

    Args:
        on: ``True``: every replearn layer takes its reference path; ``False``: each layer
            takes the path it was built with (e.g. to time a fast path inside a reference run).
    """
    previous = set_reference(on)
    try:
        yield
    finally:
        set_reference(previous)
