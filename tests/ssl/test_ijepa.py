"""replearn.ssl.ijepa: block masks, the loss against ijepa_loss, no gradient to the target."""

from __future__ import annotations

import math

import pytest
import torch

from replearn.ssl.ijepa import IJEPA, TokenViT, block_masks
from replearn.ssl.losses import ijepa_loss
from replearn.ssl.methods import cosine_momentum


@pytest.mark.parametrize("grid", [(4, 4), (7, 7), (1, 10)])
def test_block_masks_are_disjoint_and_inside_the_grid(grid: tuple[int, int]) -> None:
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        ctx, tgt = block_masks(grid, 6, n_targets=4, generator=g)
        n = grid[0] * grid[1]
        assert ctx.shape[0] == 6 and tgt.shape[:2] == (6, 4) and ctx.shape[1] >= 1
        assert int(ctx.min()) >= 0 and int(ctx.max()) < n and int(tgt.max()) < n
        for b in range(6):
            assert not torch.isin(ctx[b], tgt[b].flatten()).any()
            assert len(ctx[b].unique()) == ctx.shape[1]
            for block in tgt[b]:  # a block is a rectangle: rows x cols
                rows, cols = block // grid[1], block % grid[1]
                assert len(block) == len(rows.unique()) * len(cols.unique())


def test_token_vit_shapes_and_keep() -> None:
    enc = TokenViT((1, 8, 8), patch=2, dim=16, depth=1, heads=2, mlp_dim=16)
    x = torch.rand(3, 1, 8, 8)
    assert enc(x).shape == (3, 16, 16)
    keep = torch.tensor([[0, 5, 9]] * 3)
    assert enc(x, keep=keep).shape == (3, 3, 16)
    sig = TokenViT((1, 40), patch=4, dim=16, depth=1, heads=2, mlp_dim=16)
    assert sig.grid == (1, 10) and sig(torch.randn(2, 40)).shape == (2, 10, 16)
    with pytest.raises(ValueError):
        TokenViT((1, 40), patch=3)


def test_ijepa_loss_matches_its_parts_and_target_is_frozen() -> None:
    torch.manual_seed(0)
    model = IJEPA((1, 8, 8), patch=2, dim=16, depth=1, heads=2, mlp_dim=16, pred_dim=8,
                  pred_depth=1, n_targets=2).double()  # fmt: skip
    x = torch.rand(3, 1, 8, 8, dtype=torch.float64)
    loss, pooled = model(x, generator=torch.Generator().manual_seed(1))
    ctx, tgt = model.masks(3, generator=torch.Generator().manual_seed(1))
    h = model.target(x)
    m, n_t = tgt.shape[1:]
    h_t = torch.stack([h[b, tgt[b].flatten()] for b in range(3)]).reshape(3 * m, n_t, -1)
    z = model.encoder(x, keep=ctx)
    pred = model.predictor(z.repeat_interleave(m, 0), ctx.repeat_interleave(m, 0),
                           tgt.reshape(3 * m, n_t))  # fmt: skip
    assert math.isclose(float(loss), float(ijepa_loss(pred, h_t)), rel_tol=1e-12)
    assert pooled.shape == (3, 16)
    loss.backward()
    assert all(p.grad is None for p in model.target.parameters())
    assert model.encoder.pos_embed.grad is not None and model.predictor.mask_token.grad is not None
    assert model.feature_extractor()(x).shape == (3, 16)


def test_ijepa_momentum_update() -> None:
    torch.manual_seed(0)
    model = IJEPA((1, 40), patch=4, dim=8, depth=1, heads=2, mlp_dim=8, pred_dim=8, pred_depth=1,
                  base_momentum=0.9).double()  # fmt: skip
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.add_(torch.randn_like(p))
    old = [p.clone() for p in model.target.module.parameters()]
    model.momentum_update(0.25)
    tau = cosine_momentum(0.25, 0.9)
    for new, o, p in zip(
        model.target.module.parameters(), old, model.encoder.parameters(), strict=True
    ):
        torch.testing.assert_close(new, tau * o + (1 - tau) * p, rtol=1e-14, atol=1e-15)
