"""vit_hf: every ViT tensor maps to transformers tensors used exactly once; strict loading."""

from __future__ import annotations

import pytest
import torch

from replearn.transformer.vit.hf import load_hf_tensors, vit_hf_keys
from replearn.transformer.vit.model import ViT

transformers = pytest.importorskip("transformers")

CONFIG = dict(image_size=8, patch_size=4, num_channels=1, hidden_size=16, num_hidden_layers=2,
              num_attention_heads=2, intermediate_size=32, num_labels=3)  # fmt: skip


@pytest.mark.parametrize("head", ["ViTModel", "ViTForImageClassification"])
def test_keys_cover_every_transformers_tensor_once(head):
    hf = getattr(transformers, head)(transformers.ViTConfig(**CONFIG))
    theirs = hf.state_dict()
    p = "vit." if head == "ViTForImageClassification" else ""
    ours = ViT.from_hf(hf)
    keys = [k for name in ours.state_dict() for k in vit_hf_keys(name, p)]
    assert sorted(keys) == sorted(theirs)  # each exactly once, nothing left over
    qkv = vit_hf_keys("blocks.1.qkv.weight", p)  # the fused projection: three of theirs, in order
    assert [k.rsplit(".", 2)[1] for k in qkv] == ["q_proj", "k_proj", "v_proj"]


def test_load_is_strict_both_ways():
    hf = transformers.ViTForImageClassification(transformers.ViTConfig(**CONFIG))
    theirs = dict(hf.state_dict())
    model = ViT.from_hf(hf)
    source = lambda k: vit_hf_keys(k, "vit.")  # noqa: E731
    missing = {k: v for k, v in theirs.items() if not k.startswith("classifier.")}
    with pytest.raises(ValueError, match="no"):
        load_hf_tensors(model, missing, source)
    shaped = dict(theirs, **{"classifier.bias": torch.zeros(4)})
    with pytest.raises(ValueError, match="shape"):
        load_hf_tensors(model, shaped, source)
    extra = dict(theirs, **{"vit.extra.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="not used"):
        load_hf_tensors(model, extra, source)
