"""Markdown sentences of stage 03_cohorts; None (too little data) gets a reason."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from crmlib.cohorts._data_start import DataStart
from crmlib.cohorts._display import _ALL, _CHANNEL, _acquired, _overall, _pooled
from crmlib.cohorts._trend import _left_out_labels
from crmlib.kpis._tiles import _fmt

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
]

log = logging.getLogger(__name__)

_MINUS, _DASH = "\u2212", "\u2013"
_NOT_READY = (
    "*Section skipped:* there is not enough history for cohorts (see the top of this page)."
)


# -- where the data begin ---------------------------------------------------------------------
def describe_data_start(start: DataStart | None, *, unit: str = "month") -> str:
    """Markdown: where the data begin, and whether the first cohort is the customers present at
    the start (left out of the comparisons of cohorts); see :func:`crmlib.cohorts.data_start`.
    None (cohorts skipped) gets the reason."""
    if start is None:
        return _NOT_READY
    return start.describe(unit=unit) or "There are no cohorts up to `as_of_date`."


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
def _recent_vs_before(rows: pd.DataFrame, *, k: int, recent: int = 6) -> dict[str, Any] | None:
    """Pooled k-period retention of the last ``recent`` acquisition cohorts that reached k vs
    the ones before (the customers present at the start left out)."""
    rows = _acquired(rows)
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
    cohorts), so a large cohort weighs more than a small one. Cohorts of the customers
    present at the start are left out, with a sentence saying so.
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
    n_cohorts = _acquired(rows)["cohort_start"].nunique()
    text = (
        f"Over {n_cohorts} acquisition cohorts, the share of a cohort buying {which} "
        "(pooled over cohorts):\n\n" + "\n".join(lines)
    )
    left_out = _left_out_sentence(_left_out_labels(rows))
    return text + ("\n\n" + left_out if left_out else "")


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

    For the last 6 acquisition cohorts that reached k (overall; the customers present at the
    start left out): net revenue in period k as a share of their acquisition period's, and
    net revenue per acquired customer from period 0 to k.
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
    if pooled.empty:
        return (
            "No day bracket has fully elapsed for a customer of an acquisition cohort yet (the "
            "customers present at the start are left out)."
        )
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
def describe_trends(trends: pd.DataFrame | None) -> str:
    """Markdown: the trend and channel-gap sentences of :func:`cohort_trends`, one bullet per k.

    The verdict ("newer cohorts retain measurably better/worse", or no measurable trend)
    rests on the acquisition cohorts only: when the table's ``left_out`` names cohorts of the
    customers present at the start, a sentence says they were left out and why.
    """
    if trends is None:
        return _NOT_READY
    if trends.empty:
        return "No trend period (`trend_periods`) was asked for."
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
