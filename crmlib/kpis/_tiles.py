"""Headline KPI tiles: the latest complete period's figures with changes, and their formatting."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from crmlib.kpis._common import _infer_period, _plain
from crmlib.plotting import currency_prefix, format_money

__all__ = [
    "headline_tiles",
    "tiles_table",
]

log = logging.getLogger(__name__)

_MINUS = "\u2212"

_TILES: tuple[tuple[str, str, str], ...] = (
    ("active_customers", "Active customers", "count"),
    ("retention_rate", "Retention rate", "rate"),
    ("revenue", "Net revenue", "money"),
    ("aov", "Average order value", "money"),
    ("new_customers", "New customers", "count"),
    ("repeat_purchase_rate", "Repeat-purchase rate", "rate"),
)


def _signed(number: float, text: str) -> str:
    return ("+" if number > 0 else _MINUS if number < 0 else "\u00b1") + text


def _fmt(value: Any, kind: str, currency: str | None = None) -> str:
    """A KPI value as text: ``kind`` is "rate", "count" or "money" (money needs ``currency``)."""
    if value is None or pd.isna(value):
        return "\u2013"
    if kind == "rate":
        return f"{value:.1%}"
    if kind == "count":
        if abs(value) < 10_000:
            return f"{value:,.0f}"
        return f"{value / 1e6:.2f}M" if abs(value) >= 1e6 else f"{value / 1e3:.1f}k"
    if currency is None:
        raise ValueError(f"a {kind} value needs the run's currency: pass currency=params.currency")
    if round(abs(value), 2) < 1_000:  # money below 1,000 (AOV) keeps cents: '€54.20'
        sign = _MINUS if round(value, 2) < 0 else ""
        return f"{sign}{currency_prefix(currency)}{abs(value):,.2f}"
    return format_money(value, currency).replace("-", _MINUS)


def _change(current: Any, reference: Any, kind: str) -> dict[str, Any]:
    if current is None or reference is None or pd.isna(current) or pd.isna(reference):
        return {"change": None, "unit": "pp" if kind == "rate" else "relative", "display": "\u2013"}
    if kind == "rate":
        points = (float(current) - float(reference)) * 100
        return {
            "change": points,
            "unit": "pp",
            "display": _signed(round(points, 1), f"{abs(points):.1f} pp"),
        }
    if float(reference) == 0:
        return {"change": None, "unit": "relative", "display": "\u2013"}
    relative = float(current) / float(reference) - 1
    return {
        "change": relative,
        "unit": "relative",
        "display": _signed(round(relative, 3), f"{abs(relative):.1%}"),
    }


def _latest_complete(kpis: pd.DataFrame) -> int | None:
    complete = np.flatnonzero(kpis["is_complete"].to_numpy(dtype=bool))
    return int(complete[-1]) if complete.size else None


def _year_ago(kpis: pd.DataFrame, position: int) -> int | None:
    start = pd.Timestamp(kpis["period_start"].iloc[position])
    period = _infer_period(kpis)
    target = start - pd.Timedelta(weeks=52) if period == "week" else start - pd.DateOffset(years=1)
    found = np.flatnonzero(
        pd.to_datetime(kpis["period_start"]).to_numpy() == target.to_datetime64()
    )
    return int(found[0]) if found.size else None


def headline_tiles(kpis: pd.DataFrame, *, currency: str) -> list[dict[str, Any]]:
    """Front-page tiles for the latest complete period, with changes.

    Transforms *kpis* (one row per period, from :func:`kpis_by_period`) into one dict per
    headline KPI (active customers, retention rate, net revenue, AOV, new customers,
    repeat-purchase rate) for the latest period with ``is_complete``:
    ``{"key", "label", "value", "display", "period_label", "vs_previous", "vs_year_ago",
    "better"}``. A comparison is ``{"change", "unit", "display", "period_label"}``: rates
    change in percentage points (``unit="pp"``, ``change=-2.1``), counts and money
    relatively (``unit="relative"``, ``change=0.042`` shown "+4.2%"). A year ago is the period
    starting one year earlier (52 weeks for weeks). A comparison is None when the reference
    period is not in the data (``vs_year_ago`` without a year of history); its
    ``change`` is None when the change is undefined (a missing value or a zero base).
    ``better`` is the direction that is good news ("up" for all six).

    Returns
    -------
    list of dict
        Six tiles; empty when no period is complete yet.
    """
    position = _latest_complete(kpis)
    if position is None:
        log.warning("no complete period: no headline tiles")
        return []
    latest = kpis.iloc[position]
    previous = position - 1 if position > 0 else None
    year_ago = _year_ago(kpis, position)
    tiles = []
    for key, label, kind in _TILES:
        value = _plain(latest[key])
        comparisons: dict[str, Any] = {}
        for name, ref in (("vs_previous", previous), ("vs_year_ago", year_ago)):
            if ref is None:
                comparisons[name] = None
            else:
                comparisons[name] = _change(value, _plain(kpis[key].iloc[ref]), kind) | {
                    "period_label": str(kpis["period_label"].iloc[ref])
                }
        tiles.append(
            {
                "key": key,
                "label": label,
                "value": value,
                "display": _fmt(value, kind, currency),
                "period_label": str(latest["period_label"]),
                **comparisons,
                "better": "up",
            }
        )
    return tiles


def tiles_table(tiles: list[dict[str, Any]]) -> pd.DataFrame:
    """The headline tiles as a display table: one row per KPI (the index), changes as text."""
    rows = [
        {
            "KPI": tile["label"],
            "period": tile["period_label"],
            "value": tile["display"],
            "vs previous period": _vs(tile["vs_previous"]),
            "vs a year earlier": _vs(tile["vs_year_ago"]),
        }
        for tile in tiles
    ]
    return pd.DataFrame(
        rows, columns=["KPI", "period", "value", "vs previous period", "vs a year earlier"]
    ).set_index("KPI")


def _vs(comparison: dict[str, Any] | None) -> str:
    return (
        "no data"
        if comparison is None
        else f"{comparison['display']} (vs {comparison['period_label']})"
    )
