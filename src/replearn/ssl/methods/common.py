r"""Schedules shared by the teacher-student methods, and small builders for the examples.

* BYOL's target decay (Grill et al. 2020, arXiv:2006.07733, Sec. 3.2), also used by DINO:
  with :math:`p = k / K` the fraction of training done,

  .. math:: \tau_p = 1 - (1 - \tau_\text{base})\,\frac{\cos(\pi p) + 1}{2}        \qquad (1)

  so :math:`\tau` rises from :math:`\tau_\text{base}` to 1.
* DINO's teacher temperature (Caron et al. 2021, arXiv:2104.14294, Sec. 4 / App.): a linear
  warm-up from :math:`\tau_0` to :math:`\tau_1` over the first ``warmup`` fraction, then
  constant.                                                                       (2)

* Statistics that span the batch (MoCo's queue of keys, DINO's centre) are taken over the
  *global* batch under data parallelism: :func:`gather_batch` concatenates every rank's rows
  (rank order) before they enter the queue or the centre, as in the authors' code
  (``concat_all_gather`` in MoCo, an all-reduce of the centre's batch sum in DINO), so a run
  on P processes of B examples keeps the same statistics as one process of P*B.

Tests: the end points and the middle of both schedules; under 2 gloo processes the queue and
the centre equal those of one process that sees both ranks' batches (tests/ssl/test_ddp_ssl.py).
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist

from replearn.ssl.encoders import ConvEncoder

__all__ = ["cosine_momentum", "example_encoder", "gather_batch", "teacher_temperature"]


def cosine_momentum(progress: float, base: float) -> float:
    """Eq. (1): the EMA decay after a fraction ``progress`` in [0, 1] of training."""
    p = min(max(progress, 0.0), 1.0)
    return 1.0 - (1.0 - base) * (math.cos(math.pi * p) + 1.0) / 2.0


def teacher_temperature(progress: float, *, start: float, end: float, warmup: float) -> float:
    """Eq. (2): linear from ``start`` to ``end`` over the first ``warmup`` fraction."""
    if warmup <= 0 or progress >= warmup:
        return end
    return start + (end - start) * max(progress, 0.0) / warmup


def example_encoder(features: int = 16) -> ConvEncoder:
    """A tiny signal encoder for the registry examples."""
    return ConvEncoder((1, 24), width=4, features=features)


def example_views(n: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """Two batches of random signal views for the registry examples."""
    return torch.randn(n, 1, 24), torch.randn(n, 1, 24)


def full(t: torch.Tensor) -> torch.Tensor:
    """``t`` in float32 if it is in a half precision (autocast), else unchanged (float64 tests)."""
    return t.float() if t.dtype in (torch.bfloat16, torch.float16) else t


@torch.no_grad()
def gather_batch(t: torch.Tensor) -> torch.Tensor:
    """Every rank's ``t`` concatenated along dim 0 in rank order (``t`` itself in one process).

    A collective: under ``torch.distributed`` every rank must call it in the same step, with
    tensors of one shape. No gradient flows through it (queues and centres need none).

    Shape:
        t: (B, ...) -> (P * B, ...) for P processes.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return t
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts)
