"""07_ab_test's tables for the page: effects, guardrails, economics and survival, as text.

Each table applies the small-cell rule (:mod:`crmlib.privacy`, ``min_cell_size``): an arm of
1..k-1 customers reads ``"<k"`` and every statistic computed on it ``"–"``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd

from crmlib.config import DEFAULTS
from crmlib.experiments.models.money import CLV_COLUMNS
from crmlib.experiments.models.small_cells import small_arms
from crmlib.experiments.models.verdicts import _effect, _money_ci, _p_value, covariate_label
from crmlib.formatting import format_money
from crmlib.privacy import HIDDEN, MIN_CELL_SIZE, SmallCells

__all__ = [
    "effects_table",
    "guardrails_table",
    "economics_table",
    "survival_table",
    "page_table",
]

log = logging.getLogger(__name__)


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


def survival_table(
    rmst: pd.DataFrame,
    *,
    control: str = DEFAULTS.ab_test.control,
    min_cell_size: int = MIN_CELL_SIZE,
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
