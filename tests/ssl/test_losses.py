"""replearn.ssl.losses against the brute-force float64 loops of replearn.ssl.reference."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from replearn.ssl import losses as L
from replearn.ssl import reference as R

RTOL, ATOL = 1e-10, 1e-12


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("temperature", [0.07, 0.5, 2.0])
def test_info_nce_matches_loop(temperature: float) -> None:
    q, k, neg = _randn(6, 5, seed=1), _randn(6, 5, seed=2), _randn(9, 5, seed=3)
    got = L.info_nce(q, k, neg, temperature=temperature)
    want = R.info_nce_loop(q, k, neg, temperature=temperature)
    assert got.dtype == torch.float64
    assert math.isclose(float(got), want, rel_tol=RTOL, abs_tol=ATOL)


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_nt_xent_matches_loop(temperature: float) -> None:
    z1, z2 = _randn(7, 4, seed=4), _randn(7, 4, seed=5)
    got = L.nt_xent(z1, z2, temperature=temperature)
    assert math.isclose(float(got), R.nt_xent_loop(z1, z2, temperature=temperature), rel_tol=RTOL)


def test_nt_xent_perfect_pairs_beat_random_pairs() -> None:
    z = _randn(8, 16, seed=6)
    assert float(L.nt_xent(z, z, temperature=0.1)) < float(
        L.nt_xent(z, _randn(8, 16, seed=7), temperature=0.1)
    )


def test_clip_loss_matches_loop_and_trains_the_temperature() -> None:
    im, tx = _randn(6, 3, seed=8), _randn(6, 3, seed=9)
    scale = torch.tensor(math.log(1 / 0.07), dtype=torch.float64, requires_grad=True)
    got = L.clip_loss(im, tx, scale)
    assert math.isclose(
        float(got.detach()), R.clip_loss_loop(im, tx, float(scale.detach())), rel_tol=RTOL
    )
    got.backward()
    assert scale.grad is not None and float(scale.grad) != 0.0
    big = torch.tensor(10.0)
    L.clamp_logit_scale(big)
    assert math.isclose(float(big), math.log(100.0), rel_tol=1e-6)


def test_clip_loss_is_symmetric_in_its_arguments() -> None:
    im, tx, s = _randn(5, 4, seed=10), _randn(5, 4, seed=11), torch.tensor(1.5, dtype=torch.float64)
    assert math.isclose(float(L.clip_loss(im, tx, s)), float(L.clip_loss(tx, im, s)), rel_tol=RTOL)


def test_byol_loss_matches_loop_and_stops_the_target_gradient() -> None:
    p = _randn(5, 6, seed=12).requires_grad_()
    z = _randn(5, 6, seed=13).requires_grad_()
    got = L.byol_loss(p, z)
    assert math.isclose(float(got.detach()), R.byol_loss_loop(p.detach(), z.detach()), rel_tol=RTOL)
    got.backward()
    assert p.grad is not None and z.grad is None


@pytest.mark.parametrize("lambd", [0.0, 5e-3, 1.0])
def test_barlow_twins_matches_loop(lambd: float) -> None:
    z1, z2 = _randn(10, 4, seed=14) * 3 + 1, _randn(10, 4, seed=15)
    loss, inv, red = L.barlow_twins_loss(z1, z2, lambd=lambd)
    want = R.barlow_twins_loss_loop(z1, z2, lambd=lambd)
    for g, w in zip((loss, inv, red), want, strict=True):
        assert math.isclose(float(g), w, rel_tol=RTOL, abs_tol=ATOL)


def test_cross_correlation_of_identical_views_has_unit_diagonal() -> None:
    z = _randn(50, 3, seed=16)
    c = L.cross_correlation(z, z, eps=0.0)
    torch.testing.assert_close(torch.diagonal(c), torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(c, c.T)


@pytest.mark.parametrize(("v_t", "v_s"), [(2, 2), (2, 5)])
def test_dino_loss_matches_loop(v_t: int, v_s: int) -> None:
    s, t, c = _randn(v_s, 4, 6, seed=17), _randn(v_t, 4, 6, seed=18), _randn(6, seed=19)
    got = L.dino_loss(s, t, c, student_temp=0.1, teacher_temp=0.04)
    want = R.dino_loss_loop(s, t, c, student_temp=0.1, teacher_temp=0.04)
    assert math.isclose(float(got), want, rel_tol=RTOL)


def test_dino_center_update_is_the_ema_of_the_batch_mean() -> None:
    c, t = _randn(6, seed=20), _randn(2, 4, 6, seed=21)
    got = L.dino_center_update(c, t, momentum=0.9)
    want = [0.9 * float(c[k]) + 0.1 * float(t[:, :, k].mean()) for k in range(6)]
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64), rtol=RTOL, atol=ATOL)


def test_dino_teacher_gets_no_gradient() -> None:
    s, t = _randn(3, 2, 5, seed=22).requires_grad_(), _randn(2, 2, 5, seed=23).requires_grad_()
    L.dino_loss(s, t, torch.zeros(5, dtype=torch.float64), student_temp=0.1, teacher_temp=0.04)
    L.dino_loss(
        s, t, torch.zeros(5, dtype=torch.float64), student_temp=0.1, teacher_temp=0.04
    ).backward()
    assert s.grad is not None and t.grad is None


def test_ijepa_loss_matches_loop() -> None:
    pred, target = _randn(3, 4, 8, seed=24), _randn(3, 4, 8, seed=25) * 2 + 1
    assert math.isclose(
        float(L.ijepa_loss(pred, target)), R.ijepa_loss_loop(pred, target), rel_tol=RTOL
    )


@pytest.mark.parametrize("temperature", [1.0, 4.0, 20.0])
def test_distillation_loss_matches_loop(temperature: float) -> None:
    z, v = _randn(5, 7, seed=26), _randn(5, 7, seed=27)
    got = L.distillation_loss(z, v, temperature=temperature)
    assert math.isclose(
        float(got), R.distillation_loss_loop(z, v, temperature=temperature), rel_tol=RTOL
    )


@pytest.mark.parametrize("temperature", [1.0, 3.0, 10.0])
def test_distillation_gradient_is_t_times_q_minus_p(temperature: float) -> None:
    """d(T^2 KL)/dz = T (q - p) per example; the batch mean divides by N."""
    z = _randn(4, 6, seed=28).requires_grad_()
    v = _randn(4, 6, seed=29)
    L.distillation_loss(z, v, temperature=temperature).backward()
    q, p = F.softmax(z.detach() / temperature, -1), F.softmax(v / temperature, -1)
    torch.testing.assert_close(z.grad, temperature * (q - p) / 4, rtol=1e-10, atol=1e-12)


def test_distillation_t_squared_keeps_gradients_on_scale() -> None:
    """High-T limit (Hinton et al. Eq. 4): with zero-mean logits the gradient tends to
    (z - v) / N independently of T; without the T^2 factor it would shrink like 1 / T^2."""
    z = _randn(1, 10, seed=30)
    v = _randn(1, 10, seed=31)
    z, v = z - z.mean(), v - v.mean()
    limit = (z - v) / 10
    norms = []
    for temperature in (50.0, 500.0):
        zz = z.clone().requires_grad_()
        L.distillation_loss(zz, v, temperature=temperature).backward()
        norms.append(float(zz.grad.norm()))
        torch.testing.assert_close(
            zz.grad, limit, rtol=0.0, atol=5 / temperature * limit.abs().max()
        )
    assert math.isclose(norms[0], norms[1], rel_tol=0.02)
    plain = z.clone().requires_grad_()
    (L.distillation_loss(plain, v, temperature=500.0) / 500.0**2).backward()
    assert float(plain.grad.norm()) < 1e-4 * norms[1]


def test_kd_objective_interpolates_soft_and_hard() -> None:
    z, v, y = _randn(6, 4, seed=32), _randn(6, 4, seed=33), torch.tensor([0, 1, 2, 3, 0, 1])
    soft = L.distillation_loss(z, v, temperature=2.0)
    hard = F.cross_entropy(z, y)
    got = L.kd_objective(z, v, y, temperature=2.0, alpha=0.3)
    torch.testing.assert_close(got, 0.3 * soft + 0.7 * hard, rtol=1e-12, atol=0.0)
