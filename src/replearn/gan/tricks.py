r"""GAN stabilizers: unrolling, minibatch discrimination, packing, clipping, GP, spectral norm.

Papers: L. Metz, B. Poole, D. Pfau & J. Sohl-Dickstein, "Unrolled Generative
Adversarial Networks", ICLR 2017, arXiv:1611.02163 (Eq. 5-7); T. Salimans et al.,
"Improved Techniques for Training GANs", NeurIPS 2016, arXiv:1606.03498 (Sec. 3.2);
Z. Lin, A. Khetan, G. Fanti & S. Oh, "PacGAN", NeurIPS 2018, arXiv:1712.04086;
M. Arjovsky, S. Chintala & L. Bottou, "Wasserstein GAN", ICML 2017, arXiv:1701.07875
(Algorithm 1); I. Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS
2017, arXiv:1704.00028 (Eq. 3); T. Miyato et al., "Spectral Normalization for GANs",
ICLR 2018, arXiv:1802.05957.

.. math::

    \theta_D^{k+1} = \theta_D^k + \eta\,\frac{\partial V(\theta_G, \theta_D^k)}
                                              {\partial \theta_D^k}, \qquad
    L_G^{unrolled}(\theta_G) = L_G(\theta_G, \theta_D^K(\theta_G, \theta_D))      \qquad (1)

    M_i = x_i T \in \mathbb{R}^{B \times C}, \quad
    o(x_i)_b = \sum_{j} \exp(-\|M_{i,b} - M_{j,b}\|_{L_1}), \quad
    \text{output } [x_i, o(x_i)]                                                  \qquad (2)

    \mathrm{pack}_m(x_1, \dots, x_B) = \bigl([x_1; \dots; x_m], \dots\bigr)        \qquad (3)

    w \leftarrow \operatorname{clip}(w, -c, c) \text{ after each critic step}      \qquad (4)

    \hat x = \epsilon x + (1 - \epsilon)\tilde x,\ \epsilon \sim U[0, 1], \quad
    \lambda\,\mathbb{E}\bigl(\|\nabla_{\hat x} f(\hat x)\|_2 - 1\bigr)^2           \qquad (5)

    W_{SN} = W / \sigma(W) \text{ in every critic layer}                          \qquad (6)

Eq. (1): the generator's gradient flows through K look-ahead steps of the
discriminator (``torch.func.functional_call`` on differentiable parameter copies,
``create_graph=True``); the real discriminator then takes its ordinary step.
Deviation: the look-ahead uses plain gradient steps (the paper unrolls Adam).
Eq. (2): the sum over :math:`j` includes :math:`j = i` (a constant 1), as in the
paper. Eq. (3) concatenates m samples along the feature/channel axis; the
discriminator sees B/m packed inputs. For a convolution the spectral norm of the
reshaped kernel (what Eq. 6 normalizes) is not the operator norm of the layer:
:func:`operator_norm` measures the latter by power iteration on :math:`J^\top J`.

Tests: unrolled gradients against central finite differences in float64 and K=0
against the plain loss; minibatch discrimination against explicit loops; packing
against concatenation; the gradient penalty of a linear critic
:math:`f(x) = w^\top x` equal to :math:`\lambda(\|w\| - 1)^2`; clipping bounds;
after spectral normalization every linear layer's :math:`\sigma(W)` by SVD is 1.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call

from replearn.norm import spectral_norm
from replearn.registry import Example, register

__all__ = [
    "MinibatchDiscrimination",
    "apply_spectral_norm",
    "clip_weights_",
    "gradient_penalty",
    "interpolate",
    "layer_sigmas",
    "operator_norm",
    "pack",
    "unrolled_parameters",
]


def unrolled_parameters(
    discriminator: nn.Module,
    d_loss_fn: Callable[[dict[str, Tensor]], Tensor],
    *,
    steps: int,
    lr: float,
) -> dict[str, Tensor]:
    r"""Eq. (1): the discriminator's parameters after ``steps`` differentiable descent steps.

    ``d_loss_fn(params)`` computes the discriminator loss (e.g. with
    ``torch.func.functional_call(discriminator, params, x)``) on a batch whose fake
    half still depends on the generator, so the returned parameters are functions of
    the generator's parameters and a generator loss evaluated with them
    back-propagates through the look-ahead.

    Shape:
        returns {name: tensor of that parameter's shape}.
    """
    if steps < 0 or lr <= 0:
        raise ValueError(f"need steps >= 0 and lr > 0, got {steps}, {lr}")
    params = {n: p for n, p in discriminator.named_parameters()}
    for _ in range(steps):
        loss = d_loss_fn(params)
        names = list(params)
        grads = torch.autograd.grad(loss, [params[n] for n in names], create_graph=True)
        params = {n: params[n] - lr * g for n, g in zip(names, grads, strict=True)}
    return params


def call_with(module: nn.Module, params: dict[str, Tensor], *args: Tensor) -> Tensor:
    """``module(*args)`` with ``params`` in place of its parameters (``torch.func``)."""
    return functional_call(module, params, args)


def _mbd_example() -> Example:
    return Example(MinibatchDiscrimination(6, 4, 3), (torch.randn(5, 6),), (5, 10))


@register(
    "gan.minibatch_discrimination",
    paper="Salimans et al. 2016, arXiv:1606.03498 (Sec. 3.2)",
    reference="explicit loops over samples and kernels",
    example=_mbd_example,
)
class MinibatchDiscrimination(nn.Module):
    """Eq. (2): append, per kernel b, how close each sample is to the rest of the batch.

    Shape:
        x: (N, in_features) -> (N, in_features + out_features).
    """

    def __init__(self, in_features: int, out_features: int, kernel_dim: int) -> None:
        super().__init__()
        if min(in_features, out_features, kernel_dim) < 1:
            raise ValueError("in_features, out_features and kernel_dim must be >= 1")
        self.in_features, self.out_features, self.kernel_dim = in_features, out_features, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, out_features * kernel_dim) * 0.1)

    def forward(self, x: Tensor) -> Tensor:
        m = (x @ self.T).view(-1, self.out_features, self.kernel_dim)  # (N, B, C)
        l1 = (m[:, None] - m[None]).abs().sum(-1)  # (N, N, B)
        o = torch.exp(-l1).sum(1)  # (N, B), includes j = i
        return torch.cat([x, o], dim=1)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, kernel_dim={self.kernel_dim}"


@register(
    "gan.pack",
    paper="Lin et al. 2018, arXiv:1712.04086",
    reference="torch.cat of consecutive samples",
)
def pack(x: Tensor, m: int) -> Tensor:
    """Eq. (3): concatenate each group of ``m`` consecutive samples along axis 1.

    Shape:
        x: (B, C, ...) with B divisible by m -> (B / m, m C, ...).
    """
    if m < 1 or x.shape[0] % m:
        raise ValueError(f"batch {x.shape[0]} is not divisible by the packing degree {m}")
    b = x.shape[0] // m
    rest = x.shape[1:]
    return x.reshape(b, m, *rest).reshape(b, m * rest[0], *rest[1:])


@torch.no_grad()
def clip_weights_(module: nn.Module, c: float) -> None:
    """Eq. (4): clamp every parameter of ``module`` to ``[-c, c]`` in place (WGAN)."""
    if c <= 0:
        raise ValueError(f"clip value must be > 0, got {c}")
    for p in module.parameters():
        p.clamp_(-c, c)


def interpolate(real: Tensor, fake: Tensor, eps: Tensor) -> Tensor:
    r"""Eq. (5): :math:`\hat x = \epsilon x + (1 - \epsilon)\tilde x` (one ε per sample).

    Shape:
        real, fake: (B, ...), eps: (B,) -> (B, ...).
    """
    e = eps.view(-1, *([1] * (real.dim() - 1)))
    return e * real + (1 - e) * fake


@register(
    "gan.gradient_penalty",
    paper="Gulrajani et al. 2017, arXiv:1704.00028 (Eq. 3)",
    reference="closed form for a linear critic: lambda (|w| - 1)^2",
)
def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    weight: float = 10.0,
    eps: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Eq. (5): :math:`\lambda\,\mathbb{E}(\|\nabla f(\hat x)\|_2 - 1)^2`, differentiable.

    Shape:
        real, fake: (B, ...), eps: (B,) (default U[0, 1]) -> scalar.
    """
    if eps is None:
        eps = torch.rand(real.shape[0], generator=generator, dtype=real.dtype).to(real.device)
    x_hat = interpolate(real.detach(), fake.detach(), eps).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    norms = grad.flatten(1).norm(dim=1)  # (B,)
    return weight * (norms - 1.0).square().mean()


_NORMALIZED = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.Conv1d, nn.Embedding)


