r"""Batched image operations for augmentation: affine warps and PIL-style photometric ops.

These are the operations of RandAugment (:mod:`replearn.regularize.randaugment`;
Cubuk et al. 2020, arXiv:1909.13719, after AutoAugment, Cubuk et al. 2019,
arXiv:1805.09501), written for float tensors (B, C, H, W) in [0, 1] with one
parameter per image, so a whole batch is transformed on its device at once.

**Geometry.** An output pixel at centred position :math:`u` (pixels from the image
centre, x right, y down) reads the input at :math:`A u + t`; with
:math:`D = \mathrm{diag}(W/2, H/2)`, ``F.affine_grid`` (``align_corners=False``) takes

.. math::

    \theta = [\, D^{-1} A D \mid D^{-1} t \,]                               \qquad (1)

and ``F.grid_sample`` interpolates bilinearly with zeros outside. For content
rotated by :math:`\alpha` (clockwise on screen), sheared by :math:`s`, shifted by
:math:`\delta` pixels or zoomed by :math:`k`:
:math:`A = R(-\alpha)`, :math:`A = \begin{psmallmatrix}1 & -s\\0 & 1\end{psmallmatrix}`,
:math:`t = -\delta`, :math:`A = I / k`.

**Photometry** (PIL's ``ImageOps`` / ``ImageEnhance``, in floating point):

.. math::

    \text{posterize}_b(x) = \lfloor 255 x \rfloor \,\&\, (256 - 2^{8-b}) / 255, \qquad
    \text{solarize}_t(x) = \begin{cases} 1 - x & x \ge t \\ x & x < t \end{cases}  \qquad (2)

    \text{enhance}_f(x; d) = d + f\,(x - d), \quad d \in \{0,\ \bar x_{grey},\
    \mathrm{smooth}(x)\} \text{ for brightness, contrast, sharpness}        \qquad (3)

    \text{autocontrast}(x) = (x - \min x) / (\max x - \min x)              \qquad (4)

Equalize maps each 8-bit level through PIL's cumulative-histogram table (see
:func:`equalize`). Results are clamped to [0, 1].

Deviations: the enhance operations keep floating point (PIL rounds to 8 bits and
rounds the grey mean); equalize and posterize work on 8-bit levels, like PIL.

Tests: against PIL on 8-bit images (equalize and posterize and solarize exactly,
autocontrast, brightness, contrast and sharpness within 2/255); equalize flattens
a skewed histogram and leaves a flat one unchanged; the warps are the identity
at zero, a 90-degree rotation is ``torch.rot90``, an integer shift is a slice,
and on a linear ramp (reproduced exactly by bilinear interpolation) shear and
scale give the ramp at the mapped coordinates.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "adjust_brightness",
    "adjust_contrast",
    "adjust_sharpness",
    "affine",
    "affine_theta",
    "autocontrast",
    "equalize",
    "posterize",
    "rotate",
    "scale",
    "shear",
    "solarize",
    "translate",
]


def _per_sample(v: Tensor, x: Tensor) -> Tensor:
    return v.to(x.dtype).reshape(-1, *([1] * (x.ndim - 1)))  # (B, 1, 1, 1)


def affine_theta(matrix: Tensor, shift: Tensor, height: int, width: int) -> Tensor:
    r"""Eq. (1): ``F.affine_grid``'s :math:`\theta = [D^{-1} A D \mid D^{-1} t]`.

    Shape:
        matrix: (B, 2, 2), shift: (B, 2) -> (B, 2, 3).
    """
    d = matrix.new_tensor([width / 2.0, height / 2.0])  # (2,)
    a = matrix * d[None, None, :] / d[None, :, None]  # (B, 2, 2) D^-1 A D
    return torch.cat([a, (shift / d)[..., None]], dim=-1)  # (B, 2, 3)


def affine(x: Tensor, matrix: Tensor, shift: Tensor) -> Tensor:
    """Read each output pixel ``u`` at ``A u + t`` in the input (bilinear, zeros outside).

    Shape:
        x: (B, C, H, W), matrix: (B, 2, 2), shift: (B, 2) -> (B, C, H, W).
    """
    theta = affine_theta(matrix.to(x.dtype), shift.to(x.dtype), x.shape[-2], x.shape[-1])
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (B, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _eye(x: Tensor) -> Tensor:
    return torch.eye(2, dtype=x.dtype, device=x.device).expand(x.shape[0], 2, 2).clone()


def rotate(x: Tensor, degrees: Tensor) -> Tensor:
    """Rotate the content by ``degrees`` (clockwise on screen) about the image centre.

    Shape:
        x: (B, C, H, W), degrees: (B,) -> (B, C, H, W).
    """
    a = degrees.to(x.dtype) * math.pi / 180.0  # (B,)
    cos, sin = torch.cos(a), torch.sin(a)
    matrix = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)
    return affine(x, matrix, x.new_zeros(x.shape[0], 2))  # A = R(-alpha)


def shear(x: Tensor, factor: Tensor, axis: int) -> Tensor:
    """Shear the content along x (``axis=0``: column += factor * row) or y (``axis=1``).

    Shape:
        x: (B, C, H, W), factor: (B,) -> (B, C, H, W).
    """
    matrix = _eye(x)
    matrix[:, axis, 1 - axis] = -factor.to(x.dtype)
    return affine(x, matrix, x.new_zeros(x.shape[0], 2))


def translate(x: Tensor, fraction: Tensor, axis: int) -> Tensor:
    """Shift the content by ``fraction`` of the width (``axis=0``) or height (``axis=1``).

    Shape:
        x: (B, C, H, W), fraction: (B,) -> (B, C, H, W).
    """
    shift = x.new_zeros(x.shape[0], 2)
    shift[:, axis] = -fraction.to(x.dtype) * x.shape[-1 - axis]  # pixels
    return affine(x, _eye(x), shift)


def scale(x: Tensor, factor: Tensor) -> Tensor:
    """Zoom the content by ``factor`` (> 1 enlarges) about the image centre.

    Shape:
        x: (B, C, H, W), factor: (B,) -> (B, C, H, W).
    """
    matrix = _eye(x) / factor.to(x.dtype)[:, None, None]
    return affine(x, matrix, x.new_zeros(x.shape[0], 2))


def _levels(x: Tensor) -> Tensor:
    """8-bit levels of images on the k/255 grid (robust to float rounding)."""
    return (x * 255.0 + 1e-4).floor().clamp(0, 255).to(torch.int64)


def posterize(x: Tensor, bits: Tensor) -> Tensor:
    """Eq. (2): keep the ``bits`` high bits of every 8-bit level.

    Shape:
        x: (B, C, H, W) in [0, 1], bits: (B,) int in [1, 8] -> (B, C, H, W).
    """
    mask = (256 - (1 << (8 - bits.to(torch.int64)))).reshape(-1, 1, 1, 1)  # (B, 1, 1, 1)
    return (_levels(x) & mask).to(x.dtype) / 255.0


def solarize(x: Tensor, threshold: Tensor) -> Tensor:
    """Eq. (2): invert the pixels at or above the threshold.

    Shape:
        x: (B, C, H, W), threshold: (B,) -> (B, C, H, W).
    """
    return torch.where(x >= _per_sample(threshold, x), 1.0 - x, x)


def _grey_mean(x: Tensor) -> Tensor:
    """Mean ITU-R 601-2 luma (PIL's ``convert('L')``) of RGB, or of one channel: (B, 1, 1, 1)."""
    if x.shape[1] == 3:
        luma = (x * x.new_tensor([0.299, 0.587, 0.114]).reshape(1, 3, 1, 1)).sum(1, keepdim=True)
    else:
        luma = x.mean(dim=1, keepdim=True)
    return luma.mean(dim=(-2, -1), keepdim=True)


def adjust_brightness(x: Tensor, factor: Tensor) -> Tensor:
    """Eq. (3) with :math:`d = 0` (a blend with black).

    Shape:
        x: (B, C, H, W), factor: (B,) -> (B, C, H, W).
    """
    return (_per_sample(factor, x) * x).clamp(0.0, 1.0)


def adjust_contrast(x: Tensor, factor: Tensor) -> Tensor:
    """Eq. (3) with :math:`d` the image's mean grey level.

    Shape:
        x: (B, C, H, W), factor: (B,) -> (B, C, H, W).
    """
    mean = _grey_mean(x)
    return (mean + _per_sample(factor, x) * (x - mean)).clamp(0.0, 1.0)


def adjust_sharpness(x: Tensor, factor: Tensor) -> Tensor:
    """Eq. (3) with :math:`d` PIL's 3x3 ``SMOOTH`` filter (1s, centre 5, over 13), borders kept.

    Shape:
        x: (B, C, H, W), factor: (B,) -> (B, C, H, W).
    """
    c = x.shape[1]
    kernel = x.new_tensor([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]]) / 13.0
    smooth = x.clone()
    smooth[..., 1:-1, 1:-1] = F.conv2d(x, kernel.expand(c, 1, 3, 3), groups=c)  # interior
    return (smooth + _per_sample(factor, x) * (x - smooth)).clamp(0.0, 1.0)


