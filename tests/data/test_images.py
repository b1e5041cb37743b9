"""Tests of replearn.data.images: the IDX parser and the classification splits."""

from __future__ import annotations

import gzip
import os
import random
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from replearn.data import images
from replearn.data.images import DataError, load_classification, read_idx


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize(
    ("array", "code"),
    [
        (np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4), 0x08),
        (np.array([-5, 0, 70000], dtype=np.int32), 0x0C),
        (np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2), 0x0D),
    ],
)
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path, array, code, compress):
    raw = idx_bytes(array, code)
    path = tmp_path / "x.idx"
    path.write_bytes(gzip.compress(raw) if compress else raw)
    result = read_idx(path)
    assert result.dtype == array.dtype and result.dtype.isnative
    np.testing.assert_array_equal(result, array)
    result[0] = 1  # a writable copy, not a view of the file buffer


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x01\x00\x08\x01\x00\x00\x00\x02ab", "bad magic"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01a", "type code 0x07"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x01", "truncated"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05abc", r"shape \(5,\) \(5 bytes\) but 3 bytes"),
        (gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x01a")[:-6], "cannot read"),
    ],
)
def test_read_idx_rejects_malformed(tmp_path, content, message):
    path = tmp_path / "bad.idx"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_idx(path)


def rows(dataset) -> list[tuple[bytes, int]]:
    x, y = dataset.tensors
    return [(xi.numpy().tobytes(), int(yi)) for xi, yi in zip(x, y, strict=True)]


def test_digits_splits():
    from sklearn.datasets import load_digits

    data = load_classification("digits")
    assert (len(data.train), len(data.val), len(data.test)) == (1294, 144, 359)
    assert data.input_shape == (1, 8, 8) and data.num_classes == 10 and data.name == "digits"
    x, y = data.train.tensors
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.shape == (1294, 1, 8, 8)
    assert x.min() == 0.0 and x.max() == 1.0
    # The three splits partition the 1,797 images exactly (as a multiset of rows).
    digits = load_digits()
    expected = sorted(
        ((img / 16.0).astype(np.float32).tobytes(), int(t))
        for img, t in zip(digits.images, digits.target, strict=True)
    )
    assert sorted(rows(data.train) + rows(data.val) + rows(data.test)) == expected


def test_splits_are_deterministic_and_test_is_fixed():
    a = load_classification("digits", seed=3, flatten=True)
    b = load_classification("digits", seed=3, flatten=True)
    c = load_classification("digits", seed=4, flatten=True)
    assert a.input_shape == (64,) and a.train.tensors[0].shape == (1294, 64)
    for split in ("train", "val", "test"):
        for ta, tb in zip(getattr(a, split).tensors, getattr(b, split).tensors, strict=True):
            assert torch.equal(ta, tb)
    assert not torch.equal(a.val.tensors[0], c.val.tensors[0])
    assert torch.equal(a.test.tensors[0], c.test.tensors[0])


def test_val_fraction_bounds():
    data = load_classification("digits", val_fraction=0.0)
    assert len(data.val) == 0 and len(data.train) == 1438
    with pytest.raises(ValueError, match="val_fraction"):
        load_classification("digits", val_fraction=1.0)
    with pytest.raises(DataError, match="did you mean 'fashion-mnist'"):
        load_classification("fashion_mnist")


def test_mnist1d():
    np.random.seed(123)
    random.seed(123)
    np_before, py_before = np.random.rand(), random.random()
    np.random.seed(123)
    random.seed(123)
    data = load_classification("mnist1d", seed=1)
    assert (np.random.rand(), random.random()) == (np_before, py_before)  # no RNG side effect
    assert (len(data.train), len(data.val), len(data.test)) == (3600, 400, 1000)
    assert data.input_shape == (1, 40) and data.num_classes == 10
    x = torch.cat([data.train.tensors[0], data.val.tensors[0], data.test.tensors[0]])
    assert x.dtype == torch.float32 and x.shape == (5000, 1, 40)
    assert abs(x.mean().item()) < 0.01 and abs(x.std().item() - 1.0) < 0.01
    counts = torch.bincount(data.test.tensors[1], minlength=10)
    assert counts.min() >= 80 and counts.max() <= 120  # about 100 per class
    again = load_classification("mnist1d", seed=1, flatten=True)
    assert again.input_shape == (40,)
    assert torch.equal(again.train.tensors[0], data.train.tensors[0].reshape(3600, 40))
    assert images._mnist1d.cache_info().hits >= 1  # generated once per process


def has_fashion() -> bool:
    root = os.environ.get("REPLEARN_DATA")
    folder = Path(root) / "fashion-mnist" if root else None
    return folder is not None and (folder / "train-images-idx3-ubyte.gz").is_file()


@pytest.fixture(scope="module")
def fashion():
    if not has_fashion():
        pytest.skip("REPLEARN_DATA does not hold fashion-mnist")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REPLEARN_OFFLINE", "1")
        yield load_classification("fashion-mnist", seed=0)


def test_fashion_mnist_official_splits(fashion):
    assert (len(fashion.train), len(fashion.val), len(fashion.test)) == (54000, 6000, 10000)
    assert fashion.input_shape == (1, 28, 28) and fashion.class_names[9] == "Ankle boot"
    x_train, y_train = fashion.train.tensors
    y_test = fashion.test.tensors[1]
    assert x_train.dtype == torch.float32 and x_train.shape == (54000, 1, 28, 28)
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    # Balanced: 6,000 per class in the 60k pool and 1,000 per class in the test set.
    pool = torch.cat([y_train, fashion.val.tensors[1]])
    assert torch.bincount(pool).tolist() == [6000] * 10
    assert torch.bincount(y_test).tolist() == [1000] * 10
    # The commonly quoted pixel statistics of the training set: mean 0.2860, std 0.3530.
    pixels = torch.cat([x_train, fashion.val.tensors[0]])
    assert abs(pixels.mean().item() - 0.2860) < 5e-4
    assert abs(pixels.std().item() - 0.3530) < 5e-4
    assert y_test[:5].tolist() == [9, 2, 1, 1, 6]  # official order of the test labels


def test_mnist1d_disk_cache_equals_generation_and_survives_corruption(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    images._mnist1d.cache_clear()
    try:
        first = images._mnist1d()  # generated, then written to the cache
        path = images._mnist1d_cache_file()
        assert path.is_file() and path.is_relative_to(tmp_path)
        images._mnist1d.cache_clear()
        cached = images._mnist1d()  # read back from the file
        for a, b in zip(first, cached, strict=True):
            assert a.dtype == b.dtype and np.array_equal(a, b)
        path.write_bytes(b"not an npz file")
        images._mnist1d.cache_clear()
        calls = []  # regeneration is the real generator's job; count that it is asked for
        monkeypatch.setattr(images, "_generate_mnist1d", lambda: calls.append(1) or first)
        regenerated = images._mnist1d()
        assert calls == [1]
        for a, b in zip(first, regenerated, strict=True):
            assert np.array_equal(a, b)
        with np.load(path, allow_pickle=False) as npz:  # the bad file was replaced
            assert np.array_equal(npz["x"], first[0])
    finally:
        images._mnist1d.cache_clear()
