"""Acquisition cost: CAC per channel and month, CLV:CAC, payback of acquisition cohorts, and the
spend on retention campaigns per retained customer.

Reads the optional contract table ``marketing_spend`` (one row per spend line: *date,
acquisition_channel, spend* >= 0 in the run's currency, *campaign* or null) with 01_ingest's
``customers`` (the acquisition channel) and the shared purchase facts (:mod:`crmlib.facts`:
the first purchase, the workbook's one definition of a new customer). The counting over orders
is SQL (``crmlib/sql/clv_acquisition_*.sql``); everything here works on one row per month and
channel, or per acquisition cohort.

Definitions
-----------
- **New customer** of month *m*: first purchase in *m*; their channel is
  ``customers.acquisition_channel`` ("(unknown)" when missing).
- **CAC** of a channel and month = the channel's spend in the month / its new customers in the
  month. Spend with no new customers leaves CAC undefined (never infinite). Over the whole
  window, CAC = total spend / total new customers over the months the spend table covers
  (first to last month with a spend row); a channel without any spend row has no CAC.
- **CLV:CAC** = mean predicted CLV of the channel's customers (05's ``clv``: discounted
  expected margin over the horizon of the customers the channel brought, whenever acquired)
  / the channel's CAC.
- **Payback** of a cohort (channel, month of acquisition): the first month in which the
  cohort's cumulative realized margin (net revenue × ``margin``, from the acquisition month
  on) reaches the spend of that channel in that month; counted 1 for the acquisition month
  itself. A cohort that has not reached it by ``as_of_date`` is "not yet paid back".
- **Retention spend**: spend rows whose ``campaign`` names a messaging campaign
  (``events.campaign_id``) or an experiment (``assignments.experiment_id``) of the run. It is
  not acquisition spend and is left out of CAC by default; other campaign names (a paid
  search "brand" campaign) are acquisition spend.
- **Retention spend per retained customer**: retention spend in a month / customers retained
  in that month (returning customers of 02's ``kpis_by_period``: active in the month and in
  the previous one). A plain ratio, not an incremental effect: 07_ab_test measures what a
  campaign changed.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from crmlib.checks import require_columns, require_view
from crmlib.engine import Engine
from crmlib.facts import purchase_facts
from crmlib.periods import as_date, exclusive_end, period_spine

__all__ = [
    "SPEND_COLUMNS",
    "Acquisition",
    "acquisition_by_month",
    "cac_by_channel",
    "cohort_revenue",
    "cohort_payback",
    "payback_by_channel",
    "clv_to_cac",
    "campaign_cost_per_retained",
    "acquisition_cost",
]

log = logging.getLogger(__name__)

#: Columns of the ``marketing_spend`` contract table.
SPEND_COLUMNS: tuple[str, ...] = ("date", "acquisition_channel", "spend", "campaign")
#: The label of every channel together.
ALL_CHANNELS = "All channels"
_UNKNOWN = "(unknown)"


def _month_labels(months: pd.Series) -> pd.Series:
    return pd.to_datetime(months).dt.strftime("%Y-%m").astype("str")


def acquisition_by_month(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    retention_spend: Literal["include", "exclude"] = "exclude",
    marketing_spend: str = "marketing_spend",
    customers: str = "customers",
    transactions: str = "transactions",
    events: str = "events",
    assignments: str = "assignments",
) -> pd.DataFrame:
    """Spend, new customers and CAC per acquisition channel and month (SQL).

    Transforms *marketing_spend* (one row per spend line) and the first purchases (the shared
    purchase facts of *transactions*, with *customers*' acquisition channel) into one row per
    month and channel with spend or new customers: *month_start, month_label, is_complete,
    channel, spend_rows, spend, campaign_spend* (rows with any campaign), *retention_spend*
    (rows whose campaign is a campaign id of *events* or an experiment id of *assignments*,
    when those views exist), *acquisition_spend, new_customers, cac*.
    ``acquisition_spend`` is the spend CAC divides: every row but the retention spend
    (``retention_spend="exclude"``), or every row (``"include"``).
    ``cac`` is NaN where there are no new customers (undefined, not infinite) and where the
    channel has no spend row that month but spends in other months (NaN: unknown, not free);
    months outside the spend table's first to last month are left out.

    Returns
    -------
    pd.DataFrame
        One row per month and channel, oldest first; empty when the spend table has no row
        on or before ``as_of_date``.
    """
    if retention_spend not in ("include", "exclude"):
        raise ValueError(f"retention_spend={retention_spend!r}: expected 'include' or 'exclude'")
    as_of = as_date(as_of_date)
    require_view(engine, marketing_spend, SPEND_COLUMNS, producer="01_ingest")
    require_view(engine, customers, ("customer_id", "acquisition_channel"), producer="01_ingest")
    end_day = exclusive_end(as_of).date()
    with purchase_facts(engine, transactions=transactions) as facts:
        rows = engine.query(
            "clv_acquisition_cac",
            {"end_day": end_day},
            identifiers={
                "marketing_spend": marketing_spend,
                "campaign_ids": _campaign_ids(engine, events, assignments),
                "customer_facts": facts["customer_facts"],
                "customers": customers,
            },
        )
    rows["month_start"] = pd.to_datetime(rows["month_start"]).dt.date
    with_spend = rows[rows["spend_rows"] > 0]
    if with_spend.empty:
        log.warning("%s has no rows on or before %s: no CAC", marketing_spend, as_of)
        return rows.iloc[:0].assign(
            month_label=pd.Series(dtype="str"),
            is_complete=pd.Series(dtype="bool"),
            acquisition_spend=pd.Series(dtype="float64"),
            cac=pd.Series(dtype="float64"),
        )
    first, last = with_spend["month_start"].min(), with_spend["month_start"].max()
    rows = rows[(rows["month_start"] >= first) & (rows["month_start"] <= last)].copy()
    rows["channel"] = rows["channel"].astype("str")
    rows[["spend_rows", "new_customers"]] = rows[["spend_rows", "new_customers"]].astype("int64")
    rows["acquisition_spend"] = (
        rows["spend"] if retention_spend == "include" else rows["spend"] - rows["retention_spend"]
    ).astype("float64")
    spending = set(rows.loc[rows["spend_rows"] > 0, "channel"])
    defined = (rows["new_customers"] > 0) & (rows["spend_rows"] > 0)
    rows["cac"] = (rows["acquisition_spend"] / rows["new_customers"].where(defined)).astype(
        "float64"
    )
    rows = rows[rows["channel"].isin(spending) | (rows["new_customers"] > 0)]
    spine = period_spine(first, as_of, period="month")
    ends = dict(zip(spine["period_start"], spine["period_end"], strict=True))
    rows.insert(1, "month_label", _month_labels(rows["month_start"]))
    rows.insert(2, "is_complete", [ends[m] <= as_of for m in rows["month_start"]])
    return rows.sort_values(["month_start", "channel"], ignore_index=True)


def _campaign_ids(engine: Engine, events: str, assignments: str) -> str:
    """A relation of the run's campaign ids (messaging campaigns, experiments), maybe empty."""
    parts = []
    if engine.has_table(events) and "campaign_id" in engine.column_types(events):
        parts.append(f"SELECT CAST(campaign_id AS VARCHAR) AS campaign_id FROM {events}")
    if engine.has_table(assignments) and "experiment_id" in engine.column_types(assignments):
        parts.append(f"SELECT CAST(experiment_id AS VARCHAR) AS campaign_id FROM {assignments}")
    if not parts:
        return "(SELECT CAST(NULL AS VARCHAR) AS campaign_id WHERE FALSE)"
    return "(" + " UNION ALL ".join(parts) + ")"


def cac_by_channel(by_month: pd.DataFrame) -> pd.DataFrame:
    """CAC per channel over the whole window, and for all channels together.

    Transforms :func:`acquisition_by_month` (one row per month and channel) into one row per
    channel and a last row "All channels": *channel, spend, campaign_spend, retention_spend,
    acquisition_spend, new_customers, cac* (acquisition spend / new customers; NaN when the channel has no spend
    row in the window, or no new customers), *months_with_spend, months_spend_no_new*
    (months with spend but no new customer: their spend is counted, their own CAC is
    undefined), *first_month, last_month*.

    Examples
    --------
    >>> by_month = pd.DataFrame({"month_start": [dt.date(2025, 1, 1)] * 2 + [dt.date(2025, 2, 1)] * 2,
    ...     "channel": ["web", "tv"] * 2, "spend_rows": [1, 1, 1, 1],
    ...     "spend": [100.0, 300.0, 100.0, 50.0], "campaign_spend": [0.0] * 4,
    ...     "retention_spend": [0.0] * 4,
    ...     "acquisition_spend": [100.0, 300.0, 100.0, 50.0], "new_customers": [10, 3, 10, 0]})
    >>> cac_by_channel(by_month)[["channel", "new_customers", "cac", "months_spend_no_new"]]  # doctest: +NORMALIZE_WHITESPACE
            channel  new_customers        cac  months_spend_no_new
    0            tv              3  116.666667                    1
    1           web             20   10.000000                    0
    2  All channels             23   23.913043                    1
    """
    require_columns(
        by_month,
        ["month_start", "channel", "spend_rows", "spend", "campaign_spend", "retention_spend",
         "acquisition_spend", "new_customers"],
        table_name="acquisition_by_month",
    )  # fmt: skip
    frame = by_month.assign(
        with_spend=(by_month["spend_rows"] > 0).astype("int64"),
        spend_no_new=((by_month["spend_rows"] > 0) & (by_month["new_customers"] == 0)).astype(
            "int64"
        ),
    )
    sums = ["spend", "campaign_spend", "retention_spend", "acquisition_spend", "new_customers",
            "with_spend", "spend_no_new"]  # fmt: skip
    table = frame.groupby("channel", sort=True)[sums].sum().reset_index()
    total = pd.DataFrame([{"channel": ALL_CHANNELS, **frame[sums].sum().to_dict()}])
    table = pd.concat([table, total], ignore_index=True)
    table["has_spend"] = table["with_spend"] > 0
    denominator = table["new_customers"].astype("float64").where(table["has_spend"])
    table["cac"] = (table["acquisition_spend"] / denominator.where(denominator > 0)).astype(
        "float64"
    )
    table = table.rename(
        columns={"with_spend": "months_with_spend", "spend_no_new": "months_spend_no_new"}
    )
    for column in ("new_customers", "months_with_spend", "months_spend_no_new"):
        table[column] = table[column].astype("int64")
    months = pd.to_datetime(frame["month_start"]) if len(frame) else pd.Series(dtype="object")
    table["first_month"] = months.min().strftime("%Y-%m") if len(frame) else None
    table["last_month"] = months.max().strftime("%Y-%m") if len(frame) else None
    return table.drop(columns="has_spend")


def cohort_revenue(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    customers: str = "customers",
    transactions: str = "transactions",
) -> pd.DataFrame:
    """Realized net revenue per acquisition cohort and month (SQL).

    Transforms the shared purchase facts of *transactions* (one row per customer-day) and
    *customers* (acquisition channel) into one row per channel, cohort month (first purchase)
    and month with revenue: *channel, cohort_month, month_start, months_since* (0 = the
    acquisition month), *revenue* (net, refunds included).
    """
    as_of = as_date(as_of_date)
    require_view(engine, customers, ("customer_id", "acquisition_channel"), producer="01_ingest")
    with purchase_facts(engine, transactions=transactions) as facts:
        revenue = engine.query(
            "clv_acquisition_revenue",
            {"end_day": exclusive_end(as_of).date()},
            identifiers={
                "customer_days": facts["customer_days"],
                "customer_facts": facts["customer_facts"],
                "customers": customers,
            },
        )
    cohort = pd.to_datetime(revenue["cohort_month"])
    month = pd.to_datetime(revenue["month_start"])
    revenue["cohort_month"] = cohort.dt.date
    revenue["month_start"] = month.dt.date
    revenue["channel"] = revenue["channel"].astype("str")
    revenue.insert(
        3,
        "months_since",
        ((month.dt.year - cohort.dt.year) * 12 + month.dt.month - cohort.dt.month).astype("int64"),
    )
    return revenue


def cohort_payback(
    by_month: pd.DataFrame,
    revenue: pd.DataFrame,
    *,
    margin: float,
    as_of_date: dt.date | str,
) -> pd.DataFrame:
    """Months until each acquisition cohort's realized margin covers what acquiring it cost.

    Transforms :func:`acquisition_by_month` (the cost: acquisition spend of the channel in the
    month) and :func:`cohort_revenue` into one row per cohort with spend and new customers:
    *channel, cohort_month, new_customers, acquisition_cost, months_observed* (acquisition
    month to ``as_of_date``'s month), *cumulative_margin* (by ``as_of_date``),
    *payback_months* (1 = within the acquisition month; NaN: not yet paid back),
    *paid_back*. Cohorts without spend or without new customers have no payback and are
    left out. ``margin`` is the share of net revenue kept (``clv.margin``); 1.0 measures on
    revenue.

    Examples
    --------
    >>> by_month = pd.DataFrame({"month_start": [dt.date(2025, 1, 1)], "channel": ["web"],
    ...     "spend_rows": [1], "acquisition_spend": [100.0], "new_customers": [4]})
    >>> revenue = pd.DataFrame({"channel": ["web"] * 3, "cohort_month": [dt.date(2025, 1, 1)] * 3,
    ...     "months_since": [0, 1, 3], "revenue": [120.0, 80.0, 200.0]})
    >>> cohort_payback(by_month, revenue, margin=0.5, as_of_date="2025-06-30")[
    ...     ["acquisition_cost", "cumulative_margin", "payback_months", "months_observed"]]
       acquisition_cost  cumulative_margin  payback_months  months_observed
    0             100.0              200.0             2.0                6
    """
    if not 0 < margin <= 1:
        raise ValueError(f"margin={margin!r}: expected a share in (0, 1]")
    as_of = as_date(as_of_date)
    cohorts = by_month[(by_month["spend_rows"] > 0) & (by_month["new_customers"] > 0)]
    cohorts = cohorts[cohorts["acquisition_spend"] > 0]
    columns = ["channel", "cohort_month", "new_customers", "acquisition_cost", "months_observed",
               "cumulative_margin", "payback_months", "paid_back"]  # fmt: skip
    if cohorts.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
    table = pd.DataFrame(
        {
            "channel": cohorts["channel"].astype("str").to_numpy(),
            "cohort_month": pd.to_datetime(cohorts["month_start"]).dt.date.to_numpy(),
            "new_customers": cohorts["new_customers"].astype("int64").to_numpy(),
            "acquisition_cost": cohorts["acquisition_spend"].astype("float64").to_numpy(),
        }
    )
    start = pd.to_datetime(table["cohort_month"])
    table["months_observed"] = (
        (as_of.year - start.dt.year) * 12 + as_of.month - start.dt.month + 1
    ).astype("int64")
    keyed = revenue.assign(
        cohort_month=pd.to_datetime(revenue["cohort_month"]).dt.date,
        channel=revenue["channel"].astype("str"),
    )
    merged = keyed.merge(table[["channel", "cohort_month", "acquisition_cost"]], how="inner")
    merged = merged.sort_values(["channel", "cohort_month", "months_since"], kind="stable")
    merged["cumulative_margin"] = (
        margin * merged.groupby(["channel", "cohort_month"], sort=False)["revenue"].cumsum()
    )  # one row per cohort and month, not per order
    reached = merged[merged["cumulative_margin"] >= merged["acquisition_cost"] - 1e-9]
    first = reached.groupby(["channel", "cohort_month"])["months_since"].min() + 1
    total = merged.groupby(["channel", "cohort_month"])["cumulative_margin"].max()
    index = pd.MultiIndex.from_frame(table[["channel", "cohort_month"]])
    table["cumulative_margin"] = total.reindex(index).fillna(0.0).to_numpy()
    table["payback_months"] = first.reindex(index).astype("float64").to_numpy()
    table["paid_back"] = table["payback_months"].notna()
    return table[columns]


def payback_by_channel(payback: pd.DataFrame) -> pd.DataFrame:
    """Payback per channel: the cohorts' mean months to pay back, and how many have not yet.

    Transforms :func:`cohort_payback` (one row per cohort) into one row per channel and a last
    "All channels" row: *channel, cohorts, new_customers, cohorts_paid_back,
    cohorts_not_yet, mean_payback_months* (over the cohorts that paid back, weighted
    equally), *median_payback_months* (over every cohort, a cohort not yet paid back counting
    as later than any: NaN when half or more have not).
    """
    require_columns(
        payback, ["channel", "new_customers", "payback_months"], table_name="cohort_payback"
    )
    rows = []
    groups = [(str(c), part) for c, part in payback.groupby("channel", sort=True)]
    for channel, part in [*groups, (ALL_CHANNELS, payback)]:  # one row per channel
        months = part["payback_months"].astype("float64")
        ordered = np.sort(months.fillna(np.inf).to_numpy())
        median = float(np.median(ordered)) if len(ordered) else np.nan
        rows.append(
            {
                "channel": channel,
                "cohorts": len(part),
                "new_customers": int(part["new_customers"].sum()),
                "cohorts_paid_back": int(months.notna().sum()),
                "cohorts_not_yet": int(months.isna().sum()),
                "mean_payback_months": float(months.mean()) if months.notna().any() else np.nan,
                "median_payback_months": median if np.isfinite(median) else np.nan,
            }
        )
    return pd.DataFrame(rows)


def clv_to_cac(
    cac: pd.DataFrame,
    values: pd.DataFrame,
    groups: pd.DataFrame | None = None,
    *,
    clv_col: str = "clv",
    channel_col: str = "acquisition_channel",
) -> pd.DataFrame:
    """Mean predicted CLV of each channel's customers divided by the channel's CAC.

    Transforms :func:`cac_by_channel` (one row per channel) and *values* (one row per
    customer: ``customer_id`` and ``clv_col``, 05's ``clv`` artifact or
    :func:`crmlib.clv.customer_value`; the channel in ``channel_col`` of *values* or of
    *groups*, one row per customer) into one row per channel of ``cac`` with *customers,
    clv_mean, cac, clv_to_cac* (NaN where CAC is undefined or zero).

    Examples
    --------
    >>> cac = pd.DataFrame({"channel": ["web", "tv", "All channels"], "cac": [10.0, 40.0, 20.0]})
    >>> values = pd.DataFrame({"customer_id": list("abcd"), "clv": [30.0, 50.0, 20.0, 40.0],
    ...                        "acquisition_channel": ["web", "web", "tv", "tv"]})
    >>> clv_to_cac(cac, values)[["channel", "customers", "clv_mean", "clv_to_cac"]]
            channel  customers  clv_mean  clv_to_cac
    0           web          2      40.0        4.00
    1            tv          2      30.0        0.75
    2  All channels          4      35.0        1.75
    """
    require_columns(cac, ["channel", "cac"], table_name="cac_by_channel")
    require_columns(values, ["customer_id", clv_col], table_name="clv")
    if channel_col in values.columns:
        channels = values[channel_col]
    else:
        if groups is None:
            raise ValueError(f"clv has no {channel_col!r} column: pass groups= (value_groups)")
        require_columns(groups, ["customer_id", channel_col], table_name="groups")
        lookup = groups.drop_duplicates("customer_id").set_index("customer_id")[channel_col]
        channels = values["customer_id"].astype("str").map(lookup)
    labels = channels.astype("object").where(channels.notna(), _UNKNOWN).astype("str")
    frame = pd.DataFrame({"channel": labels.to_numpy(), "clv": values[clv_col].to_numpy(float)})
    per_channel = frame.groupby("channel")["clv"].agg(["size", "mean"])
    table = cac[["channel", "cac"]].copy()
    table["customers"] = table["channel"].map(per_channel["size"]).fillna(0).astype("int64")
    table["clv_mean"] = table["channel"].map(per_channel["mean"]).astype("float64")
    everyone = table["channel"] == ALL_CHANNELS
    table.loc[everyone, "customers"] = len(frame)
    table.loc[everyone, "clv_mean"] = float(frame["clv"].mean()) if len(frame) else np.nan
    table["clv_to_cac"] = (table["clv_mean"] / table["cac"].where(table["cac"] > 0)).astype(
        "float64"
    )
    return table[["channel", "customers", "clv_mean", "cac", "clv_to_cac"]]


def campaign_cost_per_retained(
    by_month: pd.DataFrame, kpis_by_period: pd.DataFrame | None
) -> pd.DataFrame | None:
    """Retention spend per customer retained, by month: a plain ratio, not incremental.

    Transforms :func:`acquisition_by_month` (``retention_spend``: spend on rows whose campaign
    is a messaging campaign or an experiment of the run) and 02's ``kpis_by_period`` (monthly:
    ``period_start``, ``returning_customers``: active in the month and in the previous one)
    into one row per month with retention spend: *month_start, month_label, retention_spend,
    retained_customers, cost_per_retained*. None when there is no monthly KPI table (02 ran
    with another period, or not at all) or no retention spend.
    """
    if kpis_by_period is None or kpis_by_period.empty:
        return None
    labels = kpis_by_period["period_label"].astype("str")
    if not labels.str.fullmatch(r"\d{4}-\d{2}").all():
        log.info("kpis_by_period is not monthly: no spend on campaigns per retained customer")
        return None
    spend = by_month.groupby("month_start", sort=True)["retention_spend"].sum()
    spend = spend[spend > 0]
    if spend.empty:
        return None
    retained = kpis_by_period.assign(
        month_start=pd.to_datetime(kpis_by_period["period_start"]).dt.date
    ).set_index("month_start")["returning_customers"]
    table = pd.DataFrame({"month_start": spend.index, "retention_spend": spend.to_numpy()})
    table["retained_customers"] = table["month_start"].map(retained).fillna(0).astype("int64")
    table.insert(1, "month_label", _month_labels(table["month_start"]))
    table["cost_per_retained"] = (
        table["retention_spend"]
        / table["retained_customers"].where(table["retained_customers"] > 0)
    ).astype("float64")
    return table


class Acquisition(NamedTuple):
    """What :func:`acquisition_cost` returns: the tables of the page's section.

    ``by_month`` (:func:`acquisition_by_month`), ``by_channel`` (:func:`cac_by_channel`),
    ``payback`` (:func:`cohort_payback`), ``payback_by_channel``, ``clv_to_cac`` (None without
    CLV values), ``campaigns`` (:func:`campaign_cost_per_retained`, or None), ``margin`` (the
    share of revenue the payback counts) and ``as_of_date``.
    """

    by_month: pd.DataFrame
    by_channel: pd.DataFrame
    payback: pd.DataFrame
    payback_by_channel: pd.DataFrame
    clv_to_cac: pd.DataFrame | None
    campaigns: pd.DataFrame | None
    margin: float
    as_of_date: dt.date


def acquisition_cost(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    margin: float,
    values: pd.DataFrame | None = None,
    groups: pd.DataFrame | None = None,
    kpis_by_period: pd.DataFrame | None = None,
    retention_spend: Literal["include", "exclude"] = "exclude",
    marketing_spend: str = "marketing_spend",
    customers: str = "customers",
    transactions: str = "transactions",
    events: str = "events",
    assignments: str = "assignments",
    missing: Literal["raise", "skip"] = "raise",
) -> Acquisition | None:
    """Every acquisition-cost table of 05's section, or None without spend or customers.

    Runs :func:`acquisition_by_month`, :func:`cac_by_channel`, :func:`cohort_revenue` with
    :func:`cohort_payback` and :func:`payback_by_channel` (at ``margin``, ``clv.margin``),
    :func:`clv_to_cac` when ``values`` (one row per customer: ``customer_id, clv``; the
    channel from ``groups``) are given, and :func:`campaign_cost_per_retained` with 02's
    ``kpis_by_period``. With ``missing="skip"``, a run without a ``marketing_spend`` or a
    ``customers`` view gives None (the page says why: :func:`crmlib.clv.describe_acquisition`).
    """
    if missing not in ("raise", "skip"):
        raise ValueError(f"missing={missing!r}: expected 'raise' or 'skip'")
    if missing == "skip" and not (
        engine.has_table(marketing_spend) and engine.has_table(customers)
    ):
        log.info("no %s or no %s table: acquisition cost skipped", marketing_spend, customers)
        return None
    common: dict[str, Any] = {"customers": customers, "transactions": transactions}
    by_month = acquisition_by_month(
        engine,
        as_of_date=as_of_date,
        retention_spend=retention_spend,
        marketing_spend=marketing_spend,
        events=events,
        assignments=assignments,
        **common,
    )
    by_channel = cac_by_channel(by_month)
    revenue = cohort_revenue(engine, as_of_date=as_of_date, **common)
    payback = cohort_payback(by_month, revenue, margin=margin, as_of_date=as_of_date)
    ratio = None if values is None else clv_to_cac(by_channel, values, groups)
    return Acquisition(
        by_month,
        by_channel,
        payback,
        payback_by_channel(payback),
        ratio,
        campaign_cost_per_retained(by_month, kpis_by_period),
        float(margin),
        as_date(as_of_date),
    )
