"""The three figures of ``gan-stability`` (``replearn.experiments.gan.gan_stability_plots``),
drawn from fabricated curves, a diverged run included."""

from __future__ import annotations

from pathlib import Path

from replearn.experiments.gan import gan_stability_plots as P


def _rows(scale: float) -> list[dict[str, float]]:
    return [
        {"step": s, "val_w1": scale / (1 + s), "val_d_estimate": -s * 1e-3} for s in (0, 25, 50)
    ]


def test_every_plot_is_written(tmp_path: Path) -> None:
    curves = {m: {"0.001": [_rows(1.0), None, _rows(2.0)]} for m in ("wgan", "minimax", "wgan-gp")}
    final = {m: {"0.0002": [0.3, None, 0.5], "0.001": [1.2, 0.4, 0.2]} for m in P.GRID_METHODS}
    paths = [
        P.plot_tracking(curves, "0.001", tmp_path / "tracking.png"),
        P.plot_smoothness(curves, "0.001", tmp_path / "smoothness.png"),
        P.plot_lr_grid(final, (2e-4, 1e-3), 0.35, tmp_path / "lr_grid.png"),
    ]
    for name in ("tracking.png", "smoothness.png", "lr_grid.png"):
        path = tmp_path / name
        assert path.stat().st_size > 1000
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [Path(p).name for p in paths] == ["tracking.png", "smoothness.png", "lr_grid.png"]
