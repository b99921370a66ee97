"""07_ab_test's analysis: every check and estimate on the experiment table, and its checks."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crmlib.checks import Checks
from crmlib.experiments._analyze import RESULT_COLUMNS, analyze_experiment
from crmlib.experiments._artifacts import CUMULATIVE_COLUMNS, cumulative_outcome
from crmlib.experiments._data import ExperimentData, empty_table
from crmlib.experiments._health import (
    BALANCE_COLUMNS,
    SRM_COLUMNS,
    covariate_balance,
    srm_table,
)
from crmlib.experiments._money import (
    CLV_COLUMNS,
    ECONOMICS_COLUMNS,
    campaign_economics,
    with_clv_lift,
)
from crmlib.experiments._power import (
    POWER_COLUMNS,
    SAMPLE_SIZE_COLUMNS,
    power_table,
    sample_size_table,
)
from crmlib.experiments._report import VERDICT_COLUMNS, _effect, _money_ci, _p_value, verdicts
from crmlib.experiments._survival import (
    CURVE_COLUMNS,
    RMST_COLUMNS,
    rmst_difference,
    time_to_purchase_curves,
)
from crmlib.plotting import format_money

__all__ = [
    "AbAnalysis",
    "analyze_ab",
    "ab_checks",
    "effects_table",
    "economics_table",
    "survival_table",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AbAnalysis:
    """Every table 07_ab_test shows; each is empty (with its columns) when it cannot be computed."""

    results: pd.DataFrame
    srm: pd.DataFrame
    balance: pd.DataFrame
    economics: pd.DataFrame
    verdicts: pd.DataFrame
    power: pd.DataFrame
    sample_sizes: pd.DataFrame
    curves: pd.DataFrame
    rmst: pd.DataFrame
    cumulative: pd.DataFrame
    rmst_horizon_days: float = math.nan
    notes: tuple[str, ...] = ()


def _results_of(
    data: ExperimentData, *, control: str, alpha: float, min_cell_size: int, notes: list[str]
) -> pd.DataFrame:
    """analyze_experiment per experiment on its own metrics; small segments dropped."""
    parts = []
    for experiment, frame in data.table.groupby("experiment_id", sort=True):
        metrics = list(data.metrics.get(str(experiment), ()))
        complete = frame.notna().all()
        ratios = {
            name: pair for name, pair in data.ratio_metrics.items() if all(complete[list(pair)])
        }
        if not metrics and not ratios:
            notes.append(f"experiment '{experiment}': no metric has a value for every customer")
            continue
        parts.append(
            analyze_experiment(
                frame,
                control=control,
                metrics=metrics,
                covariates={m: c for m, c in data.covariates.items() if m in metrics},
                segment_cols=list(data.segments),
                alpha=alpha,
                ratio_metrics=ratios,
            )
        )
    if not parts:
        return empty_table(RESULT_COLUMNS)
    results = pd.concat(parts, ignore_index=True)
    small = results["segment_col"].notna() & (
        (results["n"] < min_cell_size) | (results["n_control"] < min_cell_size)
    )
    if small.any():
        notes.append(
            f"{int(small.sum())} segment rows with fewer than {min_cell_size} customers in an "
            "arm are not shown"
        )
    return results[~small].reset_index(drop=True)


def _economics_of(
    data: ExperimentData,
    *,
    control: str,
    margin: float,
    cost_per_contact: float | None,
    clv: pd.DataFrame | None,
    alpha: float,
    notes: list[str],
) -> pd.DataFrame:
    table = data.table
    needed = ["net_revenue", "repurchase"]
    if not all(column in table for column in needed):
        notes.append("campaign economics need the metrics net_revenue and repurchase: not computed")
        return empty_table(ECONOMICS_COLUMNS)
    complete = table[needed].notna().all(axis=1).groupby(table["experiment_id"]).all()
    usable = table[table["experiment_id"].isin(complete[complete].index)]
    if usable.empty:
        return empty_table(ECONOMICS_COLUMNS)
    if "cost" not in usable:
        usable = usable.assign(cost=np.nan)
    economics = campaign_economics(
        usable,
        control=control,
        margin=margin,
        cost_per_contact=cost_per_contact,
        alpha=alpha,
    )
    if clv is None:
        return economics
    covered = usable[usable["customer_id"].isin(clv["customer_id"])]
    if len(covered) < len(usable):
        notes.append(
            f"the CLV lift leaves out {len(usable) - len(covered):,} of {len(usable):,} assigned "
            "customers who have no CLV in 05_clv (no valid purchase by the as-of date)"
        )
    return with_clv_lift(economics, covered, clv, control=control, alpha=alpha)


def _rmst_horizon(table: pd.DataFrame, retention_days: int) -> float:
    """The retention horizon, shortened to the follow-up every arm reaches."""
    reach = table.groupby(["experiment_id", "variant"])["observed_days_total"].max().min()
    return float(min(retention_days, math.floor(reach)))


def analyze_ab(
    data: ExperimentData,
    *,
    control: str = "control",
    alpha: float = 0.05,
    power: float = 0.8,
    srm_alpha: float = 0.001,
    guardrails: Mapping[str, float] | None = None,
    primary_metric: str = "repurchase",
    cost_per_contact: float | None = None,
    margin: float = 0.3,
    clv: pd.DataFrame | None = None,
    min_cell_size: int = 10,
    window_days: int = 30,
    retention_days: int = 90,
    planned_lifts: Sequence[float] = (0.05, 0.10, 0.20),
    currency: str = "EUR",
) -> AbAnalysis:
    """Every check and estimate of 07_ab_test on the experiment table.

    Transforms :class:`ExperimentData` (one row per customer and experiment) into the
    tables of :class:`AbAnalysis`: sample-ratio tests (overall and per segment), covariate
    balance, effects (:func:`crmlib.experiments.analyze_experiment` per experiment on the
    metrics it has, segment rows with fewer than ``min_cell_size`` customers in an arm
    dropped), campaign economics, verdicts, power at the observed sizes, the next test's
    sample sizes and, when time to purchase is known, Kaplan-Meier curves, the RMST
    difference (horizon: ``retention_days``, shortened to the follow-up every arm reaches)
    and the cumulative purchase share over ``window_days``.

    Parameters
    ----------
    data : ExperimentData
        From :func:`experiment_data`.
    control, alpha, power, srm_alpha, guardrails, primary_metric : see ``ab_test`` params
    cost_per_contact : float, optional
        Replaces the assignments' cost column.
    margin : float, default 0.3
        Share of incremental revenue kept as profit.
    clv : pd.DataFrame, optional
        customer_id, clv (05_clv's artifact); the CLV lift net of cost when every assigned
        customer has one.
    min_cell_size : int, default 10
        Smallest arm of a segment row shown.
    window_days, retention_days : int
        Cumulative outcome days and the RMST horizon.
    planned_lifts : sequence of float
        Relative lifts of :func:`sample_size_table`.
    currency : str, default "EUR"
        For the verdicts' words.

    Returns
    -------
    AbAnalysis
        Empty tables (with their columns) when ``data`` has no experiment.
    """
    guardrails = dict(guardrails or {})
    notes: list[str] = []
    if not data.available:
        return AbAnalysis(
            results=empty_table(RESULT_COLUMNS),
            srm=empty_table(SRM_COLUMNS),
            balance=empty_table(BALANCE_COLUMNS),
            economics=empty_table(ECONOMICS_COLUMNS),
            verdicts=empty_table(VERDICT_COLUMNS),
            power=empty_table(POWER_COLUMNS),
            sample_sizes=empty_table(SAMPLE_SIZE_COLUMNS),
            curves=empty_table(CURVE_COLUMNS),
            rmst=empty_table(RMST_COLUMNS),
            cumulative=empty_table(CUMULATIVE_COLUMNS),
            notes=("there is no experiment data, so nothing was analysed",),
        )
    table = data.table
    srm = srm_table(table, segment_cols=list(data.segments), srm_alpha=srm_alpha)
    covariates = sorted(set(data.covariates.values()))
    balance = (
        covariate_balance(table, covariates=covariates, control=control)
        if covariates
        else empty_table(BALANCE_COLUMNS)
    )
    results = _results_of(
        data, control=control, alpha=alpha, min_cell_size=min_cell_size, notes=notes
    )
    economics = _economics_of(
        data,
        control=control,
        margin=margin,
        cost_per_contact=cost_per_contact,
        clv=clv,
        alpha=alpha,
        notes=notes,
    )
    decided = verdicts(
        results,
        srm=srm,
        balance=balance,
        economics=economics,
        guardrails=guardrails,
        primary_metric=primary_metric,
        alpha=alpha,
        currency=currency,
    )
    powers = power_table(table, results, control=control, alpha=alpha, power=power)
    sizes = sample_size_table(
        powers, primary_metric=primary_metric, planned_lifts=planned_lifts, alpha=alpha, power=power
    )
    curves, rmst, cumulative = (
        empty_table(CURVE_COLUMNS),
        empty_table(RMST_COLUMNS),
        empty_table(CUMULATIVE_COLUMNS),
    )
    horizon = math.nan
    if data.has_timing:
        curves = time_to_purchase_curves(table)
        horizon = _rmst_horizon(table, retention_days)
        if horizon >= 1:
            rmst = rmst_difference(table, control=control, horizon_days=horizon, alpha=alpha)
        else:
            notes.append("follow-up is shorter than a day: no restricted mean time to purchase")
        cumulative = cumulative_outcome(table, days=window_days)
    else:
        notes.append(
            "time to first purchase is not in the experiment table: no Kaplan-Meier curves"
        )
    for note in notes:
        log.info("07_ab_test analysis: %s", note)
    return AbAnalysis(
        results=results,
        srm=srm,
        balance=balance,
        economics=economics,
        verdicts=decided,
        power=powers,
        sample_sizes=sizes,
        curves=curves,
        rmst=rmst,
        cumulative=cumulative,
        rmst_horizon_days=horizon,
        notes=tuple(notes),
    )


def ab_checks(data: ExperimentData, analysis: AbAnalysis) -> Checks:
    """Business rules 07_ab_test must satisfy before it saves anything.

    Rows reconcile (export: read = analysed + rejected), one row per customer and
    experiment, every arm size in the results equals the table's, p-values lie in [0, 1],
    one verdict per experiment x variant with results.
    """
    checks = Checks()
    table = data.table
    if data.source == "export":
        checks.expect(
            "export rows reconcile",
            data.rows_read == len(table) + len(data.rejects),
            f"{data.rows_read:,} read = {len(table):,} analysed + {len(data.rejects):,} rejected",
        )
    if not data.available:
        checks.expect("no experiment data", len(analysis.results) == 0, "nothing analysed")
        return checks
    checks.expect(
        "one row per customer and experiment",
        not table.duplicated(["experiment_id", "customer_id"]).any(),
        f"{len(table):,} rows",
    )
    sizes = table.groupby(["experiment_id", "variant"]).size()
    overall = analysis.results[analysis.results["segment_col"].isna()]
    mismatched = [
        f"{row.experiment_id}/{row.variant}/{row.metric}"
        for row in overall.itertuples(index=False)
        if int(row.n) != int(sizes.get((row.experiment_id, row.variant), -1))
    ]
    checks.expect(
        "arm sizes in the results equal the table's",
        not mismatched,
        "; ".join(mismatched[:5]) or f"{len(overall):,} overall rows",
    )
    p_values = analysis.results[["p_value", "p_adjusted"]].to_numpy(np.float64)
    finite = p_values[np.isfinite(p_values)]
    checks.expect(
        "p-values in [0, 1]",
        bool(((finite >= 0) & (finite <= 1)).all()),
        f"{finite.size:,} p-values",
    )
    pairs = overall[["experiment_id", "variant"]].drop_duplicates()
    checks.expect(
        "one verdict per experiment x variant",
        len(analysis.verdicts) == len(pairs),
        f"{len(analysis.verdicts)} verdicts, {len(pairs)} variants",
    )
    return checks


def effects_table(results: pd.DataFrame) -> pd.DataFrame:
    """The overall effects for the report: one row per experiment x variant x metric, as text.

    Differences of binary metrics are in percentage points, relative lifts in percent, both
    with their CI; p-values are Holm-adjusted; ``CUPED variance cut`` is the share of the
    difference's variance CUPED removed ("-" when not applied).

    Examples
    --------
    >>> results = pd.DataFrame({"experiment_id": ["e"], "variant": ["b"], "metric": ["bought"],
    ...     "segment_col": [None], "n": [500], "n_control": [480], "mean": [0.25],
    ...     "control_mean": [0.2], "abs_diff": [0.05], "abs_ci_low": [0.0],
    ...     "abs_ci_high": [0.1], "rel_lift": [0.25], "rel_ci_low": [-0.01],
    ...     "rel_ci_high": [0.51], "p_adjusted": [0.04], "cuped": [False],
    ...     "variance_reduction": [0.0], "metric_kind": ["binary"]})
    >>> effects_table(results).iloc[0]["Difference (95% CI)"]
    '5.0 points (0.0 to 10.0)'
    """
    overall = results[results["segment_col"].isna()]
    rows = []
    for row in overall.itertuples(index=False):
        kind = str(row.metric_kind)
        binary = kind == "binary"
        rows.append(
            {
                "Experiment": row.experiment_id,
                "Variant": row.variant,
                "Metric": row.metric,
                "Customers (variant / control)": f"{int(row.n):,} / {int(row.n_control):,}",
                "Control": f"{100 * row.control_mean:.1f}%"
                if binary
                else f"{row.control_mean:,.2f}",
                "Variant mean": f"{100 * row.mean:.1f}%" if binary else f"{row.mean:,.2f}",
                "Difference (95% CI)": _effect(row.abs_diff, row.abs_ci_low, row.abs_ci_high, kind),
                "Relative lift (95% CI)": (
                    f"{row.rel_lift:+.1%} ({row.rel_ci_low:+.1%} to {row.rel_ci_high:+.1%})"
                    if np.isfinite([row.rel_lift, row.rel_ci_low, row.rel_ci_high]).all()
                    else "n/a"
                ),
                "Adjusted p": _p_value(float(row.p_adjusted)),
                "CUPED variance cut": f"{row.variance_reduction:.1%}" if bool(row.cuped) else "-",
            }
        )
    return _indexed(rows, ["Experiment", "Variant", "Metric"])


def _indexed(rows: list[dict[str, Any]], keys: list[str]) -> pd.DataFrame:
    """The report table of ``rows``, indexed by ``keys`` (empty: no row, no index)."""
    table = pd.DataFrame(rows)
    return table.set_index(keys) if len(table) else table


def economics_table(economics: pd.DataFrame, *, currency: str = "EUR") -> pd.DataFrame:
    """The campaign economics for the report: one row per experiment x variant, money as text.

    Examples
    --------
    >>> economics = pd.DataFrame({"experiment_id": ["e"], "variant": ["b"],
    ...     "incremental_revenue_total": [900.0], "incremental_revenue_total_ci_low": [-100.0],
    ...     "incremental_revenue_total_ci_high": [1900.0], "cost_total": [150.0],
    ...     "net_profit": [120.0], "net_profit_ci_low": [-180.0],
    ...     "net_profit_ci_high": [420.0], "roi": [0.8], "roi_ci_low": [-1.2],
    ...     "roi_ci_high": [2.8], "cost_per_incremental_retained": [np.nan],
    ...     "cost_per_incremental_retained_ci_low": [np.nan],
    ...     "cost_per_incremental_retained_ci_high": [np.nan]})
    >>> economics_table(economics).iloc[0]["Net profit (95% CI)"]
    '€120 (-€180 to €420)'
    """
    rows = []
    for row in economics.itertuples(index=False):
        values = row._asdict()

        def money(column: str, values: dict[str, Any] = values) -> str:
            if not np.isfinite(values.get(column, math.nan)):
                unbounded = column == "cost_per_incremental_retained" and np.isfinite(
                    values.get("incremental_retained", math.nan)
                )
                return "unbounded: the lift's interval reaches 0" if unbounded else "n/a"
            return _money_ci(
                values[column], values[f"{column}_ci_low"], values[f"{column}_ci_high"], currency
            )

        roi = values.get("roi", math.nan)
        rows.append(
            {
                "Experiment": row.experiment_id,
                "Variant": row.variant,
                "Incremental revenue (95% CI)": money("incremental_revenue_total"),
                "Campaign cost": format_money(values["cost_total"], currency)
                if np.isfinite(values["cost_total"])
                else "unknown",
                "Net profit (95% CI)": money("net_profit"),
                "ROI (95% CI)": (
                    f"{roi:.0%} ({values['roi_ci_low']:.0%} to {values['roi_ci_high']:.0%})"
                    if np.isfinite(roi)
                    else "n/a"
                ),
                "Cost per extra retained customer (95% CI)": money("cost_per_incremental_retained"),
                **(
                    {"CLV lift net of cost, per customer (95% CI)": money(CLV_COLUMNS[0])}
                    if CLV_COLUMNS[0] in values
                    else {}
                ),
            }
        )
    return _indexed(rows, ["Experiment", "Variant"])


def survival_table(rmst: pd.DataFrame) -> pd.DataFrame:
    """The restricted mean time to first purchase for the report, one row per arm, as text.

    Reads :func:`crmlib.experiments.rmst_difference`: the mean days without a purchase over
    the horizon per arm, and each variant's difference from control with its CI and p-value
    (negative: the variant's customers bought sooner).

    Examples
    --------
    >>> rmst = pd.DataFrame({"experiment_id": ["e", "e"], "variant": ["control", "b"],
    ...     "horizon_days": [30.0, 30.0], "n": [400, 410], "rmst_days": [21.3, 19.9],
    ...     "rmst_diff_days": [np.nan, -1.4], "ci_low": [np.nan, -2.9],
    ...     "ci_high": [np.nan, 0.1], "p_value": [np.nan, 0.07], "note": ["", ""]})
    >>> survival_table(rmst).loc[("e", "b"), "Difference vs control (95% CI)"]
    '-1.4 days (-2.9 to 0.1)'
    """
    rows = []
    for row in rmst.itertuples(index=False):
        compared = np.isfinite(row.rmst_diff_days)
        rows.append(
            {
                "Experiment": row.experiment_id,
                "Variant": row.variant,
                "Customers": f"{int(row.n):,}",
                "Horizon": f"{row.horizon_days:.0f} days",
                "Mean days without a purchase": (
                    f"{row.rmst_days:.1f}" if np.isfinite(row.rmst_days) else "n/a"
                ),
                "Difference vs control (95% CI)": (
                    f"{row.rmst_diff_days:.1f} days ({row.ci_low:.1f} to {row.ci_high:.1f})"
                    if compared
                    else "-"
                ),
                "p": _p_value(float(row.p_value)) if compared else "-",
                "Note": row.note or "",
            }
        )
    return _indexed(rows, ["Experiment", "Variant"])
