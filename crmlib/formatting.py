"""Tables and words for the report's pages: one presenter, and the number, money and count
formats it uses (no matplotlib here: text modules import this, charts import :mod:`crmlib.plotting`).

Stakeholders read the executed notebooks as HTML pages, so a table on a page says what its
columns are in words, with units, and shows every number formatted for what it is. Stages
build their tables with analysts' column names and raw numbers; :func:`present` turns one
into the display table a notebook ends a cell with:

- the label column becomes the index (no positional 0, 1, 2);
- each kept column gets a readable header, with its unit in brackets ("CLV total (EUR)",
  "Share of CLV (%)"); columns not described are left out of the page;
- numbers are formatted by kind (:class:`Column`): counts with thousands separators, money
  with :func:`format_money` in the run's currency (never a default one),
  percentages, other numbers with a stated number of decimals;
- customer counts go through the small-cell rule (:meth:`crmlib.privacy.SmallCells.counts`);
  a cell that is already text (``"<10"``, ``"–"`` written by the rule upstream) is kept;
- a missing or non-finite value reads ``"–"``, a boolean ``"yes"`` or ``"no"``.

Wide tables scroll inside their own box on a phone: the page stylesheet
(``crmlib/templates/report.css``) does that for every output of a stage page.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import mistune
import numpy as np
import pandas as pd

from crmlib.privacy import HIDDEN, SmallCells, small_counts_in_html

__all__ = [
    "KINDS",
    "MINUS",
    "signed_points",
    "Column",
    "format_number",
    "format_count",
    "format_percent",
    "format_flag",
    "format_date",
    "present",
    "format_figure",
    "plain_value",
    "currency_prefix",
    "format_money",
    "counted",
    "listed",
    "Sentence",
    "details",
]

log = logging.getLogger(__name__)

#: The kinds of column :func:`present` formats (see :class:`Column`).
KINDS: tuple[str, ...] = (
    "text", "number", "count", "customers", "money", "percent", "flag", "date",
)  # fmt: skip
#: The minus sign of a negative number on a page (U+2212, as in the pages' sentences).
MINUS = "\u2212"
_NAMES_CUSTOMERS = re.compile(r"\bcustomers\b", re.IGNORECASE)
_NONZERO_DIGIT = re.compile(r"[1-9]")


# -- single values ---------------------------------------------------------------------------
def _missing(value: object) -> bool:
    """None, NA, NaT, NaN or an infinite number: a value that a page shows as ``"–"``."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, Real) and not isinstance(value, bool | np.bool_):
        return not math.isfinite(float(value))
    return False


def _signed(text: str, negative: bool) -> str:
    """``text`` (digits without a sign) with the page's minus when the value is below zero
    and something other than zero is shown (-0.001 at 2 decimals is ``"0.00"``)."""
    return f"{MINUS}{text}" if negative and _NONZERO_DIGIT.search(text) else text


def format_number(value: object, *, decimals: int = 2, digits: int | None = None) -> str:
    """A number as text: thousands separators, ``decimals`` places (or ``digits`` significant).

    Parameters
    ----------
    value : number
        Any real number; missing or not finite reads ``"–"``.
    decimals : int, default 2
        Places after the decimal point.
    digits : int, optional
        Significant digits instead of ``decimals`` (model estimates of any magnitude);
        from 10,000 up the number is shown whole.

    Returns
    -------
    str
        E.g. ``"−3,477.16"``; negative numbers use the minus sign :data:`MINUS`.

    Examples
    --------
    >>> format_number(-3477.155852), format_number(0.519713, digits=4), format_number(None)
    ('−3,477.16', '0.5197', '–')
    >>> format_number(139.704896, decimals=1), format_number(-0.0004, decimals=3)
    ('139.7', '0.000')
    """
    if _missing(value):
        return HIDDEN
    number = float(value)  # type: ignore[arg-type]
    magnitude = abs(number)
    if digits is not None:
        text = f"{magnitude:,.{digits}g}" if magnitude < 1e4 else f"{magnitude:,.0f}"
    else:
        text = f"{magnitude:,.{decimals}f}"
    return _signed(text.replace("-", MINUS), number < 0)


