"""Entry points of stage 03_cohorts: readiness gate, trends, checks, artifacts and metrics."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from crmlib.checks import Checks
from crmlib.cohorts.models.pooling import _ALL, _CHANNEL, _overall, _recent_vs_before
from crmlib.cohorts.models.trend import _left_out_labels, channel_gap, retention_trend
from crmlib.cohorts.queries.data_start import DataStart
from crmlib.cohorts.queries.lifecycle import LIFECYCLE_COLUMNS
from crmlib.cohorts.queries.matrices import RETENTION_COLUMNS, REVENUE_COLUMNS
from crmlib.cohorts.text import cohort_conclusion
from crmlib.config import DEFAULTS
from crmlib.engine import Engine
from crmlib.errors import DataContractError, StageInputMissing
from crmlib.facts import purchase_facts
from crmlib.formatting import plain_value
from crmlib.periods import as_date, check_period, exclusive_end, period_spine
from crmlib.privacy import MIN_CELL_SIZE

__all__ = [
    "cohort_readiness",
    "when_ready",
    "as_artifact",
    "cohort_trends",
    "cohort_checks",
    "cohort_metrics",
]

log = logging.getLogger(__name__)


_T = TypeVar("_T")
#: Columns of the artifacts this stage writes (an empty table has them when skipped).
_ARTIFACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "cohort_retention": RETENTION_COLUMNS,
    "cohort_revenue": REVENUE_COLUMNS,
    "lifecycle": LIFECYCLE_COLUMNS,
}
#: Keys of :func:`_recent_vs_before` that are display-only (not written to metrics.json).
_GROUP_SIZES = ("recent_customers", "before_customers")


# -- readiness -------------------------------------------------------------------------------
def cohort_readiness(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    period: str = DEFAULTS.cohorts.period,
    cohort_basis: str = DEFAULTS.cohorts.cohort_basis,
    transactions: str = "transactions",
    customers: str = "customers",
) -> tuple[bool, str]:
    """Whether the cohort matrices can be computed, and a markdown sentence saying so.

    Cohort matrices need at least two complete periods (k = 0 and k = 1) from the first
    purchase (or signup, with ``cohort_basis="signup"``) to ``as_of_date``; with fewer,
    :func:`cohort_retention` raises ``DataContractError``. This asks the engine one cheap
    question instead (the first purchase, from the shared purchase facts' ``customer_facts``),
    so the notebook can show the reason and skip the matrix sections.

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
    end = {"end": exclusive_end(as_of)}
    if cohort_basis == "first_order":
        with purchase_facts(engine, transactions=transactions) as facts:
            first = engine.scalar(
                f"SELECT min(first_purchase_ts) FROM {facts['customer_facts']} "
                "WHERE first_purchase_ts < $end",
                end,
            )
    else:
        first = engine.scalar(f"SELECT min(signup_ts) FROM {customers} WHERE signup_ts < $end", end)
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


# -- do newer cohorts retain better? ---------------------------------------------------------
def cohort_trends(
    tidy: pd.DataFrame | None,
    *,
    k: Sequence[int] = tuple(DEFAULTS.cohorts.trend_periods),
    definition: str = "on",
    dimension: str = _CHANNEL,
    unit: str = DEFAULTS.cohorts.period,
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


# -- checks, metrics -------------------------------------------------------------------------
def cohort_checks(
    retention: pd.DataFrame | None,
    lifecycle: pd.DataFrame | None,
    *,
    cohort_basis: str = DEFAULTS.cohorts.cohort_basis,
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


def _recent(tidy: pd.DataFrame, *, k: Sequence[int], definition: str = "on") -> dict[str, Any]:
    """The figures of :func:`_recent_vs_before` written to metrics.json, per k."""
    rows = _overall(tidy, definition)
    found = {str(x): _recent_vs_before(rows, k=x) for x in k}
    return {
        x: None if f is None else {key: v for key, v in f.items() if key not in _GROUP_SIZES}
        for x, f in found.items()
    }


def _json_row(row: pd.Series, keys: Sequence[str]) -> dict[str, Any]:
    return {key: plain_value(row[key]) for key in keys}


def cohort_metrics(
    retention: pd.DataFrame | None,
    *,
    trends: pd.DataFrame | None,
    lifecycle: pd.DataFrame | None,
    rates: pd.DataFrame | None,
    period: str = DEFAULTS.cohorts.period,
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
