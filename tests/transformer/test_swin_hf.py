"""Swin.from_hf: transformers SwinModel / SwinForImageClassification with copied weights."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from replearn.transformer.swin.hf import hf_keys
from replearn.transformer.swin.model import Swin

transformers = pytest.importorskip("transformers")

TOL = {"rtol": 0.0, "atol": 1e-5}


def randomize_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Redraw every tensor; bias tables at std 1 so that a wrong relative index shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            std = 1.0 if "bias_table" in name else (0.3 if p.ndim > 1 else 0.5)
            p.normal_(0.0, std, generator=g)
    return model


CONFIGS = {  # name -> SwinConfig arguments (image_size, patch, window, depths, ...)
    "divisible": dict(image_size=16, patch_size=2, window_size=4, depths=(2, 2), num_heads=(2, 4)),
    "fashion-like": dict(image_size=28, patch_size=2, window_size=7, depths=(2, 2),
                         num_heads=(2, 2), mlp_ratio=2.0),
    "pad-image": dict(image_size=30, patch_size=4, window_size=4, depths=(2, 2),
                      num_heads=(1, 2), qkv_bias=False),
    "pad-window-and-merge": dict(image_size=18, patch_size=2, window_size=4, depths=(2, 2),
                                 num_heads=(2, 2), use_absolute_embeddings=True),
    "three-stages": dict(image_size=16, patch_size=1, window_size=4, depths=(2, 1, 2),
                         num_heads=(1, 2, 2), layer_norm_eps=1e-6, hidden_act="gelu_new"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("head", ["SwinModel", "SwinForImageClassification"])
def test_from_hf_matches_transformers(name, head):
    cfg = transformers.SwinConfig(num_channels=2, embed_dim=8, num_labels=3, **CONFIGS[name])
    theirs = randomize_(getattr(transformers, head)(cfg)).eval()
    ours = Swin.from_hf(theirs)
    assert not ours.training
    s = cfg.image_size
    x = torch.randn(2, 2, s, s, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = theirs(pixel_values=x)
        if head == "SwinModel":
            torch.testing.assert_close(ours.forward_features(x), out.last_hidden_state, **TOL)
            torch.testing.assert_close(ours(x), out.pooler_output, **TOL)
        else:
            torch.testing.assert_close(ours(x), out.logits, **TOL)


def test_from_hf_training_loss_and_gradients_match():
    cfg = transformers.SwinConfig(num_channels=2, embed_dim=8, num_labels=3, drop_path_rate=0.0,
                                  **CONFIGS["divisible"])  # fmt: skip
    theirs = randomize_(transformers.SwinForImageClassification(cfg)).train()
    ours = Swin.from_hf(theirs)
    x = torch.randn(4, 2, 16, 16, generator=torch.Generator().manual_seed(2))
    y = torch.tensor([0, 2, 1, 2])
    loss_theirs = theirs(pixel_values=x, labels=y).loss
    loss_ours = F.cross_entropy(ours(x), y)
    torch.testing.assert_close(loss_ours, loss_theirs, **TOL)
    loss_ours.backward()
    loss_theirs.backward()
    blk = theirs.swin.encoder.layers[0].blocks[1].attention  # a shifted block
    table = blk.relative_position_bias.relative_position_bias_table.grad
    ours_blk = ours.stages[0].blocks[1].attn
    torch.testing.assert_close(ours_blk.bias_table.grad, table, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours_blk.qkv.weight.grad[16:], blk.v_proj.weight.grad,
                               rtol=1e-4, atol=1e-5)  # fmt: skip


def test_hf_keys():
    assert hf_keys("stages.1.blocks.0.attn.qkv.bias", "swin.") == [
        f"swin.encoder.layers.1.blocks.0.attention.{x}_proj.bias" for x in "qkv"
    ]
    assert hf_keys("stages.0.blocks.1.attn.bias_table", "") == [
        "encoder.layers.0.blocks.1.attention.relative_position_bias.relative_position_bias_table"
    ]
    assert hf_keys("stages.0.downsample.reduction.weight", "") == [
        "encoder.layers.0.downsample.reduction.weight"
    ]
    assert hf_keys("head.bias", "swin.") == ["classifier.bias"]
    assert hf_keys("patch_norm.weight", "swin.") == ["swin.embeddings.norm.weight"]


def test_from_hf_refuses_what_transformers_cannot_run_or_we_cannot_load():
    cfg = transformers.SwinConfig(image_size=16, patch_size=2, window_size=4, embed_dim=8,
                                  depths=(1, 1, 1), num_heads=(1, 1, 1))  # fmt: skip
    with pytest.raises(ValueError, match="resolution 2 < window 4"):
        Swin.from_hf(transformers.SwinModel(cfg))
    cfg = transformers.SwinConfig(embed_dim=8, **CONFIGS["divisible"])
    with pytest.raises(ValueError, match="not used"):
        Swin.from_hf(transformers.SwinModel(cfg, use_mask_token=True))
