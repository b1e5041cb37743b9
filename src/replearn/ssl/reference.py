r"""Brute-force float64 references of :mod:`replearn.ssl.losses`: the written formulas, one
term at a time, in Python loops over examples, views and dimensions.

They are slow on purpose: the tests compare every loss of :mod:`replearn.ssl.losses` with its
loop here (float64, ``rtol=1e-10``), and ``benchmarks/bench_ssl.py`` reports the speedup of
the vectorized losses over them. Each function returns a Python float.
"""

from __future__ import annotations

import math

from torch import Tensor

__all__ = [
    "barlow_twins_loss_loop",
    "byol_loss_loop",
    "clip_loss_loop",
    "dino_loss_loop",
    "distillation_loss_loop",
    "ijepa_loss_loop",
    "info_nce_loop",
    "nt_xent_loop",
]


def _rows(x: Tensor) -> list[list[float]]:
    return [[float(v) for v in row] for row in x.double()]


def _unit(u: list[float]) -> list[float]:
    norm = math.sqrt(sum(a * a for a in u))
    return [a / norm for a in u]


def _dot(u: list[float], v: list[float]) -> float:
    return sum(a * b for a, b in zip(u, v, strict=True))


def _log_softmax(u: list[float]) -> list[float]:
    m = max(u)
    lse = m + math.log(sum(math.exp(a - m) for a in u))
    return [a - lse for a in u]


def info_nce_loop(q: Tensor, k: Tensor, negatives: Tensor, *, temperature: float) -> float:
    """Eq. (1) of :mod:`replearn.ssl.losses`, one query at a time."""
    qs, ks, negs = _rows(q), _rows(k), [_unit(r) for r in _rows(negatives)]
    total = 0.0
    for qi, ki in zip(qs, ks, strict=True):
        qi, ki = _unit(qi), _unit(ki)
        pos = math.exp(_dot(qi, ki) / temperature)
        den = pos + sum(math.exp(_dot(qi, kn) / temperature) for kn in negs)
        total += -math.log(pos / den)
    return total / len(qs)


def nt_xent_loop(z1: Tensor, z2: Tensor, *, temperature: float) -> float:
    """Eq. (2): every anchor i of the 2N views against every m != i."""
    z = [_unit(r) for r in _rows(z1) + _rows(z2)]
    n = len(z) // 2
    total = 0.0
    for i in range(2 * n):
        j = i + n if i < n else i - n
        den = sum(math.exp(_dot(z[i], z[m]) / temperature) for m in range(2 * n) if m != i)
        total += -math.log(math.exp(_dot(z[i], z[j]) / temperature) / den)
    return total / (2 * n)


def clip_loss_loop(image_emb: Tensor, text_emb: Tensor, logit_scale: float) -> float:
    """Eq. (3): image-to-text and text-to-image cross-entropies, averaged."""
    im, tx = [_unit(r) for r in _rows(image_emb)], [_unit(r) for r in _rows(text_emb)]
    n, s = len(im), math.exp(logit_scale)
    i2t = sum(-_log_softmax([s * _dot(im[a], tx[b]) for b in range(n)])[a] for a in range(n))
    t2i = sum(-_log_softmax([s * _dot(tx[b], im[a]) for a in range(n)])[b] for b in range(n))
    return 0.5 * (i2t / n + t2i / n)


def byol_loss_loop(p: Tensor, z: Tensor) -> float:
    """Eq. (4): squared distance of the unit vectors, averaged."""
    total = 0.0
    for pi, zi in zip(_rows(p), _rows(z), strict=True):
        pu, zu = _unit(pi), _unit(zi)
        total += sum((a - b) ** 2 for a, b in zip(pu, zu, strict=True))
    return total / len(p)


def barlow_twins_loss_loop(
    z1: Tensor, z2: Tensor, *, lambd: float, eps: float = 1e-5
) -> tuple[float, float, float]:
    """Eq. (5): the cross-correlation entry by entry, then both sums."""
    a, b = _rows(z1), _rows(z2)
    n, d = len(a), len(a[0])

    def standardized(z: list[list[float]]) -> list[list[float]]:
        cols = []
        for j in range(d):
            col = [z[r][j] for r in range(n)]
            mu = sum(col) / n
            sd = math.sqrt(sum((v - mu) ** 2 for v in col) / n + eps)
            cols.append([(v - mu) / sd for v in col])
        return cols  # (D, N)

    sa, sb = standardized(a), standardized(b)
    inv = red = 0.0
    for i in range(d):
        for j in range(d):
            c = sum(sa[i][r] * sb[j][r] for r in range(n)) / n
            if i == j:
                inv += (1 - c) ** 2
            else:
                red += c * c
    return inv + lambd * red, inv, red


def dino_loss_loop(
    student_out: Tensor,
    teacher_out: Tensor,
    center: Tensor,
    *,
    student_temp: float,
    teacher_temp: float,
) -> float:
    """Eq. (6): every (teacher view, other student view, example) cross-entropy."""
    c = [float(v) for v in center.double()]
    v_t, n = teacher_out.shape[0], teacher_out.shape[1]
    v_s = student_out.shape[0]
    total, pairs = 0.0, 0
    for t in range(v_t):
        for s in range(v_s):
            if s == t:
                continue
            pair = 0.0
            for b in range(n):
                gt = [float(x) for x in teacher_out[t, b].double()]
                log_pt = _log_softmax(
                    [(g - ci) / teacher_temp for g, ci in zip(gt, c, strict=True)]
                )
                gs = [float(x) for x in student_out[s, b].double()]
                log_ps = _log_softmax([g / student_temp for g in gs])
                pair += -sum(math.exp(lt) * ls for lt, ls in zip(log_pt, log_ps, strict=True))
            total += pair / n
            pairs += 1
    return total / pairs


def ijepa_loss_loop(pred: Tensor, target: Tensor, *, eps: float = 1e-5) -> float:
    """Eq. (7): each predicted token against its layer-normalized target."""
    total, count = 0.0, 0
    for b in range(pred.shape[0]):
        for m in range(pred.shape[1]):
            t = [float(v) for v in target[b, m].double()]
            mu = sum(t) / len(t)
            sd = math.sqrt(sum((v - mu) ** 2 for v in t) / len(t) + eps)
            p = [float(v) for v in pred[b, m].double()]
            total += sum((pi - (ti - mu) / sd) ** 2 for pi, ti in zip(p, t, strict=True))
            count += 1
    return total / count


def distillation_loss_loop(
    student_logits: Tensor, teacher_logits: Tensor, *, temperature: float
) -> float:
    """Eq. (8): :math:`T^2 \\sum_i p_i (\\log p_i - \\log q_i)`, averaged over examples."""
    total = 0.0
    rows = zip(_rows(student_logits), _rows(teacher_logits), strict=True)
    for z, v in rows:
        log_q = _log_softmax([a / temperature for a in z])
        log_p = _log_softmax([a / temperature for a in v])
        total += sum(math.exp(lp) * (lp - lq) for lp, lq in zip(log_p, log_q, strict=True))
    return temperature**2 * total / len(student_logits)
