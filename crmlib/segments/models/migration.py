"""Segment migration in numbers: moved up / stayed / moved down / new, and the matrix.

Reads the migration table of :func:`crmlib.segments.queries.migration.segment_migration`
(one row per observed pair of segment before and after).

Direction uses the rules' value order (most valuable first): a move to an earlier rule is
**up**, to a later rule **down**, the same segment **stayed**, and ``"(new)"`` is **new**.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from crmlib.checks import require_columns
from crmlib.segments.models.rules import (
    DEFAULT_SEGMENT_RULES,
    NEW_SEGMENT,
    SegmentRule,
    segment_names,
)

__all__ = [
    "DIRECTIONS",
    "migration_summary",
    "migration_matrix",
]

log = logging.getLogger(__name__)


#: Values of the ``direction`` column.
DIRECTIONS: tuple[str, ...] = ("up", "stayed", "down", "new")


def _direction(before: np.ndarray, after: np.ndarray, n_rules: int) -> np.ndarray:
    """'up' / 'stayed' / 'down' / 'new' from rule indexes (``n_rules`` = new)."""
    return np.where(
        before == n_rules,
        "new",
        np.where(after < before, "up", np.where(after > before, "down", "stayed")),
    )


def _value_rank(
    migration: pd.DataFrame, rules: Sequence[SegmentRule]
) -> tuple[np.ndarray, np.ndarray]:
    names = segment_names(rules)
    require_columns(
        migration, ("segment_before", "segment_after", "customers", "revenue"),
        table_name="migration",
    )  # fmt: skip
    rank = {name: index for index, name in enumerate(names)}
    rank[NEW_SEGMENT] = len(names)
    for column in ("segment_before", "segment_after"):
        allowed = set(rank) if column == "segment_before" else set(names)
        unknown = sorted(set(migration[column].astype("str")) - allowed)
        if unknown:
            raise ValueError(
                f"migration: {column} {unknown[0]!r} is not one of the rules' segments "
                f"{names}; pass the rules the migration was computed with"
            )
    before = migration["segment_before"].astype("str").map(rank).to_numpy("int64")
    after = migration["segment_after"].astype("str").map(rank).to_numpy("int64")
    return before, after


def migration_summary(
    migration: pd.DataFrame, *, rules: Sequence[SegmentRule] = DEFAULT_SEGMENT_RULES
) -> dict[str, Any]:
    """Moved up / moved down / stayed / new, in counts, shares and revenue.

    Transforms *migration* (one row per (segment_before, segment_after), as from
    :func:`segment_migration`) into a JSON-ready dict:

    - ``customers`` (at as_of), ``existing_customers`` (also there at the earlier date),
      ``moved_up``, ``moved_down``, ``stayed``, ``new`` (customer counts);
    - ``share_moved_up``, ``share_moved_down``, ``share_stayed``: shares of the existing
      customers (they sum to 1); ``share_new``: share of all customers at as_of;
    - ``revenue_moved_up`` ... ``revenue_new``: their net monetary at as_of;
    - ``largest_up``, ``largest_down``: the biggest single flow each way as
      ``{"from", "to", "customers"}``, or None.

    Up and down follow the rules' value order (most valuable first). Shares are None when
    their denominator is 0.
    """
    before, after = _value_rank(migration, rules)
    n_rules = len(segment_names(rules))
    direction = _direction(before, after, n_rules)
    customers = migration["customers"].to_numpy("int64")
    revenue = migration["revenue"].to_numpy("float64")
    counts = {d: int(customers[direction == d].sum()) for d in DIRECTIONS}
    money = {d: float(revenue[direction == d].sum()) for d in DIRECTIONS}
    total = int(customers.sum())
    existing = total - counts["new"]

    def share(value: int, of: int) -> float | None:
        return value / of if of else None

    def largest(way: str) -> dict[str, Any] | None:
        rows = migration[direction == way]
        if rows.empty:
            return None
        top = rows.sort_values("customers", ascending=False, kind="stable").iloc[0]
        return {
            "from": str(top["segment_before"]),
            "to": str(top["segment_after"]),
            "customers": int(top["customers"]),
        }

    return {
        "customers": total,
        "existing_customers": existing,
        "moved_up": counts["up"],
        "moved_down": counts["down"],
        "stayed": counts["stayed"],
        "new": counts["new"],
        "share_moved_up": share(counts["up"], existing),
        "share_moved_down": share(counts["down"], existing),
        "share_stayed": share(counts["stayed"], existing),
        "share_new": share(counts["new"], total),
        "revenue_moved_up": money["up"],
        "revenue_moved_down": money["down"],
        "revenue_stayed": money["stayed"],
        "revenue_new": money["new"],
        "largest_up": largest("up"),
        "largest_down": largest("down"),
    }


def migration_matrix(
    migration: pd.DataFrame,
    *,
    value: str = "customers",
    rules: Sequence[SegmentRule] = DEFAULT_SEGMENT_RULES,
) -> pd.DataFrame:
    """The migration as a wide matrix: segment before (rows) x segment after (columns).

    Transforms *migration* (one row per observed pair) into one row per segment of
    ``rules`` plus ``"(new)"`` (last) and one column per segment, both in rule order,
    holding ``value`` (0 for pairs nobody took).

    Parameters
    ----------
    migration : pd.DataFrame
        As from :func:`segment_migration`.
    value : {"customers", "revenue"}, default "customers"
    rules : sequence of SegmentRule, default DEFAULT_SEGMENT_RULES
        The rules the migration was computed with.

    Returns
    -------
    pd.DataFrame
        Index ``segment_before``, columns ``segment_after``.
    """
    if value not in ("customers", "revenue"):
        raise ValueError(f"value={value!r}: expected 'customers' or 'revenue'")
    _value_rank(migration, rules)
    names = segment_names(rules)
    index = pd.MultiIndex.from_product(
        [[*names, NEW_SEGMENT], names], names=["segment_before", "segment_after"]
    )
    sums = (
        migration.astype({"segment_before": "str", "segment_after": "str"})
        .groupby(["segment_before", "segment_after"])[value]
        .sum()
        .reindex(index, fill_value=0)
    )
    matrix = sums.unstack("segment_after").reindex(index=[*names, NEW_SEGMENT], columns=names)
    matrix = matrix.astype("int64" if value == "customers" else "float64")
    matrix.index.name, matrix.columns.name = "segment_before", "segment_after"
    return matrix
