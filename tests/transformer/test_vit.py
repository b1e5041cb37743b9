"""ViT: patchify algebra, conv embedding == patchify @ E, reference == SDPA, from_hf == HF."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from replearn.transformer.vit.model import ViT, num_patches, patchify, unpatchify

transformers = pytest.importorskip("transformers")

TOL = {"rtol": 0.0, "atol": 1e-5}
F64 = {"rtol": 1e-10, "atol": 1e-10}


def randomize_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Redraw every tensor (transformers zero-initialises biases: a swapped bias would hide)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.3 if p.ndim > 1 else 0.5, generator=g)
    return model


@settings(max_examples=30, deadline=None)
@given(
    b=st.integers(1, 3), c=st.integers(1, 4), p=st.integers(1, 4),
    nh=st.integers(1, 4), nw=st.integers(1, 4),
)  # fmt: skip
def test_patchify_shape_algebra_and_round_trip(b, c, p, nh, nw):
    x = torch.randn(b, c, nh * p, nw * p)
    patches = patchify(x, p)
    assert (
        patches.shape == (b, nh * nw, c * p * p) == (b, num_patches(nh * p, nw * p, p), c * p * p)
    )
    torch.testing.assert_close(unpatchify(patches, p, nh * p, nw * p), x, rtol=0, atol=0)
    # patch n = (row i, column j) in row-major order holds x[:, :, iP:(i+1)P, jP:(j+1)P]
    i, j = (nh * nw - 1) // nw, (nh * nw - 1) % nw
    window = x[:, :, i * p : (i + 1) * p, j * p : (j + 1) * p].reshape(b, -1)
    torch.testing.assert_close(patches[:, -1], window, rtol=0, atol=0)


def test_patchify_rejects_indivisible_sizes():
    with pytest.raises(ValueError, match="divide"):
        patchify(torch.randn(1, 1, 9, 8), 4)
    with pytest.raises(ValueError, match="divide"):
        num_patches(8, 8, 3)


def test_conv_patch_embedding_is_patchify_times_E_float64():
    model = ViT(image_size=12, patch_size=4, in_chans=3, dim=10, depth=1, heads=2, mlp_dim=8)
    emb = model.patch_embed.double()
    x = torch.randn(2, 3, 12, 12, dtype=torch.float64)
    expected = patchify(x, 4) @ emb.as_matrix() + emb.proj.bias  # Eq. (1) as written
    torch.testing.assert_close(emb(x), expected, **F64)


def test_forward_matches_explicit_float64_formula():
    """Eq. (1)-(4) written out with F.* ops for a one-layer, two-head ViT."""
    torch.manual_seed(0)
    m = ViT(image_size=8, patch_size=4, in_chans=2, num_classes=3, dim=8, depth=1, heads=2,
            mlp_dim=12, pooler=True).double().eval()  # fmt: skip
    randomize_(m)
    x = torch.randn(3, 2, 8, 8, dtype=torch.float64)
    blk = m.blocks[0]
    z = torch.cat([m.cls_token.expand(3, 1, 8), patchify(x, 4) @ m.patch_embed.as_matrix()
                   + m.patch_embed.proj.bias], 1) + m.pos_embed  # fmt: skip
    h = F.layer_norm(z, (8,), blk.norm1.weight, blk.norm1.bias, 1e-6)
    q, k, v = (
        h @ w.T + b for w, b in zip(blk.qkv.weight.chunk(3), blk.qkv.bias.chunk(3), strict=True)
    )
    heads = []
    for s in (slice(0, 4), slice(4, 8)):
        a = torch.softmax(q[..., s] @ k[..., s].transpose(1, 2) / 2.0, -1)  # sqrt(d_head) = 2
        heads.append(a @ v[..., s])
    z = z + torch.cat(heads, -1) @ blk.proj.weight.T + blk.proj.bias  # Eq. (2)
    h = F.layer_norm(z, (8,), blk.norm2.weight, blk.norm2.bias, 1e-6)
    z = z + blk.mlp.fc2(F.gelu(blk.mlp.fc1(h)))  # Eq. (3)
    y = F.layer_norm(z[:, 0], (8,), m.norm.weight, m.norm.bias, 1e-6)  # Eq. (4)
    logits = m.head(torch.tanh(m.pooler(y)))
    torch.testing.assert_close(m(x), logits, **F64)


def test_reference_and_sdpa_paths_agree_with_gradients_float64():
    torch.manual_seed(1)
    m = ViT(image_size=8, patch_size=2, in_chans=1, num_classes=4, dim=12, depth=2, heads=3,
            mlp_dim=16).double()  # fmt: skip
    randomize_(m, 3)
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    out_fast = m(x)
    g_fast = torch.autograd.grad(out_fast.square().sum(), list(m.parameters()))
    m.set_fast(False)
    assert not m.blocks[1].fast
    out_ref = m(x)
    g_ref = torch.autograd.grad(out_ref.square().sum(), list(m.parameters()))
    torch.testing.assert_close(out_fast, out_ref, **F64)
    for a, b in zip(g_fast, g_ref, strict=True):
        torch.testing.assert_close(a, b, **F64)


@pytest.mark.parametrize(
    "kwargs", [{}, {"pooler": True, "qkv_bias": False}, {"num_classes": 0, "depth": 1}]
)
@pytest.mark.parametrize("fast", [True, False])
def test_class_token_shortcut_equals_full_last_layer_float64(kwargs, fast):
    """forward computes the last layer for the class token only: same logits and gradients as
    forward_head(forward_features(x)), which computes every row."""
    m = ViT(**{"image_size": 8, "patch_size": 2, "in_chans": 2, "num_classes": 5, "dim": 12,
               "depth": 2, "heads": 3, "mlp_dim": 16, "fast": fast, **kwargs}).double()  # fmt: skip
    randomize_(m, 4)
    x = torch.randn(3, 2, 8, 8, dtype=torch.float64)
    w = torch.randn(3, m.head.out_features if m.head is not None else 12, dtype=torch.float64)
    outs, grads = [], []
    for f in (m, lambda t: m.forward_head(m.forward_features(t))):
        out = f(x)
        outs.append(out)
        grads.append(torch.autograd.grad((out * w).sum(), list(m.parameters())))
    torch.testing.assert_close(outs[0], outs[1], **F64)
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, **F64)


CONFIGS = [
    dict(image_size=8, patch_size=4, num_channels=1, hidden_size=16, num_hidden_layers=2,
         num_attention_heads=2, intermediate_size=32),
    dict(image_size=12, patch_size=3, num_channels=3, hidden_size=24, num_hidden_layers=3,
         num_attention_heads=4, intermediate_size=20, layer_norm_eps=1e-6, qkv_bias=False,
         hidden_act="gelu_new"),
]  # fmt: skip


@pytest.mark.parametrize("config", CONFIGS, ids=["gelu", "no-qkv-bias-gelu_new"])
@pytest.mark.parametrize("head", ["ViTModel", "ViTModel-no-pooler", "ViTForImageClassification"])
def test_from_hf_matches_transformers(config, head):
    cfg = transformers.ViTConfig(num_labels=5, **config)
    if head == "ViTModel-no-pooler":
        theirs = transformers.ViTModel(cfg, add_pooling_layer=False)
    else:
        theirs = getattr(transformers, head)(cfg)
    theirs = randomize_(theirs).eval()
    ours = ViT.from_hf(theirs)
    assert not ours.training and ours.num_classes == (5 if "Classification" in head else 0)
    s, c = config["image_size"], config["num_channels"]
    x = torch.randn(3, c, s, s, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = theirs(pixel_values=x)
        if head.startswith("ViTModel"):
            torch.testing.assert_close(ours.forward_features(x), out.last_hidden_state, **TOL)
            pooled = out.pooler_output if head == "ViTModel" else out.last_hidden_state[:, 0]
            torch.testing.assert_close(ours(x), pooled, **TOL)
        else:
            torch.testing.assert_close(ours(x), out.logits, **TOL)


def test_from_hf_training_loss_and_gradients_match():
    cfg = transformers.ViTConfig(num_labels=3, **CONFIGS[0])
    theirs = randomize_(transformers.ViTForImageClassification(cfg)).train()
    ours = ViT.from_hf(theirs)
    assert ours.training
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    y = torch.tensor([0, 2, 1, 2])
    loss_theirs = theirs(pixel_values=x, labels=y).loss
    loss_ours = F.cross_entropy(ours(x), y)
    torch.testing.assert_close(loss_ours, loss_theirs, **TOL)
    loss_ours.backward()
    loss_theirs.backward()
    q = theirs.vit.layers[1].attention.q_proj.weight.grad
    torch.testing.assert_close(ours.blocks[1].qkv.weight.grad[:16], q, rtol=1e-4, atol=1e-5)
    pos = theirs.vit.embeddings.position_embeddings.grad
    torch.testing.assert_close(ours.pos_embed.grad, pos, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours.head.weight.grad, theirs.classifier.weight.grad, **TOL)


def test_from_hf_rejects_unused_tensors():
    cfg = transformers.ViTConfig(**CONFIGS[0])
    with pytest.raises(ValueError, match="not used"):
        ViT.from_hf(transformers.ViTModel(cfg, use_mask_token=True))


@pytest.mark.parametrize(
    "kwargs",
    [dict(patch_size=3), dict(heads=3), dict(num_classes=-1), dict(act="relu"),
     dict(dropout=1.0), dict(depth=0)],
)  # fmt: skip
def test_invalid_arguments_raise(kwargs):
    base = dict(image_size=8, patch_size=4, dim=16, depth=1, heads=2, mlp_dim=8)
    with pytest.raises(ValueError):
        ViT(**{**base, **kwargs})


def test_wrong_input_size_raises_and_repr():
    m = ViT(image_size=8, patch_size=4, in_chans=1, dim=16, depth=1, heads=2, mlp_dim=8)
    with pytest.raises(ValueError, match="expected"):
        m(torch.randn(1, 1, 12, 12))
    assert "patch_size=4" in repr(m)
