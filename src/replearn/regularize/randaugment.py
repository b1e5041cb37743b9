r"""RandAugment on batched image tensors: N random operations at one global magnitude M.

Paper: E. D. Cubuk, B. Zoph, J. Shlens & Q. V. Le, "RandAugment: Practical
automated data augmentation with a reduced search space", CVPR Workshops 2020,
arXiv:1909.13719.

RandAugment replaces AutoAugment's learned policy by two integers: each image
gets :math:`N` operations drawn uniformly, with replacement, from a fixed list,
all at magnitude :math:`M` on a 0..10 scale (``MAX_MAGNITUDE``, the paper's
scale). With :math:`\mu = M / 10` and a random sign :math:`s = \pm 1` per image for
the signed operations (as in the paper's code and torchvision), the operations
of :mod:`replearn.regularize.image_ops` are used at:

=============== =======================================================
identity        --
autocontrast    -- (no magnitude)
equalize        -- (no magnitude)
rotate          :math:`30° \cdot s\mu`
solarize        threshold :math:`256 (1 - \mu) / 255` (none inverted at 0)
posterize       :math:`8 - \mathrm{round}(4\mu)` bits
contrast        factor :math:`1 + 0.9\, s\mu`
brightness      factor :math:`1 + 0.9\, s\mu`
sharpness       factor :math:`1 + 0.9\, s\mu`
shear_x/y       :math:`0.3\, s\mu`
translate_x/y   :math:`0.45\, s\mu` of the image size
scale           zoom :math:`1 + 0.3\, s\mu` (not in the paper; added in its spirit)
=============== =======================================================

.. math::

    \tilde x = o_N(\cdots o_1(x)), \qquad o_n \sim \mathrm{Uniform}(\mathcal O)  \qquad (1)

Deviations: the paper's ``color`` (saturation) is left out (grey images) and
``scale`` is added; magnitudes follow torchvision's ranges at the paper's 0..10
scale. A batch draws every image's operations at once; images that drew the same
operation are transformed together, so the batch never leaves its device.

Tests: :func:`apply_op` at magnitude 0 is the identity for every operation that
has a magnitude (posterize aside, which quantises to 8 bits); the operations
reach their documented parameters at magnitude 10; :func:`rand_augment` is
reproducible from a seeded generator and the identity for ``n = 0``; the
choice of operation is uniform (chi-square bound).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from replearn.registry import Example, register
from replearn.regularize import image_ops as ops

__all__ = ["MAX_MAGNITUDE", "OPS", "SIGNED", "RandAugment", "apply_op", "rand_augment"]

MAX_MAGNITUDE = 10.0
OPS = (
    "identity",
    "autocontrast",
    "equalize",
    "rotate",
    "solarize",
    "posterize",
    "contrast",
    "brightness",
    "sharpness",
    "shear_x",
    "shear_y",
    "translate_x",
    "translate_y",
    "scale",
)
SIGNED = frozenset(OPS[3:4] + OPS[6:])
"""The operations whose direction is drawn at random (all with a magnitude but solarize and
posterize)."""


def apply_op(x: Tensor, op: str, magnitude: float, sign: Tensor | None = None) -> Tensor:
    r"""One operation of the table above at ``magnitude`` with per-image signs.

    Args:
        x: images in [0, 1].
        op: one of :data:`OPS`.
        magnitude: :math:`M \in [0, 10]`.
        sign: :math:`\pm 1` per image for the signed operations (None: all +1).

    Shape:
        x: (B, C, H, W), sign: (B,) -> (B, C, H, W).
    """
    if op not in OPS:
        raise ValueError(f"unknown operation {op!r}; choose one of {', '.join(OPS)}")
    if not 0.0 <= magnitude <= MAX_MAGNITUDE:
        raise ValueError(f"magnitude must be in [0, {MAX_MAGNITUDE:g}], got {magnitude}")
    mu = magnitude / MAX_MAGNITUDE
    b = x.shape[0]
    s = x.new_ones(b) if sign is None else sign.to(x.dtype)  # (B,)
    if op == "identity":
        return x
    if op == "autocontrast":
        return ops.autocontrast(x)
    if op == "equalize":
        return ops.equalize(x)
    if op == "solarize":
        return ops.solarize(x, x.new_full((b,), 256.0 / 255.0 * (1.0 - mu)))  # > 1: none
    if op == "posterize":
        return ops.posterize(x, torch.full((b,), 8 - round(4 * mu), device=x.device))
    if op == "contrast":
        return ops.adjust_contrast(x, 1.0 + 0.9 * mu * s)
    if op == "brightness":
        return ops.adjust_brightness(x, 1.0 + 0.9 * mu * s)
    if op == "sharpness":
        return ops.adjust_sharpness(x, 1.0 + 0.9 * mu * s)
    if op == "rotate":
        out = ops.rotate(x, 30.0 * mu * s)
    elif op in ("shear_x", "shear_y"):
        out = ops.shear(x, 0.3 * mu * s, axis=0 if op == "shear_x" else 1)
    elif op in ("translate_x", "translate_y"):
        out = ops.translate(x, 0.45 * mu * s, axis=0 if op == "translate_x" else 1)
    else:
        out = ops.scale(x, 1.0 + 0.3 * mu * s)
    return out.clamp(0.0, 1.0)


def rand_augment(
    x: Tensor, n: int, magnitude: float, *, generator: torch.Generator | None = None
) -> Tensor:
    r"""Eq. (1): ``n`` rounds, each image drawing one operation of :data:`OPS` per round.

    Args:
        x: images in [0, 1].
        n: operations per image :math:`N \ge 0`.
        magnitude: :math:`M \in [0, 10]`, shared by every operation.
        generator: RNG on ``x.device`` (None: the global one).

    Shape:
        x: (B, C, H, W) -> (B, C, H, W).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    b = x.shape[0]
    for _ in range(n):
        choice = torch.randint(len(OPS), (b,), generator=generator, device=x.device)  # (B,)
        coin = torch.randint(2, (b,), generator=generator, device=x.device)
        sign = 2.0 * coin.to(x.dtype) - 1.0  # (B,) +-1
        out = x.clone()
        for k, op in enumerate(OPS):
            idx = (choice == k).nonzero().squeeze(1)  # (B_k,) images that drew op k
            if idx.numel():
                out[idx] = apply_op(x[idx], op, magnitude, sign[idx])
        x = out
    return x


