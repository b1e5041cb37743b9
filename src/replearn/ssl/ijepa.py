r"""I-JEPA: the Image-based Joint-Embedding Predictive Architecture.

Paper: M. Assran, Q. Duval, I. Misra, P. Bojanowski, P. Vincent, M. Rabbat, Y. LeCun &
N. Ballas, "Self-Supervised Learning from Images with a Joint-Embedding Predictive
Architecture", CVPR 2023, arXiv:2301.08243.

From one image (no augmentation), I-JEPA samples M *target blocks* and one large *context
block* (Sec. 3, Fig. 4; :func:`block_masks`) on the grid of patches. A ViT *target encoder*
:math:`f_{\bar\theta}` (the EMA of the context encoder, Sec. 3) encodes all patches; its
outputs at the target blocks, :math:`s_y`, are the targets. The *context encoder*
:math:`f_\theta` encodes only the context patches (minus any overlap with the targets); a
narrow ViT *predictor* :math:`g_\phi` receives the context tokens plus one learned mask token
per target position (each with its position embedding) and predicts :math:`\hat s_y`. The
loss is Eq. (1), :func:`replearn.ssl.losses.ijepa_loss`, in representation space: no pixel
is reconstructed.

The encoders are ViT encoders built from :class:`replearn.transformer.vit.EncoderBlock` (and
its :class:`~replearn.transformer.vit.PatchEmbedding` for images) without a class token
(:class:`TokenViT`); for 1-D signals the patch embedding is a 1-D convolution with kernel =
stride = P and the grid is 1 x L/P.

Deviations: learned (not sine-cosine) position embeddings; one target-block size and one
context size per batch, context lengths trimmed to the shortest in the batch (as the
authors' mask collator does); the probe reads the target encoder's average-pooled tokens.

Tests: masks (targets inside the grid, context disjoint from targets, shapes); the loss
equals ``ijepa_loss`` of the predictor's output and the target encoder's tokens; the target
encoder gets no gradient; the EMA update (registry example runs the whole forward pass).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from replearn.engine import EMA
from replearn.norm.layernorm import LayerNorm
from replearn.registry import Example, register
from replearn.ssl.losses import ijepa_loss
from replearn.ssl.methods.common import cosine_momentum, full
from replearn.transformer.vit.model import EncoderBlock, PatchEmbedding

__all__ = ["IJEPA", "JEPAPredictor", "TokenViT", "block_masks"]


def _block_size(grid: tuple[int, int], scale: float, aspect: float) -> tuple[int, int]:
    h, w = grid
    area = scale * h * w
    bh = min(max(round(math.sqrt(area * aspect)), 1), h) if h > 1 else 1
    return bh, min(max(round(area / bh), 1), w)


def block_masks(
    grid: tuple[int, int],
    batch: int,
    *,
    n_targets: int = 4,
    target_scale: tuple[float, float] = (0.15, 0.2),
    target_aspect: tuple[float, float] = (0.75, 1.5),
    context_scale: tuple[float, float] = (0.85, 1.0),
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Sample context and target patch indices (row-major on the grid) for a batch.

    Returns ``(context, targets)``: context (B, N_c) indices of the context block minus the
    targets, trimmed to the shortest in the batch; targets (B, M, N_t), M blocks of one size.

    Shape:
        -> (B, N_c) long, (B, M, N_t) long.
    """
    h, w = grid

    def u(lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand((), generator=generator))

    def place(bh: int, bw: int) -> Tensor:
        top = int(torch.randint(0, h - bh + 1, (), generator=generator))
        left = int(torch.randint(0, w - bw + 1, (), generator=generator))
        rows, cols = torch.arange(top, top + bh), torch.arange(left, left + bw)
        return (rows[:, None] * w + cols[None, :]).flatten()

    th, tw = _block_size(grid, u(*target_scale), u(*target_aspect))
    ch, cw = _block_size(grid, u(*context_scale), 1.0)
    targets, contexts = [], []
    for _ in range(batch):
        blocks = torch.stack([place(th, tw) for _ in range(n_targets)])  # (M, N_t)
        ctx = place(ch, cw)
        ctx = ctx[~torch.isin(ctx, blocks.flatten())]
        if len(ctx) == 0:  # targets cover the context: fall back to every other patch
            everything = torch.arange(h * w)
            ctx = everything[~torch.isin(everything, blocks.flatten())]
        targets.append(blocks)
        contexts.append(ctx)
    n_ctx = max(min(len(c) for c in contexts), 1)
    return torch.stack([c[:n_ctx] for c in contexts]), torch.stack(targets)


