r"""MADE: masked autoencoder for distribution estimation (autoregressive masks on an MLP).

Paper: M. Germain, K. Gregor, I. Murray & H. Larochelle, "MADE: masked autoencoder for
distribution estimation", ICML 2015, arXiv:1502.03509 (Section 4).

Give every input unit :math:`d` the degree :math:`m(d) = d \in \{1..D\}`, every hidden unit
:math:`k` a degree :math:`m(k) \in \{1..D-1\}` and every output unit the degree of the
input it predicts. Connections are kept by the masks

.. math::

    M^{(\ell)}_{k,k'} = \mathbb 1[m^{(\ell)}(k) \ge m^{(\ell-1)}(k')]
                                                    \qquad (1)\ \text{hidden layers (Eq. 12)}

    M^{out}_{d,k} = \mathbb 1[m(d) > m^{(L)}(k)]    \qquad (2)\ \text{output layer (Eq. 13)}

so output :math:`d` depends only on inputs :math:`x_{<d}` (the Jacobian of every output
head is strictly lower triangular). Deviations: hidden degrees are assigned cyclically
(:math:`m(k) = 1 + (k \bmod (D-1))`) instead of at random, so the network is deterministic;
an optional context vector (the IAF's :math:`h`) enters the first hidden layer unmasked,
which keeps the autoregressive property in :math:`x`; several output heads (e.g. IAF's
:math:`m` and :math:`s`) share the hidden layers.

Tests: the Jacobian of every head with respect to x is strictly lower triangular (and not
zero below the diagonal), with and without context, for one and two hidden layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.registry import Example, register

__all__ = ["MADE", "MaskedLinear", "made_degrees", "made_masks"]


def made_degrees(d: int, hidden: Sequence[int]) -> list[Tensor]:
    """Degrees of the input, each hidden layer and the output (cyclic hidden degrees).

    Shape:
        returns [(d,), (h_1,), ..., (h_L,), (d,)].
    """
    inputs = torch.arange(1, d + 1)
    layers = [torch.arange(h) % max(d - 1, 1) + 1 for h in hidden]
    return [inputs, *layers, inputs.clone()]


def made_masks(degrees: Sequence[Tensor]) -> list[Tensor]:
    """Eqs. (1)-(2): one (out, in) mask per layer from consecutive degree vectors."""
    masks = [
        (d_out[:, None] >= d_in[None, :]).float()  # Eq. (1)
        for d_in, d_out in pairwise(degrees[:-1])
    ]
    masks.append((degrees[-1][:, None] > degrees[-2][None, :]).float())  # Eq. (2)
    return masks


class MaskedLinear(nn.Linear):
    """``nn.Linear`` whose weight is multiplied by a fixed 0/1 mask (a buffer)."""

    def __init__(self, in_features: int, out_features: int, mask: Tensor) -> None:
        super().__init__(in_features, out_features)
        if tuple(mask.shape) != (out_features, in_features):
            raise ValueError(f"mask must be {(out_features, in_features)}, got {tuple(mask.shape)}")
        self.register_buffer("mask", mask.clone())

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


@register(
    "vae.made",
    paper="Germain, Gregor, Murray & Larochelle 2015, arXiv:1502.03509",
    reference="autograd Jacobian of every head is strictly lower triangular",
    example=lambda: Example(
        MADE(5, (16,), heads=2, context_dim=3), (torch.randn(4, 5), torch.randn(4, 3)), (4, 2, 5)
    ),
)
class MADE(nn.Module):
    """An MLP with autoregressive masks: head ``j``'s output ``d`` sees only ``x[..., :d]``.

    Args:
        d: input (and per-head output) dimension D.
        hidden: hidden widths (each >= D - 1 so every degree occurs).
        heads: number of D-dimensional outputs sharing the hidden layers.
        context_dim: size of an unmasked context added to the first hidden layer (0: none).

    Shape:
        x: (*, D), context: (*, context_dim) -> (*, heads, D).
    """

    def __init__(
        self, d: int, hidden: Sequence[int], *, heads: int = 1, context_dim: int = 0
    ) -> None:
        super().__init__()
        hidden = tuple(hidden)
        if d < 1 or heads < 1 or context_dim < 0:
            raise ValueError(f"need d >= 1, heads >= 1, context_dim >= 0; got {d}, {heads}, "
                             f"{context_dim}")  # fmt: skip
        if not hidden or min(hidden) < max(d - 1, 1):
            raise ValueError(f"hidden widths must be >= d - 1 = {d - 1}, got {hidden}")
        self.d, self.hidden, self.heads, self.context_dim = d, hidden, heads, context_dim
        masks = made_masks(made_degrees(d, hidden))
        sizes = [d, *hidden]
        self.layers = nn.ModuleList(
            MaskedLinear(n_in, n_out, m)
            for n_in, n_out, m in zip(sizes[:-1], sizes[1:], masks[:-1], strict=True)
        )
        self.context = nn.Linear(context_dim, hidden[0], bias=False) if context_dim else None
        out_mask = masks[-1].repeat(heads, 1)  # (heads * D, h_L): every head masked alike
        self.out = MaskedLinear(hidden[-1], heads * d, out_mask)

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        if x.shape[-1] != self.d:
            raise ValueError(f"expected x (*, {self.d}), got {tuple(x.shape)}")
        if (context is None) != (self.context is None):
            raise ValueError("pass a context exactly when context_dim > 0")
        h = self.layers[0](x)
        if self.context is not None:
            h = h + self.context(context)
        h = F.relu(h)
        for layer in self.layers[1:]:
            h = F.relu(layer(h))
        return self.out(h).unflatten(-1, (self.heads, self.d))  # (*, heads, D)

    def extra_repr(self) -> str:
        return f"d={self.d}, hidden={self.hidden}, heads={self.heads}, context={self.context_dim}"
