"""Plot building blocks every report shares: the figure record, the style, CDF points.

matplotlib runs with the Agg backend (no display, no GUI toolkit, same output everywhere).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import matplotlib as mpl

mpl.use("Agg")  # before pyplot: no display, no GUI toolkit, same output everywhere
import matplotlib.pyplot as plt

CDF_POINTS = 300  # a CDF drawn through this many quantiles looks the same as every point
PLOT_STYLE: dict[str, Any] = {
    "svg.fonttype": "none",  # text as <text>, not glyph paths: smaller and selectable
    "svg.hashsalt": "flowload",  # stable ids: same data, same file
    "font.size": 9,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial"],  # named once per <text>: keep the list short
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.figsize": (7.2, 3.0),
    "lines.linewidth": 1.4,
}


@dataclass(frozen=True)
class Plot:
    """One figure of the report: anchor id, title, what it shows, and the SVG markup."""

    key: str
    title: str
    caption: str
    svg: str | None  # None: nothing to draw (``missing`` says why)
    missing: str = "no data to draw"


def plot_style() -> AbstractContextManager[None]:
    """The report's matplotlib settings, for a ``with`` block around figure drawing."""
    settings: Any = PLOT_STYLE  # matplotlib types keys as Literal names; ours are valid names
    return plt.rc_context(settings)


def cdf_points(values: Sequence[float]) -> tuple[list[float], list[float]]:
    """``(x, y)`` of an empirical CDF, thinned to at most ``CDF_POINTS`` quantiles."""
    data = sorted(values)
    n = len(data)
    if n <= CDF_POINTS:
        return data, [(i + 1) / n for i in range(n)]
    ranks = sorted({round(i * (n - 1) / (CDF_POINTS - 1)) for i in range(CDF_POINTS)})
    return [data[r] for r in ranks], [(r + 1) / n for r in ranks]
