"""RFM scores and segment tables: quantile scores, segment sizes and revenue, the R x F grid.

Scores (:func:`rfm_scores`) are quantile scores 1..``bins``, higher = better, computed from
each value's share of customers with a **strictly worse** value:
``score = 1 + floor(bins * n_strictly_worse / n)``. Equal values always share a score (the
score depends on the value only, not on row order), the worst value always scores 1, and a
score k means that between (k-1)/``bins`` and k/``bins`` of the customers are strictly worse.
Heavy ties leave some scores unused: with 60% one-time buyers, frequency 1 scores 1 and
frequency 2 already scores 4 (60% are strictly below). Recency is scored over all customers
(fewer days = better); frequency and monetary over the customers with at least one purchase in
the window, and customers with none (frequency 0) get ``f_score`` 1 and ``m_score`` 1.

The features (recency_days, frequency, monetary) are defined and queried in
:mod:`crmlib.segments.queries.rfm`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from crmlib.checks import require_columns
from crmlib.config import DEFAULTS
from crmlib.errors import DataContractError
from crmlib.segments.models.rules import (
    DEFAULT_SEGMENT_RULES,
    SegmentRule,
    _labels_at,
    segment_names,
)

__all__ = [
    "FEATURE_COLUMNS",
    "RFM_COLUMNS",
    "SUMMARY_COLUMNS",
    "GRID_COLUMNS",
    "rfm_scores",
    "segment_summary",
    "rfm_grid",
]

log = logging.getLogger(__name__)


#: Columns of :func:`rfm_features` (one row per customer).
FEATURE_COLUMNS: tuple[str, ...] = (
    "customer_id", "last_order_date", "recency_days", "frequency", "monetary",
    "first_order_date", "tenure_days",
)  # fmt: skip


#: Columns of :func:`rfm_table`: the features, then *r_score, f_score, m_score* (1..bins,
#: higher = better), *rfm_cell* (``"5-4-3"``), *rfm_score* (their sum) and *segment*.
RFM_COLUMNS: tuple[str, ...] = (
    *FEATURE_COLUMNS, "r_score", "f_score", "m_score", "rfm_cell", "rfm_score", "segment",
)  # fmt: skip


#: Columns of :func:`segment_summary` (one row per segment, in rule order).
SUMMARY_COLUMNS: tuple[str, ...] = (
    "segment", "customers", "share_customers", "revenue", "share_revenue",
    "mean_recency_days", "mean_frequency", "mean_monetary",
)  # fmt: skip


#: Columns of :func:`rfm_grid` (one row per R x F score cell).
GRID_COLUMNS: tuple[str, ...] = (
    "r_score", "f_score", "customers", "share_customers", "mean_monetary",
)  # fmt: skip


def _check_bins(bins: int) -> int:
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2:
        raise ValueError(f"bins={bins!r}: expected an integer of at least 2")
    return int(bins)


def _strictly_below(values: np.ndarray) -> np.ndarray:
    """How many values are strictly smaller than each value (``rank(method="min") - 1``)."""
    n = len(values)
    low, high = (float(values.min()), float(values.max())) if n else (0.0, 0.0)
    if n and high - low <= 4 * n + 1024 and np.array_equal(values, np.floor(values)):
        # whole numbers in a narrow range (days, order counts): a counting sort, O(n)
        offsets = (values - low).astype("int64")
        counts = np.bincount(offsets)
        return (np.cumsum(counts) - counts)[offsets]
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    return (np.cumsum(counts) - counts)[inverse.ravel()]


def _quantile_scores(values: np.ndarray, bins: int) -> np.ndarray:
    """1 + floor(bins * share of values strictly below each value); higher value = higher score."""
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype="int64")
    return 1 + (bins * _strictly_below(values).astype("int64")) // n


def _score_arrays(
    recency_days: np.ndarray, frequency: np.ndarray, monetary: np.ndarray, *, bins: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R, F and M scores of aligned arrays (the rules of :func:`rfm_scores`)."""
    active = frequency > 0
    r_score = _quantile_scores(-recency_days, bins)
    f_score = np.ones(len(frequency), dtype="int64")
    m_score = np.ones(len(frequency), dtype="int64")
    f_score[active] = _quantile_scores(frequency[active], bins)
    m_score[active] = _quantile_scores(monetary[active], bins)
    return r_score, f_score, m_score


