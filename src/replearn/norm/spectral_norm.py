r"""Spectral normalization: divide a weight by its largest singular value, found by power iteration.

Paper: T. Miyato, T. Kataoka, M. Koyama & Y. Yoshida, "Spectral Normalization
for Generative Adversarial Networks", ICLR 2018, arXiv:1802.05957. Used again
by the GAN discriminators and by invertible ResNets (Behrmann et al. 2019,
arXiv:1811.00995), which need a layer with Lipschitz constant below one.

A weight is viewed as a matrix :math:`W \in \mathbb{R}^{h \times w}` (axis
``dim`` first, the other axes flattened: a conv kernel (out, in, k, k) becomes
(out, in k k)). Its spectral norm :math:`\sigma(W)` (largest singular value) is
estimated by power iteration on persistent vectors :math:`u, v` (Algorithm 1),
one or a few steps per training forward:

.. math::

    u \leftarrow \frac{W v}{\|W v\|}, \qquad
    v \leftarrow \frac{W^\top u}{\|W^\top u\|}                                   \qquad (1)

    \sigma(W) \approx u^\top W v                                                 \qquad (2)

    W_{SN} = W / \sigma(W)                                                       \qquad (3)

so :math:`\sigma(W_{SN}) \approx 1` and a layer :math:`x \mapsto W_{SN} x` is
1-Lipschitz. :math:`u, v` are constants for autograd (the gradient flows into
:math:`W` through Eq. 2 and 3 only, as in the paper's Eq. 12). A 1-D weight
needs no iteration: :math:`\sigma = \|W\|`.

Deviations, all as in ``torch.nn.utils.parametrizations.spectral_norm`` (a
drop-in: same arguments, buffers ``_u``, ``_v`` and ``state_dict`` keys): the
update order starts from :math:`v` (Alg. 1 starts from :math:`u`); norms are
clamped below by ``eps``; at registration :math:`u, v` are drawn from
:math:`\mathcal{N}(0, I)` (u first, then v, so the same seed gives torch's
vectors), normalized, and refined by 15 iterations; in eval mode no iteration
runs. The default ``dim`` is 1 for transposed convolutions (their output axis).

No fast path: the cost is two matrix-vector products and a dot product, the
same kernels torch calls.

Tests check against torch's parametrization with the same :math:`u, v`
(weights, outputs, gradients, buffers after training steps) in float64, and
that :math:`\sigma(W_{SN})` computed by SVD is 1 after enough iterations.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from replearn.registry import Example, register

__all__ = [
    "SpectralNorm",
    "normalize",
    "power_iteration",
    "spectral_norm",
    "spectral_sigma",
    "weight_to_matrix",
]


def normalize(x: Tensor, eps: float) -> Tensor:
    r""":math:`x / \max(\|x\|, \epsilon)`.

    Shape:
        x: (n,) -> (n,).
    """
    return x / x.square().sum().sqrt().clamp_min(eps)


def weight_to_matrix(weight: Tensor, dim: int) -> Tensor:
    """The (h, w) matrix of a weight: axis ``dim`` first, the others flattened.

    Shape:
        weight: (d_0, ..., d_k) -> (d_dim, prod of the other d_i).
    """
    if dim != 0:
        weight = weight.movedim(dim, 0)
    return weight.flatten(1)


def power_iteration(
    w_mat: Tensor, u: Tensor, v: Tensor, n_iterations: int, eps: float
) -> tuple[Tensor, Tensor]:
    """Eq. (1) repeated ``n_iterations`` times; returns the new (u, v) (no gradient).

    Shape:
        w_mat: (h, w); u: (h,); v: (w,) -> u: (h,), v: (w,).
    """
    with torch.no_grad():
        for _ in range(n_iterations):
            u = normalize(w_mat @ v, eps)  # (h,)
            v = normalize(w_mat.mT @ u, eps)  # (w,)
    return u, v


def spectral_sigma(w_mat: Tensor, u: Tensor, v: Tensor) -> Tensor:
    r"""Eq. (2): :math:`\sigma(W) \approx u^\top W v` (differentiable in W).

    Shape:
        w_mat: (h, w); u: (h,); v: (w,) -> ().
    """
    return torch.dot(u, w_mat @ v)


class SpectralNorm(nn.Module):
    """The parametrization W -> W / sigma(W) of Eq. (3), registered by :func:`spectral_norm`.

    Args:
        weight: the weight it will normalize (for the shapes of u, v and their init).
        n_power_iterations: iterations of Eq. (1) per training forward.
        dim: the output axis (the rows of the matrix).
        eps: lower bound of the norms in Eq. (1).

    Shape:
        forward: weight (any) -> weight's shape.
    """

    def __init__(
        self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12
    ) -> None:
        super().__init__()
        ndim = weight.dim()
        if not -ndim <= dim < ndim:
            raise ValueError(f"dim must be in [-{ndim}, {ndim - 1}], got {dim}")
        if isinstance(n_power_iterations, bool) or not isinstance(n_power_iterations, int):
            raise ValueError(f"n_power_iterations must be an int, got {n_power_iterations!r}")
        if n_power_iterations < 1:
            raise ValueError(f"n_power_iterations must be >= 1, got {n_power_iterations}")
        if eps < 0:
            raise ValueError(f"eps must be >= 0, got {eps}")
        self.dim, self.eps, self.n_power_iterations = dim % ndim, eps, n_power_iterations
        if ndim > 1:
            w_mat = weight_to_matrix(weight.detach(), self.dim)  # (h, w)
            u = normalize(w_mat.new_empty(w_mat.shape[0]).normal_(0, 1), eps)  # (h,)
            v = normalize(w_mat.new_empty(w_mat.shape[1]).normal_(0, 1), eps)  # (w,)
            u, v = power_iteration(w_mat, u, v, 15, eps)
            self.register_buffer("_u", u)
            self.register_buffer("_v", v)

    def forward(self, weight: Tensor) -> Tensor:
        """Eq. (1) in training (buffers updated in place), then Eqs. (2)-(3)."""
        if weight.dim() == 1:
            return normalize(weight, self.eps)  # sigma of a vector is its norm
        w_mat = weight_to_matrix(weight, self.dim)  # (h, w)
        if self.training:
            u, v = power_iteration(w_mat, self._u, self._v, self.n_power_iterations, self.eps)
            with torch.no_grad():
                self._u.copy_(u)
                self._v.copy_(v)
        sigma = spectral_sigma(w_mat, self._u.clone(), self._v.clone())  # ()
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        """Assigning a weight stores it as is (it is normalized on access)."""
        return value

    def extra_repr(self) -> str:
        return f"dim={self.dim}, n_power_iterations={self.n_power_iterations}, eps={self.eps}"


@register(
    "norm.spectral_norm",
    paper="Miyato, Kataoka, Koyama & Yoshida 2018, arXiv:1802.05957",
    reference="torch.nn.utils.parametrizations.spectral_norm with the same u, v; "
    "sigma(W_SN) = 1 by SVD",
    example=lambda: Example(spectral_norm(nn.Linear(6, 3)), (torch.randn(4, 6),), (4, 3)),
)
def spectral_norm(
    module: nn.Module,
    name: str = "weight",
    n_power_iterations: int = 1,
    eps: float = 1e-12,
    dim: int | None = None,
) -> nn.Module:
    """Reparametrize ``module.<name>`` as :math:`W / \\sigma(W)` (Eq. 3), in place.

    Drop-in for ``torch.nn.utils.parametrizations.spectral_norm``.

    Args:
        module: holds the weight (``nn.Linear``, ``nn.Conv2d``, ...).
        name: the parameter to normalize.
        n_power_iterations: iterations of Eq. (1) per training forward (>= 1).
        eps: lower bound of the norms.
        dim: the output axis; None: 1 for ``nn.ConvTranspose*d``, else 0.

    Returns:
        ``module``, now with ``module.parametrizations.<name>.original`` and the
        buffers ``parametrizations.<name>.0._u`` / ``._v``.

    Raises:
        ValueError: no parameter ``name``, bad ``n_power_iterations``, ``eps`` or ``dim``.
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"module {type(module).__name__} has no parameter or buffer {name!r}")
    if dim is None:
        transposed = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
        dim = 1 if isinstance(module, transposed) else 0
    parametrize.register_parametrization(
        module, name, SpectralNorm(weight, n_power_iterations, dim, eps)
    )
    return module
