"""Markdown sentences of stage 03_cohorts; None (too little data) gets a reason."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from crmlib.cohorts.models.pooling import (
    _ALL,
    _CHANNEL,
    _LIFECYCLE_COUNTS,
    _acquired,
    _lifecycle_hidden,
    _overall,
    _pooled,
    _recent_vs_before,
)
from crmlib.cohorts.models.trend import _left_out_labels
from crmlib.cohorts.queries.data_start import DataStart
from crmlib.config import DEFAULTS
from crmlib.formatting import format_figure
from crmlib.privacy import HIDDEN, MIN_CELL_SIZE, OTHER, SmallCells

__all__ = [
    "describe_data_start",
    "describe_cohort_retention",
    "describe_definitions",
    "describe_channel_retention",
    "describe_revenue_retention",
    "describe_brackets",
    "describe_trends",
    "describe_lifecycle",
    "describe_transitions",
    "describe_second_order",
    "cohort_conclusion",
]

log = logging.getLogger(__name__)

_MINUS, _DASH = "\u2212", "\u2013"


_NOT_READY = (
    "*Section skipped:* there is not enough history for cohorts (see the top of this page)."
)


# -- where the data begin --------------------------------------------------------------------
def describe_data_start(
    start: DataStart | None,
    *,
    unit: str = DEFAULTS.cohorts.period,
    min_cell_size: int = MIN_CELL_SIZE,
) -> str:
    """Markdown: where the data begin, and whether the first cohort is the customers present at
    the start (left out of the comparisons of cohorts); see :func:`crmlib.cohorts.data_start`.
    Counts of customers below ``min_cell_size`` read "fewer than 10 customers". None (cohorts
    skipped) gets the reason."""
    if start is None:
        return _NOT_READY
    described = start.describe(unit=unit, min_cell_size=min_cell_size)
    return described or "There are no cohorts up to `as_of_date`."


def _left_out_sentence(labels: Sequence[str]) -> str:
    """The sentence saying which cohorts of customers present at the start are left out."""
    if not labels:
        return ""
    names = (
        ", ".join(f"**{label}**" for label in labels)
        if len(labels) <= 3
        else f"the {len(labels)} cohorts **{labels[0]}** to **{labels[-1]}**"
    )
    many = len(labels) > 1
    return (
        f"*Left out:* {names}, the customers who were already there when the data begin (see "
        f"the top of the page): {'they are' if many else 'it is'} not "
        f"{'acquisition cohorts' if many else 'an acquisition cohort'}, so "
        f"{'they are' if many else 'it is'} not compared with the others here."
    )


# -- retention, definitions, channels --------------------------------------------------------
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
    unit: str = DEFAULTS.cohorts.period,
    min_cell_size: int = MIN_CELL_SIZE,
) -> str:
    """Markdown: average k-period retention of the last 6 cohorts that reached k vs the 6 before.

    Overall (dimension "all"); averages are pooled (retained / cohort size summed over the
    cohorts), so a large cohort weighs more than a small one. Cohorts of the customers
    present at the start are left out, with a sentence saying so. A group of cohorts holding
    fewer than ``min_cell_size`` customers gets no rate, and a sentence saying so.
    """
    if tidy is None:
        return _NOT_READY
    rule = SmallCells(min_cell_size)
    rows = _overall(tidy, definition)
    lines = []
    for x in k:
        found = _recent_vs_before(rows, k=x)
        if found is None:
            lines.append(f"- **{x} {unit}s** after acquisition: no cohort has reached it yet.")
            continue
        first, last = found["recent_cohorts"]
        head = f"- **{x} {unit}{'s' if x != 1 else ''}** after acquisition: "
        if rule.is_small(found["recent_customers"]):
            lines.append(
                head + f"the {found['recent_n_cohorts']} latest cohorts that got there ({first} "
                f"to {last}) hold {rule.phrase(found['recent_customers'])}, too few to show "
                "their retention."
            )
            continue
        text = head + (
            f"{format_figure(found['recent_retention'], 'rate')} of the customers of the "
            f"{found['recent_n_cohorts']} latest cohorts that got there ({first} to {last}) bought"
        )
        if found["before_cohorts"] is None:
            lines.append(text + "; no earlier cohort to compare with.")
            continue
        b_first, b_last = found["before_cohorts"]
        if rule.is_small(found["before_customers"]):
            lines.append(
                text + f"; the cohorts {b_first} to {b_last} before them hold "
                f"{rule.phrase(found['before_customers'])}, too few to compare with."
            )
            continue
        lines.append(
            text
            + f", vs {format_figure(found['before_retention'], 'rate')} for {b_first} to {b_last} "
            f"({_pp(found['recent_retention'], found['before_retention'])})."
        )
    which = "in exactly that period" if definition == "on" else "in that period or later"
    n_cohorts = _acquired(rows)["cohort_start"].nunique()
    text = (
        f"Over {n_cohorts} acquisition cohorts, the share of a cohort buying {which} "
        "(pooled over cohorts):\n\n" + "\n".join(lines)
    )
    left_out = _left_out_sentence(_left_out_labels(rows))
    return text + ("\n\n" + left_out if left_out else "")


def describe_definitions(
    tidy: pd.DataFrame | None,
    *,
    k: int = DEFAULTS.cohorts.trend_periods[0],
    unit: str = DEFAULTS.cohorts.period,
    min_cell_size: int = MIN_CELL_SIZE,
) -> str:
    """Markdown: the two retention definitions at one k, and what the difference means.

    Pooled over the acquisition cohorts that reached k; when they hold fewer than
    ``min_cell_size`` customers, a sentence says so instead of the rates.
    """
    if tidy is None:
        return _NOT_READY
    rule = SmallCells(min_cell_size)
    rows = tidy[(tidy["dimension"] == _ALL) & (tidy["periods_since"] == k)]
    if rows.empty:
        return f"No cohort has reached {k} {unit}s yet."
    pooled = _pooled(rows, ["definition"], rule)
    if pooled.empty:
        return f"No acquisition cohort has reached {k} {unit}s yet."
    if pooled["retention"].isna().all():
        size = pooled["cohort_size"].iloc[0]
        return (
            f"The acquisition cohorts that reached {k} {unit}s hold {rule.phrase(size)}: too "
            "few to compare the two definitions."
        )
    on, later = pooled["retention"].get("on"), pooled["retention"].get("on_or_after")
    return (
        f"{k} {unit}s after acquisition, {format_figure(on, 'rate')} of customers bought in that very "
        f"{unit}, but {format_figure(later, 'rate')} bought in it or some later {unit}: the "
        f"{_pp(later, on).lstrip('+')} between the two are customers who skip {unit}s and "
        "come back, not customers lost."
    )


def describe_channel_retention(
    tidy: pd.DataFrame | None,
    *,
    k: int = DEFAULTS.cohorts.trend_periods[0],
    unit: str = DEFAULTS.cohorts.period,
    dimension: str = _CHANNEL,
    min_customers: int = 30,
    min_cell_size: int = MIN_CELL_SIZE,
) -> str:
    """Markdown: pooled k-period retention of every value of ``dimension``, best first.

    Values observed at k with fewer than ``min_customers`` customers (or ``min_cell_size``,
    when larger) are left out, and the sentence says so.
    """
    if tidy is None:
        return _NOT_READY
    rule = SmallCells(min_cell_size)
    rows = tidy[
        (tidy["dimension"] == dimension)
        & (tidy["definition"] == "on")
        & (tidy["periods_since"] == k)
    ]
    pooled = _pooled(rows, ["dimension_value"], rule)
    pooled = pooled[(pooled["cohort_size"] >= min_customers) & pooled["retention"].notna()]
    pooled = pooled.sort_values("retention", ascending=False)
    name = dimension.replace("_", " ")
    floor = max(min_customers, rule.min_cell_size)
    if pooled.empty:
        return (
            f"*No {name} split:* no value of `{dimension}` has {floor} customers "
            f"observed {k} {unit}s after acquisition (or the run has no customers table)."
        )
    parts = [f"{value} {format_figure(row.retention, 'rate')}" for value, row in pooled.iterrows()]
    return (
        f"{k} {unit}s after acquisition, pooled over all cohorts, retention by {name} was: "
        f"{'; '.join(parts)} (values with fewer than {floor} customers left out)."
    )


# -- revenue ---------------------------------------------------------------------------------
def _revenue_at(revenue_tidy: pd.DataFrame, *, k: int, recent: int = 6) -> dict[str, Any] | None:
    rows = _acquired(revenue_tidy[revenue_tidy["dimension"] == _ALL])
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
        "customers": int(size),
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
    unit: str = DEFAULTS.cohorts.period,
    min_cell_size: int = MIN_CELL_SIZE,
) -> str:
    """Markdown: revenue retention and realized value per customer of recent cohorts at each k.

    For the last 6 acquisition cohorts that reached k (overall; the customers present at the
    start left out): net revenue in period k as a share of their acquisition period's, and
    net revenue per acquired customer from period 0 to k. Cohorts holding fewer than
    ``min_cell_size`` customers in all get a sentence saying so instead.
    """
    if revenue_tidy is None:
        return _NOT_READY
    rule = SmallCells(min_cell_size)
    lines = []
    for x in k:
        found = _revenue_at(revenue_tidy, k=x)
        if found is None:
            lines.append(f"- **{unit} {x}**: no cohort has reached it yet.")
            continue
        first, last = found["cohorts"]
        if rule.is_small(found["customers"]):
            lines.append(
                f"- **{unit} {x}** (cohorts {first} to {last}): they hold "
                f"{rule.phrase(found['customers'])}, too few to show their revenue."
            )
            continue
        lines.append(
            f"- **{unit} {x}** (cohorts {first} to {last}): net revenue was "
            f"{format_figure(found['revenue_retention'], 'rate')} of the acquisition {unit}'s, and each "
            f"acquired customer had brought "
            f"{format_figure(found['cumulative_revenue_per_customer'], 'money', currency)} in total "
            f"(of which {format_figure(found['first_period_revenue_per_customer'], 'money', currency)} "
            f"in the acquisition {unit})."
        )
    return "For the latest 6 cohorts that reached each age (net of refunds):\n\n" + "\n".join(lines)


# -- brackets --------------------------------------------------------------------------------
def describe_brackets(
    bracket_tidy: pd.DataFrame | None,
    *,
    dimension: str = _CHANNEL,
    min_cell_size: int = MIN_CELL_SIZE,
) -> str:
    """Markdown: overall share buying again in each day bracket, and the best/worst channel.

    A bracket with fewer than ``min_cell_size`` eligible customers gets no rate; channels
    compare only with 30 customers or more (and at least ``min_cell_size``).
    """
    if bracket_tidy is None:
        return _NOT_READY
    rule = SmallCells(min_cell_size)
    overall = bracket_tidy[bracket_tidy["dimension"] == _ALL]
    if overall.empty:
        return "No day bracket has fully elapsed for any customer yet."
    pooled = _pooled(overall, ["bracket", "days_from", "days_to"], rule).reset_index()
    pooled = pooled.sort_values(["days_from", "days_to"])
    if pooled.empty:
        return (
            "No day bracket has fully elapsed for a customer of an acquisition cohort yet (the "
            "customers present at the start are left out)."
        )
    parts = [
        f"not shown for {row.bracket} ({rule.phrase(row.cohort_size)})"
        if pd.isna(row.retention)
        else f"{format_figure(row.retention, 'rate')} in {row.bracket} (of {rule.phrase(row.cohort_size)})"
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
    by_value = _pooled(split, ["dimension_value"], rule)
    by_value = by_value[(by_value["cohort_size"] >= 30) & by_value["retention"].notna()]
    if len(by_value) >= 2:
        best, worst = by_value["retention"].idxmax(), by_value["retention"].idxmin()
        text += (
            f" In {longest}, {best} customers did best ({format_figure(by_value.loc[best, 'retention'], 'rate')})"
            f" and {worst} worst ({format_figure(by_value.loc[worst, 'retention'], 'rate')})."
        )
    return text


# -- do newer cohorts retain better? ---------------------------------------------------------
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


def describe_trends(
    trends: pd.DataFrame | None,
    *,
    unit: str = DEFAULTS.cohorts.period,
    min_cell_size: int = MIN_CELL_SIZE,
) -> str:
    """Markdown: the trend and channel-gap sentences of :func:`cohort_trends`, one bullet per k.

    The verdict ("newer cohorts retain measurably better/worse", or no measurable trend)
    rests on the acquisition cohorts only: when the table's ``left_out`` names cohorts of the
    customers present at the start, a sentence says they were left out and why. A trend on
    cohorts of fewer than ``min_cell_size`` customers, and a gap between channels one of
    which holds fewer, are not stated (as in :func:`trends_table`).
    """
    if trends is None:
        return _NOT_READY
    if trends.empty:
        return "No trend period (`trend_periods`) was asked for."
    trends = _shown_trends(trends, SmallCells(min_cell_size), unit=unit)
    lines = [f"- {r.trend_text} {r.gap_text}" for r in trends.itertuples()]
    estimated = trends.dropna(subset=["pp_per_year"])
    better = estimated[estimated["pp_ci_lower"] > 0]["k"].tolist()
    worse = estimated[estimated["pp_ci_upper"] < 0]["k"].tolist()
    parts = [
        f"**Newer cohorts retain measurably {word}** at {', '.join(str(k) for k in ks)} periods."
        for word, ks in (("better", better), ("worse", worse))
        if ks
    ]
    if parts:
        verdict = " ".join(parts)
    elif estimated.empty:
        verdict = "**No trend could be estimated** (the reasons are below)."
    else:
        verdict = (
            "**No measurable trend:** newer cohorts retain about as well as older ones "
            "(every 95% interval includes zero)."
        )
    left_out: list[str] = []
    if "left_out" in trends.columns:
        for value in trends["left_out"].dropna():
            left_out += [
                label for label in str(value).split("; ") if label and label not in left_out
            ]
    sentence = _left_out_sentence(left_out)
    return (
        verdict
        + ("\n\n" + sentence if sentence else "")
        + "\n\n"
        + "\n".join(lines)
        + "\n\nThe gap compares the best and worst channel picked after looking, so read it as "
        "descriptive."
    )


# -- lifecycle and transitions ---------------------------------------------------------------
def describe_lifecycle(
    lifecycle: pd.DataFrame | None,
    *,
    unit: str = DEFAULTS.cohorts.period,
    min_cell_size: int = MIN_CELL_SIZE,
) -> str:
    """Markdown: the latest complete period's new/current/resurrected/dormant, net change, quick ratio.

    Counts of fewer than ``min_cell_size`` customers read "fewer than 10"; a count that the
    period's total would give back, and the net change and quick ratio when they would, are
    withheld, as in :func:`plot_growth_accounting` (one rule for both).
    """
    if lifecycle is None or lifecycle.empty:
        return "There are no purchases up to `as_of_date`, so there is no lifecycle to show."
    done = lifecycle[lifecycle["is_complete"].astype(bool)]
    if done.empty:
        return f"No {unit} is complete yet, so no lifecycle figures are headlined."
    rule = SmallCells(min_cell_size)
    row = done.iloc[-1]
    hidden = _lifecycle_hidden(done.tail(1), rule).iloc[0]

    def count(state: str) -> str:
        if not hidden[state]:
            return format_figure(row[state], "count")
        return f"fewer than {rule.min_cell_size:,}" if rule.is_small(row[state]) else HIDDEN

    text = (
        f"In **{row['period_label']}** {count('active')} customers were active: "
        f"{count('new')} new, {count('current')} current (also active the {unit} before) and "
        f"{count('resurrected')} resurrected (back after a break); {count('dormant')} of the "
        f"previous {unit}'s customers went dormant."
    )
    if hidden[_LIFECYCLE_COUNTS].gt(rule.is_small(row[_LIFECYCLE_COUNTS])).any():
        text += (
            f" ({HIDDEN}: withheld, as the {unit}'s total would give back a count of fewer "
            f"than {rule.min_cell_size:,} customers.)"
        )
    if hidden["net_change"]:
        text += (
            " The net change and the quick ratio are withheld too: with the counts shown they "
            f"would give back a count of fewer than {rule.min_cell_size:,} customers."
        )
    else:
        ratio = row["quick_ratio"]
        reading = (
            "no customer went dormant"
            if pd.isna(ratio)
            else "more customers gained than lost"
            if ratio > 1
            else "more customers lost than gained"
        )
        change = int(row["net_change"])
        text += (
            f" Net change {'+' if change >= 0 else _MINUS}{abs(change):,}, quick ratio "
            f"{_DASH if pd.isna(ratio) else f'{ratio:.2f}'} ({reading})."
        )
    window = done.tail(12)["quick_ratio"].dropna()
    if len(window) >= 2:
        text += f" Over the last {len(window)} complete {unit}s the quick ratio averaged {window.mean():.2f}."
    return text


def describe_transitions(
    matrix: pd.DataFrame | None,
    *,
    unit: str = DEFAULTS.cohorts.period,
    min_cell_size: int = MIN_CELL_SIZE,
) -> str:
    """Markdown: where customers of each state go in the next period (row shares).

    A share of a state that held fewer than ``min_cell_size`` customers (over all pairs of
    periods) reads "–", and the sentence says why.
    """
    if matrix is None or int(matrix.to_numpy().sum()) == 0:
        return f"There are no two consecutive complete {unit}s yet, so no transitions."
    rule = SmallCells(min_cell_size)
    totals = matrix.sum(axis=1)
    shares = matrix.div(totals.replace(0, np.nan), axis=0)
    shares = shares.where(~rule.is_small(totals)[:, None].repeat(shares.shape[1], axis=1))

    def share(src: str, dst: str) -> str:
        value = shares.loc[src, dst] if src in shares.index and dst in shares.columns else None
        return format_figure(value, "rate")

    text = (
        f"Of customers new in a {unit}, {share('new', 'current')} bought again the next {unit}; "
        f"of current customers {share('current', 'current')} stayed current. "
        f"{share('dormant', 'resurrected')} of dormant customers came back the following {unit}, "
        f"against {share('lost', 'resurrected')} of lost ones: win-back is easiest soon after "
        "the last purchase."
    )
    if rule.is_small(totals).any():
        text += (
            f" ({HIDDEN}: the state held fewer than {rule.min_cell_size:,} customers, too few "
            "to show where they went.)"
        )
    return text


# -- time to second order --------------------------------------------------------------------
def describe_second_order(rates: pd.DataFrame | None, *, min_cell_size: int = MIN_CELL_SIZE) -> str:
    """Markdown: the overall 30/60/90-day second-order rate with its CI, and the best/worst group.

    The overall rates are not stated when fewer than ``min_cell_size`` customers have a first
    order; best and worst compare the groups of at least that many customers whose rates
    rest on enough known customers (not ``sparse``), and never the pooled ``(other)``.
    """
    if rates is None or rates.empty:
        return (
            "No customer has a first order up to `as_of_date`, so there is no second order to time."
        )
    rule = SmallCells(min_cell_size)
    overall = rates[rates["group"] == _ALL]
    parts = [
        f"{format_figure(r.second_order_rate, 'rate')} within {r.days} days (95% CI "
        f"{format_figure(r.ci_lower, 'rate')}\u2013{format_figure(r.ci_upper, 'rate')})"
        for r in overall.itertuples()
    ]
    size = overall["customers"].iloc[0] if len(overall) else 0
    if rule.is_small(size):
        text = (
            f"There are {rule.phrase(size)} with a first order: too few to show their "
            "second-order rates."
        )
    elif len(overall):
        text = (
            f"Of {rule.phrase(size)}, a second order was placed by {'; '.join(parts)} "
            "(Kaplan–Meier: customers acquired recently count only for as long as they were "
            "observed)."
        )
    else:
        text = ""
    groups = rates[
        ~rates["group"].isin([_ALL, OTHER]) & ~rule.is_small(rates["customers"]) & ~rates["sparse"]
    ]
    horizon = int(groups["days"].max()) if len(groups) else None
    at = groups[groups["days"] == horizon].set_index("group")
    if len(at) >= 2:
        best, worst = at["second_order_rate"].idxmax(), at["second_order_rate"].idxmin()
        text += (
            f" Within {horizon} days, {best} customers came back most "
            f"({format_figure(at.loc[best, 'second_order_rate'], 'rate')}) and {worst} least "
            f"({format_figure(at.loc[worst, 'second_order_rate'], 'rate')})."
        )
    return text.strip() or "No group has enough customers to report."


# -- the front page --------------------------------------------------------------------------
def cohort_conclusion(
    retention: pd.DataFrame | None,
    trends: pd.DataFrame | None,
    *,
    unit: str = DEFAULTS.cohorts.period,
    min_cell_size: int = MIN_CELL_SIZE,
) -> str:
    """One line for the front page: k-month retention of recent cohorts and the channel gap.

    k is the first of ``trends`` (the params' ``trend_periods``), 3 without trends. A rate
    on cohorts, and a gap on channels, of fewer than ``min_cell_size`` customers is left out.
    """
    if retention is None:
        return "Not enough history for cohorts yet (fewer than two complete periods)."
    rule = SmallCells(min_cell_size)
    k = int(trends["k"].iloc[0]) if trends is not None and len(trends) else 3
    found = _recent_vs_before(_overall(retention), k=k)
    if found is None:
        return f"No cohort has reached {k} {unit}s yet."
    if rule.is_small(found["recent_customers"]):
        return (
            f"The recent cohorts that reached {k} {unit}{'s' if k != 1 else ''} hold "
            f"{rule.phrase(found['recent_customers'])}: too few to show their retention."
        )
    text = (
        f"{k}-{unit} retention of recent cohorts {format_figure(found['recent_retention'], 'rate')}"
    )
    if found["before_retention"] is not None and not rule.is_small(found["before_customers"]):
        text += f" (vs {format_figure(found['before_retention'], 'rate')} for the 6 cohorts before)"
    gap = None if trends is None else trends[trends["k"] == k].iloc[0]
    small_gap = gap is not None and bool(
        rule.is_small([gap.get("best_customers"), gap.get("worst_customers")]).any()
    )
    if gap is not None and not pd.isna(gap["gap_pp"]) and not small_gap:
        text += f"; best channel {gap['best']}, worst {gap['worst']} (gap {gap['gap_pp']:.1f} pp)"
    return text + "."
