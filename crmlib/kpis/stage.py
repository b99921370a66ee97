"""Headline figures of stage 02_kpis for ``metrics.json``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from crmlib.formatting import plain_value
from crmlib.kpis.mix import PeriodMix
from crmlib.kpis.models import _bases, _infer_period, _latest_complete
from crmlib.kpis.tables import _TILES
from crmlib.kpis.text import describe_mix, kpi_conclusion
from crmlib.privacy import MIN_CELL_SIZE

__all__ = [
    "kpi_metrics",
    "TREND_PERIODS",
]

#: Complete periods in the front page's trend line of each KPI tile.
TREND_PERIODS = 12


def _trends(kpis: pd.DataFrame) -> dict[str, dict[str, list[Any]]]:
    """Per tile: the last :data:`TREND_PERIODS` complete periods' values and their customers.

    The customers are those the value is computed on (:func:`crmlib.kpis.models._bases`), so
    that the page leaves out a value on a small group (:mod:`crmlib.privacy`).
    """
    done = kpis[kpis["is_complete"].astype(bool)].tail(TREND_PERIODS)
    bases = _bases(kpis).loc[done.index]
    return {
        key: {
            "periods": done["period_label"].astype(str).tolist(),
            "values": [plain_value(value) for value in done[key]],
            "customers": [None if pd.isna(n) else int(n) for n in bases[key]],
        }
        for key, _label, _kind in _TILES
    }


def kpi_metrics(
    kpis: pd.DataFrame,
    tiles: list[dict[str, Any]],
    *,
    currency: str,
    contactable: pd.DataFrame | None = None,
    engagement: pd.DataFrame | None = None,
    guests: Mapping[str, Any] | None = None,
    mixes: Sequence[PeriodMix] = (),
    satisfaction: Mapping[str, Any] | None = None,
    min_cell_size: int = MIN_CELL_SIZE,
) -> dict[str, Any]:
    """Headline figures of stage 02_kpis for ``metrics.json`` (no customer identifiers).

    Transforms *kpis* (one row per period), the tiles of :func:`headline_tiles`, and
    optionally the contactable base and engagement tables into one JSON-ready dict with
    ``conclusion``, ``tiles``, ``latest_complete_period``, ``period``, ``latest`` (that
    period's KPIs), ``totals``, ``contactable`` and ``engagement`` (latest figures per
    channel, None when skipped). With ``guests`` (:func:`crmlib.kpis.guest_totals`),
    ``totals`` also holds ``guest_revenue``, ``guest_orders`` and ``revenue_with_guests``.
    ``trends`` holds each tile's last complete periods for the front page's trend line.
    With ``mixes`` (:func:`crmlib.kpis.period_mix`), ``mix`` holds per metric the periods,
    the dimension, the rates, the rate and mix effects and the sentence saying why it moved.
    ``satisfaction`` is :func:`crmlib.kpis.satisfaction_metrics` (None without surveys).
    The figures are as computed; only the ``conclusion`` sentence follows the small-cell rule
    (``min_cell_size``), as do the tiles' display texts (:func:`headline_tiles`).
    """
    position = _latest_complete(kpis)
    latest = None if position is None else kpis.iloc[position]
    keys = ["active_customers", "new_customers", "retention_rate", "churn_rate", "repeat_purchase_rate",
            "orders", "aov", "revenue", "revenue_per_active"]  # fmt: skip
    metrics: dict[str, Any] = {
        "conclusion": kpi_conclusion(kpis, currency=currency, min_cell_size=min_cell_size),
        "period": _infer_period(kpis) if len(kpis) else None,
        "latest_complete_period": None if latest is None else str(latest["period_label"]),
        "periods": int(len(kpis)),
        "first_period": str(kpis["period_label"].iloc[0]) if len(kpis) else None,
        "currency": currency,
        "latest": None if latest is None else {k: plain_value(latest[k]) for k in keys},
        "totals": {
            "revenue": float(kpis["revenue"].sum()),
            "orders": int(kpis["orders"].sum()),
            "customers_with_a_purchase": int(kpis["new_customers"].sum()),
        },
        "tiles": tiles,
        "trends": _trends(kpis) if len(kpis) else {},
        "contactable": None,
        "engagement": None,
        "mix": {
            mix.metric: {
                "by": mix.by, "before": mix.before, "after": mix.after,
                "rate_before": None if mix.split is None else mix.split.rate_before,
                "rate_after": None if mix.split is None else mix.split.rate_after,
                "rate_effect": None if mix.split is None else mix.split.rate_effect,
                "mix_effect": None if mix.split is None else mix.split.mix_effect,
                "sentence": describe_mix(mix, currency=currency),
            }
            for mix in mixes
        },
        "satisfaction": None if satisfaction is None else dict(satisfaction),
    }  # fmt: skip
    if guests is not None:
        metrics["totals"] |= {
            "guest_revenue": float(guests["net_amount"]),
            "guest_orders": int(guests["purchases"]),
            "revenue_with_guests": float(kpis["revenue"].sum()) + float(guests["net_amount"]),
        }
    if contactable is not None:
        last = contactable[contactable["period_start"] == contactable["period_start"].max()]
        metrics["contactable"] = {
            r.channel: {
                "contactable": int(r.contactable),
                "contactable_rate": plain_value(r.contactable_rate),
            }
            for r in last.itertuples()
        }
    if engagement is not None:
        sent = engagement[engagement["sends"] > 0]
        last = sent[sent["period_start"] == sent["period_start"].max()]
        metrics["engagement"] = {
            r.channel: {"period_label": r.period_label, "sends": int(r.sends), "open_rate": plain_value(r.open_rate),
                        "click_rate": plain_value(r.click_rate), "conversion_rate": plain_value(r.conversion_rate)}
            for r in last.itertuples()
        }  # fmt: skip
    return metrics
