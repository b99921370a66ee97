"""Sentences, display tables and headline figures of stage 03_cohorts, tolerant of too little data.

Every function here accepts ``None`` for a table that could not be computed (fewer than two
complete periods: see :func:`cohort_readiness`) and then returns a sentence saying why the
section is skipped, so the notebook runs top to bottom without branches.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from crmlib.checks import Checks
from crmlib.cohorts._lifecycle import LIFECYCLE_COLUMNS
from crmlib.cohorts._matrices import RETENTION_COLUMNS, REVENUE_COLUMNS, cohort_matrix
from crmlib.cohorts._survival import second_order_rates
from crmlib.cohorts._trend import channel_gap, retention_trend
from crmlib.engine import Engine
from crmlib.errors import DataContractError, StageInputMissing
from crmlib.kpis._common import _as_date, _check_period, _plain, period_spine
from crmlib.kpis._tiles import _fmt

__all__ = [
    "cohort_readiness",
    "when_ready",
    "as_artifact",
    "display_matrix",
    "plot_or_note",
    "definition_table",
    "bracket_table",
    "cohort_trends",
    "trends_table",
    "second_order_summary",
    "rates_table",
    "describe_cohort_retention",
    "describe_definitions",
    "describe_channel_retention",
    "describe_revenue_retention",
    "describe_brackets",
    "describe_trends",
    "describe_lifecycle",
    "describe_transitions",
    "describe_second_order",
    "cohort_checks",
    "cohort_conclusion",
    "cohort_metrics",
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
_MINUS, _DASH = "\u2212", "\u2013"
_NOT_READY = (
    "*Section skipped:* there is not enough history for cohorts (see the top of this page)."
)


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
    period = _check_period(period)
    as_of = _as_date(as_of_date)
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
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    first = engine.scalar(sql, {"end": end})
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
    ax.cla()
    ax.set_axis_off()
    ax.text(0.5, 0.5, reason, ha="center", va="center", wrap=True, fontsize=11, color="#5f6b73",
            transform=ax.transAxes)  # fmt: skip
    return ax


def _pooled(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
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
    retained / cohort size summed over the cohorts that reached k.
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
    eligible customers pooled over cohorts, as text; cells with fewer than ``min_cell_size``
    eligible customers are blank.
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


# -- retention, definitions, channels --------------------------------------------------------
def _recent_vs_before(rows: pd.DataFrame, *, k: int, recent: int = 6) -> dict[str, Any] | None:
    """Pooled k-period retention of the last ``recent`` cohorts that reached k vs the ones before."""
    at_k = rows[rows["periods_since"] == k].sort_values("cohort_start")
    if at_k.empty:
        return None
    last, before = at_k.tail(recent), at_k.iloc[:-recent].tail(recent)

    def pooled(part: pd.DataFrame) -> float | None:
        size = float(part["cohort_size"].sum())
        return float(part["customers"].sum()) / size if size > 0 else None

    return {
        "k": int(k),
        "recent_cohorts": [str(last["cohort_label"].iloc[0]), str(last["cohort_label"].iloc[-1])],
        "recent_n_cohorts": len(last),
        "recent_retention": pooled(last),
        "before_cohorts": None
        if before.empty
        else [str(before["cohort_label"].iloc[0]), str(before["cohort_label"].iloc[-1])],
        "before_retention": None if before.empty else pooled(before),
    }


def _recent(tidy: pd.DataFrame, *, k: Sequence[int], definition: str = "on") -> dict[str, Any]:
    rows = _overall(tidy, definition)
    return {str(x): _recent_vs_before(rows, k=x) for x in k}


def _pp(after: float | None, before: float | None) -> str:
    if after is None or before is None:
        return "\u2013"
    points = 100 * (after - before)
    return f"{'+' if points >= 0 else _MINUS}{abs(points):.1f} pp"


def describe_cohort_retention(
    tidy: pd.DataFrame | None,
    *,
    definition: str = "on",
    k: Sequence[int] = (1, 3, 6),
    unit: str = "month",
) -> str:
    """Markdown: average k-period retention of the last 6 cohorts that reached k vs the 6 before.

    Overall (dimension "all"); averages are pooled (retained / cohort size summed over the
    cohorts), so a large cohort weighs more than a small one.
    """
    if tidy is None:
        return _NOT_READY
    rows = _overall(tidy, definition)
    lines = []
    for x in k:
        found = _recent_vs_before(rows, k=x)
        if found is None:
            lines.append(f"- **{x} {unit}s** after acquisition: no cohort has reached it yet.")
            continue
        first, last = found["recent_cohorts"]
        text = (
            f"- **{x} {unit}{'s' if x != 1 else ''}** after acquisition: "
            f"{_fmt(found['recent_retention'], 'rate')} of the customers of the "
            f"{found['recent_n_cohorts']} latest cohorts that got there ({first} to {last}) bought"
        )
        if found["before_cohorts"] is None:
            lines.append(text + "; no earlier cohort to compare with.")
            continue
        b_first, b_last = found["before_cohorts"]
        lines.append(
            text + f", vs {_fmt(found['before_retention'], 'rate')} for {b_first} to {b_last} "
            f"({_pp(found['recent_retention'], found['before_retention'])})."
        )
    which = "in exactly that period" if definition == "on" else "in that period or later"
    n_cohorts = rows["cohort_label"].nunique()
    return (
        f"Over {n_cohorts} acquisition cohorts, the share of a cohort buying {which} "
        "(pooled over cohorts):\n\n" + "\n".join(lines)
    )


def describe_definitions(tidy: pd.DataFrame | None, *, k: int = 3, unit: str = "month") -> str:
    """Markdown: the two retention definitions at one k, and what the difference means."""
    if tidy is None:
        return _NOT_READY
    rows = tidy[(tidy["dimension"] == _ALL) & (tidy["periods_since"] == k)]
    if rows.empty:
        return f"No cohort has reached {k} {unit}s yet."
    pooled = _pooled(rows, ["definition"])["retention"]
    on, later = pooled.get("on"), pooled.get("on_or_after")
    return (
        f"{k} {unit}s after acquisition, {_fmt(on, 'rate')} of customers bought in that very "
        f"{unit}, but {_fmt(later, 'rate')} bought in it or some later {unit}: the "
        f"{_pp(later, on).lstrip('+')} between the two are customers who skip {unit}s and "
        "come back, not customers lost."
    )


def describe_channel_retention(
    tidy: pd.DataFrame | None,
    *,
    k: int = 3,
    unit: str = "month",
    dimension: str = _CHANNEL,
    min_customers: int = 30,
) -> str:
    """Markdown: pooled k-period retention of every value of ``dimension``, best first."""
    if tidy is None:
        return _NOT_READY
    rows = tidy[
        (tidy["dimension"] == dimension)
        & (tidy["definition"] == "on")
        & (tidy["periods_since"] == k)
    ]
    pooled = _pooled(rows, ["dimension_value"])
    pooled = pooled[pooled["cohort_size"] >= min_customers].sort_values(
        "retention", ascending=False
    )
    name = dimension.replace("_", " ")
    if pooled.empty:
        return (
            f"*No {name} split:* no value of `{dimension}` has {min_customers} customers "
            f"observed {k} {unit}s after acquisition (or the run has no customers table)."
        )
    parts = [f"{value} {_fmt(row.retention, 'rate')}" for value, row in pooled.iterrows()]
    return (
        f"{k} {unit}s after acquisition, pooled over all cohorts, retention by {name} was: "
        f"{'; '.join(parts)} (values with fewer than {min_customers} customers left out)."
    )


# -- revenue ---------------------------------------------------------------------------------
def _revenue_at(revenue_tidy: pd.DataFrame, *, k: int, recent: int = 6) -> dict[str, Any] | None:
    rows = revenue_tidy[revenue_tidy["dimension"] == _ALL]
    reached = rows.loc[rows["periods_since"] == k, "cohort_start"].sort_values().tail(recent)
    if reached.empty:
        return None
    chosen = rows[rows["cohort_start"].isin(reached)]
    first = chosen[chosen["periods_since"] == 0]
    at_k = chosen[chosen["periods_since"] == k]
    start = float(first["net_revenue"].sum())
    size = float(at_k["cohort_size"].sum())
    cumulative = float((at_k["cumulative_revenue_per_customer"] * at_k["cohort_size"]).sum())
    labels = chosen.drop_duplicates("cohort_start").sort_values("cohort_start")["cohort_label"]
    return {
        "k": int(k),
        "cohorts": [str(labels.iloc[0]), str(labels.iloc[-1])],
        "n_cohorts": len(reached),
        "revenue_retention": float(at_k["net_revenue"].sum()) / start if start else None,
        "cumulative_revenue_per_customer": cumulative / size if size else None,
        "first_period_revenue_per_customer": start / size if size else None,
    }


def describe_revenue_retention(
    revenue_tidy: pd.DataFrame | None,
    *,
    currency: str,
    k: Sequence[int] = (1, 3, 6, 12),
    unit: str = "month",
) -> str:
    """Markdown: revenue retention and realized value per customer of recent cohorts at each k.

    For the last 6 cohorts that reached k (overall): net revenue in period k as a share of
    their acquisition period's, and net revenue per acquired customer from period 0 to k.
    """
    if revenue_tidy is None:
        return _NOT_READY
    lines = []
    for x in k:
        found = _revenue_at(revenue_tidy, k=x)
        if found is None:
            lines.append(f"- **{unit} {x}**: no cohort has reached it yet.")
            continue
        first, last = found["cohorts"]
        lines.append(
            f"- **{unit} {x}** (cohorts {first} to {last}): net revenue was "
            f"{_fmt(found['revenue_retention'], 'rate')} of the acquisition {unit}'s, and each "
            f"acquired customer had brought "
            f"{_fmt(found['cumulative_revenue_per_customer'], 'money', currency)} in total "
            f"(of which {_fmt(found['first_period_revenue_per_customer'], 'money', currency)} "
            f"in the acquisition {unit})."
        )
    return "For the latest 6 cohorts that reached each age (net of refunds):\n\n" + "\n".join(lines)


# -- brackets --------------------------------------------------------------------------------
def describe_brackets(bracket_tidy: pd.DataFrame | None, *, dimension: str = _CHANNEL) -> str:
    """Markdown: overall share buying again in each day bracket, and the best/worst channel."""
    if bracket_tidy is None:
        return _NOT_READY
    overall = bracket_tidy[bracket_tidy["dimension"] == _ALL]
    if overall.empty:
        return "No day bracket has fully elapsed for any customer yet."
    pooled = _pooled(overall, ["bracket", "days_from", "days_to"]).reset_index()
    pooled = pooled.sort_values(["days_from", "days_to"])
    parts = [
        f"{_fmt(row.retention, 'rate')} in {row.bracket} (of {_fmt(row.cohort_size, 'count')})"
        for row in pooled.itertuples()
    ]
    text = (
        "Of customers whose bracket has fully elapsed, the share buying again (counting from "
        f"the first order's day): {'; '.join(parts)}."
    )
    longest = pooled.iloc[-1]["bracket"]
    split = bracket_tidy[
        (bracket_tidy["dimension"] == dimension) & (bracket_tidy["bracket"] == longest)
    ]
    by_value = _pooled(split, ["dimension_value"])
    by_value = by_value[by_value["cohort_size"] >= 30]
    if len(by_value) >= 2:
        best, worst = by_value["retention"].idxmax(), by_value["retention"].idxmin()
        text += (
            f" In {longest}, {best} customers did best ({_fmt(by_value.loc[best, 'retention'], 'rate')})"
            f" and {worst} worst ({_fmt(by_value.loc[worst, 'retention'], 'rate')})."
        )
    return text


# -- do newer cohorts retain better? ---------------------------------------------------------
def cohort_trends(
    tidy: pd.DataFrame | None,
    *,
    k: Sequence[int] = (3, 6),
    definition: str = "on",
    dimension: str = _CHANNEL,
    unit: str = "month",
    min_customers: int = 30,
) -> pd.DataFrame | None:
    """The retention trend across cohorts and the channel gap, at each k.

    Runs :func:`retention_trend` on the overall rows and :func:`channel_gap` on the
    ``dimension`` rows of a tidy :func:`cohort_retention` table, for each k. One row per k
    with the trend (*pp_per_year, pp_ci_lower, pp_ci_upper, p_value, n_cohorts,
    mean_retention*), the gap (*best, worst, best_retention, worst_retention, gap_pp,
    gap_ci_lower_pp, gap_ci_upper_pp*) and a sentence for each (*trend_text, gap_text*);
    when one cannot be estimated (too few cohorts or channels) its numbers are null and its
    sentence says why. None passes through.
    """
    if tidy is None:
        return None
    overall = _overall(tidy, definition)
    rows = []
    for x in k:
        row: dict[str, Any] = {"k": int(x)}
        try:
            trend = retention_trend(overall, k=x, definition=definition)
            row.update(
                n_cohorts=trend.n_cohorts, mean_retention=trend.mean_retention,
                pp_per_year=trend.pp_per_year, pp_ci_lower=trend.pp_ci_lower,
                pp_ci_upper=trend.pp_ci_upper, p_value=trend.p_value,
                trend_text=trend.describe(unit=unit),
            )  # fmt: skip
        except DataContractError as error:
            row["trend_text"] = f"No {x}-{unit} trend: {error}."
        try:
            gap = channel_gap(
                tidy, k=x, dimension=dimension, definition=definition, min_customers=min_customers
            )
            row.update(
                best=gap.best, worst=gap.worst, best_retention=gap.best_retention,
                worst_retention=gap.worst_retention, gap_pp=gap.gap_pp,
                gap_ci_lower_pp=gap.ci_lower_pp, gap_ci_upper_pp=gap.ci_upper_pp,
                gap_text=gap.describe(unit=unit),
            )  # fmt: skip
        except DataContractError as error:
            row["gap_text"] = f"No {x}-{unit} {dimension.replace('_', ' ')} gap: {error}."
        rows.append(row)
    columns = [
        "k", "n_cohorts", "mean_retention", "pp_per_year", "pp_ci_lower", "pp_ci_upper",
        "p_value", "best", "worst", "best_retention", "worst_retention", "gap_pp",
        "gap_ci_lower_pp", "gap_ci_upper_pp", "trend_text", "gap_text",
    ]  # fmt: skip
    return pd.DataFrame(rows).reindex(columns=columns)


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


def describe_trends(trends: pd.DataFrame | None) -> str:
    """Markdown: the trend and channel-gap sentences of :func:`cohort_trends`, one bullet per k."""
    if trends is None:
        return _NOT_READY
    if trends.empty:
        return "No trend period (`trend_periods`) was asked for."
    lines = [f"- {r.trend_text} {r.gap_text}" for r in trends.itertuples()]
    significant = trends.dropna(subset=["pp_per_year"])
    significant = significant[(significant["pp_ci_lower"] > 0) | (significant["pp_ci_upper"] < 0)]
    verdict = (
        "**Newer cohorts retain measurably "
        + ("better" if significant["pp_per_year"].iloc[0] > 0 else "worse")
        + f"** at {', '.join(str(k) for k in significant['k'])} periods."
        if len(significant)
        else "**No measurable trend:** newer cohorts retain about as well as older ones "
        "(every 95% interval includes zero)."
    )
    return (
        verdict + "\n\n" + "\n".join(lines) + "\n\nThe gap compares the best and worst channel "
        "picked after looking, so read it as descriptive."
    )


# -- lifecycle and transitions ---------------------------------------------------------------
def describe_lifecycle(lifecycle: pd.DataFrame | None, *, unit: str = "month") -> str:
    """Markdown: the latest complete period's new/current/resurrected/dormant, net change, quick ratio."""
    if lifecycle is None or lifecycle.empty:
        return "There are no purchases up to `as_of_date`, so there is no lifecycle to show."
    done = lifecycle[lifecycle["is_complete"].astype(bool)]
    if done.empty:
        return f"No {unit} is complete yet, so no lifecycle figures are headlined."
    row = done.iloc[-1]
    ratio = row["quick_ratio"]
    reading = (
        "no customer went dormant"
        if pd.isna(ratio)
        else "more customers gained than lost"
        if ratio > 1
        else "more customers lost than gained"
    )
    change = int(row["net_change"])
    text = (
        f"In **{row['period_label']}** {_fmt(row['active'], 'count')} customers were active: "
        f"{_fmt(row['new'], 'count')} new, {_fmt(row['current'], 'count')} current (also active "
        f"the {unit} before) and {_fmt(row['resurrected'], 'count')} resurrected (back after a "
        f"break); {_fmt(row['dormant'], 'count')} of the previous {unit}'s customers went "
        f"dormant. Net change {'+' if change >= 0 else _MINUS}{abs(change):,}, quick ratio "
        f"{_DASH if pd.isna(ratio) else f'{ratio:.2f}'} ({reading})."
    )
    window = done.tail(12)["quick_ratio"].dropna()
    if len(window) >= 2:
        text += f" Over the last {len(window)} complete {unit}s the quick ratio averaged {window.mean():.2f}."
    return text


