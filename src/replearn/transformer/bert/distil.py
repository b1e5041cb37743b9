r"""DistilBERT: a half-depth BERT student trained on the teacher's soft targets and hidden states.

Papers: V. Sanh, L. Debut, J. Chaumond & T. Wolf, "DistilBERT, a distilled version of BERT:
smaller, faster, cheaper and lighter", 2019, arXiv:1910.01108; knowledge distillation from
G. Hinton, O. Vinyals & J. Dean, "Distilling the Knowledge in a Neural Network", 2015,
arXiv:1503.02531.

With :math:`p^T = \mathrm{softmax}(z / T)` the distribution at temperature :math:`T`, the
distillation loss is the cross-entropy of the student's tempered distribution against the
teacher's, scaled by :math:`T^2` (Hinton Sec. 2: the gradients of the soft term scale as
:math:`1/T^2`; the factor keeps their size as :math:`T` changes),

.. math::

    L_{ce} = T^2 \cdot \frac1n \sum_i -\sum_k p^T_k(t_i) \log p^T_k(s_i)
           = T^2 \cdot \frac1n \sum_i \big[\mathrm{KL}(p^T(t_i) \,\|\, p^T(s_i))
             + H(p^T(t_i))\big]                                                 \qquad (1)

the masked-LM loss :math:`L_{mlm}` is BERT's (hard labels), and the cosine embedding loss aligns
the directions of the last hidden states,

.. math::

    L_{cos} = \frac1n \sum_i \big(1 - \cos(h^s_i, h^t_i)\big)                  \qquad (2)

    L = \alpha L_{ce} + \beta L_{mlm} + \gamma L_{cos}                          \qquad (3)

(Sec. 2 of Sanh et al.; weights 5, 2, 1 and :math:`T = 2` as in their released training
script). The student has the teacher's width and half its layers, initialised "by taking one
layer out of two" (Sec. 3): :func:`student_from_teacher`.

Deviations: the student keeps BERT's token-type embeddings and pooler (the paper removes them),
so that it is a :class:`~.bert.BERT` and fine-tunes with the same classification head. The soft
and cosine terms are averaged over the positions the masked-LM loss reads when labels are given
(as the released script does), else over all non-padding positions.

Tests (``tests/transformer/test_distil.py``): Eq. (1) equals KL + entropy computed from
``F.kl_div`` in float64; the :math:`T^2`-scaled gradient tends to :math:`(s - t - \bar{(s-t)})/K`
as :math:`T \to \infty` (so its scale does not vanish); Eq. (2) vs ``F.cosine_embedding_loss``;
the student's layers equal teacher layers 0, 2, 4, ...
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from replearn.registry import register
from replearn.transformer.bert.model import BERT, IGNORE_INDEX

__all__ = ["cosine_loss", "distillation_loss", "soft_cross_entropy", "student_from_teacher"]


def soft_cross_entropy(student: Tensor, teacher: Tensor, temperature: float = 1.0) -> Tensor:
    r"""Eq. (1) without the :math:`T^2`: :math:`-\sum_k p^T_k(t) \log p^T_k(s)`, mean over rows.

    Shape:
        (n, K), (n, K) -> ().
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    target = F.softmax(teacher / temperature, dim=-1)  # (n, K)
    return -(target * F.log_softmax(student / temperature, dim=-1)).sum(-1).mean()


def cosine_loss(student: Tensor, teacher: Tensor) -> Tensor:
    r"""Eq. (2): :math:`\frac1n \sum_i (1 - \cos(h^s_i, h^t_i))`.

    Shape:
        (n, H), (n, H) -> ().
    """
    return (1 - F.cosine_similarity(student, teacher, dim=-1)).mean()


@register(
    "transformer.distilbert_loss",
    paper="Sanh, Debut, Chaumond & Wolf 2019, arXiv:1910.01108 (DistilBERT); "
    "Hinton, Vinyals & Dean 2015, arXiv:1503.02531",
    reference="KL + entropy via F.kl_div (float64); F.cosine_embedding_loss; gradient limit",
)
def distillation_loss(
    student_logits: Tensor, teacher_logits: Tensor, student_hidden: Tensor, teacher_hidden: Tensor,
    *, labels: Tensor | None = None, attention_mask: Tensor | None = None,
    temperature: float = 2.0, alpha: float = 5.0, beta: float = 2.0, gamma: float = 1.0,
) -> tuple[Tensor, dict[str, Tensor]]:  # fmt: skip
    """Eq. (3): the DistilBERT loss and its three terms (detached) as metrics.

    The soft and cosine terms read the positions with ``labels != -100`` when labels are given
    (those also give :math:`L_{mlm}`, else ``beta`` is unused), else the non-padding positions.

    Shape:
        logits (B, L, V), hidden (B, L, H), labels / attention_mask (B, L) -> (), dict.
    """
    if labels is not None:
        keep = labels != IGNORE_INDEX  # (B, L)
    elif attention_mask is not None:
        keep = attention_mask.bool()
    else:
        keep = torch.ones(student_logits.shape[:2], dtype=torch.bool, device=student_logits.device)
    t = temperature
    ce = t**2 * soft_cross_entropy(student_logits[keep], teacher_logits[keep].detach(), t)
    cos = cosine_loss(student_hidden[keep], teacher_hidden[keep].detach())
    loss = alpha * ce + gamma * cos
    metrics = {"distill_ce": ce.detach(), "cosine": cos.detach()}
    if labels is not None:
        mlm = F.cross_entropy(student_logits[keep].float(), labels[keep])
        loss = loss + beta * mlm
        metrics["mlm"] = mlm.detach()
    return loss, metrics


def student_from_teacher(teacher: BERT, *, every: int = 2) -> BERT:
    """A BERT with ``ceil(N / every)`` layers: the teacher's layers 0, every, 2 every, ... copied,
    and every other tensor (embeddings, pooler, heads) copied too (Sec. 3); same dtype, device.

    Shape:
        (the student maps (B, L) ids to (B, L, H) like the teacher).
    """
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    layer0 = teacher.layers[0]
    picked = list(range(0, teacher.num_layers, every))
    student = BERT(
        vocab_size=teacher.vocab_size,
        hidden=teacher.hidden,
        layers=len(picked),
        heads=teacher.num_heads,
        intermediate=layer0.ff1.out_features,
        max_len=teacher.pos_emb.num_embeddings,
        type_vocab_size=teacher.seg_emb.num_embeddings if teacher.seg_emb is not None else 0,
        dropout=teacher.drop.p,
        attn_dropout=layer0.attn_dropout,
        eps=teacher.emb_norm.eps,
        act=teacher.act,
        positions=teacher.positions,
        pad_id=teacher.pad_id,
        pooler=teacher.pooler is not None,
        mlm_head=teacher.mlm_bias is not None,
        nsp_head=teacher.nsp is not None,
        num_labels=teacher.num_labels,
        fast=layer0.fast,
    )
    w = teacher.tok_emb.weight
    student = student.to(device=w.device, dtype=w.dtype)
    state = {}
    for key, value in teacher.state_dict().items():
        if key.startswith("layers."):
            _, i, rest = key.split(".", 2)
            if int(i) % every:
                continue
            key = f"layers.{int(i) // every}.{rest}"
        state[key] = value.clone()
    student.load_state_dict(state, strict=True)
    return student.train(teacher.training)