def apply_spectral_norm(module: nn.Module, *, n_power_iterations: int = 1) -> nn.Module:
    """Eq. (6): :func:`replearn.norm.spectral_norm` on every Linear/Conv/Embedding weight."""
    for sub in list(module.modules()):
        if isinstance(sub, _NORMALIZED) and not hasattr(sub, "parametrizations"):
            spectral_norm(sub, n_power_iterations=n_power_iterations)
    return module


@torch.no_grad()
def layer_sigmas(module: nn.Module) -> dict[str, float]:
    """The largest singular value (SVD) of each Linear/Conv weight as used in the forward.

    For a convolution this is the reshaped (out, in k k) kernel's norm, what Eq. (6)
    normalizes. Shape: returns {layer name: sigma}.
    """
    out = {}
    for name, sub in module.named_modules():
        if isinstance(sub, _NORMALIZED) and not isinstance(sub, nn.Embedding):
            w = sub.weight
            w = w.movedim(1, 0) if isinstance(sub, nn.ConvTranspose2d) else w
            out[name] = float(torch.linalg.matrix_norm(w.flatten(1).double(), ord=2))
    return out


def operator_norm(
    fn: Callable[[Tensor], Tensor], input_shape: tuple[int, ...], *, iters: int = 50, seed: int = 0
) -> float:
    r"""Largest singular value of the Jacobian of a linear map ``fn`` (its Lipschitz constant).

    Power iteration on :math:`J^\top J` with vector-Jacobian products; for a
    convolution without bias this is the exact operator norm on inputs of
    ``input_shape``.

    Shape:
        input_shape: (1, C, H, W) or (1, D) -> float.
    """
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(input_shape, generator=g, dtype=torch.float64)
    v = v / v.norm()
    sigma = 0.0
    for _ in range(iters):
        x = v.clone().requires_grad_(True)
        y = fn(x)
        (jtjv,) = torch.autograd.grad(y, x, grad_outputs=y)  # J^T J v for a linear fn
        sigma = float(jtjv.norm()) ** 0.5
        v = (jtjv / jtjv.norm()).detach()
    return sigma
