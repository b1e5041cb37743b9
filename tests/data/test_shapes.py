"""replearn.data.shapes: captions describe the drawn scenes; swaps mirror them, bags stay equal."""

from __future__ import annotations

import torch

from replearn.data import shapes as S


def test_all_captions_are_the_144_distinct_ones() -> None:
    c = S.all_captions()
    assert c.shape == (144, 5)
    assert len({tuple(r) for r in c.tolist()}) == 144
    obj = S.caption_objects(c)
    assert not (obj[:, :2] == obj[:, 2:]).all(1).any()  # two distinct objects each
    assert set(c[:, 2].tolist()) == {S.LEFT, S.RIGHT}


def test_caption_objects_reads_left_and_right() -> None:
    # "red square left of blue circle": left = (square 0, red 0), right = (circle 1, blue 2)
    left_of = torch.tensor([[0, 3, S.LEFT, 2, 4]])
    right_of = torch.tensor([[2, 4, S.RIGHT, 0, 3]])  # "blue circle right of red square"
    want = torch.tensor([[0, 0, 1, 2]])
    assert torch.equal(S.caption_objects(left_of), want)
    assert torch.equal(S.caption_objects(right_of), want)
    assert S.caption_text(left_of[0]) == "red square left of blue circle"


def test_swap_mirrors_the_scene_and_keeps_the_bag() -> None:
    c = S.all_captions()
    s = S.swap(c)
    assert torch.equal(c.sort(1).values, s.sort(1).values)  # same multiset of words
    a, b = S.caption_objects(c), S.caption_objects(s)
    assert torch.equal(a[:, :2], b[:, 2:]) and torch.equal(a[:, 2:], b[:, :2])


def test_each_object_is_drawn_in_its_half_and_colour() -> None:
    images, tokens, objects = S.make_shapes(64, seed=3)
    assert images.shape == (64, 3, 16, 16) and tokens.shape == (64, 5)
    assert images.min() >= 0 and images.max() <= 1
    assert torch.equal(S.caption_objects(tokens), objects)
    for img, obj in zip(images, objects, strict=True):
        for side, half in ((0, img[:, :, :8]), (1, img[:, :, 8:])):
            lit = half.sum((1, 2))  # pixels per colour channel
            assert lit.argmax() == obj[2 * side + 1] and (lit > 0).sum() == 1
    again = S.make_shapes(64, seed=3)
    assert torch.equal(again[0], images) and torch.equal(again[1], tokens)


def test_shapes_differ_in_area() -> None:
    area = [int(S._mask(k, 6).sum()) for k in range(3)]
    assert area[0] == 36 and area[2] < area[1] < area[0]
