"""07_ab_test's entry points: the analysis, its checks, metrics.json["ab_test"] and ab_results.

:func:`analyze_ab` runs every check and estimate of :mod:`crmlib.experiments.models` on the
experiment table of :mod:`crmlib.experiments.queries`; :func:`ab_checks` holds the business
rules; :func:`ab_metrics` and :func:`ab_artifact` shape what the stage saves.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crmlib.checks import Checks, require_columns
from crmlib.config import AbTestParams
from crmlib.experiments.models.effects import RESULT_COLUMNS, analyze_experiment
from crmlib.experiments.models.health import (
    BALANCE_COLUMNS,
    SRM_COLUMNS,
    covariate_balance,
    srm_table,
)
from crmlib.experiments.models.money import ECONOMICS_COLUMNS, campaign_economics, with_clv_lift
from crmlib.experiments.models.power import (
    POWER_COLUMNS,
    SAMPLE_SIZE_COLUMNS,
    power_table,
    sample_size_table,
)
from crmlib.experiments.models.small_cells import experiments_with_small_arms, small_arms
from crmlib.experiments.models.survival import (
    CUMULATIVE_COLUMNS,
    CURVE_COLUMNS,
    RMST_COLUMNS,
    cumulative_outcome,
    rmst_difference,
    time_to_purchase_curves,
)
from crmlib.experiments.models.verdicts import (
    GUARDRAIL_COLUMNS,
    VERDICT_COLUMNS,
    VERDICTS,
    _overall,
    _srm_p_values,
    judge_guardrails,
    verdicts,
)
from crmlib.experiments.queries.data import ExperimentData, empty_table
from crmlib.experiments.queries.outcomes import part_of
from crmlib.experiments.text import _economics_row
from crmlib.io import to_jsonable
from crmlib.keys import is_in
from crmlib.privacy import MIN_CELL_SIZE, SmallCells

__all__ = [
    "SEGMENT_KEY_COLUMNS",
    "AbAnalysis",
    "analyze_ab",
    "ab_checks",
    "ab_metrics",
    "ab_artifact",
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
    covered = usable[is_in(usable["customer_id"], clv["customer_id"])]
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
    settings: AbTestParams,
    currency: str,
    min_cell_size: int,
    clv: pd.DataFrame | None = None,
) -> AbAnalysis:
    """Every check and estimate of 07_ab_test on the experiment table.

    Transforms :class:`ExperimentData` (one row per customer and experiment) into the
    tables of :class:`AbAnalysis`: sample-ratio tests (overall and per segment), covariate
    balance, effects (:func:`crmlib.experiments.analyze_experiment` per experiment on the
    metrics it has; a segment row with an arm of 1..``min_cell_size`` - 1 customers, or
    none, is left out, its keys in ``segments_left_out``), campaign economics, verdicts,
    power at the observed sizes, the next test's sample sizes and, when time to purchase is
    known, Kaplan-Meier curves, the RMST difference (horizon: ``settings.retention_days``,
    shortened to the follow-up every arm reaches) and the cumulative purchase share over
    ``settings.window_days``.

    Parameters
    ----------
    data : ExperimentData
        From :func:`experiment_data`.
    settings : AbTestParams
        The ``ab_test`` section (:class:`crmlib.config.AbTestParams`; ``params.section`` in
        07_ab_test). Keys used:

        - ``control``: the control variant's name;
        - ``alpha``: two-sided level of the intervals and tests; ``power``: the power of the
          minimum detectable effects and the next test's sample sizes; ``srm_alpha``: a
          sample-ratio mismatch is flagged below this p-value;
        - ``guardrails``: metric -> ``{margin, worse}``, judged for non-inferiority and in
          the verdicts; ``primary_metric``: the metric that decides the verdict;
        - ``revenue_metric``, ``retention_metric``: the metrics the money is computed from;
          a name not in the table (or None) leaves the economics (or the cost per retained
          customer) out, said in ``notes``;
        - ``cost_per_contact``: replaces the assignments' cost column (None: the column);
          ``margin``: share of incremental revenue kept as profit;
        - ``window_days``, ``retention_days``: the cumulative outcome's days and the RMST
          horizon;
        - ``planned_lifts``: relative lifts of :func:`sample_size_table`.
    currency : str
        The run's currency (``params.currency``), for the verdicts' words.
    min_cell_size : int
        ``privacy.min_cell_size`` (``params.min_cell_size``): the smallest arm of a segment
        row kept, and the rule the report's tables and words apply (kept in
        :attr:`AbAnalysis.min_cell_size`).
    clv : pd.DataFrame, optional
        customer_id, clv (05_clv's artifact); the CLV lift net of cost when every assigned
        customer has one.

    Returns
    -------
    AbAnalysis
        Empty tables (with their columns) when ``data`` has no experiment.
    """
    control, alpha, power = settings.control, settings.alpha, settings.power
    primary_metric = settings.primary_metric
    guardrails = dict(settings.guardrails)
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
    srm = srm_table(table, segment_cols=list(data.segments), srm_alpha=settings.srm_alpha)
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
        margin=settings.margin,
        cost_per_contact=settings.cost_per_contact,
        clv=clv,
        alpha=alpha,
        revenue_metric=settings.revenue_metric,
        retention_metric=settings.retention_metric,
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
        powers,
        primary_metric=primary_metric,
        planned_lifts=settings.planned_lifts,
        alpha=alpha,
        power=power,
    )
    curves, rmst, cumulative = (
        empty_table(CURVE_COLUMNS),
        empty_table(RMST_COLUMNS),
        empty_table(CUMULATIVE_COLUMNS),
    )
    horizon = math.nan
    if data.has_timing:
        curves = time_to_purchase_curves(table)
        horizon = _rmst_horizon(table, settings.retention_days)
        if horizon >= 1:
            rmst = rmst_difference(table, control=control, horizon_days=horizon, alpha=alpha)
        else:
            notes.append("follow-up is shorter than a day: no restricted mean time to purchase")
        cumulative = cumulative_outcome(table, days=settings.window_days)
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


_RESULTS = "results"


_TEXT_RESULT_COLUMNS = ("experiment_id", "variant", "metric", "segment_col", "segment", "covariate")


_OTHER_RESULT_COLUMNS = ("n", "n_control", "cuped", "metric_kind", "note")


#: The estimates of :data:`RESULT_COLUMNS` (float64 in the artifact).
_FLOAT_RESULT_COLUMNS = tuple(
    column
    for column in RESULT_COLUMNS
    if column not in (*_TEXT_RESULT_COLUMNS, *_OTHER_RESULT_COLUMNS)
)


def ab_metrics(
    results: pd.DataFrame,
    verdicts: pd.DataFrame,
    srm: pd.DataFrame,
    economics: pd.DataFrame,
    *,
    conclusion: str,
    guardrails: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """``metrics.json["ab_test"]``: per experiment the arm sizes, SRM, verdicts, lift and money.

    JSON-able (through :func:`crmlib.io.to_jsonable`; NaN becomes None). ``n`` maps each arm
    to its customers (``"control"`` is the control arm) from the overall rows of ``results``.
    Each variant's ``primary`` carries the CUPED ``covariate`` (None without CUPED) and the
    ``unadjusted`` difference with its CI when ``results`` has them; ``guardrails`` (from
    :func:`crmlib.experiments.judge_guardrails`) adds each guardrail's direction and status.

    Examples
    --------
    >>> results = pd.DataFrame({
    ...     "experiment_id": "winback", "variant": "email", "metric": ["repurchase"],
    ...     "segment_col": None, "n": [500], "n_control": [480], "abs_diff": [0.05],
    ...     "abs_ci_low": [0.01], "abs_ci_high": [0.09],
    ... })
    >>> table = pd.DataFrame({"experiment_id": ["winback"], "variant": ["email"],
    ...     "verdict": ["ship"], "primary_metric": ["repurchase"], "primary_diff": [0.05],
    ...     "primary_ci_low": [0.01], "primary_ci_high": [0.09]})
    >>> srm = pd.DataFrame({"experiment_id": ["winback"], "segment_col": [None],
    ...     "counts": [{"control": 480, "email": 500}], "p_value": [0.55], "srm": [False]})
    >>> economics = pd.DataFrame({"experiment_id": ["winback"], "variant": ["email"],
    ...     "net_profit": [np.nan], "net_profit_ci_low": [np.nan],
    ...     "net_profit_ci_high": [np.nan], "roi": [np.nan]})
    >>> metrics = ab_metrics(results, table, srm, economics, conclusion="Ship it.")
    >>> metrics["experiments"]["winback"]["n"], metrics["experiments"]["winback"]["srm_p_value"]
    ({'control': 480, 'email': 500}, 0.55)
    """
    srm_of = _srm_p_values(srm) if not srm.empty else {}
    overall = _overall(results)
    experiments: dict[str, Any] = {}
    names = sorted({*map(str, verdicts["experiment_id"]), *map(str, overall["experiment_id"])})
    for experiment in names:
        arms = overall[overall["experiment_id"].astype(str) == experiment]
        sizes: dict[str, int] = {}
        if len(arms):
            sizes["control"] = int(arms["n_control"].max())
            for variant, rows in arms.groupby("variant", sort=True):
                sizes[str(variant)] = int(rows["n"].max())
        srm_p, srm_flagged, _ = srm_of.get(experiment, (math.nan, False, ""))
        variants: dict[str, Any] = {}
        for row in verdicts[verdicts["experiment_id"].astype(str) == experiment].itertuples(
            index=False
        ):
            money = _economics_row(economics, experiment, str(row.variant))

            def value(column: str, money: pd.Series | None = money) -> Any:
                return (
                    to_jsonable(money[column])
                    if money is not None and column in money.index
                    else None
                )

            primary: dict[str, Any] = {
                "metric": str(row.primary_metric),
                "diff": to_jsonable(row.primary_diff),
                "ci": [to_jsonable(row.primary_ci_low), to_jsonable(row.primary_ci_high)],
            }
            primary |= _unadjusted(arms, str(row.variant), str(row.primary_metric))
            variants[str(row.variant)] = {
                "verdict": str(row.verdict),
                "primary": primary,
                "guardrails": _guardrail_statuses(guardrails, experiment, str(row.variant)),
                "net_profit": {
                    "value": value("net_profit"),
                    "ci": [value("net_profit_ci_low"), value("net_profit_ci_high")],
                },
                "roi": value("roi"),
            }
        experiments[experiment] = {
            "n": sizes,
            "srm_p_value": to_jsonable(srm_p),
            "srm": bool(srm_flagged),
            "variants": variants,
        }
    counts = verdicts["verdict"].value_counts().to_dict() if len(verdicts) else {}
    return {
        "experiments": experiments,
        "verdicts": {verdict: int(counts.get(verdict, 0)) for verdict in VERDICTS},
        "conclusion": conclusion,
    }


def _unadjusted(arms: pd.DataFrame, variant: str, metric: str) -> dict[str, Any]:
    """The primary metric's CUPED covariate and unadjusted estimate, when the results have them."""
    if not {"cuped", "covariate", "raw_abs_diff"} <= set(arms.columns):
        return {}
    rows = arms[(arms["variant"].astype(str) == variant) & (arms["metric"] == metric)]
    if rows.empty:
        return {}
    row = rows.iloc[0]
    covariate = (
        row["covariate"] if bool(row["cuped"]) and isinstance(row["covariate"], str) else None
    )
    return {
        "covariate": covariate,
        "unadjusted": {
            "diff": to_jsonable(row["raw_abs_diff"]),
            "ci": [to_jsonable(row["raw_abs_ci_low"]), to_jsonable(row["raw_abs_ci_high"])],
        },
    }


def _guardrail_statuses(
    guardrails: pd.DataFrame | None, experiment: str, variant: str
) -> dict[str, Any]:
    if guardrails is None or guardrails.empty:
        return {}
    rows = guardrails[
        (guardrails["experiment_id"].astype(str) == experiment)
        & (guardrails["variant"].astype(str) == variant)
    ]
    return {
        str(row.metric): {
            "worse": str(row.worse),
            "margin": to_jsonable(row.margin),
            "diff": to_jsonable(row.abs_diff),
            "ci": [to_jsonable(row.abs_ci_low), to_jsonable(row.abs_ci_high)],
            "status": str(row.status),
        }
        for row in rows.itertuples(index=False)
    }


def ab_artifact(results: pd.DataFrame) -> pd.DataFrame:
    """The ``ab_results`` artifact: the results table with a stable column order and dtypes.

    One row per experiment x variant x metric (x segment), columns
    :data:`crmlib.experiments.RESULT_COLUMNS`; ids and labels are text (segment_col and
    segment None on overall rows), sizes int64, estimates float64, ``cuped`` bool. Ordered
    by experiment_id, variant, metric, then overall before segment rows; ``covariate`` is the
    CUPED covariate's column (None without CUPED). The table holds
    aggregates only: no customer id.

    Examples
    --------
    >>> results = pd.DataFrame({column: [0.0] for column in RESULT_COLUMNS})
    >>> results = results.assign(experiment_id="e", variant="b", metric="repurchase",
    ...     segment_col=None, segment=None, n=10, n_control=9, cuped=False,
    ...     metric_kind="binary", note="")
    >>> ab_artifact(results).dtypes[["n", "abs_diff", "cuped"]].astype(str).tolist()
    ['int64', 'float64', 'bool']
    """
    require_columns(results, list(RESULT_COLUMNS), table_name=_RESULTS)
    table = results[list(RESULT_COLUMNS)].copy()
    for column in ("experiment_id", "variant", "metric", "metric_kind"):
        table[column] = table[column].astype(str)
    table["note"] = table["note"].fillna("").astype(str)
    for column in ("segment_col", "segment", "covariate"):
        table[column] = pd.Series(
            [None if pd.isna(value) else str(value) for value in table[column]],
            index=table.index,
            dtype=object,
        )
    table = table.astype(
        {"n": "int64", "n_control": "int64", "cuped": "bool"}
        | dict.fromkeys(_FLOAT_RESULT_COLUMNS, "float64")
    )
    table = table.sort_values(
        ["experiment_id", "variant", "metric", "segment_col", "segment"],
        na_position="first",
        kind="stable",
        ignore_index=True,
    )
    table.attrs["units"] = {
        "abs_diff": "metric units (share for binary metrics)",
        "rel_lift": "fraction of the control mean",
    }
    return table
