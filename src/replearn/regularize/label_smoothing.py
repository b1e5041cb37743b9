r"""Label smoothing, soft-target cross-entropy, calibration error and class-cluster tightness.

Papers: C. Szegedy, V. Vanhoucke, S. Ioffe, J. Shlens & Z. Wojna, "Rethinking the
Inception Architecture for Computer Vision", CVPR 2016, arXiv:1512.00567, §7
(label-smoothing regularization); R. Müller, S. Kornblith & G. Hinton, "When Does
Label Smoothing Help?", NeurIPS 2019, arXiv:1906.02629 (calibration, tighter
clusters); C. Guo, G. Pleiss, Y. Sun & K. Weinberger, "On Calibration of Modern
Neural Networks", ICML 2017, arXiv:1706.04599 (expected calibration error).

With :math:`K` classes, label :math:`y` and smoothing :math:`\varepsilon`, the target
mixes the one-hot label with the uniform distribution :math:`u(k) = 1/K`:

.. math::

    q'(k) = (1 - \varepsilon)\, \delta_{k,y} + \varepsilon / K              \qquad (1)

    H(q', p) = -\sum_{k=1}^K q'(k) \log p(k), \quad p = \mathrm{softmax}(z)  \qquad (2)

The expected calibration error bins the :math:`n` predictions by confidence
:math:`\hat p_i = \max_k p_i(k)` into :math:`M` equal-width bins :math:`B_m =
((m-1)/M, m/M]` (Guo et al., Eq. 3):

.. math::

    \mathrm{ECE} = \sum_{m=1}^M \frac{|B_m|}{n}\,
                   \bigl|\mathrm{acc}(B_m) - \mathrm{conf}(B_m)\bigr|          \qquad (3)

Class-cluster tightness (the quantity behind Müller et al.'s projections) is
measured by Fisher's ratio of within-class to between-class scatter of the
penultimate features :math:`h_i` (class means :math:`\mu_c`, overall mean :math:`\mu`):

.. math::

    \rho = \frac{\sum_i \lVert h_i - \mu_{y_i} \rVert^2}
                {\sum_i \lVert \mu_{y_i} - \mu \rVert^2}                    \qquad (4)

Smaller :math:`\rho` means tighter, better separated clusters.

Tests: Eq. (2) with Eq. (1) against ``F.cross_entropy(label_smoothing=ε)`` in
float64 (rtol 1e-12); ECE against a loop over bins and two closed-form cases;
Eq. (4) on points whose scatter is known.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.registry import Example, register

__all__ = [
    "LabelSmoothingCrossEntropy",
    "calibration_bins",
    "class_scatter_ratio",
    "expected_calibration_error",
    "label_smoothing_cross_entropy",
    "smooth_labels",
    "soft_cross_entropy",
]


def smooth_labels(
    targets: Tensor, num_classes: int, smoothing: float, *, dtype: torch.dtype = torch.float32
) -> Tensor:
    r"""Eq. (1): :math:`q'(k) = (1 - \varepsilon)\delta_{k,y} + \varepsilon / K`.

    Args:
        targets: integer labels in ``[0, num_classes)``.
        num_classes: :math:`K`.
        smoothing: :math:`\varepsilon \in [0, 1]`.
        dtype: floating type of the result.

    Shape:
        targets: (B,) int64 -> (B, K), rows summing to 1.
    """
    if not 0.0 <= smoothing <= 1.0:
        raise ValueError(f"smoothing must be in [0, 1], got {smoothing}")
    one_hot = F.one_hot(targets, num_classes).to(dtype)  # (B, K)
    return (1.0 - smoothing) * one_hot + smoothing / num_classes


def soft_cross_entropy(logits: Tensor, target_probs: Tensor) -> Tensor:
    r"""Eq. (2), batch mean: :math:`-\frac1B\sum_i \sum_k q_i(k) \log \mathrm{softmax}(z_i)_k`.

    The loss of every soft-label method (label smoothing, MixUp, CutMix).

    Shape:
        logits: (B, K), target_probs: (B, K) -> scalar ().
    """
    if logits.shape != target_probs.shape:
        raise ValueError(f"logits {tuple(logits.shape)} vs targets {tuple(target_probs.shape)}")
    log_p = F.log_softmax(logits, dim=-1)  # (B, K)
    return -(target_probs.to(log_p.dtype) * log_p).sum(dim=-1).mean()


def label_smoothing_cross_entropy(logits: Tensor, targets: Tensor, smoothing: float) -> Tensor:
    r"""Eqs. (1)-(2): cross-entropy against the smoothed labels, averaged over the batch.

    Shape:
        logits: (B, K), targets: (B,) int64 -> scalar ().
    """
    q = smooth_labels(targets, logits.shape[-1], smoothing, dtype=logits.dtype)  # (B, K)
    return soft_cross_entropy(logits, q)


def calibration_bins(
    probs: Tensor, labels: Tensor, n_bins: int = 15
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Per-bin accuracy, mean confidence and count for bins :math:`((m-1)/M, m/M]` (Eq. 3).

    Empty bins have accuracy and confidence 0 (and count 0).

    Shape:
        probs: (N, K), labels: (N,) -> three (M,) tensors (accuracy, confidence, count).
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    conf, pred = probs.max(dim=-1)  # (N,), (N,)
    correct = (pred == labels).to(probs.dtype)  # (N,)
    # bin m (0-based) holds m/M < conf <= (m+1)/M; conf = 0 cannot occur for a distribution
    index = (torch.ceil(conf * n_bins).long() - 1).clamp(0, n_bins - 1)  # (N,)
    count = torch.zeros(n_bins, dtype=probs.dtype, device=probs.device)
    count.index_add_(0, index, torch.ones_like(conf))
    acc_sum = torch.zeros_like(count).index_add_(0, index, correct)
    conf_sum = torch.zeros_like(count).index_add_(0, index, conf)
    safe = count.clamp(min=1)
    return acc_sum / safe, conf_sum / safe, count


def expected_calibration_error(probs: Tensor, labels: Tensor, n_bins: int = 15) -> float:
    r"""Eq. (3): :math:`\sum_m \frac{|B_m|}{n} |\mathrm{acc}(B_m) - \mathrm{conf}(B_m)|`.

    Args:
        probs: predicted class probabilities (rows sum to 1).
        labels: true labels.
        n_bins: :math:`M` equal-width confidence bins (Guo et al. use 15).

    Shape:
        probs: (N, K), labels: (N,) -> a Python float in [0, 1].
    """
    acc, conf, count = calibration_bins(probs, labels, n_bins)
    return float((count / count.sum() * (acc - conf).abs()).sum())


def class_scatter_ratio(features: Tensor, labels: Tensor) -> float:
    r"""Eq. (4): within-class over between-class scatter of features (smaller: tighter clusters).

    Shape:
        features: (N, D), labels: (N,) -> a Python float.
    """
    features = features.double()
    classes, inverse = torch.unique(labels, return_inverse=True)
    sums = features.new_zeros(len(classes), features.shape[1])
    sums.index_add_(0, inverse, features)
    counts = torch.bincount(inverse, minlength=len(classes)).to(features.dtype)  # (C,)
    means = sums / counts[:, None]  # (C, D) class means mu_c
    within = (features - means[inverse]).square().sum()
    between = (means[inverse] - features.mean(dim=0)).square().sum()
    return float(within / between)


def _example() -> Example:
    return Example(
        LabelSmoothingCrossEntropy(0.1),
        (torch.randn(6, 5, requires_grad=True), torch.randint(0, 5, (6,))),
        (),
    )


@register(
    "regularize.label_smoothing",
    paper="Szegedy et al. 2016, arXiv:1512.00567 §7; Müller, Kornblith & Hinton 2019, "
    "arXiv:1906.02629",
    reference="F.cross_entropy(label_smoothing=) in float64; ECE vs a loop over bins",
    example=_example,
)
class LabelSmoothingCrossEntropy(nn.Module):
    """Cross-entropy against smoothed labels (Eqs. 1-2), averaged over the batch.

    Args:
        smoothing: :math:`\\varepsilon` in [0, 1].

    Shape:
        logits (B, K), targets (B,) -> scalar ().
    """

    def __init__(self, smoothing: float = 0.1) -> None:
        super().__init__()
        if not 0.0 <= smoothing <= 1.0:
            raise ValueError(f"smoothing must be in [0, 1], got {smoothing}")
        self.smoothing = smoothing

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        return label_smoothing_cross_entropy(logits, targets, self.smoothing)

    def extra_repr(self) -> str:
        return f"smoothing={self.smoothing}"
