"""04_segments glue: the baseline of "entered", campaigns, profiles, checks and metrics.

The notebook calls these so that it holds no logic: which membership the "entered the
segment" trigger compares with, running every campaign of the params file through
:mod:`crmlib.activation`, and the headline figures of ``metrics.json["segments"]``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from crmlib.activation import (
    FUNNEL_STEPS,
    Audience,
    Campaign,
    build_audience,
    check_campaigns,
    load_suppression_list,
    lookalike_seed,
    write_exports,
)
from crmlib.checks import Checks, require_columns
from crmlib.config import DEFAULTS, SegmentRuleParams
from crmlib.engine import Engine
from crmlib.formatting import Sentence
from crmlib.io import RunFolder
from crmlib.periods import as_date
from crmlib.privacy import MIN_CELL_SIZE, SmallCells
from crmlib.segments.models.affinities import top_pairs
from crmlib.segments.models.clusters import (
    BEHAVIOUR_FEATURES,  # noqa: F401 (the doctest of clusters_or_reason)
    MIN_CUSTOMERS,
    ClusteringNotPossible,
    ClusterResult,
    cluster_customers,
)
from crmlib.segments.models.profiles import segment_profiles
from crmlib.segments.models.rules import DEFAULT_SEGMENT_RULES, SegmentRule, rules_from_params
from crmlib.segments.queries.affinities import association_rules
from crmlib.segments.queries.rfm import rfm_table
from crmlib.segments.tables import affinity_table, profile_table
from crmlib.segments.text import migration_counts

__all__ = [
    "MEMBERSHIP_COLUMNS",
    "Baseline",
    "segment_rules",
    "clusters_or_reason",
    "membership",
    "baseline_membership",
    "run_campaigns",
    "who_they_are",
    "product_pairs",
    "segment_checks",
    "segments_conclusion",
    "segments_metrics",
]

log = logging.getLogger(__name__)


#: Columns of :func:`membership` (the ``rfm`` artifact carries them for the next run).
MEMBERSHIP_COLUMNS: tuple[str, ...] = ("customer_id", "segment", "cluster_name", "as_of_date")


_NO_CLUSTER = "(not clustered)"


def segment_rules(
    rows: Sequence[SegmentRuleParams | Mapping[str, Any]] | None,
) -> tuple[SegmentRule, ...]:
    """The rule table of the params file (``params.rules``): ``None`` means the default 11
    segments; rows are validated by :class:`crmlib.config.SegmentRuleParams`
    (:func:`crmlib.segments.models.rules.rules_from_params`)."""
    return DEFAULT_SEGMENT_RULES if rows is None else rules_from_params(rows)


def clusters_or_reason(
    features: pd.DataFrame, **options: Any
) -> tuple[ClusterResult | None, str | None]:
    """:func:`cluster_customers`, or ``(None, why)`` when the data cannot be clustered.

    A shop with fewer customers than clustering needs, or whose customers do not differ on any
    behaviour feature, gets a sentence instead of a traceback, and the rest of 04_segments runs
    without clusters. Bad options and malformed features still raise.

    Examples
    --------
    >>> few = pd.DataFrame({"customer_id": ["a", "b"], **{f: [1.0, 2.0] for f in BEHAVIOUR_FEATURES}})
    >>> clusters_or_reason(few)[1]
    'Behavioural clusters are not fitted: 2 customers, and clustering needs at least 50.'
    """
    try:
        return cluster_customers(features, **options), None
    except ClusteringNotPossible:
        needed = max(
            MIN_CUSTOMERS, int(options.get("k_range", DEFAULTS.segments.cluster_k_range)[1]) + 1
        )
        n = len(features)
        if n < needed:
            why = f"{n:,} customers, and clustering needs at least {needed:,}"
        else:
            why = f"the {n:,} customers do not differ on any behaviour feature"
        return None, f"Behavioural clusters are not fitted: {why}."


def membership(
    rfm: pd.DataFrame, clusters: ClusterResult | None, *, as_of_date: dt.date | str
) -> pd.DataFrame:
    """One row per customer with a purchase: segment, cluster name and the date they hold at.

    Transforms *rfm* (one row per customer, from :func:`crmlib.segments.rfm_table`) and the
    cluster labels (one row per clustered customer) into :data:`MEMBERSHIP_COLUMNS`; a
    customer without a cluster label gets ``"(not clustered)"``.
    """
    require_columns(rfm, ["customer_id", "segment"], table_name="rfm")
    members = rfm[["customer_id", "segment"]].copy()
    if clusters is None:
        members["cluster_name"] = _NO_CLUSTER
    else:
        names = clusters.labels.set_index("customer_id")["cluster_name"]
        members["cluster_name"] = (
            members["customer_id"].map(names).fillna(_NO_CLUSTER).astype("str")
        )
    members["as_of_date"] = as_date(as_of_date)
    return members.reset_index(drop=True)


class Baseline:
    """The membership "entered" compares with, the date it holds at and where it came from."""

    def __init__(self, members: pd.DataFrame, as_of_date: dt.date, source: str) -> None:
        self.members = members
        self.as_of_date = as_of_date
        self.source = source

    def describe(self) -> str:
        """One sentence for the report."""
        return f"'Entered' compares with the segments of {self.as_of_date} ({self.source})."


def _previous_membership(run: RunFolder, *, as_of: dt.date) -> Baseline | None:
    """The previous good run's membership when it holds at a date before ``as_of``, else None
    (no previous run, a rerun at the same date, or an older artifact without the columns).

    Reads the membership columns only, never the whole artifact (fifteen columns of a
    million rows at scale)."""
    previous = run.read_previous_table("rfm", columns=MEMBERSHIP_COLUMNS)
    if previous is None or previous.empty:
        return None
    previous_as_of = as_date(previous["as_of_date"].iloc[0])
    if previous_as_of >= as_of:
        return None
    return Baseline(previous[list(MEMBERSHIP_COLUMNS[:3])], previous_as_of, "the previous run")


def baseline_membership(
    engine: Engine,
    run: RunFolder,
    *,
    as_of_date: dt.date | str,
    lookback_days: int = DEFAULTS.segments.migration_lookback_days,
    window_days: int = DEFAULTS.segments.window_days,
    bins: int = DEFAULTS.segments.bins,
    rules: Sequence[SegmentRule] = DEFAULT_SEGMENT_RULES,
    clusters_now: pd.DataFrame | None = None,
) -> Baseline:
    """The membership the trigger "entered the segment" compares with.

    The previous good run's ``rfm`` artifact when it holds an earlier ``as_of_date`` (the
    campaigns then reach customers who entered since that run). Otherwise, on a first run or
    a rerun at the same ``as_of_date`` (which would otherwise find nobody new), the segments
    computed at ``as_of_date - lookback_days`` on the same transactions. Cluster names of the
    fallback are today's (clusters are not refitted at the earlier date), so "entered" a
    cluster needs a previous run.

    Returns
    -------
    Baseline
        ``members`` with customer_id, segment, cluster_name; ``as_of_date``; ``source``.
    """
    as_of = as_date(as_of_date)
    previous = _previous_membership(run, as_of=as_of)
    if previous is not None:
        return previous
    earlier = as_of - dt.timedelta(days=lookback_days)
    before = rfm_table(engine, as_of_date=earlier, window_days=window_days, bins=bins, rules=rules)
    members = before[["customer_id", "segment"]].copy()
    if clusters_now is not None:
        names = clusters_now.set_index("customer_id")["cluster_name"]
        members["cluster_name"] = members["customer_id"].map(names).fillna(_NO_CLUSTER)
    else:
        members["cluster_name"] = _NO_CLUSTER
    return Baseline(
        members.astype({"cluster_name": "str"}),
        earlier,
        f"no earlier run: segments recomputed {lookback_days} days before as_of_date",
    )


def run_campaigns(
    engine: Engine,
    run: RunFolder,
    campaigns: Sequence[Campaign | Mapping[str, Any]],
    *,
    members: pd.DataFrame,
    baseline: Baseline,
    as_of_date: dt.date | str,
    known_labels: Mapping[str, Sequence[str]],
    suppression_list: str | Path | None,
    lookalike_segment: str | None,
    seed: int,
) -> pd.DataFrame:
    """Build, check and write every campaign of the params file; the funnel of all of them.

    The campaigns are the params file's ``segments.campaigns`` (``params.campaigns``: each a
    :class:`crmlib.activation.Campaign`, the params model) or mappings of the same keys,
    validated by that model (:func:`crmlib.activation.check_campaigns`: a bad one is a
    ValueError naming the campaign and the key); target labels are checked against
    ``known_labels`` (``{"segment": rule names, "cluster_name": cluster names}``) before
    anything is built.
    Exports go to ``<run>/exports/`` (:func:`crmlib.activation.write_exports`), with the
    look-alike seed of ``lookalike_segment`` (None: no seed export).

    Returns
    -------
    pd.DataFrame
        The funnel: one row per campaign and step (counts only).
    """
    specs = check_campaigns(campaigns, known_labels=known_labels)
    suppression = load_suppression_list(suppression_list) if suppression_list else None
    audiences: list[Audience] = [
        build_audience(
            engine,
            spec,
            members=members,
            as_of_date=as_of_date,
            previous_members=baseline.members,
            previous_as_of_date=baseline.as_of_date,
            suppression=suppression,
            seed=seed,
        )
        for spec in specs
    ]
    seed_audience = (
        lookalike_seed(engine, members=members, label=lookalike_segment, suppression=suppression)
        if lookalike_segment
        else None
    )
    return write_exports(run, audiences, lookalike=seed_audience)


def who_they_are(
    rfm: pd.DataFrame,
    run: RunFolder,
    *,
    as_of_date: dt.date | str,
    by: Sequence[str],
    min_cell_size: int,
    rules: Sequence[SegmentRule] = DEFAULT_SEGMENT_RULES,
) -> pd.DataFrame | Sentence:
    """The segment x region / age band / channel shares for display, or why there are none.

    Reads the run's ``customers`` artifact (optional in the data contract); columns of ``by``
    the customers table lacks are left out with a sentence rather than failing the report.
    Cells of fewer than ``min_cell_size`` customers, and the cells that would reveal them,
    read "–" (:func:`crmlib.segments.models.profiles.segment_profiles`,
    :func:`crmlib.segments.tables.profile_table`).
    """
    if not run.has_table("customers"):
        return Sentence("No customers table in this run: the segment profiles are skipped.")
    customers = run.read_table("customers")
    present = [
        name
        for name in by
        if name in customers.columns or (name == "age_band" and "birth_year" in customers.columns)
    ]
    if not present:
        wanted = ", ".join(f"`{name}`" for name in by)
        return Sentence(
            f"The customers table has none of the profile columns {wanted} (`age_band` comes "
            "from `birth_year`): the segment profiles are skipped."
        )
    profiles = segment_profiles(
        rfm,
        customers,
        as_of_date=as_of_date,
        by=present,
        min_cell_size=min_cell_size,
        rules=rules,
    )
    return profile_table(profiles)


def product_pairs(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    window_days: int = DEFAULTS.segments.window_days,
    min_pair_customers: int = DEFAULTS.segments.affinity_min_pair_customers,
    n: int = 10,
    transactions: str = "transactions",
    min_cell_size: int = MIN_CELL_SIZE,
) -> pd.DataFrame | Sentence:
    """The top product pairs by lift for display, or a sentence saying why there are none.

    Products are optional in the data contract: without a ``product_id`` column, or when every
    purchase's product is null, the section says so. Counted over all customers (per segment
    the category rules are shown); pairs bought by fewer than ``min_pair_customers``
    customers are left out, and so are pairs bought by fewer than ``min_cell_size`` (the
    report's small-cell rule) when ``min_pair_customers`` is lower.
    """
    if "product_id" not in engine.column_types(transactions):
        return Sentence("The transactions carry no product_id: product pairs are not available.")
    rules = association_rules(
        engine,
        as_of_date=as_of_date,
        window_days=window_days,
        level="product",
        min_pair_customers=min_pair_customers,
        transactions=transactions,
    )
    rule = SmallCells(min_cell_size)
    shown = rules[~rule.is_small(rules["n_ab"])]
    if shown.empty:
        needed = max(int(min_pair_customers), rule.min_cell_size)
        return Sentence(
            f"No product pair was bought by at least {needed:,} customers in the "
            "window: product pairs are not shown."
        )
    return affinity_table(top_pairs(shown, n=n), min_cell_size=min_cell_size)


def segment_checks(
    rfm: pd.DataFrame,
    summary: pd.DataFrame,
    migration: pd.DataFrame,
    funnel: pd.DataFrame,
) -> Checks:
    """Business rules of 04_segments, shown as PASS/FAIL lines before anything is saved."""
    checks = Checks()
    n = len(rfm)
    checks.expect(
        "every customer has one segment",
        bool(rfm["segment"].notna().all()) and not rfm["customer_id"].duplicated().any(),
        f"{n:,} customers, {int(rfm['segment'].isna().sum())} without a segment",
    )
    checks.expect(
        "segment sizes add up",
        int(summary["customers"].sum()) == n,
        f"{int(summary['customers'].sum()):,} in the segment table = {n:,} scored",
    )
    checks.expect(
        "migration covers every customer",
        int(migration["customers"].sum()) == n,
        f"{int(migration['customers'].sum()):,} in the migration matrix = {n:,} scored",
    )
    ordered = funnel.assign(
        _step=funnel["step"].map({s: i for i, s in enumerate(FUNNEL_STEPS)})
    ).sort_values(["campaign", "_step"])
    narrowing, split = True, True
    for _name, rows in ordered.groupby("campaign", sort=False):
        counts = rows.set_index("step")["customers"]
        chain = [int(counts[s]) for s in FUNNEL_STEPS[:5] if s in counts.index]
        narrowing &= all(a >= b for a, b in zip(chain, chain[1:], strict=False))
        split &= int(counts.get("target", 0)) + int(counts.get("control", 0)) == chain[-1]
    checks.expect("each funnel step only removes customers", narrowing)
    checks.expect("target + control = customers passing every rule", split)
    return checks


def segments_conclusion(
    summary: pd.DataFrame,
    *,
    migration: Mapping[str, Any],
    funnel: pd.DataFrame,
    min_cell_size: int = MIN_CELL_SIZE,
) -> str:
    """The stage's one-line conclusion for the front page, from the numbers.

    Under the small-cell rule (``min_cell_size``): the segment quoted is the one with the
    largest share of revenue among segments of at least ``min_cell_size`` customers; the
    moves are worded as in :func:`crmlib.segments.describe_migration` (a count from 1 to
    ``min_cell_size - 1`` reads "fewer than 10", a count that would reveal one is left out);
    the customers of all campaign lists are stated only when they do not reveal a list the
    funnel table hides as ``"<10"``.

    Parameters
    ----------
    summary : pd.DataFrame
        From :func:`crmlib.segments.segment_summary` (one row per segment).
    migration : mapping
        From :func:`crmlib.segments.migration_summary`.
    funnel : pd.DataFrame
        From :func:`run_campaigns` (one row per campaign and step).
    min_cell_size : int, default MIN_CELL_SIZE
        The run's ``privacy.min_cell_size``.
    """
    rule = SmallCells(min_cell_size)
    described = summary[~rule.is_small(summary["customers"])]
    top_value = described.sort_values("share_revenue", ascending=False, na_position="last")
    lead = top_value.iloc[0] if len(top_value) else None
    parts = []
    if lead is not None and not pd.isna(lead["share_revenue"]):
        parts.append(
            f"{lead['segment']} are {lead['share_customers']:.0%} of customers and bring "
            f"{lead['share_revenue']:.0%} of the last year's revenue"
        )
    if migration.get("moved_up") is not None and migration.get("moved_down") is not None:
        words = migration_counts(migration, min_cell_size=min_cell_size)
        down, up = words["moved_down"], words["moved_up"]
        if down is not None and up is not None:
            parts.append(f"{down} customers moved down a segment and {up} moved up")
        elif down is not None or up is not None:
            way, count = ("down", down) if down is not None else ("up", up)
            parts.append(f"{count} customers moved {way} a segment")
    exported = funnel[funnel["step"].isin(["target", "control"])]
    per_campaign = exported.groupby("campaign", sort=False)["customers"].sum()
    campaigns = funnel["campaign"].nunique()
    lists = f"{campaigns} campaign list{'s hold' if campaigns != 1 else ' holds'}"
    reveals = int(rule.complement(per_campaign.tolist()).sum()) > int(
        rule.is_small(per_campaign.to_numpy()).sum()
    )
    if reveals:
        parts.append(
            f"{lists} consented, unsuppressed customers, one of them fewer than "
            f"{rule.min_cell_size:,}"
        )
    else:
        total = int(per_campaign.sum())
        parts.append(f"{lists} {rule.phrase(total, 'consented, unsuppressed customer')}")
    return "; ".join(parts) + "."


def segments_metrics(
    summary: pd.DataFrame,
    *,
    migration: Mapping[str, Any],
    clusters: ClusterResult | None,
    pairs: pd.DataFrame,
    funnel: pd.DataFrame,
    conclusion: str,
) -> dict[str, Any]:
    """``metrics.json["segments"]``: headline figures, counts only (no customer ids).

    Parameters
    ----------
    summary : pd.DataFrame
        From :func:`crmlib.segments.segment_summary` (one row per segment).
    migration : mapping
        From :func:`crmlib.segments.migration_summary`.
    clusters : ClusterResult or None
    pairs : pd.DataFrame
        From :func:`crmlib.segments.top_pairs` (one row per item pair).
    funnel : pd.DataFrame
        From :func:`run_campaigns`.
    conclusion : str
        The stage's one-line conclusion for the index card.
    """
    top = summary.sort_values("customers", ascending=False).iloc[0] if len(summary) else None
    exported = funnel[funnel["step"].isin(["target", "control"])]
    metrics: dict[str, Any] = {
        "conclusion": conclusion,
        "customers": int(summary["customers"].sum()),
        "segments": {
            str(row.segment): {
                "customers": int(row.customers),
                "share_customers": float(row.share_customers),
                "share_revenue": None if pd.isna(row.share_revenue) else float(row.share_revenue),
            }
            for row in summary.itertuples()
        },
        "largest_segment": None if top is None else str(top["segment"]),
        "migration": {k: v for k, v in migration.items() if not isinstance(v, dict)},
        "clusters": None
        if clusters is None
        else {
            "k": int(clusters.k),
            "stable": bool(clusters.stable),
            "stability_ari_mean": float(clusters.stability_ari_mean),
        },
        "top_pair": None
        if pairs.empty
        else {
            "items": [str(pairs.iloc[0]["item_a"]), str(pairs.iloc[0]["item_b"])],
            "lift": float(pairs.iloc[0]["lift"]),
        },
        "campaigns": {
            str(name): {
                str(step): int(n) for step, n in zip(rows["step"], rows["customers"], strict=True)
            }
            for name, rows in funnel.groupby("campaign", sort=False)
        },
        "exported_customers": int(exported["customers"].sum()),
    }
    return metrics