def describe_transitions(matrix: pd.DataFrame | None, *, unit: str = "month") -> str:
    """Markdown: where customers of each state go in the next period (row shares)."""
    if matrix is None or int(matrix.to_numpy().sum()) == 0:
        return f"There are no two consecutive complete {unit}s yet, so no transitions."
    shares = matrix.div(matrix.sum(axis=1).replace(0, np.nan), axis=0)

    def share(src: str, dst: str) -> str:
        value = shares.loc[src, dst] if src in shares.index and dst in shares.columns else None
        return _fmt(value, "rate")

    return (
        f"Of customers new in a {unit}, {share('new', 'current')} bought again the next {unit}; "
        f"of current customers {share('current', 'current')} stayed current. "
        f"{share('dormant', 'resurrected')} of dormant customers came back the following {unit}, "
        f"against {share('lost', 'resurrected')} of lost ones: win-back is easiest soon after "
        "the last purchase."
    )


# -- time to second order --------------------------------------------------------------------
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


def describe_second_order(rates: pd.DataFrame | None, *, min_cell_size: int = 10) -> str:
    """Markdown: the overall 30/60/90-day second-order rate with its CI, and the best/worst group."""
    if rates is None or rates.empty:
        return (
            "No customer has a first order up to `as_of_date`, so there is no second order to time."
        )
    overall = rates[rates["group"] == _ALL]
    parts = [
        f"{_fmt(r.second_order_rate, 'rate')} within {r.days} days (95% CI "
        f"{_fmt(r.ci_lower, 'rate')}\u2013{_fmt(r.ci_upper, 'rate')})"
        for r in overall.itertuples()
    ]
    text = (
        f"Of {_fmt(overall['customers'].iloc[0], 'count')} customers, a second order was "
        f"placed by {'; '.join(parts)} (Kaplan–Meier: customers acquired recently count only "
        "for as long as they were observed)."
        if len(overall)
        else ""
    )
    groups = rates[
        (rates["group"] != _ALL) & (rates["customers"] >= min_cell_size) & ~rates["sparse"]
    ]
    horizon = int(groups["days"].max()) if len(groups) else None
    at = groups[groups["days"] == horizon].set_index("group")
    if len(at) >= 2:
        best, worst = at["second_order_rate"].idxmax(), at["second_order_rate"].idxmin()
        text += (
            f" Within {horizon} days, {best} customers came back most "
            f"({_fmt(at.loc[best, 'second_order_rate'], 'rate')}) and {worst} least "
            f"({_fmt(at.loc[worst, 'second_order_rate'], 'rate')})."
        )
    return text.strip() or "No group has enough customers to report."