def rfm_scores(features: pd.DataFrame, *, bins: int = DEFAULTS.segments.bins) -> pd.DataFrame:
    """Quantile scores 1..``bins`` of recency, frequency and monetary value.

    Transforms *features* (one row per customer: ``recency_days``, ``frequency``,
    ``monetary``, as from :func:`rfm_features`) into the same rows and order plus
    *r_score, f_score, m_score* (1..``bins``, higher = better: most recent, most frequent,
    highest net spend), *rfm_cell* (``"5-4-3"``: R-F-M) and *rfm_score* (their sum).

    Tie handling (deterministic): a customer's score is
    ``1 + floor(bins * n_strictly_worse / n)``, where ``n_strictly_worse`` counts the scored
    customers with a strictly worse value (``rank(method="min") - 1``). Equal values always
    share a score, the result does not depend on row order, the worst value scores 1, and
    heavy ties can leave scores unused (e.g. frequency 1 for 60% of customers: 1 scores 1,
    2 scores 4). Recency is scored over every customer (fewer days = better). Frequency and
    monetary are scored over the customers with ``frequency > 0``; customers without a
    purchase in the window get ``f_score`` 1 and ``m_score`` 1, whatever their refunds.

    Parameters
    ----------
    features : pd.DataFrame
        One row per customer.
    bins : int, default ``segments.bins``
        Number of quantile bins per dimension (3 in the classic 1-3 scoring).

    Returns
    -------
    pd.DataFrame
        A new frame: ``features`` plus the five score columns (int64 scores, str cell).

    Raises
    ------
    DataContractError
        A column is missing or holds nulls.

    Examples
    --------
    >>> features = pd.DataFrame(
    ...     {"recency_days": [3, 40, 200], "frequency": [4, 1, 0], "monetary": [90.0, 20.0, -5.0]}
    ... )
    >>> rfm_scores(features, bins=3)[["rfm_cell", "rfm_score"]].values.tolist()
    [['3-2-2', 7], ['2-1-1', 4], ['1-1-1', 3]]
    """
    bins = _check_bins(bins)
    columns = ("recency_days", "frequency", "monetary")
    require_columns(features, columns, table_name="rfm features")
    arrays = {}
    for column in columns:
        values = pd.to_numeric(features[column], errors="coerce").to_numpy(dtype="float64")
        if np.isnan(values).any():
            raise DataContractError(
                f"rfm features: column {column!r} has {int(np.isnan(values).sum())} null or "
                "non-numeric values; expected a number for every customer"
            )
        arrays[column] = values
    r_score, f_score, m_score = _score_arrays(
        arrays["recency_days"], arrays["frequency"], arrays["monetary"], bins=bins
    )
    score_range = range(1, bins + 1)
    labels = [f"{r}-{f}-{m}" for r in score_range for f in score_range for m in score_range]
    cell = ((r_score - 1) * bins + (f_score - 1)) * bins + (m_score - 1)
    scored = features.copy(deep=False)  # copy-on-write: new columns never reach ``features``
    scored["r_score"] = r_score
    scored["f_score"] = f_score
    scored["m_score"] = m_score
    scored["rfm_cell"] = _labels_at(labels, cell)
    scored["rfm_score"] = r_score + f_score + m_score
    return scored


def _check_segments(rfm: pd.DataFrame, names: Sequence[str], *, table_name: str) -> None:
    unknown = sorted(set(map(str, rfm["segment"].dropna().unique())) - set(names))
    if unknown:
        raise ValueError(
            f"{table_name}: segment {unknown[0]!r} is not one of the rules' segments "
            f"{list(names)}; pass the rules the segments were assigned with"
        )


