r"""Vision Transformer (ViT): an image as a sequence of 16×16 words.

Paper: A. Dosovitskiy, L. Beyer, A. Kolesnikov, D. Weissenborn, X. Zhai, T. Unterthiner,
M. Dehghani, M. Minderer, G. Heigold, S. Gelly, J. Uszkoreit & N. Houlsby, "An Image is Worth
16x16 Words: Transformers for Image Recognition at Scale", ICLR 2021, arXiv:2010.11929.

An image :math:`x \in \mathbb R^{H \times W \times C}` is cut into :math:`N = HW/P^2` patches
:math:`x_p \in \mathbb R^{N \times (P^2 C)}` (:func:`patchify`), each linearly embedded by
:math:`E`; a learned class token is prepended and learned positions are added (Sec. 3.1):

.. math::

    z_0 = [x_\text{class};\ x_p^1 E;\ \dots;\ x_p^N E] + E_{pos},\quad
    E \in \mathbb R^{(P^2 C) \times D},\ E_{pos} \in \mathbb R^{(N + 1) \times D}   \qquad (1)

    z'_\ell = \mathrm{MSA}(\mathrm{LN}(z_{\ell-1})) + z_{\ell-1}                    \qquad (2)

    z_\ell = \mathrm{MLP}(\mathrm{LN}(z'_\ell)) + z'_\ell                           \qquad (3)

    y = \mathrm{LN}(z_L^0)                                                           \qquad (4)

The MLP is two linear layers with a GELU between; the classification head is a linear layer on
:math:`y` (fine-tuning), optionally after a ``tanh`` pre-logits layer (``pooler=True``, the
"MLP with one hidden layer" of pre-training, and the ``pooler`` of ``transformers``' ViTModel).

Deviations: the patch embedding is a convolution with kernel and stride :math:`P` (the same map
as :func:`patchify` then :math:`E`, tested equal); no interpolation of the positions to other
image sizes (the input must have the configured size); query, key and value projections are
one fused ``qkv`` linear layer. :meth:`ViT.forward` computes the last layer for the class token
only (keys and values from every token; :meth:`EncoderBlock.forward_class_token`): the head
reads nothing else, so the logits and gradients are those of the full layer (tested), at about
a quarter less work for a 4-layer model; :meth:`ViT.forward_features` computes every row.

Tests: :meth:`ViT.from_hf` against ``transformers`` ``ViTModel`` / ``ViTForImageClassification``
(random small configs, atol 1e-5, gradients too); the convolutional embedding against
:func:`patchify` times :math:`E` in float64; :func:`patchify` / :func:`unpatchify` shapes and
round trip (hypothesis); the reference attention path against the SDPA path (float64).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.norm.layernorm import LayerNorm
from replearn.registry import Example, register
from replearn.transformer.attention import scaled_dot_product_attention
from replearn.transformer.vit.hf import HF_ACTIVATIONS, load_hf_tensors, vit_hf_keys

__all__ = [
    "HF_ACTIVATIONS", "MLP", "EncoderBlock", "PatchEmbedding", "ViT", "load_hf_tensors",
    "num_patches", "patchify", "unpatchify",
]  # fmt: skip

ACTIVATIONS = {"gelu": "none", "gelu_tanh": "tanh"}
"""Allowed ``act`` names -> the ``approximate`` argument of ``F.gelu``."""


def num_patches(height: int, width: int, patch: int) -> int:
    """:math:`N = HW / P^2`; raises ``ValueError`` unless ``P`` divides both sides."""
    if patch < 1 or height % patch or width % patch:
        raise ValueError(f"patch size {patch} must divide the image size {height}x{width}")
    return (height // patch) * (width // patch)


def patchify(x: Tensor, patch: int) -> Tensor:
    r"""The patch sequence :math:`x_p` of Eq. (1): row-major patches, each flattened as (C, P, P).

    Shape:
        (B, C, H, W) -> (B, N, C·P·P) with N = (H / P)·(W / P).
    """
    b, c, h, w = x.shape
    num_patches(h, w, patch)
    x = x.reshape(b, c, h // patch, patch, w // patch, patch)  # (B, C, H/P, P, W/P, P)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (B, H/P, W/P, C, P, P)
    return x.reshape(b, (h // patch) * (w // patch), c * patch * patch)


def unpatchify(patches: Tensor, patch: int, height: int, width: int) -> Tensor:
    """Inverse of :func:`patchify`.

    Shape:
        (B, N, C·P·P) -> (B, C, H, W).
    """
    b, n, d = patches.shape
    if n != num_patches(height, width, patch) or d % (patch * patch):
        raise ValueError(f"{n} patches of {d} values do not tile {height}x{width} with P={patch}")
    c = d // (patch * patch)
    x = patches.reshape(b, height // patch, width // patch, c, patch, patch)
    return x.permute(0, 3, 1, 4, 2, 5).reshape(b, c, height, width)


class PatchEmbedding(nn.Module):
    """:math:`x_p E + b` of Eq. (1) as a convolution with kernel = stride = P.

    Shape:
        (B, C, H, W) -> (B, N, D).
    """

    def __init__(self, in_chans: int, dim: int, patch: int) -> None:
        super().__init__()
        self.patch = patch
        self.proj = nn.Conv2d(in_chans, dim, patch, patch)

    def forward(self, x: Tensor) -> Tensor:
        num_patches(x.shape[-2], x.shape[-1], self.patch)
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, D, H/P, W/P) -> (B, N, D)

    def as_matrix(self) -> Tensor:
        """:math:`E` of Eq. (1), so that ``patchify(x) @ E + bias`` equals ``forward(x)``.

        Shape:
            -> (C·P·P, D).
        """
        return self.proj.weight.flatten(1).T


class MLP(nn.Module):
    """fc1, GELU, dropout, fc2, dropout (Sec. 3.1). Shape: (*, D) -> (*, D)."""

    def __init__(self, dim: int, hidden: int, *, act: str = "gelu", dropout: float = 0.0) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)
        self.approximate, self.drop = ACTIVATIONS[act], nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        h = self.drop(F.gelu(self.fc1(x), approximate=self.approximate))
        return self.drop(self.fc2(h))


class EncoderBlock(nn.Module):
    """Pre-LN transformer layer, Eq. (2) then Eq. (3).

    Shape:
        (B, L, D) -> (B, L, D).
    """

    def __init__(self, dim: int, heads: int, mlp_dim: int, *, dropout: float = 0.0,
                 attn_dropout: float = 0.0, eps: float = 1e-6, act: str = "gelu",
                 qkv_bias: bool = True, fast: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.heads, self.attn_dropout, self.fast = heads, attn_dropout, fast
        self.norm1 = LayerNorm(dim, eps=eps, fast=True)
        self.norm2 = LayerNorm(dim, eps=eps, fast=True)
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.mlp = MLP(dim, mlp_dim, act=act, dropout=dropout)
        self.drop = nn.Dropout(dropout)

    def attention(self, x: Tensor) -> Tensor:
        """Multi-head self-attention, MSA of Eq. (2). Shape: (B, L, D) -> (B, L, D)."""
        b, n, d = x.shape
        qkv = self.qkv(x).view(b, n, 3, self.heads, d // self.heads)
        q, k, v = (t.transpose(1, 2) for t in qkv.unbind(2))  # (B, heads, L, d_head) each
        out = scaled_dot_product_attention(
            q, k, v, dropout=self.attn_dropout, fast=self.fast, training=self.training
        )  # (B, heads, L, d_head)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop(self.attention(self.norm1(x)))  # Eq. (2)
        return x + self.mlp(self.norm2(x))  # Eq. (3)

    def forward_class_token(self, x: Tensor) -> Tensor:
        """Eq. (2)-(3) for row 0 (the class token) only, keys and values from every row: all a
        classifier reads from the last layer. Shape: (B, L, D) -> (B, 1, D)."""
        b, n, d = x.shape
        h = self.norm1(x)
        w, bias = self.qkv.weight, self.qkv.bias
        q = F.linear(h[:, :1], w[:d], None if bias is None else bias[:d])  # (B, 1, D)
        kv = F.linear(h, w[d:], None if bias is None else bias[d:]).view(b, n, 2, self.heads, -1)
        k, v = (t.transpose(1, 2) for t in kv.unbind(2))  # (B, heads, L, d_head)
        out = scaled_dot_product_attention(
            q.view(b, 1, self.heads, -1).transpose(1, 2),
            k,
            v,
            dropout=self.attn_dropout,
            fast=self.fast,
            training=self.training,
        )  # (B, heads, 1, d_head)
        x0 = x[:, :1] + self.drop(self.proj(out.transpose(1, 2).reshape(b, 1, d)))  # Eq. (2)
        return x0 + self.mlp(self.norm2(x0))  # Eq. (3)


def _example() -> Example:
    model = ViT(image_size=8, patch_size=4, in_chans=1, num_classes=3, dim=16, depth=2, heads=2,
                mlp_dim=32)  # fmt: skip
    return Example(model, (torch.randn(2, 1, 8, 8),), (2, 3))


@register(
    "transformer.vit",
    paper="Dosovitskiy et al. 2021, arXiv:2010.11929 (Vision Transformer)",
    reference="transformers ViTModel/ViTForImageClassification with copied weights (from_hf); "
    "conv patch embedding vs patchify @ E; reference vs SDPA attention",
    example=_example,
)
class ViT(nn.Module):
    """Vision Transformer: patch embedding, class token, positions, pre-LN encoder, head.

    Args:
        image_size: side of the (square) input images.
        patch_size: side P of the patches; must divide ``image_size``.
        in_chans: input channels C.
        num_classes: classifier outputs; 0 gives the pre-logits features (no classifier).
        dim: width D.
        depth: encoder layers L.
        heads: attention heads (must divide ``dim``).
        mlp_dim: hidden width of the MLP.
        dropout: dropout after the embeddings, the attention output and in the MLP.
        attn_dropout: dropout on the attention probabilities.
        eps: LayerNorm epsilon.
        act: ``"gelu"`` (exact) or ``"gelu_tanh"``.
        qkv_bias: biases on the query, key and value projections.
        pooler: a ``tanh`` pre-logits layer on the class token before the classifier.
        fast: attention through ``F.scaled_dot_product_attention`` (else the written formula).

    Shape:
        (B, in_chans, image_size, image_size) -> (B, num_classes), or (B, dim) if no classes.
    """

    def __init__(self, *, image_size: int = 224, patch_size: int = 16, in_chans: int = 3,
                 num_classes: int = 1000, dim: int = 768, depth: int = 12, heads: int = 12,
                 mlp_dim: int = 3072, dropout: float = 0.0, attn_dropout: float = 0.0,
                 eps: float = 1e-6, act: str = "gelu", qkv_bias: bool = True,
                 pooler: bool = False, fast: bool = True) -> None:  # fmt: skip
        super().__init__()
        if min(image_size, patch_size, in_chans, dim, depth, heads, mlp_dim) < 1:
            raise ValueError("sizes must be positive integers")
        n = num_patches(image_size, image_size, patch_size)
        if dim % heads or num_classes < 0 or act not in ACTIVATIONS:
            raise ValueError(f"need heads | dim, num_classes >= 0, act in {list(ACTIVATIONS)}")
        if not (0.0 <= dropout < 1.0 and 0.0 <= attn_dropout < 1.0):
            raise ValueError(f"dropouts must be in [0, 1), got {dropout}, {attn_dropout}")
        self.image_size, self.patch_size, self.in_chans = image_size, patch_size, in_chans
        self.num_classes, self.dim, self.depth, self.heads = num_classes, dim, depth, heads
        self.patch_embed = PatchEmbedding(in_chans, dim, patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))  # x_class
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, dim))  # E_pos
        self.drop = nn.Dropout(dropout)
        kw = {"dropout": dropout, "attn_dropout": attn_dropout, "eps": eps, "act": act,
              "qkv_bias": qkv_bias, "fast": fast}  # fmt: skip
        self.blocks = nn.ModuleList(EncoderBlock(dim, heads, mlp_dim, **kw) for _ in range(depth))
        self.norm = LayerNorm(dim, eps=eps, fast=True)
        self.pooler = nn.Linear(dim, dim) if pooler else None
        self.head = nn.Linear(dim, num_classes) if num_classes else None
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def set_fast(self, fast: bool) -> ViT:
        """Switch every block between the SDPA path and the written-out formula."""
        for block in self.blocks:
            block.fast = fast
        return self

    def embed(self, x: Tensor) -> Tensor:
        """Eq. (1): (B, C, H, W) -> z_0 (B, N + 1, D), class token first."""
        if x.ndim != 4 or x.shape[1] != self.in_chans or x.shape[-2:] != (self.image_size,) * 2:
            raise ValueError(
                f"expected (B, {self.in_chans}, {self.image_size}, {self.image_size}) images, "
                f"got {tuple(x.shape)}"
            )
        tokens = self.patch_embed(x)  # (B, N, D)
        cls = self.cls_token.expand(x.shape[0], -1, -1)  # (B, 1, D)
        return self.drop(torch.cat([cls, tokens], dim=1) + self.pos_embed)  # Eq. (1)

    def forward_features(self, x: Tensor) -> Tensor:
        """Eq. (1)-(3) and the final LayerNorm: (B, C, H, W) -> (B, N + 1, D), class token first."""
        z = self.embed(x)
        for block in self.blocks:
            z = block(z)
        return self.norm(z)  # Eq. (4) reads row 0

    def forward_head(self, h: Tensor, pre_logits: bool = False) -> Tensor:
        """y = h[:, 0] (Eq. 4), optional tanh pre-logits, classifier: (B, L, D) -> (B, K)."""
        y = h[:, 0]  # (B, D)
        if self.pooler is not None:
            y = torch.tanh(self.pooler(y))
        return y if pre_logits or self.head is None else self.head(y)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (or pre-logits): ``forward_head(forward_features(x))``, with the last layer
        computed for the class token only (the head reads nothing else; tested equal)."""
        z = self.embed(x)
        for block in self.blocks[:-1]:
            z = block(z)
        return self.forward_head(self.norm(self.blocks[-1].forward_class_token(z)))

    def extra_repr(self) -> str:
        return (
            f"image_size={self.image_size}, patch_size={self.patch_size}, dim={self.dim}, "
            f"depth={self.depth}, heads={self.heads}, num_classes={self.num_classes}"
        )

    @classmethod
    def from_hf(cls, hf_model: nn.Module) -> ViT:
        """The network of a ``transformers`` ``ViTModel`` / ``ViTForImageClassification``.

        Same config, every tensor copied (strict both ways), same train/eval mode. A
        ``ViTModel`` gives ``num_classes=0``: :meth:`forward` returns its ``pooler_output``
        (or the class token without a pooler), :meth:`forward_features` its
        ``last_hidden_state``.
        """
        cfg, theirs = hf_model.config, hf_model.state_dict()
        p = "vit." if any(k.startswith("vit.") for k in theirs) else ""
        sizes = (cfg.image_size, cfg.patch_size)
        if not all(isinstance(s, int) for s in sizes) or cfg.hidden_act not in HF_ACTIVATIONS:
            raise ValueError(f"need int image/patch sizes and gelu, got {sizes}, {cfg.hidden_act}")
        has_head = "classifier.weight" in theirs
        model = cls(
            image_size=cfg.image_size, patch_size=cfg.patch_size, in_chans=cfg.num_channels,
            num_classes=theirs["classifier.weight"].shape[0] if has_head else 0,
            dim=cfg.hidden_size, depth=cfg.num_hidden_layers, heads=cfg.num_attention_heads,
            mlp_dim=cfg.intermediate_size, dropout=cfg.hidden_dropout_prob,
            attn_dropout=cfg.attention_probs_dropout_prob, eps=cfg.layer_norm_eps,
            act=HF_ACTIVATIONS[cfg.hidden_act], qkv_bias=cfg.qkv_bias,
            pooler=f"{p}pooler.dense.weight" in theirs,
        )  # fmt: skip
        if model.pooler is not None and cfg.pooler_act != "tanh":
            raise ValueError(f"pooler_act {cfg.pooler_act!r} unsupported (tanh)")
        load_hf_tensors(model, theirs, lambda k: vit_hf_keys(k, p))
        return model.train(hf_model.training)
