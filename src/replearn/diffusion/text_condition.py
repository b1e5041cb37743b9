r"""Text conditioning of a diffusion model: a bag-of-words or a transformer text encoder.

A text-to-image diffusion model predicts :math:`\epsilon_\theta(x_t, t, c)` with
:math:`c = E(w_1, \dots, w_L)` the encoding of the caption's tokens (Ramesh et al. 2022,
arXiv:2204.06125; Saharia et al. 2022, arXiv:2205.11487 (Imagen): the text encoder's quality
matters more than the image model's size). Two encoders:

.. math::

    E_\text{bag}(w) = \frac{1}{L}\sum_{i=1}^{L} e_{w_i}                               \qquad (1)

    E_\text{tf}(w) = \frac{1}{L}\sum_{i=1}^{L} h_i,\quad
    h = \mathrm{TransformerEncoder}(e_{w_1} + p_1, \dots, e_{w_L} + p_L)            \qquad (2)

Eq. (1) is invariant to the order of the words: every permutation of a caption gets the same
condition, so "red square left of blue circle" and "blue circle left of red square" (mirrored
scenes) are one input to the image model. Eq. (2) adds learned positions :math:`p_i` before
self-attention (a :class:`replearn.transformer.bert.BERT` encoder without its heads), so its
mean-pooled output depends on the order.

:class:`TextConditionedUNet` feeds :math:`c` to a :class:`~replearn.diffusion.unet.UNet`
built with ``cond_dim``, where it is mapped linearly and added to the time embedding (pooled
conditioning; Imagen and Stable Diffusion also cross-attend to the token sequence). Both
parts train together through :math:`L_\text{simple}`.

Tests (``tests/diffusion/test_text_condition.py``): Eq. (1) equals the mean of the embedding
rows and is exactly invariant to permutations; Eq. (2) changes under a swap of the two objects;
the wrapped U-Net's output equals the U-Net's with the encoder's condition.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from replearn.diffusion.unet import UNet
from replearn.registry import Example, register
from replearn.transformer.bert import BERT

__all__ = ["BagOfWordsEncoder", "TextConditionedUNet", "TransformerTextEncoder"]


def bag_of_words(embeddings: Tensor, tokens: Tensor) -> Tensor:
    """Eq. (1): the mean of the tokens' embedding rows.

    Shape:
        embeddings: (V, D); tokens: (B, L) long -> (B, D).
    """
    return embeddings[tokens].mean(dim=1)


def _bag_example() -> Example:
    return Example(BagOfWordsEncoder(vocab_size=8, dim=6), (torch.randint(0, 8, (3, 5)),), (3, 6))


@register(
    "diffusion.bag_of_words_encoder",
    paper="Eq. (1) of replearn.diffusion.text_condition (mean of word embeddings)",
    reference="mean of the embedding rows; exact permutation invariance",
    example=_bag_example,
)
class BagOfWordsEncoder(nn.Module):
    """Eq. (1): a caption's condition as the mean of its word embeddings (order-blind).

    Shape:
        tokens: (B, L) long -> (B, dim).
    """

    def __init__(self, *, vocab_size: int, dim: int) -> None:
        super().__init__()
        if vocab_size < 1 or dim < 1:
            raise ValueError("vocab_size and dim must be >= 1")
        self.vocab_size, self.dim = vocab_size, dim
        self.embedding = nn.Parameter(torch.randn(vocab_size, dim) * 0.02)

    def forward(self, tokens: Tensor) -> Tensor:
        return bag_of_words(self.embedding, tokens)

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, dim={self.dim}"


def _tf_example() -> Example:
    model = TransformerTextEncoder(vocab_size=8, dim=8, layers=1, heads=2, max_len=5)
    return Example(model, (torch.randint(0, 8, (3, 5)),), (3, 8))


@register(
    "diffusion.transformer_text_encoder",
    paper="Eq. (2) of replearn.diffusion.text_condition; Devlin et al. 2019, arXiv:1810.04805",
    reference="replearn BERT encoder (checked against transformers) + mean pooling",
    example=_tf_example,
)
class TransformerTextEncoder(nn.Module):
    """Eq. (2): a small BERT encoder (learned positions) mean-pooled over the tokens.

    Args:
        vocab_size: token ids ``0..vocab_size-1`` (one more id is reserved as BERT's pad id).
        dim, layers, heads: encoder width, depth and heads (feed-forward ``4 * dim``).
        max_len: longest caption.
        dropout: hidden and attention dropout.

    Shape:
        tokens: (B, L) long -> (B, dim).
    """

    def __init__(
        self, *, vocab_size: int, dim: int, layers: int = 1, heads: int = 2, max_len: int = 16,
        dropout: float = 0.0,
    ) -> None:  # fmt: skip
        super().__init__()
        if dim % heads:
            raise ValueError(f"heads ({heads}) must divide dim ({dim})")
        self.vocab_size, self.dim = vocab_size, dim
        self.bert = BERT(vocab_size=vocab_size + 1, hidden=dim, layers=layers, heads=heads,
                         intermediate=4 * dim, max_len=max_len, type_vocab_size=0,
                         dropout=dropout, attn_dropout=dropout, pad_id=vocab_size,
                         pooler=False, mlm_head=False, nsp_head=False)  # fmt: skip

    def forward(self, tokens: Tensor) -> Tensor:
        return self.bert(tokens).mean(dim=1)

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, dim={self.dim}"


def _unet_example() -> Example:
    unet = UNet(in_channels=3, base=8, mults=(1, 2), cond_dim=6, heads=2)
    model = TextConditionedUNet(unet, BagOfWordsEncoder(vocab_size=8, dim=6))
    x, t, w = torch.randn(2, 3, 8, 8), torch.tensor([3, 90]), torch.randint(0, 8, (2, 5))
    return Example(model, (x, t, w), (2, 3, 8, 8))


@register(
    "diffusion.text_conditioned_unet",
    paper="Saharia et al. 2022, arXiv:2205.11487 (pooled text conditioning)",
    reference="equals UNet(x, t, encoder(tokens)); trained in diffusion-text-shapes",
    example=_unet_example,
)
class TextConditionedUNet(nn.Module):
    r""":math:`\epsilon_\theta(x_t, t, E(w))`: a U-Net (built with ``cond_dim``) and a text encoder.

    Shape:
        x: (B, C, H, W); t: (B,); tokens: (B, L) long -> (B, C, H, W).
    """

    def __init__(self, unet: UNet, encoder: nn.Module) -> None:
        super().__init__()
        if unet.cond_dim is None:
            raise ValueError("the U-Net must be built with cond_dim (the encoder's width)")
        self.unet, self.encoder = unet, encoder
        self.num_classes = None  # GaussianDiffusion: no label dropout, tokens pass through

    def forward(self, x: Tensor, t: Tensor, tokens: Tensor) -> Tensor:
        return self.unet(x, t, self.encoder(tokens))
