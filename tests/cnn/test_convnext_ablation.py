"""ConvNeXt ablation block vs the published block; pieces of cnn-convnext, cnn-scaling,
cnn-dilation and cnn-parallel."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from replearn.cnn.convnext import ConvNeXt, ConvNeXtBlock
from replearn.cnn.convnext_ablation import AblatedConvNeXtBlock, ablated_convnext
from replearn.experiments.cnn import cnn_convnext, cnn_dilation, cnn_parallel, cnn_scaling
from replearn.experiments.cnn.common import count_flops


def test_default_block_equals_convnext_block_float64():
    torch.manual_seed(0)
    ref = ConvNeXtBlock(8, layer_scale_init=0.5).double()
    ours = AblatedConvNeXtBlock(8, layer_scale_init=0.5).double()
    ours.load_state_dict(ref.state_dict(), strict=False)
    with torch.no_grad():
        ours.gamma.copy_(ref.gamma)
    x = torch.randn(2, 8, 7, 7, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-12, atol=1e-12)


def test_ablated_convnext_default_equals_convnext():
    torch.manual_seed(1)
    ref = ConvNeXt((1, 2), (8, 16), num_classes=3, in_chans=1, patch_size=2).double()
    ours = ablated_convnext((1, 2), (8, 16), num_classes=3, in_chans=1, patch_size=2).double()
    missing = ours.load_state_dict(ref.state_dict(), strict=True)
    assert not missing.missing_keys
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "opts, check",
    [
        ({"kernel_size": 3}, lambda b: b.conv_dw.kernel_size == (3, 3)),
        ({"norm": "batch"}, lambda b: isinstance(b.norm, nn.BatchNorm2d)),
        ({"act": "relu"}, lambda b: isinstance(b.act, nn.ReLU)),
        ({"expansion": 1}, lambda b: b.pwconv1.out_features == 8),
    ],
)
def test_each_option_changes_one_thing(opts, check):
    block = AblatedConvNeXtBlock(8, **opts)
    assert check(block)
    assert block(torch.randn(2, 8, 5, 5)).shape == (2, 8, 5, 5)


def test_ablated_block_validation():
    with pytest.raises(ValueError, match="odd kernel"):
        AblatedConvNeXtBlock(8, kernel_size=4)
    with pytest.raises(ValueError, match="norm must be"):
        AblatedConvNeXtBlock(8, norm="group")
    with pytest.raises(ValueError, match="stochastic depth"):
        ablated_convnext((1,), (8,), drop_path_rate=0.1)


def test_convnext_peers_have_similar_flops_at_the_default():
    cfg = cnn_convnext.Config()
    x = torch.zeros(1, 1, cfg.resolution, cfg.resolution)
    b = cnn_convnext.builders(cfg, 10)
    f = {n: count_flops(b[n](), x) for n in ("convnext", "vit", "swin")}
    for peer in ("vit", "swin"):
        assert 1 / cfg.flops_factor <= f[peer] / f["convnext"] <= cfg.flops_factor


def test_scaling_variants_match_compound_flops():
    cfg = cnn_scaling.tiny()
    v = cnn_scaling.scaled_variants(cfg, 10)
    assert v["compound"][:2] == pytest.approx((1.2, 1.1))
    for name in cnn_scaling.ALTERNATIVES:
        assert abs(v[name][3] / v["compound"][3] - 1) <= 0.25, (name, v)
    assert v["depth"][1:3] == (1.0, cfg.base_resolution) and v["width"][0] == 1.0


def test_dilated_cnn_same_cost_larger_receptive_field():
    plain, dil = (
        cnn_dilation.dilated_cnn((1, 1, 1), 4, 10),
        cnn_dilation.dilated_cnn((1, 2, 4), 4, 10),
    )
    x = torch.zeros(1, 1, 16, 16)
    assert sum(p.numel() for p in plain.parameters()) == sum(p.numel() for p in dil.parameters())
    assert count_flops(plain, x) == count_flops(dil, x)
    # the centre output of the last conv depends on 15 (dilated) vs 7 (plain) input columns
    for net, width in ((plain, 7), (dil, 15)):
        with torch.no_grad():  # positive weights and inputs: every ReLU passes its gradient
            for p in net.parameters():
                p.abs_().add_(0.01)
        xg = torch.ones(1, 1, 31, 31, requires_grad=True)
        net[:-3](xg)[0, 0, 15, 15].backward()
        cols = xg.grad[0, 0].abs().sum(0).nonzero().flatten()
        assert int(cols[-1] - cols[0] + 1) == width


def test_parallel_pieces():
    assert cnn_parallel.loglog_slope([1, 2, 4, 8], [3.0, 6.0, 12.0, 24.0]) == pytest.approx(1.0)
    h = cnn_parallel.gru_matching(32, 20000)
    n = sum(p.numel() for p in cnn_parallel.GRULM(32, h).parameters())
    assert n >= 20000 > sum(p.numel() for p in cnn_parallel.GRULM(32, h - 4).parameters())
    out = cnn_parallel.GRULM(32, 8)(torch.randint(0, 32, (2, 5)))
    assert out.shape == (2, 32, 5)


def test_convnext_and_scaling_verdicts_check_the_whole_statement():
    yes, no = {"holds": True}, {"holds": False}
    acc = {n: [0.9, 0.9, 0.9] for n in ("convnext", "vit", "swin", *cnn_convnext.ABLATIONS)}
    m = {"test_accuracy": acc, "params": dict.fromkeys(acc, 1), "evidence": dict.fromkeys(acc, "e"),
         "flops": {**dict.fromkeys(acc, 100), "vit": 120}, "flops_factor": 1.5,
         "parity_tolerance": 0.02, "comparisons": dict.fromkeys(acc, yes)}  # fmt: skip
    assert cnn_convnext._verdict_peers(m)[0]
    assert not cnn_convnext._verdict_peers({**m, "flops": {**m["flops"], "swin": 200}})[0]
    assert not cnn_convnext._verdict_ablation({**m, "comparisons": {"relu": no}}, name="relu")[0]
    v = {n: {"depth": 1.0, "width": 1.0, "resolution": 8, "flops": 100, "mean_accuracy": 0.9}
         for n in ("compound", *cnn_scaling.ALTERNATIVES)}  # fmt: skip
    ms = {"variants": v, "flops_tolerance": 0.15, "evidence": dict.fromkeys(v, "e"),
          "comparisons": dict.fromkeys(cnn_scaling.ALTERNATIVES, yes)}  # fmt: skip
    assert cnn_scaling._verdict(ms)[0]
    v["width"]["flops"] = 130
    assert not cnn_scaling._verdict(ms)[0]
