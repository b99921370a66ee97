"""Holdout validation of BTYD models: predicted vs actual purchases per customer, and model choice.

A model fitted on the calibration period predicts each customer's repeat purchases in the
holdout period (E[Y(t) | frequency, recency, T], t = the holdout's length in the model's unit);
the predictions are compared with what customers actually bought, per customer (MAE, RMSE),
by calibration frequency, and in aggregate, as in Fader, Hardie and Lee (2005), section 4.

References
----------
.. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting your customers the easy
   way: an alternative to the Pareto/NBD model." Marketing Science 24(2), 275-284.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from crmlib.clv.models.fitters import transaction_model, unwrap
from crmlib.clv.models.fitting import Eligibility, FittedModel, eligibility, prediction_problem
from crmlib.clv.models.inputs import history, unique_rows
from crmlib.clv.models.registry import KERNELS
from crmlib.errors import DataContractError
from crmlib.privacy import SmallCells

__all__ = [
    "CRITERIA",
    "HOLDOUT_COLUMNS",
    "COMPARISON_COLUMNS",
    "holdout_arrays",
    "holdout_predictions",
    "holdout_metrics",
    "bucket_labels",
    "bucket_codes",
    "errors_by_frequency",
    "merge_small_buckets",
    "comparison_rows",
    "best_model",
    "compare_models",
]

log = logging.getLogger(__name__)

#: Criteria :func:`compare_models` can choose by (log-likelihood: highest wins, others lowest).
CRITERIA: tuple[str, ...] = ("mae", "rmse", "aggregate_error", "log_likelihood")
#: Columns of a calibration/holdout summary that the holdout functions read.
HOLDOUT_COLUMNS: tuple[str, ...] = (
    "frequency_cal", "recency_cal", "T_cal", "frequency_holdout", "duration_holdout",
)  # fmt: skip
_PREDICTION_COLUMNS = ("frequency_cal", "predicted_holdout_purchases", "actual_holdout_purchases")


def _require(table: pd.DataFrame, columns: Sequence[str], table_name: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataContractError(
            f"{table_name}: column '{missing[0]}' is missing; found "
            f"{sorted(map(str, table.columns))}, expected {list(columns)}"
        )


def holdout_arrays(
    calibration_holdout: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    _require(calibration_holdout, HOLDOUT_COLUMNS, "calibration_holdout")
    x, t_x, T = history(calibration_holdout, HOLDOUT_COLUMNS[:3], table_name="calibration_holdout")
    actual = pd.to_numeric(calibration_holdout["frequency_holdout"], errors="coerce").to_numpy(
        dtype="float64"
    )
    duration = pd.to_numeric(calibration_holdout["duration_holdout"], errors="coerce").to_numpy(
        dtype="float64"
    )
    for name, values in (("frequency_holdout", actual), ("duration_holdout", duration)):
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            raise DataContractError(
                f"calibration_holdout: column '{name}' has {int(bad.sum())} missing or "
                "negative values"
            )
    return x, t_x, T, actual, duration


def _predict(model: Any, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, t: np.ndarray) -> Any:
    """(P(alive), E[Y(t) | x, t_x, T]) per customer; E[Y(t) | alive] once per (x, T, t)."""
    kernel = KERNELS[model.kind]
    index, (ux, uT, ut) = unique_rows(x, T, t)
    alive_expected = kernel.alive_expected(model.theta, ut, ux, uT)[index]
    p_alive = np.broadcast_to(kernel.p_alive(model.theta, x, t_x, T), x.shape)
    return p_alive, p_alive * alive_expected


def _customer_id_column(table: pd.DataFrame) -> dict[str, Any]:
    if "customer_id" in table.columns:
        return {"customer_id": table["customer_id"].to_numpy()}
    if table.index.name == "customer_id":
        return {"customer_id": table.index.to_numpy()}
    return {}


def holdout_predictions(
    fitter: Any,
    calibration_holdout: pd.DataFrame,
    *,
    unit: str,
) -> pd.DataFrame:
    """Predicted vs actual repeat purchases in the holdout period, one row per customer.

    Transforms *calibration_holdout* (one row per customer: ``frequency_cal``,
    ``recency_cal``, ``T_cal`` in ``unit``, ``frequency_holdout`` = repeat purchases in the
    holdout, ``duration_holdout`` = holdout length in ``unit``) into one row per customer,
    same order: ``customer_id`` (when a column or the index), ``frequency_cal``,
    ``recency_cal``, ``T_cal``, ``duration_holdout``, ``p_alive`` (at the end of the
    calibration period), ``predicted_holdout_purchases`` (the model's conditional
    expectation over the holdout), ``actual_holdout_purchases`` and ``error`` = predicted -
    actual (purchases).

    Parameters
    ----------
    fitter : BetaGeoFitter, ModifiedBetaGeoFitter or ParetoNBDFitter
        Fitted on the calibration columns, in ``unit``.
    calibration_holdout : pd.DataFrame
        As above (lifetimes' ``calibration_and_holdout_data`` shape).
    unit : str
        The time unit of the recency/T/duration columns (recorded in ``attrs``).
    """
    model = transaction_model(fitter)
    x, t_x, T, actual, duration = holdout_arrays(calibration_holdout)
    p_alive, predicted = _predict(model, x, t_x, T, duration)
    frame = pd.DataFrame(
        {
            **_customer_id_column(calibration_holdout),
            "frequency_cal": x.astype("int64"),
            "recency_cal": t_x,
            "T_cal": T,
            "duration_holdout": duration,
            "p_alive": p_alive,
            "predicted_holdout_purchases": predicted,
            "actual_holdout_purchases": actual,
            "error": predicted - actual,
        }
    )
    frame.attrs = {
        "model": model.label,
        "unit": unit,
        "units": {
            "recency_cal": unit,
            "T_cal": unit,
            "duration_holdout": unit,
            "predicted_holdout_purchases": "repeat purchases in the holdout",
            "actual_holdout_purchases": "repeat purchases in the holdout",
            "error": "purchases (predicted - actual)",
        },
    }
    return frame


def _prediction_arrays(predictions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    _require(predictions, _PREDICTION_COLUMNS, "predictions")
    predicted = predictions["predicted_holdout_purchases"].to_numpy(dtype="float64")
    actual = predictions["actual_holdout_purchases"].to_numpy(dtype="float64")
    bad = ~np.isfinite(predicted)
    if bad.any():
        raise DataContractError(
            f"predictions: {int(bad.sum())} customers have no finite predicted purchases"
        )
    return predicted, actual


def holdout_metrics(predictions: pd.DataFrame) -> dict[str, float]:
    """Per-customer and aggregate accuracy of holdout predictions.

    Takes *predictions* (one row per customer, as from :func:`holdout_predictions`) and
    returns ``n`` (customers), ``mae`` and ``rmse`` (purchases per customer), ``bias`` (mean
    predicted - actual), ``mean_predicted``, ``mean_actual``, ``predicted_total``,
    ``actual_total`` and ``aggregate_error`` = predicted_total / actual_total - 1 (NaN
    without any actual purchase).

    Examples
    --------
    >>> table = pd.DataFrame({"frequency_cal": [0, 1, 2],
    ...                       "predicted_holdout_purchases": [0.5, 1.0, 3.0],
    ...                       "actual_holdout_purchases": [0, 2, 2]})
    >>> {k: round(v, 3) for k, v in holdout_metrics(table).items() if k in ("mae", "rmse")}
    {'mae': 0.833, 'rmse': 0.866}
    """
    predicted, actual = _prediction_arrays(predictions)
    error = predicted - actual
    n = len(error)
    actual_total = float(actual.sum())
    predicted_total = float(predicted.sum())
    return {
        "n": float(n),
        "mae": float(np.abs(error).mean()) if n else math.nan,
        "rmse": float(np.sqrt((error**2).mean())) if n else math.nan,
        "bias": float(error.mean()) if n else math.nan,
        "mean_predicted": float(predicted.mean()) if n else math.nan,
        "mean_actual": float(actual.mean()) if n else math.nan,
        "predicted_total": predicted_total,
        "actual_total": actual_total,
        "aggregate_error": predicted_total / actual_total - 1 if actual_total > 0 else math.nan,
    }


def bucket_labels(buckets: Sequence[int]) -> list[str]:
    labels = []
    for low, high in zip(buckets, [*buckets[1:], None], strict=True):
        if high is None:
            labels.append(f"{low}+")
        elif high == low + 1:
            labels.append(str(low))
        else:
            labels.append(f"{low}\u2013{high - 1}")
    return labels


def _check_bounds(buckets: Sequence[int]) -> list[int]:
    bounds = [int(b) for b in buckets]
    if not bounds or bounds[0] != 0 or any(b <= a for a, b in itertools.pairwise(bounds)):
        raise ValueError(
            f"buckets={tuple(buckets)}: expected increasing lower bounds starting at 0"
        )
    return bounds


def bucket_codes(bounds: Sequence[int], frequency: Any) -> np.ndarray:
    """The bucket (index into ``bounds``, lower bounds) of each frequency."""
    values = np.asarray(frequency, dtype="float64")
    return np.searchsorted(np.asarray(bounds, dtype="float64"), values, side="right") - 1


def merge_small_buckets(frequency: Any, *, buckets: Sequence[int], min_cell_size: int) -> list[int]:
    """Lower bounds of frequency buckets, merged so that none holds 1 to min_cell_size - 1 customers.

    ``frequency`` holds one repeat-purchase count per customer, ``buckets`` the lower bounds of
    the buckets (starting at 0, the last one open). A bucket of fewer than ``min_cell_size``
    customers (:class:`crmlib.privacy.SmallCells`) is merged with the next bucket up (the last
    with the one below), again until no bucket is small or only one is left; an empty bucket
    stays. Neighbours are merged, not pooled into "(other)", so the buckets stay ranges of
    frequency ("3–9") and their customers still add up to all of them.

    Examples
    --------
    >>> frequency = [0] * 40 + [1] * 20 + [2] * 3 + [3] * 12 + [7] * 4
    >>> merge_small_buckets(frequency, buckets=(0, 1, 2, 3, 5), min_cell_size=10)
    [0, 1, 2]
    >>> merge_small_buckets(frequency, buckets=(0, 1, 2, 3, 5), min_cell_size=1)
    [0, 1, 2, 3, 5]
    """
    rule = SmallCells(min_cell_size)
    bounds = _check_bounds(buckets)
    sizes = list(np.bincount(bucket_codes(bounds, frequency), minlength=len(bounds)))
    while len(bounds) > 1:
        small = np.flatnonzero(rule.is_small(np.asarray(sizes)))
        if not small.size:
            break
        low = int(small[0]) if small[0] + 1 < len(bounds) else int(small[0]) - 1
        sizes[low : low + 2] = [sizes[low] + sizes[low + 1]]
        del bounds[low + 1]
    return bounds


def errors_by_frequency(
    predictions: pd.DataFrame,
    *,
    buckets: Sequence[int] = (0, 1, 2, 3, 5, 10),
    min_cell_size: int,
) -> pd.DataFrame:
    """Holdout accuracy by calibration frequency bucket (:func:`crmlib.clv.errors_table`
    is the page's table, as text).

    Transforms *predictions* (one row per customer, as from :func:`holdout_predictions`) into
    one row per bucket of ``frequency_cal`` (``buckets`` are the lower bounds, the last one
    open: "0", "1", "2", "3–4", "5–9", "10+"): ``frequency_bucket``, ``customers``,
    ``mean_predicted``, ``mean_actual`` (purchases per customer), ``predicted_total``,
    ``actual_total``, ``mae``, ``rmse``, ``bias``. The small-cell rule: a bucket of fewer than
    ``min_cell_size`` customers is merged with its neighbour (:func:`merge_small_buckets`:
    "5–9" and "10+" become "5+"), so every row describes at least that many customers; when
    all customers together are fewer, the one row's count reads "<10" and its values are
    missing. Empty buckets are listed with 0 customers; the customers and totals add up to
    :func:`holdout_metrics`'.
    """
    predicted, actual = _prediction_arrays(predictions)
    frequency = predictions["frequency_cal"].to_numpy(dtype="float64")
    bounds = merge_small_buckets(frequency, buckets=buckets, min_cell_size=min_cell_size)
    code = bucket_codes(bounds, frequency)
    error = predicted - actual
    k = len(bounds)
    customers = np.bincount(code, minlength=k)
    predicted_total = np.bincount(code, weights=predicted, minlength=k)
    actual_total = np.bincount(code, weights=actual, minlength=k)
    abs_total = np.bincount(code, weights=np.abs(error), minlength=k)
    square_total = np.bincount(code, weights=error**2, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        size = np.where(customers > 0, customers, np.nan)
        table = pd.DataFrame(
            {
                "frequency_bucket": bucket_labels(bounds),
                "customers": customers.astype("int64"),
                "mean_predicted": predicted_total / size,
                "mean_actual": actual_total / size,
                "predicted_total": predicted_total,
                "actual_total": actual_total,
                "mae": abs_total / size,
                "rmse": np.sqrt(square_total / size),
                "bias": (predicted_total - actual_total) / size,
            }
        )
    rule = SmallCells(min_cell_size)
    if rule.is_small(table["customers"]).any():  # all customers together are fewer than k
        table = rule.hide(table, size="customers")
        table["customers"] = rule.counts(table["customers"])
    return table


def comparison_rows(
    fitters: Mapping[str, Any],
    calibration_holdout: pd.DataFrame,
    *,
    unit: str,
    criterion: str,
    converged: Mapping[str, bool] | None = None,
) -> pd.DataFrame:
    """The rows of :func:`compare_models` (without the choice): one per model, in order.

    Eligibility is 05's rule (:func:`crmlib.clv.eligibility`) for :class:`crmlib.clv.FittedModel`
    wrappers, else the ``converged`` flag; a model that is not eligible is never used to predict
    (its row has the log-likelihood at its stopping point, when finite parameters exist, but no
    holdout errors). An eligible model whose holdout predictions are not finite for some
    customers is excluded too, with the count in ``note``.
    """
    x, t_x, T, _, _ = holdout_arrays(calibration_holdout)
    rows = []
    for name, fitted in fitters.items():
        flag = _converged_flag(name, fitted, converged)
        row: dict[str, Any] = {"model": str(name), "converged": flag, "note": ""}
        fitter = unwrap(fitted)
        if fitter is None or getattr(fitter, "params_", None) is None:
            reason = (
                eligibility(fitted).reason
                if isinstance(fitted, FittedModel)
                else "no fitted parameters"
            )
            row.update(eligible=False, note=f"{reason}: excluded from the choice")
            rows.append(row)
            continue
        model = transaction_model(fitter)
        with np.errstate(all="ignore"):
            log_likelihood = float(KERNELS[model.kind].log_likelihood(model.theta, x, t_x, T).sum())
        row.update(log_likelihood=log_likelihood, n_params=len(model.names),
                   aic=2 * len(model.names) - 2 * log_likelihood)  # fmt: skip
        if model.kind == "empirical":
            row.update(n_params=0, aic=math.nan)
        usable = (
            eligibility(fitted)
            if isinstance(fitted, FittedModel)
            else Eligibility(flag, "eligible" if flag else "did not converge")
        )
        if not flag or not usable.eligible:
            reason = usable.reason if not usable.eligible else "did not converge"
            row.update(eligible=False, note=f"{reason}: excluded from the choice")
            log.warning("model %s is not eligible: %s", name, reason)
            rows.append(row)
            continue
        predictions = holdout_predictions(fitter, calibration_holdout, unit=unit)
        predicted = predictions["predicted_holdout_purchases"].to_numpy(dtype="float64")
        problem = prediction_problem(predicted)
        usable = Eligibility(problem is None, problem or "eligible")
        if not usable.eligible:
            row.update(eligible=False, note=f"{usable.reason}: excluded from the choice")
            log.warning("model %s is not eligible: %s", name, usable.reason)
            rows.append(row)
            continue
        metrics = holdout_metrics(predictions)
        row.update(
            {k: metrics[k] for k in ("mae", "rmse", "predicted_total", "actual_total",
                                     "aggregate_error")},
        )  # fmt: skip
        value = _score(row, criterion)
        # the empirical fallback has no likelihood; it is never compared, only used last
        row["eligible"] = bool(np.isfinite(value)) or model.kind == "empirical"
        if not row["eligible"]:
            row["note"] = f"{criterion} is not finite: excluded from the choice"
        rows.append(row)
    table = pd.DataFrame(rows).reindex(columns=COMPARISON_COLUMNS)
    table["converged"] = table["converged"].astype(bool)
    table["eligible"] = table["eligible"].astype(bool)
    table["chosen"] = False
    return table


#: Columns of :func:`compare_models`' table.
COMPARISON_COLUMNS = [
    "model", "converged", "log_likelihood", "n_params", "aic", "mae", "rmse",
    "predicted_total", "actual_total", "aggregate_error", "eligible", "chosen", "note",
]  # fmt: skip


def best_model(table: pd.DataFrame, criterion: str) -> str:
    """The model with the best ``criterion`` among the rows of ``table`` (ties: the first)."""
    scores = [_score(row, criterion) for row in table.to_dict("records")]
    best = int(np.argmax(scores) if criterion == "log_likelihood" else np.argmin(scores))
    return str(table["model"].iloc[best])


def compare_models(
    fitters: Mapping[str, Any],
    calibration_holdout: pd.DataFrame,
    *,
    unit: str,
    criterion: str = "mae",
    converged: Mapping[str, bool] | None = None,
) -> tuple[pd.DataFrame, str]:
    """Compare transaction models on the holdout and choose one by ``criterion``.

    Takes *fitters* (name -> fitted transaction model, or an object with ``fitter``,
    ``converged`` attributes such as :class:`crmlib.clv.FittedModel`) and
    *calibration_holdout* (one row per customer, as for :func:`holdout_predictions`), and
    returns (table, chosen name). The table has one row per model, in the given order:
    ``model``, ``converged``, ``log_likelihood`` (of the calibration data at the fitted
    parameters, in ``unit``, without penalty: comparable between models fitted on the same
    data), ``n_params``, ``aic``, ``mae``, ``rmse``, ``predicted_total``, ``actual_total``,
    ``aggregate_error`` (relative), ``eligible``, ``chosen`` and ``note``.

    The chosen model has the best ``criterion`` among eligible models: the lowest ``mae``,
    ``rmse`` or absolute ``aggregate_error``, or the highest ``log_likelihood``; ties go to
    the first listed. A model that is not eligible (05's rule, :func:`crmlib.clv.eligibility`:
    it did not converge, or has no finite parameters or log-likelihood, or its holdout
    predictions are not finite) is never chosen and never predicts: its row says why, and a
    warning is logged. :func:`crmlib.clv.choose_model` adds the fallback chain for when
    nothing is eligible.

    Raises
    ------
    ValueError
        Unknown criterion, no model, or no eligible model to choose.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion={criterion!r}: expected one of {CRITERIA}")
    if not fitters:
        raise ValueError("compare_models: no model to compare")
    table = comparison_rows(
        fitters, calibration_holdout, unit=unit, criterion=criterion, converged=converged
    )
    eligible = table[table["eligible"]]
    if eligible.empty:
        raise ValueError(
            "compare_models: no converged model to choose from "
            f"({', '.join(f'{r.model}: {r.note}' for r in table.itertuples())})"
        )
    chosen = best_model(eligible, criterion)
    table["chosen"] = table["model"] == chosen
    table.attrs = {"criterion": criterion, "unit": unit, "chosen": chosen}
    log.info("chose %s by %s among %d eligible models", chosen, criterion, len(eligible))
    return table, chosen


def _converged_flag(name: str, fitted: Any, converged: Mapping[str, bool] | None) -> bool:
    if converged is not None:
        if name not in converged:
            raise ValueError(
                f"converged: no entry for model {name!r}; expected one per model "
                f"{sorted(converged)}"
            )
        return bool(converged[name])
    return bool(getattr(fitted, "converged", True))


def _score(row: Mapping[str, Any], criterion: str) -> float:
    value = float(row.get(criterion, math.nan))
    return abs(value) if criterion == "aggregate_error" else value
