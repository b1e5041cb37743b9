r"""In-context learning of linear functions: a small GPT reads (x_1, y_1, ..., x_k, y_k, x_q).

Paper: S. Garg, D. Tsipras, P. Liang & G. Valiant, "What Can Transformers Learn In-Context? A
Case Study of Simple Function Classes", NeurIPS 2022, arXiv:2208.01066.

A prompt is drawn from a random linear function :math:`f(x) = w^\top x`,
:math:`w \sim \mathcal{N}(0, I_d)`, with inputs :math:`x_i \sim \mathcal{N}(0, I_d)`:

.. math::

    P = (x_1, f(x_1), x_2, f(x_2), \ldots, x_k, f(x_k), x_{q})                      \qquad (1)

The model :math:`M_\theta` is trained to predict :math:`f(x_{i+1})` after reading the prefix
up to :math:`x_{i+1}`, for every :math:`i`, on fresh functions (Sec. 2, Eq. 2):

.. math::

    \min_\theta\; \mathbb{E}_{P}\Big[\tfrac{1}{k+1}\sum_{i=0}^{k}
    \big(M_\theta(P^{i}) - f(x_{i+1})\big)^2\Big]                                   \qquad (2)

so no weight ever learns *a* function: the function is given in the context. Tokens live in
:math:`\mathbb{R}^{d+1}`: an input is :math:`(x_i, 0)`, a label :math:`(0, \ldots, 0, y_i)`
(:func:`interleave`); a linear read-in maps them to the width, the causal GPT blocks of
:mod:`replearn.transformer.gpt` run over them, and a linear read-out at each *input* position
gives the prediction (Sec. 2: "we read out the prediction at the x positions").

Baselines (Sec. 3 of the paper), each a function of the same prompt:

.. math::

    \hat y_{LS} = x_q^\top X^{+} y \quad (\text{min-norm least squares}), \qquad
    \hat y_{avg} = x_q^\top \tfrac{1}{k}\textstyle\sum_i y_i x_i, \qquad
    \hat y_{kNN} = \tfrac{1}{m}\textstyle\sum_{i \in N_m(x_q)} y_i                  \qquad (3)

Least squares is the optimal estimator here (it is the posterior mean as the prior variance
grows; for :math:`k \ge d` and no noise it is exact).

Deviations: GPT-2 small in the paper (12 layers, width 256, 500k steps, a curriculum over d
and k); here a few layers and thousands of steps at small d, no curriculum. Inputs are
isotropic Gaussians and labels noiseless, as in the paper's main setting.

Tests (``tests/transformer/test_icl.py``): :func:`least_squares_prediction` against
``numpy.linalg.lstsq``; :func:`knn_prediction` against scikit-learn's
``KNeighborsRegressor``; :func:`averaging_prediction` against an explicit loop; the layout of
:func:`interleave`; the model is causal (the prediction at :math:`x_{i}` has zero gradient with
respect to every later token).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from replearn.norm.layernorm import LayerNorm
from replearn.registry import Example, register
from replearn.transformer.gpt.layers import Block, GPTConfig

__all__ = [
    "InContextRegressor",
    "averaging_prediction",
    "interleave",
    "knn_prediction",
    "least_squares_prediction",
    "linear_regression_prompts",
]


def linear_regression_prompts(
    batch: int, k: int, d: int, *, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Prompts of Eq. (1): :math:`w \sim N(0, I_d)`, :math:`x_i \sim N(0, I_d)`,
    :math:`y_i = w^\top x_i`, for :math:`k + 1` points (the last is the query).

    Shape:
        -> xs (B, k + 1, d), ys (B, k + 1), w (B, d).
    """
    if batch < 1 or k < 0 or d < 1:
        raise ValueError(f"need batch >= 1, k >= 0, d >= 1, got {batch}, {k}, {d}")
    w = torch.randn(batch, d, generator=generator)
    xs = torch.randn(batch, k + 1, d, generator=generator)
    return xs, (xs @ w[:, :, None])[..., 0], w


def interleave(xs: Tensor, ys: Tensor) -> Tensor:
    r"""Tokens of Eq. (1) in :math:`\mathbb{R}^{d+1}`: :math:`(x_i, 0)` then :math:`(0, y_i)`.

    Shape:
        xs (B, n, d), ys (B, n) -> (B, 2n, d + 1); x_i at position 2i, y_i at 2i + 1.
    """
    b, n, d = xs.shape
    x_tok = torch.cat([xs, xs.new_zeros(b, n, 1)], dim=-1)  # (B, n, d + 1)
    y_tok = torch.cat([ys.new_zeros(b, n, d), ys[..., None]], dim=-1)  # (B, n, d + 1)
    return torch.stack([x_tok, y_tok], dim=2).reshape(b, 2 * n, d + 1)


