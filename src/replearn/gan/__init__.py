"""Generative adversarial networks: objectives, stabilizers and architectures.

- :mod:`~replearn.gan.losses`: minimax / non-saturating / Wasserstein / hinge /
  least-squares losses, the optimal discriminator, JS and the exact 1-D W₁.
"""

from replearn.gan.losses import (
    LOSSES,
    d_loss,
    g_loss,
    js_divergence,
    optimal_discriminator,
    wasserstein_1d,
)

__all__ = ["LOSSES", "d_loss", "g_loss", "js_divergence", "optimal_discriminator", "wasserstein_1d"]
