"""Readiness gate, display tables and chart fallbacks of stage 03_cohorts."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import matplotlib.pyplot as plt
import pandas as pd

from crmlib.cohorts._lifecycle import LIFECYCLE_COLUMNS
from crmlib.cohorts._matrices import RETENTION_COLUMNS, REVENUE_COLUMNS, cohort_matrix
from crmlib.engine import Engine
from crmlib.errors import DataContractError, StageInputMissing
from crmlib.kpis._tiles import _fmt
from crmlib.periods import as_date, check_period, exclusive_end, period_spine
from crmlib.plotting import note_on_axes

__all__ = [
    "cohort_readiness",
    "when_ready",
    "as_artifact",
    "display_matrix",
    "plot_or_note",
    "definition_table",
    "bracket_table",
    "trends_table",
    "rates_table",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_ALL = "all"
_CHANNEL = "acquisition_channel"
#: Columns of the artifacts this stage writes (an empty table has them when skipped).
_ARTIFACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "cohort_retention": RETENTION_COLUMNS,
    "cohort_revenue": REVENUE_COLUMNS,
    "lifecycle": LIFECYCLE_COLUMNS,
}


# -- readiness -------------------------------------------------------------------------------
def cohort_readiness(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    period: str = "month",
    cohort_basis: str = "first_order",
    transactions: str = "transactions",
    customers: str = "customers",
) -> tuple[bool, str]:
    """Whether the cohort matrices can be computed, and a markdown sentence saying so.

    Cohort matrices need at least two complete periods (k = 0 and k = 1) from the first
    purchase (or signup, with ``cohort_basis="signup"``) to ``as_of_date``; with fewer,
    :func:`cohort_retention` raises ``DataContractError``. This asks the engine one cheap
    question instead, so the notebook can show the reason and skip the matrix sections.

    Returns
    -------
    (bool, str)
        ``ready`` and the sentence to display.
    """
    period = check_period(period)
    as_of = as_date(as_of_date)
    if cohort_basis == "signup" and not engine.has_table(customers):
        return False, (
            f"**Cohorts skipped:** `cohort_basis='signup'` needs the `{customers}` table, and "
            "this run has none: use `cohort_basis='first_order'` or add a customers source."
        )
    if not engine.has_table(transactions):
        raise StageInputMissing(f"no {transactions} table is registered: run 01_ingest first")
    what = "purchase" if cohort_basis == "first_order" else "signup"
    sql = (
        f"SELECT min(order_ts) FROM {transactions} WHERE is_purchase AND order_ts < $end"
        if cohort_basis == "first_order"
        else f"SELECT min(signup_ts) FROM {customers} WHERE signup_ts < $end"
    )
    first = engine.scalar(sql, {"end": exclusive_end(as_of)})
    if first is None or pd.isna(first):
        return False, (
            f"**Cohorts skipped:** no {what} on or before {as_of}, so there are no cohorts. "
            "Check `as_of_date` and the transactions source."
        )
    spine = period_spine(pd.Timestamp(first).date(), as_of, period=period)
    complete = spine[spine["period_end"] <= as_of]
    if len(complete) < 2:
        return False, (
            f"**Cohort sections skipped:** the first {what} ({pd.Timestamp(first).date()}) leaves "
            f"only {len(complete)} complete {period} up to {as_of}; cohort matrices need at "
            f"least two. Use a shorter `period` (e.g. week) or a later `as_of_date`. Lifecycle "
            "and time to second order below still run."
        )
    return True, (
        f"{len(complete)} complete {period}s of cohorts, {complete['period_label'].iloc[0]} "
        f"to {complete['period_label'].iloc[-1]} (the partial {period} containing "
        f"{as_of} is left out of the matrices)."
    )


def when_ready(ready: bool, function: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T | None:
    """``function(*args, **kwargs)`` when ``ready``, else None (the later cells say why)."""
    return function(*args, **kwargs) if ready else None


def as_artifact(table: pd.DataFrame | None, name: str) -> pd.DataFrame:
    """The table to save as artifact ``name``: itself, or an empty table with its columns."""
    if table is not None:
        return table
    return pd.DataFrame(columns=list(_ARTIFACT_COLUMNS[name]))


# -- display tables and charts ---------------------------------------------------------------
def display_matrix(
    tidy: pd.DataFrame | None,
    *,
    cohorts_shown: int = 24,
    definition: str = "on",
    value: str = "retention",
    dimension: str = _ALL,
    dimension_value: str = _ALL,
) -> pd.DataFrame | None:
    """The wide matrix of the last ``cohorts_shown`` cohorts, masked cells blank, for a heatmap.

    Transforms a tidy cohort table (one row per cohort x k x dimension value) into one row
    per cohort (newest last) and one column per period since acquisition that at least one
    shown cohort reached. Cells of cohorts smaller than the minimum cell size are NaN (drawn
    blank), as :func:`cohort_matrix` does. None passes through.
    """
    if tidy is None:
        return None
    wide = cohort_matrix(
        tidy,
        definition=definition,
        dimension=dimension,
        dimension_value=dimension_value,
        value=value,
    )
    return wide.tail(cohorts_shown).dropna(axis=1, how="all")


def plot_or_note(
    plot: Callable[..., plt.Axes],
    table: pd.DataFrame | None,
    *,
    ax: plt.Axes | None = None,
    note: str = "Not enough data for this chart (see the text above).",
    **kwargs: Any,
) -> plt.Axes:
    """Draw ``plot(table, ax=ax, **kwargs)``, or write why not on the axes.

    When ``table`` is None or empty, or the plot finds its input unusable
    (``DataContractError``, e.g. a split the run has no customers table for), the axes show
    ``note`` (or the error) instead of a chart, so the notebook goes on.
    """
    ax = ax or plt.gca()
    reason = note
    if table is not None and len(table):
        try:
            return plot(table, ax=ax, **kwargs)
        except DataContractError as error:
            reason = str(error)
    return note_on_axes(ax, reason)


def _acquired(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` without the cohorts of the customers present at the start (not acquisition
    cohorts: see :func:`crmlib.cohorts.data_start`); tables without the column pass whole."""
    if "present_at_start" not in rows.columns:
        return rows
    flagged = rows["present_at_start"].astype("boolean").fillna(False).astype("bool")
    return rows[~flagged]


