r"""Knowledge distillation: a student trained on a teacher's softened outputs.

Paper: G. Hinton, O. Vinyals & J. Dean, "Distilling the Knowledge in a Neural Network",
NIPS 2014 Deep Learning Workshop, arXiv:1503.02531.

The teacher's logits :math:`v` at temperature T give soft targets; the student's objective is
the weighted average of :math:`T^2\,\mathrm{KL}` to them and the cross-entropy with the hard
labels (:func:`replearn.ssl.losses.kd_objective`, Sec. 2). ``alpha=0`` is the hard-label
student the claim compares against.

Tests: the loss equals ``kd_objective`` with the frozen teacher's logits; the teacher gets no
gradient and stays in evaluation mode.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from replearn.registry import Example, register
from replearn.ssl.losses import kd_objective
from replearn.ssl.methods.common import full

__all__ = ["KnowledgeDistillation"]


def _example() -> Example:
    model = KnowledgeDistillation(nn.Linear(5, 3), nn.Linear(5, 3), temperature=4.0, alpha=0.9)
    return Example(model, (torch.randn(6, 5), torch.tensor([0, 1, 2, 0, 1, 2])), ())


@register(
    "ssl.distillation",
    paper="Hinton, Vinyals & Dean 2015, arXiv:1503.02531",
    reference="distillation_loss vs a float64 loop; its gradient T (q - p) and the T^2 scaling "
    "(high-temperature limit (z - v) / N)",
    example=_example,
)
class KnowledgeDistillation(nn.Module):
    """A student trained on a frozen teacher's soft targets (and the hard labels).

    Args:
        student: inputs -> logits (B, C).
        teacher: inputs -> logits (B, C); frozen (no gradients, evaluation mode).
        temperature: T.
        alpha: weight of the soft term (0: hard labels only).

    Shape:
        x: (B, ...), y: (B,) -> (loss (), student logits (B, C)).
    """

    def __init__(
        self,
        student: nn.Module,
        teacher: nn.Module,
        *,
        temperature: float = 4.0,
        alpha: float = 0.9,
    ) -> None:
        super().__init__()
        if temperature <= 0 or not 0.0 <= alpha <= 1.0:
            raise ValueError(
                f"need temperature > 0 and alpha in [0, 1], got {temperature}, {alpha}"
            )
        self.student, self.teacher = student, teacher
        self.temperature, self.alpha = temperature, alpha
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.teacher.eval()

    def train(self, mode: bool = True) -> KnowledgeDistillation:
        super().train(mode)
        self.teacher.eval()  # the teacher is fixed
        return self

    def forward(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        with torch.no_grad():
            v = self.teacher(x)  # (B, C)
        z = self.student(x)
        loss = kd_objective(full(z), full(v), y, temperature=self.temperature, alpha=self.alpha)
        return loss, z.detach()

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, alpha={self.alpha}"