# -- checks, conclusion, metrics -------------------------------------------------------------
def cohort_checks(
    retention: pd.DataFrame | None,
    lifecycle: pd.DataFrame | None,
    *,
    cohort_basis: str = "first_order",
) -> Checks:
    """The business rules of stage 03_cohorts, as :class:`crmlib.checks.Checks`.

    Lifecycle identities (active = new + current + resurrected; previous active = current +
    dormant; net change = active - previous active); period-0 retention = 100% (first-order
    cohorts only); "on or after" retention >= "on" retention in every cell. A table that
    could not be computed is reported as such (a passing line saying it was not checked).
    """
    checks = Checks()
    if lifecycle is None or lifecycle.empty:
        checks.expect("lifecycle identities", True, "not checked: no lifecycle (no purchases)")
    else:
        mix = lifecycle["new"] + lifecycle["current"] + lifecycle["resurrected"]
        checks.expect(
            "active = new + current + resurrected",
            bool((lifecycle["active"] == mix).all()),
            f"all {len(lifecycle)} periods",
        )
        checks.expect(
            "previous active = current + dormant",
            bool(
                (lifecycle["active_previous"] == lifecycle["current"] + lifecycle["dormant"]).all()
            ),
            f"all {len(lifecycle)} periods",
        )
        checks.expect(
            "net change = active - previous active",
            bool(
                (
                    lifecycle["net_change"] == lifecycle["active"] - lifecycle["active_previous"]
                ).all()
            ),
            f"all {len(lifecycle)} periods",
        )
    if retention is None:
        checks.expect("cohort matrices", True, "not checked: not enough history for cohorts")
        return checks
    start = retention[(retention["periods_since"] == 0) & (retention["definition"] == "on")]
    if cohort_basis == "first_order":
        checks.expect(
            "period-0 retention = 100%",
            bool(np.allclose(start["retention"].to_numpy(dtype=float), 1.0)),
            f"{len(start)} cohort cells",
        )
    keys = ["dimension", "dimension_value", "cohort_start", "periods_since"]
    wide = retention.pivot_table(index=keys, columns="definition", values="customers")
    checks.expect(
        "on or after >= on",
        bool((wide["on_or_after"] >= wide["on"]).all()),
        f"{len(wide):,} cells",
    )
    return checks


