"""07_ab_test's outputs: metrics.json["ab_test"], the ab_results artifact, the cumulative outcome."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd

from crmlib.checks import require_columns
from crmlib.experiments._analyze import RESULT_COLUMNS
from crmlib.experiments._report import (
    VERDICTS,
    _economics_row,
    _overall,
    _srm_p_values,
)
from crmlib.io import to_jsonable

__all__ = ["CUMULATIVE_COLUMNS", "ab_metrics", "ab_artifact", "cumulative_outcome"]

log = logging.getLogger(__name__)

#: Columns of :func:`cumulative_outcome`, in order.
CUMULATIVE_COLUMNS: tuple[str, ...] = (
    "experiment_id",
    "variant",
    "day",
    "customers",
    "purchasers",
    "share",
)

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


def cumulative_outcome(
    outcomes: pd.DataFrame, *, metric: str = "repurchase", days: int = 30
) -> pd.DataFrame:
    """Share of customers with a first purchase by each day since assignment, per arm.

    Transforms the outcome table of :func:`crmlib.experiments.experiment_outcomes` (one row
    per customer and experiment, with days_to_purchase and observed_days_total) into one row
    per experiment x variant x day 0..``days``: ``customers`` observed for at least that
    many days (``observed_days_total >= day``; the others are left out of that day's
    denominator, not counted as non-buyers), ``purchasers`` among them whose first purchase
    came by that day (``days_to_purchase <= day``) and ``share = purchasers / customers``
    (NaN without customers). This is the empirical curve, not a Kaplan-Meier estimate
    (:func:`crmlib.experiments.time_to_purchase_curves`).

    Parameters
    ----------
    outcomes : pd.DataFrame
        One row per customer and experiment with experiment_id, variant, days_to_purchase
        (NaN without a purchase) and observed_days_total.
    metric : str, default "repurchase"
        The outcome accumulated; only ``"repurchase"`` (a first purchase) is defined by day.
    days : int, default 30
        The last day shown.

    Returns
    -------
    pd.DataFrame
        :data:`CUMULATIVE_COLUMNS`, ordered by experiment_id, variant, day.

    Examples
    --------
    >>> outcomes = pd.DataFrame({
    ...     "experiment_id": "e", "variant": ["control", "control", "email", "email"],
    ...     "days_to_purchase": [np.nan, 2.5, 1.0, np.nan],
    ...     "observed_days_total": [5.0, 5.0, 5.0, 1.5],
    ... })
    >>> cumulative_outcome(outcomes, days=3).query("variant == 'email'")["share"].tolist()
    [0.0, 0.5, 1.0, 1.0]
    """
    if metric != "repurchase":
        raise ValueError(
            f"metric='{metric}': only 'repurchase' (the first purchase, from days_to_purchase) "
            "accumulates by day"
        )
    if days < 0:
        raise ValueError(f"days={days}: expected a non-negative number of days")
    require_columns(
        outcomes,
        ["experiment_id", "variant", "days_to_purchase", "observed_days_total"],
        table_name="experiment outcomes",
    )
    keys = pd.MultiIndex.from_arrays(
        [outcomes["experiment_id"].astype(str), outcomes["variant"].astype(str)]
    )
    codes, groups = pd.factorize(keys, sort=True)
    width = days + 2
    observed = outcomes["observed_days_total"].to_numpy(np.float64)
    purchase = outcomes["days_to_purchase"].to_numpy(np.float64)
    seen = np.isfinite(observed) & (observed >= 0)
    # Customer counted on the days 0..floor(observed) (capped at days); purchaser from
    # ceil(days_to_purchase) on. Difference arrays: +1 where an interval starts, -1 after it ends.
    last = np.minimum(np.floor(np.where(seen, observed, -1.0)), days).astype(np.int64)
    first = np.ceil(np.where(np.isfinite(purchase), np.maximum(purchase, 0.0), days + 1.0))
    first = np.minimum(first, days + 1).astype(np.int64)
    customers = np.zeros((len(groups), width), dtype=np.int64)
    buyers = np.zeros((len(groups), width), dtype=np.int64)
    counted = seen & (last >= 0)
    np.add.at(customers, (codes[counted], 0), 1)
    np.add.at(customers, (codes[counted], last[counted] + 1), -1)
    bought = counted & (first <= last)
    np.add.at(buyers, (codes[bought], first[bought]), 1)
    np.add.at(buyers, (codes[bought], last[bought] + 1), -1)
    customers = customers.cumsum(axis=1)[:, : days + 1]
    buyers = buyers.cumsum(axis=1)[:, : days + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(customers > 0, buyers / customers, np.nan)
    n_groups = len(groups)
    table = pd.DataFrame(
        {
            "experiment_id": np.repeat(groups.get_level_values(0).to_numpy(), days + 1),
            "variant": np.repeat(groups.get_level_values(1).to_numpy(), days + 1),
            "day": np.tile(np.arange(days + 1, dtype=np.int64), n_groups),
            "customers": customers.ravel(),
            "purchasers": buyers.ravel(),
            "share": share.ravel().astype(np.float64),
        }
    )
    return table[list(CUMULATIVE_COLUMNS)]
