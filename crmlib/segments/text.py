"""Sentences and Markdown of 04_segments: segments, migration, clusters, affinities, inputs.

Every function returns text for the page, worded from the numbers under the small-cell
rule (:class:`crmlib.privacy.SmallCells`); the numbers come from
:mod:`crmlib.segments.models`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from crmlib.checks import require_columns
from crmlib.config import DEFAULTS
from crmlib.formatting import format_figure, format_money
from crmlib.privacy import HIDDEN, MIN_CELL_SIZE, SmallCells
from crmlib.sampling import fitted_on
from crmlib.segments.models.affinities import (
    ALL_POPULATION,
    CROSS_SELL_COLUMNS,
    RULE_COLUMNS,
    _shown,
    top_pairs,
)
from crmlib.segments.models.clusters import BEHAVIOUR_FEATURES, ClusterResult, shown_profiles

__all__ = [
    "FEATURE_LABELS",
    "SILHOUETTE_WEAK",
    "SILHOUETTE_CLEAR",
    "describe_inputs",
    "describe_segments",
    "migration_counts",
    "describe_migration",
    "describe_clusters",
    "describe_affinities",
    "describe_cross_sell",
]

log = logging.getLogger(__name__)


_ARROW = "\u2192"


_WIN_BACK = ("At risk", "Can't lose")


#: The counts of :func:`crmlib.segments.migration_summary` that the report states, and how
#: they add up (moves of the customers who had already bought; existing + new = today's).
_MIGRATION_COUNTS = ("customers", "existing_customers", "moved_up", "stayed", "moved_down", "new")


_MIGRATION_PARTS = {
    "existing_customers": ["moved_up", "stayed", "moved_down"],
    "customers": ["existing_customers", "new"],
}


#: Readable names of the behaviour features, for charts and tables.
FEATURE_LABELS: dict[str, str] = {
    "recency_days": "Recency (days)",
    "frequency": "Orders in window",
    "monetary": "Net spend in window",
    "tenure_days": "Tenure (days)",
    "category_diversity": "Categories in window",
    "engagement": "Opens + clicks per send",
}


#: Below this silhouette the customers form a continuum rather than groups (Kaufman &
#: Rousseeuw 1990: < 0.25 "no substantial structure").
SILHOUETTE_WEAK = 0.25


#: At or above this silhouette the groups are clearly separated (0.5: "reasonable structure").
SILHOUETTE_CLEAR = 0.5


_NOUNS = {"category": ("category", "categories"), "product": ("product", "products")}


def _bold(name: str) -> str:
    return f"**{name}**"


def _rate(value: Any) -> str:
    """A share as ``12.3%``; a tiny negative share reads ``0.0%``, not ``-0.0%``."""
    if value is None or pd.isna(value):
        return HIDDEN
    return format_figure(round(float(value), 3) + 0.0, "rate")


def _customers(words: str) -> str:
    """``"1,234 customers"`` from a count's words (:func:`migration_counts`)."""
    return f"{words} customer{'' if words == '1' else 's'}"


def _label(item: str) -> str:
    """An item name for prose and tick labels: ``running_shoes`` -> ``running shoes``."""
    return str(item).replace("_", " ")


def _noun(level: str) -> tuple[str, str]:
    if level not in _NOUNS:
        raise ValueError(f"level={level!r}: expected one of {sorted(_NOUNS)}")
    return _NOUNS[level]


def describe_inputs(registered: Sequence[str]) -> str:
    """Markdown: which optional tables 04_segments found, and what it does without the others.

    Parameters
    ----------
    registered : sequence of str
        The optional tables found in the run folder, as returned by
        ``RunFolder.register(engine, "customers", "events", optional=True)``.

    Returns
    -------
    str
        One sentence per missing table saying what is skipped, or one sentence saying that
        both are used.

    Examples
    --------
    >>> print(describe_inputs(["customers"]))
    Optional inputs: the `customers` table is used (consent flags, region, age band, channel). No `events` table in this run: consent is the signup opt-in only (unsubscribes are unknown), the frequency caps are not checked and messaging engagement is left out of the clusters.
    """
    found = set(registered)
    parts = []
    if "customers" in found:
        parts.append("the `customers` table is used (consent flags, region, age band, channel)")
    if "events" in found:
        parts.append("the `events` table is used (unsubscribes, frequency caps, engagement)")
    text = f"Optional inputs: {'; '.join(parts)}." if parts else ""
    missing = []
    if "customers" not in found:
        missing.append(
            "No `customers` table in this run: the segment profiles are skipped, and nobody "
            "can be exported to a campaign because consent to a channel is unknown."
        )
    if "events" not in found:
        consent = (
            "consent is the signup opt-in only (unsubscribes are unknown), "
            if "customers" in found
            else ""
        )
        missing.append(
            f"No `events` table in this run: {consent}the frequency caps are not checked and "
            "messaging engagement is left out of the clusters."
        )
    return " ".join([text, *missing]).strip()


