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
from crmlib.formatting import format_figure
from crmlib.periods import as_date, check_period, exclusive_end, period_spine
from crmlib.plotting import note_on_axes
from crmlib.privacy import HIDDEN, MIN_CELL_SIZE, OTHER, SmallCells

__all__ = [
    "cohort_readiness",
    "when_ready",
    "as_artifact",
    "display_matrix",
    "plot_or_note",
    "definition_table",
    "bracket_table",
    "trends_table",
    "pool_groups",
    "rates_table",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_ALL = "all"
_CHANNEL = "acquisition_channel"
#: ``DataFrame.attrs`` keys of :func:`display_matrix`: the labels of the cohort rows left
#: undrawn (fewer than the limit of customers) and the limit, read by the heatmap.
SMALL_COHORTS = "small_cohorts"
LIMIT = "min_cell_size"
#: Lifecycle counts of one period shown in the growth-accounting chart and sentence.
_LIFECYCLE_COUNTS = ["active", "new", "current", "resurrected", "dormant"]
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
    min_cell_size: int = MIN_CELL_SIZE,
) -> pd.DataFrame | None:
    """The wide matrix of the last ``cohorts_shown`` cohorts, for a heatmap.

    Transforms a tidy cohort table (one row per cohort x k x dimension value) into one row
    per cohort (newest last) and one column per period since acquisition that at least one
    shown cohort reached. A cohort of fewer than ``min_cell_size`` customers
    (``privacy.min_cell_size``) cannot be pooled with another row: its cells are NaN (not
    drawn), and ``attrs["small_cohorts"]`` lists its label so that
    :func:`plot_cohort_heatmap` says so in the row (``attrs["min_cell_size"]`` holds the
    limit). None passes through.
    """
    if tidy is None:
        return None
    rule = SmallCells(min_cell_size)
    rows = tidy.assign(masked=rule.is_small(tidy["cohort_size"]))
    wide = cohort_matrix(
        rows,
        definition=definition,
        dimension=dimension,
        dimension_value=dimension_value,
        value=value,
    )
    wide = wide.tail(cohorts_shown).dropna(axis=1, how="all")
    chosen = (rows["dimension"] == dimension) & (rows["dimension_value"] == dimension_value)
    small = set(rows.loc[chosen & rows["masked"], "cohort_label"])
    wide.attrs[SMALL_COHORTS] = [label for label in wide.index if label in small]
    wide.attrs[LIMIT] = rule.min_cell_size
    return wide


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


def _caption(ax: plt.Axes, text: str) -> None:
    """Write ``text`` under the chart of ``ax`` (small, grey): what the chart leaves out."""
    ax.figure.text(0.01, 0.0, text, ha="left", va="top", fontsize=8.5, color="#5f6b73",
                   style="italic", wrap=True)  # fmt: skip


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


def definition_table(
    tidy: pd.DataFrame | None,
    *,
    k: Sequence[int] = (1, 3, 6, 12),
    unit: str = "month",
    min_cell_size: int = MIN_CELL_SIZE,
) -> pd.DataFrame | None:
    """Pooled overall retention at each k under both definitions, as display text.

    One row per definition ("active in period k", "active in k or later"), one column per k:
    retained / cohort size summed over the cohorts that reached k (the customers present at
    the start left out); ``"–"`` where those cohorts hold fewer than ``min_cell_size``
    customers.
    """
    if tidy is None:
        return None
    rule = SmallCells(min_cell_size)
    rows = tidy[(tidy["dimension"] == _ALL) & tidy["periods_since"].isin(list(k))]
    pooled = _pooled(rows, ["definition", "periods_since"], rule)["retention"]
    pooled = pooled.unstack("periods_since")
    pooled = pooled.reindex(columns=[x for x in k if x in pooled.columns])
    names = {"on": f"active in {unit} k", "on_or_after": f"active in {unit} k or later"}
    table = pooled.rename(index=names).map(lambda v: format_figure(v, "rate"))
    table.columns = [f"{unit} {x}" for x in table.columns]
    table.index.name = "retention"
    return table


def bracket_table(
    bracket_tidy: pd.DataFrame | None,
    *,
    dimension: str = _CHANNEL,
    min_cell_size: int = MIN_CELL_SIZE,
) -> pd.DataFrame | None:
    """Share of customers buying again within each day bracket, overall and per channel.

    Transforms the tidy output of :func:`bracket_retention` into one row per value
    (``all`` first, then ``dimension``'s values) and one column per bracket: retained /
    eligible customers pooled over cohorts (the customers present at the start left out), as
    text; ``"–"`` where fewer than ``min_cell_size`` customers are eligible (a rate on a
    small group, :meth:`crmlib.privacy.SmallCells.hide`).
    """
    if bracket_tidy is None:
        return None
    rule = SmallCells(min_cell_size)
    rows = bracket_tidy[bracket_tidy["dimension"].isin([_ALL, dimension])]
    table = _pooled(rows, ["dimension_value", "bracket"], rule)["retention"].unstack("bracket")
    order = bracket_tidy.drop_duplicates("bracket").sort_values(["days_from", "days_to"])["bracket"]
    values = [_ALL, *sorted(v for v in table.index if v != _ALL)]
    table = table.reindex(index=values, columns=order.tolist())
    table = table.map(lambda v: format_figure(v, "rate"))
    table.index.name = dimension.replace("_", " ")
    table.columns.name = None
    return table


