"""Segment migration: each customer's RFM segment at as_of - lookback vs at as_of.

RFM is computed at both dates in one SQL pass (``segments_rfm_features_pair.sql``) and each
date is scored against its **own** quantiles, with the same window length, bins and rules:
a customer who did nothing can still move, because everyone else's purchases shift the
quantiles and the customer's own window slides. The earlier date's population is every
customer with a purchase on or before it; customers whose first purchase came later are
``"(new)"`` before. Every customer of the earlier date also exists at ``as_of_date``, so the
matrix holds exactly the customers at ``as_of_date``.

Direction uses the rules' value order (most valuable first): a move to an earlier rule is
**up**, to a later rule **down**, the same segment **stayed**, and ``"(new)"`` is **new**.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from crmlib.checks import positive_days, require_columns, require_view
from crmlib.engine import Engine
from crmlib.periods import as_date, exclusive_end
from crmlib.segments._rfm import _check_bins, _score_arrays
from crmlib.segments._rules import (
    DEFAULT_SEGMENT_RULES,
    NEW_SEGMENT,
    SegmentRule,
    _codes_from_scores,
    _labels_at,
    segment_names,
    validate_rules,
)

__all__ = [
    "MIGRATION_COLUMNS",
    "DIRECTIONS",
    "segment_migration",
    "migration_summary",
    "migration_matrix",
]

log = logging.getLogger(__name__)

#: Columns of :func:`segment_migration` (one row per observed (before, after) pair).
MIGRATION_COLUMNS: tuple[str, ...] = (
    "segment_before", "segment_after", "direction", "customers", "revenue",
)  # fmt: skip
#: Values of the ``direction`` column.
DIRECTIONS: tuple[str, ...] = ("up", "stayed", "down", "new")

_PAIR_COLUMNS = (
    "recency_days", "frequency", "monetary",
    "recency_days_before", "frequency_before", "monetary_before",
)  # fmt: skip


def _pair_features(
    engine: Engine,
    *,
    as_of: dt.date,
    before: dt.date,
    window_days: int,
    transactions: str,
) -> pd.DataFrame:
    """RFM features at both dates, one row per customer at ``as_of``, without ids."""
    end_ts, end_before = exclusive_end(as_of), exclusive_end(before)
    window = dt.timedelta(days=window_days)
    features = engine.query(
        "segments_rfm_features_pair",
        {
            "as_of": as_of,
            "end_ts": end_ts,
            "window_start": end_ts - window,
            "as_of_before": before,
            "end_before": end_before,
            "window_start_before": end_before - window,
        },
        identifiers={"transactions": transactions},
    )
    return features[list(_PAIR_COLUMNS)]


def _segment_codes_at(
    features: pd.DataFrame, *, suffix: str, rules: Sequence[SegmentRule], bins: int
) -> np.ndarray:
    """Rule index of each row's segment, scored against the rows' own quantiles."""
    scores = _score_arrays(
        features[f"recency_days{suffix}"].to_numpy("float64"),
        features[f"frequency{suffix}"].to_numpy("float64"),
        features[f"monetary{suffix}"].to_numpy("float64"),
        bins=bins,
    )
    return _codes_from_scores(*scores, rules=rules, bins=bins)


def _direction(before: np.ndarray, after: np.ndarray, n_rules: int) -> np.ndarray:
    """'up' / 'stayed' / 'down' / 'new' from rule indexes (``n_rules`` = new)."""
    return np.where(
        before == n_rules,
        "new",
        np.where(after < before, "up", np.where(after > before, "down", "stayed")),
    )


def segment_migration(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    lookback_days: int = 90,
    window_days: int = 365,
    bins: int = 5,
    rules: Sequence[SegmentRule] = DEFAULT_SEGMENT_RULES,
    transactions: str = "transactions",
) -> pd.DataFrame:
    """Customers and revenue moving between segments from as_of - lookback to as_of.

    Transforms *transactions* into one row per observed pair (segment at
    ``as_of_date - lookback_days``, segment at ``as_of_date``): *segment_before,
    segment_after, direction* (up / stayed / down by the rules' value order, or new),
    *customers* and *revenue* = the sum of net ``monetary`` at ``as_of_date`` (the
    ``window_days`` ending on ``as_of_date``, the after-window) of those customers.
    ``segment_before`` is ``"(new)"`` for customers whose first purchase came after the
    earlier date. Each date is scored against its own quantiles (see the module docstring).

    Invariants: ``customers`` sums to the number of customers at ``as_of_date``; summed by
    ``segment_before`` (without ``"(new)"``) it equals the segment sizes of
    :func:`crmlib.segments._rfm.rfm_table` at the earlier date, and by ``segment_after``
    those at ``as_of_date``.

    Parameters
    ----------
    engine : Engine
        With ``transactions`` registered.
    as_of_date : date or str
        The later date (inclusive).
    lookback_days : int, default 90
        The earlier date is ``as_of_date - lookback_days``.
    window_days, bins, rules, transactions
        As in :func:`crmlib.segments._rfm.rfm_table`.

    Returns
    -------
    pd.DataFrame
        Columns :data:`MIGRATION_COLUMNS`, in rule order of segment_before (``"(new)"``
        last) then segment_after.
    """
    as_of = as_date(as_of_date)
    lookback_days = positive_days("lookback_days", lookback_days)
    window_days = positive_days("window_days", window_days)
    bins = _check_bins(bins)
    rules = tuple(rules)
    validate_rules(rules, bins=bins)
    require_view(
        engine, transactions, ("customer_id", "order_ts", "amount", "is_purchase"),
        producer="01_ingest",
    )  # fmt: skip
    before = as_of - dt.timedelta(days=lookback_days)
    features = _pair_features(
        engine, as_of=as_of, before=before, window_days=window_days, transactions=transactions
    )
    n_rules = len(rules)
    after_codes = _segment_codes_at(features, suffix="", rules=rules, bins=bins)
    existed = features["recency_days_before"].notna().to_numpy()
    before_codes = np.full(len(features), n_rules, dtype="int64")
    before_codes[existed] = _segment_codes_at(
        features[existed], suffix="_before", rules=rules, bins=bins
    )
    pair = before_codes * n_rules + after_codes
    size = (n_rules + 1) * n_rules
    customers = np.bincount(pair, minlength=size)
    revenue = np.bincount(pair, weights=features["monetary"].to_numpy("float64"), minlength=size)
    observed = np.flatnonzero(customers)
    names = [*segment_names(rules), NEW_SEGMENT]
    before_idx, after_idx = observed // n_rules, observed % n_rules
    migration = pd.DataFrame(
        {
            "segment_before": _labels_at(names, before_idx),
            "segment_after": _labels_at(names, after_idx),
            "direction": pd.array(_direction(before_idx, after_idx, n_rules), dtype="str"),
            "customers": customers[observed].astype("int64"),
            "revenue": revenue[observed].astype("float64"),
        }
    )
    log.info(
        "segment migration %s -> %s: %d customers (%d new)",
        before,
        as_of,
        len(features),
        int((~existed).sum()),
    )
    return migration[list(MIGRATION_COLUMNS)]


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
