r"""Random views for joint-embedding methods: SimCLR-style augmentation of signals and images.

SimCLR (Chen et al. 2020, arXiv:2002.05709, Sec. 3 and Appendix A) composes a random resized
crop, colour distortion and blur; its ablation (Fig. 5) shows that the crop plus a photometric
change is what matters. The two pipelines here follow that recipe on the project's data:

* :class:`SignalViews` for 1-D signals (B, 1, L) such as MNIST-1D: a random *crop-and-resize*
  (a window of ``scale`` of the length, resampled to L by linear interpolation), a random
  shift, an amplitude scale and Gaussian noise -- the augmentations of the MNIST-1D authors'
  self-supervised notebook, written for a batch.
* :class:`ImageViews` for images (B, C, H, W) in [0, 1]: a random resized crop (a zoom and
  shift through :func:`replearn.regularize.image_ops.affine`), a small rotation
  (:func:`~replearn.regularize.image_ops.rotate`), brightness and contrast jitter
  (:func:`~replearn.regularize.image_ops.adjust_brightness`, ``adjust_contrast``) and noise.

A crop of scale :math:`s` at offset :math:`o` maps output coordinate :math:`u \in [-1, 1]` to
input coordinate :math:`s u + o` with :math:`|o| \le 1 - s`:

.. math:: x'(u) = x(s u + o)                                                           \qquad (1)

``strength`` (0..1) scales every random range (0: identity views), for the claim that strong
augmentation matters. Randomness comes from ``generator`` or the global torch RNG (which the
engine checkpoints). ``local=True`` draws the small crops of DINO's multi-crop (Caron et al.
2021): resampled to the full input size here (a deviation: DINO feeds them at a lower
resolution).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.regularize.image_ops import adjust_brightness, adjust_contrast, affine, rotate

__all__ = ["ImageViews", "SignalViews", "crop_resize_1d"]


def _u(n: int, lo: float, hi: float, ref: Tensor, g: torch.Generator | None) -> Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g, device=ref.device, dtype=ref.dtype)


def crop_resize_1d(x: Tensor, scale: Tensor, offset: Tensor) -> Tensor:
    r"""Eq. (1) on signals: read output position :math:`u` at :math:`s u + o` (linear interp.).

    Shape:
        x: (B, C, L); scale, offset: (B,) -> (B, C, L).
    """
    length = x.shape[-1]
    u = torch.linspace(-1 + 1 / length, 1 - 1 / length, length, device=x.device, dtype=x.dtype)
    pos = scale[:, None] * u[None] + offset[:, None]  # (B, L) in [-1, 1]
    grid = torch.stack([pos, torch.zeros_like(pos)], -1)[:, None]  # (B, 1, L, 2)
    out = F.grid_sample(x[:, :, None], grid, align_corners=False, padding_mode="border")
    return out[:, :, 0]  # (B, C, L)


class SignalViews(nn.Module):
    """Random views of 1-D signals: crop-and-resize, shift, amplitude scale, noise.

    Args:
        strength: scales every random range (0 = identity, 1 = default).
        min_scale: smallest crop (fraction of the length) at strength 1.
        shift: largest circular shift (fraction of the length) at strength 1.
        noise: standard deviation of the additive Gaussian noise at strength 1.
        local_scale: crop range (min, max) of ``local=True`` views (multi-crop).

    Shape:
        (B, L) or (B, C, L) -> (B, C, L).
    """

    def __init__(
        self,
        *,
        strength: float = 1.0,
        min_scale: float = 0.6,
        shift: float = 0.15,
        noise: float = 0.1,
        local_scale: tuple[float, float] = (0.25, 0.5),
    ) -> None:
        super().__init__()
        if not 0.0 <= strength <= 1.0 or not 0.0 < min_scale <= 1.0:
            raise ValueError(f"need 0 <= strength <= 1 and 0 < min_scale <= 1, got {strength}")
        self.strength, self.min_scale, self.shift, self.noise = strength, min_scale, shift, noise
        self.local_scale = local_scale

    def forward(
        self, x: Tensor, *, local: bool = False, generator: torch.Generator | None = None
    ) -> Tensor:
        x = x[:, None] if x.ndim == 2 else x  # (B, C, L)
        b, s, g = x.shape[0], self.strength, generator
        if local:
            scale = _u(b, *self.local_scale, x, g)
        else:
            scale = _u(b, 1 - s * (1 - self.min_scale), 1.0, x, g)
        offset = (1 - scale) * _u(b, -1.0, 1.0, x, g)  # (B,) crop stays inside the signal
        out = crop_resize_1d(x, scale, offset)
        length = x.shape[-1]
        max_shift = round(s * self.shift * length)
        if max_shift:
            shifts = torch.randint(-max_shift, max_shift + 1, (b,), generator=g).to(x.device)
            idx = (torch.arange(length, device=x.device)[None] - shifts[:, None]) % length
            out = out.gather(-1, idx[:, None].expand_as(out))
        amp = _u(b, 1 - 0.3 * s, 1 + 0.3 * s, x, g)[:, None, None]
        noise = torch.randn(out.shape, generator=g, dtype=x.dtype).to(x.device)
        return amp * out + s * self.noise * noise

    def extra_repr(self) -> str:
        return f"strength={self.strength}, min_scale={self.min_scale}, shift={self.shift}"


class ImageViews(nn.Module):
    """Random views of images in [0, 1]: resized crop, rotation, brightness/contrast, noise.

    Args:
        strength: scales every random range (0 = identity, 1 = default).
        min_scale: smallest crop side (fraction of the image side) at strength 1.
        degrees: largest rotation at strength 1.
        jitter: brightness and contrast factors in [1 - jitter, 1 + jitter] at strength 1.
        noise: standard deviation of additive Gaussian noise at strength 1.
        local_scale: crop-side range of ``local=True`` views (multi-crop).

    Shape:
        (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(
        self,
        *,
        strength: float = 1.0,
        min_scale: float = 0.6,
        degrees: float = 15.0,
        jitter: float = 0.4,
        noise: float = 0.05,
        local_scale: tuple[float, float] = (0.3, 0.5),
    ) -> None:
        super().__init__()
        if not 0.0 <= strength <= 1.0 or not 0.0 < min_scale <= 1.0:
            raise ValueError(f"need 0 <= strength <= 1 and 0 < min_scale <= 1, got {strength}")
        self.strength, self.min_scale, self.degrees = strength, min_scale, degrees
        self.jitter, self.noise, self.local_scale = jitter, noise, local_scale

    def forward(
        self, x: Tensor, *, local: bool = False, generator: torch.Generator | None = None
    ) -> Tensor:
        b, s, g = x.shape[0], self.strength, generator
        if local:
            side = _u(b, *self.local_scale, x, g)
        else:
            side = _u(b, 1 - s * (1 - self.min_scale), 1.0, x, g)  # (B,)
        h, w = x.shape[-2:]
        matrix = torch.diag_embed(torch.stack([side, side], -1))  # (B, 2, 2): A = s I
        off = (1 - side)[:, None] * torch.stack([_u(b, -1, 1, x, g), _u(b, -1, 1, x, g)], -1)
        shift = off * torch.tensor([w / 2, h / 2], dtype=x.dtype, device=x.device)  # pixels
        out = affine(x, matrix, shift)
        if s * self.degrees > 0:
            out = rotate(out, _u(b, -s * self.degrees, s * self.degrees, x, g))
        j = s * self.jitter
        out = adjust_brightness(out, _u(b, 1 - j, 1 + j, x, g))
        out = adjust_contrast(out, _u(b, 1 - j, 1 + j, x, g))
        noise = torch.randn(out.shape, generator=g, dtype=x.dtype).to(x.device)
        return (out + s * self.noise * noise).clamp(0.0, 1.0)

    def extra_repr(self) -> str:
        return f"strength={self.strength}, min_scale={self.min_scale}, degrees={self.degrees}"
