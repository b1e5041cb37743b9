r"""Greedy layer-wise pre-training with a stack of autoencoders.

Papers: Y. Bengio, P. Lamblin, D. Popovici & H. Larochelle, "Greedy layer-wise training
of deep networks", *NeurIPS* 2006 (stacked autoencoders); P. Vincent, H. Larochelle,
Y. Bengio & P.-A. Manzagol, "Extracting and composing robust features with denoising
autoencoders", *ICML* 2008 (the denoising variant); G. E. Hinton & R. R. Salakhutdinov,
*Science* 313, 2006 (the RBM variant: :mod:`replearn.fundamentals.rbm`).

Layer :math:`\ell` is a one-hidden-layer autoencoder on the codes of the layers below,
:math:`h_0 = x`:

.. math::

    h_\ell = \sigma(W_\ell h_{\ell-1} + b_\ell), \qquad
    \hat h_{\ell-1} = \sigma(W'_\ell h_\ell + b'_\ell)          \qquad (1)\ \text{encode, decode}

    \mathcal{L}_\ell = \operatorname{BCE}(\hat h_{\ell-1}(\tilde h_{\ell-1}), h_{\ell-1}),
    \quad \tilde h = h \odot m,\ m_i \sim \text{Bernoulli}(1 - p)
                                                                \qquad (2)\ \text{reconstruction}

Greedy pre-training trains layer 1 on :math:`x`, freezes it, trains layer 2 on
:math:`h_1`, and so on (no labels); then the encoders initialize the hidden layers of a
classifier, and the whole network is fine-tuned with labels (Bengio et al. 2006, §2).
:math:`p = 0` is the plain autoencoder, :math:`p > 0` the denoising one (masking noise).

Inputs and codes are in :math:`[0, 1]`, so Eq. (2) is the binary cross-entropy of the
sigmoid decoder, as in both papers. Deviations: untied decoder weights (Vincent et al.
tie :math:`W' = W^\top`; untied is the other common choice).

Tests check the reconstruction loss (2) against ``F.binary_cross_entropy``, that
:func:`encode` through ``depth`` layers equals the chained encoders, that
:meth:`StackedAutoencoder.init_mlp` copies the encoders into the
:class:`~replearn.fundamentals.mlp.MLP` (same hidden features), and that training one
layer lowers its loss.
"""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.fundamentals.mlp import MLP
from replearn.registry import Example, register

__all__ = ["AutoencoderLayer", "StackedAutoencoder", "masking_noise", "reconstruction_loss"]