def _pooled(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Retained / cohort size summed over the acquisition cohorts (present-at-start left out)."""
    rows = _acquired(rows)
    sums = rows.groupby(by, observed=True, sort=False)[["customers", "cohort_size"]].sum()
    return sums.assign(
        retention=sums["customers"] / sums["cohort_size"].where(sums["cohort_size"] > 0)
    )


def _overall(tidy: pd.DataFrame, definition: str | None = "on") -> pd.DataFrame:
    rows = tidy[tidy["dimension"] == _ALL]
    if definition is not None and "definition" in rows.columns:
        rows = rows[rows["definition"] == definition]
    return rows


def definition_table(
    tidy: pd.DataFrame | None, *, k: Sequence[int] = (1, 3, 6, 12), unit: str = "month"
) -> pd.DataFrame | None:
    """Pooled overall retention at each k under both definitions, as display text.

    One row per definition ("active in period k", "active in k or later"), one column per k:
    retained / cohort size summed over the cohorts that reached k (the customers present at
    the start left out).
    """
    if tidy is None:
        return None
    rows = tidy[(tidy["dimension"] == _ALL) & tidy["periods_since"].isin(list(k))]
    pooled = _pooled(rows, ["definition", "periods_since"])["retention"].unstack("periods_since")
    pooled = pooled.reindex(columns=[x for x in k if x in pooled.columns])
    names = {"on": f"active in {unit} k", "on_or_after": f"active in {unit} k or later"}
    table = pooled.rename(index=names).map(lambda v: _fmt(v, "rate"))
    table.columns = [f"{unit} {x}" for x in table.columns]
    table.index.name = "retention"
    return table


def bracket_table(
    bracket_tidy: pd.DataFrame | None, *, dimension: str = _CHANNEL, min_cell_size: int = 10
) -> pd.DataFrame | None:
    """Share of customers buying again within each day bracket, overall and per channel.

    Transforms the tidy output of :func:`bracket_retention` into one row per value
    (``all`` first, then ``dimension``'s values) and one column per bracket: retained /
    eligible customers pooled over cohorts (the customers present at the start left out), as
    text; cells with fewer than ``min_cell_size`` eligible customers are blank.
    """
    if bracket_tidy is None:
        return None
    rows = bracket_tidy[bracket_tidy["dimension"].isin([_ALL, dimension])]
    pooled = _pooled(rows, ["dimension_value", "bracket"])
    shown = pooled["retention"].where(pooled["cohort_size"] >= min_cell_size)
    table = shown.unstack("bracket")
    order = bracket_tidy.drop_duplicates("bracket").sort_values(["days_from", "days_to"])["bracket"]
    values = [_ALL, *sorted(v for v in table.index if v != _ALL)]
    table = table.reindex(index=values, columns=order.tolist())
    table = table.map(lambda v: "" if pd.isna(v) else _fmt(v, "rate"))
    table.index.name = dimension.replace("_", " ")
    table.columns.name = None
    return table


def _range(value: Any, lower: Any, upper: Any, fmt: str = "{:+.1f} pp") -> str:
    if pd.isna(value):
        return "\u2013"
    return f"{fmt.format(value)} ({lower:.1f} to {upper:.1f})"


def trends_table(trends: pd.DataFrame | None, *, unit: str = "month") -> pd.DataFrame | None:
    """:func:`cohort_trends` as display text: one row per k."""
    if trends is None:
        return None
    table = pd.DataFrame(
        {
            "cohorts": trends["n_cohorts"].map(lambda v: "\u2013" if pd.isna(v) else f"{v:.0f}"),
            "mean retention": trends["mean_retention"].map(lambda v: _fmt(v, "rate")),
            "change per year (95% CI)": [
                _range(r.pp_per_year, r.pp_ci_lower, r.pp_ci_upper) for r in trends.itertuples()
            ],
            "p": trends["p_value"].map(lambda v: "\u2013" if pd.isna(v) else f"{v:.3g}"),
            "best channel": [
                "\u2013" if pd.isna(r.best) else f"{r.best} ({_fmt(r.best_retention, 'rate')})"
                for r in trends.itertuples()
            ],
            "worst channel": [
                "\u2013" if pd.isna(r.worst) else f"{r.worst} ({_fmt(r.worst_retention, 'rate')})"
                for r in trends.itertuples()
            ],
            "gap (95% CI)": [
                _range(r.gap_pp, r.gap_ci_lower_pp, r.gap_ci_upper_pp, "{:.1f} pp")
                for r in trends.itertuples()
            ],
        }
    )
    table.index = pd.Index([f"{k}-{unit} retention" for k in trends["k"]], name="")
    return table


def rates_table(rates: pd.DataFrame | None, *, min_cell_size: int = 10) -> pd.DataFrame | None:
    """Second-order rates as display text, one row per group, one column per horizon.

    Cells read ``37.3% (36.0–38.7%)``; groups with fewer than ``min_cell_size`` customers are
    blank and sparse cells (few customers known at the horizon) are marked ``*``.
    """
    if rates is None:
        return None

    def cell(row: pd.Series) -> str:
        if row["customers"] < min_cell_size:
            return ""
        star = "*" if row["sparse"] else ""
        return (
            f"{_fmt(row['second_order_rate'], 'rate')} ({_fmt(row['ci_lower'], 'rate')}"
            f"\u2013{_fmt(row['ci_upper'], 'rate')}){star}"
        )

    text = rates.assign(cell=rates.apply(cell, axis=1), horizon=rates["days"].map("{} days".format))
    table = text.pivot(index="group", columns="horizon", values="cell")
    sizes = rates.drop_duplicates("group").set_index("group")["customers"]
    order = [_ALL, *sorted(g for g in table.index if g != _ALL)]
    horizons = [f"{d} days" for d in sorted(rates["days"].unique())]
    table = table.reindex(index=[g for g in order if g in table.index], columns=horizons)
    table.insert(0, "customers", sizes.reindex(table.index).map(lambda v: f"{v:,}"))
    table.index.name = "group"
    table.columns.name = None
    return table
