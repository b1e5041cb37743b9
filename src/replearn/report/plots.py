"""Plots for run folders: training curves, image grids, line and scatter helpers.

Every figure is drawn with matplotlib's non-interactive Agg backend (forced at
import, so no window ever opens, even on a machine with a display) at a fixed
size and ``DPI``, so the PNGs of a run are small and the same from run to run.
Every file is written atomically: to a temporary file in the target folder,
flushed and fsync'ed, then renamed over the target with :func:`os.replace`, so a
reader (a browser on ``report.html``, a crashed run) never sees half a PNG.

Public API:

* :func:`read_metrics` -- parse ``metrics.jsonl`` (a truncated last line is skipped).
* :func:`plot_curves` -- ``loss.png``, ``accuracy.png``, ``lr.png``, ``metrics.png``.
* :func:`save_image_grid` -- a grid of images with an exact, documented pixel size.
* :func:`save_figure` -- save any figure atomically and close it.
* :func:`line_plot`, :func:`scatter_2d` -- small helpers the topics reuse
  (the bias-variance U-curve, samples of 2-D densities).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import matplotlib

matplotlib.use("Agg", force=True)

import matplotlib.pyplot as plt  # after matplotlib.use: the backend must be chosen first
import numpy as np
import torch
from matplotlib.figure import Figure

__all__ = [
    "DPI",
    "grid_pixel_size",
    "line_plot",
    "plot_curves",
    "read_metrics",
    "save_figure",
    "save_image_grid",
    "scatter_2d",
]

DPI = 100
"""Dots per inch of every figure this module draws (1 inch of figure = 100 px)."""

CURVE_FIGSIZE = (6.0, 4.0)
"""Size in inches of a single-panel figure (600 x 400 px at ``DPI``)."""

PANEL_FIGSIZE = (3.2, 2.4)
"""Size in inches of one panel of the small-multiples ``metrics.png``."""

GRID_PADDING = 2
"""Pixels of padding around and between the tiles of :func:`save_image_grid`."""

GRID_MIN_TILE = 32
""":func:`save_image_grid` upsamples tiles by an integer factor up to this many pixels."""

GRID_TITLE_PX = 24
"""Height in pixels of the title band :func:`save_image_grid` adds above the grid."""

# Counters that are x-axes rather than metrics; never plotted as curves.
_NOT_METRICS = frozenset({"step", "epoch"})
_MANY_POINTS = 50  # series with at most this many points are drawn with markers


# --------------------------------------------------------------------------- files


@contextlib.contextmanager
def _atomic_open(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open a temporary binary file that replaces ``path`` when the block exits cleanly.

    The temporary file lives in the target folder (so :func:`os.replace` is a
    rename on one file system), is created with the usual ``0o666 & ~umask``
    permissions, and is fsync'ed before the rename. On an exception it is
    removed and ``path`` is left untouched.

    Args:
        path: The file to write; its parent folders are created.

    Yields:
        A binary file object to write the content to.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def read_metrics(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a ``metrics.jsonl`` file: one JSON object per line.

    Blank lines are skipped. The last line may be cut off (a run killed in the
    middle of a write, or a file read while a run is still writing it) and is
    then dropped; a malformed line anywhere else is an error.

    Args:
        path: The ``metrics.jsonl`` file.

    Returns:
        The rows, in file order, each a dict such as ``{"step": 100, "train_loss": 0.53}``.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If a line other than the last is not a JSON object.
    """
    lines = [
        (number, line)
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1)
        if line.strip()
    ]
    rows: list[dict[str, Any]] = []
    for index, (number, line) in enumerate(lines):
        is_last = index == len(lines) - 1
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            if is_last:
                break
            raise ValueError(f"{path}:{number}: not valid JSON ({err.msg})") from err
        if not isinstance(row, dict):
            if is_last:
                break
            raise ValueError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
    return rows


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: float | None = None) -> Path:
    """Save ``fig`` atomically and close it.

    Args:
        fig: The figure; it is closed even if saving fails.
        path: The output file; its suffix chooses the format (``.png`` if none).
        dpi: Resolution; ``None`` keeps the figure's own (``DPI`` for figures of this module).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    # Drop the "Software: matplotlib x.y" tag so equal plots give equal bytes.
    metadata = {"Software": None} if fmt == "png" else None
    try:
        with _atomic_open(path) as f:
            fig.savefig(f, format=fmt, dpi=dpi or fig.dpi, metadata=metadata)
    finally:
        plt.close(fig)
    return path


# --------------------------------------------------------------------------- curves


def _is_number(value: Any) -> bool:
    """True for a real int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _collect_series(rows: Sequence[Mapping[str, Any]]) -> dict[str, tuple[list, list]]:
    """Split metric rows into one ``(steps, values)`` series per numeric key.

    Rows without an integer-like ``step`` and non-finite values are skipped.
    Keys keep the order in which they first appear.
    """
    series: dict[str, tuple[list, list]] = {}
    for row in rows:
        step = row.get("step")
        if not _is_number(step):
            continue
        for key, value in row.items():
            if key in _NOT_METRICS or not _is_number(value) or not math.isfinite(value):
                continue
            xs, ys = series.setdefault(key, ([], []))
            xs.append(step)
            ys.append(value)
    return series


