r"""Pretext tasks: context prediction, jigsaw puzzles and rotation prediction.

* **Context prediction** -- C. Doersch, A. Gupta & A. A. Efros, "Unsupervised Visual
  Representation Learning by Context Prediction", ICCV 2015, arXiv:1505.05192. Of a 3 x 3
  arrangement of P x P patches, separated by a *gap* G and each moved by a random *jitter* of
  up to J pixels, the centre patch and one of its 8 neighbours are encoded by the same network
  (Siamese, shared weights) and their features concatenated (*late fusion*) to classify the
  neighbour's position (8 classes, :func:`context_pairs`). Sec. 3.1: the gap and the jitter
  stop the network from solving the task by "trivial shortcuts" such as continuing lines
  across the patch boundary.
* **Jigsaw** -- M. Noroozi & P. Favaro, "Unsupervised Learning of Visual Representations by
  Solving Jigsaw Puzzles", ECCV 2016, arXiv:1603.09246. The image is cut into 3 x 3 cells,
  a tile is cropped at a random place inside each cell, the tiles are shuffled by one of a
  fixed set of permutations, and a Siamese network (shared tile encoder, features
  concatenated in tile order) predicts the permutation's index. The set is chosen for large
  Hamming distance (Sec. 3.2, Algorithm 1) by greedy farthest-point selection among all 9!
  permutations (:func:`hamming_permutations`):

  .. math:: P_{k+1} = \arg\max_{p \in S_9} \min_{i \le k} d_H(p, P_i)                \qquad (1)

* **Rotation** -- S. Gidaris, P. Singh & N. Komodakis, "Unsupervised Representation Learning
  by Predicting Image Rotations", ICLR 2018, arXiv:1803.07728: each image rotated by 0, 90,
  180 and 270 degrees, and a classifier predicts which (:func:`rotate4`).

For probes, :func:`grid_features` applies a patch encoder to the 3 x 3 nominal patches of
an image and concatenates the features (the late-fusion representation).

Deviations: greedy selection starts from the identity permutation (Algorithm 1 starts at a
random one); no colour dropping / chromatic-aberration handling (grey images).

Tests: :func:`rotate4` against ``torch.rot90``; jigsaw tiles reassemble to the image; the
chosen permutation set's minimum pairwise Hamming distance (brute force) beats a random set;
context pairs: the label is the neighbour's position and patches come from where they say.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.registry import Example, register
from replearn.ssl.encoders import ConvEncoder

__all__ = [
    "ContextPrediction",
    "Jigsaw",
    "RotationPrediction",
    "context_pairs",
    "grid_features",
    "hamming_permutations",
    "jigsaw_tiles",
    "min_hamming_distance",
    "rotate4",
]

NEIGHBOURS = ((0, 0), (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (2, 2))
"""(row, column) of the 8 neighbours in the 3 x 3 arrangement; the index is the label."""


def rotate4(x: Tensor) -> tuple[Tensor, Tensor]:
    """Every image rotated by k * 90 degrees (counter-clockwise), k = 0..3, and k as label.

    Shape:
        x: (B, C, H, H) -> ((4B, C, H, H), (4B,)) ordered k-major.
    """
    views = torch.cat([torch.rot90(x, k, dims=(-2, -1)) for k in range(4)])
    return views, torch.arange(4, device=x.device).repeat_interleave(x.shape[0])


@lru_cache(maxsize=8)
def hamming_permutations(n_perms: int, n_tiles: int = 9) -> Tensor:
    """Eq. (1): greedy max-min Hamming-distance permutations of ``n_tiles`` (first = identity).

    Shape:
        -> (n_perms, n_tiles) long.
    """
    flat = itertools.chain.from_iterable(itertools.permutations(range(n_tiles)))
    every = np.fromiter(flat, dtype=np.uint8).reshape(-1, n_tiles).T.copy()  # (k, k!)
    if not 1 <= n_perms <= every.shape[1]:
        raise ValueError(f"n_perms must be in [1, {every.shape[1]}], got {n_perms}")
    chosen = [0]
    min_dist = (every != every[:, :1]).sum(0, dtype=np.uint8)  # (k!,) distance to the set
    for _ in range(n_perms - 1):
        j = int(min_dist.argmax())  # first of the farthest
        chosen.append(j)
        np.minimum(min_dist, (every != every[:, j : j + 1]).sum(0, dtype=np.uint8), out=min_dist)
    return torch.from_numpy(every[:, chosen].T.astype(np.int64))


def min_hamming_distance(perms: Tensor) -> int:
    """Smallest Hamming distance between two rows of ``perms`` (n, k)."""
    d = (perms[:, None, :] != perms[None, :, :]).sum(-1)  # (n, n)
    d.fill_diagonal_(perms.shape[1] + 1)
    return int(d.min())


def jigsaw_tiles(
    x: Tensor,
    order: Tensor,
    *,
    tile: int,
    generator: torch.Generator | None = None,
    jitter: bool = True,
) -> Tensor:
    """Crop one ``tile``-sized piece per 3 x 3 cell and shuffle: slot i holds cell ``order[:, i]``.

    The crop is at a random place inside its cell (``jitter``) or at the cell's centre.

    Shape:
        x: (B, C, H, W) with 3 | H, W; order: (B, 9) -> (B, 9, C, tile, tile).
    """
    b, _, h, w = x.shape
    ch, cw = h // 3, w // 3
    if tile > min(ch, cw):
        raise ValueError(f"tile {tile} exceeds the cell {ch}x{cw}")
    tiles = []
    for cell in range(9):
        r, c = divmod(cell, 3)
        if jitter:
            dy = torch.randint(0, ch - tile + 1, (b,), generator=generator).tolist()
            dx = torch.randint(0, cw - tile + 1, (b,), generator=generator).tolist()
        else:
            dy, dx = [(ch - tile) // 2] * b, [(cw - tile) // 2] * b
        tiles.append(
            torch.stack(
                [
                    x[
                        i,
                        :,
                        r * ch + dy[i] : r * ch + dy[i] + tile,
                        c * cw + dx[i] : c * cw + dx[i] + tile,
                    ]
                    for i in range(b)
                ]
            )
        )
    cells = torch.stack(tiles, 1)  # (B, 9, C, t, t) in cell order
    return cells.gather(1, order.to(x.device)[:, :, None, None, None].expand_as(cells))


def context_pairs(
    x: Tensor, *, patch: int, gap: int, jitter: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Centre patch, one random neighbour and its position label (0..7), per image.

    The 3 x 3 arrangement (stride ``patch + gap``) is placed at a random position; every patch
    moves by an independent jitter in [-J, J]^2.

    Shape:
        x: (B, C, H, W) -> (B, C, P, P), (B, C, P, P), (B,) long.
    """
    b, _, h, w = x.shape
    span = 3 * patch + 2 * gap + 2 * jitter
    if span > min(h, w):
        raise ValueError(f"3*patch + 2*gap + 2*jitter = {span} exceeds the image {h}x{w}")
    label = torch.randint(0, 8, (b,), generator=generator)
    oy = torch.randint(0, h - span + 1, (b,), generator=generator) + jitter
    ox = torch.randint(0, w - span + 1, (b,), generator=generator) + jitter

    def crop(rows: Tensor, cols: Tensor) -> Tensor:
        jy = torch.randint(-jitter, jitter + 1, (b,), generator=generator)
        jx = torch.randint(-jitter, jitter + 1, (b,), generator=generator)
        top = (oy + rows * (patch + gap) + jy).tolist()
        left = (ox + cols * (patch + gap) + jx).tolist()
        return torch.stack(
            [x[i, :, top[i] : top[i] + patch, left[i] : left[i] + patch] for i in range(b)]
        )

    pos = torch.tensor(NEIGHBOURS)[label]  # (B, 2)
    return (
        crop(torch.ones(b, dtype=torch.long), torch.ones(b, dtype=torch.long)),
        crop(pos[:, 0], pos[:, 1]),
        label.to(x.device),
    )


