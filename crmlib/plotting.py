"""The house chart style and small formatting helpers shared by every stage's plots and pages."""

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
    "currency_prefix",
    "format_money",
    "money_axis",
    "percent_axis",
    "counted",
    "note_on_axes",
    "Sentence",
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


def currency_prefix(currency: str) -> str:
    """What goes before an amount: the symbol (``"£"``) or the ISO code and a space (``"CHF "``).

    Examples
    --------
    >>> currency_prefix("GBP"), currency_prefix("CHF")
    ('£', 'CHF ')
    """
    symbol = _CURRENCY_SYMBOLS.get(currency)
    return symbol if symbol else f"{currency} "


def format_money(
    value: float | None, currency: str, *, decimals: int = 1, small_decimals: int = 0
) -> str:
    """Compact money in the run's currency: ``format_money(12345.6, "EUR")`` -> ``'€12.3k'``.

    ``currency`` is the run's ISO code (``params.currency``) and has no default, so that no
    page can fall back to a currency the run does not use. ``decimals`` applies to thousands
    and above, ``small_decimals`` below a thousand (prices such as a cost per contact). The
    unit is chosen after rounding (999.6 is ``'€1.0k'``, not ``'€1,000'``), and an amount
    that rounds to zero has no sign (``-0.3`` is ``'€0'``).

    Examples
    --------
    >>> format_money(12345.6, "EUR"), format_money(-950, "USD"), format_money(2.5e6, "CHF")
    ('€12.3k', '-$950', 'CHF 2.5M')
    >>> format_money(0.5, "EUR", small_decimals=2), format_money(-0.3, "GBP")
    ('€0.50', '£0')
    """
    if value is None or value != value:
        return "–"
    magnitude = abs(float(value))
    if round(magnitude, small_decimals) < 1e3:
        number = f"{magnitude:,.{small_decimals}f}"
    else:
        for limit, suffix in ((1e3, "k"), (1e6, "M"), (1e9, "bn")):
            scaled = round(magnitude / limit, decimals)
            if scaled < 1e3 or suffix == "bn":
                number = f"{scaled:,.{decimals}f}{suffix}"
                break
    sign = "-" if float(value) < 0 and any(c in "123456789" for c in number) else ""
    return f"{sign}{currency_prefix(currency)}{number}"


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


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """A count with its noun in number: ``noun`` + "s", or ``plural``, unless ``n`` is 1.

    Examples
    --------
    >>> counted(1, "guest row"), counted(2, "refund row"), counted(1_204, "customer")
    ('1 guest row', '2 refund rows', '1,204 customers')
    >>> counted(1, "child", "children"), counted(3, "child", "children")
    ('1 child', '3 children')
    """
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


class Sentence(str):
    """Text for a page: a ``str`` that a notebook displays as Markdown, without quotes.

    A function that returns either a table or a sentence saying why there is none (an
    optional input is missing) returns the sentence as a ``Sentence``, so that the cell shows
    the words instead of their Python repr (``'No customers table ...'``). It compares, joins
    and formats like the plain string it is.

    Examples
    --------
    >>> text = Sentence("No customers table: the profiles are skipped.")
    >>> text == "No customers table: the profiles are skipped.", text._repr_markdown_()
    (True, 'No customers table: the profiles are skipped.')
    """

    __slots__ = ()

    def _repr_markdown_(self) -> str:
        return str(self)
