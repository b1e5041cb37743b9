r"""Guidance: classifier-free guidance and classifier guidance with a noise-aware classifier.

Papers: J. Ho & T. Salimans, "Classifier-Free Diffusion Guidance", 2021/2022,
arXiv:2207.12598; P. Dhariwal & A. Nichol, "Diffusion Models Beat GANs on Image
Synthesis", NeurIPS 2021, arXiv:2105.05233 (Sec. 4, classifier guidance).

Classifier-free guidance trains one network both conditionally and unconditionally by
replacing the label with a null token :math:`\varnothing` with probability
:math:`p_{uncond}` (Algorithm 1), and at sampling mixes the two predictions with a
guidance scale :math:`w` (``diffusers``' convention; the paper's :math:`w` is ours minus 1):

.. math::

    \tilde\epsilon_\theta(x_t, c) = \epsilon_\theta(x_t, \varnothing)
      + w\,\big(\epsilon_\theta(x_t, c) - \epsilon_\theta(x_t, \varnothing)\big)   \qquad (6)

:math:`w = 1` is the conditional model, :math:`w = 0` the unconditional one, :math:`w > 1`
sharpens :math:`p(c \mid x_t)^{w-1}` into the samples (fidelity up, diversity down).

Classifier guidance shifts the noise prediction by the gradient of a classifier trained
on noisy inputs :math:`x_t` (Dhariwal & Nichol, Algorithm 2 written for
:math:`\epsilon`, their Eq. 14):

.. math::

    \hat\epsilon(x_t) = \epsilon_\theta(x_t) - s\,\sqrt{1 - \bar\alpha_t}\;
      \nabla_{x_t} \log p_\phi(y \mid x_t, t)                                     \qquad (14)

Deviations: none; :class:`NoisyClassifier` is any classifier taking ``(x_t, t)``, trained
with cross-entropy on :func:`replearn.diffusion.ddpm.q_sample` outputs at random ``t``.

Tests (``tests/diffusion/test_guidance.py``): :func:`drop_labels` drops at the given rate;
:func:`cfg_eps` at w = 0 / 1 gives the two predictions and is linear in w; for Gaussian
class-conditional data with exact scores, :func:`classifier_guided_eps` with s = 1 equals
the exact conditional :math:`\epsilon`; the classifier gradient against finite differences.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.diffusion.schedules import extract
from replearn.registry import register

__all__ = [
    "NoisyClassifier",
    "cfg_eps",
    "classifier_guided_eps",
    "classifier_log_prob_grad",
    "drop_labels",
]


def drop_labels(
    y: Tensor, p_uncond: float, null_label: int, generator: torch.Generator | None = None
) -> Tensor:
    r"""Algorithm 1 of Ho & Salimans: replace each label by :math:`\varnothing` w.p. ``p_uncond``.

    Shape:
        y: (B,) int -> (B,) int.
    """
    if not 0.0 <= p_uncond <= 1.0:
        raise ValueError(f"p_uncond must be in [0, 1], got {p_uncond}")
    drop = torch.rand(y.shape, generator=generator, device=y.device) < p_uncond
    return torch.where(drop, torch.full_like(y, null_label), y)


def cfg_eps(eps_cond: Tensor, eps_uncond: Tensor, w: float) -> Tensor:
    r"""Eq. (6): :math:`\epsilon_\varnothing + w(\epsilon_c - \epsilon_\varnothing)`.

    Shape:
        eps_cond, eps_uncond: (B, *) -> (B, *).
    """
    return eps_uncond + w * (eps_cond - eps_uncond)


def classifier_log_prob_grad(
    classifier: Callable[[Tensor, Tensor], Tensor], x_t: Tensor, t: Tensor, y: Tensor
) -> Tensor:
    r""":math:`\nabla_{x_t} \log p_\phi(y \mid x_t, t)` of a classifier returning logits.

    Shape:
        x_t: (B, *); t, y: (B,) -> (B, *).
    """
    with torch.enable_grad():
        x = x_t.detach().requires_grad_(True)
        log_p = F.log_softmax(classifier(x, t), dim=-1)  # (B, K)
        selected = log_p.gather(1, y[:, None]).sum()
        (grad,) = torch.autograd.grad(selected, x)
    return grad


def classifier_guided_eps(
    eps: Tensor, grad_log_p: Tensor, t: Tensor, alpha_bar: Tensor, scale: float
) -> Tensor:
    r"""Eq. (14): :math:`\epsilon - s\sqrt{1 - \bar\alpha_t}\,\nabla_{x_t}\log p_\phi(y|x_t)`.

    Shape:
        eps, grad_log_p: (B, *); t: (B,) -> (B, *).
    """
    ab = extract(alpha_bar, t, eps.dim()).to(eps.dtype)
    return eps - scale * (1.0 - ab).sqrt() * grad_log_p


def _classifier_example():
    from replearn.registry import Example

    return Example(
        NoisyClassifier(in_features=4, num_classes=3, hidden=16, timesteps=10),
        (torch.randn(5, 4), torch.tensor([0, 1, 2, 3, 9])),
        (5, 3),
    )


@register(
    "diffusion.noisy_classifier",
    paper="Dhariwal & Nichol 2021, NeurIPS, arXiv:2105.05233 (Sec. 4)",
    reference="exact Gaussian posteriors (guided eps == conditional eps), finite differences",
    example=_classifier_example,
)
class NoisyClassifier(nn.Module):
    r"""An MLP classifier :math:`p_\phi(y \mid x_t, t)` of noisy inputs, time as a learned
    embedding added to the first hidden layer (for classifier guidance).

    Args:
        in_features: :math:`D` (inputs are flattened).
        num_classes: :math:`K`.
        hidden: width of the two hidden layers.
        timesteps: :math:`T` (size of the time embedding table).

    Shape:
        x: (B, *) with D entries; t: (B,) int -> logits (B, K).
    """

    def __init__(
        self, *, in_features: int, num_classes: int, hidden: int = 128, timesteps: int
    ) -> None:
        super().__init__()
        for name, v in (
            ("in_features", in_features),
            ("num_classes", num_classes),
            ("hidden", hidden),
            ("timesteps", timesteps),
        ):
            if v < 1:
                raise ValueError(f"{name} must be >= 1, got {v}")
        self.in_features, self.num_classes, self.timesteps = in_features, num_classes, timesteps
        self.inp = nn.Linear(in_features, hidden)
        self.time = nn.Embedding(timesteps, hidden)
        self.mid = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, num_classes)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        h = F.silu(self.inp(x.flatten(1)) + self.time(t.long()))  # (B, H)
        return self.out(F.silu(self.mid(h)))  # (B, K)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, num_classes={self.num_classes}, "
            f"timesteps={self.timesteps}"
        )
