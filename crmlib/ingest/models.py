"""Computations on the data-quality report of 01_ingest: its check, shares, rejects by reason."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from crmlib.errors import DataContractError

__all__ = [
    "rejects_by_reason",
]


_TABLE_ORDER = ("transactions", "customers", "events", "assignments", "surveys", "marketing_spend")
#: Optional tables a scorecard lists only when configured (newer than the four above).
_LISTED_WHEN_PRESENT = ("surveys", "marketing_spend")


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _require_quality(quality: Mapping[str, Any]) -> None:
    missing = [
        k
        for k in ("tables", "transactions", "verdict", "reconciles", "currency")
        if k not in quality
    ]
    if missing:
        raise DataContractError(
            f"quality: key(s) {', '.join(missing)} not found; expected the dict returned by run_ingest "
            "(IngestResult.quality) or quality.json"
        )


def rejects_by_reason(quality: Mapping[str, Any]) -> pd.DataFrame:
    """Rejected rows per table and reason code.

    Returns
    -------
    pd.DataFrame
        One row per (table, reason) with at least one rejected row: ``table``, ``reason``,
        ``rows``; most frequent first.
    """
    _require_quality(quality)
    records = [
        {"table": table, "reason": reason, "rows": int(n)}
        for table in _TABLE_ORDER
        for reason, n in quality["tables"].get(table, {}).get("rejected_by_reason", {}).items()
        if n
    ]
    frame = pd.DataFrame(records, columns=["table", "reason", "rows"])
    return frame.sort_values(
        ["rows", "table", "reason"], ascending=[False, True, True], ignore_index=True
    )
