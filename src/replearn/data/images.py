"""Small image and signal classification data sets as train / val / test tensors.

- ``digits``: scikit-learn's bundled 8x8 digits (1,797 images, no file). Inputs are
  grey levels in ``[0, 1]`` (pixel / 16). The test split is a fixed, seeded 20%
  (359 images); the other 1,438 form the training pool.
- ``fashion-mnist``: 28x28 grey images from the IDX gz files located by
  :mod:`replearn.data.sources`. Inputs in ``[0, 1]`` (pixel / 255). Official split:
  60,000 training pool / 10,000 test.
- ``mnist1d``: the ``mnist1d`` package's procedurally generated 40-sample signals
  (Greydanus 2020), default arguments: 4,000 training pool / 1,000 test. Inputs are
  left as the generator standardizes them (zero mean, unit standard deviation over
  the whole set).

The test split never depends on ``seed``: ``seed`` only picks which
``val_fraction`` of the training pool is held out for validation, so runs with
different seeds are scored on the same test set. Labels are int64 class indices.
"""

from __future__ import annotations

import gzip
import os
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from replearn.data.sources import DataError, _suggest, cache_dir, file_path

__all__ = ["CLASSIFICATION_DATASETS", "ClassificationData", "load_classification", "read_idx"]

# IDX type code -> big-endian numpy dtype (http://yann.lecun.com/exdb/mnist/).
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

CLASSIFICATION_DATASETS = ("digits", "fashion-mnist", "mnist1d")

FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

_DIGITS_TEST_FRACTION = 0.2
_DIGITS_TEST_SEED = 1234  # fixed: the digits test split never depends on `seed`


@dataclass
class ClassificationData:
    """A classification data set split three ways.

    Attributes:
        train: ``TensorDataset(inputs, labels)`` used for fitting.
        val: Held out from the training pool (``val_fraction`` of it) for model selection.
        test: The fixed test split.
        num_classes: Number of classes; labels are in ``[0, num_classes)``.
        input_shape: Shape of one input, e.g. ``(1, 28, 28)`` or ``(784,)`` when flattened.
        name: Data set name.
        class_names: Human-readable class names, index = label.
    """

    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    num_classes: int
    input_shape: tuple[int, ...]
    name: str
    class_names: tuple[str, ...]


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed or not.

    The header is two zero bytes, a type code, the number of dimensions ``d`` and
    ``d`` big-endian uint32 sizes; the data follows in C order, big-endian.

    Args:
        path: File path; ``.gz`` files (detected by their magic bytes) are decompressed.

    Returns:
        The array in native byte order with the shape given by the header
        (e.g. ``uint8 (60000, 28, 28)`` for Fashion-MNIST training images).

    Raises:
        DataError: If the file is not valid IDX (bad magic, type code, dimensions or size).
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as err:
        raise DataError(f"cannot read IDX file {path}: {err}") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path} is not an IDX file: bad magic number {raw[:4].hex()}")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise DataError(f"{path}: unknown IDX type code 0x{code:02x}")
    if ndim == 0 or len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path}: IDX header with {ndim} dimensions is truncated or empty")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    payload = len(raw) - 4 - 4 * ndim
    if payload != expected:
        raise DataError(
            f"{path}: IDX header says shape {shape} ({expected} bytes) but {payload} bytes follow"
        )
    data = np.frombuffer(raw, dtype, offset=4 + 4 * ndim).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # a native-order, writable copy


def _fashion_mnist() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Official (train images, train labels, test images, test labels), uint8.

    The files are located and verified on every call (cheap: digests are cached per
    path, inode, size and mtime); only the parsing is cached, per verified path.
    """
    paths = tuple(
        file_path("fashion-mnist", f"{split}-{kind}-ubyte.gz")
        for split in ("train", "t10k")
        for kind in ("images-idx3", "labels-idx1")
    )
    return _parse_fashion_mnist(paths)


@lru_cache(maxsize=1)
def _parse_fashion_mnist(
    paths: tuple[Path, ...],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    arrays = [read_idx(path) for path in paths]
    x_train, y_train, x_test, y_test = arrays
    if x_train.shape != (60000, 28, 28) or y_train.shape != (60000,):
        raise DataError(f"unexpected Fashion-MNIST train shapes {x_train.shape}, {y_train.shape}")
    if x_test.shape != (10000, 28, 28) or y_test.shape != (10000,):
        raise DataError(f"unexpected Fashion-MNIST test shapes {x_test.shape}, {y_test.shape}")
    for array in arrays:
        array.flags.writeable = False  # shared by every caller
    return x_train, y_train, x_test, y_test


def _mnist1d_cache_file() -> Path:
    """Where the generated MNIST-1D arrays are kept (per mnist1d version)."""
    from importlib.metadata import version

    return cache_dir() / "mnist1d" / f"mnist1d-default-{version('mnist1d')}.npz"


def _generate_mnist1d() -> tuple[np.ndarray, ...]:
    """``make_dataset(get_dataset_args())``, leaving the global random generators untouched.

    ``make_dataset`` reseeds the global ``random`` and ``numpy.random`` generators;
    their states are restored afterwards so loading data has no side effect.
    """
    from mnist1d.data import get_dataset_args, make_dataset  # slow import (matplotlib)

    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        data = make_dataset(get_dataset_args())
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    return data["x"], data["y"], data["x_test"], data["y_test"]


@lru_cache(maxsize=1)
def _mnist1d() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST-1D with its default arguments (4,000 train / 1,000 test), float64 and int64.

    Generating it takes seconds, so the arrays are kept in the user cache
    (``<cache>/mnist1d/mnist1d-default-<version>.npz``, written atomically, read with
    ``allow_pickle=False``); an unreadable or malformed cache file is regenerated.
    """
    names = ("x", "y", "x_test", "y_test")
    path = _mnist1d_cache_file()
    arrays: tuple[np.ndarray, ...] | None = None
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = tuple(npz[n] for n in names)
            if [a.shape[0] for a in arrays] != [4000, 4000, 1000, 1000]:
                arrays = None
        except (OSError, ValueError, KeyError, EOFError):
            arrays = None
    if arrays is None:
        arrays = _generate_mnist1d()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                np.savez(f, **dict(zip(names, arrays, strict=True)))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache only costs the regeneration next time
    for array in arrays:
        array.flags.writeable = False
    return arrays[0], arrays[1], arrays[2], arrays[3]


