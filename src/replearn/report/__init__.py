"""Reports of runs: training curves and image grids (PNG), run pages, claims tables.

``plots`` draws with matplotlib's Agg backend only; ``html`` builds
self-contained pages with f-strings and :func:`html.escape`.
"""

from replearn.report.html import load_run, write_claims_report, write_index, write_run_report
from replearn.report.plots import (
    line_plot,
    plot_curves,
    read_metrics,
    save_figure,
    save_image_grid,
    scatter_2d,
)

__all__ = [
    "line_plot",
    "load_run",
    "plot_curves",
    "read_metrics",
    "save_figure",
    "save_image_grid",
    "scatter_2d",
    "write_claims_report",
    "write_index",
    "write_run_report",
]