def describe_segments(
    summary: pd.DataFrame, *, currency: str, min_cell_size: int = MIN_CELL_SIZE
) -> str:
    """Markdown: how customers and net revenue spread over the segments, with the numbers.

    Reads *summary* (one row per segment in value order, as from
    :func:`crmlib.segments.models.rfm.segment_summary`) and states the number of customers, the
    largest segment, the share of customers and revenue of the two most valuable segments
    (Champions and Loyal with the default rules), the win-back segments (At risk, Can't
    lose) when present, and the two least valuable ones. Revenue is the net ``monetary`` of
    the RFM window.

    Small-cell rule: a group of segments quoted together with fewer than ``min_cell_size``
    customers is stated as "fewer than 10 customers" without its shares and revenue.
    """
    require_columns(
        summary,
        ("segment", "customers", "share_customers", "revenue", "share_revenue"),
        table_name="segment summary",
    )
    rule = SmallCells(min_cell_size)
    total = int(summary["customers"].sum())
    if total == 0:
        return "No customer has a purchase on or before the as-of date, so there are no segments."
    present = summary[summary["customers"] > 0]
    revenue = float(summary["revenue"].sum())
    lines = [
        f"**{rule.phrase(total)}** with a purchase on or before the as-of date "
        f"fall into {len(present)} of {len(summary)} segments; together they brought "
        f"{format_figure(revenue, 'money', currency)} of net revenue in the RFM window."
    ]
    largest = present.sort_values("customers", ascending=False, kind="stable").iloc[0]
    if rule.shown(int(largest["customers"])):
        lines.append(
            f"- The largest segment is {_bold(str(largest['segment']))}: "
            f"{_rate(largest['share_customers'])} of customers and "
            f"{_rate(largest['share_revenue'])} of net revenue."
        )
    else:
        lines.append(
            f"- The largest segment is {_bold(str(largest['segment']))}, with "
            f"{rule.phrase(int(largest['customers']))}."
        )
    top = summary.head(2)
    if len(top) == 2:
        names = " and ".join(_bold(s) for s in top["segment"])
        size = int(top["customers"].sum())
        lines.append(
            f"- The two most valuable segments, {names}, are "
            f"{_rate(size / total)} of customers ({rule.phrase(size)}) and bring "
            f"{_rate(top['share_revenue'].sum())} of net revenue "
            f"({format_figure(float(top['revenue'].sum()), 'money', currency)})."
            if rule.shown(size)
            else f"- The two most valuable segments, {names}, hold {rule.phrase(size)}."
        )
    win_back = summary[summary["segment"].isin(_WIN_BACK)]
    if len(win_back) == len(_WIN_BACK):
        names = " and ".join(_bold(s) for s in win_back["segment"])
        size = int(win_back["customers"].sum())
        lines.append(
            f"- {names} hold {rule.phrase(size)} who used to buy "
            f"often but not lately; they brought {_rate(win_back['share_revenue'].sum())} "
            f"of net revenue ({format_figure(float(win_back['revenue'].sum()), 'money', currency)}): "
            "the first audience for a win-back campaign."
            if rule.shown(size)
            else f"- {names} hold {rule.phrase(size)} who used to buy often but not lately: "
            "too few to describe their revenue."
        )
    bottom = summary.tail(2)
    if len(summary) > 3:
        names = " and ".join(_bold(s) for s in bottom["segment"])
        size = int(bottom["customers"].sum())
        lines.append(
            f"- The least valuable segments, {names}, "
            f"are {_rate(size / total)} of customers and "
            f"{_rate(bottom['share_revenue'].sum())} of net revenue."
            if rule.shown(size)
            else f"- The least valuable segments, {names}, hold {rule.phrase(size)}."
        )
    return "\n".join(lines)


