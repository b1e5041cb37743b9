r"""Inverted dropout and stochastic depth (DropPath).

Papers: N. Srivastava, G. Hinton, A. Krizhevsky, I. Sutskever & R. Salakhutdinov,
"Dropout: A Simple Way to Prevent Neural Networks from Overfitting", JMLR 15, 2014;
G. Huang, Y. Sun, Z. Liu, D. Sedra & K. Weinberger, "Deep Networks with
Stochastic Depth", ECCV 2016, arXiv:1603.09382.

**Dropout** keeps each unit with probability :math:`1 - p`. The paper multiplies
the weights by :math:`1 - p` at test time; *inverted* dropout (what
``F.dropout`` does) rescales at training time instead, so evaluation is the identity:

.. math::

    r_j \sim \mathrm{Bernoulli}(1 - p), \qquad
    \tilde y = \frac{r \odot y}{1 - p}, \qquad
    \mathbb E[\tilde y] = y                                  \qquad (1)

**Stochastic depth** drops the residual branch of a whole block, per sample
(Huang et al., Eq. 2; the inverted form rescales the kept branch):

.. math::

    H_\ell = H_{\ell-1} + \frac{b_\ell}{1 - p_\ell} f_\ell(H_{\ell-1}), \quad
    b_\ell \sim \mathrm{Bernoulli}(1 - p_\ell)              \qquad (2)

with the linear decay rule over :math:`L` blocks (Eq. 4, :math:`p_L = 0.5` in the
paper) and the expected depth it gives (§3):

.. math::

    p_\ell = \frac{\ell}{L}\, p_L, \qquad
    \mathbb E[\tilde L] = \sum_{\ell=1}^{L} (1 - p_\ell)    \qquad (3)

Deviation: the paper scales :math:`f_\ell` by the survival probability at test
time; here the kept branch is scaled by :math:`1/(1-p_\ell)` during training
(the two are equivalent in expectation; timm's ``DropPath`` does the same).

Tests: the dropout mask equals ``F.dropout``'s for the same RNG state (bitwise);
:math:`\mathbb E[\tilde y] = y` and the fraction zeroed is :math:`p` within
binomial tolerances; evaluation is the identity; DropPath zeroes whole samples.

See docs/corrections.md#normalization-and-regularization (dropout drops units;
dropping weights is DropConnect).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from replearn.registry import Example, register

__all__ = [
    "DropPath",
    "Dropout",
    "StochasticDepthBlock",
    "drop_path",
    "dropout_mask",
    "expected_depth",
    "inverted_dropout",
    "stochastic_depth_rates",
]


def _check_p(p: float) -> None:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"drop probability must be in [0, 1), got {p}")


def dropout_mask(
    shape: tuple[int, ...] | torch.Size,
    p: float,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    r"""Eq. (1)'s scaled mask :math:`r / (1 - p)`, :math:`r_j \sim \mathrm{Bernoulli}(1-p)`.

    Drawn as ``torch.empty(shape).bernoulli_(1 - p)``, as ``F.dropout`` does on the CPU.

    Shape:
        -> ``shape``, entries in {0, 1/(1-p)}.
    """
    _check_p(p)
    keep = torch.empty(shape, device=device, dtype=dtype).bernoulli_(1.0 - p, generator=generator)
    return keep.div_(1.0 - p)


def inverted_dropout(
    x: Tensor, p: float, *, training: bool = True, generator: torch.Generator | None = None
) -> Tensor:
    r"""Eq. (1): :math:`\tilde y = r \odot y / (1 - p)` in training, :math:`y` in evaluation.

    Args:
        x: activations :math:`y`.
        p: drop probability.
        training: if False (or ``p == 0``) return ``x`` unchanged.
        generator: RNG for the mask (None: the global one).

    Shape:
        x: (*) -> (*).
    """
    _check_p(p)
    if not training or p == 0.0:
        return x
    return x * dropout_mask(x.shape, p, generator=generator, device=x.device, dtype=x.dtype)


def drop_path(
    x: Tensor, p: float, *, training: bool = True, generator: torch.Generator | None = None
) -> Tensor:
    r"""Eq. (2)'s branch mask: :math:`b\, x / (1 - p)` with one :math:`b` per sample.

    Args:
        x: the residual branch output :math:`f_\ell(H_{\ell-1})`, batch first.
        p: drop probability :math:`p_\ell`.
        training: if False (or ``p == 0``) return ``x`` unchanged.
        generator: RNG for the per-sample coins (None: the global one).

    Shape:
        x: (B, *) -> (B, *); the mask has shape (B, 1, ..., 1).
    """
    _check_p(p)
    if not training or p == 0.0:
        return x
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    return x * dropout_mask(shape, p, generator=generator, device=x.device, dtype=x.dtype)


def stochastic_depth_rates(num_blocks: int, final_rate: float) -> list[float]:
    r"""Eq. (3), linear decay: :math:`p_\ell = \tfrac{\ell}{L} p_L` for :math:`\ell = 1..L`.

    Shape:
        -> a list of ``num_blocks`` floats.
    """
    _check_p(final_rate)
    if num_blocks < 1:
        raise ValueError(f"num_blocks must be >= 1, got {num_blocks}")
    return [final_rate * layer / num_blocks for layer in range(1, num_blocks + 1)]


def expected_depth(rates: list[float]) -> float:
    r"""Eq. (3): :math:`\mathbb E[\tilde L] = \sum_\ell (1 - p_\ell)` residual blocks kept."""
    return float(sum(1.0 - r for r in rates))


def _dropout_example() -> Example:
    return Example(Dropout(0.3), (torch.randn(4, 6, requires_grad=True),), (4, 6))


@register(
    "regularize.dropout",
    paper="Srivastava et al. 2014, JMLR 15 (dropout)",
    reference="F.dropout with the same RNG state (bitwise); E[out]=x; binomial zero fraction",
    example=_dropout_example,
)
class Dropout(nn.Module):
    """Inverted dropout (Eq. 1): zero each entry with probability ``p``, scale the rest by 1/(1-p).

    Args:
        p: drop probability in [0, 1).

    Shape:
        (*) -> (*).
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        _check_p(p)
        self.p = p

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return inverted_dropout(x, self.p, training=self.training, generator=generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _drop_path_example() -> Example:
    return Example(DropPath(0.5), (torch.randn(8, 3, 4, requires_grad=True),), (8, 3, 4))


@register(
    "regularize.drop_path",
    paper="Huang et al. 2016, arXiv:1603.09382 (stochastic depth)",
    reference="per-sample all-or-nothing masks; binomial fraction of dropped samples",
    example=_drop_path_example,
)
class DropPath(nn.Module):
    """Stochastic depth's per-sample branch drop (Eq. 2): whole samples zeroed with probability p.

    Args:
        p: drop probability :math:`p_\\ell` in [0, 1).

    Shape:
        (B, *) -> (B, *).
    """

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        _check_p(p)
        self.p = p

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return drop_path(x, self.p, training=self.training, generator=generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _block_example() -> Example:
    branch = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 6))
    return Example(StochasticDepthBlock(branch, 0.2), (torch.randn(5, 6),), (5, 6))


@register(
    "regularize.stochastic_depth",
    paper="Huang et al. 2016, arXiv:1603.09382 (stochastic depth)",
    reference="x + branch(x) in evaluation; x or x + branch(x)/(1-p) per sample in training",
    example=_block_example,
)
class StochasticDepthBlock(nn.Module):
    """A residual block ``x + DropPath(branch(x))`` (Eq. 2 without the outer ReLU).

    Args:
        branch: the residual function :math:`f_\\ell`, shape-preserving.
        p: drop probability :math:`p_\\ell` of the branch.

    Shape:
        (B, *) -> (B, *).
    """

    def __init__(self, branch: nn.Module, p: float) -> None:
        super().__init__()
        self.branch = branch
        self.drop_path = DropPath(p)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.drop_path(self.branch(x))
