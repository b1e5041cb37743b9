r"""Batch normalization: standardize each channel with the statistics of the mini-batch.

Paper: S. Ioffe & C. Szegedy, "Batch Normalization: Accelerating Deep Network
Training by Reducing Internal Covariate Shift", ICML 2015, arXiv:1502.03167.

For an input :math:`x \in \mathbb{R}^{B \times C \times F}` (batch, channels,
features: :math:`F = 1` for ``(B, C)``, :math:`F = L` for ``(B, C, L)``,
:math:`F = HW` for ``(B, C, H, W)``), the statistics of channel :math:`c` are
taken over the batch **and** the features (Algorithm 1 of the paper):

.. math::

    \mu_c = \frac{1}{BF} \sum_{b=1}^{B} \sum_{f=1}^{F} x_{bcf}, \qquad
    \sigma^2_c = \frac{1}{BF} \sum_{b,f} (x_{bcf} - \mu_c)^2          \qquad (1)

    \hat{x}_{bcf} = \frac{x_{bcf} - \mu_c}{\sqrt{\sigma^2_c + \epsilon}}  \qquad (2)

    y_{bcf} = \gamma_c \hat{x}_{bcf} + \beta_c                        \qquad (3)

so there are :math:`2C` parameters :math:`(\gamma, \beta)`. In training the
running statistics follow an exponential moving average with the **unbiased**
variance (Algorithm 2 uses :math:`\frac{m}{m-1}\mathrm{Var}`, :math:`m = BF`):

.. math::

    \hat{\mu} \leftarrow (1 - \rho)\,\hat{\mu} + \rho\,\mu, \qquad
    \hat{\sigma}^2 \leftarrow (1 - \rho)\,\hat{\sigma}^2 + \rho\,\tfrac{BF}{BF - 1}\sigma^2
                                                                      \qquad (4)

and evaluation uses :math:`(\hat\mu, \hat\sigma^2)` in place of Eq. (1).

Deviations from the paper, all as in ``torch.nn.BatchNorm*d`` (this is a
drop-in replacement: same constructor arguments, same ``state_dict`` keys
``weight, bias, running_mean, running_var, num_batches_tracked``):
``momentum`` is :math:`\rho` (the weight of the *new* batch; ``None`` gives the
cumulative average :math:`\rho = 1/t` after :math:`t` batches), and the paper's
population statistics (Alg. 2) are replaced by the moving average (4).

Paths: :func:`batch_norm` is the reference (Eqs. 1-4 written out);
:func:`batch_norm_fast` has the same signature and calls the fused
``F.batch_norm`` kernel (one pass, running statistics updated inside). The
reference's forward + backward is about 4.5x slower than ``torch.nn.BatchNorm*d`` on CPU
and the fast path on par (``benchmarks/results/norm.md``); modules use the
reference unless built with ``fast=True``.

Tests check outputs, input and parameter gradients, running statistics after
several training steps and eval mode against ``torch.nn.BatchNorm1d/2d`` in
float64, ``state_dict`` round trips, and fast == reference.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.norm.checks import check_eps, check_momentum, check_positive_int
from replearn.reference import use_reference
from replearn.registry import Example, register

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "batch_moments",
    "batch_norm",
    "batch_norm_fast",
    "running_average",
    "scale_shift",
    "standardize",
]


def _channel_view(t: Tensor, x: Tensor) -> Tensor:
    """Reshape a per-channel vector (C,) to broadcast against ``x`` of shape (B, C, *)."""
    return t.view(1, -1, *([1] * (x.dim() - 2)))


def batch_moments(x: Tensor) -> tuple[Tensor, Tensor]:
    r"""Eq. (1): per-channel mean and **biased** variance over the batch and feature axes.

    Shape:
        x: (B, C, *) -> mean, var: (C,), reduced over every axis but 1 (B and F).
    """
    dims = [d for d in range(x.dim()) if d != 1]
    mean = x.mean(dim=dims)  # (C,)
    var = (x - _channel_view(mean, x)).square().mean(dim=dims)  # (C,)
    return mean, var


def standardize(x: Tensor, mean: Tensor, var: Tensor, eps: float) -> Tensor:
    r"""Eq. (2): :math:`\hat{x} = (x - \mu) / \sqrt{\sigma^2 + \epsilon}`, per channel.

    Shape:
        x: (B, C, *); mean, var: (C,) -> (B, C, *).
    """
    return (x - _channel_view(mean, x)) / torch.sqrt(_channel_view(var, x) + eps)


def scale_shift(x_hat: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    r"""Eq. (3): :math:`y = \gamma \hat{x} + \beta`, per channel (either may be None).

    Shape:
        x_hat: (B, C, *); weight, bias: (C,) -> (B, C, *).
    """
    if weight is not None:
        x_hat = x_hat * _channel_view(weight, x_hat)
    if bias is not None:
        x_hat = x_hat + _channel_view(bias, x_hat)
    return x_hat


def running_average(running: Tensor, batch: Tensor, momentum: float) -> Tensor:
    r"""Eq. (4): the exponential moving average :math:`(1 - \rho)\,r + \rho\,s`.

    Shape:
        running, batch: (C,) -> (C,).
    """
    return (1.0 - momentum) * running + momentum * batch


def batch_norm(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Reference path, Eqs. (1)-(4), with the signature of ``F.batch_norm``.

    In training (or without running statistics) the batch moments normalize and,
    if running buffers are given, these are updated **in place** by Eq. (4), as
    ``F.batch_norm`` does. Otherwise the running statistics normalize.

    Shape:
        x: (B, C, *); running_mean, running_var, weight, bias: (C,) -> (B, C, *).
    """
    if training:
        mean, var = batch_moments(x)  # (C,), (C,)
        if running_mean is not None and running_var is not None:
            n = x.numel() // x.shape[1]  # B * F values per channel
            with torch.no_grad():
                running_mean.copy_(running_average(running_mean, mean, momentum))
                running_var.copy_(running_average(running_var, var * n / (n - 1), momentum))
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm in eval mode needs running_mean and running_var")
        mean, var = running_mean, running_var
    return scale_shift(standardize(x, mean, var, eps), weight, bias)


