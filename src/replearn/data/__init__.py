"""Data: real files located, downloaded and verified; built-in and synthetic data sets.

- :mod:`~replearn.data.sources`: where files come from (``$REPLEARN_DATA``, the
  user cache, the canonical URL) and their SHA-256 checks.
- :mod:`~replearn.data.images`: digits, Fashion-MNIST and MNIST-1D classification splits.
- :mod:`~replearn.data.text`: Tiny Shakespeare characters and SST-2 sentences.
- :mod:`~replearn.data.sequences`: copy, selective copy, associative recall, adding.
- :mod:`~replearn.data.toy2d`: 2-D toy densities, some with an exact log-density.
"""

from replearn.data import sequences, toy2d
from replearn.data.images import ClassificationData, load_classification, read_idx
from replearn.data.sequences import (
    AddingProblem,
    AssociativeRecall,
    CopyTask,
    SelectiveCopy,
)
from replearn.data.sources import (
    DATASETS,
    DataError,
    DatasetInfo,
    dataset_path,
    file_path,
    list_datasets,
    verify,
)
from replearn.data.text import SST2, CharVocab, TinyShakespeare, WordVocab, collate
from replearn.data.toy2d import Toy2D

__all__ = [
    "DATASETS",
    "SST2",
    "AddingProblem",
    "AssociativeRecall",
    "CharVocab",
    "ClassificationData",
    "CopyTask",
    "DataError",
    "DatasetInfo",
    "SelectiveCopy",
    "TinyShakespeare",
    "Toy2D",
    "WordVocab",
    "collate",
    "dataset_path",
    "file_path",
    "list_datasets",
    "load_classification",
    "read_idx",
    "sequences",
    "toy2d",
    "verify",
]
