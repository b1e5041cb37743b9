"""CycleGAN: losses, image pool rules, shapes, PatchGAN receptive field."""

from __future__ import annotations

import pytest
import torch

from replearn.gan.cyclegan import (
    CycleGAN,
    ImagePool,
    PatchDiscriminator,
    ResnetGenerator,
    cycle_consistency_loss,
    identity_loss,
)


def test_losses_are_mean_absolute_errors():
    g = torch.Generator().manual_seed(0)
    x, a, y, b = (torch.randn(3, 1, 4, 4, generator=g, dtype=torch.float64) for _ in range(4))
    ref = (a - x).abs().mean() + (b - y).abs().mean()
    torch.testing.assert_close(cycle_consistency_loss(x, a, y, b), ref)
    torch.testing.assert_close(identity_loss(x, a, y, b), ref)
    assert float(cycle_consistency_loss(x, x, y, y)) == 0.0


def test_image_pool_rules_and_state():
    pool = ImagePool(4, (1, 2, 2))
    g = torch.Generator().manual_seed(0)
    first = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 1, 2, 2).clone()
    torch.testing.assert_close(pool.query(first, g), first)  # filling: returned as given
    assert int(pool.count) == 4
    new = (torch.arange(200.0) + 10).view(200, 1, 1, 1).expand(200, 1, 2, 2).clone()
    out = pool.query(new, g)
    swapped = out[:, 0, 0, 0] != new[:, 0, 0, 0]
    # about half of the returned images are older ones (binomial(200, 1/2): 3.5 sigma bounds)
    assert 75 < int(swapped.sum()) < 125
    # a returned old image is a first-batch image or an earlier image of this batch
    for i in swapped.nonzero().flatten().tolist():
        v = float(out[i, 0, 0, 0])
        assert v in (0.0, 1.0, 2.0, 3.0) or 10 <= v < 10 + i
    state = pool.state_dict()
    assert set(state) == {"images", "count"}
    assert (state["images"] >= 10).all()  # every first-batch image was swapped out by now
    assert torch.equal(ImagePool(0, (1,)).query(new), new)


def test_shapes_and_patch_receptive_field():
    torch.manual_seed(0)
    gen = ResnetGenerator(width=8)
    x = torch.randn(2, 1, 28, 28)
    assert gen(x).shape == (2, 1, 28, 28)
    d = PatchDiscriminator(width=8).double()
    d.net[3] = torch.nn.Identity()  # instance norm mixes every position: measure the convs
    inp = torch.zeros(1, 1, 28, 28, dtype=torch.float64, requires_grad=True)
    out = d(inp)
    assert out.shape == (1, 1, 6, 6)
    out[0, 0, 3, 3].backward()
    rows = (inp.grad[0, 0].abs().sum(1) > 0).nonzero().flatten()
    assert int(rows.max() - rows.min() + 1) == 22  # 4, then (4 - 1) 2 + 4, then (10 - 1) 2 + 4


def test_cyclegan_objective_and_critic_loss():
    torch.manual_seed(0)
    model = CycleGAN(width=4, image_size=8, pool_size=2)
    x, y = torch.rand(3, 1, 8, 8) * 2 - 1, torch.rand(3, 1, 8, 8) * 2 - 1
    loss = model(x, y)
    assert loss.shape == () and torch.isfinite(loss)
    fake_y, fake_x, _, _ = model.translate(x, y)
    d_loss = model.discriminator_loss(x, y, fake_x, fake_y)
    assert torch.isfinite(d_loss) and int(model.pool_X.count) == 2
    with pytest.raises(ValueError):
        CycleGAN(lambda_cyc=-1.0)
