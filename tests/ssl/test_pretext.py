"""replearn.ssl.pretext: rotations, jigsaw tiles and permutation set, context pairs."""

from __future__ import annotations

import itertools

import pytest
import torch

from replearn.ssl.encoders import ConvEncoder
from replearn.ssl.pretext import (
    NEIGHBOURS,
    ContextPrediction,
    Jigsaw,
    RotationPrediction,
    context_pairs,
    grid_features,
    hamming_permutations,
    jigsaw_tiles,
    min_hamming_distance,
    rotate4,
)


def test_rotate4_matches_rot90() -> None:
    x = torch.arange(2 * 16, dtype=torch.float32).reshape(2, 1, 4, 4)
    views, labels = rotate4(x)
    assert labels.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    for k in range(4):
        assert torch.equal(views[2 * k : 2 * k + 2], torch.rot90(x, k, dims=(-2, -1)))


def test_permutation_set_has_large_minimum_hamming_distance() -> None:
    perms = hamming_permutations(100)
    assert perms.shape == (100, 9) and torch.equal(perms[0], torch.arange(9))
    assert len({tuple(p) for p in perms.tolist()}) == 100
    assert all(sorted(p) == list(range(9)) for p in perms.tolist())
    # brute-force minimum over all pairs, against min_hamming_distance
    brute = min(sum(a != b for a, b in zip(p, q, strict=True))
                for p, q in itertools.combinations(perms.tolist(), 2))  # fmt: skip
    assert min_hamming_distance(perms) == brute
    g = torch.Generator().manual_seed(0)
    random_set = torch.stack([torch.randperm(9, generator=g) for _ in range(100)])
    assert brute >= 6 > min_hamming_distance(random_set)
    assert min_hamming_distance(hamming_permutations(10)) >= 8


def test_jigsaw_tiles_reassemble_without_jitter() -> None:
    x = torch.arange(2 * 81, dtype=torch.float32).reshape(2, 1, 9, 9)
    order = torch.stack([torch.arange(9), torch.tensor([8, 7, 6, 5, 4, 3, 2, 1, 0])])
    tiles = jigsaw_tiles(x, order, tile=3, jitter=False)  # tile == cell: exact pieces
    for b in range(2):
        for slot in range(9):
            r, c = divmod(int(order[b, slot]), 3)
            piece = x[b, :, 3 * r : 3 * r + 3, 3 * c : 3 * c + 3]
            assert torch.equal(tiles[b, slot], piece)
    jit = jigsaw_tiles(x, order, tile=2, generator=torch.Generator().manual_seed(0))
    for slot in range(9):  # a jittered tile lies inside its cell
        r, c = divmod(slot, 3)
        cell = x[0, 0, 3 * r : 3 * r + 3, 3 * c : 3 * c + 3].contiguous()
        assert torch.isin(jit[0, slot].contiguous(), cell).all()


def test_context_pairs_take_the_labelled_neighbour() -> None:
    x = torch.arange(4 * 20 * 20, dtype=torch.float32).reshape(4, 1, 20, 20)
    gen = torch.Generator().manual_seed(0)
    centre, neighbour, label = context_pairs(x, patch=4, gap=2, jitter=0, generator=gen)
    for b in range(4):
        top, left = divmod(int(centre[b, 0, 0, 0]) - b * 400, 20)
        r, c = NEIGHBOURS[int(label[b])]
        ntop, nleft = divmod(int(neighbour[b, 0, 0, 0]) - b * 400, 20)
        assert (ntop - top, nleft - left) == ((r - 1) * 6, (c - 1) * 6)
    with pytest.raises(ValueError):
        context_pairs(x, patch=7, gap=2, jitter=0)


def test_pretext_modules_and_grid_features() -> None:
    torch.manual_seed(0)
    x = torch.rand(4, 1, 24, 24)
    enc = ConvEncoder((1, 6, 6), width=4, features=8)
    loss, f = ContextPrediction(enc, feat_dim=8, patch=6, gap=2, jitter=1)(x)
    assert loss.ndim == 0 and f.shape == (4, 16)
    loss, f = Jigsaw(enc, feat_dim=8, tile=6, n_perms=20)(x)
    assert loss.ndim == 0 and f.shape == (4, 72)
    assert grid_features(enc, x, patch=6, stride=8).shape == (4, 72)
    rot = RotationPrediction(ConvEncoder((1, 24, 24), width=4, features=8), feat_dim=8)
    loss, f = rot(x)
    assert loss.ndim == 0 and f.shape == (4, 8)
