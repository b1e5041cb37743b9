r"""Mixing and occlusion augmentations on batches: MixUp, CutMix, Cutout, Random Erasing.

Papers: H. Zhang, M. Cisse, Y. Dauphin & D. Lopez-Paz, "mixup: Beyond Empirical
Risk Minimization", ICLR 2018, arXiv:1710.09412; S. Yun, D. Han, S. J. Oh, S.
Chun, J. Choe & Y. Yoo, "CutMix: Regularization Strategy to Train Strong
Classifiers with Localizable Features", ICCV 2019, arXiv:1905.04899; T. DeVries &
G. W. Taylor, "Improved Regularization of Convolutional Neural Networks with
Cutout", 2017, arXiv:1708.04552; Z. Zhong, L. Zheng, G. Kang, S. Li & Y. Yang,
"Random Erasing Data Augmentation", AAAI 2020, arXiv:1708.04896.

Each image :math:`x_i` is paired with :math:`x_{\pi(i)}` for a random permutation
:math:`\pi` of the batch; labels are one-hot (or already soft) vectors :math:`y`.

.. math::

    \text{MixUp:}\quad \tilde x = \lambda x_i + (1-\lambda) x_{\pi(i)}, \quad
    \tilde y = \lambda y_i + (1-\lambda) y_{\pi(i)}, \quad
    \lambda \sim \mathrm{Beta}(\alpha, \alpha)                              \qquad (1)

    \text{CutMix:}\quad \tilde x = M \odot x_i + (1 - M) \odot x_{\pi(i)}, \quad
    \tilde y = \lambda' y_i + (1-\lambda') y_{\pi(i)}, \quad
    \lambda' = \tfrac{1}{HW}\textstyle\sum M                               \qquad (2)

CutMix's box (the zeros of :math:`M`) has centre :math:`(r_x, r_y)` uniform over
the image and size :math:`W\sqrt{1-\lambda} \times H\sqrt{1-\lambda}`, clipped to the
image, so the label weight :math:`\lambda'` is the exact fraction of pixels kept
(the paper's correction of :math:`\lambda` after clipping).

Cutout zeroes a ``size`` x ``size`` square centred uniformly over the image
(clipped at the borders). Random Erasing, with probability :math:`p`, fills a
box of area :math:`S_e \sim U(s_l, s_h) \cdot HW` and aspect ratio :math:`r_e`
(log-uniform in :math:`[r_1, r_2]`), placed inside the image, with uniform noise.

Deviations: MixUp and CutMix draw one :math:`\lambda` per batch (as the papers'
code) but CutMix places one box per image; Random Erasing clips the box to the
image instead of redrawing it; :math:`\mathrm{Beta}(\alpha, \alpha)` is drawn by
NumPy from a seed taken from the torch generator (torch's Beta sampler takes no
generator), so a seeded generator still fixes everything.

Tests: CutMix label weights equal the pixel fraction exactly, MixUp's equal
:math:`\lambda` exactly, Cutout's area is ``size**2`` for interior centres, Random
Erasing's area lies in its bounds, and a seeded generator gives the same batch.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.registry import Example, register

__all__ = [
    "CutMix",
    "Cutout",
    "MixUp",
    "RandomErasing",
    "as_probs",
    "box_mask",
    "cutmix",
    "cutout",
    "mixup",
    "random_erasing",
    "sample_beta",
]


def _uniform(n: int, x: Tensor, generator: torch.Generator | None) -> Tensor:
    return torch.rand(n, generator=generator, device=x.device, dtype=torch.float64)


def sample_beta(alpha: float, generator: torch.Generator | None = None) -> float:
    r""":math:`\lambda \sim \mathrm{Beta}(\alpha, \alpha)`, reproducible from ``generator``.

    Shape:
        -> a Python float in [0, 1].
    """
    if alpha <= 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    device = generator.device if generator is not None else "cpu"
    seed = int(torch.randint(2**62, (1,), generator=generator, device=device))
    return float(np.random.default_rng(seed).beta(alpha, alpha))


def as_probs(y: Tensor, num_classes: int) -> Tensor:
    """Integer labels (B,) -> one-hot (B, K); soft labels (B, K) pass through as floats."""
    return F.one_hot(y, num_classes).float() if y.ndim == 1 else y.float()


def mixup(x: Tensor, y: Tensor, lam: float, perm: Tensor) -> tuple[Tensor, Tensor]:
    r"""Eq. (1): convex combination of each example and its partner, images and labels alike.

    Shape:
        x: (B, *), y: (B, K) probabilities, perm: (B,) -> ((B, *), (B, K)).
    """
    return lam * x + (1.0 - lam) * x[perm], lam * y + (1.0 - lam) * y[perm]


def box_mask(top: Tensor, left: Tensor, bottom: Tensor, right: Tensor, h: int, w: int) -> Tensor:
    """Boolean masks of the boxes ``top <= row < bottom``, ``left <= col < right``.

    Shape:
        top, left, bottom, right: (B,) int -> (B, 1, H, W) bool.
    """
    rows = torch.arange(h, device=top.device)[None, :, None]  # (1, H, 1)
    cols = torch.arange(w, device=top.device)[None, None, :]  # (1, 1, W)
    inside = (
        (rows >= top[:, None, None])
        & (rows < bottom[:, None, None])
        & (cols >= left[:, None, None])
        & (cols < right[:, None, None])
    )
    return inside[:, None]  # (B, 1, H, W)


def _centred_boxes(
    x: Tensor, box_h: Tensor, box_w: Tensor, generator: torch.Generator | None
) -> Tensor:
    """Masks of boxes of the given sizes centred uniformly over the image, clipped to it."""
    b, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    cy, cx = _uniform(b, x, generator) * h, _uniform(b, x, generator) * w  # (B,) centres
    top = torch.round(cy - box_h / 2).clamp(0, h).long()
    bottom = torch.round(cy + box_h / 2).clamp(0, h).long()
    left = torch.round(cx - box_w / 2).clamp(0, w).long()
    right = torch.round(cx + box_w / 2).clamp(0, w).long()
    return box_mask(top, left, bottom, right, h, w)


def cutmix(
    x: Tensor, y: Tensor, lam: float, perm: Tensor, *, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    r"""Eq. (2): paste a box of the partner; label weights are the exact pixel fractions.

    Shape:
        x: (B, C, H, W), y: (B, K) probabilities, perm: (B,) -> ((B, C, H, W), (B, K)).
    """
    b, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    side = float(np.sqrt(1.0 - lam))
    sizes = torch.full((b,), side, dtype=torch.float64, device=x.device)
    box = _centred_boxes(x, sizes * h, sizes * w, generator)  # (B, 1, H, W) True: from partner
    x_mixed = torch.where(box, x[perm], x)
    kept = (~box).flatten(1).sum(dim=1).double() / (h * w)  # (B,) lambda' = sum(M) / HW
    kept = kept.to(y.dtype)[:, None]
    return x_mixed, kept * y + (1.0 - kept) * y[perm]


def cutout(x: Tensor, size: int, *, generator: torch.Generator | None = None) -> Tensor:
    """Zero a ``size`` x ``size`` square centred uniformly over each image (clipped at borders).

    Shape:
        x: (B, C, H, W) -> (B, C, H, W).
    """
    if size < 0:
        raise ValueError(f"size must be >= 0, got {size}")
    sizes = torch.full((x.shape[0],), float(size), dtype=torch.float64, device=x.device)
    box = _centred_boxes(x, sizes, sizes, generator)
    return x.masked_fill(box, 0.0)


def random_erasing(
    x: Tensor,
    *,
    p: float = 0.5,
    scale: tuple[float, float] = (0.02, 0.4),
    ratio: tuple[float, float] = (0.3, 3.3),
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""With probability ``p``, fill a box of area fraction in ``scale`` with U(0, 1) noise.

    Shape:
        x: (B, C, H, W) -> (B, C, H, W).
    """
    if not 0.0 <= p <= 1.0 or not 0.0 < scale[0] <= scale[1] <= 1.0 or ratio[0] > ratio[1]:
        raise ValueError(f"bad random erasing arguments p={p}, scale={scale}, ratio={ratio}")
    b, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    area = (scale[0] + (scale[1] - scale[0]) * _uniform(b, x, generator)) * h * w  # (B,) S_e
    log_r = np.log(ratio[0]) + (np.log(ratio[1]) - np.log(ratio[0])) * _uniform(b, x, generator)
    r = torch.exp(log_r)  # (B,) aspect ratio r_e
    box_h = torch.sqrt(area * r).round().clamp(1, h).long()  # (B,) H_e
    box_w = torch.sqrt(area / r).round().clamp(1, w).long()  # (B,) W_e
    top = (_uniform(b, x, generator) * (h - box_h + 1)).floor().long()
    left = (_uniform(b, x, generator) * (w - box_w + 1)).floor().long()
    erase = _uniform(b, x, generator) < p  # (B,)
    box = box_mask(top, left, top + box_h, left + box_w, h, w) & erase[:, None, None, None]
    noise = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return torch.where(box, noise, x)


