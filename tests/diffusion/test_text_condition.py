"""Text encoders for diffusion: Eq. (1) is order-blind, Eq. (2) is not; the U-Net wrapper."""

from __future__ import annotations

import pytest
import torch

from replearn.data import shapes as S
from replearn.diffusion import UNet
from replearn.diffusion.text_condition import (
    BagOfWordsEncoder,
    TextConditionedUNet,
    TransformerTextEncoder,
    bag_of_words,
)


def test_bag_of_words_is_the_mean_of_rows_and_order_blind() -> None:
    torch.manual_seed(0)
    enc = BagOfWordsEncoder(vocab_size=8, dim=5).double()
    tokens = S.all_captions()
    want = torch.stack([enc.embedding[r].sum(0) / 5 for r in tokens])
    torch.testing.assert_close(enc(tokens), want, rtol=1e-12, atol=1e-14)
    perm = tokens[:, torch.randperm(5)]
    torch.testing.assert_close(bag_of_words(enc.embedding, perm), want, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(enc(S.swap(tokens)), want, rtol=1e-12, atol=1e-14)


def test_transformer_encoder_tells_swaps_apart() -> None:
    torch.manual_seed(0)
    enc = TransformerTextEncoder(vocab_size=8, dim=16, layers=1, heads=2, max_len=5).double()
    c = S.all_captions()
    d = (enc(c) - enc(S.swap(c))).norm(dim=1)
    assert float(d.min()) > 1e-4
    with pytest.raises(ValueError, match="must divide"):
        TransformerTextEncoder(vocab_size=8, dim=10, heads=4)


def test_text_conditioned_unet_feeds_the_encoding() -> None:
    torch.manual_seed(0)
    unet = UNet(in_channels=3, base=8, mults=(1, 2), cond_dim=6, heads=2)  # float32: t embeds so
    torch.nn.init.normal_(unet.conv_out.weight)  # the output layer starts at zero
    enc = BagOfWordsEncoder(vocab_size=8, dim=6)
    model = TextConditionedUNet(unet, enc)
    x, t = torch.randn(4, 3, 8, 8), torch.tensor([1, 5, 9, 30])
    w = S.all_captions()[:4]
    assert torch.equal(model(x, t, w), unet(x, t, enc(w)))  # the same operations, bit for bit
    other = S.all_captions()[10:14]
    assert not torch.allclose(model(x, t, w), model(x, t, other))


def test_condition_vectors_are_validated() -> None:
    with pytest.raises(ValueError, match="not both"):
        UNet(in_channels=1, base=8, mults=(1,), num_classes=3, cond_dim=4)
    unet = UNet(in_channels=1, base=8, mults=(1,), cond_dim=4, heads=2)
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([0, 1])
    with pytest.raises(ValueError, match=r"shape \(B, 4\)"):
        unet(x, t, torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"shape \(B, 4\)"):
        unet(x, t)
    with pytest.raises(ValueError, match="cond_dim"):
        TextConditionedUNet(
            UNet(in_channels=1, base=8, mults=(1,)), BagOfWordsEncoder(vocab_size=8, dim=4)
        )
