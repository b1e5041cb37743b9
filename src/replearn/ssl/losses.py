r"""Self-supervised and distillation losses as pure functions (course chapter 12).

Each function computes one objective of a paper, vectorized over the batch; the brute-force
float64 loops in :mod:`replearn.ssl.reference` compute the same numbers from the written
formulas, one term at a time, and the tests compare the two (``rtol=1e-10``).

Notation: :math:`\hat u = u / \lVert u \rVert_2`, :math:`\mathrm{sg}` is stop-gradient.

1. **InfoNCE** (van den Oord et al. 2018, arXiv:1807.03748; MoCo, He et al. 2020,
   arXiv:1911.05722, Eq. 1) for a query :math:`q`, its positive key :math:`k_+` and negatives
   :math:`k_1 \dots k_K` (the MoCo queue):

   .. math:: \mathcal L_q = -\log \frac{\exp(\hat q\cdot\hat k_+/\tau)}
         {\exp(\hat q\cdot\hat k_+/\tau) + \sum_{i=1}^K \exp(\hat q\cdot\hat k_i/\tau)} \quad (1)

2. **NT-Xent** (SimCLR, Chen et al. 2020, arXiv:2002.05709, Eq. 1): for 2N views where
   :math:`(2k-1, 2k)` -- here :math:`(k, N + k)` -- are the two views of example k,

   .. math:: \ell_{i,j} = -\log \frac{\exp(s_{i,j}/\tau)}
             {\sum_{m \ne i} \exp(s_{i,m}/\tau)},\quad s_{i,j} = \hat z_i \cdot \hat z_j,
             \qquad \mathcal L = \frac{1}{2N}\sum_{k} (\ell_{k, N+k} + \ell_{N+k, k})   \quad (2)

3. **CLIP** (Radford et al. 2021, arXiv:2103.00020, Fig. 3): logits
   :math:`L = e^{t}\, \hat I \hat T^\top` with a learnable log inverse temperature :math:`t`,

   .. math:: \mathcal L = \tfrac12\big(\mathrm{CE}(L, \mathrm{diag}) +
             \mathrm{CE}(L^\top, \mathrm{diag})\big)                                      \quad (3)

4. **BYOL** (Grill et al. 2020, arXiv:2006.07733, Eq. 2):
   :math:`\mathcal L = \lVert \hat p - \mathrm{sg}(\hat z') \rVert^2 = 2 - 2\,\hat p \cdot
   \mathrm{sg}(\hat z')`, averaged over the batch.                                       (4)

5. **Barlow Twins** (Zbontar et al. 2021, arXiv:2103.03230, Eq. 1-2): with each dimension
   standardized over the batch,
   :math:`\mathcal C_{ij} = \frac1N \sum_b \tilde z^A_{b,i} \tilde z^B_{b,j}` and

   .. math:: \mathcal L = \sum_i (1 - \mathcal C_{ii})^2 + \lambda \sum_i \sum_{j\ne i}
             \mathcal C_{ij}^2                                                           \quad (5)

6. **DINO** (Caron et al. 2021, arXiv:2104.14294, Eq. 2-4 and Algorithm 1): teacher
   :math:`P_t = \mathrm{softmax}((g_t - c)/\tau_t)` (centering by :math:`c` and sharpening
   by a small :math:`\tau_t`), student :math:`P_s = \mathrm{softmax}(g_s/\tau_s)`,

   .. math:: \mathcal L = \frac{1}{|\mathcal P|}\sum_{(t, s) \in \mathcal P}
             -\mathrm{sg}(P_t^{(t)}) \cdot \log P_s^{(s)},\qquad
             c \leftarrow m c + (1 - m)\,\overline{g_t}                                   \quad (6)

   over the pairs :math:`\mathcal P` of a teacher (global) view and a *different* student
   view.

7. **I-JEPA** (Assran et al. 2023, arXiv:2301.08243, Eq. 1): the predicted patch
   representations :math:`\hat s_y` of the target blocks against the (layer-normalized) target
   encoder's :math:`s_y`, :math:`\mathcal L = \frac1M \sum_i \sum_{j \in B_i}
   \lVert \hat s_{y_j} - \mathrm{sg}(s_{y_j}) \rVert_2^2`, here averaged over all predicted
   tokens of the batch.                                                                  (7)

8. **Knowledge distillation** (Hinton, Vinyals & Dean 2015, arXiv:1503.02531, Sec. 2):
   soft targets :math:`p = \mathrm{softmax}(v/T)`, student :math:`q = \mathrm{softmax}(z/T)`,

   .. math:: \mathcal L_{KD} = T^2\, \mathrm{KL}(p \,\Vert\, q),\qquad
             \frac{\partial \mathcal L_{KD}}{\partial z_i} = T (q_i - p_i)
             \approx \frac{z_i - v_i}{N}\ (T \gg 1,\ \text{zero-mean logits})             \quad (8)

   The :math:`T^2` keeps the soft-target gradients on the scale of the hard-label ones when T
   changes (Sec. 2: "it is important to multiply them by :math:`T^2`").

Deviations: the I-JEPA code uses a smooth-L1 loss; Eq. 1 of the paper (L2) is used here. The
Barlow Twins standardization uses the biased batch variance plus ``eps`` inside the square
root, as ``BatchNorm1d(affine=False)`` in the authors' code.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "barlow_twins_loss",
    "byol_loss",
    "clip_loss",
    "cross_correlation",
    "dino_center_update",
    "dino_loss",
    "distillation_loss",
    "ijepa_loss",
    "info_nce",
    "kd_objective",
    "nt_xent",
]


def info_nce(q: Tensor, k: Tensor, negatives: Tensor, *, temperature: float) -> Tensor:
    r"""Eq. (1): InfoNCE of each query against its positive key and a shared set of negatives.

    Shape:
        q, k: (N, D) -- row n of ``k`` is the positive of row n of ``q``; negatives: (K, D).
        Returns a scalar (mean over the N queries).
    """
    q, k, negatives = F.normalize(q, dim=1), F.normalize(k, dim=1), F.normalize(negatives, dim=1)
    pos = (q * k).sum(1, keepdim=True)  # (N, 1)
    neg = q @ negatives.T  # (N, K)
    logits = torch.cat([pos, neg], dim=1) / temperature  # (N, 1 + K), positive at index 0
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))


def nt_xent(z1: Tensor, z2: Tensor, *, temperature: float) -> Tensor:
    r"""Eq. (2): SimCLR's normalized temperature-scaled cross-entropy over 2N views.

    Shape:
        z1, z2: (N, D), the two views of N examples. Returns a scalar.
    """
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2], dim=0), dim=1)  # (2N, D)
    sim = z @ z.T / temperature  # (2N, 2N)
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)  # (2N,)
    return F.cross_entropy(sim, target)


def clip_loss(image_emb: Tensor, text_emb: Tensor, logit_scale: Tensor) -> Tensor:
    r"""Eq. (3): symmetric cross-entropy over the image-text similarity matrix.

    ``logit_scale`` is :math:`t = \log(1/\tau)` (learnable; CLIP clamps :math:`e^t \le 100`).

    Shape:
        image_emb, text_emb: (N, D), row n of each a matching pair; logit_scale: () -> scalar.
    """
    logits = logit_scale.exp() * F.normalize(image_emb, dim=1) @ F.normalize(text_emb, dim=1).T
    labels = torch.arange(len(logits), device=logits.device)  # (N,)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def byol_loss(p: Tensor, z: Tensor) -> Tensor:
    r"""Eq. (4): :math:`2 - 2\cos(p, \mathrm{sg}(z))`, averaged over the batch.

    Shape:
        p: (N, D) online predictions; z: (N, D) target projections (gradient stopped). -> ().
    """
    return (2 - 2 * F.cosine_similarity(p, z.detach(), dim=1)).mean()


def cross_correlation(z1: Tensor, z2: Tensor, *, eps: float = 1e-5) -> Tensor:
    r"""Eq. (5)'s :math:`\mathcal C`: correlation of every pair of dimensions over the batch.

    Shape:
        z1, z2: (N, D) -> (D, D).
    """
    n = z1.shape[0]

    def standardize(z: Tensor) -> Tensor:
        return (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + eps)  # (N, D)

    return standardize(z1).T @ standardize(z2) / n  # (D, D)


def barlow_twins_loss(
    z1: Tensor, z2: Tensor, *, lambd: float, eps: float = 1e-5
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Eq. (5): invariance + :math:`\lambda` redundancy reduction.

    Returns ``(loss, invariance, redundancy)`` with ``loss = invariance + lambd * redundancy``.

    Shape:
        z1, z2: (N, D) -> three scalars.
    """
    c = cross_correlation(z1, z2, eps=eps)  # (D, D)
    diag = torch.diagonal(c)
    invariance = (1 - diag).pow(2).sum()
    redundancy = c.pow(2).sum() - diag.pow(2).sum()
    return invariance + lambd * redundancy, invariance, redundancy