def _group_of(key: str) -> str:
    """The figure a metric goes to: ``"loss"``, ``"accuracy"``, ``"lr"`` or ``"metrics"``."""
    if key == "loss" or key.endswith("_loss"):
        return "loss"
    if key in ("accuracy", "acc") or key.endswith(("_accuracy", "_acc")):
        return "accuracy"
    if key == "lr" or key.startswith("lr_") or key.endswith("_lr"):
        return "lr"
    return "metrics"


def _spans_decades(ys_list: Sequence[Sequence[float]]) -> bool:
    """True when all values are positive and max / min exceeds 10 (a log axis helps)."""
    values = [y for ys in ys_list for y in ys]
    return bool(values) and min(values) > 0 and max(values) / min(values) > 10


def _draw_series(ax: Any, xs: Sequence[float], ys: Sequence[float], label: str) -> None:
    """Draw one curve; short series get markers so single points stay visible."""
    marker = "o" if len(xs) <= _MANY_POINTS else None
    ax.plot(xs, ys, label=label, linewidth=1.2, marker=marker, markersize=3)


CURVE_TITLES = {
    "loss": "Loss during training",
    "accuracy": "Accuracy during training",
    "learning rate": "Learning-rate schedule",
    "metrics": "Other logged metrics",
}
"""Titles of the figures :func:`plot_curves` writes (by y label / group)."""


def _is_constant(ys: Sequence[float]) -> bool:
    """Several values, all equal (one value is a measurement, not a constant)."""
    return len(ys) > 1 and max(ys) == min(ys)


def _plot_group(
    series: Mapping[str, tuple[list, list]], path: Path, *, ylabel: str, logy: bool
) -> Path:
    """Draw several series on one axis with a legend and save it to ``path``."""
    fig, ax = plt.subplots(figsize=CURVE_FIGSIZE, dpi=DPI)
    for key, (xs, ys) in series.items():
        _draw_series(ax, xs, ys, key)
    if logy:
        ax.set_yscale("log")
    ax.set_title(CURVE_TITLES.get(ylabel, ylabel))
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel + (" (log scale)" if logy else ""))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


def _plot_panels(series: Mapping[str, tuple[list, list]], path: Path) -> Path:
    """Draw each series on its own small panel (small multiples) and save to ``path``."""
    n = len(series)
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    figsize = (PANEL_FIGSIZE[0] * ncols, PANEL_FIGSIZE[1] * nrows)
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, dpi=DPI, squeeze=False)
    for ax, (key, (xs, ys)) in zip(axes.flat, series.items(), strict=False):  # spare axes
        _draw_series(ax, xs, ys, key)
        ax.set_title(key, fontsize="medium")
        ax.set_xlabel("step", fontsize="small")
        ax.tick_params(labelsize="small")
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle(CURVE_TITLES["metrics"])
    fig.tight_layout()
    return save_figure(fig, path)