class TokenViT(nn.Module):
    """ViT encoder over patch tokens (no class token): patch embedding, positions, blocks, LN.

    Args:
        input_shape: (C, H, W) images or (C, L) signals.
        patch: patch side (images) or length (signals); must divide the sizes.
        dim, depth, heads, mlp_dim: transformer sizes.

    Shape:
        x (B, C, H, W) or (B, C, L), keep (B, n) indices or None -> (B, n or N, dim).
    """

    def __init__(self, input_shape: Sequence[int], *, patch: int, dim: int = 64, depth: int = 4,
                 heads: int = 4, mlp_dim: int = 128) -> None:  # fmt: skip
        super().__init__()
        sizes = tuple(input_shape[1:])
        if len(input_shape) not in (2, 3) or any(s % patch for s in sizes):
            raise ValueError(f"patch {patch} must divide the sizes of input_shape {input_shape}")
        self.input_shape, self.patch, self.dim = tuple(input_shape), patch, dim
        self.grid = (
            (sizes[0] // patch, sizes[1] // patch) if len(sizes) == 2 else (1, sizes[0] // patch)
        )
        if len(sizes) == 2:
            self.patch_embed: nn.Module = PatchEmbedding(input_shape[0], dim, patch)
        else:
            self.patch_embed = nn.Conv1d(input_shape[0], dim, patch, stride=patch)
        self.pos_embed = nn.Parameter(torch.zeros(1, self.grid[0] * self.grid[1], dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.blocks = nn.ModuleList(EncoderBlock(dim, heads, mlp_dim) for _ in range(depth))
        self.norm = LayerNorm(dim, eps=1e-6, fast=True)

    def forward(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        if len(self.input_shape) == 2:
            x = x[:, None] if x.ndim == 2 else x
            tokens = self.patch_embed(x).transpose(1, 2)  # (B, N, D)
        else:
            tokens = self.patch_embed(x)  # (B, N, D)
        tokens = tokens + self.pos_embed
        if keep is not None:
            tokens = tokens.gather(1, keep[..., None].expand(-1, -1, self.dim))  # (B, n, D)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)


class JEPAPredictor(nn.Module):
    """Narrow ViT: context tokens + positioned mask tokens -> predictions at the targets.

    Shape:
        context (B, N_c, D), context_idx (B, N_c), target_idx (B, N_t) -> (B, N_t, D).
    """

    def __init__(self, num_tokens: int, enc_dim: int, *, dim: int = 32, depth: int = 2,
                 heads: int = 4, mlp_dim: int = 64) -> None:  # fmt: skip
        super().__init__()
        self.embed = nn.Linear(enc_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_tokens, dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        self.blocks = nn.ModuleList(EncoderBlock(dim, heads, mlp_dim) for _ in range(depth))
        self.norm = LayerNorm(dim, eps=1e-6, fast=True)
        self.out = nn.Linear(dim, enc_dim)

    def forward(self, context: Tensor, context_idx: Tensor, target_idx: Tensor) -> Tensor:
        pos = self.pos_embed.expand(len(context), -1, -1)  # (B, N, d)
        d = pos.shape[-1]
        x = self.embed(context) + pos.gather(1, context_idx[..., None].expand(-1, -1, d))
        m = self.mask_token + pos.gather(1, target_idx[..., None].expand(-1, -1, d))  # (B, N_t, d)
        z = torch.cat([x, m], dim=1)
        for block in self.blocks:
            z = block(z)
        return self.out(self.norm(z[:, context.shape[1] :]))  # (B, N_t, D)


class _MeanPooled(nn.Module):
    def __init__(self, encoder: TokenViT) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, x: Tensor) -> Tensor:
        return self.encoder(x).mean(1)  # (B, D)


def _example() -> Example:
    model = IJEPA((1, 8, 8), patch=2, dim=16, depth=1, heads=2, mlp_dim=16, pred_dim=8,
                  pred_depth=1)  # fmt: skip
    return Example(model, (torch.rand(3, 1, 8, 8),), ())


@register(
    "ssl.ijepa",
    paper="Assran et al. 2023, arXiv:2301.08243 (I-JEPA)",
    reference="loss = ijepa_loss (float64 loop oracle) of predictor vs EMA target tokens; "
    "block masks (disjoint context, in-grid targets); encoder blocks = transformer.vit",
    example=_example,
)
class IJEPA(nn.Module):
    """Context encoder, EMA target encoder and predictor of the target blocks' representations.

    Args:
        input_shape: (C, H, W) or (C, L).
        patch: patch size.
        dim, depth, heads, mlp_dim: encoder sizes.
        pred_dim, pred_depth: predictor width and depth.
        n_targets: M target blocks.
        target_scale, context_scale: block areas (fractions of the grid).
        base_momentum: base decay of the target EMA (cosine schedule to 1).

    Shape:
        x (B, ...) -> (loss (), mean context token (B, dim)).
    """

    def __init__(self, input_shape: Sequence[int], *, patch: int, dim: int = 64, depth: int = 4,
                 heads: int = 4, mlp_dim: int = 128, pred_dim: int = 32, pred_depth: int = 2,
                 n_targets: int = 4, target_scale: tuple[float, float] = (0.15, 0.2),
                 context_scale: tuple[float, float] = (0.85, 1.0),
                 base_momentum: float = 0.996) -> None:  # fmt: skip
        super().__init__()
        if n_targets < 1 or not 0.0 <= base_momentum <= 1.0:
            raise ValueError("need n_targets >= 1 and base_momentum in [0, 1]")
        self.encoder = TokenViT(input_shape, patch=patch, dim=dim, depth=depth, heads=heads,
                                mlp_dim=mlp_dim)  # fmt: skip
        self.target = EMA(self.encoder, decay=base_momentum)
        n = self.encoder.grid[0] * self.encoder.grid[1]
        self.predictor = JEPAPredictor(n, dim, dim=pred_dim, depth=pred_depth, heads=heads,
                                       mlp_dim=2 * pred_dim)  # fmt: skip
        self.n_targets, self.target_scale, self.context_scale = (
            n_targets,
            target_scale,
            context_scale,
        )
        self.base_momentum = base_momentum

    def masks(self, batch: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        return block_masks(self.encoder.grid, batch, n_targets=self.n_targets,
                           target_scale=self.target_scale, context_scale=self.context_scale,
                           generator=generator)  # fmt: skip

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        b = x.shape[0]
        ctx_idx, tgt_idx = (t.to(x.device) for t in self.masks(b, generator))
        m, n_t = tgt_idx.shape[1:]
        with torch.no_grad():
            h = self.target(x)  # (B, N, D), all patches
            h_t = h.gather(1, tgt_idx.reshape(b, m * n_t, 1).expand(-1, -1, h.shape[-1]))
        z = self.encoder(x, keep=ctx_idx)  # (B, N_c, D)
        pred = self.predictor(
            z.repeat_interleave(m, 0), ctx_idx.repeat_interleave(m, 0), tgt_idx.reshape(b * m, n_t)
        )  # (B M, N_t, D)
        loss = ijepa_loss(full(pred), full(h_t.reshape(b * m, n_t, -1)))
        return loss, z.mean(1).detach()

    @torch.no_grad()
    def momentum_update(self, progress: float) -> None:
        """Target EMA with the cosine-scheduled decay."""
        self.target.update(self.encoder, decay=cosine_momentum(progress, self.base_momentum))

    def feature_extractor(self) -> nn.Module:
        """The target encoder's average-pooled tokens, (B, ...) -> (B, dim), for probes."""
        return _MeanPooled(self.target.module)

    def extra_repr(self) -> str:
        return f"grid={self.encoder.grid}, n_targets={self.n_targets}"
