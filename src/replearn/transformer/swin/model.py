r"""Swin Transformer: attention inside local windows, shifted between layers, merged into a pyramid.

Paper: Z. Liu, Y. Lin, Y. Cao, H. Hu, Y. Wei, Z. Zhang, S. Lin & B. Guo, "Swin Transformer:
Hierarchical Vision Transformer using Shifted Windows", ICCV 2021, arXiv:2103.14030.

The image is cut into :math:`P \times P` patches embedded linearly (ViT's Eq. 1 without class
token or positions), then stages of Swin blocks. Self-attention runs inside non-overlapping
:math:`M \times M` windows (:func:`window_partition`), which costs :math:`4hwC^2 + 2M^2hwC`
instead of :math:`4hwC^2 + 2(hw)^2C` (Eq. 1-2). Consecutive blocks alternate regular (W-MSA) and
shifted (SW-MSA) windows, displaced by :math:`s = \lfloor M/2 \rfloor` (Sec. 3.2):

.. math::

    \hat z^\ell = \text{W-MSA}(\mathrm{LN}(z^{\ell-1})) + z^{\ell-1},\quad
    z^\ell = \mathrm{MLP}(\mathrm{LN}(\hat z^\ell)) + \hat z^\ell,

    \hat z^{\ell+1} = \text{SW-MSA}(\mathrm{LN}(z^\ell)) + z^\ell,\quad
    z^{\ell+1} = \mathrm{MLP}(\mathrm{LN}(\hat z^{\ell+1})) + \hat z^{\ell+1}       \qquad (3)

    \mathrm{Attention}(Q, K, V) = \mathrm{SoftMax}(QK^\top/\sqrt d + B)\,V           \qquad (4)

The shifted windows are computed by a *cyclic shift* (``torch.roll`` by :math:`-s`) followed by
the regular partition; a window of the rolled map can then hold tokens from up to four regions
that were not neighbours, and :func:`shifted_window_mask` keeps attention within one region
(:func:`shift_region_labels`). :math:`B \in \mathbb R^{M^2 \times M^2}` is read from a learned
table :math:`\hat B \in \mathbb R^{(2M-1) \times (2M-1)}` per head at the relative offset of
the two tokens (:func:`relative_position_index`). Between stages, patch merging concatenates
each 2×2 group of tokens (4C) and projects it linearly to 2C (:func:`merge_patches`).

Deviations (those of the official code and of ``transformers``): an image or feature map not
divisible by P, M or 2 is zero-padded at the bottom and right (padded tokens are not masked);
a stage whose resolution is at most M uses one window of that size and no shift; the LayerNorms
after the patch embedding and in patch merging use eps 1e-5. The cross-window mask uses
:math:`-\infty` (the official code adds -100). The MLP is :class:`~replearn.transformer.vit.MLP`.

Tests: :meth:`Swin.from_hf` (in :mod:`replearn.transformer.swin.hf`) against ``transformers``
``SwinModel`` / ``SwinForImageClassification`` (atol 1e-5; padding configurations too);
:func:`relative_position_index` against an explicit loop; :func:`shifted_window_mask` against a
brute-force labelling of the shifted windows in the original coordinates; partition / reverse
round trips; reference attention path == SDPA path with gradients (float64).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.norm.layernorm import LayerNorm
from replearn.registry import Example, register
from replearn.regularize.dropout import drop_path
from replearn.transformer.attention import scaled_dot_product_attention, to_additive_mask
from replearn.transformer.vit.model import ACTIVATIONS, MLP

__all__ = [
    "PatchMerging", "Swin", "SwinBlock", "WindowAttention", "merge_patches",
    "relative_position_index", "shift_region_labels", "shifted_window_mask", "window_partition",
    "window_reverse",
]  # fmt: skip


def window_partition(x: Tensor, window: int) -> Tensor:
    """Non-overlapping ``window``×``window`` windows, row-major, tokens row-major inside.

    Shape:
        (B, H, W, C) -> (B, nW, M·M, C) with nW = (H / M)·(W / M).
    """
    b, h, w, c = x.shape
    x = x.reshape(b, h // window, window, w // window, window, c).transpose(2, 3)
    return x.reshape(b, (h // window) * (w // window), window * window, c)


def window_reverse(windows: Tensor, window: int, height: int, width: int) -> Tensor:
    """Inverse of :func:`window_partition`.

    Shape:
        (B, nW, M·M, C) -> (B, H, W, C).
    """
    b, c = windows.shape[0], windows.shape[-1]
    x = windows.reshape(b, height // window, width // window, window, window, c).transpose(2, 3)
    return x.reshape(b, height, width, c)


def relative_position_index(window: int) -> Tensor:
    r"""Index into :math:`\hat B` of the token pair (i, j).

    :math:`(\Delta y + M-1)(2M-1) + \Delta x + M-1` where
    :math:`\Delta y = y_i - y_j,\ \Delta x = x_i - x_j \in [-M+1, M-1]`, tokens row-major.

    Shape:
        -> (M·M, M·M) int64 with values in [0, (2M-1)^2).
    """
    y, x = torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
    y, x = y.flatten(), x.flatten()  # (M·M,)
    dy = y[:, None] - y[None, :] + window - 1  # (M·M, M·M) in [0, 2M-2]
    dx = x[:, None] - x[None, :] + window - 1
    return dy * (2 * window - 1) + dx


def shift_region_labels(height: int, width: int, window: int, shift: int) -> Tensor:
    """Region of each position of the rolled map: 3 slices per axis (Sec. 3.2, Fig. 4).

    Along an axis of length n: ``[0, n-M)`` holds whole windows, ``[n-M, n-s)`` and ``[n-s, n)``
    share the last window but came from opposite sides of the image before the roll.

    Shape:
        -> (H, W) int64 in [0, 9).
    """
    labels = torch.zeros(height, width, dtype=torch.long)
    bounds = lambda n: (slice(0, n - window), slice(n - window, n - shift), slice(n - shift, n))  # noqa: E731
    for i, rows in enumerate(bounds(height)):
        for j, cols in enumerate(bounds(width)):
            labels[rows, cols] = 3 * i + j
    return labels


def shifted_window_mask(height: int, width: int, window: int, shift: int) -> Tensor:
    """``True`` where token i of a rolled window may attend token j: same region.

    Shape:
        -> (nW, M·M, M·M) bool.
    """
    labels = shift_region_labels(height, width, window, shift)[None, :, :, None]
    win = window_partition(labels, window)[0, :, :, 0]  # (nW, M·M)
    return win[:, :, None] == win[:, None, :]


def merge_patches(x: Tensor) -> Tensor:
    """Concatenate each 2×2 group (top-left, bottom-left, top-right, bottom-right); pad if odd.

    Shape:
        (B, H, W, C) -> (B, ceil(H/2), ceil(W/2), 4C).
    """
    if x.shape[1] % 2 or x.shape[2] % 2:
        x = F.pad(x, (0, 0, 0, x.shape[2] % 2, 0, x.shape[1] % 2))
    return torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside each window with relative position bias, Eq. (4).

    Shape:
        windows (B, nW, M·M, C), mask (nW, M·M, M·M) bool or None -> (B, nW, M·M, C).
    """

    def __init__(self, dim: int, heads: int, window: int, *, qkv_bias: bool = True,
                 attn_dropout: float = 0.0, fast: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.heads, self.window, self.attn_dropout, self.fast = heads, window, attn_dropout, fast
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))  # \hat B
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        self.register_buffer("index", relative_position_index(window), persistent=False)

    def relative_bias(self) -> Tensor:
        """B of Eq. (4) per head. Shape: -> (heads, M·M, M·M)."""
        return self.bias_table[self.index].permute(2, 0, 1)

    def forward(self, windows: Tensor, mask: Tensor | None = None) -> Tensor:
        (b, nw, n, c), h = windows.shape, self.heads
        qkv = self.qkv(windows).view(b, nw, n, 3, h, c // h).permute(3, 0, 1, 4, 2, 5)
        q, k, v = qkv.reshape(3, b, nw * h, n, c // h)  # windows x heads as one axis
        bias = self.relative_bias().expand(nw, h, n, n)  # B of Eq. (4), (nW, heads, N, N)
        if mask is not None:
            bias = bias + to_additive_mask(mask, bias.dtype)[:, None]
        bias = bias.reshape(1, nw * h, n, n)  # broadcasts over the batch only
        kw = {"dropout": self.attn_dropout, "fast": self.fast, "training": self.training}
        out = scaled_dot_product_attention(q, k, v, bias, **kw)  # (B, nW·heads, N, d)
        return self.proj(out.view(b, nw, h, n, c // h).transpose(2, 3).reshape(b, nw, n, c))


class SwinBlock(nn.Module):
    """One half of Eq. (3): (S)W-MSA then MLP, both pre-LN residual, with stochastic depth.

    Shape:
        (B, H, W, C) -> (B, H, W, C).
    """

    def __init__(self, dim: int, heads: int, window: int, shift: int, *, mlp_ratio: float = 4.0,
                 qkv_bias: bool = True, dropout: float = 0.0, attn_dropout: float = 0.0,
                 drop_path: float = 0.0, eps: float = 1e-5, act: str = "gelu",
                 fast: bool = True) -> None:  # fmt: skip
        super().__init__()
        if not 0 <= shift < window:
            raise ValueError(f"need 0 <= shift < window, got {shift}, {window}")
        self.window, self.shift, self.drop_path = window, shift, drop_path
        self.norm1 = LayerNorm(dim, eps=eps, fast=True)
        self.norm2 = LayerNorm(dim, eps=eps, fast=True)
        self.attn = WindowAttention(dim, heads, window, qkv_bias=qkv_bias,
                                    attn_dropout=attn_dropout, fast=fast)  # fmt: skip
        self.mlp = MLP(dim, int(mlp_ratio * dim), act=act, dropout=dropout)
        self.drop = nn.Dropout(dropout)

    def windowed_attention(self, x: Tensor) -> Tensor:
        """(S)W-MSA on a normalised map: pad, roll, partition, attend, reverse, roll back, crop."""
        _, h, w, _ = x.shape
        m, s = self.window, self.shift
        if h % m or w % m:
            x = F.pad(x, (0, 0, 0, -w % m, 0, -h % m))  # (B, Hp, Wp, C)
        hp, wp = x.shape[1:3]
        if s:
            x = torch.roll(x, shifts=(-s, -s), dims=(1, 2))  # cyclic shift
        mask = shifted_window_mask(hp, wp, m, s).to(x.device) if s else None
        x = window_reverse(self.attn(window_partition(x, m), mask), m, hp, wp)
        if s:
            x = torch.roll(x, shifts=(s, s), dims=(1, 2))
        return x[:, :h, :w]

    def forward(self, x: Tensor) -> Tensor:
        dp = lambda t: drop_path(t, self.drop_path, training=self.training)  # noqa: E731
        x = x + dp(self.drop(self.windowed_attention(self.norm1(x))))
        return x + dp(self.mlp(self.norm2(x)))

    def extra_repr(self) -> str:
        return f"window={self.window}, shift={self.shift}, drop_path={self.drop_path}"


class PatchMerging(nn.Module):
    """:func:`merge_patches`, LayerNorm(4C), linear 4C -> 2C.

    Shape:
        (B, H, W, C) -> (B, ceil(H/2), ceil(W/2), 2C).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = LayerNorm(4 * dim, fast=True)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.reduction(self.norm(merge_patches(x)))


def _example() -> Example:
    model = Swin(image_size=8, patch_size=2, in_chans=1, num_classes=3, embed_dim=8,
                 depths=(2, 1), heads=(2, 2), window_size=2)  # fmt: skip
    return Example(model, (torch.randn(2, 1, 8, 8),), (2, 3))


@register(
    "transformer.swin",
    paper="Liu et al. 2021, arXiv:2103.14030 (Swin Transformer)",
    reference="transformers SwinModel/SwinForImageClassification with copied weights (from_hf); "
    "relative index vs a loop; shift mask vs brute-force labelling; reference vs SDPA",
    example=_example,
)
class Swin(nn.Module):
    """Swin Transformer: patch embedding, stages of (shifted-)window blocks, patch merging, head.

    Args:
        image_size: side of the square images the resolutions (and window clamping) are set for.
        patch_size: side P of the patches.
        in_chans: input channels.
        num_classes: classifier outputs; 0 gives the pooled features.
        embed_dim: width C of the first stage (doubled by each patch merging).
        depths: blocks per stage (odd blocks use shifted windows).
        heads: attention heads per stage.
        window_size: window side M (shift M // 2).
        mlp_ratio: MLP hidden width / C.
        qkv_bias: biases on the query, key and value projections.
        dropout: dropout on the embeddings, attention outputs and in the MLP.
        attn_dropout: dropout on the attention probabilities.
        drop_path_rate: stochastic depth rate, rising linearly from 0 to this over all blocks.
        eps: LayerNorm epsilon in the blocks and the final norm.
        act: ``"gelu"`` or ``"gelu_tanh"``.
        absolute_positions: add learned absolute positions after the patch embedding.
        fast: attention through ``F.scaled_dot_product_attention``.

    Shape:
        (B, in_chans, H, W) -> (B, num_classes), or (B, C·2^(stages-1)) without classes.
    """

    def __init__(self, *, image_size: int = 224, patch_size: int = 4, in_chans: int = 3,
                 num_classes: int = 1000, embed_dim: int = 96,
                 depths: Sequence[int] = (2, 2, 6, 2), heads: Sequence[int] = (3, 6, 12, 24),
                 window_size: int = 7, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 dropout: float = 0.0, attn_dropout: float = 0.0, drop_path_rate: float = 0.1,
                 eps: float = 1e-5, act: str = "gelu", absolute_positions: bool = False,
                 fast: bool = True) -> None:  # fmt: skip
        super().__init__()
        depths, heads = tuple(depths), tuple(heads)
        if not depths or len(heads) != len(depths) or min(depths + heads) < 1:
            raise ValueError(f"need as many positive depths as heads, got {depths}, {heads}")
        if min(image_size, patch_size, in_chans, embed_dim, window_size) < 1 or num_classes < 0:
            raise ValueError("sizes must be positive (num_classes >= 0)")
        if any(embed_dim * 2**i % h for i, h in enumerate(heads)) or act not in ACTIVATIONS:
            raise ValueError(f"heads must divide each stage width; act in {list(ACTIVATIONS)}")
        if not (0 <= dropout < 1 and 0 <= attn_dropout < 1 and 0 <= drop_path_rate < 1):
            raise ValueError("dropout rates must be in [0, 1)")
        self.image_size, self.patch_size, self.in_chans = image_size, patch_size, in_chans
        self.depths, self.heads, self.window_size = depths, heads, window_size
        self.num_classes, self.num_features = num_classes, embed_dim * 2 ** (len(depths) - 1)
        self.patch_embed = nn.Conv2d(in_chans, embed_dim, patch_size, patch_size)
        self.patch_norm = LayerNorm(embed_dim, fast=True)
        res = math.ceil(image_size / patch_size)
        self.pos_embed = (
            nn.Parameter(torch.zeros(1, res, res, embed_dim)) if absolute_positions else None
        )
        self.drop = nn.Dropout(dropout)
        total = sum(depths)
        rates = [drop_path_rate * i / max(total - 1, 1) for i in range(total)]
        self.stages = nn.ModuleList()
        for i, (depth, h) in enumerate(zip(depths, heads, strict=True)):
            dim, m = embed_dim * 2**i, min(window_size, res)  # one window when res <= M
            kw = {"mlp_ratio": mlp_ratio, "qkv_bias": qkv_bias, "dropout": dropout, "eps": eps,
                  "attn_dropout": attn_dropout, "act": act, "fast": fast}  # fmt: skip
            shift = m // 2 if res > window_size else 0  # in odd blocks
            blocks = [SwinBlock(dim, h, m, shift * (j % 2), drop_path=rates.pop(0), **kw)
                      for j in range(depth)]  # fmt: skip
            stage = nn.Module()
            stage.blocks = nn.ModuleList(blocks)
            stage.downsample = PatchMerging(dim) if i < len(depths) - 1 else None
            self.stages.append(stage)
            res = math.ceil(res / 2)
        self.norm = LayerNorm(self.num_features, eps=eps, fast=True)
        self.head = nn.Linear(self.num_features, num_classes) if num_classes else None

    def forward_features(self, x: Tensor) -> Tensor:
        """Patch embedding, stages, final norm: (B, C_in, H, W) -> (B, H'·W', C) tokens."""
        if x.ndim != 4 or x.shape[1] != self.in_chans:
            raise ValueError(f"expected (B, {self.in_chans}, H, W) images, got {tuple(x.shape)}")
        p = self.patch_size
        x = F.pad(x, (0, -x.shape[-1] % p, 0, -x.shape[-2] % p))
        x = self.patch_norm(self.patch_embed(x).permute(0, 2, 3, 1))  # (B, H/P, W/P, C)
        if self.pos_embed is not None:
            x = x + self.pos_embed
        x = self.drop(x)
        for stage in self.stages:
            for block in stage.blocks:
                x = block(x)
            if stage.downsample is not None:
                x = stage.downsample(x)  # (B, H/2, W/2, 2C)
        return self.norm(x.flatten(1, 2))

    def forward(self, x: Tensor) -> Tensor:
        pooled = self.forward_features(x).mean(1)  # global average pooling, (B, C)
        return pooled if self.head is None else self.head(pooled)

    def extra_repr(self) -> str:
        return (f"image_size={self.image_size}, patch_size={self.patch_size}, "
                f"depths={self.depths}, heads={self.heads}, window_size={self.window_size}, "
                f"num_classes={self.num_classes}")  # fmt: skip

    @classmethod
    def from_hf(cls, hf_model: nn.Module) -> Swin:
        """The network of a ``transformers`` ``SwinModel`` / ``SwinForImageClassification``."""
        from replearn.transformer.swin.hf import swin_from_hf

        return swin_from_hf(hf_model)
