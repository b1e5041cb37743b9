r"""DINO: self-distillation with no labels -- a student matches a centred, sharpened EMA teacher.

Paper: M. Caron, H. Touvron, I. Misra, H. Jégou, J. Mairal, P. Bojanowski & A. Joulin,
"Emerging Properties in Self-Supervised Vision Transformers", ICCV 2021, arXiv:2104.14294.

Student :math:`g_{\theta_s}` and teacher :math:`g_{\theta_t}` (encoder + head to K outputs);
the teacher is the EMA of the student (Eq. 4 of Sec. 3.1, cosine schedule as BYOL). Multi-crop:
two global views go through both networks, extra local views through the student only. The
loss is :func:`replearn.ssl.losses.dino_loss`: cross-entropy from each teacher view to every
other student view, with the teacher's outputs *centred* (the centre :math:`c`, an EMA of the
teacher's batch means, a buffer) and *sharpened* (teacher temperature below the student's,
warmed up by :func:`~replearn.ssl.methods.common.teacher_temperature`). Sec. 5.3 / Fig. 7:
centring alone collapses to a uniform output, sharpening alone to one dominant dimension.
Ablations: ``centering=False``; ``sharpening=False`` sets the teacher temperature to the
student's.

Deviations: the head is MLP -> L2-normalized bottleneck -> linear layer without weight
normalization; local crops have the global crops' size (:mod:`replearn.ssl.augment`).

Under torchrun the centre is the EMA of the *global* batch mean (every rank's teacher outputs
gathered first), as the authors' all-reduce makes it.

Tests: the loss equals ``dino_loss`` of the student / teacher outputs; the centre update is
the EMA of the teacher's batch mean (exact), over both ranks' batches under 2 processes; the
teacher gets no gradient.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replearn.engine import EMA
from replearn.registry import Example, register
from replearn.ssl.encoders import projection_mlp
from replearn.ssl.losses import dino_center_update, dino_loss
from replearn.ssl.methods.common import (
    cosine_momentum,
    example_encoder,
    example_views,
    full,
    gather_batch,
    teacher_temperature,
)

__all__ = ["DINO", "DINOHead"]


class DINOHead(nn.Module):
    """MLP -> L2-normalized bottleneck -> linear layer to ``out_dim`` logits.

    Shape:
        (B, in_dim) -> (B, out_dim).
    """

    def __init__(
        self, in_dim: int, out_dim: int, *, hidden: int = 128, bottleneck: int = 32
    ) -> None:
        super().__init__()
        self.mlp = projection_mlp(in_dim, hidden, bottleneck, layers=3)
        self.last = nn.Linear(bottleneck, out_dim, bias=False)

    def forward(self, h: Tensor) -> Tensor:
        return self.last(F.normalize(self.mlp(h), dim=-1))


def _example() -> Example:
    model = DINO(example_encoder(), feat_dim=16, out_dim=12, hidden=16, bottleneck=8)
    v1, v2 = example_views()
    return Example(model, (v1, v2, torch.randn(6, 1, 24)), ())


@register(
    "ssl.dino",
    paper="Caron, Touvron, Misra, Jégou, Mairal, Bojanowski & Joulin 2021, arXiv:2104.14294",
    reference="loss = dino_loss (float64 loop oracle) over multi-crop pairs; centre EMA and "
    "teacher EMA checked exactly",
    example=_example,
)
class DINO(nn.Module):
    """Student / EMA-teacher self-distillation with centring, sharpening and multi-crop.

    Args:
        encoder: backbone, (B, ...) -> (B, feat_dim).
        feat_dim: backbone feature size.
        out_dim: K, the head's outputs.
        hidden, bottleneck: head sizes.
        student_temp: :math:`\\tau_s`.
        teacher_temp: final :math:`\\tau_t` (reached after ``warmup`` of training).
        warmup_teacher_temp: :math:`\\tau_t` at the start.
        warmup: fraction of training of the teacher-temperature warm-up.
        center_momentum: m of the centre EMA.
        base_momentum: base decay of the teacher EMA (cosine schedule to 1).
        centering, sharpening: ablation switches.

    Shape:
        x1, x2 (global views), *local views: (B, ...) -> (loss (), teacher output (B, K)).
    """

    def __init__(
        self,
        encoder: nn.Module,
        *,
        feat_dim: int,
        out_dim: int = 256,
        hidden: int = 128,
        bottleneck: int = 32,
        student_temp: float = 0.1,
        teacher_temp: float = 0.04,
        warmup_teacher_temp: float = 0.04,
        warmup: float = 0.3,
        center_momentum: float = 0.9,
        base_momentum: float = 0.99,
        centering: bool = True,
        sharpening: bool = True,
    ) -> None:
        super().__init__()
        if min(student_temp, teacher_temp, warmup_teacher_temp) <= 0:
            raise ValueError("temperatures must be > 0")
        self.encoder = encoder
        self.student = nn.Sequential(encoder, DINOHead(feat_dim, out_dim, hidden=hidden,
                                                       bottleneck=bottleneck))  # fmt: skip
        self.teacher = EMA(self.student, decay=base_momentum)
        self.register_buffer("center", torch.zeros(out_dim))
        self.student_temp, self.final_teacher_temp = student_temp, teacher_temp
        self.warmup_teacher_temp, self.warmup = warmup_teacher_temp, warmup
        self.center_momentum, self.base_momentum = center_momentum, base_momentum
        self.centering, self.sharpening = centering, sharpening
        self.progress = 0.0

    def teacher_temp(self) -> float:
        """The current teacher temperature (the student's without sharpening)."""
        if not self.sharpening:
            return self.student_temp
        return teacher_temperature(self.progress, start=self.warmup_teacher_temp,
                                   end=self.final_teacher_temp, warmup=self.warmup)  # fmt: skip

    @torch.no_grad()
    def momentum_update(self, progress: float) -> None:
        """Teacher EMA with the cosine-scheduled decay; remembers ``progress`` for Eq. (2)."""
        self.teacher.update(self.student, decay=cosine_momentum(progress, self.base_momentum))
        self.progress = progress

    def forward(self, x1: Tensor, x2: Tensor, *local: Tensor) -> tuple[Tensor, Tensor]:
        views = [x1, x2, *local]
        s = torch.stack([self.student(v) for v in views])  # (V_s, B, K)
        with torch.no_grad():
            t = torch.stack([self.teacher(x1), self.teacher(x2)])  # (2, B, K)
        center = self.center if self.centering else torch.zeros_like(self.center)
        loss = dino_loss(full(s), full(t), center, student_temp=self.student_temp,
                         teacher_temp=self.teacher_temp())  # fmt: skip
        if self.training:
            g = gather_batch(t.transpose(0, 1).contiguous())  # (P * B, 2, K): global batch
            self.center.copy_(dino_center_update(self.center, g, momentum=self.center_momentum))
        return loss, t[0]

    def extra_repr(self) -> str:
        return (
            f"student_temp={self.student_temp}, teacher_temp={self.final_teacher_temp}, "
            f"centering={self.centering}, sharpening={self.sharpening}"
        )