def migration_counts(
    summary: Mapping[str, Any], *, min_cell_size: int = MIN_CELL_SIZE
) -> dict[str, str | None]:
    """The customer counts of a migration summary as words for a sentence.

    Reads the dict of :func:`crmlib.segments.models.migration.migration_summary` and returns its
    *customers, existing_customers, moved_up, stayed, moved_down, new* as text
    (:meth:`crmlib.privacy.SmallCells.words`): ``"fewer than 10"`` for a count from 1 to
    ``min_cell_size - 1``, None for a count that is not stated because, with the others and
    their total (moves add up to the existing customers, existing + new to today's), it
    would reveal a small one. :func:`describe_migration` and the stage's conclusion both
    word the moves from it, so neither states a count the other hides.

    Examples
    --------
    >>> moves = {"customers": 300, "existing_customers": 252, "moved_up": 53, "stayed": 192,
    ...          "moved_down": 7, "new": 48}
    >>> migration_counts(moves)
    {'customers': '300', 'existing_customers': '252', 'moved_up': None, 'stayed': '192', 'moved_down': 'fewer than 10', 'new': '48'}
    """
    counts = {name: int(summary[name]) for name in _MIGRATION_COUNTS}
    return SmallCells(min_cell_size).words(counts, parts=_MIGRATION_PARTS)


def describe_migration(
    summary: Mapping[str, Any], *, lookback_days: int, min_cell_size: int = MIN_CELL_SIZE
) -> str:
    """Markdown: how many customers moved up, stayed, moved down or are new over the lookback.

    Reads the dict of :func:`crmlib.segments.models.migration.migration_summary`. Counts follow the
    small-cell rule (:func:`migration_counts`): "fewer than 10" for a count from 1 to
    ``min_cell_size - 1``, and a count that would reveal one through the total is not
    stated; shares of the existing (or all) customers are shown.
    """
    rule = SmallCells(min_cell_size)
    words = migration_counts(summary, min_cell_size=min_cell_size)
    total, existing = int(summary["customers"]), int(summary["existing_customers"])
    if total == 0:
        return "No customer has a purchase on or before the as-of date: there is no migration."
    today = words["customers"] if rule.shown(total) else None
    new_count = words["new"]
    new = (
        f"{_customers(new_count) if new_count else 'new customers'} "
        f"({_rate(summary['share_new'])} of today's {today or 'customers'}) "
        f"made their first purchase in the last {lookback_days} days"
    )
    if existing == 0:
        everyone = _customers(today) if today else "customers"
        return (
            f"No customer had bought {lookback_days} days ago: all {everyone} made their "
            f"first purchase in the last {lookback_days} days."
        )

    def counted(name: str) -> str:
        return f" ({words[name]})" if words[name] is not None else ""

    existing_words = words["existing_customers"]
    text = (
        f"Of the {_customers(existing_words) if existing_words else 'customers'} who had "
        f"already bought {lookback_days} days ago, **{_rate(summary['share_moved_up'])} moved "
        f"up** to a more valuable segment{counted('moved_up')}, "
        f"**{_rate(summary['share_stayed'])} stayed**{counted('stayed')} and "
        f"**{_rate(summary['share_moved_down'])} moved down**{counted('moved_down')}; {new}."
    )
    flows = []
    for way, label in (("largest_up", "up"), ("largest_down", "down")):
        flow = summary.get(way)
        if flow:
            flows.append(
                f"the largest move {label} was {flow['from']} {_ARROW} {flow['to']} "
                f"({rule.phrase(int(flow['customers']))})"
            )
    if flows:
        joined = "; ".join(flows)
        text += f" {joined[0].upper()}{joined[1:]}."
    return text


def _structure_sentence(silhouette: float) -> str:
    if not np.isfinite(silhouette):
        return "The silhouette could not be computed."
    if silhouette >= SILHOUETTE_CLEAR:
        return f"The silhouette of {silhouette:.2f} says the groups are clearly separated."
    if silhouette >= SILHOUETTE_WEAK:
        return (
            f"The silhouette of {silhouette:.2f} says the groups are real but overlap: "
            "many customers sit between two clusters."
        )
    return (
        f"The silhouette of {silhouette:.2f} is low: customers form a continuum rather than "
        "separate groups, and the clusters cut it into ranges."
    )


def _stability_sentence(result: ClusterResult) -> str:
    resamples = f"{result.n_bootstrap} resample{'s' if result.n_bootstrap != 1 else ''}"
    if result.stable:
        return (
            f"The clusters are stable (mean adjusted Rand index {result.stability_ari_mean:.2f} "
            f"over {resamples}, 5th percentile {result.stability_ari_p05:.2f}): refitting on "
            "resampled customers finds the same groups."
        )
    return (
        f"The clusters are not stable (mean adjusted Rand index {result.stability_ari_mean:.2f} "
        f"over {resamples}): treat them as a rough grouping."
    )


