"""Generative adversarial networks: objectives, stabilizers and architectures.

- :mod:`~replearn.gan.losses`: minimax / non-saturating / Wasserstein / hinge /
  least-squares losses, the optimal discriminator, JS and the exact 1-D W₁.
- :mod:`~replearn.gan.tricks`: unrolled look-ahead, minibatch discrimination, PacGAN
  packing, weight clipping, gradient penalty, spectral norm on every layer.
- Architectures: :mod:`~replearn.gan.dcgan` (DCGAN; WGAN / WGAN-GP / SN critics),
  :mod:`~replearn.gan.sagan`, :mod:`~replearn.gan.biggan`, :mod:`~replearn.gan.stylegan`,
  :mod:`~replearn.gan.cyclegan`, :mod:`~replearn.gan.spade`.

The generative metrics (FID, KID, IS, Mode Score, precision/recall) live in
:mod:`replearn.metrics`.
"""

from replearn.gan.biggan import (
    BigGANDiscriminator,
    BigGANGenerator,
    ConditionalBatchNorm2d,
    orthogonal_regularization,
    truncated_noise,
)
from replearn.gan.cyclegan import (
    CycleGAN,
    ImagePool,
    PatchDiscriminator,
    ResnetGenerator,
    cycle_consistency_loss,
    identity_loss,
)
from replearn.gan.dcgan import DCGANDiscriminator, DCGANGenerator
from replearn.gan.losses import (
    LOSSES,
    d_loss,
    g_loss,
    js_divergence,
    optimal_discriminator,
    wasserstein_1d,
)
from replearn.gan.sagan import SAGANDiscriminator, SAGANGenerator, SelfAttention2d
from replearn.gan.spade import SPADE, SPADEGenerator, SPADEResBlock
from replearn.gan.stylegan import StyleGenerator
from replearn.gan.tricks import (
    MinibatchDiscrimination,
    apply_spectral_norm,
    clip_weights_,
    gradient_penalty,
    pack,
    unrolled_parameters,
)

__all__ = [
    "LOSSES",
    "SPADE",
    "BigGANDiscriminator",
    "BigGANGenerator",
    "ConditionalBatchNorm2d",
    "CycleGAN",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "ImagePool",
    "MinibatchDiscrimination",
    "PatchDiscriminator",
    "ResnetGenerator",
    "SAGANDiscriminator",
    "SAGANGenerator",
    "SPADEGenerator",
    "SPADEResBlock",
    "SelfAttention2d",
    "StyleGenerator",
    "apply_spectral_norm",
    "clip_weights_",
    "cycle_consistency_loss",
    "d_loss",
    "g_loss",
    "gradient_penalty",
    "identity_loss",
    "js_divergence",
    "optimal_discriminator",
    "orthogonal_regularization",
    "pack",
    "truncated_noise",
    "unrolled_parameters",
    "wasserstein_1d",
]
