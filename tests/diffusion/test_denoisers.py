"""Time embedding (vs diffusers and its formula) and the MLP denoiser."""

from __future__ import annotations

import math

import pytest
import torch

from replearn.diffusion.denoisers import MLPDenoiser, TimeEmbedding, timestep_embedding


def test_timestep_embedding_formula():
    t = torch.tensor([0.0, 3.0, 999.0])
    emb = timestep_embedding(t, 8)
    freqs = [10000 ** (-i / 4) for i in range(4)]
    expected = torch.tensor(
        [[math.cos(s * f) for f in freqs] + [math.sin(s * f) for f in freqs] for s in t.tolist()]
    )
    torch.testing.assert_close(emb, expected, rtol=1e-5, atol=1e-5)


def test_timestep_embedding_equals_diffusers():
    pytest.importorskip("diffusers")
    from diffusers.models.embeddings import get_timestep_embedding

    t = torch.tensor([0, 1, 17, 500, 999])
    ref = get_timestep_embedding(t, 32, flip_sin_to_cos=True, downscale_freq_shift=0)
    torch.testing.assert_close(timestep_embedding(t, 32), ref, rtol=1e-5, atol=1e-5)


def test_mlp_denoiser_paths_and_validation():
    torch.manual_seed(0)
    cond = MLPDenoiser(dim=3, hidden=16, depth=2, num_classes=4)
    x, t = torch.randn(5, 3), torch.tensor([0, 1, 2, 3, 4])
    y = torch.tensor([0, 1, 2, 3, 4])  # 4 = null label
    out = cond(x, t, y)
    assert out.shape == (5, 3)
    torch.testing.assert_close(cond(x, t, None), cond(x, t, torch.full((5,), 4)))  # None = null
    assert not torch.allclose(cond(x, t, torch.zeros(5, dtype=torch.long)), cond(x, t, None))
    assert not torch.allclose(cond(x, t), cond(x, t + 100))  # time matters
    uncond = MLPDenoiser(dim=3)
    with pytest.raises(ValueError, match="unconditional"):
        uncond(x, t, y)
    with pytest.raises(ValueError, match="expected x"):
        uncond(torch.randn(5, 2), t)
    with pytest.raises(ValueError, match="depth"):
        MLPDenoiser(depth=0)
    with pytest.raises(ValueError, match="even"):
        TimeEmbedding(7, 8)(t)
    assert "num_classes=4" in repr(cond)