def describe_clusters(
    result: ClusterResult | None,
    *,
    currency: str,
    reason: str | None = None,
    min_cell_size: int = MIN_CELL_SIZE,
) -> str:
    """Markdown: how many clusters, how well separated, who is in each, and how stable.

    With no clusters (``result`` None, from :func:`crmlib.segments.clusters_or_reason`) the
    text is ``reason``: why they were not fitted.

    Reads a :class:`~crmlib.segments.models.clusters.ClusterResult`; says in words when the
    silhouette is low (below :data:`SILHOUETTE_WEAK`) and when the clusters are not stable
    (mean bootstrap adjusted Rand index below the result's threshold). Only aggregates are
    quoted, never a customer; clusters of fewer than ``min_cell_size`` customers are
    described together as ``"(other)"`` (:func:`shown_profiles`). When the final fit used a
    random sample of the customers (``engine.driver_max_rows``), a sentence says how many.

    Parameters
    ----------
    result : ClusterResult
    currency : str
        The run's currency (``params.currency``, an ISO code such as ``"GBP"``): the net
        spend means are written in it.
    reason : str, optional
        Why no clusters were fitted (from :func:`crmlib.segments.clusters_or_reason`).
    min_cell_size : int, default MIN_CELL_SIZE
        The run's ``privacy.min_cell_size``.

    Returns
    -------
    str
        Markdown: a paragraph, one bullet per cluster (largest first), a stability sentence.
    """
    if result is None:
        return reason or "Behavioural clusters are not fitted."
    rule = SmallCells(min_cell_size)
    profiles = shown_profiles(result.profiles, min_cell_size=min_cell_size)
    ks = result.silhouette["k"]
    k_text = f"{int(ks.min())}\u2013{int(ks.max())}" if ks.min() != ks.max() else f"{int(ks.min())}"
    sample = result.sample
    final_fit = (
        f"{result.algorithm}, every customer then given the nearest centre"
        if sample is not None and sample.sampled
        else f"{result.algorithm} on every customer"
    )
    opening = (
        f"k-means grouped **{rule.phrase(result.n_customers)}** into **{result.k} behavioural "
        f"clusters** (k chosen among {k_text} by the highest silhouette; final fit: "
        f"{final_fit}). {_structure_sentence(result.chosen_silhouette)}"
    )
    if sample is not None and sample.sampled:
        opening += " " + fitted_on(sample, subject="The k-means model was")
    left_out = [
        FEATURE_LABELS[f].lower() for f in BEHAVIOUR_FEATURES if f not in result.feature_columns
    ]
    if left_out:
        opening += f" Left out because every customer has the same value: {', '.join(left_out)}."
    bullets = [
        f"- **{row.cluster_name}** "
        + (
            f"({row.pooled} together, as a cluster of fewer than {rule.min_cell_size:,} "
            "customers is not described alone; "
            if row.pooled
            else "("
        )
        + f"{row.share:.1%}, {rule.phrase(int(row.customers))}): "
        f"{row.frequency:.1f} orders and {format_money(row.monetary, currency)} net in the "
        f"window, last purchase {row.recency_days:.0f} days ago, customers for "
        f"{row.tenure_days:.0f} days, {row.category_diversity:.1f} categories, "
        f"{row.engagement:.2f} opens and clicks per send (averages)."
        for row in profiles.itertuples(index=False)
    ]
    return "\n\n".join([opening, "\n".join(bullets), _stability_sentence(result)])