def autocontrast(x: Tensor) -> Tensor:
    """Eq. (4), per channel; constant channels are left as they are.

    Shape:
        x: (B, C, H, W) -> (B, C, H, W).
    """
    lo = x.amin(dim=(-2, -1), keepdim=True)
    hi = x.amax(dim=(-2, -1), keepdim=True)
    flat = hi <= lo
    return torch.where(flat, x, (x - lo) / torch.where(flat, torch.ones_like(hi), hi - lo))


def equalize(x: Tensor) -> Tensor:
    r"""Per-channel histogram equalisation on 8-bit levels (PIL's ``ImageOps.equalize``).

    With histogram :math:`h` of :math:`n` pixels and :math:`h_{top}` the count of the
    highest level present, :math:`s = \lfloor (n - h_{top}) / 255 \rfloor` and level
    :math:`i` maps to :math:`\min(255, \lfloor (\lfloor s/2 \rfloor + \sum_{j<i} h_j) / s \rfloor)`
    (the identity when :math:`s = 0`).

    Shape:
        x: (B, C, H, W) in [0, 1] -> (B, C, H, W) on the levels k/255.
    """
    b, c, h, w = x.shape
    levels = _levels(x).reshape(b * c, h * w)  # (BC, HW)
    hist = torch.zeros(b * c, 256, dtype=torch.int64, device=x.device)
    hist.scatter_add_(1, levels, torch.ones_like(levels))  # (BC, 256)
    top = hist.gather(1, levels.amax(dim=1, keepdim=True))  # (BC, 1)
    step = (h * w - top) // 255  # (BC, 1)
    below = torch.cumsum(hist, dim=1) - hist  # (BC, 256) pixels strictly below each level
    lut = ((step // 2 + below) // step.clamp(min=1)).clamp(max=255)
    lut = torch.where(step > 0, lut, torch.arange(256, device=x.device).expand(b * c, 256))
    return (lut.gather(1, levels).to(x.dtype) / 255.0).reshape(b, c, h, w)
