"""DistilBERT: soft CE = KL + entropy, T^2 gradient scaling, cosine loss, student init."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from replearn.transformer.bert.distil import (
    cosine_loss,
    distillation_loss,
    soft_cross_entropy,
    student_from_teacher,
)
from replearn.transformer.bert.model import BERT


def logits(n: int = 6, k: int = 9, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n, k, generator=g, dtype=torch.float64) * 3,
        torch.randn(n, k, generator=g, dtype=torch.float64) * 3,
    )


@pytest.mark.parametrize("t", [0.5, 1.0, 2.0, 8.0])
def test_soft_cross_entropy_is_kl_plus_teacher_entropy(t):
    s, te = logits()
    target = F.softmax(te / t, -1)
    kl = F.kl_div(F.log_softmax(s / t, -1), target, reduction="batchmean")
    entropy = -(target * target.log()).sum(-1).mean()
    torch.testing.assert_close(soft_cross_entropy(s, te, t), kl + entropy, rtol=0, atol=1e-12)


def test_soft_cross_entropy_at_t1_with_one_hot_teacher_is_cross_entropy():
    s, _ = logits()
    y = torch.arange(6) % 9
    teacher = F.one_hot(y, 9).double() * 1e4  # a (numerically) one-hot teacher distribution
    torch.testing.assert_close(soft_cross_entropy(s, teacher), F.cross_entropy(s, y))


def soft_grad(s: torch.Tensor, te: torch.Tensor, t: float, scale: bool) -> torch.Tensor:
    s = s.clone().requires_grad_(True)
    ((t**2 if scale else 1.0) * soft_cross_entropy(s, te, t)).backward()
    return s.grad


def test_t_squared_scaling_keeps_the_gradient_scale():
    s, te = logits()
    n, k = s.shape
    # without T^2 the gradient shrinks as 1/T^2 (for large T): x4 from T = 50 to T = 100
    ratio = soft_grad(s, te, 50.0, False).norm() / soft_grad(s, te, 100.0, False).norm()
    assert ratio == pytest.approx(4.0, rel=0.02)
    # with T^2 it tends to the centred logit difference (s - t - mean) / K (Hinton Sec. 2.1)
    d = s - te
    limit = (d - d.mean(-1, keepdim=True)) / (k * n)
    err = {t: (soft_grad(s, te, t, True) - limit).abs().max() for t in (1e3, 1e4)}
    assert err[1e4] < 0.005 * limit.abs().max()
    assert err[1e3] / err[1e4] == pytest.approx(10.0, rel=0.05)  # the gap closes as 1/T


def test_cosine_loss_matches_torch():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(7, 5, generator=g), torch.randn(7, 5, generator=g)
    torch.testing.assert_close(cosine_loss(a, b), F.cosine_embedding_loss(a, b, torch.ones(7)))
    assert cosine_loss(a, 3 * a).abs() < 1e-6  # direction only


def test_distillation_loss_combines_the_three_terms():
    g = torch.Generator().manual_seed(2)
    s, te = torch.randn(2, 5, 11, generator=g), torch.randn(2, 5, 11, generator=g)
    hs, ht = torch.randn(2, 5, 4, generator=g), torch.randn(2, 5, 4, generator=g)
    labels = torch.full((2, 5), -100)
    labels[0, 1], labels[1, 4], labels[1, 0] = 3, 7, 1
    keep = labels != -100
    loss, m = distillation_loss(s, te, hs, ht, labels=labels, temperature=3.0, alpha=0.5,
                                beta=2.0, gamma=0.25)  # fmt: skip
    want = 0.5 * 9 * soft_cross_entropy(s[keep], te[keep], 3.0)
    want = (
        want + 2.0 * F.cross_entropy(s[keep], labels[keep]) + 0.25 * cosine_loss(hs[keep], ht[keep])
    )
    torch.testing.assert_close(loss, want)
    assert set(m) == {"distill_ce", "cosine", "mlm"}
    # without labels: every non-padding position, and no MLM term
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    loss2, m2 = distillation_loss(s, te, hs, ht, attention_mask=mask, temperature=1.0)
    keep2 = mask.bool()
    torch.testing.assert_close(
        loss2, 5.0 * soft_cross_entropy(s[keep2], te[keep2]) + cosine_loss(hs[keep2], ht[keep2])
    )
    assert "mlm" not in m2


def test_teacher_receives_no_gradient():
    s = torch.randn(1, 3, 5, requires_grad=True)
    te = torch.randn(1, 3, 5, requires_grad=True)
    h = torch.randn(1, 3, 4, requires_grad=True)
    ht = torch.randn(1, 3, 4, requires_grad=True)
    distillation_loss(s, te, h, ht)[0].backward()
    assert te.grad is None and ht.grad is None and s.grad is not None


def test_student_takes_one_layer_out_of_two():
    torch.manual_seed(0)
    teacher = BERT(vocab_size=30, hidden=16, layers=6, heads=2, intermediate=20, max_len=12,
                   num_labels=2).double().eval()  # fmt: skip
    student = student_from_teacher(teacher)
    assert student.num_layers == 3 and not student.training
    for i, j in enumerate([0, 2, 4]):
        for (n1, p1), (n2, p2) in zip(
            student.layers[i].named_parameters(), teacher.layers[j].named_parameters(), strict=True
        ):
            assert n1 == n2 and torch.equal(p1, p2)
    x = torch.randint(1, 30, (2, 7))
    # the student's forward is the teacher's embeddings then teacher layers 0, 2, 4
    h = teacher.emb_norm(
        teacher.tok_emb(x) + teacher.pos_emb.weight[:7] + teacher.seg_emb.weight[0]
    )
    for j in (0, 2, 4):
        h = teacher.layers[j](h)
    torch.testing.assert_close(student(x), h, rtol=0, atol=1e-12)
    torch.testing.assert_close(student.classifier.weight, teacher.classifier.weight)
    assert sum(p.numel() for p in student.parameters()) < sum(
        p.numel() for p in teacher.parameters()
    )
    with pytest.raises(ValueError):
        student_from_teacher(teacher, every=0)