def describe_affinities(
    rules: pd.DataFrame,
    *,
    level: str = DEFAULTS.segments.affinity_level,
    population: str = ALL_POPULATION,
    n: int = 3,
    min_cell_size: int = MIN_CELL_SIZE,
) -> str:
    """Markdown: the strongest item pairs, their lift and confidences, and their customer base.

    Reads the rules of :func:`crmlib.segments.queries.affinities.association_rules` (one row per
    population x ordered pair) and describes the top ``n`` unordered pairs of ``population``
    by lift: how many times more often than chance they are bought together, the share of each
    item's buyers who also bought the other, and how many customers bought both. Counts only;
    no customer is named. Pairs bought by fewer than ``min_cell_size`` customers are left
    out (the small-cell rule).

    Examples
    --------
    >>> rules = pd.DataFrame({
    ...     "population": ["all", "all"], "antecedent": ["mugs", "coffee"],
    ...     "consequent": ["coffee", "mugs"], "n_customers": [1000, 1000], "n_a": [200, 250],
    ...     "n_b": [250, 200], "n_ab": [120, 120], "support": [0.12, 0.12],
    ...     "confidence": [0.6, 0.48], "lift": [2.4, 2.4], "conviction": [1.875, 1.54],
    ... })
    >>> print(describe_affinities(rules, n=1))  # doctest: +NORMALIZE_WHITESPACE
    Among 1,000 customers with a purchase in the window, the category pair bought together
    most often relative to chance is: **coffee + mugs**: 2.4× as often as chance (48.0% of
    coffee buyers also bought mugs, 60.0% of mugs buyers also bought coffee; 120 customers
    bought both). 1 of 1 category pair with at least the minimum number of shared customers
    has a lift above 1.
    """
    singular, _ = _noun(level)
    require_columns(rules, RULE_COLUMNS[:-1], table_name="rules")
    rule = SmallCells(min_cell_size)
    rules = _shown(rules, rule)
    rows = rules[rules["population"] == population]
    if rows.empty:
        return (
            f"No {singular} pair passed the thresholds (minimum support and minimum number "
            f"of customers buying both) in population {population!r}, so no affinity is "
            "reported."
        )
    pairs = top_pairs(rules, n=n, population=population)
    every_pair = top_pairs(rules, n=len(rows), population=population)
    n_customers = int(pairs["n_customers"].iloc[0])
    scope = "" if population == ALL_POPULATION else f" of segment **{population}**"
    heading = (
        f"the {singular} pair bought together most often relative to chance is"
        if len(pairs) == 1
        else f"the {len(pairs)} {singular} pairs bought together most often relative to chance are"
    )
    items = []
    for pair in pairs.itertuples():
        a, b = _label(pair.item_a), _label(pair.item_b)
        items.append(
            f"**{a} + {b}**: {pair.lift:.1f}\u00d7 as often as chance "
            f"({format_figure(pair.confidence_a_to_b, 'rate')} of {a} buyers also bought {b}, "
            f"{format_figure(pair.confidence_b_to_a, 'rate')} of {b} buyers also bought {a}; "
            f"{rule.phrase(int(pair.n_ab))} bought both)"
        )
    above = int((every_pair["lift"] > 1.0).sum())
    total = len(every_pair)
    pair_noun, verb = (f"{singular} pair", "has") if total == 1 else (f"{singular} pairs", "have")
    return (
        f"Among {rule.phrase(n_customers)}{scope} with a purchase in the window, {heading}: "
        + "; ".join(items)
        + f". {above} of {total} {pair_noun} with at least the minimum number of shared "
        f"customers {verb} a lift above 1."
    )


def describe_cross_sell(
    cross_sell: pd.DataFrame,
    *,
    level: str = DEFAULTS.segments.affinity_level,
    min_cell_size: int = MIN_CELL_SIZE,
) -> str:
    """Markdown bullets: per segment, its best cross-sell rule in words.

    Reads :func:`crmlib.segments.models.affinities.cross_sell_by_segment` (each segment's best
    ranked rule bought by at least ``min_cell_size`` customers is used): "customers of X who
    buy A also buy B in c% of cases (vs b% of the segment)".

    Examples
    --------
    >>> cross_sell = pd.DataFrame({
    ...     "segment": ["Champions"], "rank": [1], "antecedent": ["mugs"],
    ...     "consequent": ["coffee"], "n_customers": [400], "n_a": [100], "n_b": [160],
    ...     "n_ab": [80], "support": [0.2], "confidence": [0.8], "consequent_share": [0.4],
    ...     "lift": [2.0],
    ... })
    >>> print(describe_cross_sell(cross_sell))
    - **Champions**: customers who buy mugs also buy coffee in 80.0% of cases, vs 40.0% of the segment overall (lift 2.0; 80 customers bought both).
    """
    _noun(level)
    require_columns(cross_sell, CROSS_SELL_COLUMNS, table_name="cross_sell")
    rule = SmallCells(min_cell_size)
    shown = _shown(cross_sell, rule).sort_values(["segment", "rank"], kind="stable")
    best = shown.groupby("segment", sort=False).head(1)
    if best.empty:
        return f"No segment has a {level} pair bought together by enough customers to report."
    lines = [
        f"- **{row.segment}**: customers who buy {_label(row.antecedent)} also buy "
        f"{_label(row.consequent)} in {format_figure(row.confidence, 'rate')} of cases, vs "
        f"{format_figure(row.consequent_share, 'rate')} of the segment overall "
        f"(lift {row.lift:.1f}; {rule.phrase(int(row.n_ab))} bought both)."
        for row in best.itertuples()
    ]
    return "\n".join(lines)