def _example() -> Example:
    x = torch.rand(6, 1, 8, 8, requires_grad=True)
    return Example(RandAugment(n=2, magnitude=9), (x,), (6, 1, 8, 8))


@register(
    "regularize.randaugment",
    paper="Cubuk, Zoph, Shlens & Le 2020, arXiv:1909.13719 (RandAugment)",
    reference="PIL ImageOps/ImageEnhance on 8-bit images; closed forms (rot90, shifts, ramps, "
    "identity at magnitude 0); seeded generator",
    example=_example,
)
class RandAugment(nn.Module):
    """RandAugment (Eq. 1) on a batch in training mode; the identity in evaluation mode.

    Args:
        n: operations per image :math:`N`.
        magnitude: shared magnitude :math:`M` in [0, 10].

    Shape:
        (B, C, H, W) in [0, 1] -> (B, C, H, W).
    """

    def __init__(self, *, n: int = 2, magnitude: float = 9.0) -> None:
        super().__init__()
        if n < 0 or not 0.0 <= magnitude <= MAX_MAGNITUDE:
            raise ValueError(f"need n >= 0 and magnitude in [0, 10], got {n}, {magnitude}")
        self.n, self.magnitude = n, magnitude

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if not self.training:
            return x
        return rand_augment(x, self.n, self.magnitude, generator=generator)

    def extra_repr(self) -> str:
        return f"n={self.n}, magnitude={self.magnitude}"
