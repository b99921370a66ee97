"""The data-quality report of 01_ingest as a display table: the row and revenue scorecard."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from crmlib.ingest.models import _LISTED_WHEN_PRESENT, _TABLE_ORDER, _require_quality, _share

__all__ = [
    "quality_scorecard",
]


def quality_scorecard(quality: Mapping[str, Any]) -> pd.DataFrame:
    """The row and revenue accounting of every table, formatted for display.

    Transforms ``quality`` into one row per contract table (rows read, accepted, without a
    customer id (guest orders), after the as-of date, rejected, the rejected share and whether
    rows reconcile; "not configured" for an absent table, except surveys and marketing_spend,
    listed only when configured), one row for transaction revenue
    (read = accepted + no customer id + after the as-of date + rejected, in the run's
    currency) and, when there are any, one row counting the extreme orders (kept, flagged).

    Parameters
    ----------
    quality : mapping
        ``IngestResult.quality`` (or ``quality.json``).

    Returns
    -------
    pd.DataFrame
        Indexed by ``item``; columns ``read``, ``accepted``, ``no customer id``, ``after as-of
        date``, ``rejected``, ``rejected share``, ``reconciles``; text cells, ready to show.
    """
    _require_quality(quality)
    columns = ["item", "read", "accepted", "no customer id", "after as-of date", "rejected",
               "rejected share", "reconciles"]  # fmt: skip
    rows = []
    for table in _TABLE_ORDER:
        summary = quality["tables"].get(table, {"present": False})
        if not summary["present"] and table in _LISTED_WHEN_PRESENT:
            continue
        if not summary["present"]:
            rows.append(
                dict.fromkeys(columns[1:], "–")
                | {"item": f"{table} (rows)", "read": "not configured"}
            )
            continue
        rows.append({
            "item": f"{table} (rows)",
            "read": f"{summary['rows_read']:,}",
            "accepted": f"{summary['rows_accepted']:,}",
            "no customer id": f"{summary['rows_unattributed']:,}" if table == "transactions" else "–",
            "after as-of date": f"{summary['rows_after_as_of']:,}",
            "rejected": f"{summary['rows_rejected']:,}",
            "rejected share": f"{summary['reject_share']:.2%}",
            "reconciles": "yes" if summary["rows_reconcile"] else "NO",
        })  # fmt: skip
    tx = quality["transactions"]
    currency = quality["currency"]
    rows.append({
        "item": f"transaction revenue ({currency})",
        "read": f"{tx['revenue_read']:,.2f}",
        "accepted": f"{tx['revenue_accepted']:,.2f}",
        "no customer id": f"{tx['revenue_unattributed']:,.2f}",
        "after as-of date": f"{tx['revenue_after_as_of']:,.2f}",
        "rejected": f"{tx['revenue_rejected']:,.2f}",
        "rejected share": f"{_share(abs(tx['revenue_rejected']), abs(tx['revenue_read'])):.2%}",
        "reconciles": "yes" if tx["revenue_reconciles"] else "NO",
    })  # fmt: skip
    if tx.get("extreme_orders"):
        fence = tx["extreme_order_fence"]
        rows.append(dict.fromkeys(columns[1:], "–") | {
            "item": f"extreme orders, above {currency} {fence:,.0f} (kept, flagged)",
            "read": f"{tx['extreme_orders']:,}",
            "accepted": f"{tx['extreme_orders']:,}",
        })  # fmt: skip
    return pd.DataFrame(rows, columns=columns).set_index("item")
