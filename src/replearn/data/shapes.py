"""Captioned shapes: a procedurally generated compositional data set for text-to-image models.

Each image (3 x 16 x 16, values in [0, 1], black background) holds two distinct objects, one in
the left half and one in the right half; an object is a shape (square, circle, triangle) in a
colour (red, green, blue), of a random size (4 to 6 pixels) at a random position inside its
half. Its caption names both objects and their spatial relation, in one of two forms:

    "<colour A> <shape A> left of <colour B> <shape B>"   (A is the left object)
    "<colour B> <shape B> right of <colour A> <shape A>"

Tokens (5 per caption, no padding): colours 0-2, shapes 3-5, ``left`` 6, ``right`` 7. A caption
and its *swap* (the two objects exchanged, e.g. "red square left of blue circle" and "blue
circle left of red square") hold the same multiset of words and describe mirrored scenes: a
bag-of-words text encoder cannot tell them apart (the course's "a cat in the shape of bread"
vs "bread in the shape of a cat"). Colour-shape binding is a second thing a bag loses ("red
square ... blue circle" and "blue square ... red circle" are one bag).

Every object pair and caption form is drawn uniformly: 9 objects, 72 ordered pairs of
distinct objects, 144 captions. ``objects`` gives the ground truth as
(left shape, left colour, right shape, right colour), the targets of a checker classifier.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "COLOURS",
    "SHAPES",
    "VOCAB",
    "all_captions",
    "caption_objects",
    "caption_text",
    "draw",
    "make_shapes",
    "swap",
]

COLOURS = ("red", "green", "blue")
SHAPES = ("square", "circle", "triangle")
VOCAB = (*COLOURS, *SHAPES, "left", "right")
LEFT, RIGHT = 6, 7
SIZE = 16


def _mask(shape: int, size: int) -> Tensor:
    """A ``size`` x ``size`` boolean mask of ``shape`` (0 square, 1 circle, 2 triangle)."""
    r = torch.arange(size, dtype=torch.float32) + 0.5
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    if shape == 0:
        return torch.ones(size, size, dtype=torch.bool)
    if shape == 1:
        c = size / 2
        return (yy - c) ** 2 + (xx - c) ** 2 <= c**2
    # an upward triangle: apex at the top centre, base on the bottom row
    return (xx - size / 2).abs() <= yy / 2


def draw(objects: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Images of ``objects`` rows (left shape, left colour, right shape, right colour).

    Sizes (4-6 px) and positions inside each 8-pixel-wide half are drawn from ``generator``.

    Shape:
        objects: (N, 4) long -> (N, 3, 16, 16) float in [0, 1].
    """
    n = objects.shape[0]
    images = torch.zeros(n, 3, SIZE, SIZE)
    half = SIZE // 2
    sizes = torch.randint(4, 7, (n, 2), generator=generator)
    for i in range(n):
        for side in range(2):
            shape, colour = int(objects[i, 2 * side]), int(objects[i, 2 * side + 1])
            s = int(sizes[i, side])
            x = side * half + int(torch.randint(0, half - s + 1, (), generator=generator))
            y = int(torch.randint(0, SIZE - s + 1, (), generator=generator))
            images[i, colour, y : y + s, x : x + s][_mask(shape, s)] = 1.0
    return images


def caption_objects(tokens: Tensor) -> Tensor:
    """The scene a caption describes, as (left shape, left colour, right shape, right colour).

    Shape:
        tokens: (N, 5) -> (N, 4).
    """
    a = torch.stack([tokens[:, 1] - 3, tokens[:, 0]], dim=1)  # first-named (shape, colour)
    b = torch.stack([tokens[:, 4] - 3, tokens[:, 3]], dim=1)
    left_first = (tokens[:, 2] == LEFT)[:, None]
    return torch.cat([torch.where(left_first, a, b), torch.where(left_first, b, a)], dim=1)


def all_captions() -> Tensor:
    """Every caption: 72 ordered pairs of distinct objects x 2 relations.

    Shape:
        -> (144, 5) long.
    """
    objs = [(c, s) for s in range(3) for c in range(3)]
    rows = [
        [ca, 3 + sa, rel, cb, 3 + sb]
        for (ca, sa) in objs
        for (cb, sb) in objs
        if (ca, sa) != (cb, sb)
        for rel in (LEFT, RIGHT)
    ]
    return torch.tensor(rows, dtype=torch.long)


def swap(tokens: Tensor) -> Tensor:
    """The same words with the two objects exchanged (the mirrored scene, the same bag).

    Shape:
        tokens: (N, 5) -> (N, 5).
    """
    return tokens[:, [3, 4, 2, 0, 1]]


def make_shapes(n: int, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """``n`` captioned images: (images (n, 3, 16, 16), tokens (n, 5), objects (n, 4))."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    gen = torch.Generator().manual_seed(seed)
    captions = all_captions()
    tokens = captions[torch.randint(len(captions), (n,), generator=gen)]
    objects = caption_objects(tokens)
    return draw(objects, gen), tokens, objects


def caption_text(tokens: Tensor) -> str:
    """One caption's words, e.g. ``"red square left of blue circle"``.

    Shape:
        tokens: (5,).
    """
    w = [VOCAB[int(i)] for i in tokens]
    return f"{w[0]} {w[1]} {w[2]} of {w[3]} {w[4]}"
