r"""MoCo: momentum contrast with a queue of negative keys.

Papers: K. He, H. Fan, Y. Wu, S. Xie & R. Girshick, "Momentum Contrast for Unsupervised Visual
Representation Learning", CVPR 2020, arXiv:1911.05722; X. Chen, H. Fan, R. Girshick & K. He,
"Improved Baselines with Momentum Contrastive Learning" (MoCo v2), arXiv:2003.04297.

A query encoder :math:`f_q` (backbone + MLP head, as in v2) and a key encoder :math:`f_k`
whose weights follow :math:`f_q` by a momentum update (Eq. 2),

.. math:: \theta_k \leftarrow m\,\theta_k + (1 - m)\,\theta_q                          \qquad (2)

(:class:`replearn.engine.EMA`). A query :math:`q = f_q(x^q)` is contrasted with its key
:math:`k_+ = f_k(x^k)` and the K keys of earlier batches held in a queue, by InfoNCE (Eq. 1,
:func:`replearn.ssl.losses.info_nce`); after the loss the batch's keys are enqueued and the
oldest dequeued (Algorithm 1), so the dictionary is larger than a batch and consistent
because the key encoder changes slowly. ``momentum=0`` copies :math:`f_q` into :math:`f_k`
(the "no momentum" ablation of Table 1).

Deviations: no shuffling BN; the queue wraps around for any batch size. Under torchrun the
keys of every rank are gathered before they are enqueued (the authors' ``concat_all_gather``).

Tests: the queue after several batches equals the last K keys in order (exactly); Eq. (2) on
every parameter (float64, exact); the loss equals ``info_nce`` against the queue.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.engine import EMA
from replearn.registry import Example, register
from replearn.ssl.encoders import projection_mlp
from replearn.ssl.losses import info_nce
from replearn.ssl.methods.common import example_encoder, example_views, full, gather_batch

__all__ = ["MoCo"]


def _example() -> Example:
    model = MoCo(example_encoder(), feat_dim=16, proj_dim=8, hidden=16, queue_size=10)
    return Example(model, example_views(), ())


@register(
    "ssl.moco",
    paper="He, Fan, Wu, Xie & Girshick 2020, arXiv:1911.05722; MoCo v2 arXiv:2003.04297",
    reference="queue contents and the momentum update checked exactly; loss = info_nce "
    "(float64 loop oracle) against the queue",
    example=_example,
)
class MoCo(nn.Module):
    """Query encoder, momentum key encoder and a queue of negative keys.

    Args:
        encoder: backbone, (B, ...) -> (B, feat_dim).
        feat_dim: backbone feature size.
        proj_dim: size of the keys and queries.
        hidden: hidden width of the MLP head.
        queue_size: K, negatives kept.
        momentum: m of Eq. (2).
        temperature: tau of InfoNCE.

    Shape:
        x_q, x_k: (B, ...) -> (loss (), q (B, proj_dim)).
    """

    def __init__(
        self,
        encoder: nn.Module,
        *,
        feat_dim: int,
        proj_dim: int = 64,
        hidden: int = 128,
        queue_size: int = 1024,
        momentum: float = 0.99,
        temperature: float = 0.2,
    ) -> None:
        super().__init__()
        if queue_size < 1 or temperature <= 0 or not 0.0 <= momentum <= 1.0:
            raise ValueError("need queue_size >= 1, temperature > 0 and momentum in [0, 1]")
        self.encoder = encoder
        self.query = nn.Sequential(encoder, projection_mlp(feat_dim, hidden, proj_dim))
        self.key = EMA(self.query, decay=momentum)
        self.momentum, self.temperature, self.queue_size = momentum, temperature, queue_size
        queue = F.normalize(torch.randn(queue_size, proj_dim), dim=1)
        self.register_buffer("queue", queue)  # (K, d), row i = one key
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Write ``keys`` (B, d) at the pointer (wrapping around) and advance it."""
        keys = F.normalize(keys, dim=1)[-self.queue_size :]
        idx = (self.queue_ptr + torch.arange(len(keys), device=keys.device)) % self.queue_size
        self.queue[idx] = keys.to(self.queue.dtype)
        self.queue_ptr.copy_((self.queue_ptr + len(keys)) % self.queue_size)

    @torch.no_grad()
    def momentum_update(self, progress: float = 0.0) -> None:
        """Eq. (2) (constant m; ``progress`` is accepted for a uniform interface)."""
        self.key.update(self.query, decay=self.momentum)

    def forward(self, x_q: Tensor, x_k: Tensor) -> tuple[Tensor, Tensor]:
        q = self.query(x_q)  # (B, d)
        with torch.no_grad():
            k = self.key(x_k)  # (B, d)
        loss = info_nce(
            full(q), full(k), self.queue.clone().to(q.dtype), temperature=self.temperature
        )
        if self.training:
            self.enqueue(gather_batch(k))  # every rank's keys: one queue, as in one process
        return loss, q.detach()

    def extra_repr(self) -> str:
        return (
            f"queue_size={self.queue_size}, momentum={self.momentum}, "
            f"temperature={self.temperature}"
        )