def segment_summary(
    rfm: pd.DataFrame,
    *,
    rules: Sequence[SegmentRule] = DEFAULT_SEGMENT_RULES,
) -> pd.DataFrame:
    """Size, revenue and average recency, frequency and monetary value of each segment.

    Transforms *rfm* (one row per customer, as from :func:`rfm_table`) into one row per
    segment of ``rules``, in rule (value) order, empty segments included with 0 customers:
    *segment, customers, share_customers* (of all customers), *revenue* (sum of net
    ``monetary`` in the window), *share_revenue* (of the total; a segment whose refunds
    exceed its purchases has a negative share; null when the total is not positive),
    *mean_recency_days, mean_frequency, mean_monetary*. CLV by segment is reported by 05_clv,
    which runs after this stage and reads its ``rfm`` artifact.

    Parameters
    ----------
    rfm : pd.DataFrame
        One row per customer with ``segment``, ``recency_days``, ``frequency``, ``monetary``.
    rules : sequence of SegmentRule, default DEFAULT_SEGMENT_RULES
        The rules the segments were assigned with (their order is the output's).

    Returns
    -------
    pd.DataFrame
        Columns :data:`SUMMARY_COLUMNS`; shares sum to 1.
    """
    names = segment_names(rules)
    require_columns(
        rfm,
        ("customer_id", "segment", "recency_days", "frequency", "monetary"),
        table_name="rfm",
    )
    _check_segments(rfm, names, table_name="rfm")
    segment = pd.Categorical(rfm["segment"].astype("str"), categories=names)
    grouped = (
        rfm[["recency_days", "frequency", "monetary"]]
        .astype("float64")
        .groupby(segment, observed=False)
    )
    summary = pd.DataFrame(
        {
            "customers": grouped.size(),
            "revenue": grouped["monetary"].sum(),
            "mean_recency_days": grouped["recency_days"].mean(),
            "mean_frequency": grouped["frequency"].mean(),
            "mean_monetary": grouped["monetary"].mean(),
        }
    ).reindex(names)
    summary["customers"] = summary["customers"].fillna(0).astype("int64")
    summary["revenue"] = summary["revenue"].fillna(0.0)
    total_customers = int(summary["customers"].sum())
    total_revenue = float(summary["revenue"].sum())
    summary["share_customers"] = (
        summary["customers"] / total_customers if total_customers else np.nan
    )
    summary["share_revenue"] = summary["revenue"] / total_revenue if total_revenue > 0 else np.nan
    summary.index.name = "segment"
    summary = summary.reset_index()
    summary["segment"] = summary["segment"].astype("str")
    return summary[list(SUMMARY_COLUMNS)]


def rfm_grid(rfm: pd.DataFrame, *, bins: int | None = None) -> pd.DataFrame:
    """Customers and mean net monetary value of every R x F score cell (for the heatmap).

    Transforms *rfm* (one row per customer with ``r_score``, ``f_score``, ``monetary``) into
    one row per (r_score, f_score) in 1..``bins`` x 1..``bins``, empty cells included:
    *r_score, f_score, customers, share_customers, mean_monetary* (null when empty).

    Parameters
    ----------
    rfm : pd.DataFrame
        One row per customer.
    bins : int, optional
        Score bins; None takes the largest score found in ``r_score``, ``f_score``,
        ``m_score`` (5 when there are no customers).

    Returns
    -------
    pd.DataFrame
        Columns :data:`GRID_COLUMNS`, by r_score then f_score.
    """
    require_columns(rfm, ("r_score", "f_score", "monetary"), table_name="rfm")
    if bins is None:
        present = [c for c in ("r_score", "f_score", "m_score") if c in rfm.columns]
        bins = int(max(rfm[c].max() for c in present)) if len(rfm) else 5
    full = pd.MultiIndex.from_product(
        [range(1, bins + 1), range(1, bins + 1)], names=["r_score", "f_score"]
    )
    grouped = rfm.groupby(["r_score", "f_score"])["monetary"]
    grid = pd.DataFrame({"customers": grouped.size(), "mean_monetary": grouped.mean()})
    grid = grid.reindex(full)
    grid["customers"] = grid["customers"].fillna(0).astype("int64")
    total = int(grid["customers"].sum())
    grid["share_customers"] = grid["customers"] / total if total else np.nan
    return grid.reset_index()[list(GRID_COLUMNS)]