def format_count(value: object) -> str:
    """A count (not of customers: see :meth:`crmlib.privacy.SmallCells.count`) as text.

    Examples
    --------
    >>> format_count(12345), format_count(682.556257), format_count(float("nan"))
    ('12,345', '683', '–')
    """
    if _missing(value):
        return HIDDEN
    number = float(value)  # type: ignore[arg-type]
    return _signed(f"{abs(number):,.0f}", number < 0)


def signed_points(value: float, decimals: int = 1) -> str:
    """A score in points (NPS) as a page reads it: signed; a value that rounds to 0 has no sign.

    >>> signed_points(-0.04), signed_points(9.56), signed_points(-15.15)
    ('0.0', '+9.6', '−15.2')
    """
    rounded = round(float(value), decimals)
    text = f"{abs(rounded):.{decimals}f}"
    return ("+" if rounded > 0 else MINUS if rounded < 0 else "") + text


def format_percent(value: object, *, decimals: int = 1) -> str:
    """A share (0.25) as a percentage (``"25.0%"``) with ``decimals`` places.

    Examples
    --------
    >>> format_percent(0.513916), format_percent(-0.182, decimals=0), format_percent(None)
    ('51.4%', '−18%', '–')
    """
    if _missing(value):
        return HIDDEN
    number = 100 * float(value)  # type: ignore[arg-type]
    return _signed(f"{abs(number):,.{decimals}f}", number < 0) + "%"


def format_flag(value: object) -> str:
    """A yes/no value as a reader says it: ``"yes"``, ``"no"``; missing ``"–"``.

    Examples
    --------
    >>> format_flag(True), format_flag(np.False_), format_flag(None)
    ('yes', 'no', '–')
    """
    if _missing(value):
        return HIDDEN
    return "yes" if bool(value) else "no"


def format_date(value: object) -> str:
    """A date (or a timestamp at midnight) as ``"2025-07-04"``; with a time ``"... 14:30"``.

    Examples
    --------
    >>> format_date(dt.date(2025, 7, 4)), format_date(pd.Timestamp("2025-07-04 14:30:10"))
    ('2025-07-04', '2025-07-04 14:30')
    """
    if _missing(value):
        return HIDDEN
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    if stamp == stamp.normalize():
        return stamp.strftime("%Y-%m-%d")
    return stamp.strftime("%Y-%m-%d %H:%M")


# -- columns ---------------------------------------------------------------------------------
def _read_as_customers(header: str) -> bool:
    """Whether the page check (:func:`crmlib.privacy.small_counts_in_html`) reads a column
    with this header as customer counts."""
    probe = (
        f"<table><tr><th></th><th>{html.escape(header)}</th></tr>"
        "<tr><th>x</th><td>1</td></tr></table>"
    )
    return bool(small_counts_in_html(probe, min_cell_size=2))


