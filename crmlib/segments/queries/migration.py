"""Segment migration: each customer's RFM segment at as_of - lookback vs at as_of.

RFM is computed at both dates in one SQL pass over the shared purchase facts' customer-days
(``segments_rfm_features_pair.sql``, :mod:`crmlib.facts`) and each date is scored against its
**own** quantiles, with the same window length, bins and rules: a customer who did nothing can
still move, because everyone else's purchases shift the quantiles and the customer's own
window slides. The earlier date's population is every customer with a purchase on or before
it; customers whose first purchase came later are ``"(new)"`` before. Every customer of the
earlier date also exists at ``as_of_date``, so the matrix holds exactly the customers at
``as_of_date``.

Direction uses the rules' value order (most valuable first): a move to an earlier rule is
**up**, to a later rule **down**, the same segment **stayed**, and ``"(new)"`` is **new**.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from crmlib.checks import positive_days
from crmlib.config import DEFAULTS
from crmlib.engine import Engine
from crmlib.facts import purchase_facts
from crmlib.periods import as_date
from crmlib.segments.models.migration import _direction
from crmlib.segments.models.rfm import _check_bins, _score_arrays
from crmlib.segments.models.rules import (
    DEFAULT_SEGMENT_RULES,
    NEW_SEGMENT,
    SegmentRule,
    _codes_from_scores,
    _labels_at,
    segment_names,
    validate_rules,
)
from crmlib.segments.queries.rfm import _window_params

__all__ = [
    "MIGRATION_COLUMNS",
    "segment_migration",
]

log = logging.getLogger(__name__)


#: Columns of :func:`segment_migration` (one row per observed (before, after) pair).
MIGRATION_COLUMNS: tuple[str, ...] = (
    "segment_before", "segment_after", "direction", "customers", "revenue",
)  # fmt: skip


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
    """RFM features at both dates, one row per customer at ``as_of``, without ids (one pass
    over the purchase facts' customer-days, :func:`crmlib.facts.purchase_facts`)."""
    earlier = {f"{name}_before": v for name, v in _window_params(before, window_days).items()}
    with purchase_facts(engine, transactions=transactions) as facts:
        features = engine.query(
            "segments_rfm_features_pair",
            {**_window_params(as_of, window_days), **earlier},
            identifiers={"customer_days": facts["customer_days"]},
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


def segment_migration(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    lookback_days: int = DEFAULTS.segments.migration_lookback_days,
    window_days: int = DEFAULTS.segments.window_days,
    bins: int = DEFAULTS.segments.bins,
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
    :func:`crmlib.segments.queries.rfm.rfm_table` at the earlier date, and by ``segment_after``
    those at ``as_of_date``.

    Parameters
    ----------
    engine : Engine
        With ``transactions`` registered.
    as_of_date : date or str
        The later date (inclusive).
    lookback_days : int, default ``segments.migration_lookback_days``
        The earlier date is ``as_of_date - lookback_days``.
    window_days, bins, rules, transactions
        As in :func:`crmlib.segments.queries.rfm.rfm_table`.

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