def dino_loss(
    student_out: Tensor,
    teacher_out: Tensor,
    center: Tensor,
    *,
    student_temp: float,
    teacher_temp: float,
) -> Tensor:
    r"""Eq. (6): cross-entropy from centred, sharpened teacher views to the other student views.

    The teacher views are the first ``V_t`` student views (the global crops), so pairs with the
    same view index are skipped.

    Shape:
        student_out: (V_s, N, K) logits of every crop; teacher_out: (V_t, N, K) logits of the
        global crops (V_t <= V_s); center: (K,). Returns a scalar.
    """
    p_t = F.softmax((teacher_out - center) / teacher_temp, dim=-1).detach()  # (V_t, N, K)
    log_p_s = F.log_softmax(student_out / student_temp, dim=-1)  # (V_s, N, K)
    ce = -torch.einsum("tnk,snk->tsn", p_t, log_p_s).mean(-1)  # (V_t, V_s)
    v_t, v_s = ce.shape
    keep = ~torch.eye(v_t, v_s, dtype=torch.bool, device=ce.device)  # skip same-view pairs
    return ce[keep].mean()


@torch.no_grad()
def dino_center_update(center: Tensor, teacher_out: Tensor, *, momentum: float) -> Tensor:
    r"""Eq. (6)'s centre EMA: :math:`c \leftarrow m c + (1 - m)\,\mathrm{mean}(g_t)`.

    Shape:
        center: (K,); teacher_out: (V_t, N, K) or (N, K) -> (K,).
    """
    return momentum * center + (1 - momentum) * teacher_out.reshape(-1, center.shape[-1]).mean(0)