@dataclass(frozen=True)
class Column:
    """How one column of a table reads on a page: its header and the kind of its values.

    Parameters
    ----------
    header : str
        The words of the header, without the unit: ``"CLV total"``.
    kind : str, default "text"
        One of :data:`KINDS`:

        - ``"text"``: labels as they are (a float among them with 2 decimals);
        - ``"number"``: ``decimals`` places (default 2), or ``digits`` significant digits;
        - ``"count"``: a count of things other than customers (orders, purchases, groups),
          whole, with thousands separators;
        - ``"customers"``: a count of customers, through the small-cell rule
          (``"<10"``); the header must name customers (``"Customers"``,
          ``"High-risk customers"``) so that the page check reads it;
        - ``"money"``: :func:`format_money` in the run's currency
          (``decimals``: places below a thousand, default 0), unit: the currency;
        - ``"percent"``: a share as a percentage, ``decimals`` places (default 1), unit "%";
        - ``"flag"``: ``"yes"`` / ``"no"``;
        - ``"date"``: ``"2025-07-04"``.
    decimals : int, optional
        Places after the decimal point (see ``kind``).
    digits : int, optional
        ``"number"`` only: significant digits instead of decimals (model estimates).
    unit : str, optional
        Shown in brackets after the header. Money's unit is the currency and a
        percentage's "%" unless given.

    Examples
    --------
    >>> Column("CLV total", "money").title(currency="EUR"), Column("Share of CLV", "percent").title()
    ('CLV total (EUR)', 'Share of CLV (%)')
    >>> Column("Customers", "count")
    Traceback (most recent call last):
    ...
    ValueError: Column('Customers', 'count'): a count of customers must use kind='customers' (the small-cell rule)
    """

    header: str
    kind: str = "text"
    decimals: int | None = None
    digits: int | None = None
    unit: str | None = None

    def __post_init__(self) -> None:
        where = f"Column({self.header!r}, {self.kind!r})"
        if self.kind not in KINDS:
            raise ValueError(f"{where}: unknown kind; expected one of {list(KINDS)}")
        if not self.header.strip():
            raise ValueError(f"{where}: the header is empty; expected words a reader understands")
        if self.decimals is not None and not (_whole(self.decimals) and self.decimals >= 0):
            raise ValueError(f"{where}: decimals={self.decimals!r}; expected a whole number >= 0")
        if self.digits is not None and (
            self.kind != "number" or not (_whole(self.digits) and self.digits >= 1)
        ):
            raise ValueError(
                f"{where}: digits={self.digits!r}; expected a whole number >= 1 on a number column"
            )
        if self.kind == "customers" and not (
            _NAMES_CUSTOMERS.search(self.header) and _read_as_customers(self.header)
        ):
            raise ValueError(
                f"{where}: the header of a customer count must name customers and not a share "
                "or an amount (e.g. 'Customers', 'High-risk customers'), so the page check reads it"
            )
        if self.kind in ("number", "count") and _read_as_customers(self.header):
            raise ValueError(
                f"{where}: a count of customers must use kind='customers' (the small-cell rule)"
            )

    def title(self, *, currency: str | None = None) -> str:
        """The header as the page shows it, with the unit in brackets."""
        unit = self.unit
        if unit is None and self.kind == "money":
            if currency is None:
                raise ValueError(
                    f"column {self.header!r} holds money: pass currency=params.currency "
                    "(there is no default currency)"
                )
            unit = currency
        if unit is None and self.kind == "percent":
            unit = "%"
        if not unit or f"({unit})" in self.header:
            return self.header
        return f"{self.header} ({unit})"


