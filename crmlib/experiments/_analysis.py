"""07_ab_test's analysis: every check and estimate on the experiment table, and its checks."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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
from crmlib.experiments._report import (
    GUARDRAIL_COLUMNS,
    VERDICT_COLUMNS,
    _effect,
    _money_ci,
    _p_value,
    _sentence,
    covariate_label,
    judge_guardrails,
    verdicts,
)
from crmlib.experiments._small import experiments_with_small_arms, part_of, small_arms
from crmlib.experiments._survival import (
    CURVE_COLUMNS,
    RMST_COLUMNS,
    rmst_difference,
    time_to_purchase_curves,
)
from crmlib.plotting import format_money
from crmlib.privacy import HIDDEN, MIN_CELL_SIZE, SmallCells

__all__ = [
    "SEGMENT_KEY_COLUMNS",
    "AbAnalysis",
    "analyze_ab",
    "ab_checks",
    "effects_table",
    "guardrails_table",
    "economics_table",
    "describe_money",
    "page_table",
    "survival_table",
]

log = logging.getLogger(__name__)

#: Columns of :attr:`AbAnalysis.segments_left_out`: the keys of a segment row of the results.
SEGMENT_KEY_COLUMNS: tuple[str, ...] = (
    "experiment_id", "variant", "metric", "segment_col", "segment",
)  # fmt: skip


@dataclass(frozen=True)
class AbAnalysis:
    """Every table 07_ab_test shows; each is empty (with its columns) when it cannot be computed.

    ``min_cell_size`` is the run's small-cell rule (``privacy.min_cell_size``);
    ``segments_left_out`` holds the keys (:data:`SEGMENT_KEY_COLUMNS`) of the segment rows
    left out of ``results`` because an arm had fewer than ``min_cell_size`` customers (or
    none), for the segment chart to say so.
    """

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
    guardrails: pd.DataFrame = field(default_factory=lambda: empty_table(GUARDRAIL_COLUMNS))
    money_notes: tuple[str, ...] = ()  # the notes about the money (also in ``notes``)
    min_cell_size: int = MIN_CELL_SIZE
    segments_left_out: pd.DataFrame = field(
        default_factory=lambda: empty_table(SEGMENT_KEY_COLUMNS)
    )


def _results_of(
    data: ExperimentData, *, control: str, alpha: float, rule: SmallCells, notes: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """analyze_experiment per experiment on its own metrics, and the segment rows left out.

    A segment row whose variant or control arm holds 1..k-1 customers (the small-cell rule)
    or none (nothing to estimate) is left out of the results and of ``ab_results``; their
    keys are returned, and ``notes`` says how many.
    """
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
        return empty_table(RESULT_COLUMNS), empty_table(SEGMENT_KEY_COLUMNS)
    results = pd.concat(parts, ignore_index=True)
    empty_arm = (results["n"] == 0) | (results["n_control"] == 0)
    left_out = results["segment_col"].notna() & (small_arms(results, rule) | empty_arm)
    if left_out.any():
        notes.append(
            f"{int(left_out.sum()):,} segment rows with fewer than {rule.min_cell_size:,} "
            "customers in an arm are not shown"
        )
    keys = results.loc[left_out, list(SEGMENT_KEY_COLUMNS)].reset_index(drop=True)
    return results[~left_out].reset_index(drop=True), keys


def _retention_of(
    usable: pd.DataFrame, retention_metric: str | None, notes: list[str], rule: SmallCells
) -> str | None:
    """The retention column campaign_economics can count, or None (said in ``notes``)."""
    if retention_metric is None:
        notes.append(
            "no retention metric (ab_test.retention_metric is null): the cost per extra "
            "retained customer is not computed"
        )
        return None
    if retention_metric not in usable:
        notes.append(
            f"the retention metric '{retention_metric}' (ab_test.retention_metric) is not among "
            "the metrics analysed: the cost per extra retained customer is not computed"
        )
        return None
    values = usable[retention_metric]
    if values.isna().any():
        notes.append(
            f"the retention metric '{retention_metric}' has no value for "
            f"{rule.phrase(int(values.isna().sum()))}: the cost per extra retained customer is "
            "not computed"
        )
        return None
    if not values.isin([0.0, 1.0]).all():
        notes.append(
            f"the retention metric '{retention_metric}' (ab_test.retention_metric) is not a "
            "yes/no metric: the cost per extra retained customer is not computed"
        )
        return None
    return retention_metric


def _economics_of(
    data: ExperimentData,
    *,
    control: str,
    margin: float,
    cost_per_contact: float | None,
    clv: pd.DataFrame | None,
    alpha: float,
    revenue_metric: str | None,
    retention_metric: str | None,
    notes: list[str],
    rule: SmallCells,
) -> pd.DataFrame:
    table = data.table
    if revenue_metric is None:
        notes.append(
            "no revenue metric (ab_test.revenue_metric is null): incremental revenue, profit "
            "and ROI are not computed"
        )
        return empty_table(ECONOMICS_COLUMNS)
    if revenue_metric not in table:
        notes.append(
            f"the campaign economics need the revenue metric '{revenue_metric}' "
            "(ab_test.revenue_metric), which is not among the metrics analysed: incremental "
            "revenue, profit and ROI are not computed; set ab_test.revenue_metric to the "
            "metric holding each customer's revenue, or null"
        )
        return empty_table(ECONOMICS_COLUMNS)
    complete = table[revenue_metric].notna().groupby(table["experiment_id"]).all()
    usable = table[table["experiment_id"].isin(complete[complete].index)]
    if usable.empty:
        notes.append(
            f"the revenue metric '{revenue_metric}' has missing values in every experiment: "
            "no campaign economics"
        )
        return empty_table(ECONOMICS_COLUMNS)
    if "cost" not in usable:
        usable = usable.assign(cost=np.nan)
    economics = campaign_economics(
        usable,
        control=control,
        margin=margin,
        cost_per_contact=cost_per_contact,
        alpha=alpha,
        revenue_col=revenue_metric,
        retention_col=_retention_of(usable, retention_metric, notes, rule),
    )
    if clv is None:
        return economics
    covered = usable[usable["customer_id"].isin(clv["customer_id"])]
    if len(covered) < len(usable):
        left_out = part_of(
            len(usable) - len(covered),
            len(usable),
            rule,
            noun="assigned customer",
            whole_shown=not experiments_with_small_arms(usable, rule),
        )
        notes.append(
            f"the CLV lift leaves out {left_out} who have no CLV in 05_clv (no valid purchase "
            "by the as-of date)"
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
    guardrails: Mapping[str, Any] | None = None,
    primary_metric: str = "repurchase",
    revenue_metric: str | None = "net_revenue",
    retention_metric: str | None = "repurchase",
    cost_per_contact: float | None = None,
    margin: float = 0.3,
    clv: pd.DataFrame | None = None,
    min_cell_size: int = MIN_CELL_SIZE,
    window_days: int = 30,
    retention_days: int = 90,
    planned_lifts: Sequence[float] = (0.05, 0.10, 0.20),
    currency: str,
) -> AbAnalysis:
    """Every check and estimate of 07_ab_test on the experiment table.

    Transforms :class:`ExperimentData` (one row per customer and experiment) into the
    tables of :class:`AbAnalysis`: sample-ratio tests (overall and per segment), covariate
    balance, effects (:func:`crmlib.experiments.analyze_experiment` per experiment on the
    metrics it has; a segment row with an arm of 1..``min_cell_size`` - 1 customers, or
    none, is left out, its keys in ``segments_left_out``), campaign economics, verdicts, power at the observed sizes, the next test's
    sample sizes and, when time to purchase is known, Kaplan-Meier curves, the RMST
    difference (horizon: ``retention_days``, shortened to the follow-up every arm reaches)
    and the cumulative purchase share over ``window_days``.

    Parameters
    ----------
    data : ExperimentData
        From :func:`experiment_data`.
    control, alpha, power, srm_alpha, guardrails, primary_metric : see ``ab_test`` params
    revenue_metric, retention_metric : str or None
        The metrics the money is computed from (``ab_test.revenue_metric``,
        ``ab_test.retention_metric``); a name not in the table (or None) leaves the
        economics (or the cost per retained customer) out, said in ``notes``.
    cost_per_contact : float, optional
        Replaces the assignments' cost column.
    margin : float, default 0.3
        Share of incremental revenue kept as profit.
    clv : pd.DataFrame, optional
        customer_id, clv (05_clv's artifact); the CLV lift net of cost when every assigned
        customer has one.
    min_cell_size : int, default MIN_CELL_SIZE
        ``privacy.min_cell_size``: the smallest arm of a segment row kept, and the rule the
        report's tables and words apply (kept in :attr:`AbAnalysis.min_cell_size`).
    window_days, retention_days : int
        Cumulative outcome days and the RMST horizon.
    planned_lifts : sequence of float
        Relative lifts of :func:`sample_size_table`.
    currency : str
        The run's currency (``params.currency``), for the verdicts' words.

    Returns
    -------
    AbAnalysis
        Empty tables (with their columns) when ``data`` has no experiment.
    """
    guardrails = dict(guardrails or {})
    rule = SmallCells(min_cell_size)
    notes: list[str] = []
    money_notes: list[str] = []
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
            min_cell_size=min_cell_size,
        )
    table = data.table
    srm = srm_table(table, segment_cols=list(data.segments), srm_alpha=srm_alpha)
    covariates = sorted(set(data.covariates.values()))
    balance = (
        covariate_balance(table, covariates=covariates, control=control)
        if covariates
        else empty_table(BALANCE_COLUMNS)
    )
    results, left_out = _results_of(data, control=control, alpha=alpha, rule=rule, notes=notes)
    economics = _economics_of(
        data,
        control=control,
        margin=margin,
        cost_per_contact=cost_per_contact,
        clv=clv,
        alpha=alpha,
        revenue_metric=revenue_metric,
        retention_metric=retention_metric,
        notes=money_notes,
        rule=rule,
    )
    judged = judge_guardrails(results, guardrails)
    decided = verdicts(
        results,
        srm=srm,
        balance=balance,
        economics=economics,
        guardrails=guardrails,
        primary_metric=primary_metric,
        alpha=alpha,
        currency=currency,
        min_cell_size=min_cell_size,
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
    for note in [*notes, *money_notes]:
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
        notes=tuple([*notes, *money_notes]),
        guardrails=judged,
        money_notes=tuple(money_notes),
        min_cell_size=min_cell_size,
        segments_left_out=left_out,
    )


_UNCOUNTED = "rows not counted here: an arm is too small to describe"


def ab_checks(data: ExperimentData, analysis: AbAnalysis) -> Checks:
    """Business rules 07_ab_test must satisfy before it saves anything.

    Rows reconcile (export: read = analysed + rejected), one row per customer and
    experiment, every arm size in the results equals the table's, p-values lie in [0, 1],
    one verdict per experiment x variant with results. The details give no row count when an
    experiment has an arm of fewer than ``analysis.min_cell_size`` customers (with the arms'
    counts on the page, the total would reveal it).
    """
    checks = Checks()
    table = data.table
    counted = not experiments_with_small_arms(table, SmallCells(analysis.min_cell_size))
    if data.source == "export":
        checks.expect(
            "export rows reconcile",
            data.rows_read == len(table) + len(data.rejects),
            f"{data.rows_read:,} read = {len(table):,} analysed + {len(data.rejects):,} rejected"
            if counted
            else _UNCOUNTED,
        )
    if not data.available:
        checks.expect("no experiment data", len(analysis.results) == 0, "nothing analysed")
        return checks
    checks.expect(
        "one row per customer and experiment",
        not table.duplicated(["experiment_id", "customer_id"]).any(),
        f"{len(table):,} rows" if counted else _UNCOUNTED,
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


def _not_reported(min_cell_size: int) -> str:
    """The words of a table cell whose comparison has an arm too small to describe."""
    return f"not reported: an arm has fewer than {min_cell_size:,} customers"


def effects_table(results: pd.DataFrame, *, min_cell_size: int = MIN_CELL_SIZE) -> pd.DataFrame:
    """The overall effects for the report: one row per experiment x variant x metric, as text.

    Means are the arms' observed means. Differences of binary metrics are in percentage
    points, relative lifts in percent, both with their CI; a CUPED row names its covariate
    and its variance cut, and its unadjusted difference stands beside the adjusted one;
    p-values are Holm-adjusted. The small-cell rule (``min_cell_size``): an arm of 1..k-1
    customers reads ``"<k"`` in "Customers (variant / control)" and every mean, difference,
    lift and p-value of its row reads ``"–"`` (an arm cannot be pooled with another).

    Examples
    --------
    >>> results = pd.DataFrame({"experiment_id": ["e"], "variant": ["b"], "metric": ["bought"],
    ...     "segment_col": [None], "n": [500], "n_control": [480], "mean": [0.25],
    ...     "control_mean": [0.2], "abs_diff": [0.05], "abs_ci_low": [0.0],
    ...     "abs_ci_high": [0.1], "rel_lift": [0.25], "rel_ci_low": [-0.01],
    ...     "rel_ci_high": [0.51], "p_adjusted": [0.04], "cuped": [True],
    ...     "covariate": ["pre_orders"], "variance_reduction": [0.12],
    ...     "raw_mean": [0.26], "raw_control_mean": [0.2], "raw_abs_diff": [0.06],
    ...     "raw_abs_ci_low": [0.0], "raw_abs_ci_high": [0.12], "metric_kind": ["binary"]})
    >>> row = effects_table(results).iloc[0]
    >>> row["Difference (95% CI)"], row["Adjusted for (CUPED)"], row["Unadjusted difference (95% CI)"]
    ('5.0 points (0.0 to 10.0)', 'pre-period orders (variance cut 12.0%)', '6.0 points (0.0 to 12.0)')
    >>> row = effects_table(results.assign(n=6)).iloc[0]
    >>> row["Customers (variant / control)"], row["Control"], row["Difference (95% CI)"]
    ('<10 / 480', '–', '–')
    """
    rule = SmallCells(min_cell_size)
    overall = results[results["segment_col"].isna()]
    small = small_arms(overall, rule)
    keys = ("Experiment", "Variant", "Metric", "Customers (variant / control)")
    rows = []
    for row, too_small in zip(overall.itertuples(index=False), small, strict=True):
        values = row._asdict()
        kind = str(row.metric_kind)
        binary = kind == "binary"
        cuped = bool(values.get("cuped", False)) and isinstance(values.get("covariate"), str)
        control_mean = float(values.get("raw_control_mean", row.control_mean))
        mean = float(values.get("raw_mean", row.mean))
        rows.append(
            {
                "Experiment": row.experiment_id,
                "Variant": row.variant,
                "Metric": row.metric,
                "Customers (variant / control)": f"{rule.count(int(row.n))} / "
                f"{rule.count(int(row.n_control))}",
                "Control": f"{100 * control_mean:.1f}%" if binary else f"{control_mean:,.2f}",
                "Variant mean": f"{100 * mean:.1f}%" if binary else f"{mean:,.2f}",
                "Difference (95% CI)": _effect(row.abs_diff, row.abs_ci_low, row.abs_ci_high, kind),
                "Adjusted for (CUPED)": (
                    f"{covariate_label(str(values['covariate']))} "
                    f"(variance cut {float(values['variance_reduction']):.1%})"
                    if cuped
                    else "-"
                ),
                "Unadjusted difference (95% CI)": (
                    _effect(
                        values["raw_abs_diff"],
                        values["raw_abs_ci_low"],
                        values["raw_abs_ci_high"],
                        kind,
                    )
                    if cuped
                    else "same (not adjusted)"
                ),
                "Relative lift (95% CI)": (
                    f"{row.rel_lift:+.1%} ({row.rel_ci_low:+.1%} to {row.rel_ci_high:+.1%})"
                    if np.isfinite([row.rel_lift, row.rel_ci_low, row.rel_ci_high]).all()
                    else "n/a"
                ),
                "Holm-adjusted p": _p_value(float(row.p_adjusted)),
            }
        )
        if too_small:
            rows[-1] = {key: value if key in keys else HIDDEN for key, value in rows[-1].items()}
    return _indexed(rows, ["Experiment", "Variant", "Metric"])


def guardrails_table(
    guardrails: pd.DataFrame, *, min_cell_size: int = MIN_CELL_SIZE
) -> pd.DataFrame:
    """The guardrails for the report: one row per experiment x variant x guardrail, as text.

    Reads :func:`crmlib.experiments.judge_guardrails`: which direction is bad, the tolerated
    worsening, the difference with its CI and the status ("not measured" when the metric had
    no result). A variant whose arm or control arm holds 1..``min_cell_size`` - 1 customers
    has its difference ``"–"`` and its status "not reported" (the small-cell rule).

    Examples
    --------
    >>> judged = pd.DataFrame({"experiment_id": ["e"], "variant": ["b"], "metric": ["retained"],
    ...     "n": [400], "n_control": [410], "worse": ["lower"], "margin": [0.01],
    ...     "metric_kind": ["binary"], "abs_diff": [-0.04], "abs_ci_low": [-0.06],
    ...     "abs_ci_high": [-0.02], "status": ["inferior"], "words": [""]})
    >>> guardrails_table(judged).iloc[0].tolist()
    ['a fall', '1.0 points', '-4.0 points (-6.0 to -2.0)', 'inferior: worse beyond the tolerance']
    >>> guardrails_table(judged.assign(n=7)).iloc[0].tolist()[2:]
    ['–', 'not reported: an arm has fewer than 10 customers']
    """
    statuses = {
        "non-inferior": "non-inferior: within the tolerance",
        "inferior": "inferior: worse beyond the tolerance",
        "inconclusive": "inconclusive: may be worse beyond the tolerance",
    }
    small = small_arms(guardrails, SmallCells(min_cell_size))
    rows = []
    for row, too_small in zip(guardrails.itertuples(index=False), small, strict=True):
        kind = str(row.metric_kind)
        measured = bool(np.isfinite(float(row.abs_diff)))
        rows.append(
            {
                "Experiment": row.experiment_id,
                "Variant": row.variant,
                "Guardrail": row.metric,
                "Bad news is": "a rise" if row.worse == "higher" else "a fall",
                "Tolerated worsening": (
                    f"{100 * float(row.margin):.1f} points"
                    if kind == "binary"
                    else f"{float(row.margin):g}"
                ),
                "Difference (95% CI)": (
                    _effect(
                        float(row.abs_diff), float(row.abs_ci_low), float(row.abs_ci_high), kind
                    )
                    if measured
                    else "not measured"
                ),
                "Status": statuses.get(str(row.status), str(row.status))
                if measured
                else "not measured: no result for this metric",
            }
        )
        if too_small:
            rows[-1] |= {"Difference (95% CI)": HIDDEN, "Status": _not_reported(min_cell_size)}
    return _indexed(rows, ["Experiment", "Variant", "Guardrail"])


def _indexed(rows: list[dict[str, Any]], keys: list[str]) -> pd.DataFrame:
    """The report table of ``rows``, indexed by ``keys`` (empty: no row, no index)."""
    table = pd.DataFrame(rows)
    return table.set_index(keys) if len(table) else table


def economics_table(
    economics: pd.DataFrame, *, currency: str, min_cell_size: int = MIN_CELL_SIZE
) -> pd.DataFrame:
    """The campaign economics for the report: one row per experiment x variant, money as text.

    A variant whose arm or control arm holds 1..``min_cell_size`` - 1 customers has every
    amount ``"–"``, its campaign cost included (cost per contact x customers would reveal
    the arm's size).

    Examples
    --------
    >>> economics = pd.DataFrame({"experiment_id": ["e"], "variant": ["b"], "n": [500],
    ...     "n_control": [480], "incremental_revenue_total": [900.0], "incremental_revenue_total_ci_low": [-100.0],
    ...     "incremental_revenue_total_ci_high": [1900.0], "cost_total": [150.0],
    ...     "net_profit": [120.0], "net_profit_ci_low": [-180.0],
    ...     "net_profit_ci_high": [420.0], "roi": [0.8], "roi_ci_low": [-1.2],
    ...     "roi_ci_high": [2.8], "cost_per_incremental_retained": [np.nan],
    ...     "cost_per_incremental_retained_ci_low": [np.nan],
    ...     "cost_per_incremental_retained_ci_high": [np.nan]})
    >>> economics_table(economics, currency="EUR").iloc[0]["Net profit (95% CI)"]
    '€120 (-€180 to €420)'
    >>> economics_table(economics.assign(n_control=4), currency="EUR").iloc[0].tolist()[:2]
    ['–', '–']
    """
    small = small_arms(economics, SmallCells(min_cell_size))
    rows = []
    for row, too_small in zip(economics.itertuples(index=False), small, strict=True):
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
        if too_small:
            keys = ("Experiment", "Variant")
            rows[-1] = {key: value if key in keys else HIDDEN for key, value in rows[-1].items()}
    return _indexed(rows, ["Experiment", "Variant"])


def page_table(table: pd.DataFrame) -> pd.DataFrame | None:
    """``table`` for a page, or None (nothing shown) when it has no row.

    A section whose table is empty says why in its words (:func:`describe_money`, the
    charts' own messages); an empty grid would add nothing but a stray frame.

    Examples
    --------
    >>> page_table(pd.DataFrame()) is None
    True
    """
    return table if len(table) else None


def describe_money(economics: pd.DataFrame, money_notes: Sequence[str]) -> str:
    """Markdown: why the money is missing or partial (empty when there is nothing to say).

    Examples
    --------
    >>> print(describe_money(pd.DataFrame(), ["no revenue metric (ab_test.revenue_metric is "
    ...     "null): incremental revenue, profit and ROI are not computed"]))
    **No campaign economics.** No revenue metric (ab_test.revenue_metric is null): incremental revenue, profit and ROI are not computed.
    """
    sentences = " ".join(_sentence(note) for note in money_notes)
    if economics.empty:
        return f"**No campaign economics.** {sentences}".strip()
    return sentences


def survival_table(
    rmst: pd.DataFrame, *, control: str = "control", min_cell_size: int = MIN_CELL_SIZE
) -> pd.DataFrame:
    """The restricted mean time to first purchase for the report, one row per arm, as text.

    Reads :func:`crmlib.experiments.rmst_difference`: the mean days without a purchase over
    the horizon per arm, and each variant's difference from ``control`` with its CI and
    p-value (negative: the variant's customers bought sooner). An arm of 1..``min_cell_size``
    - 1 customers reads ``"<k"`` and its mean ``"–"``; a comparison with such an arm (either
    side) has its difference and p-value ``"–"``.

    Examples
    --------
    >>> rmst = pd.DataFrame({"experiment_id": ["e", "e"], "variant": ["control", "b"],
    ...     "horizon_days": [30.0, 30.0], "n": [400, 410], "rmst_days": [21.3, 19.9],
    ...     "rmst_diff_days": [np.nan, -1.4], "ci_low": [np.nan, -2.9],
    ...     "ci_high": [np.nan, 0.1], "p_value": [np.nan, 0.07], "note": ["", ""]})
    >>> survival_table(rmst).loc[("e", "b"), "Difference vs control (95% CI)"]
    '-1.4 days (-2.9 to 0.1)'
    >>> survival_table(rmst.assign(n=[400, 6])).loc[("e", "b")].tolist()[:3]
    ['<10', '30 days', '–']
    """
    rule = SmallCells(min_cell_size)
    controls = rmst[rmst["variant"].astype(str) == control]
    control_n = dict(zip(controls["experiment_id"].astype(str), controls["n"], strict=True))
    own_small = rule.is_small(rmst["n"].to_numpy())
    control_small = rule.is_small(
        rmst["experiment_id"].astype(str).map(control_n).fillna(0).to_numpy()
    )
    rows = []
    for row, small, against_small in zip(
        rmst.itertuples(index=False), own_small, control_small, strict=True
    ):
        compared = np.isfinite(row.rmst_diff_days)
        rows.append(
            {
                "Experiment": row.experiment_id,
                "Variant": row.variant,
                "Customers": rule.count(int(row.n)),
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
        if small:
            rows[-1] |= {
                "Mean days without a purchase": HIDDEN,
                "Note": _not_reported(min_cell_size),
            }
        if small or (against_small and str(row.variant) != control):
            rows[-1] |= {"Difference vs control (95% CI)": HIDDEN, "p": HIDDEN}
        if against_small and not small and str(row.variant) != control:
            rows[-1]["Note"] = _not_reported(min_cell_size)
    return _indexed(rows, ["Experiment", "Variant"])
