"""Stabilizers vs finite differences, explicit loops and closed forms (float64)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from replearn.gan import losses as L
from replearn.gan.tricks import (
    MinibatchDiscrimination,
    apply_spectral_norm,
    call_with,
    clip_weights_,
    gradient_penalty,
    layer_sigmas,
    operator_norm,
    pack,
    unrolled_parameters,
)


def _setup(seed=0):
    torch.manual_seed(seed)
    gen = nn.Linear(2, 2).double()
    disc = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    z = torch.randn(16, 2, dtype=torch.float64)
    real = torch.randn(16, 2, dtype=torch.float64) + 1.0
    return gen, disc, z, real


def _unrolled_g_loss(gen, disc, z, real, steps, lr):
    fake = gen(z)

    def d_loss(params):
        return L.discriminator_minimax_loss(
            call_with(disc, params, real).squeeze(1), call_with(disc, params, fake).squeeze(1)
        )

    params = unrolled_parameters(disc, d_loss, steps=steps, lr=lr)
    return L.generator_nonsaturating_loss(call_with(disc, params, fake).squeeze(1))


def test_unrolled_zero_steps_is_plain_loss():
    gen, disc, z, real = _setup()
    plain = L.generator_nonsaturating_loss(disc(gen(z)).squeeze(1))
    torch.testing.assert_close(_unrolled_g_loss(gen, disc, z, real, 0, 0.1), plain)


def test_unrolled_gradient_matches_finite_differences():
    gen, disc, z, real = _setup(1)
    loss = _unrolled_g_loss(gen, disc, z, real, 3, 0.5)
    (grad,) = torch.autograd.grad(loss, gen.weight)
    h = 1e-6
    fd = torch.zeros_like(gen.weight)
    w = gen.weight.data  # perturbed in place; the look-ahead itself needs autograd
    for i in range(2):
        for j in range(2):
            w[i, j] += h
            up = float(_unrolled_g_loss(gen, disc, z, real, 3, 0.5).detach())
            w[i, j] -= 2 * h
            down = float(_unrolled_g_loss(gen, disc, z, real, 3, 0.5).detach())
            w[i, j] += h
            fd[i, j] = (up - down) / (2 * h)
    torch.testing.assert_close(grad, fd, rtol=1e-6, atol=1e-8)
    # and it differs from the gradient that ignores the look-ahead's dependence on G
    fake = gen(z)
    (naive,) = torch.autograd.grad(
        L.generator_nonsaturating_loss(disc(fake).squeeze(1)), gen.weight
    )
    assert not torch.allclose(grad, naive, atol=1e-4)


def test_minibatch_discrimination_matches_loops():
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(5, 3, 4).double()
    x = torch.randn(6, 5, dtype=torch.float64)
    out = layer(x)
    t = layer.T.view(5, 3, 4)
    ref = torch.zeros(6, 3, dtype=torch.float64)
    for i in range(6):
        mi = torch.einsum("a,abc->bc", x[i], t)
        for j in range(6):
            mj = torch.einsum("a,abc->bc", x[j], t)
            ref[i] += torch.exp(-(mi - mj).abs().sum(1))
    torch.testing.assert_close(out[:, :5], x)
    torch.testing.assert_close(out[:, 5:], ref)
    # identical samples: every kernel sums to the batch size
    same = layer(x[:1].repeat(4, 1))
    torch.testing.assert_close(same[:, 5:], torch.full((4, 3), 4.0, dtype=torch.float64))
    assert "kernel_dim=4" in repr(layer)


def test_pack_concatenates_consecutive_samples():
    x = torch.randn(6, 3, 4, 4)
    p = pack(x, 3)
    assert p.shape == (2, 9, 4, 4)
    torch.testing.assert_close(p[1], torch.cat([x[3], x[4], x[5]], dim=0))
    torch.testing.assert_close(pack(torch.randn(4, 2)[:, :], 2)[0].shape, torch.Size([4]))
    with pytest.raises(ValueError, match="divisible"):
        pack(x, 4)


def test_clip_weights():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 5), nn.Linear(5, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(10)
    clip_weights_(net, 0.01)
    assert all(p.abs().max() <= 0.01 for p in net.parameters())
    with pytest.raises(ValueError):
        clip_weights_(net, 0.0)


def test_gradient_penalty_linear_critic_closed_form():
    w = torch.tensor([[0.6, -1.7, 0.2]], dtype=torch.float64)
    real, fake = torch.randn(8, 3, dtype=torch.float64), torch.randn(8, 3, dtype=torch.float64)
    gp = gradient_penalty(lambda x: x @ w.T, real, fake, weight=10.0)
    assert float(gp) == pytest.approx(10 * (float(w.norm()) - 1) ** 2, rel=1e-12)


def test_gradient_penalty_quadratic_critic_and_eps():
    """f(x) = |x|^2 / 2: grad = x_hat, so the penalty is mean (|x_hat| - 1)^2."""
    real, fake = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    eps = torch.rand(5, dtype=torch.float64)
    x_hat = eps[:, None] * real + (1 - eps[:, None]) * fake
    ref = ((x_hat.norm(dim=1) - 1) ** 2).mean()
    gp = gradient_penalty(lambda x: 0.5 * (x**2).sum(1), real, fake, weight=1.0, eps=eps)
    torch.testing.assert_close(gp, ref)
    # differentiable w.r.t. the critic's parameters
    lin = nn.Linear(4, 1).double()
    gradient_penalty(lin, real, fake).backward()
    assert lin.weight.grad is not None and torch.isfinite(lin.weight.grad).all()


def test_spectral_norm_every_layer_sigma_one():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(8 * 16, 1)
    )
    apply_spectral_norm(net, n_power_iterations=1)
    for _ in range(30):  # power iteration converges over training forwards
        net(torch.randn(2, 1, 4, 4))
    net.eval()
    sig = layer_sigmas(net)
    assert set(sig) == {"0", "3"}
    for value in sig.values():
        assert value == pytest.approx(1.0, abs=1e-3)
    # the linear layer's Lipschitz constant is then exactly sigma = 1
    w = net[3].weight.detach().double()
    assert operator_norm(lambda x: x @ w.T, (1, 128)) == pytest.approx(1.0, abs=1e-3)


def test_operator_norm_of_conv_vs_dense_matrix():
    torch.manual_seed(1)
    k = torch.randn(3, 2, 3, 3, dtype=torch.float64)
    fn = lambda x: F.conv2d(x, k, padding=1)  # noqa: E731
    # dense Jacobian of the conv on 5x5 inputs: its largest singular value
    eye = torch.eye(2 * 25, dtype=torch.float64).view(50, 2, 5, 5)
    jac = fn(eye).flatten(1).T  # (out, in)
    exact = float(torch.linalg.matrix_norm(jac, ord=2))
    assert operator_norm(fn, (1, 2, 5, 5), iters=300) == pytest.approx(exact, rel=1e-6)