def _whole(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _readable(name: object) -> str:
    """A column name as words, for an index level described by no :class:`Column`."""
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _cell(value: object, column: Column, *, currency: str | None, rule: SmallCells | None) -> str:
    if isinstance(value, str):
        return value  # already text: a label, or "<10" / "–" written by the small-cell rule
    if _missing(value):
        return HIDDEN
    if isinstance(value, bool | np.bool_) or column.kind == "flag":
        return format_flag(value)
    if column.kind == "date" or isinstance(value, dt.date):
        return format_date(value)
    if column.kind == "customers" and rule is not None:
        return rule.count(value)
    if column.kind == "count":
        return format_count(value)
    if column.kind == "money" and currency is not None:
        amount = float(value)  # type: ignore[arg-type]
        return format_money(amount, currency, small_decimals=column.decimals or 0).replace(
            "-", MINUS
        )
    if column.kind == "percent":
        return format_percent(value, decimals=1 if column.decimals is None else column.decimals)
    if column.kind == "number":
        places = 2 if column.decimals is None else column.decimals
        return format_number(value, decimals=places, digits=column.digits)
    if _whole(value) or isinstance(value, np.integer):
        return str(value)
    if isinstance(value, Real):
        return format_number(value, decimals=2 if column.decimals is None else column.decimals)
    return str(value)


# -- the presenter ---------------------------------------------------------------------------
def present(
    table: pd.DataFrame,
    *,
    columns: Mapping[str, Column],
    index: str | Sequence[str] | None = None,
    currency: str | None = None,
    min_cell_size: int | None = None,
) -> pd.DataFrame:
    """The table as a stakeholder reads it on a page: labelled rows, readable headers, text.

    Transforms *table* (one row per item, analysts' column names, raw numbers) into the
    same rows, indexed by their label, with one column per entry of ``columns`` (in that
    order; other columns are left out of the page), every cell text formatted by its
    :class:`Column`. Cells that are already text are kept as they are, so what the
    small-cell rule wrote upstream (``"<10"``, ``"–"``) survives; missing and non-finite
    values read ``"–"``, booleans ``"yes"`` / ``"no"``.

    Parameters
    ----------
    table : pd.DataFrame
        The table to show; its index may hold the labels (a named index).
    columns : mapping of str to Column
        The columns to show, by name in ``table``; also describes the index levels (their
        header), when listed.
    index : str or sequence of str, optional
        The column(s), or named index level(s), that label the rows. Default: the table's
        own index when it is not a plain 0, 1, 2 ... range, else the first entry of
        ``columns``.
    currency : str, optional
        The run's currency (``params.currency``); required when a column holds money.
    min_cell_size : int, optional
        The run's small-cell limit (``privacy.min_cell_size``); required when a column
        holds customers.

    Returns
    -------
    pd.DataFrame
        Text cells; headers with units; the index named by its header.

    Examples
    --------
    >>> fits = pd.DataFrame({"model": ["bgnbd", "paretonbd"],
    ...                      "log_likelihood": [-3477.155852, np.nan],
    ...                      "clv_total": [12345.6, 950.0], "n_customers": [1234, 7],
    ...                      "converged": [True, False], "n_params": [4, 4]})
    >>> present(fits, columns={"model": Column("Model"),
    ...                        "log_likelihood": Column("Log-likelihood", "number", decimals=1),
    ...                        "clv_total": Column("CLV total", "money"),
    ...                        "n_customers": Column("Customers", "customers"),
    ...                        "converged": Column("Converged", "flag")},
    ...         index="model", currency="EUR", min_cell_size=10)  # doctest: +NORMALIZE_WHITESPACE
              Log-likelihood CLV total (EUR) Customers Converged
    Model
    bgnbd           −3,477.2          €12.3k     1,234       yes
    paretonbd              –            €950       <10        no
    """
    frame, labels = _labelled(table, columns=columns, index=index)
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise ValueError(
            f"present: columns {missing} are not in the table; it has "
            f"{[str(c) for c in frame.columns]} (index: {list(labels)})"
        )
    kinds = {column.kind for column in columns.values()}
    if "customers" in kinds and min_cell_size is None:
        raise ValueError(
            "present: the table shows customer counts: pass min_cell_size=params's "
            "privacy.min_cell_size (the small-cell rule)"
        )
    rule = SmallCells(min_cell_size) if min_cell_size is not None else None
    shown = [name for name in columns if name not in labels]
    headers = [columns[name].title(currency=currency) for name in shown]
    if len(set(headers)) < len(headers):
        raise ValueError(f"present: two columns would read the same: {headers}")
    body = {
        header: [_cell(value, columns[name], currency=currency, rule=rule)
                 for value in frame[name].tolist()]
        for name, header in zip(shown, headers, strict=True)
    }  # fmt: skip
    level_values = [
        [_cell(value, columns.get(name, Column("label")), currency=currency, rule=rule)
         for value in frame[name].tolist()]
        for name in labels
    ]  # fmt: skip
    level_names = [
        columns[name].title(currency=currency) if name in columns else _readable(name)
        for name in labels
    ]
    if not labels:
        row_index: pd.Index = pd.Index(
            [_cell(v, Column("label"), currency=currency, rule=rule) for v in frame.index]
        )
    elif len(labels) == 1:
        row_index = pd.Index(level_values[0], name=level_names[0], dtype="object")
    else:
        row_index = pd.MultiIndex.from_arrays(level_values, names=level_names)
    return pd.DataFrame(body, index=row_index, columns=headers, dtype="object")


def _labelled(
    table: pd.DataFrame, *, columns: Mapping[str, Column], index: str | Sequence[str] | None
) -> tuple[pd.DataFrame, list[str]]:
    """``table`` with its labels as columns, and the names of the label columns.

    An unnamed index that is not a plain range stays the index (returned labels: none).
    """
    names = [name for name in table.index.names if name is not None]
    plain = isinstance(table.index, pd.RangeIndex) and not names
    if index is None:
        if names:
            return table.reset_index(), [str(name) for name in names]
        if not plain:
            return table, []
        if not columns:
            raise ValueError("present: no columns to show; describe at least one")
        return table, [next(iter(columns))]
    labels = [index] if isinstance(index, str) else list(index)
    frame = table.reset_index() if names else table
    unknown = [name for name in labels if name not in frame.columns]
    if unknown:
        raise ValueError(
            f"present: index {unknown} is not a column or index level of the table; "
            f"it has {[str(c) for c in frame.columns]}"
        )
    return frame, labels


def format_figure(value: Any, kind: str, currency: str | None = None) -> str:
    """A headline figure as text: ``kind`` is "rate", "count" or "money" (money needs ``currency``).

    Counts of 10,000 or more are shortened (``12.3k``, ``1.20M``); money below 1,000 keeps its
    cents; missing reads ``"–"``.

    Examples
    --------
    >>> format_figure(0.3661, "rate"), format_figure(12_345, "count"), format_figure(54.2, "money", "EUR")
    ('36.6%', '12.3k', '€54.20')
    >>> format_figure(None, "count")
    '–'
    """
    if value is None or pd.isna(value):
        return HIDDEN
    if kind == "rate":
        return f"{value:.1%}"
    if kind == "count":
        if abs(value) < 10_000:
            return f"{value:,.0f}"
        return f"{value / 1e6:.2f}M" if abs(value) >= 1e6 else f"{value / 1e3:.1f}k"
    if currency is None:
        raise ValueError(f"a {kind} value needs the run's currency: pass currency=params.currency")
    if round(abs(value), 2) < 1_000:  # money below 1,000 (AOV) keeps cents: '€54.20'
        sign = MINUS if round(value, 2) < 0 else ""
        return f"{sign}{currency_prefix(currency)}{abs(value):,.2f}"
    return format_money(value, currency).replace("-", MINUS)


def plain_value(value: Any) -> Any:
    """A value as plain Python for JSON: numpy scalars unwrapped, missing as None.

    Examples
    --------
    >>> plain_value(np.int64(3)), plain_value(np.nan), plain_value("a")
    (3, None, 'a')
    """
    if value is None or pd.isna(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


_CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}


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


def listed(items: Sequence[str]) -> str:
    """Items in a sentence: "a", "a and b", "a, b and c".

    Examples
    --------
    >>> listed(["BG/NBD"]), listed(["01", "02"]), listed(["x", "y", "z"])
    ('BG/NBD', '01 and 02', 'x, y and z')
    """
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


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


# -- analysts' notes, folded ---------------------------------------------------------------------
def details(summary: str, body: str | Sequence[str]) -> str:
    """A collapsed "details" block for analysts' technical notes, for a Markdown output.

    A page's prose is for stakeholders; how a model was fitted (parameters, what the optimiser
    tried, numerical guards) is for the analyst who checks it. Such notes go into an HTML
    ``<details>`` element, closed until the reader opens it: the line ``summary`` is what the
    page shows, ``body`` (Markdown, or a list of notes written as bullets) is inside. The
    body is rendered to HTML here (mistune, nbconvert's Markdown renderer) so that the whole
    block is one HTML block without blank lines: Markdown does not split it, and nbconvert's
    exporter keeps it whole in JupyterLab and in the pages alike. An empty body gives "".

    Examples
    --------
    >>> print(details("How the model was fitted", ["**r** = 0.52", "converged"]))
    <details><summary>Details: how the model was fitted</summary>
    <ul>
    <li><strong>r</strong> = 0.52</li>
    <li>converged</li>
    </ul>
    </details>
    >>> details("Fit notes", [])
    ''
    """
    text = body if isinstance(body, str) else "\n".join(f"- {note}" for note in body)
    if not text.strip():
        return ""
    label = html.escape(summary[:1].lower() + summary[1:], quote=False)
    rendered = str(mistune.html(text.strip()))
    inside = "\n".join(line for line in rendered.splitlines() if line.strip())
    return f"<details><summary>Details: {label}</summary>\n{inside}\n</details>"
