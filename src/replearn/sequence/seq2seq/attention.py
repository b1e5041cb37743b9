r"""Additive (Bahdanau) attention of a decoder state over the encoder's annotations.

Paper: D. Bahdanau, K. Cho & Y. Bengio, "Neural Machine Translation by Jointly
Learning to Align and Translate", ICLR 2015, arXiv:1409.0473 (Sec. 3.1, App. A.1.2).

At decoder step :math:`i` the previous decoder state :math:`s_{i-1}` scores every
encoder annotation :math:`h_j` with a one-hidden-layer network (the *alignment
model*), the scores are normalised over the source positions, and the context
vector is the weighted mean of the annotations:

.. math::

    e_{ij} = v^\top \tanh(W_1 s_{i-1} + W_2 h_j)                          \qquad (1)

    \alpha_{ij} = \frac{\exp e_{ij}}{\sum_{k} \exp e_{ik}}                  \qquad (2)

    c_i = \sum_j \alpha_{ij} h_j                                              \qquad (3)

Padding positions of a batch of sources get :math:`e_{ij} = -\infty` before (2), so
their weight is exactly 0 and the weights of the real positions sum to 1.

Deviations: the paper's :math:`W_a, U_a` are :math:`W_1, W_2` here (the course's
names); :math:`W_2 h_j` does not depend on :math:`i` and is computed once per source
(:meth:`AdditiveAttention.project_keys`), as the paper suggests (App. A.1.2).

Tests check: (1) against a loop over :math:`j` in float64, weights summing to 1 with
exactly 0 on padding, the context equal to the explicit weighted sum, padding
invariance (appending padded positions changes nothing), gradients by ``gradcheck``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from replearn.registry import Example, register

__all__ = [
    "AdditiveAttention",
    "additive_scores",
    "attention_context",
    "masked_softmax",
    "project_scores",
]


def additive_scores(query: Tensor, keys: Tensor, w1: Tensor, w2: Tensor, v: Tensor) -> Tensor:
    r"""Eq. (1): :math:`e_j = v^\top \tanh(W_1 s + W_2 h_j)` for every source position ``j``.

    Args:
        query: decoder state :math:`s`.
        keys: encoder annotations :math:`h_j`.
        w1: :math:`W_1`, (A, Q).
        w2: :math:`W_2`, (A, K).
        v: :math:`v`, (A,).

    Shape:
        query: (B, Q); keys: (B, S, K) -> scores (B, S).
    """
    return project_scores(query @ w1.T, keys @ w2.T, v)


def project_scores(query_proj: Tensor, keys_proj: Tensor, v: Tensor) -> Tensor:
    r"""Eq. (1) from the projections: :math:`v^\top \tanh(W_1 s + W_2 h_j)`.

    Shape:
        query_proj: (B, A); keys_proj: (B, S, A); v: (A,) -> (B, S).
    """
    return torch.tanh(query_proj[:, None, :] + keys_proj) @ v  # (B, S)


def masked_softmax(scores: Tensor, mask: Tensor | None = None) -> Tensor:
    r"""Eq. (2) over the last axis; positions where ``mask`` is False get weight exactly 0.

    Shape:
        scores: (B, S); mask: (B, S) bool, True = a real position -> weights (B, S).
    """
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1)


def attention_context(weights: Tensor, values: Tensor) -> Tensor:
    r"""Eq. (3): :math:`c = \sum_j \alpha_j h_j`.

    Shape:
        weights: (B, S); values: (B, S, K) -> (B, K).
    """
    return torch.einsum("bs,bsk->bk", weights, values)


def _example() -> Example:
    attn = AdditiveAttention(query_size=6, key_size=5, attention_size=4)
    mask = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])
    return Example(attn, (torch.randn(2, 6), torch.randn(2, 7, 5), mask), (2, 5))


@register(
    "sequence.additive_attention",
    paper="Bahdanau, Cho & Bengio 2015, arXiv:1409.0473",
    reference="a loop over source positions (float64); weights sum to 1, 0 on padding; gradcheck",
    example=_example,
)
class AdditiveAttention(nn.Module):
    """Bahdanau's alignment model: context vector of a decoder state over encoder annotations.

    Args:
        query_size: size of the decoder state :math:`s`.
        key_size: size of an annotation :math:`h_j`.
        attention_size: hidden size A of the alignment network (rows of :math:`W_1, W_2`).

    Shape:
        forward: query (B, Q), keys (B, S, K), mask (B, S) bool or None -> context (B, K).
        :meth:`weights` gives the attention weights (B, S).
    """

    def __init__(self, *, query_size: int, key_size: int, attention_size: int) -> None:
        super().__init__()
        if min(query_size, key_size, attention_size) < 1:
            raise ValueError(
                "query_size, key_size and attention_size must be positive, got "
                f"{query_size}, {key_size}, {attention_size}"
            )
        self.w1 = nn.Linear(query_size, attention_size, bias=False)
        self.w2 = nn.Linear(key_size, attention_size, bias=False)
        self.v = nn.Parameter(torch.empty(attention_size).uniform_(-0.1, 0.1))

    def project_keys(self, keys: Tensor) -> Tensor:
        """:math:`W_2 h_j` for every position, computed once per source. (B, S, K) -> (B, S, A)."""
        return self.w2(keys)

    def weights(
        self,
        query: Tensor,
        keys: Tensor,
        mask: Tensor | None = None,
        keys_proj: Tensor | None = None,
    ) -> Tensor:
        """Eqs. (1)-(2): attention weights (B, S); ``keys_proj`` reuses :meth:`project_keys`."""
        keys_proj = self.project_keys(keys) if keys_proj is None else keys_proj
        return masked_softmax(project_scores(self.w1(query), keys_proj, self.v), mask)

    def forward(
        self,
        query: Tensor,
        keys: Tensor,
        mask: Tensor | None = None,
        keys_proj: Tensor | None = None,
    ) -> Tensor:
        """Eq. (3): the context vector (B, K)."""
        return attention_context(self.weights(query, keys, mask, keys_proj), keys)

    def extra_repr(self) -> str:
        return (
            f"query_size={self.w1.in_features}, key_size={self.w2.in_features}, "
            f"attention_size={self.w1.out_features}"
        )
