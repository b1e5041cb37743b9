"""replearn.ssl.methods: losses wired to the oracles, queues and EMA updates checked exactly."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from replearn.ssl import losses as L
from replearn.ssl.encoders import ConvEncoder, projection_mlp
from replearn.ssl.methods import (
    BYOL,
    CLIP,
    DINO,
    BarlowTwins,
    CaptionVocab,
    KnowledgeDistillation,
    MoCo,
    SimCLR,
    TextEncoder,
    cosine_momentum,
    teacher_temperature,
)
from replearn.ssl.methods.clip import make_captions


def _enc(dtype: torch.dtype = torch.float64) -> ConvEncoder:
    return ConvEncoder((1, 24), width=4, features=16).to(dtype)


def _views(n: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 1, 24, generator=g, dtype=torch.float64),
            torch.randn(n, 1, 24, generator=g, dtype=torch.float64))  # fmt: skip


def test_encoder_shapes() -> None:
    assert ConvEncoder((1, 40), width=8, features=32)(torch.randn(3, 40)).shape == (3, 32)
    assert ConvEncoder((1, 28, 28), width=8, features=32)(torch.randn(3, 1, 28, 28)).shape == (
        3,
        32,
    )
    assert ConvEncoder((1, 8, 8), width=8, features=32)(torch.randn(3, 1, 8, 8)).shape == (3, 32)
    with pytest.raises(ValueError):
        ConvEncoder((1,))
    assert projection_mlp(4, 8, 2, layers=3)(torch.randn(5, 4)).shape == (5, 2)


def test_schedules() -> None:
    assert cosine_momentum(0.0, 0.99) == pytest.approx(0.99)
    assert cosine_momentum(1.0, 0.99) == pytest.approx(1.0)
    assert cosine_momentum(0.5, 0.99) == pytest.approx(0.995)
    assert teacher_temperature(0.0, start=0.04, end=0.07, warmup=0.5) == pytest.approx(0.04)
    assert teacher_temperature(0.25, start=0.04, end=0.07, warmup=0.5) == pytest.approx(0.055)
    assert teacher_temperature(0.9, start=0.04, end=0.07, warmup=0.5) == 0.07


def test_simclr_loss_is_nt_xent_of_projections() -> None:
    torch.manual_seed(0)
    model = SimCLR(_enc(), feat_dim=16, proj_dim=8, hidden=16, temperature=0.3).double()
    x1, x2 = _views()
    loss, _z1 = model(x1, x2)
    want = L.nt_xent(model.project(x1), model.project(x2), temperature=0.3)
    assert math.isclose(float(loss), float(want), rel_tol=1e-12)
    no_head = SimCLR(_enc(), feat_dim=16, head=False).double()
    assert no_head(x1, x2)[1].shape == (8, 16)


def test_moco_queue_holds_the_last_keys_in_order() -> None:
    torch.manual_seed(0)
    model = MoCo(_enc(), feat_dim=16, proj_dim=4, hidden=8, queue_size=10).double()
    keys = []
    for step in range(4):  # 4 batches of 3 keys: 12 > 10, the queue wraps around
        x1, x2 = _views(3, seed=step)
        queue_before = model.queue.clone()
        loss, _ = model(x1, x2)
        with torch.no_grad():
            q, k = model.query(x1), model.key(x2)
        want = L.info_nce(q, k, queue_before, temperature=model.temperature)
        assert math.isclose(float(loss), float(want), rel_tol=1e-12)
        keys.append(torch.nn.functional.normalize(k, dim=1))
    all_keys = torch.cat(keys)  # (12, 4): slot i holds key j with j = i (mod 10), latest wins
    expected = torch.cat([all_keys[10:12], all_keys[2:10]])
    assert torch.equal(model.queue, expected)
    assert int(model.queue_ptr) == 2
    model.eval()
    before = model.queue.clone()
    model(*_views(3, seed=9))
    assert torch.equal(model.queue, before)  # evaluation does not enqueue


def test_moco_momentum_update_is_exact() -> None:
    torch.manual_seed(0)
    model = MoCo(_enc(), feat_dim=16, proj_dim=4, hidden=8, queue_size=5, momentum=0.9).double()
    with torch.no_grad():
        for p in model.query.parameters():
            p.add_(torch.randn_like(p))
    old = [p.clone() for p in model.key.module.parameters()]
    model.momentum_update()
    for k_new, k_old, q in zip(
        model.key.module.parameters(), old, model.query.parameters(), strict=True
    ):
        torch.testing.assert_close(k_new, 0.9 * k_old + 0.1 * q, rtol=1e-14, atol=1e-15)
        assert not k_new.requires_grad


def test_byol_loss_and_scheduled_ema() -> None:
    torch.manual_seed(0)
    model = BYOL(_enc(), feat_dim=16, proj_dim=4, hidden=8, base_momentum=0.9).double()
    x1, x2 = _views()
    with torch.no_grad():
        for p in model.online.parameters():
            p.add_(0.1 * torch.randn_like(p))
    loss, _ = model(x1, x2)
    z1, z2 = model.online(x1), model.online(x2)
    t1, t2 = model.target(x1), model.target(x2)
    want = L.byol_loss(model.predictor(z1), t2) + L.byol_loss(model.predictor(z2), t1)
    assert math.isclose(float(loss), float(want), rel_tol=1e-12)
    old = [p.clone() for p in model.target.module.parameters()]
    tau = cosine_momentum(0.5, 0.9)
    model.momentum_update(0.5)
    for new, o, p in zip(
        model.target.module.parameters(), old, model.online.parameters(), strict=True
    ):
        torch.testing.assert_close(new, tau * o + (1 - tau) * p, rtol=1e-14, atol=1e-15)
    no_ema = BYOL(_enc(), feat_dim=16, proj_dim=4, hidden=8, ema=False).double()
    assert no_ema.decay(0.3) == 0.0


def test_barlow_twins_loss_and_ablation() -> None:
    torch.manual_seed(0)
    model = BarlowTwins(_enc(), feat_dim=16, proj_dim=6, hidden=8, lambd=0.1).double()
    x1, x2 = _views()
    loss, _ = model(x1, x2)
    z1, z2 = model.projector(model.encoder(x1)), model.projector(model.encoder(x2))
    want, inv, _ = L.barlow_twins_loss(z1, z2, lambd=0.1)
    assert math.isclose(float(loss), float(want), rel_tol=1e-12)
    model.redundancy = False
    assert math.isclose(float(model(x1, x2)[0]), float(inv), rel_tol=1e-12)


def test_dino_loss_centre_and_teacher() -> None:
    torch.manual_seed(0)
    model = DINO(_enc(), feat_dim=16, out_dim=10, hidden=8, bottleneck=4).double()
    model.center.add_(torch.randn(10, dtype=torch.float64))
    x1, x2 = _views()
    local = torch.randn(8, 1, 24, dtype=torch.float64)
    center = model.center.clone()
    loss, _t0 = model(x1, x2, local)
    s = torch.stack([model.student(v) for v in (x1, x2, local)])
    t = torch.stack([model.teacher(x1), model.teacher(x2)])
    want = L.dino_loss(s, t, center, student_temp=0.1, teacher_temp=model.teacher_temp())
    assert math.isclose(float(loss), float(want), rel_tol=1e-12)
    torch.testing.assert_close(
        model.center, 0.9 * center + 0.1 * t.mean((0, 1)), rtol=1e-12, atol=1e-14
    )
    loss.backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    model.sharpening = False
    assert model.teacher_temp() == model.student_temp


def test_clip_loss_and_zero_shot() -> None:
    torch.manual_seed(0)
    vocab = CaptionVocab(make_captions(torch.arange(10), [str(i) for i in range(10)], seed=0))
    assert vocab.decode(vocab.encode(["a photo of a three."])[0]) == "a photo of a three"
    model = CLIP(_enc(), TextEncoder(len(vocab), dim=8, features=12), image_dim=16, text_dim=12,
                 embed_dim=6).double()  # fmt: skip
    x = torch.randn(5, 1, 24, dtype=torch.float64)
    tokens = vocab.encode(["a photo of a one.", "the two.", "this is a three.", "four", "five"])
    loss, _ = model(x, tokens)
    want = L.clip_loss(model.encode_image(x), model.encode_text(tokens), model.logit_scale)
    assert math.isclose(float(loss), float(want), rel_tol=1e-12)
    prompts = torch.stack(
        [vocab.encode([f"a photo of a {w}.", f"the {w}."]) for w in ("one", "two")]
    )
    logits = model.zero_shot_logits(x, prompts)  # (5, 2)
    e = torch.nn.functional.normalize(model.encode_text(prompts.reshape(4, -1)), dim=-1)
    cls = torch.nn.functional.normalize(e.reshape(2, 2, -1).mean(1), dim=-1)
    img = torch.nn.functional.normalize(model.encode_image(x), dim=-1)
    torch.testing.assert_close(logits, img @ cls.T, rtol=1e-12, atol=1e-12)


def test_distillation_module_freezes_the_teacher() -> None:
    torch.manual_seed(0)
    student, teacher = nn.Linear(4, 3).double(), nn.Linear(4, 3).double()
    kd = KnowledgeDistillation(student, teacher, temperature=3.0, alpha=0.7)
    kd.train()
    assert not kd.teacher.training
    x, y = torch.randn(6, 4, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1, 2])
    loss, _ = kd(x, y)
    want = L.kd_objective(student(x), teacher(x), y, temperature=3.0, alpha=0.7)
    assert math.isclose(float(loss), float(want), rel_tol=1e-12)
    loss.backward()
    assert teacher.weight.grad is None and student.weight.grad is not None
    with pytest.raises(ValueError):
        KnowledgeDistillation(student, teacher, temperature=0.0)
