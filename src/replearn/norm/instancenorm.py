r"""Instance normalization: standardize each channel of each example on its own.

Paper: D. Ulyanov, A. Vedaldi & V. Lempitsky, "Instance Normalization: The
Missing Ingredient for Fast Stylization", 2016, arXiv:1607.08022.

For :math:`x \in \mathbb{R}^{B \times C \times F}` the statistics of channel
:math:`c` of example :math:`b` are taken over the features only (Eq. 2 of the
paper):

.. math::

    \mu_{bc} = \frac{1}{F} \sum_{f=1}^{F} x_{bcf}, \qquad
    \sigma^2_{bc} = \frac{1}{F} \sum_{f} (x_{bcf} - \mu_{bc})^2         \qquad (1)

    y_{bcf} = \gamma_c \frac{x_{bcf} - \mu_{bc}}{\sqrt{\sigma^2_{bc} + \epsilon}} + \beta_c
                                                                        \qquad (2)

so nothing is shared across the batch (the paper uses it at test time too). With
``affine=True`` there are :math:`2C` parameters. With ``track_running_stats``
the running statistics average the per-instance ones over the batch, with the
unbiased variance (:math:`m = F`):

.. math::

    \hat{\mu} \leftarrow (1 - \rho)\,\hat{\mu} + \rho\,\frac{1}{B}\sum_b \mu_{bc}, \qquad
    \hat{\sigma}^2 \leftarrow (1 - \rho)\,\hat{\sigma}^2
        + \rho\,\frac{1}{B}\sum_b \tfrac{F}{F - 1}\sigma^2_{bc}           \qquad (3)

and eval mode then normalizes with them, like batch norm.

Deviations, as in ``torch.nn.InstanceNorm1d/2d`` (drop-in replacements, same
defaults ``affine=False, track_running_stats=False`` and ``state_dict`` keys):
``momentum=None`` means *no* update of the running statistics (torch passes 0);
unbatched inputs (C, L) / (C, H, W) are accepted; a channel count that differs
from ``num_features`` is an error only when there are parameters or buffers.

Paths: :func:`instance_norm` is the reference; :func:`instance_norm_fast` has
the same signature and calls ``F.instance_norm`` (the batch-norm kernel on a
(1, B*C, F) view; forward + backward on CPU: reference 3-4x torch's time, fast
path on par, ``benchmarks/results/norm.md``).

Tests check outputs, gradients and running statistics against
``torch.nn.InstanceNorm1d/2d`` in float64, ``state_dict`` round trips and
fast == reference.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.norm.batchnorm import running_average, scale_shift, standardize
from replearn.norm.checks import check_eps, check_momentum, check_positive_int
from replearn.reference import use_reference
from replearn.registry import Example, register

__all__ = [
    "InstanceNorm1d",
    "InstanceNorm2d",
    "instance_moments",
    "instance_norm",
    "instance_norm_fast",
]


def instance_moments(x: Tensor) -> tuple[Tensor, Tensor]:
    r"""Eq. (1): mean and biased variance of every (example, channel) over the features.

    Shape:
        x: (B, C, *) -> mean, var: (B, C, 1, ..., 1), reduced over the axes after 1 (F).
    """
    dims = list(range(2, x.dim()))
    mean = x.mean(dim=dims, keepdim=True)  # (B, C, 1, ..., 1)
    var = (x - mean).square().mean(dim=dims, keepdim=True)  # (B, C, 1, ..., 1)
    return mean, var


def instance_norm(
    x: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Eqs. (1)-(3), reference path with the signature of ``F.instance_norm``.

    With ``use_input_stats`` each instance is normalized by its own moments and the
    running buffers (if given) are updated in place by Eq. (3); otherwise the
    running statistics normalize every instance.

    Shape:
        x: (B, C, *); running_mean, running_var, weight, bias: (C,) -> (B, C, *).
    """
    if use_input_stats:
        mean, var = instance_moments(x)  # (B, C, 1, ..., 1)
        if running_mean is not None and running_var is not None:
            n = x[0, 0].numel()  # F values per instance
            with torch.no_grad():
                batch_mean = mean.flatten(1).mean(0)  # (C,)
                batch_var = (var.flatten(1) * n / (n - 1)).mean(0)  # (C,)
                running_mean.copy_(running_average(running_mean, batch_mean, momentum))
                running_var.copy_(running_average(running_var, batch_var, momentum))
        x_hat = (x - mean) / torch.sqrt(var + eps)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm without input statistics needs running statistics")
        x_hat = standardize(x, running_mean, running_var, eps)
    return scale_shift(x_hat, weight, bias)


