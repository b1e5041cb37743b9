r"""A small U-Net noise predictor :math:`\epsilon_\theta(x_t, t, y)` for 28x28 (and 8x8) images.

Papers: O. Ronneberger, P. Fischer & T. Brox, "U-Net", MICCAI 2015, arXiv:1505.04597;
J. Ho, A. Jain & P. Abbeel, "Denoising Diffusion Probabilistic Models", 2020,
arXiv:2006.11239 (Appendix B: the PixelCNN++-style U-Net: residual blocks with group
normalization, the sinusoidal time embedding added inside every residual block,
self-attention at a low resolution).

Per residual block, with :math:`e` the (time + label) embedding:

.. math::

    h = W_1 * \mathrm{SiLU}(\mathrm{GN}(x)) + W_e\, e, \qquad
    \mathrm{out} = S x + W_2 * \mathrm{Dropout}(\mathrm{SiLU}(\mathrm{GN}(h)))       \qquad (1)

with :math:`S` the identity or a 1x1 convolution when the width changes. The attention
block is :math:`x + W_o\,\mathrm{Attention}(W_q\,\mathrm{GN}(x), W_k\,\mathrm{GN}(x),
W_v\,\mathrm{GN}(x))` over the :math:`H W` positions (Eq. 1 of Vaswani et al.). Levels
halve the resolution with a stride-2 convolution and double it back with nearest
up-sampling and a convolution; skips concatenate, as in improved-diffusion.

Built from replearn's verified layers: :class:`replearn.norm.GroupNorm` (fused path) and
:func:`replearn.transformer.attention.scaled_dot_product_attention`; convolutions are
``nn.Conv2d`` (the from-scratch :mod:`replearn.cnn.layers` are the readable reference).

Deviations from DDPM's network: much smaller (base width 32, two or three levels, one
residual block per level by default, one attention block in the middle and at the lowest
level), a label embedding (with a null label for classifier-free guidance) or a linear map of
a condition vector added to the time embedding (text-to-image models such as Imagen and Stable
Diffusion also cross-attend to the text's tokens), the output convolution starts at zero.

Tests (``tests/diffusion/test_unet.py``): shapes for 28x28 and 8x8 inputs, conditional and
unconditional calls, that the output at init is zero and gradients reach every parameter,
translation of time changes the output, and argument validation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.diffusion.denoisers import TimeEmbedding
from replearn.norm import GroupNorm
from replearn.registry import Example, register
from replearn.transformer.attention import scaled_dot_product_attention

__all__ = ["AttentionBlock", "ResBlock", "UNet"]


def _norm(channels: int) -> GroupNorm:
    groups = next(g for g in (8, 4, 2, 1) if channels % g == 0)
    return GroupNorm(groups, channels, fast=True)


class ResBlock(nn.Module):
    """Eq. (1): a residual block with the embedding added after the first convolution.

    Shape:
        x: (B, C_in, H, W); emb: (B, E) -> (B, C_out, H, W).
    """

    def __init__(self, c_in: int, c_out: int, emb_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1, self.conv1 = _norm(c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2, self.conv2 = _norm(c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (B, C_out, H, W)
        h = h + self.emb(F.silu(emb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class AttentionBlock(nn.Module):
    """Multi-head self-attention over the H*W positions, with a residual connection.

    Shape:
        (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, channels: int, heads: int = 4) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f"channels ({channels}) must be divisible by heads ({heads})")
        self.heads = heads
        self.norm = _norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        qkv = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w)
        q, k, v = (qkv[:, i].transpose(-1, -2) for i in range(3))  # (B, heads, HW, C/heads)
        out = scaled_dot_product_attention(q, k, v)  # (B, heads, HW, C/heads)
        out = out.transpose(-1, -2).reshape(b, c, h, w)
        return x + self.proj(out)


def _unet_example() -> Example:
    model = UNet(in_channels=1, base=8, mults=(1, 2), num_classes=10, heads=2)
    return Example(
        model,
        (torch.randn(2, 1, 8, 8), torch.tensor([3, 700]), torch.tensor([1, 10])),
        (2, 1, 8, 8),
    )


