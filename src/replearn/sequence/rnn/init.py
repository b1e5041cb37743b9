r"""Initialising recurrent weights: orthogonal matrices scaled to a chosen spectral radius.

Papers: A. M. Saxe, J. L. McClelland & S. Ganguli, "Exact solutions to the nonlinear dynamics of
learning in deep linear neural networks", ICLR 2014, arXiv:1312.6120 (orthogonal
initialisation); Q. V. Le, N. Jaitly & G. E. Hinton, "A Simple Way to Initialize Recurrent
Networks of Rectified Linear Units", 2015, arXiv:1504.00941 (recurrent weights with spectral
radius near 1); F. Mezzadri, "How to generate random matrices from the classical compact
groups", Notices of the AMS 54, 2007, arXiv:math-ph/0609050 (the sign correction).

Backpropagating through :math:`T` steps of :math:`h_t = \phi(W h_{t-1} + \dots)` multiplies the
gradient by :math:`W^\top` (times the diagonal of :math:`\phi'`) :math:`T` times, so its size
goes like :math:`\rho(W)^T`: it explodes for :math:`\rho > 1` and vanishes for :math:`\rho < 1`.
An orthogonal :math:`W` keeps every singular value at 1, so :math:`\lVert W^\top g\rVert =
\lVert g \rVert` at initialisation.

Orthogonal sampling (:func:`orthogonal`): draw :math:`A \in \mathbb R^{m \times n}` with i.i.d.
:math:`\mathcal N(0, 1)` entries (transposed to tall when :math:`m < n`), factor :math:`A = QR`,
and correct the signs

.. math::

    Q \leftarrow Q \,\mathrm{diag}(\mathrm{sign}(R_{11}), \dots, \mathrm{sign}(R_{kk}))  \qquad (1)

which makes :math:`Q` Haar-distributed (without Eq. 1 the QR routine's sign convention biases
it). Rescaling to spectral radius :math:`\rho` (:func:`scale_spectral_radius`):

.. math::

    W \leftarrow \rho\, W / \max_i |\lambda_i(W)|                                   \qquad (2)

:func:`init_recurrent_` applies either to each :math:`H \times H` gate block of every
``weight_hh*`` of a recurrent module (an LSTM stacks four, a GRU three).

Tests: :math:`Q^\top Q = I` (tall, wide, square); equal to ``torch.nn.init.orthogonal_`` with the
same generator; Eq. (1) removes the bias of the unsigned QR (mean of :math:`Q_{11}` is 0);
after :func:`init_recurrent_` every block has the requested spectral radius.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from replearn.registry import register

__all__ = ["init_recurrent_", "orthogonal", "orthogonal_", "scale_spectral_radius"]


def orthogonal(
    rows: int,
    cols: int,
    *,
    gain: float = 1.0,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    r"""Eq. (1): a Haar-random matrix with orthonormal rows or columns, times ``gain``.

    :math:`Q^\top Q = I` when ``rows >= cols``, :math:`Q Q^\top = I` otherwise.

    Shape:
        -> (rows, cols).
    """
    if rows < 1 or cols < 1:
        raise ValueError(f"orthogonal needs a non-empty matrix, got {rows}x{cols}")
    a = torch.randn(rows, cols, generator=generator, dtype=dtype)  # (m, n)
    if rows < cols:
        a = a.T  # tall: (n, m)
    q, r = torch.linalg.qr(a)  # q: (max, min), r: (min, min)
    q = q * torch.sign(torch.diagonal(r))  # Eq. (1), column j times sign(R_jj)
    if rows < cols:
        q = q.T
    return gain * q


def orthogonal_(
    tensor: Tensor, gain: float = 1.0, *, generator: torch.Generator | None = None
) -> Tensor:
    """Fill ``tensor`` in place with :func:`orthogonal` (trailing dims flattened), like torch.

    Shape:
        (rows, *) -> same, viewed as (rows, prod(*)).
    """
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_ needs at least 2 dimensions, got {tensor.ndim}")
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    q = orthogonal(rows, cols, gain=gain, generator=generator, dtype=tensor.dtype)
    with torch.no_grad():
        tensor.copy_(q.view_as(tensor))
    return tensor


def spectral_radius(w: Tensor) -> Tensor:
    r""":math:`\rho(W) = \max_i |\lambda_i(W)|`.

    Shape:
        (H, H) -> ().
    """
    return torch.linalg.eigvals(w).abs().max()


def scale_spectral_radius(w: Tensor, radius: float) -> Tensor:
    r"""Eq. (2): :math:`\rho\, W / \rho(W)`, a copy of ``w`` with spectral radius ``radius``.

    Shape:
        (H, H) -> (H, H).
    """
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"the spectral radius needs a square matrix, got {tuple(w.shape)}")
    return w * (radius / spectral_radius(w).to(w.dtype))


@register(
    "sequence.orthogonal_init",
    paper="Saxe et al. 2014, arXiv:1312.6120; Le et al. 2015, arXiv:1504.00941; Mezzadri 2007",
    reference="Q^T Q = I; torch.nn.init.orthogonal_ with the same generator; spectral radius",
)
def init_recurrent_(
    module: nn.Module,
    *,
    scheme: str = "orthogonal",
    spectral_radius: float | None = None,
    generator: torch.Generator | None = None,
) -> nn.Module:
    """Re-initialise every ``weight_hh*`` of ``module``, gate block by gate block, in place.

    Args:
        module: any module with recurrent weights named ``weight_hh...`` of shape (G·H, H)
            (ours or ``torch.nn``'s RNN/LSTM/GRU and cells).
        scheme: 'orthogonal' (Eq. 1), 'uniform' (U(-1/√H, 1/√H), torch's default) or 'normal'
            (N(0, 1/H), spectral radius about 1 for large H by the circular law).
        spectral_radius: if given, rescale each H×H block to this spectral radius (Eq. 2);
            an orthogonal block then has every eigenvalue of modulus ``spectral_radius``.
        generator: random generator for reproducibility.

    Returns:
        ``module``. Input weights and biases are left as they are.
    """
    if scheme not in ("orthogonal", "uniform", "normal"):
        raise ValueError(f"scheme must be 'orthogonal', 'uniform' or 'normal', got {scheme!r}")
    if spectral_radius is not None and not spectral_radius > 0:
        raise ValueError(f"spectral_radius must be > 0, got {spectral_radius}")
    found = False
    for name, w in module.named_parameters():
        if not name.rsplit(".", 1)[-1].startswith("weight_hh"):
            continue
        found = True
        h = w.shape[1]
        if w.ndim != 2 or w.shape[0] % h:
            raise ValueError(f"{name}: expected a (G·H, H) recurrent weight, got {tuple(w.shape)}")
        with torch.no_grad():
            for block in w.split(h, dim=0):  # views of the (H, H) gate blocks
                if scheme == "orthogonal":
                    new = orthogonal(h, h, generator=generator, dtype=torch.float64)
                elif scheme == "uniform":
                    new = torch.rand(h, h, generator=generator, dtype=torch.float64)
                    new = (2 * new - 1) / math.sqrt(h)
                else:
                    new = torch.randn(h, h, generator=generator, dtype=torch.float64)
                    new = new / math.sqrt(h)
                if spectral_radius is not None:
                    new = scale_spectral_radius(new, spectral_radius)
                block.copy_(new)
    if not found:
        raise ValueError(f"{type(module).__name__} has no recurrent weight named weight_hh*")
    return module
