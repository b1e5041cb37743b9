"""Tests of replearn.report.plots: metrics parsing, curves, image grids, helpers."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import matplotlib.image as mpimg
import numpy as np
import pytest
import torch

from replearn.report.plots import (
    DPI,
    GRID_PADDING,
    GRID_TITLE_PX,
    grid_pixel_size,
    line_plot,
    plot_curves,
    read_metrics,
    save_figure,
    save_image_grid,
    scatter_2d,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _rows(n: int = 20) -> list[dict]:
    """Metric rows like a classifier run: train loss every step, val every 5 steps."""
    rows = []
    for step in range(1, n + 1):
        lr = 1e-3 * (1 - step / (n + 1))  # a decaying schedule
        rows.append({"step": step, "epoch": step // 10, "train_loss": 5.0 / step, "lr": lr})
        if step % 5 == 0:
            rows.append({"step": step, "val_loss": 4.0 / step, "val_accuracy": 0.5 + step / 100})
    rows.append({"step": n, "grad_norm": 1.5, "throughput": 1000.0, "note": "text is skipped"})
    return rows


def test_backend_is_agg() -> None:
    assert matplotlib.get_backend().lower() == "agg"


def test_read_metrics_tolerates_truncated_last_line(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    good = [{"step": 1, "train_loss": 1.0}, {"step": 2, "val_loss": 0.5}]
    text = "".join(json.dumps(r) + "\n" for r in good) + "\n" + '{"step": 3, "train_lo'
    path.write_text(text)
    assert read_metrics(path) == good


def test_read_metrics_rejects_corrupt_middle_line(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\n{"step": 2\n{"step": 3}\n')
    with pytest.raises(ValueError, match=":2:"):
        read_metrics(path)


def test_read_metrics_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text("")
    assert read_metrics(path) == []


def test_plot_curves_groups_metrics(tmp_path: Path) -> None:
    paths = plot_curves(_rows(), tmp_path, prefix="cls_")
    assert [p.name for p in paths] == [
        "cls_loss.png",
        "cls_accuracy.png",
        "cls_lr.png",
        "cls_metrics.png",
    ]
    for path in paths:
        assert path.read_bytes().startswith(PNG_MAGIC)
        height, width = mpimg.imread(path).shape[:2]
        assert max(height, width) <= 1000  # small, fixed-size figures
    assert mpimg.imread(paths[0]).shape[:2] == (400, 600)
    assert not list(tmp_path.glob(".*.tmp")), "temporary files left behind"


def test_plot_curves_log_scale_when_spanning_decades(tmp_path: Path, monkeypatch) -> None:
    import replearn.report.plots as plots

    seen: list[bool] = []
    original = plots._plot_group

    def spy(series, path, *, ylabel, logy):
        seen.append(logy)
        return original(series, path, ylabel=ylabel, logy=logy)

    monkeypatch.setattr(plots, "_plot_group", spy)
    plot_curves([{"step": s, "train_loss": 10.0 / s} for s in range(1, 101)], tmp_path / "a")
    plot_curves([{"step": s, "train_loss": 2.0 - s / 100} for s in range(1, 101)], tmp_path / "b")
    plot_curves([{"step": s, "train_loss": 1.0 - s / 50} for s in range(1, 101)], tmp_path / "c")
    assert seen == [True, False, False]  # >1 decade, <1 decade, negatives


def test_plot_curves_skips_empty_and_nonfinite(tmp_path: Path) -> None:
    assert plot_curves([], tmp_path) == []
    rows = [{"step": 1, "train_loss": float("nan")}, {"epoch": 1, "train_loss": 1.0}]
    assert plot_curves(rows, tmp_path) == []


@pytest.mark.parametrize(
    ("shape", "nrow", "title"),
    [((10, 1, 28, 28), 8, None), ((5, 3, 16, 12), 3, "samples"), ((7, 8, 8), 8, None)],
)
def test_save_image_grid_pixel_size(tmp_path: Path, shape, nrow, title) -> None:
    images = torch.rand(*shape) * 2 - 1  # [-1, 1]
    path = save_image_grid(images, tmp_path / "grid.png", nrow=nrow, title=title)
    n, h, w = shape[0], shape[-2], shape[-1]
    scale = max(1, 32 // max(h, w))
    expected = grid_pixel_size(n, h, w, nrow=nrow, scale=scale, title=title is not None)
    assert mpimg.imread(path).shape[:2] == expected


def test_save_image_grid_exact_pixels(tmp_path: Path) -> None:
    # 3 images of 4x5 in one row, no upsampling: the formula worked out by hand.
    images = torch.zeros(3, 1, 4, 5)
    images[1] = 1.0
    path = save_image_grid(images, tmp_path / "g.png", nrow=8, scale=1, value_range=(0.0, 1.0))
    img = mpimg.imread(path)
    assert img.shape[:2] == (4 + 2 * GRID_PADDING, 3 * (5 + GRID_PADDING) + GRID_PADDING)
    p = GRID_PADDING
    assert np.allclose(img[p, p, :3], 0.0)  # first tile black
    assert np.allclose(img[p, p + 5 + p, :3], 1.0)  # second tile white
    assert np.allclose(img[0, 0, :3], 1.0)  # white padding


def test_save_image_grid_title_band(tmp_path: Path) -> None:
    images = np.zeros((2, 3, 10, 10))
    plain = mpimg.imread(save_image_grid(images, tmp_path / "a.png", scale=1))
    titled = mpimg.imread(save_image_grid(images, tmp_path / "b.png", scale=1, title="x"))
    assert titled.shape[0] == plain.shape[0] + GRID_TITLE_PX
    assert titled.shape[1] == plain.shape[1]


def test_save_image_grid_rejects_bad_shapes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="shape"):
        save_image_grid(torch.zeros(2, 2, 8, 8), tmp_path / "g.png")
    with pytest.raises(ValueError, match="empty"):
        save_image_grid(torch.zeros(0, 1, 8, 8), tmp_path / "g.png")


def test_save_figure_closes_and_is_atomic(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(2, 1), dpi=DPI)
    target = tmp_path / "sub" / "fig.png"
    assert save_figure(fig, target) == target
    assert not plt.fignum_exists(fig.number)
    assert mpimg.imread(target).shape[:2] == (100, 200)
    assert [p.name for p in target.parent.iterdir()] == ["fig.png"]


def test_save_figure_failure_leaves_no_file(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    fig = plt.figure()
    with pytest.raises(ValueError):
        save_figure(fig, tmp_path / "fig.notaformat")
    assert list(tmp_path.iterdir()) == []
    assert not plt.fignum_exists(fig.number)


def test_line_plot_and_scatter(tmp_path: Path) -> None:
    degrees = [1, 2, 3, 4, 5]
    path = line_plot(
        degrees,
        {"train": torch.tensor([1.0, 0.5, 0.3, 0.2, 0.1]), "test": [1.0, 0.6, 0.5, 0.7, 1.2]},
        tmp_path / "u.png",
        xlabel="degree",
        ylabel="error",
        title="bias-variance",
        logy=True,
    )
    assert path.read_bytes().startswith(PNG_MAGIC)
    with pytest.raises(ValueError, match="test"):
        line_plot([1, 2], {"test": [1.0]}, tmp_path / "x.png", xlabel="", ylabel="", title="")

    path = scatter_2d(
        {"data": torch.randn(500, 2), "model": np.random.default_rng(0).normal(size=(2000, 2))},
        tmp_path / "s.png",
        title="samples",
    )
    assert mpimg.imread(path).shape[:2] == (500, 500)
    with pytest.raises(ValueError, match="shape"):
        scatter_2d({"bad": torch.randn(5, 3)}, tmp_path / "t.png", title="")


def test_plot_curves_gives_a_constant_no_figure(tmp_path: Path) -> None:
    rows = [{"step": s, "loss": 1.0 / s, "lr": 1e-3, "skipped": 0} for s in range(1, 6)]
    assert [p.name for p in plot_curves(rows, tmp_path)] == ["loss.png"]