def plot_curves(
    rows: Sequence[Mapping[str, Any]], out_dir: str | os.PathLike[str], *, prefix: str = ""
) -> list[Path]:
    """Plot every numeric metric of ``rows`` against ``step``, grouped by kind.

    * ``loss`` and ``*_loss`` share ``loss.png``, on a log y-axis when every
      value is positive and they span more than one decade;
    * ``accuracy``, ``*_accuracy`` and ``*_acc`` share ``accuracy.png``;
    * ``lr`` (and ``lr_*``, ``*_lr``) goes to ``lr.png``, on a log axis under
      the same rule as the loss;
    * every other numeric key gets a panel of its own in ``metrics.png``.

    A learning rate or other metric that never changes gets no figure or panel.
    Every figure has a title (:data:`CURVE_TITLES`) and labelled axes.
    ``step`` and ``epoch`` are counters, not metrics, and are not drawn. Rows
    without a numeric ``step``, non-numeric and non-finite values are skipped.
    A figure with no data is not written.

    Args:
        rows: Metric rows as returned by :func:`read_metrics`.
        out_dir: Folder for the PNGs (created if missing).
        prefix: Prepended to every file name, e.g. ``"probe_"`` gives ``probe_loss.png``.

    Returns:
        The written files, in the order loss, accuracy, lr, metrics.
    """
    groups: dict[str, dict[str, tuple[list, list]]] = {
        "loss": {},
        "accuracy": {},
        "lr": {},
        "metrics": {},
    }
    for key, xy in _collect_series(rows).items():
        group = _group_of(key)
        if group in ("lr", "metrics") and _is_constant(xy[1]):
            continue  # a constant (a fixed learning rate, a counter at 0) gets no panel
        groups[group][key] = xy
    out_dir = Path(out_dir)
    written: list[Path] = []
    for name, series in groups.items():
        if not series:
            continue
        path = out_dir / f"{prefix}{name}.png"
        if name == "metrics":
            written.append(_plot_panels(series, path))
        else:
            logy = name != "accuracy" and _spans_decades([ys for _, ys in series.values()])
            ylabel = "learning rate" if name == "lr" else name
            written.append(_plot_group(series, path, ylabel=ylabel, logy=logy))
    return written


# --------------------------------------------------------------------------- images


def _to_numpy(values: Any) -> np.ndarray:
    """A float64 NumPy copy of a tensor, array or sequence."""
    if isinstance(values, torch.Tensor):
        return values.detach().to("cpu", torch.float64).numpy()
    return np.asarray(values, dtype=np.float64)


