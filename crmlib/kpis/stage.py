"""Headline figures of stage 02_kpis for ``metrics.json``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from crmlib.formatting import plain_value
from crmlib.kpis.mix import PeriodMix
from crmlib.kpis.models import _infer_period, _latest_complete
from crmlib.kpis.text import describe_mix, kpi_conclusion
from crmlib.privacy import MIN_CELL_SIZE

__all__ = [
    "kpi_metrics",
]


def kpi_metrics(
    kpis: pd.DataFrame,
    tiles: list[dict[str, Any]],
    *,
    currency: str,
    contactable: pd.DataFrame | None = None,
    engagement: pd.DataFrame | None = None,
    guests: Mapping[str, Any] | None = None,
    mixes: Sequence[PeriodMix] = (),
    min_cell_size: int = MIN_CELL_SIZE,
) -> dict[str, Any]:
    """Headline figures of stage 02_kpis for ``metrics.json`` (no customer identifiers).

    Transforms *kpis* (one row per period), the tiles of :func:`headline_tiles`, and
    optionally the contactable base and engagement tables into one JSON-ready dict with
    ``conclusion``, ``tiles``, ``latest_complete_period``, ``period``, ``latest`` (that
    period's KPIs), ``totals``, ``contactable`` and ``engagement`` (latest figures per
    channel, None when skipped). With ``guests`` (:func:`crmlib.kpis.guest_totals`),
    ``totals`` also holds ``guest_revenue``, ``guest_orders`` and ``revenue_with_guests``.
    With ``mixes`` (:func:`crmlib.kpis.period_mix`), ``mix`` holds per metric the periods,
    the dimension, the rates, the rate and mix effects and the sentence saying why it moved.
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