def _permutation(n: int, seed: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


def _split_off(n: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded (kept, held-out) index split with ``round(fraction * n)`` held out."""
    perm = _permutation(n, seed)
    held = round(fraction * n)
    return perm[held:], perm[:held]


def load_classification(
    name: str, *, val_fraction: float = 0.1, seed: int = 0, flatten: bool = False
) -> ClassificationData:
    """Load a classification data set as float32 inputs and int64 labels.

    Args:
        name: ``"digits"``, ``"fashion-mnist"`` or ``"mnist1d"``.
        val_fraction: Fraction of the training pool held out as the validation split,
            in ``[0, 1)``.
        seed: Picks the validation split (bitwise reproducible); the test split is fixed.
        flatten: Return inputs as vectors (``(64,)``, ``(784,)``, ``(40,)``) instead of
            channel-first arrays (``(1, 8, 8)``, ``(1, 28, 28)``, ``(1, 40)``).

    Returns:
        The three splits with their metadata.

    Raises:
        DataError: Unknown name, or a data file is missing or fails its checksum.
        ValueError: If ``val_fraction`` is outside ``[0, 1)``.

    Example:
        >>> data = load_classification("digits", flatten=True)
        >>> data.input_shape, len(data.train), len(data.val), len(data.test)
        ((64,), 1294, 144, 359)
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if name == "digits":
        from sklearn.datasets import load_digits  # slow import, only when needed

        digits = load_digits()
        x_all = digits.images.astype(np.float32) / 16.0  # (1797, 8, 8) in [0, 1]
        y_all = digits.target.astype(np.int64)
        pool_idx, test_idx = _split_off(len(y_all), _DIGITS_TEST_FRACTION, _DIGITS_TEST_SEED)
        x_pool, y_pool = x_all[pool_idx.numpy()], y_all[pool_idx.numpy()]
        x_test, y_test = x_all[test_idx.numpy()], y_all[test_idx.numpy()]
        shape, classes = (1, 8, 8), tuple(str(i) for i in range(10))
    elif name == "fashion-mnist":
        x_pool, y_pool, x_test, y_test = _fashion_mnist()
        x_pool = x_pool.astype(np.float32) / 255.0
        x_test = x_test.astype(np.float32) / 255.0
        shape, classes = (1, 28, 28), FASHION_CLASSES
    elif name == "mnist1d":
        x_pool, y_pool, x_test, y_test = _mnist1d()
        x_pool, x_test = x_pool.astype(np.float32), x_test.astype(np.float32)
        shape, classes = (1, 40), tuple(str(i) for i in range(10))
    else:
        raise DataError(
            f"unknown classification data set {name!r}{_suggest(name, CLASSIFICATION_DATASETS)}; "
            f"known: {', '.join(CLASSIFICATION_DATASETS)}"
        )
    if flatten:
        shape = (int(np.prod(shape)),)

    def tensors(x: np.ndarray, y: np.ndarray) -> TensorDataset:
        inputs = torch.tensor(x, dtype=torch.float32).reshape(len(x), *shape)
        return TensorDataset(inputs, torch.tensor(y, dtype=torch.int64))

    train_idx, val_idx = _split_off(len(y_pool), val_fraction, seed)
    train_idx, val_idx = train_idx.numpy(), val_idx.numpy()
    return ClassificationData(
        train=tensors(x_pool[train_idx], y_pool[train_idx]),
        val=tensors(x_pool[val_idx], y_pool[val_idx]),
        test=tensors(x_test, y_test),
        num_classes=len(classes),
        input_shape=shape,
        name=name,
        class_names=classes,
    )