def _pair_example(module: nn.Module) -> Example:
    x = torch.rand(6, 1, 8, 8, requires_grad=True)
    return Example(module, (x, torch.arange(6) % 3), (6, 1, 8, 8))


@register(
    "regularize.mixup",
    paper="Zhang, Cisse, Dauphin & Lopez-Paz 2018, arXiv:1710.09412 (mixup)",
    reference="label weights equal lambda exactly; pixels equal the convex combination",
    example=lambda: _pair_example(MixUp(alpha=0.4, num_classes=3)),
)
class MixUp(nn.Module):
    """MixUp (Eq. 1) on a training batch: a fresh Beta(alpha, alpha) lambda and permutation.

    In evaluation mode the images pass through and the labels become one-hot.

    Args:
        alpha: Beta parameter (Zhang et al.: 0.1-0.4 on ImageNet, 1 on CIFAR-10).
        num_classes: K, to one-hot integer labels.

    Shape:
        x (B, *), y (B,) or (B, K) -> ((B, *), (B, K)).
    """

    def __init__(self, *, alpha: float = 0.2, num_classes: int) -> None:
        super().__init__()
        if alpha <= 0 or num_classes < 1:
            raise ValueError(f"need alpha > 0 and num_classes >= 1, got {alpha}, {num_classes}")
        self.alpha, self.num_classes = alpha, num_classes

    def forward(
        self, x: Tensor, y: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        if not self.training:
            return x, as_probs(y, self.num_classes)
        lam = sample_beta(self.alpha, generator)
        perm = torch.randperm(x.shape[0], generator=generator, device=x.device)
        return mixup(x, as_probs(y, self.num_classes), lam, perm)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, num_classes={self.num_classes}"


@register(
    "regularize.cutmix",
    paper="Yun et al. 2019, arXiv:1905.04899 (CutMix)",
    reference="label weights equal the pasted pixel fraction exactly",
    example=lambda: _pair_example(CutMix(alpha=1.0, num_classes=3)),
)
class CutMix(nn.Module):
    """CutMix (Eq. 2): paste a box from a shuffled partner, labels in proportion to the area.

    In evaluation mode the images pass through and the labels become one-hot.

    Args:
        alpha: Beta parameter of lambda (Yun et al. use 1, i.e. uniform).
        num_classes: K, to one-hot integer labels.

    Shape:
        x (B, C, H, W), y (B,) or (B, K) -> ((B, C, H, W), (B, K)).
    """

    def __init__(self, *, alpha: float = 1.0, num_classes: int) -> None:
        super().__init__()
        if alpha <= 0 or num_classes < 1:
            raise ValueError(f"need alpha > 0 and num_classes >= 1, got {alpha}, {num_classes}")
        self.alpha, self.num_classes = alpha, num_classes

    def forward(
        self, x: Tensor, y: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        if not self.training:
            return x, as_probs(y, self.num_classes)
        lam = sample_beta(self.alpha, generator)
        perm = torch.randperm(x.shape[0], generator=generator, device=x.device)
        return cutmix(x, as_probs(y, self.num_classes), lam, perm, generator=generator)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, num_classes={self.num_classes}"


@register(
    "regularize.cutout",
    paper="DeVries & Taylor 2017, arXiv:1708.04552 (Cutout); Zhong et al. 2020, "
    "arXiv:1708.04896 (Random Erasing)",
    reference="zeroed area = size**2 for interior centres; erased area within its bounds",
    example=lambda: Example(
        Cutout(size=4), (torch.rand(5, 1, 8, 8, requires_grad=True),), (5, 1, 8, 8)
    ),
)
class Cutout(nn.Module):
    """Cutout in training mode (a zeroed square per image); the identity in evaluation mode.

    Args:
        size: side of the square in pixels.

    Shape:
        (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, *, size: int) -> None:
        super().__init__()
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        self.size = size

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return cutout(x, self.size, generator=generator) if self.training else x

    def extra_repr(self) -> str:
        return f"size={self.size}"


class RandomErasing(nn.Module):
    """Random Erasing in training mode (see :func:`random_erasing`); identity in evaluation.

    Shape:
        (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(
        self,
        *,
        p: float = 0.5,
        scale: tuple[float, float] = (0.02, 0.4),
        ratio: tuple[float, float] = (0.3, 3.3),
    ) -> None:
        super().__init__()
        self.p, self.scale, self.ratio = p, tuple(scale), tuple(ratio)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if not self.training:
            return x
        return random_erasing(x, p=self.p, scale=self.scale, ratio=self.ratio, generator=generator)

    def extra_repr(self) -> str:
        return f"p={self.p}, scale={self.scale}, ratio={self.ratio}"
