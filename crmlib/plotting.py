"""The house chart style and the axis formatters every stage's charts share (numbers and words for
pages are :mod:`crmlib.formatting`'s)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.rcsetup import cycler
from matplotlib.ticker import FuncFormatter, PercentFormatter

from crmlib.formatting import format_money

__all__ = [
    "HOUSE_STYLE",
    "PALETTE",
    "use_house_style",
    "house_style",
    "money_axis",
    "percent_axis",
    "note_on_axes",
]

#: One palette for every chart: a calm blue first, then distinct, colour-blind-safe hues.
PALETTE: list[str] = [
    "#1f5f99",
    "#e07b39",
    "#3a9d5d",
    "#c0392b",
    "#7d5ba6",
    "#8c6d31",
    "#d45d9b",
    "#5f6b73",
]

HOUSE_STYLE: Any = {
    "figure.figsize": (9.0, 4.2),
    "figure.dpi": 100,
    "savefig.dpi": 110,
    "figure.autolayout": True,
    "axes.titlesize": 13,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": cycler(color=PALETTE),
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "legend.frameon": False,
    "font.family": "DejaVu Sans",
}


def use_house_style() -> None:
    """Apply the house style to matplotlib's global settings (notebooks call this once)."""
    mpl.rcParams.update(HOUSE_STYLE)


@contextmanager
def house_style() -> Iterator[None]:
    """The house style for one block only (for library code and tests)."""
    with mpl.rc_context(HOUSE_STYLE):
        yield


def money_axis(ax: plt.Axes, currency: str, *, axis: str = "y") -> plt.Axes:
    """Format an axis's ticks as compact money."""
    formatter = FuncFormatter(lambda value, _pos: format_money(value, currency, decimals=0))
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(formatter)
    return ax


def percent_axis(ax: plt.Axes, *, axis: str = "y", decimals: int = 0) -> plt.Axes:
    """Format an axis holding shares (0–1) as percentages."""
    formatter = PercentFormatter(xmax=1.0, decimals=decimals)
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(formatter)
    return ax


def note_on_axes(ax: plt.Axes, text: str) -> plt.Axes:
    """Clear ``ax`` and write ``text`` on it instead of a chart (why there is none)."""
    ax.cla()
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=11, color="#5f6b73",
            transform=ax.transAxes)  # fmt: skip
    return ax
