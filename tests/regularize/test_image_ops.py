"""Image ops vs PIL on 8-bit images and vs closed forms (histograms, rot90, shifts, ramps)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from replearn.regularize import image_ops as ops

Image = pytest.importorskip("PIL.Image")
ImageEnhance = pytest.importorskip("PIL.ImageEnhance")
ImageOps = pytest.importorskip("PIL.ImageOps")


def _grey_batch(b: int = 3, h: int = 12, w: int = 10, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(b, h, w), dtype=np.uint8)


def _ours(arr: np.ndarray, fn, *args) -> np.ndarray:
    x = torch.from_numpy(arr).float()[:, None] / 255.0  # (B, 1, H, W) on the k/255 grid
    return (fn(x, *args)[:, 0] * 255.0).numpy()


def _pil(arr: np.ndarray, fn) -> np.ndarray:
    return np.stack([np.asarray(fn(Image.fromarray(a, mode="L")), dtype=np.float64) for a in arr])


def test_equalize_posterize_solarize_match_pil_exactly():
    arr = _grey_batch()
    arr[1] = arr[1] // 4 + 20  # a low-contrast image
    arr[2] = 77  # a constant image
    np.testing.assert_allclose(_ours(arr, ops.equalize), _pil(arr, ImageOps.equalize), atol=1e-3)
    for bits in (1, 3, 8):
        theirs = _pil(arr, lambda im, b=bits: ImageOps.posterize(im, b))
        mine = _ours(arr, ops.posterize, torch.full((3,), bits))
        np.testing.assert_allclose(mine, theirs, atol=1e-3)
    for t in (0, 128, 200):
        theirs = _pil(arr, lambda im, t=t: ImageOps.solarize(im, t))
        np.testing.assert_allclose(
            _ours(arr, ops.solarize, torch.full((3,), t / 255.0)), theirs, atol=1e-3
        )


def test_enhance_ops_and_autocontrast_match_pil_within_rounding():
    arr = _grey_batch(seed=1)
    arr[0] = arr[0] // 2 + 40
    factors = torch.tensor([0.1, 1.0, 1.9])
    enhancers = {
        ops.adjust_brightness: ImageEnhance.Brightness,
        ops.adjust_contrast: ImageEnhance.Contrast,
        ops.adjust_sharpness: ImageEnhance.Sharpness,
    }
    for ours, theirs in enhancers.items():
        mine = _ours(arr, ours, factors)
        ref = np.stack(
            [
                np.asarray(theirs(Image.fromarray(a, mode="L")).enhance(float(f)), np.float64)
                for a, f in zip(arr, factors, strict=True)
            ]
        )
        # PIL rounds to 8 bits (and rounds the mean grey level for contrast)
        np.testing.assert_allclose(mine, ref, atol=2.0, err_msg=ours.__name__)
    np.testing.assert_allclose(
        _ours(arr, ops.autocontrast), _pil(arr, ImageOps.autocontrast), atol=1.0
    )


def test_equalize_flattens_a_skewed_histogram_and_keeps_a_flat_one():
    gen = torch.Generator().manual_seed(0)
    dark = torch.arange(64).repeat_interleave(64)[torch.randperm(4096, generator=gen)]  # 0..63
    out = ops.equalize((dark.float() / 255.0).reshape(1, 1, 64, 64))
    levels = torch.round(out.flatten() * 255).long()
    assert int(levels.min()) == 0 and int(levels.max()) == 255
    # the output's distribution function is close to the uniform one on 0..255: the input
    # levels hold 64 pixels (1/64 of the image) each and cannot be split, and PIL's rule
    # (step = (4096 - 64) // 255 = 15 < 16) sends the top four to 255: measured 4/64 = 0.0625;
    # allow one more level
    cdf = torch.cumsum(torch.bincount(levels, minlength=256), 0).double() / 4096  # (256,)
    uniform = torch.arange(1, 257, dtype=torch.float64) / 256
    assert float((cdf - uniform).abs().max()) <= 5 / 64
    before = torch.cumsum(torch.bincount(dark, minlength=256), 0).double() / 4096
    assert float((before - uniform).abs().max()) > 0.7  # far from flat before
    flat = torch.arange(256).repeat_interleave(16)[torch.randperm(4096, generator=gen)]
    x = (flat.float() / 255.0).reshape(1, 1, 64, 64)
    torch.testing.assert_close(ops.equalize(x), x, rtol=0, atol=1e-6)


def test_geometry_is_the_identity_at_zero():
    x = torch.rand(2, 3, 9, 7, generator=torch.Generator().manual_seed(1))
    zero = torch.zeros(2)
    for out in (
        ops.rotate(x, zero),
        ops.shear(x, zero, axis=0),
        ops.shear(x, zero, axis=1),
        ops.translate(x, zero, axis=0),
        ops.translate(x, zero, axis=1),
        ops.scale(x, torch.ones(2)),
    ):
        torch.testing.assert_close(out, x, rtol=0, atol=1e-5)


def test_rotate_90_is_rot90_and_integer_translation_is_a_shift():
    x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    clockwise = torch.rot90(x, k=-1, dims=(-2, -1))
    torch.testing.assert_close(ops.rotate(x, torch.full((2,), 90.0)), clockwise, atol=1e-5, rtol=0)
    x = torch.rand(2, 1, 6, 10, generator=torch.Generator().manual_seed(3))
    right = torch.zeros_like(x)
    right[..., 3:] = x[..., :-3]
    torch.testing.assert_close(
        ops.translate(x, torch.full((2,), 0.3), axis=0), right, atol=1e-5, rtol=0
    )
    down = torch.zeros_like(x)
    down[..., 2:, :] = x[..., :-2, :]
    torch.testing.assert_close(
        ops.translate(x, torch.full((2,), 2 / 6), axis=1), down, atol=1e-5, rtol=0
    )


@pytest.mark.parametrize(
    ("name", "matrix"),
    [
        ("shear_x", [[1.0, -0.2], [0.0, 1.0]]),
        ("shear_y", [[1.0, 0.0], [0.25, 1.0]]),
        ("scale", [[1 / 1.3, 0.0], [0.0, 1 / 1.3]]),
        ("rotate", [[math.cos(0.3), math.sin(0.3)], [-math.sin(0.3), math.cos(0.3)]]),
    ],
)
def test_warps_of_a_linear_ramp_follow_the_sampling_map(name, matrix):
    h, w = 11, 13
    rows, cols = torch.meshgrid(
        torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij"
    )
    ramp = 0.2 + 0.03 * cols + 0.02 * rows  # bilinear interpolation reproduces it exactly
    x = ramp.double()[None, None]
    out = {
        "shear_x": lambda: ops.shear(x, torch.tensor([0.2], dtype=torch.float64), axis=0),
        "shear_y": lambda: ops.shear(x, torch.tensor([-0.25], dtype=torch.float64), axis=1),
        "scale": lambda: ops.scale(x, torch.tensor([1.3], dtype=torch.float64)),
        "rotate": lambda: ops.rotate(x, torch.tensor([math.degrees(0.3)], dtype=torch.float64)),
    }[name]()[0, 0]
    a = torch.tensor(matrix, dtype=torch.float64)
    u = torch.stack([cols - (w - 1) / 2, rows - (h - 1) / 2], dim=-1).double()  # centred (x, y)
    src = u @ a.T + torch.tensor([(w - 1) / 2, (h - 1) / 2], dtype=torch.float64)
    inside = (
        (src[..., 0] >= 0) & (src[..., 0] <= w - 1) & (src[..., 1] >= 0) & (src[..., 1] <= h - 1)
    )
    expected = 0.2 + 0.03 * src[..., 0] + 0.02 * src[..., 1]
    assert int(inside.sum()) > h * w // 2
    torch.testing.assert_close(out[inside], expected[inside], atol=1e-10, rtol=0)