def least_squares_prediction(xs: Tensor, ys: Tensor, xq: Tensor) -> Tensor:
    r"""Eq. (3), min-norm least squares on the k examples: :math:`x_q^\top X^{+} y`.

    Shape:
        xs (B, k, d), ys (B, k), xq (B, d) -> (B,).
    """
    w = torch.linalg.pinv(xs) @ ys[..., None]  # (B, d, 1)
    return (xq[:, None, :] @ w)[:, 0, 0]


def averaging_prediction(xs: Tensor, ys: Tensor, xq: Tensor) -> Tensor:
    r"""Eq. (3), averaging: :math:`x_q^\top \frac{1}{k}\sum_i y_i x_i` (unbiased for
    :math:`w` when :math:`E[xx^\top] = I`).

    Shape:
        xs (B, k, d), ys (B, k), xq (B, d) -> (B,).
    """
    w = (ys[..., None] * xs).mean(dim=1)  # (B, d)
    return (w * xq).sum(-1)


def knn_prediction(xs: Tensor, ys: Tensor, xq: Tensor, m: int = 3) -> Tensor:
    r"""Eq. (3), the mean label of the :math:`m` nearest examples (Euclidean), :math:`m \le k`.

    Shape:
        xs (B, k, d), ys (B, k), xq (B, d) -> (B,).
    """
    m = min(m, xs.shape[1])
    dist = (xs - xq[:, None, :]).square().sum(-1)  # (B, k)
    idx = dist.topk(m, dim=-1, largest=False).indices  # (B, m)
    return ys.gather(1, idx).mean(-1)


def _example() -> Example:
    model = InContextRegressor(d=3, n_points=5, n_layer=2, n_head=2, n_embd=16)
    xs, ys, _ = linear_regression_prompts(2, 4, 3, generator=torch.Generator().manual_seed(0))
    return Example(model, (xs, ys), (2, 5))


@register(
    "transformer.icl_regressor",
    paper="Garg, Tsipras, Liang & Valiant 2022, arXiv:2208.01066 (in-context linear regression)",
    reference="baselines vs numpy.linalg.lstsq and sklearn KNeighborsRegressor; causality by "
    "gradient; blocks = transformer.gpt (checked against transformers GPT-2)",
    example=_example,
)
class InContextRegressor(nn.Module):
    """A causal transformer that predicts y at every x of a prompt of (x, y) pairs, Eq. (2).

    Args:
        d: input dimension.
        n_points: longest prompt (pairs, the query included); sets the position table.
        n_layer, n_head, n_embd: GPT blocks, heads and width.
        dropout: dropout in the blocks.

    Shape:
        xs (B, n, d), ys (B, n) -> predictions (B, n): entry i reads x_1..x_i, y_1..y_{i-1}.
    """

    def __init__(
        self,
        *,
        d: int,
        n_points: int,
        n_layer: int = 4,
        n_head: int = 4,
        n_embd: int = 64,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if d < 1 or n_points < 1:
            raise ValueError(f"need d >= 1 and n_points >= 1, got {d}, {n_points}")
        cfg = GPTConfig(
            n_layer=n_layer, n_head=n_head, n_embd=n_embd, block_size=2 * n_points,
            vocab_size=1, dropout=dropout,
        )  # fmt: skip
        self.d, self.n_points, self.cfg = d, n_points, cfg
        self.read_in = nn.Linear(d + 1, n_embd)
        self.wpe = nn.Embedding(2 * n_points, n_embd)
        self.drop = nn.Dropout(dropout)
        self.h = nn.ModuleList(Block(cfg) for _ in range(n_layer))
        self.ln_f = LayerNorm(n_embd, fast=True)
        self.read_out = nn.Linear(n_embd, 1)
        for m in self.modules():  # GPT-2's initialization
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(self, xs: Tensor, ys: Tensor) -> Tensor:
        if xs.ndim != 3 or xs.shape[-1] != self.d or ys.shape != xs.shape[:2]:
            raise ValueError(f"expected xs (B, n, {self.d}) and ys (B, n), got "
                             f"{tuple(xs.shape)}, {tuple(ys.shape)}")  # fmt: skip
        if xs.shape[1] > self.n_points:
            raise ValueError(f"{xs.shape[1]} points exceed n_points={self.n_points}")
        tokens = interleave(xs, ys)  # (B, 2n, d + 1)
        pos = torch.arange(tokens.shape[1], device=xs.device)
        h = self.drop(self.read_in(tokens) + self.wpe(pos))  # (B, 2n, C)
        for block in self.h:
            h, _ = block(h)
        return self.read_out(self.ln_f(h[:, ::2]))[..., 0]  # the x positions: (B, n)

    def num_parameters(self) -> int:
        """Trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def extra_repr(self) -> str:
        c = self.cfg
        return f"d={self.d}, n_points={self.n_points}, n_layer={c.n_layer}, n_embd={c.n_embd}"