def _as_nhwc(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """Images of shape (N, C, H, W) with C in {1, 3, 4}, or (N, H, W), as (N, H, W, 3|4)."""
    arr = _to_numpy(images)
    if arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim != 4 or arr.shape[1] not in (1, 3, 4):
        raise ValueError(
            f"images must have shape (N, C, H, W) with C in (1, 3, 4) or (N, H, W), "
            f"got {tuple(arr.shape)}"
        )
    if arr.shape[0] == 0:
        raise ValueError("images is empty (N = 0)")
    arr = arr.transpose(0, 2, 3, 1)  # (N, H, W, C)
    return np.repeat(arr, 3, axis=-1) if arr.shape[-1] == 1 else arr


def _to_unit_range(arr: np.ndarray, value_range: tuple[float, float] | None) -> np.ndarray:
    """Map pixel values to [0, 1].

    With ``value_range=(lo, hi)`` values are mapped linearly and clipped. Without
    it, data already in [0, 1] is kept, data in [-1, 1] is mapped by
    ``(x + 1) / 2`` (the convention of GANs and diffusion models), and anything
    else is min-max scaled over the whole batch. NaNs become 0.
    """
    arr = np.nan_to_num(arr, nan=0.0)
    if value_range is None:
        lo, hi = float(arr.min()), float(arr.max())
        if lo >= 0.0 and hi <= 1.0:
            value_range = (0.0, 1.0)
        elif lo >= -1.0 and hi <= 1.0:
            value_range = (-1.0, 1.0)
        else:
            value_range = (lo, hi)
    lo, hi = value_range
    scale = hi - lo if hi > lo else 1.0
    return np.clip((arr - lo) / scale, 0.0, 1.0)


def grid_pixel_size(
    n: int, height: int, width: int, *, nrow: int = 8, scale: int = 1, title: bool = False
) -> tuple[int, int]:
    """The ``(height, width)`` in pixels of the PNG :func:`save_image_grid` writes.

    With ``ncols = min(nrow, n)`` and ``nrows = ceil(n / ncols)`` tiles of
    ``(height * scale, width * scale)`` pixels and ``GRID_PADDING`` pixels
    around and between them::

        H = nrows * (height * scale + GRID_PADDING) + GRID_PADDING (+ GRID_TITLE_PX)
        W = ncols * (width * scale + GRID_PADDING) + GRID_PADDING

    Args:
        n: Number of images.
        height: Height of one image in pixels.
        width: Width of one image in pixels.
        nrow: Images per row (as in ``torchvision.utils.make_grid``).
        scale: Integer upsampling factor of each tile.
        title: Whether a title band is added above the grid.

    Returns:
        ``(H, W)`` of the written image.
    """
    ncols = min(nrow, n)
    nrows = math.ceil(n / ncols)
    grid_h = nrows * (height * scale + GRID_PADDING) + GRID_PADDING
    grid_w = ncols * (width * scale + GRID_PADDING) + GRID_PADDING
    return grid_h + (GRID_TITLE_PX if title else 0), grid_w


def _auto_scale(height: int, width: int) -> int:
    """Largest integer factor that keeps the longer side of a tile within ``GRID_MIN_TILE``."""
    return max(1, GRID_MIN_TILE // max(height, width))


def _tile(arr: np.ndarray, *, nrow: int, scale: int, pad_value: float) -> np.ndarray:
    """Tile (N, H, W, C) images in [0, 1] into one (H', W', C) array with padding."""
    n, h, w, c = arr.shape
    arr = arr.repeat(scale, axis=1).repeat(scale, axis=2)  # nearest-neighbour upsampling
    h, w = h * scale, w * scale
    grid_h, grid_w = grid_pixel_size(n, h, w, nrow=nrow)
    grid = np.full((grid_h, grid_w, c), pad_value, dtype=np.float64)
    if c == 4:
        grid[..., 3] = 1.0  # opaque padding
    for i in range(n):
        row, col = divmod(i, min(nrow, n))
        top = GRID_PADDING + row * (h + GRID_PADDING)
        left = GRID_PADDING + col * (w + GRID_PADDING)
        grid[top : top + h, left : left + w] = arr[i]
    return grid


def save_image_grid(
    images: torch.Tensor | np.ndarray,
    path: str | os.PathLike[str],
    *,
    nrow: int = 8,
    title: str | None = None,
    value_range: tuple[float, float] | None = None,
    scale: int | None = None,
    pad_value: float = 1.0,
) -> Path:
    """Save a batch of images as one PNG grid, pixel for pixel (no resampling blur).

    The PNG is exactly :func:`grid_pixel_size` pixels: each image becomes a
    tile upsampled by the integer ``scale`` (nearest neighbour), tiles are laid
    out ``nrow`` per row with ``GRID_PADDING`` pixels of ``pad_value`` around
    them, and an optional title band of ``GRID_TITLE_PX`` pixels sits on top.

    Args:
        images: Tensor or array of shape (N, C, H, W) with C in {1, 3, 4}, or (N, H, W).
        path: Output PNG file.
        nrow: Images per row.
        title: Optional title drawn above the grid.
        value_range: ``(lo, hi)`` mapped to black and white; ``None`` guesses
            (see :func:`_to_unit_range`): [0, 1] kept, [-1, 1] shifted, else min-max.
        scale: Integer upsampling factor; ``None`` picks the largest factor that
            keeps tiles within ``GRID_MIN_TILE`` pixels (8x8 digits -> 4, MNIST -> 1).
        pad_value: Gray level of the padding in [0, 1] (1 = white).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: On a bad shape, an empty batch, ``nrow < 1`` or ``scale < 1``.
    """
    if nrow < 1:
        raise ValueError(f"nrow must be >= 1, got {nrow}")
    arr = _as_nhwc(images)
    _, h, w, _ = arr.shape
    scale = _auto_scale(h, w) if scale is None else scale
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    grid = _tile(_to_unit_range(arr, value_range), nrow=nrow, scale=scale, pad_value=pad_value)
    band = GRID_TITLE_PX if title else 0
    height, width = grid.shape[0] + band, grid.shape[1]
    # +0.5 px: matplotlib truncates figsize * dpi, so this yields exactly width x height.
    fig = plt.figure(figsize=((width + 0.5) / DPI, (height + 0.5) / DPI), dpi=DPI)
    fig.figimage(grid, xo=0, yo=0, origin="upper")
    if title:
        y = 1.0 - (band / 2) / height
        fig.text(0.5, y, title, ha="center", va="center", fontsize=9)
    return save_figure(fig, path, dpi=DPI)


# --------------------------------------------------------------------------- helpers


def line_plot(
    xs: Sequence[float] | torch.Tensor | np.ndarray,
    ys_by_label: Mapping[str, Sequence[float] | torch.Tensor | np.ndarray],
    path: str | os.PathLike[str],
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    logy: bool = False,
    logx: bool = False,
) -> Path:
    """Plot several curves over shared x values, e.g. the bias-variance U-curve.

    Args:
        xs: The x values, shared by every curve.
        ys_by_label: One sequence of y values per legend label, each as long as ``xs``.
        path: Output file.
        xlabel: Label of the x-axis.
        ylabel: Label of the y-axis.
        title: Figure title.
        logy: Log-scale the y-axis.
        logx: Log-scale the x-axis.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: If a curve's length differs from ``len(xs)``.
    """
    x = _to_numpy(xs).reshape(-1)
    curves = {label: _to_numpy(ys).reshape(-1) for label, ys in ys_by_label.items()}
    for label, y in curves.items():
        if y.shape != x.shape:
            raise ValueError(f"curve {label!r} has {y.size} values for {x.size} x values")
    fig, ax = plt.subplots(figsize=CURVE_FIGSIZE, dpi=DPI)
    for label, y in curves.items():
        _draw_series(ax, x, y, label)
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(True, alpha=0.3)
    if curves:
        ax.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


def scatter_2d(
    points_by_label: Mapping[str, torch.Tensor | np.ndarray],
    path: str | os.PathLike[str],
    *,
    title: str,
) -> Path:
    """Scatter sets of 2-D points on one equal-aspect axis, e.g. data vs model samples.

    Args:
        points_by_label: One (n, 2) tensor or array per legend label.
        path: Output file.
        title: Figure title.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: If a point set is not of shape (n, 2).
    """
    sets = {label: _to_numpy(points) for label, points in points_by_label.items()}
    for label, pts in sets.items():
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise ValueError(f"points {label!r} must have shape (n, 2), got {pts.shape}")
    fig, ax = plt.subplots(figsize=(5.0, 5.0), dpi=DPI)
    for label, pts in sets.items():
        size = 4.0 if len(pts) > 1000 else 10.0
        ax.scatter(pts[:, 0], pts[:, 1], s=size, alpha=0.5, label=label, linewidths=0)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if sets:
        ax.legend(fontsize="small", markerscale=2)
    fig.tight_layout()
    return save_figure(fig, path)