def cohort_conclusion(
    retention: pd.DataFrame | None,
    trends: pd.DataFrame | None,
    *,
    unit: str = "month",
) -> str:
    """One line for the front page: k-month retention of recent cohorts and the channel gap.

    k is the first of ``trends`` (the params' ``trend_periods``), 3 without trends.
    """
    if retention is None:
        return "Not enough history for cohorts yet (fewer than two complete periods)."
    k = int(trends["k"].iloc[0]) if trends is not None and len(trends) else 3
    found = _recent_vs_before(_overall(retention), k=k)
    if found is None:
        return f"No cohort has reached {k} {unit}s yet."
    text = f"{k}-{unit} retention of recent cohorts {_fmt(found['recent_retention'], 'rate')}"
    if found["before_retention"] is not None:
        text += f" (vs {_fmt(found['before_retention'], 'rate')} for the 6 cohorts before)"
    gap = None if trends is None else trends[trends["k"] == k].iloc[0]
    if gap is not None and not pd.isna(gap["gap_pp"]):
        text += f"; best channel {gap['best']}, worst {gap['worst']} (gap {gap['gap_pp']:.1f} pp)"
    return text + "."


def _json_row(row: pd.Series, keys: Sequence[str]) -> dict[str, Any]:
    return {key: _plain(row[key]) for key in keys}