def grid_features(encoder: nn.Module, x: Tensor, *, patch: int, stride: int) -> Tensor:
    """Concatenated features of the 3 x 3 nominal patches of a centred arrangement.

    Shape:
        x: (B, C, H, W) -> (B, 9 * feat_dim).
    """
    h, w = x.shape[-2:]
    top, left = (h - 2 * stride - patch) // 2, (w - 2 * stride - patch) // 2
    crops = [
        x[
            :,
            :,
            top + r * stride : top + r * stride + patch,
            left + c * stride : left + c * stride + patch,
        ]
        for r in range(3)
        for c in range(3)
    ]
    feats = encoder(torch.cat(crops))  # (9B, F)
    return torch.cat(feats.chunk(9), dim=1)


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))


@register(
    "ssl.rotation",
    paper="Gidaris, Singh & Komodakis 2018, arXiv:1803.07728",
    reference="rotate4 vs torch.rot90; labels",
    example=lambda: Example(
        RotationPrediction(ConvEncoder((1, 8, 8), width=4, features=8), feat_dim=8),
        (torch.rand(3, 1, 8, 8),),
        (),
    ),
)
class RotationPrediction(nn.Module):
    """Encoder + linear classifier of the rotation (4 classes) of every image of the batch.

    Shape:
        x: (B, C, H, H) -> (loss (), features of the unrotated images (B, feat_dim)).
    """

    def __init__(self, encoder: nn.Module, *, feat_dim: int) -> None:
        super().__init__()
        self.encoder, self.head = encoder, nn.Linear(feat_dim, 4)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        views, labels = rotate4(x)
        h = self.encoder(views)  # (4B, F)
        return F.cross_entropy(self.head(h), labels), h[: x.shape[0]].detach()


