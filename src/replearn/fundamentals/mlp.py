r"""The multilayer perceptron: affine maps interleaved with pointwise non-linearities.

Papers: D. E. Rumelhart, G. E. Hinton & R. J. Williams, "Learning representations
by back-propagating errors", *Nature* 323, 1986 (the MLP trained by
back-propagation); activations: tanh / logistic sigmoid (ibid.), ReLU (Nair &
Hinton, ICML 2010), GELU (Hendrycks & Gimpel, 2016, arXiv:1606.08415); dropout
(Srivastava et al., JMLR 15, 2014).

With :math:`h_0 = x` and hidden widths :math:`n_1, \dots, n_L`:

.. math::

    h_\ell = \sigma(W_\ell h_{\ell-1} + b_\ell), \quad \ell = 1, \dots, L
                                                         \qquad (1)\ \text{hidden layer}

    f(x) = W_{L+1} h_L + b_{L+1}                         \qquad (2)\ \text{output (logits)}

A linear layer from :math:`N_{in}` to :math:`N_{out}` units has
:math:`N_{in} N_{out} + N_{out}` parameters (weights plus biases), so

.. math::

    |\theta| = \sum_{\ell=1}^{L+1} (n_{\ell-1} n_\ell + n_\ell),
    \quad n_0 = N_{in},\ n_{L+1} = N_{out}               \qquad (3)\ \text{parameter count}

Dropout (if ``dropout > 0``) follows each hidden activation, never the output.
No deviation from the textbook model; layers are ``nn.Linear`` with PyTorch's
default initialization.

Tests check the module against an ``nn.Sequential`` of ``nn.Linear`` and
activation modules with copied weights (float64, atol 1e-6), and Eq. (3)
against ``sum(p.numel() for p in module.parameters())``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.registry import Example, register

__all__ = ["ACTIVATIONS", "MLP", "linear_param_count", "mlp_param_count"]

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": F.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "gelu": F.gelu,
}
"""The hidden non-linearities :math:`\\sigma` of Eq. (1), by name."""


def linear_param_count(n_in: int, n_out: int, bias: bool = True) -> int:
    r"""Parameters of one affine layer: :math:`N_{in} N_{out} + N_{out}` (the bias term).

    Args:
        n_in: input units.
        n_out: output units.
        bias: whether the layer has a bias vector.
    """
    return n_in * n_out + (n_out if bias else 0)


def mlp_param_count(
    in_features: int, hidden: Sequence[int], out_features: int, *, bias: bool = True
) -> int:
    r"""Eq. (3): parameters of an MLP, :math:`\sum_\ell (n_{\ell-1} n_\ell + n_\ell)`.

    Args:
        in_features: :math:`N_{in}`.
        hidden: hidden widths :math:`n_1, \dots, n_L` (may be empty: a linear model).
        out_features: :math:`N_{out}`.
        bias: whether every layer has a bias.
    """
    widths = [in_features, *hidden, out_features]
    return sum(linear_param_count(a, b, bias) for a, b in pairwise(widths))


def _example() -> Example:
    return Example(MLP(12, (16, 8), 3, activation="tanh"), (torch.randn(4, 3, 4),), (4, 3))


@register(
    "fundamentals.mlp",
    paper="Rumelhart, Hinton & Williams 1986, Nature 323 (back-propagation)",
    reference="nn.Sequential of nn.Linear with copied weights; closed-form parameter count",
    example=_example,
)
class MLP(nn.Module):
    """A fully connected network: ``Linear -> act (-> Dropout)`` per hidden layer, then ``Linear``.

    Args:
        in_features: input units :math:`N_{in}` (after flattening, if ``flatten``).
        hidden: hidden widths, e.g. ``(256, 128)``; ``()`` gives a linear model.
        out_features: output units :math:`N_{out}` (logits, no final activation).
        activation: ``"relu"``, ``"tanh"``, ``"sigmoid"`` or ``"gelu"``.
        dropout: drop probability after each hidden activation, in [0, 1).
        flatten: flatten every dimension after the batch one first (images in,
            vectors out); if False the layers act on the last dimension.
        bias: give every layer a bias.

    Shape:
        flatten=True: (B, *) with prod(*) = in_features -> (B, out_features).
        flatten=False: (*, in_features) -> (*, out_features).
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int],
        out_features: int,
        *,
        activation: str = "relu",
        dropout: float = 0.0,
        flatten: bool = True,
        bias: bool = True,
    ) -> None:
        super().__init__()
        hidden = tuple(hidden)
        if isinstance(in_features, bool) or not isinstance(in_features, int) or in_features < 1:
            raise ValueError(f"in_features must be a positive int, got {in_features!r}")
        if isinstance(out_features, bool) or not isinstance(out_features, int) or out_features < 1:
            raise ValueError(f"out_features must be a positive int, got {out_features!r}")
        if any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hidden):
            raise ValueError(f"hidden widths must be positive ints, got {hidden!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.in_features = in_features
        self.hidden = hidden
        self.out_features = out_features
        self.activation = activation
        self.dropout = dropout
        self.flatten = flatten
        widths = [in_features, *hidden, out_features]
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=bias) for a, b in pairwise(widths))

    def forward(self, x: Tensor) -> Tensor:
        """Eqs. (1)-(2): the logits."""
        if self.flatten:
            x = x.flatten(1)  # (B, in_features)
        if x.shape[-1] != self.in_features:
            raise ValueError(
                f"expected {self.in_features} input features, got input of shape {tuple(x.shape)}"
            )
        act = ACTIVATIONS[self.activation]
        h = x
        for layer in self.layers[:-1]:
            h = act(layer(h))  # (*, n_l), Eq. (1)
            if self.dropout > 0:
                h = F.dropout(h, self.dropout, self.training)
        return self.layers[-1](h)  # (*, out_features), Eq. (2)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, hidden={self.hidden}, "
            f"out_features={self.out_features}, activation={self.activation!r}, "
            f"dropout={self.dropout}, flatten={self.flatten}"
        )
