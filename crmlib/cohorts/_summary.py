"""Trend and second-order tables, checks, conclusion and metrics of stage 03_cohorts."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from crmlib.checks import Checks
from crmlib.cohorts._data_start import DataStart
from crmlib.cohorts._describe import _recent, _recent_vs_before
from crmlib.cohorts._display import _ALL, _CHANNEL, _overall
from crmlib.cohorts._survival import second_order_rates
from crmlib.cohorts._trend import _left_out_labels, channel_gap, retention_trend
from crmlib.errors import DataContractError
from crmlib.formatting import format_figure, plain_value
from crmlib.privacy import MIN_CELL_SIZE, SmallCells

__all__ = [
    "cohort_trends",
    "second_order_summary",
    "cohort_checks",
    "cohort_conclusion",
    "cohort_metrics",
]

log = logging.getLogger(__name__)


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
    gap_ci_lower_pp, gap_ci_upper_pp*), the customers each rests on (*customers*: the
    trend's cohorts; *best_customers, worst_customers*) and a sentence for each
    (*trend_text, gap_text*);
    when one cannot be estimated (too few cohorts or channels) its numbers are null and its
    sentence says why. Cohorts of the customers present at the start (``present_at_start``,
    see :func:`crmlib.cohorts.data_start`) are not acquisition cohorts: both leave them out,
    and *left_out* lists their labels ("; "-separated, empty when none). None passes through.
    """
    if tidy is None:
        return None
    overall = _overall(tidy, definition)
    left_out = "; ".join(_left_out_labels(overall))
    rows = []
    for x in k:
        row: dict[str, Any] = {"k": int(x), "left_out": left_out}
        try:
            trend = retention_trend(overall, k=x, definition=definition)
            row.update(
                n_cohorts=trend.n_cohorts, customers=trend.customers,
                mean_retention=trend.mean_retention,
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
                worst_retention=gap.worst_retention, best_customers=gap.best_customers,
                worst_customers=gap.worst_customers, gap_pp=gap.gap_pp,
                gap_ci_lower_pp=gap.ci_lower_pp, gap_ci_upper_pp=gap.ci_upper_pp,
                gap_text=gap.describe(unit=unit),
            )  # fmt: skip
        except DataContractError as error:
            row["gap_text"] = f"No {x}-{unit} {dimension.replace('_', ' ')} gap: {error}."
        rows.append(row)
    columns = [
        "k", "n_cohorts", "customers", "mean_retention", "pp_per_year", "pp_ci_lower",
        "pp_ci_upper", "p_value", "best", "worst", "best_retention", "worst_retention",
        "best_customers", "worst_customers", "gap_pp", "gap_ci_lower_pp", "gap_ci_upper_pp",
        "trend_text", "gap_text", "left_out",
    ]  # fmt: skip
    return pd.DataFrame(rows).reindex(columns=columns)


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


def _json_row(row: pd.Series, keys: Sequence[str]) -> dict[str, Any]:
    return {key: plain_value(row[key]) for key in keys}


def cohort_metrics(
    retention: pd.DataFrame | None,
    *,
    trends: pd.DataFrame | None,
    lifecycle: pd.DataFrame | None,
    rates: pd.DataFrame | None,
    period: str = "month",
    k: Sequence[int] = (1, 3, 6),
    data_start: DataStart | None = None,
    min_cell_size: int = MIN_CELL_SIZE,
) -> dict[str, Any]:
    """Headline figures of stage 03_cohorts for ``metrics.json`` (no customer identifiers).

    Transforms the tidy retention table, :func:`cohort_trends`, the lifecycle table and
    :func:`second_order_summary` into one JSON-ready dict: ``conclusion``, ``ready``,
    ``period``, ``cohorts`` (count, first, last), ``recent_retention`` (per k: pooled
    retention of the last 6 cohorts that reached k and of the 6 before), ``trends`` (per
    trend k: pp per year with CI and p, best/worst channel with gap and CI),
    ``lifecycle`` (latest complete period), ``second_order`` (overall rates at each
    horizon with CI) and ``data_start`` (:meth:`DataStart.as_dict`: the data's first day,
    the cohorts left out as the customers present at the start and why). Parts that could
    not be computed are None. The figures are unrounded and not suppressed (they are not a
    page); only the ``conclusion`` sentence, shown on the page, follows ``min_cell_size``.
    """
    metrics: dict[str, Any] = {
        "conclusion": cohort_conclusion(
            retention, trends, unit=period, min_cell_size=min_cell_size
        ),
        "ready": retention is not None,
        "period": period,
        "cohorts": None,
        "recent_retention": None,
        "trends": None,
        "lifecycle": None,
        "second_order": None,
        "data_start": None if data_start is None else data_start.as_dict(),
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
