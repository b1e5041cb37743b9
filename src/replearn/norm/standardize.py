r"""Input standardization: z-scores with statistics fitted on the training set only.

References: Y. LeCun, L. Bottou, G. B. Orr & K.-R. Müller, "Efficient BackProp", in
*Neural Networks: Tricks of the Trade*, 1998, Sec. 4.3 ("the average of each input
variable over the training set should be close to zero ... scaled so that their
covariances are about the same"); scikit-learn's ``StandardScaler`` (the reference).

With training inputs :math:`x^{(1)}, \dots, x^{(n)}` and feature :math:`j`:

.. math::

    \mu_j = \frac1n \sum_i x^{(i)}_j, \qquad
    \sigma_j = \sqrt{\frac1n \sum_i (x^{(i)}_j - \mu_j)^2}        \qquad (1)\ \text{fit}

    z_j = \frac{x_j - \mu_j}{s_j}, \qquad s_j = \sigma_j \text{ if } \sigma_j > \epsilon
    \text{ else } 1                                                \qquad (2)\ \text{transform}

    x_j = s_j z_j + \mu_j                                          \qquad (3)\ \text{inverse}

:math:`\mu, \sigma` come from the training split alone and are then *frozen*: the
validation and test inputs are transformed with the training statistics (fitting on
them would leak information about the evaluation data). Unlike BatchNorm the transform
is fixed, has no parameters and is the same in train and eval mode. Why it helps
gradient descent: for a linear model the Hessian is the inputs' second-moment matrix,
whose condition number features on different scales (or far from zero mean) inflate;
standardizing makes the diagonal of the correlation matrix 1 (see
:mod:`replearn.optim.least_squares`, Eq. 5, and the claim ``standardize-speeds-gd`` of
``norm-landscape``).

Deviations: none from ``StandardScaler`` (biased :math:`\sigma`, Eq. 1; constant features
keep scale 1, Eq. 2); statistics are taken over the batch axis 0 (``dims`` selects more
axes, e.g. (0, 2, 3) for per-channel statistics of images).

Tests (tests/norm/test_standardize.py): fit and transform against
``sklearn.preprocessing.StandardScaler`` (float64, a constant column included), the
inverse, per-channel image statistics, frozen statistics on new data, state_dict round trip.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from replearn.registry import Example, register

__all__ = ["Standardize", "fit_moments", "standardize", "unstandardize"]


def fit_moments(x: Tensor, dims: Sequence[int] = (0,), eps: float = 1e-12) -> tuple[Tensor, Tensor]:
    r"""Eq. (1)-(2): the mean :math:`\mu` and the scale :math:`s` (:math:`\sigma`, or 1 where
    :math:`\sigma \le \epsilon`), with the reduced axes kept as size 1.

    Shape:
        x: (n, ...) -> mean, scale: x's shape with ``dims`` set to 1
    """
    mean = x.mean(dim=tuple(dims), keepdim=True)
    std = ((x - mean) ** 2).mean(dim=tuple(dims), keepdim=True).sqrt()  # Eq. (1), biased
    return mean, torch.where(std > eps, std, torch.ones_like(std))  # Eq. (2)


def standardize(x: Tensor, mean: Tensor, scale: Tensor) -> Tensor:
    r"""Eq. (2): :math:`(x - \mu) / s`.

    Shape:
        x: (n, ...), mean and scale broadcastable to it -> x's shape
    """
    return (x - mean) / scale


def unstandardize(z: Tensor, mean: Tensor, scale: Tensor) -> Tensor:
    r"""Eq. (3): :math:`s z + \mu`.

    Shape:
        z: (n, ...) -> z's shape
    """
    return z * scale + mean


def _example() -> Example:
    gen = torch.Generator().manual_seed(0)
    train = 3.0 + 5.0 * torch.randn(32, 4, generator=gen)
    module = Standardize().fit(train)
    return Example(module, (torch.randn(8, 4, generator=gen).requires_grad_(),), (8, 4))


@register(
    "norm.standardize",
    paper="LeCun, Bottou, Orr & Müller 1998, Efficient BackProp, Sec. 4.3 (input normalization)",
    reference="sklearn.preprocessing.StandardScaler (float64)",
    example=_example,
)
class Standardize(nn.Module):
    """Input standardization (Eqs. 1-3): :meth:`fit` on the training inputs, then a fixed map.

    Args:
        dims: the axes the statistics are taken over (0: one statistic per feature).
        eps: a feature whose :math:`\\sigma` is at most ``eps`` keeps scale 1.
    """

    def __init__(self, *, dims: Sequence[int] = (0,), eps: float = 1e-12) -> None:
        super().__init__()
        dims = tuple(dims)
        if not dims or any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in dims):
            raise ValueError(f"dims must be non-negative axis indices including 0, got {dims!r}")
        if 0 not in dims:
            raise ValueError(f"dims must include the batch axis 0, got {dims!r}")
        if not eps >= 0:
            raise ValueError(f"eps must be >= 0, got {eps!r}")
        self.dims, self.eps = dims, float(eps)
        self.register_buffer("mean", torch.empty(0))
        self.register_buffer("scale", torch.empty(0))

    @property
    def fitted(self) -> bool:
        """Whether :meth:`fit` (or a loaded state_dict) has set the statistics."""
        return self.mean.numel() > 0

    @torch.no_grad()
    def fit(self, x: Tensor) -> Standardize:
        """Take :math:`\\mu, s` from the training inputs ``x`` (Eqs. 1-2); returns ``self``."""
        if x.dim() <= max(self.dims):
            raise ValueError(f"x has {x.dim()} axes; dims {self.dims} need more")
        if x.shape[0] < 1:
            raise ValueError("fit needs at least one example")
        self.mean, self.scale = fit_moments(x, self.dims, self.eps)
        return self

    def _check(self, x: Tensor) -> None:
        if not self.fitted:
            raise RuntimeError("Standardize is not fitted: call .fit(train_inputs) first")
        shape = self.mean.shape[1:]
        if x.dim() != self.mean.dim() or any(
            m not in (1, s) for m, s in zip(shape, x.shape[1:], strict=True)
        ):
            raise ValueError(f"input {tuple(x.shape)} does not match the fitted statistics")

    def forward(self, x: Tensor) -> Tensor:
        """Eq. (2) with the frozen training statistics."""
        self._check(x)
        return standardize(x, self.mean, self.scale)

    def inverse(self, z: Tensor) -> Tensor:
        """Eq. (3)."""
        self._check(z)
        return unstandardize(z, self.mean, self.scale)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        for name in ("mean", "scale"):  # fitted statistics have a shape the empty buffer lacks
            if prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return f"dims={self.dims}, eps={self.eps:g}, fitted={self.fitted}"
