"""Figures pooled over cohorts or groups, and the lifecycle figures the small-cell rule withholds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from crmlib.cohorts.models.survival import second_order_rates
from crmlib.privacy import HIDDEN, MIN_CELL_SIZE, SmallCells

__all__ = ["pool_groups", "second_order_summary"]


_ALL = "all"
_CHANNEL = "acquisition_channel"
#: Lifecycle counts of one period shown in the growth-accounting chart and sentence.
_LIFECYCLE_COUNTS = ["active", "new", "current", "resurrected", "dormant"]


# -- retention pooled over acquisition cohorts -----------------------------------------------
def _acquired(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` without the cohorts of the customers present at the start (not acquisition
    cohorts: see :func:`crmlib.cohorts.data_start`); tables without the column pass whole."""
    if "present_at_start" not in rows.columns:
        return rows
    flagged = rows["present_at_start"].astype("boolean").fillna(False).astype("bool")
    return rows[~flagged]


def _pooled(rows: pd.DataFrame, by: list[str], rule: SmallCells | None = None) -> pd.DataFrame:
    """Retained / cohort size summed over the acquisition cohorts (present-at-start left out).

    One row per value of ``by``: *customers* (retained), *cohort_size*, *retention*; with a
    ``rule``, *retention* is NaN where the pooled cohorts hold fewer customers than its limit.
    """
    rows = _acquired(rows)
    sums = rows.groupby(by, observed=True, sort=False)[["customers", "cohort_size"]].sum()
    pooled = sums.assign(
        retention=sums["customers"] / sums["cohort_size"].where(sums["cohort_size"] > 0)
    )
    if rule is None:
        return pooled
    return rule.hide(pooled, size="cohort_size", columns=["retention"])


def _overall(tidy: pd.DataFrame, definition: str | None = "on") -> pd.DataFrame:
    rows = tidy[tidy["dimension"] == _ALL]
    if definition is not None and "definition" in rows.columns:
        rows = rows[rows["definition"] == definition]
    return rows


def _recent_vs_before(rows: pd.DataFrame, *, k: int, recent: int = 6) -> dict[str, Any] | None:
    """Pooled k-period retention of the last ``recent`` acquisition cohorts that reached k vs
    the ones before (the customers present at the start left out), and the customers each
    rests on (*recent_customers, before_customers*)."""
    rows = _acquired(rows)
    at_k = rows[rows["periods_since"] == k].sort_values("cohort_start")
    if at_k.empty:
        return None
    last, before = at_k.tail(recent), at_k.iloc[:-recent].tail(recent)

    def pooled(part: pd.DataFrame) -> float | None:
        size = float(part["cohort_size"].sum())
        return float(part["customers"].sum()) / size if size > 0 else None

    return {
        "recent_customers": int(last["cohort_size"].sum()),
        "before_customers": int(before["cohort_size"].sum()),
        "k": int(k),
        "recent_cohorts": [str(last["cohort_label"].iloc[0]), str(last["cohort_label"].iloc[-1])],
        "recent_n_cohorts": len(last),
        "recent_retention": pooled(last),
        "before_cohorts": None
        if before.empty
        else [str(before["cohort_label"].iloc[0]), str(before["cohort_label"].iloc[-1])],
        "before_retention": None if before.empty else pooled(before),
    }


# -- time to second order --------------------------------------------------------------------
def pool_groups(
    durations: pd.DataFrame | None, *, by: str = _CHANNEL, min_cell_size: int = MIN_CELL_SIZE
) -> pd.DataFrame | None:
    """One row per customer, with the groups of ``by`` too small to show pooled into ``(other)``.

    Transforms a per-customer table (as from :func:`second_order_durations`) into a copy
    whose ``by`` column holds :meth:`crmlib.privacy.SmallCells.pool_labels`: groups of fewer
    than ``min_cell_size`` customers (and the smallest others, until ``(other)`` holds at
    least that many customers and two groups) read ``(other)``. Curves and rates computed
    per group afterwards (:func:`km_curves`, :func:`second_order_summary`) then show no
    group of fewer customers, and ``"all"`` is unchanged. A table without ``by`` (no
    customers table) and None pass through.
    """
    if durations is None or by not in durations.columns:
        return durations
    return durations.assign(**{by: SmallCells(min_cell_size).pool_labels(durations[by])})


def second_order_summary(
    durations: pd.DataFrame | None,
    *,
    by: str = _CHANNEL,
    days: Sequence[int] = (30, 60, 90),
    min_known: int = 30,
) -> pd.DataFrame | None:
    """:func:`second_order_rates` overall (group "all") followed by one group per value of ``by``."""
    if durations is None:
        return None
    overall = second_order_rates(durations, days=days, min_known=min_known)
    if by not in durations.columns:
        return overall
    grouped = second_order_rates(durations, by=by, days=days, min_known=min_known)
    return pd.concat([overall, grouped], ignore_index=True)


# -- lifecycle -------------------------------------------------------------------------------
def _lifecycle_hidden(lifecycle: pd.DataFrame, rule: SmallCells) -> pd.DataFrame:
    """Which lifecycle figures of each period may not be shown (True: withheld).

    Transforms the lifecycle table (one row per period) into one row per period and a
    boolean column per count of :data:`_LIFECYCLE_COUNTS`, plus *net_change* and
    *quick_ratio*. A count of fewer customers than the limit is withheld, and where the
    period's shown total (active = new + current + resurrected) would give it back, the
    smallest other part too (:meth:`SmallCells.suppress`). The net change and the quick ratio
    combine new, resurrected and dormant: they are withheld when any of those is. The chart
    and the sentence share this, so that together they reveal nothing either hides.
    """
    counts = lifecycle[_LIFECYCLE_COUNTS]
    text = rule.suppress(
        counts, counts=_LIFECYCLE_COUNTS, parts={"active": ["new", "current", "resurrected"]}
    )
    hidden = text.isin([rule.below, HIDDEN])
    hidden["net_change"] = hidden[["new", "resurrected", "dormant"]].any(axis=1)
    hidden["quick_ratio"] = hidden["net_change"]
    return hidden