def ijepa_loss(pred: Tensor, target: Tensor) -> Tensor:
    r"""Eq. (7): squared L2 distance between predicted and layer-normalized target tokens.

    The target is normalized over its feature dimension (no affine), as in the I-JEPA code,
    and its gradient is stopped.

    Shape:
        pred, target: (N, M, D) -- M predicted tokens per example. Returns a scalar.
    """
    target = F.layer_norm(target.detach(), (target.shape[-1],))
    return (pred - target).pow(2).sum(-1).mean()


def distillation_loss(
    student_logits: Tensor, teacher_logits: Tensor, *, temperature: float
) -> Tensor:
    r"""Eq. (8): :math:`T^2\,\mathrm{KL}(\mathrm{softmax}(v/T) \Vert \mathrm{softmax}(z/T))`.

    Shape:
        student_logits z, teacher_logits v: (N, C). Returns the batch mean (a scalar).
    """
    t = temperature
    log_q = F.log_softmax(student_logits / t, dim=-1)  # (N, C)
    log_p = F.log_softmax(teacher_logits.detach() / t, dim=-1)  # (N, C)
    kl = (log_p.exp() * (log_p - log_q)).sum(-1)  # (N,)
    return t * t * kl.mean()


def kd_objective(
    student_logits: Tensor,
    teacher_logits: Tensor,
    labels: Tensor,
    *,
    temperature: float,
    alpha: float,
) -> Tensor:
    r""":math:`\alpha \mathcal L_{KD} + (1 - \alpha)\,\mathrm{CE}(z, y)`: Hinton et al.'s weighted
    average of the soft and the hard objective.

    Shape:
        student_logits, teacher_logits: (N, C); labels: (N,) -> scalar.
    """
    soft = distillation_loss(student_logits, teacher_logits, temperature=temperature)
    return alpha * soft + (1 - alpha) * F.cross_entropy(student_logits, labels)


def clamp_logit_scale(logit_scale: Tensor, max_scale: float = 100.0) -> None:
    """CLIP's clamp of the learnable temperature: :math:`e^t \\le` ``max_scale`` (in place)."""
    with torch.no_grad():
        logit_scale.clamp_(max=math.log(max_scale))