def batch_norm_fast(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Fast path: the fused ``F.batch_norm`` kernel; same result as :func:`batch_norm`.

    Shape:
        x: (B, C, *); running_mean, running_var, weight, bias: (C,) -> (B, C, *).
    """
    return F.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)


class _BatchNorm(nn.Module):
    """Shared body of :class:`BatchNorm1d` and :class:`BatchNorm2d` (see the module docstring)."""

    _input_dims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        bias: bool = True,
        *,
        fast: bool = False,
    ) -> None:
        super().__init__()
        check_positive_int("num_features", num_features)
        check_eps(eps, positive=True)
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

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batch seen."""
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1.0)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """Running statistics reset, :math:`\\gamma = 1`, :math:`\\beta = 0`."""
        self.reset_running_stats()
        if self.weight is not None:
            nn.init.ones_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        """Eqs. (1)-(3) in training (and Eq. 4 on the buffers), running statistics in eval."""
        if x.dim() not in self._input_dims:
            dims = " or ".join(f"{d}D" for d in self._input_dims)
            raise ValueError(f"expected {dims} input, got shape {tuple(x.shape)}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"expected {self.num_features} channels, got shape {tuple(x.shape)}")
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked)
        use_batch = self.training or not self.track_running_stats
        if use_batch and x.numel() // x.shape[1] < 2:
            raise ValueError(
                f"expected more than 1 value per channel in training, got shape {tuple(x.shape)}"
            )
        norm = batch_norm_fast if self.fast and not use_reference() else batch_norm
        return norm(
            x,
            self.running_mean,  # None without running statistics
            self.running_var,
            self.weight,
            self.bias,
            use_batch,
            momentum,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}, fast={self.fast}"
        )


@register(
    "norm.batchnorm1d",
    paper="Ioffe & Szegedy 2015, arXiv:1502.03167",
    reference="torch.nn.BatchNorm1d (outputs, gradients, running statistics), float64",
    example=lambda: Example(BatchNorm1d(6), (torch.randn(8, 6),), (8, 6)),
)
class BatchNorm1d(_BatchNorm):
    """Batch normalization of (B, C) or (B, C, L) inputs; drop-in for ``torch.nn.BatchNorm1d``.

    Args:
        num_features: channels :math:`C`.
        eps: :math:`\\epsilon` added to the variance.
        momentum: :math:`\\rho` of Eq. (4); None: cumulative average.
        affine: learn :math:`\\gamma, \\beta` (2C parameters).
        track_running_stats: keep running statistics and use them in eval mode.
        device: where parameters and buffers live.
        dtype: their dtype.
        bias: learn :math:`\\beta` (with ``affine``; False: C parameters).
        fast: use :func:`batch_norm_fast` (the fused kernel) instead of the reference.

    Shape:
        (B, C) or (B, C, L) -> same shape.
    """

    _input_dims = (2, 3)


@register(
    "norm.batchnorm2d",
    paper="Ioffe & Szegedy 2015, arXiv:1502.03167",
    reference="torch.nn.BatchNorm2d (outputs, gradients, running statistics), float64",
    example=lambda: Example(BatchNorm2d(3), (torch.randn(4, 3, 5, 5),), (4, 3, 5, 5)),
)
class BatchNorm2d(_BatchNorm):
    """Batch normalization of (B, C, H, W) images; drop-in for ``torch.nn.BatchNorm2d``.

    Args: as :class:`BatchNorm1d`.

    Shape:
        (B, C, H, W) -> (B, C, H, W); statistics over (B, H, W) per channel.
    """

    _input_dims = (4,)