def _range(value: Any, lower: Any, upper: Any, fmt: str = "{:+.1f} pp") -> str:
    if pd.isna(value):
        return HIDDEN
    return f"{fmt.format(value)} ({lower:.1f} to {upper:.1f})"


#: Columns of :func:`cohort_trends` that describe the trend, and the channel gap.
_TREND_NUMBERS = ["mean_retention", "pp_per_year", "pp_ci_lower", "pp_ci_upper", "p_value"]
_GAP_NUMBERS = ["best_retention", "worst_retention", "gap_pp", "gap_ci_lower_pp", "gap_ci_upper_pp"]


def _shown_trends(trends: pd.DataFrame, rule: SmallCells, *, unit: str) -> pd.DataFrame:
    """:func:`cohort_trends` as it may be shown: a trend whose cohorts hold fewer customers
    than the limit, and a gap whose best or worst channel does, have their numbers NaN and a
    sentence saying why instead of theirs (one row per k, as the input)."""
    shown = rule.hide(trends, size="customers", columns=_TREND_NUMBERS)
    small_trend = rule.is_small(trends["customers"])
    shown["trend_text"] = shown["trend_text"].where(
        ~small_trend,
        [
            f"No {k}-{unit} trend is shown: its cohorts hold fewer than "
            f"{rule.min_cell_size:,} customers."
            for k in trends["k"]
        ],
    )
    small_gap = rule.is_small(trends["best_customers"]) | rule.is_small(trends["worst_customers"])
    for column in [*_GAP_NUMBERS, "best", "worst"]:
        kind = "object" if column in ("best", "worst") else "float64"
        shown[column] = shown[column].astype(kind).where(~small_gap)
    shown["gap_text"] = shown["gap_text"].where(
        ~small_gap,
        [
            f"No {k}-{unit} channel gap is shown: a channel it compares holds fewer than "
            f"{rule.min_cell_size:,} customers."
            for k in trends["k"]
        ],
    )
    return shown


def trends_table(
    trends: pd.DataFrame | None, *, unit: str = "month", min_cell_size: int = MIN_CELL_SIZE
) -> pd.DataFrame | None:
    """:func:`cohort_trends` as display text: one row per k.

    The trend's numbers read ``"–"`` when its cohorts hold fewer than ``min_cell_size``
    customers, the channel gap's when its best or worst channel does (rates on a small group).
    """
    if trends is None:
        return None
    trends = _shown_trends(trends, SmallCells(min_cell_size), unit=unit)
    table = pd.DataFrame(
        {
            "cohorts": trends["n_cohorts"].map(lambda v: HIDDEN if pd.isna(v) else f"{v:.0f}"),
            "mean retention": trends["mean_retention"].map(lambda v: format_figure(v, "rate")),
            "change per year (95% CI)": [
                _range(r.pp_per_year, r.pp_ci_lower, r.pp_ci_upper) for r in trends.itertuples()
            ],
            "p": trends["p_value"].map(lambda v: HIDDEN if pd.isna(v) else f"{v:.3g}"),
            "best channel": [
                HIDDEN
                if pd.isna(r.best)
                else f"{r.best} ({format_figure(r.best_retention, 'rate')})"
                for r in trends.itertuples()
            ],
            "worst channel": [
                HIDDEN
                if pd.isna(r.worst)
                else f"{r.worst} ({format_figure(r.worst_retention, 'rate')})"
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


def rates_table(
    rates: pd.DataFrame | None, *, min_cell_size: int = MIN_CELL_SIZE
) -> pd.DataFrame | None:
    """Second-order rates as display text, one row per group, one column per horizon.

    Transforms :func:`second_order_summary` (one row per group and horizon) into one row per
    group (``all`` first, ``(other)`` last): *customers* as :meth:`SmallCells.counts` text
    and cells reading ``37.3% (36.0–38.7%)``; sparse cells (few customers known at the
    horizon) are marked ``*``. Pool small groups first (:func:`pool_groups`); a group that
    still holds fewer than ``min_cell_size`` customers reads ``"<k"`` with its rates ``"–"``.
    """
    if rates is None:
        return None
    rule = SmallCells(min_cell_size)
    rates = rule.hide(
        rates, size="customers", columns=["second_order_rate", "ci_lower", "ci_upper"]
    )

    def cell(row: pd.Series) -> str:
        if pd.isna(row["second_order_rate"]):
            return HIDDEN
        star = "*" if row["sparse"] else ""
        return (
            f"{format_figure(row['second_order_rate'], 'rate')} ({format_figure(row['ci_lower'], 'rate')}"
            f"\u2013{format_figure(row['ci_upper'], 'rate')}){star}"
        )

    text = rates.assign(cell=rates.apply(cell, axis=1), horizon=rates["days"].map("{} days".format))
    table = text.pivot(index="group", columns="horizon", values="cell")
    sizes = rates.drop_duplicates("group").set_index("group")["customers"]
    groups = sorted(g for g in table.index if g not in (_ALL, OTHER))
    order = [g for g in (_ALL, *groups, OTHER) if g in table.index]
    horizons = [f"{d} days" for d in sorted(rates["days"].unique())]
    table = table.reindex(index=order, columns=horizons)
    table.insert(0, "customers", rule.counts(sizes.reindex(table.index)))
    table.index.name = "group"
    table.columns.name = None
    return table


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
