r"""CLIP: contrastive image-text pre-training and zero-shot classification by prompts.

Paper: A. Radford, J. W. Kim, C. Hallacy, A. Ramesh, G. Goh, S. Agarwal, G. Sastry, A. Askell,
P. Mishkin, J. Clark, G. Krueger & I. Sutskever, "Learning Transferable Visual Models From
Natural Language Supervision", ICML 2021, arXiv:2103.00020.

An image encoder and a text encoder, each followed by a linear projection to a joint space,
are trained with the symmetric cross-entropy over the N x N similarity matrix scaled by a
learnable :math:`e^t` (Fig. 3; :func:`replearn.ssl.losses.clip_loss`; :math:`t` initialized
to :math:`\log(1/0.07)` and clamped at :math:`\log 100`). Zero-shot classification (Sec. 3.1.2)
embeds one or more prompts per class ("a photo of a {class}."), averages the normalized prompt
embeddings (prompt ensembling, Sec. 3.1.4) and picks the class most similar to the image.

Captions here are built from a labelled data set's class names with caption templates
(:func:`make_captions`), so the only supervision is text; the text encoder is a bag of word
embeddings with an MLP (:class:`TextEncoder`), the tokenizer a word-level vocabulary
(:class:`CaptionVocab`).

Deviations: a bag-of-words text encoder instead of a Transformer; synthetic captions.

Tests: the loss equals ``clip_loss`` of the projected embeddings; zero-shot logits are the
cosine similarities to the averaged prompt embeddings; the vocabulary round trip.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.registry import Example, register
from replearn.ssl.losses import clamp_logit_scale, clip_loss
from replearn.ssl.methods.common import example_encoder, full

__all__ = ["CLIP", "TEMPLATES", "CaptionVocab", "TextEncoder", "make_captions"]

TEMPLATES = ("a photo of a {}.", "a picture of the {}.", "an image showing a {}.",
             "a blurry photo of a {}.", "the {}.", "this is a {}.")  # fmt: skip
"""Caption templates for training (all) and zero-shot prompts (the first)."""

_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def class_words(name: str) -> str:
    """A class name as words: digits spelled out, '/' and '-' as spaces, lower case."""
    return _DIGIT_WORDS[int(name)] if name.isdigit() and len(name) == 1 else name.lower()


def make_captions(labels: Tensor, class_names: Sequence[str], *, seed: int) -> list[str]:
    """One caption per example: a seeded random template filled with its class name."""
    gen = torch.Generator().manual_seed(seed)
    picks = torch.randint(0, len(TEMPLATES), (len(labels),), generator=gen).tolist()
    return [
        TEMPLATES[t].format(class_words(class_names[y]))
        for t, y in zip(picks, labels.tolist(), strict=False)
    ]


class CaptionVocab:
    """Word-level tokenizer: id 0 pads, 1 is unknown, then the words in order of appearance."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.words = ["<pad>", "<unk>"]
        self.index = {w: i for i, w in enumerate(self.words)}
        for text in texts:
            for w in self.split(text):
                if w not in self.index:
                    self.index[w] = len(self.words)
                    self.words.append(w)

    @staticmethod
    def split(text: str) -> list[str]:
        return re.findall(r"[a-z0-9]+", text.lower())

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, texts: Sequence[str], max_len: int = 12) -> Tensor:
        """(N,) texts -> (N, max_len) token ids, right-padded with 0."""
        out = torch.zeros(len(texts), max_len, dtype=torch.long)
        for i, text in enumerate(texts):
            ids = [self.index.get(w, 1) for w in self.split(text)][:max_len]
            out[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return out

    def decode(self, ids: Tensor) -> str:
        return " ".join(self.words[i] for i in ids.tolist() if i != 0)


class TextEncoder(nn.Module):
    """Mean of the word embeddings of the non-padding tokens, then an MLP.

    Shape:
        (B, T) token ids -> (B, features).
    """

    def __init__(self, vocab_size: int, *, dim: int = 64, features: int = 128) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.mlp = nn.Sequential(nn.Linear(dim, features), nn.ReLU(), nn.Linear(features, features))

    def forward(self, tokens: Tensor) -> Tensor:
        mask = (tokens != 0).unsqueeze(-1).to(self.embed.weight.dtype)  # (B, T, 1)
        bag = (self.embed(tokens) * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # (B, dim)
        return self.mlp(bag)


def _example() -> Example:
    model = CLIP(example_encoder(), TextEncoder(10, dim=8, features=12), image_dim=16, text_dim=12,
                 embed_dim=8)  # fmt: skip
    return Example(model, (torch.randn(5, 1, 24), torch.randint(1, 10, (5, 4))), ())


@register(
    "ssl.clip",
    paper="Radford et al. 2021, arXiv:2103.00020",
    reference="replearn.ssl.losses.clip_loss (float64 loop oracle); zero-shot logits = cosine "
    "to the averaged prompt embeddings",
    example=_example,
)
class CLIP(nn.Module):
    """Image and text encoders with linear projections to a joint space, learnable temperature.

    Args:
        image_encoder: images (B, ...) -> (B, image_dim).
        text_encoder: token ids (B, T) -> (B, text_dim).
        image_dim, text_dim: encoder output sizes.
        embed_dim: size of the joint embedding.
        init_temperature: initial :math:`\\tau` (``logit_scale = log(1 / tau)``).

    Shape:
        images (B, ...), tokens (B, T) -> (loss (), image embeddings (B, embed_dim)).
    """

    def __init__(
        self,
        image_encoder: nn.Module,
        text_encoder: nn.Module,
        *,
        image_dim: int,
        text_dim: int,
        embed_dim: int = 64,
        init_temperature: float = 0.07,
    ) -> None:
        super().__init__()
        if init_temperature <= 0:
            raise ValueError(f"init_temperature must be > 0, got {init_temperature}")
        self.encoder, self.text_encoder = image_encoder, text_encoder
        self.image_proj = nn.Linear(image_dim, embed_dim, bias=False)
        self.text_proj = nn.Linear(text_dim, embed_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / init_temperature)))

    def encode_image(self, x: Tensor) -> Tensor:
        return self.image_proj(self.encoder(x))

    def encode_text(self, tokens: Tensor) -> Tensor:
        return self.text_proj(self.text_encoder(tokens))

    def forward(self, images: Tensor, tokens: Tensor) -> tuple[Tensor, Tensor]:
        if self.training:
            clamp_logit_scale(self.logit_scale)
        img, txt = self.encode_image(images), self.encode_text(tokens)  # (B, d)
        return clip_loss(full(img), full(txt), full(self.logit_scale)), img.detach()

    @torch.no_grad()
    def class_embeddings(self, prompt_tokens: Tensor) -> Tensor:
        """Averaged normalized prompt embeddings: (C, P, T) -> (C, d), unit rows."""
        c, p, t = prompt_tokens.shape
        e = F.normalize(self.encode_text(prompt_tokens.reshape(c * p, t)), dim=-1)
        return F.normalize(e.reshape(c, p, -1).mean(1), dim=-1)

    @torch.no_grad()
    def zero_shot_logits(self, images: Tensor, prompt_tokens: Tensor) -> Tensor:
        """Cosine similarity of each image to each class's prompts: (B, ...) -> (B, C)."""
        img = F.normalize(self.encode_image(images), dim=-1)
        return img @ self.class_embeddings(prompt_tokens).T

    def extra_repr(self) -> str:
        return f"temperature={float(torch.exp(-self.logit_scale.detach())):.4g}"