@register(
    "diffusion.unet",
    paper="Ronneberger et al. 2015, arXiv:1505.04597; Ho et al. 2020, arXiv:2006.11239 (App. B)",
    reference="shape/gradient properties; trained through L_simple (experiments ddpm-fashion)",
    example=_unet_example,
)
class UNet(nn.Module):
    r""":math:`\epsilon_\theta(x_t, t, y)`: a U-Net with time/label embedding and attention at the
    lowest resolution.

    Args:
        in_channels: image channels (output has the same).
        base: width of the first level.
        mults: width multiplier of each level (the resolution halves between levels).
        num_res_blocks: residual blocks per level on the way down (one more on the way up).
        num_classes: labels for conditioning (None: unconditional; label ``num_classes`` is
            the null label).
        cond_dim: width of a condition vector instead of a label (e.g. a text encoder's
            output, :mod:`replearn.diffusion.text_condition`); None: none.
        dropout: dropout inside residual blocks.
        heads: attention heads.

    Shape:
        x: (B, C, H, W) with H, W divisible by 2^(len(mults)-1); t: (B,) int; y: (B,) labels,
        (B, cond_dim) condition vectors or None -> (B, C, H, W).
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        base: int = 32,
        mults: tuple[int, ...] = (1, 2, 2),
        num_res_blocks: int = 1,
        num_classes: int | None = None,
        cond_dim: int | None = None,
        dropout: float = 0.0,
        heads: int = 4,
    ) -> None:
        super().__init__()
        if in_channels < 1 or base < 1 or num_res_blocks < 1 or not mults:
            raise ValueError("in_channels, base, num_res_blocks must be >= 1 and mults non-empty")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.in_channels, self.base, self.mults = in_channels, base, tuple(mults)
        self.num_res_blocks, self.num_classes = num_res_blocks, num_classes
        emb = 4 * base
        self.cond_dim = cond_dim
        self.time = TimeEmbedding(base, emb, num_classes, cond_dim)
        self.conv_in = nn.Conv2d(in_channels, base, 3, padding=1)
        self.down = nn.ModuleList()
        skips, ch = [base], base
        for i, m in enumerate(mults):
            for _ in range(num_res_blocks):
                self.down.append(ResBlock(ch, base * m, emb, dropout))
                ch = base * m
                skips.append(ch)
            if i < len(mults) - 1:
                self.down.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        self.low_attn = AttentionBlock(ch, heads)
        self.mid1, self.mid_attn = ResBlock(ch, ch, emb, dropout), AttentionBlock(ch, heads)
        self.mid2 = ResBlock(ch, ch, emb, dropout)
        self.up = nn.ModuleList()
        for i, m in reversed(list(enumerate(mults))):
            for _ in range(num_res_blocks + 1):
                self.up.append(ResBlock(ch + skips.pop(), base * m, emb, dropout))
                ch = base * m
            if i > 0:
                self.up.append(nn.Conv2d(ch, ch, 3, padding=1))  # after nearest up-sampling
        self.norm_out, self.conv_out = _norm(ch), nn.Conv2d(ch, in_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        factor = 2 ** (len(self.mults) - 1)
        if (
            x.dim() != 4
            or x.shape[1] != self.in_channels
            or x.shape[2] % factor
            or x.shape[3] % factor
        ):
            raise ValueError(
                f"expected (B, {self.in_channels}, H, W) with H, W divisible by {factor}, "
                f"got {tuple(x.shape)}"
            )
        emb = self.time(t, y)  # (B, 4 base)
        h = self.conv_in(x)
        hs = [h]
        for layer in self.down:
            h = layer(h, emb) if isinstance(layer, ResBlock) else layer(h)
            hs.append(h)
        h = self.low_attn(h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)
        for layer in self.up:
            if isinstance(layer, ResBlock):
                h = layer(torch.cat([h, hs.pop()], dim=1), emb)
            else:
                h = layer(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, base={self.base}, mults={self.mults}, "
            f"num_res_blocks={self.num_res_blocks}, num_classes={self.num_classes}, "
            f"cond_dim={self.cond_dim}"
        )
