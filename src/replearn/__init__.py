"""replearn: the representation-learning curriculum as verified, runnable PyTorch."""

from __future__ import annotations

import os
from typing import Any

__version__ = "0.1.0"


def load_run(path: str | os.PathLike[str]) -> Any:
    """The trained model and config of a run folder: see :func:`replearn.load.load_run`.

    Imported lazily so that ``import replearn`` (and ``replearn --version``) stays fast.
    """
    from replearn.load import load_run as _load_run

    return _load_run(path)


__all__ = ["__version__", "load_run"]
