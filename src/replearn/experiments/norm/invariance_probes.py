"""Models and probes of ``norm-invariances`` (the experiment is ``norm_invariances.py``).

- :func:`wine_split`: scikit-learn's wine data, a seeded 70/30 split (claim 1);
- :class:`PixelRNN`: a tanh RNN over a digit's 64 pixels, optionally layer-normalized;
- :func:`make_cnn`, :func:`contrast_change`: the InstanceNorm / BatchNorm CNNs and the
  per-image contrast and brightness change;
- :func:`layer_norms`, :func:`max_jacobian_norm`: the Lipschitz bound and its measurement.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from replearn.norm import BatchNorm2d, InstanceNorm2d, LayerNorm

__all__ = [
    "PixelRNN",
    "contrast_change",
    "layer_norms",
    "make_cnn",
    "max_jacobian_norm",
    "wine_split",
]


def wine_split(seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Wine (178 x 13, 3 classes), 70% train / 30% test by ``seed``, float64."""
    from sklearn.datasets import load_wine

    data = load_wine()
    x = torch.tensor(data.data, dtype=torch.float64)
    y = torch.tensor(data.target, dtype=torch.int64)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    cut = int(0.7 * len(y))
    return x[perm[:cut]], y[perm[:cut]], x[perm[cut:]], y[perm[cut:]]


class PixelRNN(nn.Module):
    """A tanh RNN over the 64 pixels of a digit, optionally layer-normalized (Ba et al.)."""

    def __init__(self, hidden: int, *, layer_norm: bool) -> None:
        super().__init__()
        self.inp, self.rec = nn.Linear(1, hidden), nn.Linear(hidden, hidden, bias=False)
        self.norm = LayerNorm(hidden) if layer_norm else nn.Identity()
        self.head = nn.Linear(hidden, 10)

    def forward(self, x: Tensor) -> Tensor:  # x: (B, 64)
        u = self.inp(x.unsqueeze(-1))  # (B, 64, H)
        h = torch.zeros(x.shape[0], self.rec.in_features, dtype=x.dtype, device=x.device)
        for t in range(x.shape[1]):
            h = torch.tanh(self.norm(u[:, t] + self.rec(h)))  # (B, H)
        return self.head(h)


def make_cnn(norm: str, channels: tuple[int, int]) -> nn.Sequential:
    """conv3x3 (valid) -> norm -> ReLU, twice, global average pooling, linear; (B,1,8,8)."""
    c1, c2 = channels

    def norm_layer(c: int) -> nn.Module:
        return InstanceNorm2d(c, affine=True) if norm == "instance" else BatchNorm2d(c)

    return nn.Sequential(
        nn.Conv2d(1, c1, 3), norm_layer(c1), nn.ReLU(),
        nn.Conv2d(c1, c2, 3), norm_layer(c2), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c2, 10),
    )  # fmt: skip


def contrast_change(x: Tensor, low: float, high: float, brightness: float, seed: int) -> Tensor:
    """:math:`a x + b` per image, :math:`\\log a \\sim U(\\log low, \\log high)`,
    :math:`b \\sim U(-brightness, brightness)`.

    Shape:
        (B, ...) -> (B, ...)
    """
    gen = torch.Generator().manual_seed(seed)
    shape = (len(x),) + (1,) * (x.dim() - 1)
    log_a = torch.empty(shape).uniform_(math.log(low), math.log(high), generator=gen)
    b = torch.empty(shape).uniform_(-brightness, brightness, generator=gen)
    return log_a.exp() * x + b


def layer_norms(model: nn.Module) -> list[float]:
    """Exact spectral norms of the weights every ``nn.Linear`` of ``model`` uses (eval mode)."""
    return [float(torch.linalg.matrix_norm(mod.weight.detach(), 2))
            for mod in model.modules() if isinstance(mod, nn.Linear)]  # fmt: skip


def max_jacobian_norm(model: nn.Module, x: Tensor) -> float:
    """:math:`\\max_i \\|\\partial f(x_i)/\\partial x_i\\|_2` (exact Jacobians, ``torch.func``)."""

    def f(v: Tensor) -> Tensor:
        return model(v.unsqueeze(0)).squeeze(0)

    jac = torch.func.vmap(torch.func.jacrev(f))(x)  # (N, out, in)
    return float(torch.linalg.matrix_norm(jac.detach(), 2).max())