def masking_noise(x: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    r"""Eq. (2)'s corruption :math:`\tilde x = x \odot m`, :math:`m \sim \text{Bernoulli}(1-p)`.

    Shape:
        any -> same.
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"p must be in [0, 1), got {p}")
    if p == 0.0:
        return x
    keep = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device) >= p
    return x * keep.to(x.dtype)


def reconstruction_loss(logits: Tensor, target: Tensor) -> Tensor:
    r"""Eq. (2): mean over examples of the summed binary cross-entropy of a sigmoid decoder.

    .. math::

        -\frac1N \sum_n \sum_i t_{ni} \log \sigma(a_{ni})
        + (1 - t_{ni}) \log(1 - \sigma(a_{ni}))

    Shape:
        logits, target: (N, d) -> ().
    """
    return F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / target.shape[0]


def _layer_example() -> Example:
    return Example(AutoencoderLayer(8, 4), (torch.rand(3, 8),), (3, 8))


@register(
    "fundamentals.autoencoder_layer",
    paper="Bengio, Lamblin, Popovici & Larochelle 2006, NeurIPS; Vincent et al. 2008, ICML",
    reference="F.binary_cross_entropy on the sigmoid reconstruction; shapes",
    example=_layer_example,
)
class AutoencoderLayer(nn.Module):
    """One layer of the stack (Eq. 1); ``forward`` gives the decoder's logits.

    Args:
        n_in: input width (codes of the layer below).
        n_hidden: code width.
        noise: masking probability p of the denoising variant (0: plain).

    Shape:
        (N, n_in) -> (N, n_in).
    """

    def __init__(self, n_in: int, n_hidden: int, *, noise: float = 0.0) -> None:
        super().__init__()
        if n_in < 1 or n_hidden < 1:
            raise ValueError("n_in and n_hidden must be >= 1")
        if not 0.0 <= noise < 1.0:
            raise ValueError(f"noise must be in [0, 1), got {noise}")
        self.noise = noise
        self.encoder = nn.Linear(n_in, n_hidden)
        self.decoder = nn.Linear(n_hidden, n_in)

    def encode(self, x: Tensor) -> Tensor:
        """:math:`h = \\sigma(W x + b)`, (N, n_hidden)."""
        return torch.sigmoid(self.encoder(x))

    def forward(self, x: Tensor) -> Tensor:
        """Decoder logits of the (corrupted, in training) input."""
        x_in = masking_noise(x, self.noise) if self.training else x
        return self.decoder(self.encode(x_in))

    def loss(self, x: Tensor) -> Tensor:
        """Eq. (2) on a batch."""
        return reconstruction_loss(self(x), x)

    def extra_repr(self) -> str:
        return f"noise={self.noise}"


def _stack_example() -> Example:
    return Example(StackedAutoencoder((8, 6, 4)), (torch.rand(3, 8),), (3, 8))


@register(
    "fundamentals.stacked_autoencoder",
    paper="Bengio, Lamblin, Popovici & Larochelle 2006, NeurIPS (greedy layer-wise)",
    reference="chained encoders; init_mlp gives the MLP the same hidden features",
    example=_stack_example,
)
class StackedAutoencoder(nn.Module):
    """A stack of :class:`AutoencoderLayer`; ``forward`` encodes through all and decodes back.

    Args:
        widths: :math:`(n_0, n_1, \\dots, n_L)`.
        noise: masking probability of every layer (denoising variant).

    Shape:
        (N, n_0) -> (N, n_0) (sigmoid means).
    """

    def __init__(self, widths: tuple[int, ...] | list[int], *, noise: float = 0.0) -> None:
        super().__init__()
        if len(widths) < 2:
            raise ValueError("a stack needs at least (n_in, n_hidden)")
        self.widths = tuple(widths)
        self.layers = nn.ModuleList(
            AutoencoderLayer(a, b, noise=noise) for a, b in pairwise(widths)
        )

    def encode(self, x: Tensor, depth: int | None = None) -> Tensor:
        """Codes after ``depth`` layers (all by default): the training data of layer depth + 1.

        Shape:
            (N, n_0) -> (N, n_depth).
        """
        h = x
        for layer in self.layers[: len(self.layers) if depth is None else depth]:
            h = layer.encode(h)
        return h

    def forward(self, x: Tensor) -> Tensor:
        """Encode through every layer, decode back through every layer (sigmoid means)."""
        h = self.encode(x)
        for layer in reversed(self.layers):
            h = torch.sigmoid(layer.decoder(h))
        return h

    @torch.no_grad()
    def init_mlp(self, mlp: MLP) -> MLP:
        """Copy the encoders into the hidden layers of a sigmoid ``mlp`` of matching widths."""
        if (
            mlp.activation != "sigmoid"
            or mlp.hidden != self.widths[1:]
            or mlp.in_features != (self.widths[0])
        ):
            raise ValueError(
                f"need a sigmoid MLP with in_features {self.widths[0]} and hidden "
                f"{self.widths[1:]}, got {mlp.activation!r}, {mlp.in_features}, {mlp.hidden}"
            )
        for layer, target in zip(self.layers, mlp.layers[:-1], strict=True):
            target.weight.copy_(layer.encoder.weight)
            target.bias.copy_(layer.encoder.bias)
        return mlp

    def extra_repr(self) -> str:
        return f"widths={self.widths}"
