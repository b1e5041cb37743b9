"""Label smoothing vs F.cross_entropy(label_smoothing=); ECE vs a loop and closed forms; scatter."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from replearn.regularize.label_smoothing import (
    LabelSmoothingCrossEntropy,
    calibration_bins,
    class_scatter_ratio,
    expected_calibration_error,
    label_smoothing_cross_entropy,
    smooth_labels,
    soft_cross_entropy,
)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3, 1.0])
def test_matches_torch_label_smoothing(eps):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(17, 7, dtype=torch.float64, generator=gen, requires_grad=True)
    y = torch.randint(0, 7, (17,), generator=gen)
    ours = label_smoothing_cross_entropy(logits, y, eps)
    ref = F.cross_entropy(logits, y, label_smoothing=eps)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    (g_ours,) = torch.autograd.grad(ours, logits)
    (g_ref,) = torch.autograd.grad(ref, logits)
    torch.testing.assert_close(g_ours, g_ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(
        LabelSmoothingCrossEntropy(eps)(logits, y), ref, rtol=1e-12, atol=1e-12
    )


def test_smoothed_targets():
    q = smooth_labels(torch.tensor([2, 0]), 4, 0.2)
    torch.testing.assert_close(
        q, torch.tensor([[0.05, 0.05, 0.85, 0.05], [0.85, 0.05, 0.05, 0.05]])
    )
    torch.testing.assert_close(q.sum(dim=1), torch.ones(2))
    with pytest.raises(ValueError):
        smooth_labels(torch.tensor([0]), 3, 1.5)


def test_soft_cross_entropy_matches_torch_probability_targets():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(9, 5, dtype=torch.float64, generator=gen)
    q = torch.softmax(torch.randn(9, 5, dtype=torch.float64, generator=gen), dim=1)
    torch.testing.assert_close(soft_cross_entropy(logits, q), F.cross_entropy(logits, q))


def _ece_loop(probs: torch.Tensor, labels: torch.Tensor, m: int) -> float:
    conf, pred = probs.max(dim=1)
    total = 0.0
    for i in range(m):
        lo, hi = i / m, (i + 1) / m
        in_bin = (conf > lo) & (conf <= hi)
        if in_bin.any():
            acc = (pred[in_bin] == labels[in_bin]).double().mean()
            total += float(in_bin.double().mean() * (acc - conf[in_bin].mean()).abs())
    return total


def test_ece_matches_a_loop_over_bins():
    gen = torch.Generator().manual_seed(2)
    probs = torch.softmax(3 * torch.randn(500, 4, dtype=torch.float64, generator=gen), dim=1)
    labels = torch.randint(0, 4, (500,), generator=gen)
    for m in (1, 10, 15):
        assert expected_calibration_error(probs, labels, m) == pytest.approx(
            _ece_loop(probs, labels, m), abs=1e-12
        )
    acc, conf, count = calibration_bins(probs, labels, 10)
    assert int(count.sum()) == 500 and acc.shape == conf.shape == (10,)


def test_ece_closed_forms():
    # always 100% confident, right 70% of the time: ECE = |0.7 - 1| = 0.3
    probs = torch.tensor([[1.0, 0.0]]).repeat(10, 1)
    labels = torch.tensor([0] * 7 + [1] * 3)
    assert expected_calibration_error(probs, labels) == pytest.approx(0.3)
    # 80% confident and right 8 times in 10: calibrated
    probs = torch.tensor([[0.8, 0.2]]).repeat(10, 1)
    labels = torch.tensor([0] * 8 + [1] * 2)
    assert expected_calibration_error(probs, labels) == pytest.approx(0.0, abs=1e-7)


def test_class_scatter_ratio_closed_form():
    # two classes at -1 and +1 on the line, each point 0.1 from its class mean
    feats = torch.tensor([[-1.1], [-0.9], [0.9], [1.1]])
    labels = torch.tensor([0, 0, 1, 1])
    assert class_scatter_ratio(feats, labels) == pytest.approx(4 * 0.01 / 4.0)
    tighter = torch.tensor([[-1.01], [-0.99], [0.99], [1.01]])
    assert class_scatter_ratio(tighter, labels) < class_scatter_ratio(feats, labels)
