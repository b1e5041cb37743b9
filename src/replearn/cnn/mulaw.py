r"""μ-law companding and 8-bit quantisation of audio-like signals in [-1, 1].

Paper: A. van den Oord et al., "WaveNet: A Generative Model for Raw Audio",
2016, arXiv:1609.03499, Sec. 2.2; the companding law is ITU-T Recommendation
G.711 (1972). WaveNet models each sample as a 256-way categorical variable: the
signal is first compressed with the μ-law transformation

.. math::

    f(x_t) = \operatorname{sign}(x_t)\,\frac{\ln(1 + \mu |x_t|)}{\ln(1 + \mu)},
    \qquad -1 < x_t < 1,\ \mu = 255                         \qquad (1)

which spends more levels near zero (where audio spends most of its time) than a
linear quantiser would, then quantised uniformly to :math:`Q = \mu + 1` levels:

.. math::

    q = \left\lfloor \frac{f(x) + 1}{2}\,\mu + \tfrac12 \right\rfloor \in \{0, \dots, \mu\}
                                                              \qquad (2)

Decoding inverts both steps: the level's centre :math:`y = 2q/\mu - 1`, then

.. math::

    f^{-1}(y) = \operatorname{sign}(y)\,\frac{(1 + \mu)^{|y|} - 1}{\mu}   \qquad (3)

Round-trip bounds (what the tests check): in the companded domain the
quantisation error is at most half a level, :math:`|y - f(x)| \le 1/\mu`; since
:math:`f^{-1}` is increasing, the decoded value lies in
:math:`[f^{-1}(f(x) - 1/\mu),\ f^{-1}(f(x) + 1/\mu)]`, so the error in the signal
domain grows with :math:`|x|` (about :math:`\ln(1+\mu)(1+|x|\mu)/\mu^2`): small
signals are reproduced finely, loud ones coarsely. Eq. (2) rounds half up, as
``torchaudio.functional.mu_law_encoding`` does.

Tests check Eqs. (1)-(3) against the closed forms computed with NumPy, that
:math:`f^{-1}(f(x)) = x`, the bounds above, and that every level decodes and
re-encodes to itself.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from replearn.registry import register

__all__ = [
    "dequantize",
    "mu_law_compress",
    "mu_law_decode",
    "mu_law_encode",
    "mu_law_expand",
    "quantize",
]


def _mu(levels: int) -> int:
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 2:
        raise ValueError(f"levels must be an int >= 2, got {levels!r}")
    return levels - 1


def mu_law_compress(x: Tensor, mu: float = 255.0) -> Tensor:
    r"""Eq. (1): :math:`f(x) = \operatorname{sign}(x) \ln(1 + \mu|x|) / \ln(1 + \mu)`.

    Args:
        x: signal, clamped to [-1, 1].
        mu: compression parameter :math:`\mu > 0` (255 for 8-bit audio).

    Shape:
        x: (*) -> (*), values in [-1, 1].
    """
    if mu <= 0:
        raise ValueError(f"mu must be positive, got {mu}")
    x = x.clamp(-1.0, 1.0)
    return torch.sign(x) * torch.log1p(mu * x.abs()) / math.log1p(mu)


def mu_law_expand(y: Tensor, mu: float = 255.0) -> Tensor:
    r"""Eq. (3): :math:`f^{-1}(y) = \operatorname{sign}(y)((1 + \mu)^{|y|} - 1) / \mu`.

    Args:
        y: companded signal in [-1, 1].
        mu: the :math:`\mu` used by :func:`mu_law_compress`.

    Shape:
        y: (*) -> (*), values in [-1, 1].
    """
    if mu <= 0:
        raise ValueError(f"mu must be positive, got {mu}")
    y = y.clamp(-1.0, 1.0)
    return torch.sign(y) * torch.expm1(y.abs() * math.log1p(mu)) / mu


def quantize(y: Tensor, levels: int = 256) -> Tensor:
    r"""Eq. (2): the level :math:`\lfloor (y + 1)\mu/2 + 1/2 \rfloor` of ``y`` in [-1, 1].

    Args:
        y: values in [-1, 1] (clamped).
        levels: number of levels :math:`Q = \mu + 1`.

    Shape:
        y: (*) -> (*), int64 in {0, ..., levels - 1}.
    """
    mu = _mu(levels)
    q = torch.floor((y.clamp(-1.0, 1.0) + 1.0) / 2.0 * mu + 0.5)
    return q.to(torch.int64).clamp(0, mu)


def dequantize(q: Tensor, levels: int = 256, dtype: torch.dtype = torch.float32) -> Tensor:
    r"""The centre :math:`2q/\mu - 1` of level ``q`` (the inverse of :func:`quantize` on levels).

    Shape:
        q: (*) integer -> (*) float in [-1, 1].
    """
    mu = _mu(levels)
    return q.to(dtype) * (2.0 / mu) - 1.0


@register(
    "cnn.mu-law",
    paper="van den Oord et al. 2016, arXiv:1609.03499 Sec. 2.2; ITU-T G.711 (1972)",
    reference="closed forms (1)-(3) in NumPy; round-trip error bounds; level round trip",
)
def mu_law_encode(x: Tensor, levels: int = 256) -> Tensor:
    """μ-law companding then uniform quantisation: Eqs. (1)-(2), with μ = levels - 1.

    Args:
        x: signal in [-1, 1] (clamped).
        levels: number of levels (256 in WaveNet).

    Shape:
        x: (*) float -> (*) int64 in {0, ..., levels - 1}.
    """
    return quantize(mu_law_compress(x, float(_mu(levels))), levels)


def mu_law_decode(q: Tensor, levels: int = 256, dtype: torch.dtype = torch.float32) -> Tensor:
    """The signal value of level ``q``: Eq. (3) applied to the level's centre.

    Shape:
        q: (*) integer -> (*) float in [-1, 1].
    """
    return mu_law_expand(dequantize(q, levels, dtype), float(_mu(levels)))
