"""The house chart style and small formatting helpers shared by every stage's plots."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.rcsetup import cycler
from matplotlib.ticker import FuncFormatter, PercentFormatter

__all__ = [
    "HOUSE_STYLE",
    "PALETTE",
    "use_house_style",
    "house_style",
    "format_money",
    "money_axis",
    "percent_axis",
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

_CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}


def use_house_style() -> None:
    """Apply the house style to matplotlib's global settings (notebooks call this once)."""
    mpl.rcParams.update(HOUSE_STYLE)


@contextmanager
def house_style() -> Iterator[None]:
    """The house style for one block only (for library code and tests)."""
    with mpl.rc_context(HOUSE_STYLE):
        yield


def format_money(
    value: float | None, currency: str = "EUR", *, decimals: int = 1, small_decimals: int = 0
) -> str:
    """Compact money: ``format_money(12345.6, "EUR")`` -> ``'€12.3k'``.

    ``decimals`` applies to thousands and above, ``small_decimals`` below a thousand (prices
    such as a cost per contact).

    Examples
    --------
    >>> format_money(12345.6, "EUR"), format_money(-950, "USD"), format_money(2.5e6, "CHF")
    ('€12.3k', '-$950', 'CHF 2.5M')
    >>> format_money(0.5, "EUR", small_decimals=2)
    '€0.50'
    """
    if value is None or value != value:
        return "–"
    symbol = _CURRENCY_SYMBOLS.get(currency)
    sign = "-" if value < 0 else ""
    magnitude = abs(float(value))
    for limit, suffix in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            number = f"{magnitude / limit:.{decimals}f}{suffix}"
            break
    else:
        number = f"{magnitude:,.{small_decimals}f}"
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{currency} {number}"


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
