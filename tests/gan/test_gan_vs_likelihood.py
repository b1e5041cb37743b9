"""``gan-vs-likelihood``: Eq. (1) in closed form and against scipy, the verdicts on fabricated
metrics (the experiment runs in the CLI smoke test and the slow claims test)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import convolve

from replearn.experiments.gan import gan_vs_likelihood as V


def test_laplacian_variance_closed_forms():
    flat = torch.full((2, 1, 8, 8), 0.7)
    assert V.laplacian_variance(flat).tolist() == [0.0, 0.0]
    ramp = torch.arange(8.0).repeat(8, 1)[None, None]  # linear: the Laplacian is 0
    assert V.laplacian_variance(ramp).item() == pytest.approx(0.0, abs=1e-12)
    dot = torch.zeros(1, 1, 5, 5)
    dot[0, 0, 2, 2] = 1.0  # valid 3x3 response: -4 at the centre, 1 at the 4 neighbours
    values = np.array([0, 1, 0, 1, -4, 1, 0, 1, 0], dtype=float)
    assert V.laplacian_variance(dot).item() == pytest.approx(values.var(), rel=1e-12)


def test_laplacian_variance_matches_scipy():
    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    k = V.LAPLACIAN.double().numpy()
    for i in range(3):
        full = convolve(x[i, 0].numpy(), k[::-1, ::-1], mode="constant")[1:-1, 1:-1]
        assert V.laplacian_variance(x)[i].item() == pytest.approx(full.var(), rel=1e-10)


def test_laplacian_variance_rejects_colour():
    with pytest.raises(ValueError, match="grey images"):
        V.laplacian_variance(torch.zeros(2, 3, 8, 8))


def _ratio(lo, hi):
    return {"label_a": "GAN", "label_b": "DDPM", "ratio": 0.01, "lo": lo, "hi": hi}


def test_verdicts_on_fabricated_metrics():
    sharp, timing = (c.verdict for c in V.CLAIMS)
    m = {"gan_sharpness_ratio_seeds": [0.9, 0.8, 1.0], "vae_sharpness_ratio_seeds": [0.2] * 3}
    assert sharp(m)[0]
    m["vae_sharpness_ratio_seeds"] = [1.0, 0.1, 1.2]
    assert not sharp(m)[0]
    holds, evidence = sharp({"gan_sharpness_ratio_seeds": [1.0], "vae_sharpness_ratio_seeds": [0]})
    assert not holds and "not measured" in evidence
    assert not sharp({})[0] and not timing({})[0]
    t = {"speedup": 10.0, "time_ratios": {"a": _ratio(0.005, 0.02), "b": _ratio(0.01, 0.05)}}
    assert timing(t)[0]
    t["time_ratios"]["b"] = _ratio(0.05, 0.11)  # the interval reaches past 1/10
    assert not timing(t)[0]
    t["time_ratios"]["b"] = _ratio(None, None)  # too few rounds for an interval
    assert not timing(t)[0]