def instance_norm_fast(
    x: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Fast path: ``F.instance_norm``; same result as :func:`instance_norm`.

    Shape:
        x: (B, C, *) -> (B, C, *).
    """
    return F.instance_norm(
        x, running_mean, running_var, weight, bias, use_input_stats, momentum, eps
    )


class _InstanceNorm(nn.Module):
    """Shared body of :class:`InstanceNorm1d` and :class:`InstanceNorm2d`."""

    _batched_dim = 0

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        bias: bool = True,
        *,
        fast: bool = False,
    ) -> None:
        super().__init__()
        check_positive_int("num_features", num_features)
        check_eps(eps)
        check_momentum(momentum)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats, self.fast = affine, track_running_stats, fast
        kw = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.ones(num_features, **kw)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_features, **kw)) if affine and bias else None
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features, **kw))
            self.register_buffer("running_var", torch.ones(num_features, **kw))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def forward(self, x: Tensor) -> Tensor:
        """Eqs. (1)-(2) (and Eq. 3 on the buffers in training)."""
        batched = self._batched_dim
        if x.dim() not in (batched - 1, batched):
            raise ValueError(
                f"expected {batched - 1}D (unbatched) or {batched}D input, got shape "
                f"{tuple(x.shape)}"
            )
        unbatched = x.dim() == batched - 1
        if unbatched:
            x = x.unsqueeze(0)
        if x.shape[1] != self.num_features and (self.affine or self.track_running_stats):
            raise ValueError(f"expected {self.num_features} channels, got shape {tuple(x.shape)}")
        use_input_stats = self.training or not self.track_running_stats
        if use_input_stats and x[0, 0].numel() < 2:
            raise ValueError(f"expected more than 1 feature per channel, got {tuple(x.shape)}")
        norm = instance_norm_fast if self.fast and not use_reference() else instance_norm
        momentum = self.momentum if self.momentum is not None else 0.0
        y = norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            use_input_stats,
            momentum,
            self.eps,
        )
        return y.squeeze(0) if unbatched else y

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}, fast={self.fast}"
        )


@register(
    "norm.instancenorm1d",
    paper="Ulyanov, Vedaldi & Lempitsky 2016, arXiv:1607.08022",
    reference="torch.nn.InstanceNorm1d (outputs, gradients, running statistics), float64",
    example=lambda: Example(InstanceNorm1d(4, affine=True), (torch.randn(3, 4, 7),), (3, 4, 7)),
)
class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of (B, C, L) or (C, L); drop-in for ``torch.nn.InstanceNorm1d``.

    Args:
        num_features: channels :math:`C`.
        eps: :math:`\\epsilon` added to the variance.
        momentum: :math:`\\rho` of Eq. (3); None: the running statistics never move.
        affine: learn :math:`\\gamma, \\beta` (2C parameters).
        track_running_stats: keep running statistics and use them in eval mode.
        device: where parameters and buffers live.
        dtype: their dtype.
        bias: learn :math:`\\beta` (with ``affine``; False: C parameters).
        fast: use :func:`instance_norm_fast` instead of the reference.

    Shape:
        (B, C, L) or (C, L) -> same shape.
    """

    _batched_dim = 3


@register(
    "norm.instancenorm2d",
    paper="Ulyanov, Vedaldi & Lempitsky 2016, arXiv:1607.08022",
    reference="torch.nn.InstanceNorm2d (outputs, gradients, running statistics), float64",
    example=lambda: Example(
        InstanceNorm2d(3, affine=True), (torch.randn(2, 3, 5, 5),), (2, 3, 5, 5)
    ),
)
class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of (B, C, H, W) or (C, H, W); drop-in for ``torch.nn.InstanceNorm2d``.

    Args: as :class:`InstanceNorm1d`.

    Shape:
        (B, C, H, W) or (C, H, W) -> same shape; statistics over (H, W) per (b, c).
    """

    _batched_dim = 4