def cohort_metrics(
    retention: pd.DataFrame | None,
    *,
    trends: pd.DataFrame | None,
    lifecycle: pd.DataFrame | None,
    rates: pd.DataFrame | None,
    period: str = "month",
    k: Sequence[int] = (1, 3, 6),
) -> dict[str, Any]:
    """Headline figures of stage 03_cohorts for ``metrics.json`` (no customer identifiers).

    Transforms the tidy retention table, :func:`cohort_trends`, the lifecycle table and
    :func:`second_order_summary` into one JSON-ready dict: ``conclusion``, ``ready``,
    ``period``, ``cohorts`` (count, first, last), ``recent_retention`` (per k: pooled
    retention of the last 6 cohorts that reached k and of the 6 before), ``trends`` (per
    trend k: pp per year with CI and p, best/worst channel with gap and CI),
    ``lifecycle`` (latest complete period) and ``second_order`` (overall rates at each
    horizon with CI). Parts that could not be computed are None.
    """
    metrics: dict[str, Any] = {
        "conclusion": cohort_conclusion(retention, trends, unit=period),
        "ready": retention is not None,
        "period": period,
        "cohorts": None,
        "recent_retention": None,
        "trends": None,
        "lifecycle": None,
        "second_order": None,
    }
    if retention is not None:
        overall = _overall(retention)
        labels = overall.drop_duplicates("cohort_start").sort_values("cohort_start")["cohort_label"]
        metrics["cohorts"] = {
            "count": len(labels),
            "first": None if labels.empty else str(labels.iloc[0]),
            "last": None if labels.empty else str(labels.iloc[-1]),
        }
        metrics["recent_retention"] = _recent(retention, k=k)
    if trends is not None:
        keys = ["n_cohorts", "mean_retention", "pp_per_year", "pp_ci_lower", "pp_ci_upper",
                "p_value", "best", "worst", "best_retention", "worst_retention", "gap_pp",
                "gap_ci_lower_pp", "gap_ci_upper_pp"]  # fmt: skip
        metrics["trends"] = {str(int(r["k"])): _json_row(r, keys) for _, r in trends.iterrows()}
    if lifecycle is not None and len(lifecycle) and lifecycle["is_complete"].any():
        latest = lifecycle[lifecycle["is_complete"].astype(bool)].iloc[-1]
        keys = [
            "new",
            "current",
            "resurrected",
            "dormant",
            "active",
            "net_change",
            "quick_ratio",
            "lost",
        ]
        metrics["lifecycle"] = {
            "period_label": str(latest["period_label"]),
            **_json_row(latest, keys),
        }
    if rates is not None and len(rates):
        overall_rates = rates[rates["group"] == _ALL]
        keys = ["customers", "second_order_rate", "ci_lower", "ci_upper", "sparse"]
        metrics["second_order"] = {
            str(int(r["days"])): _json_row(r, keys) for _, r in overall_rates.iterrows()
        }
    return metrics