@register(
    "ssl.jigsaw",
    paper="Noroozi & Favaro 2016, arXiv:1603.09246",
    reference="tiles reassemble the image; minimum Hamming distance of the set (brute force)",
    example=lambda: Example(
        Jigsaw(ConvEncoder((1, 3, 3), width=4, features=8), feat_dim=8, tile=3, n_perms=10),
        (torch.rand(3, 1, 12, 12),),
        (),
    ),
)
class Jigsaw(nn.Module):
    """Siamese tile encoder, features concatenated in slot order, MLP over the permutation set.

    Shape:
        x: (B, C, H, W) -> (loss (), concatenated tile features (B, 9 * feat_dim)).
    """

    def __init__(
        self, encoder: nn.Module, *, feat_dim: int, tile: int, n_perms: int = 100, hidden: int = 256
    ) -> None:
        super().__init__()
        self.encoder, self.tile, self.n_perms = encoder, tile, n_perms
        self.register_buffer("perms", hamming_permutations(n_perms), persistent=False)
        self.head = _mlp(9 * feat_dim, hidden, n_perms)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        b = x.shape[0]
        label = torch.randint(0, self.n_perms, (b,), generator=generator).to(x.device)
        tiles = jigsaw_tiles(x, self.perms[label], tile=self.tile, generator=generator)
        feats = self.encoder(tiles.flatten(0, 1)).reshape(b, -1)  # (B, 9 F)
        return F.cross_entropy(self.head(feats), label), feats.detach()

    def extra_repr(self) -> str:
        return f"tile={self.tile}, n_perms={self.n_perms}"


@register(
    "ssl.context_prediction",
    paper="Doersch, Gupta & Efros 2015, arXiv:1505.05192",
    reference="context_pairs: labels are the neighbour positions, patches are the crops",
    example=lambda: Example(
        ContextPrediction(
            ConvEncoder((1, 3, 3), width=4, features=8), feat_dim=8, patch=3, gap=1, jitter=1
        ),
        (torch.rand(3, 1, 14, 14),),
        (),
    ),
)
class ContextPrediction(nn.Module):
    """Siamese late fusion: f(centre) and f(neighbour) concatenated, MLP to 8 positions.

    Shape:
        x: (B, C, H, W) -> (loss (), fused features (B, 2 * feat_dim)).
    """

    def __init__(
        self,
        encoder: nn.Module,
        *,
        feat_dim: int,
        patch: int,
        gap: int,
        jitter: int,
        hidden: int = 256,
    ) -> None:
        super().__init__()
        if patch < 1 or gap < 0 or jitter < 0:
            raise ValueError(
                f"need patch >= 1, gap >= 0, jitter >= 0; got {patch}, {gap}, {jitter}"
            )
        self.encoder, self.patch, self.gap, self.jitter = encoder, patch, gap, jitter
        self.head = _mlp(2 * feat_dim, hidden, 8)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        centre, neighbour, label = context_pairs(
            x, patch=self.patch, gap=self.gap, jitter=self.jitter, generator=generator
        )
        f = self.encoder(torch.cat([centre, neighbour])).chunk(2)  # 2 x (B, F)
        fused = torch.cat(f, dim=1)
        return F.cross_entropy(self.head(fused), label), fused.detach()

    def extra_repr(self) -> str:
        return f"patch={self.patch}, gap={self.gap}, jitter={self.jitter}"
