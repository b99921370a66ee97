"""KPIs shaped for display: headline tiles with their changes, the tiles and contactable tables."""

from __future__ import annotations

import datetime as dt  # noqa: F401  (the namespace of contactable_table's doctest)
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from crmlib.formatting import Column, format_figure, plain_value, present
from crmlib.kpis.mix import PeriodMix
from crmlib.kpis.models import (
    _CONTACTABLE_COUNTS,
    _bases,
    _latest_complete,
    _suppressed_contactable,
    _year_ago,
    latest_contactable,
)
from crmlib.privacy import HIDDEN, MIN_CELL_SIZE, SmallCells

__all__ = [
    "headline_tiles",
    "shown_tiles",
    "tiles_table",
    "contactable_table",
    "mix_table",
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


_KINDS: dict[str, str] = {key: kind for key, _label, kind in _TILES}


_COMPARISONS: tuple[str, ...] = ("vs_previous", "vs_year_ago")


def _signed(number: float, text: str) -> str:
    return ("+" if number > 0 else _MINUS if number < 0 else "\u00b1") + text


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


def _whole(value: Any) -> int | None:
    """A count of customers for ``metrics.json``: an int, or None when unknown."""
    return None if value is None or pd.isna(value) else int(value)


def headline_tiles(
    kpis: pd.DataFrame, *, currency: str, min_cell_size: int = MIN_CELL_SIZE
) -> list[dict[str, Any]]:
    """Front-page tiles for the latest complete period, with changes.

    Transforms *kpis* (one row per period, from :func:`kpis_by_period`) into one dict per
    headline KPI (active customers, retention rate, net revenue, AOV, new customers,
    repeat-purchase rate) for the latest period with ``is_complete``:
    ``{"key", "label", "kind", "value", "customers", "display", "period_label", "vs_previous",
    "vs_year_ago", "better"}``. ``kind`` is "count", "rate" or "money"; ``customers`` the
    customers the value is computed on (a count is its own; retention: the previous period's
    active customers; revenue and AOV: the period's; repeat-purchase rate: all acquired so
    far). A comparison is ``{"change", "unit", "display", "period_label", "customers"}``:
    rates change in percentage points (``unit="pp"``, ``change=-2.1``), counts and money
    relatively (``unit="relative"``, ``change=0.042`` shown "+4.2%"). A year ago is the period
    starting one year earlier (52 weeks for weeks). A comparison is None when the reference
    period is not in the data (``vs_year_ago`` without a year of history); its
    ``change`` is None when the change is undefined (a missing value or a zero base).
    ``better`` is the direction that is good news ("up" for all six).

    ``value`` and ``change`` are the figures as computed; the ``display`` texts follow the
    small-cell rule (:func:`shown_tiles`): a count of 1 to ``min_cell_size - 1`` customers
    reads "<10", a rate or amount computed on so few customers "–", and so does a change
    from or to such a figure.

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
    bases = _bases(kpis)
    previous = position - 1 if position > 0 else None
    year_ago = _year_ago(kpis, position)
    tiles = []
    for key, label, kind in _TILES:
        value = plain_value(latest[key])
        comparisons: dict[str, Any] = {}
        for name, ref in zip(_COMPARISONS, (previous, year_ago), strict=True):
            if ref is None:
                comparisons[name] = None
            else:
                comparisons[name] = _change(value, plain_value(kpis[key].iloc[ref]), kind) | {
                    "period_label": str(kpis["period_label"].iloc[ref]),
                    "customers": _whole(bases[key].iloc[ref]),
                }
        tiles.append(
            {
                "key": key,
                "label": label,
                "kind": kind,
                "value": value,
                "customers": _whole(bases[key].iloc[position]),
                "display": format_figure(value, kind, currency),
                "period_label": str(latest["period_label"]),
                **comparisons,
                "better": "up",
            }
        )
    return _ruled(tiles, SmallCells(min_cell_size), keep_changes=True)


def shown_tiles(
    tiles: Sequence[Mapping[str, Any]], *, min_cell_size: int = MIN_CELL_SIZE
) -> list[dict[str, Any]]:
    """The tiles as a page may show them: figures on 1 to ``min_cell_size - 1`` customers hidden.

    Transforms tiles of :func:`headline_tiles` (as read back from ``metrics.json``) into
    copies where a tile whose ``customers`` is small displays "<10" (a count) or "–" (a rate
    or an amount), and a comparison whose tile or reference period is small displays "–"
    with ``change`` None (no arrow). A count tile without ``customers`` is its own group; a
    tile of another kind without ``customers`` is shown as recorded.

    Examples
    --------
    >>> tile = {"key": "new_customers", "value": 7, "display": "7",
    ...         "vs_previous": {"change": 0.4, "display": "+40.0%", "customers": 5}}
    >>> shown = shown_tiles([tile])[0]
    >>> shown["display"], shown["vs_previous"]["display"], shown["vs_previous"]["change"]
    ('<10', '–', None)
    """
    return _ruled(tiles, SmallCells(min_cell_size), keep_changes=False)


def _ruled(
    tiles: Sequence[Mapping[str, Any]], rule: SmallCells, *, keep_changes: bool
) -> list[dict[str, Any]]:
    """Tiles with their display texts under ``rule``; ``change`` numbers kept or nulled."""
    out = []
    for raw in tiles:
        tile = dict(raw)
        kind = str(tile.get("kind") or _KINDS.get(str(tile.get("key")), ""))
        count = kind == "count"
        base = _number(tile.get("customers", tile.get("value") if count else None))
        hidden = not rule.shown(base)
        if hidden:
            tile["display"] = rule.below if count else HIDDEN
        for name in _COMPARISONS:
            comparison = tile.get(name)
            if not isinstance(comparison, Mapping):
                continue
            if hidden or not rule.shown(_number(comparison.get("customers"))):
                tile[name] = dict(comparison) | {"display": HIDDEN}
                if not keep_changes:
                    tile[name]["change"] = None
        out.append(tile)
    return out


def _number(value: Any) -> float | None:
    """A number read back from ``metrics.json``; None for anything else (a list, text, bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def tiles_table(tiles: list[dict[str, Any]], *, min_cell_size: int = MIN_CELL_SIZE) -> pd.DataFrame:
    """The headline tiles as a display table: one row per KPI (the index), changes as text.

    The values and changes follow the small-cell rule (:func:`shown_tiles`).
    """
    rows = [
        {
            "KPI": tile["label"],
            "period": tile["period_label"],
            "value": tile["display"],
            "vs previous period": _vs(tile["vs_previous"]),
            "vs a year earlier": _vs(tile["vs_year_ago"]),
        }
        for tile in shown_tiles(tiles, min_cell_size=min_cell_size)
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


#: Display names of the contactable base's rates.
_CONTACTABLE_RATES: dict[str, str] = {
    "consent_rate": "Opted in (%)",
    "contactable_rate": "Contactable (%)",
}


def contactable_table(
    contactable: pd.DataFrame | None, *, min_cell_size: int = MIN_CELL_SIZE
) -> pd.DataFrame | None:
    """The contactable base at the latest period end for display: one row per channel.

    Transforms :func:`contactable_base` (one row per period and channel) into a table indexed
    by *Channel* with *Signed-up customers, Opted in, Unsubscribed, Contactable* (counts of
    customers with thousands separators) and *Opted in (%), Contactable (%)* (of signed-up
    customers), for the latest period; the date counted at is in
    :func:`describe_contactable_base`. Counts follow the small-cell rule: 1 to
    ``min_cell_size - 1`` customers read "<10", and as opted in = unsubscribed + contactable,
    opted in (not contactable, the reach a campaign needs) reads "–" so that the total does
    not reveal the hidden one; a
    rate reads "–" with its count. None (no customers table) passes through: the section's
    sentence says why it is skipped.

    Examples
    --------
    >>> base = pd.DataFrame({"period_start": [dt.date(2025, 3, 1)] * 2,
    ...     "channel": ["email", "sms"], "counted_at": [dt.date(2025, 3, 31)] * 2,
    ...     "customers": [4000, 4000], "consented": [3000, 1000], "unsubscribed": [120, 4],
    ...     "contactable": [2880, 996], "consent_rate": [0.75, 0.25],
    ...     "contactable_rate": [0.72, 0.249]})
    >>> table = contactable_table(base)
    >>> table.loc["email"].tolist()
    ['4,000', '3,000', '120', '2,880', '75.0%', '72.0%']
    >>> table.loc["sms"].tolist()
    ['4,000', '–', '<10', '996', '–', '24.9%']
    """
    latest = latest_contactable(contactable)
    if latest is None:
        return None
    shown = _suppressed_contactable(latest, min_cell_size=min_cell_size)
    names = _CONTACTABLE_COUNTS | _CONTACTABLE_RATES
    table = shown[list(names)].rename(columns=names).astype("str")
    return table.set_axis(pd.Index(latest["channel"].astype("str"), name="Channel"))


def mix_table(
    mix: PeriodMix, *, currency: str, min_cell_size: int = MIN_CELL_SIZE
) -> pd.DataFrame | None:
    """The rate and mix effects by group, for display; None when the change was not split.

    One row per group of :func:`crmlib.kpis.period_mix` (small groups pooled into
    ``(other)``) and a last row for all customers: the customers the rate is computed on
    in each period, the group's rate in each, its share of the base in each, and its rate
    effect, mix effect and their sum (percentage points for retention, money per customer
    for revenue). The effects of the rows add up to the last row's.
    """
    if mix.split is None:
        return None
    rows = mix.split.table.copy()
    total = {
        "group": "All customers", "base_before": rows["base_before"].sum(),
        "base_after": rows["base_after"].sum(), "share_before": 1.0, "share_after": 1.0,
        "rate_before": mix.split.rate_before, "rate_after": mix.split.rate_after,
        "rate_effect": mix.split.rate_effect, "mix_effect": mix.split.mix_effect,
        "change": mix.split.change,
    }  # fmt: skip
    rows = pd.concat([rows, pd.DataFrame([total])], ignore_index=True)
    if mix.metric == "retention":
        effects = rows[["rate_effect", "mix_effect", "change"]] * 100
        rows[["rate_effect", "mix_effect", "change"]] = effects
        rate: dict[str, Any] = {"kind": "percent"}
        effect: dict[str, Any] = {"kind": "number", "decimals": 2, "unit": "pp"}
        who = "Previous period's buyers"
    else:
        rate = {"kind": "money", "decimals": 2}
        effect = {"kind": "money", "decimals": 2}
        who = "Buyers"
    columns = {
        "group": Column(mix.by.replace("_", " ").capitalize()),
        "base_before": Column(f"{who}, {mix.before} (customers)", "customers"),
        "base_after": Column(f"{who}, {mix.after} (customers)", "customers"),
        "share_before": Column(f"Share of base, {mix.before}", "percent"),
        "share_after": Column(f"Share of base, {mix.after}", "percent"),
        "rate_before": Column(f"{mix.label.capitalize()}, {mix.before}", **rate),
        "rate_after": Column(f"{mix.label.capitalize()}, {mix.after}", **rate),
        "rate_effect": Column("Rate effect", **effect),
        "mix_effect": Column("Mix effect", **effect),
        "change": Column("Change", **effect),
    }  # fmt: skip
    return present(
        rows, columns=columns, index="group", currency=currency, min_cell_size=min_cell_size
    )
