"""05_clv's tables as the page shows them: the fitted models, the holdout comparison, the
holdout errors, CLV by group.

Each function takes what the notebook has at hand, computes the table with the numeric
function of the same subject (:func:`crmlib.clv.models.fitting.parameter_table`,
:func:`crmlib.clv.validation.errors_by_frequency`, :func:`crmlib.clv.value.clv_by_group`,
which tests and analysts use) and hands it to :func:`crmlib.formatting.present`: readable
headers with units, the label as the index, numbers formatted, customer counts under the
small-cell rule. :func:`comparison_table` formats :func:`crmlib.clv.choose_model`'s holdout
comparison.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from crmlib.clv.choice import ModelChoice
from crmlib.clv.models.base import MODEL_LABELS, UNIT_WORDS
from crmlib.clv.models.fitting import FittedModel, parameter_table
from crmlib.clv.validation import errors_by_frequency
from crmlib.clv.value import clv_by_group
from crmlib.formatting import Column, present

__all__ = ["fits_table", "comparison_table", "errors_table", "group_table"]

#: The header of each split of CLV (the index of :func:`group_table`).
_GROUP_HEADERS: dict[str, str] = {
    "segment": "RFM segment",
    "cohort": "Acquisition cohort",
    "acquisition_channel": "Acquisition channel",
}
#: Model parameters measured in the time unit of the fit (the others are unitless).
_TIME_PARAMETERS = frozenset({"alpha", "beta"})
#: Columns of :func:`crmlib.clv.models.fitting.parameter_table` after the parameters.
_FIT_COLUMNS = frozenset(
    {"log_likelihood", "n_params", "aic", "bic", "n_customers", "n_patterns", "converged"}
)


def fits_table(
    models: Mapping[str, FittedModel] | Sequence[FittedModel], *, min_cell_size: int
) -> pd.DataFrame:
    """The fitted models for the page: one row per model (index: its name), as text.

    Transforms the fits (as in :func:`crmlib.clv.models.fitting.parameter_table`) into one row per model
    with its parameters (4 significant digits; *alpha* and *beta* in the time unit, in the
    header), log-likelihood, AIC and BIC (1 decimal), the customers it was fitted on
    (small-cell rule, ``min_cell_size``), its distinct purchase patterns and whether it
    converged. A parameter a model does not have reads "–". Models of different time units
    get a "Time unit" column instead of the unit in the header.

    Examples
    --------
    >>> bg = FittedModel("bgnbd", "week", {"r": 0.519713, "alpha": 2.892724, "a": 0.843724,
    ...                  "b": 15.591545}, -66174.651384, 3946, 3435, True, (), (), None, None)
    >>> table = fits_table([bg], min_cell_size=10)
    >>> table.loc["BG/NBD", ["r", "alpha (weeks)", "Log-likelihood", "Customers", "Converged"]].tolist()
    ['0.5197', '2.893', '−66,174.7', '3,946', 'yes']
    """
    table = parameter_table(models)
    units = set(table["unit"])
    one_unit = len(units) <= 1
    time_words = UNIT_WORDS.get(next(iter(units)), "") if units and one_unit else None
    parameters = [c for c in table.columns[3:] if c not in _FIT_COLUMNS]
    columns: dict[str, Column] = {"label": Column("Model")}
    if not one_unit:
        columns["unit"] = Column("Time unit")
    for name in parameters:
        unit = time_words if name in _TIME_PARAMETERS else "currency" if name == "v" else None
        columns[name] = Column(name.replace("_", " "), "number", digits=4, unit=unit or None)
    columns |= {
        "log_likelihood": Column("Log-likelihood", "number", decimals=1),
        "aic": Column("AIC", "number", decimals=1),
        "bic": Column("BIC", "number", decimals=1),
        "n_customers": Column("Customers", "customers"),
        "n_patterns": Column("Distinct purchase patterns", "count"),
        "converged": Column("Converged", "flag"),
    }
    return present(table, columns=columns, index="label", min_cell_size=min_cell_size)


def comparison_table(choice: ModelChoice) -> pd.DataFrame:
    """The holdout comparison for the page: one row per model tried, readable, indexed by model.

    Columns: role, converged, log-likelihood, holdout errors (purchases per customer),
    predicted and actual repeat purchases, error of the total, used, note; numbers formatted,
    blanks where a model was not used to predict.
    """
    table = choice.comparison

    def number(value: Any, spec: str) -> str:
        return format(float(value), spec).replace("-", "\u2212") if np.isfinite(value) else ""

    rows = pd.DataFrame(
        {
            "Role": table["role"].map({"candidate": "candidate", "fallback": "fallback"}),
            "Converged": np.where(table["converged"], "yes", "no"),
            "Log-likelihood": [number(v, ",.1f") for v in table["log_likelihood"]],
            "MAE (purchases per customer)": [number(v, ".3f") for v in table["mae"]],
            "RMSE (purchases per customer)": [number(v, ".3f") for v in table["rmse"]],
            "Predicted repeat purchases": [number(v, ",.0f") for v in table["predicted_total"]],
            "Actual repeat purchases": [number(v, ",.0f") for v in table["actual_total"]],
            "Error of the total": [number(v, "+.1%") for v in table["aggregate_error"]],
            "Used": np.where(table["chosen"], "yes", ""),
            "Note": table["note"].fillna("").str.removesuffix(": excluded from the choice"),
        }
    )
    rows.index = pd.Index([MODEL_LABELS.get(m, m) for m in table["model"]], name="Model")
    return rows


def errors_table(
    predictions: pd.DataFrame,
    *,
    buckets: Sequence[int] = (0, 1, 2, 3, 5, 10),
    min_cell_size: int,
) -> pd.DataFrame:
    """Holdout accuracy by calibration frequency for the page: one row per bucket, as text.

    Transforms *predictions* (one row per customer, as from
    :func:`crmlib.clv.holdout_predictions`) into the rows of
    :func:`crmlib.clv.validation.errors_by_frequency` (small buckets merged with their neighbour, so
    that no row describes 1 to ``min_cell_size`` - 1 customers), indexed by the number of
    repeat purchases in the calibration period: customers, predicted and actual purchases
    per customer and in total, and the errors per customer (MAE, RMSE, bias: predicted
    minus actual).

    Examples
    --------
    >>> predictions = pd.DataFrame({"frequency_cal": [0] * 12 + [1] * 10,
    ...                             "predicted_holdout_purchases": [0.5] * 12 + [1.25] * 10,
    ...                             "actual_holdout_purchases": [1] * 12 + [1] * 10})
    >>> table = errors_table(predictions, buckets=(0, 1), min_cell_size=10)
    >>> table.index.tolist(), table["Customers"].tolist(), table["Predicted purchases"].tolist()
    (['0', '1+'], ['12', '10'], ['6', '12'])
    >>> table.loc["1+", ["MAE (purchases per customer)", "Bias: predicted − actual (purchases per customer)"]].tolist()
    ['0.250', '0.250']
    """
    table = errors_by_frequency(predictions, buckets=buckets, min_cell_size=min_cell_size)
    per_customer = "purchases per customer"
    columns = {
        "frequency_bucket": Column("Repeat purchases in the calibration period"),
        "customers": Column("Customers", "customers"),
        "mean_predicted": Column("Predicted purchases per customer", "number", decimals=2),
        "mean_actual": Column("Actual purchases per customer", "number", decimals=2),
        "predicted_total": Column("Predicted purchases", "count"),
        "actual_total": Column("Actual purchases", "count"),
        "mae": Column("MAE", "number", decimals=3, unit=per_customer),
        "rmse": Column("RMSE", "number", decimals=3, unit=per_customer),
        "bias": Column("Bias: predicted − actual", "number", decimals=3, unit=per_customer),
    }
    return present(table, columns=columns, index="frequency_bucket", min_cell_size=min_cell_size)


def group_table(
    values: pd.DataFrame,
    groups: pd.DataFrame,
    *,
    by: str,
    currency: str,
    min_cell_size: int,
) -> pd.DataFrame:
    """CLV per group for the page: one row per group (small ones pooled), money as text.

    Transforms *values* (one row per customer: ``customer_id``, ``clv``) and *groups* (one
    row per customer: ``customer_id`` and ``by``) into the rows of
    :func:`crmlib.clv.value.clv_by_group` (groups of fewer than ``min_cell_size`` customers pooled
    into a last row "(other)"), indexed by the group: customers, CLV total and mean per
    customer in ``currency``, the shares of CLV and of customers, and how many groups the
    row holds.

    Examples
    --------
    >>> values = pd.DataFrame({"customer_id": list("abcdefghijklmn"),
    ...                        "clv": [120.0] * 10 + [4.5] * 4})
    >>> groups = pd.DataFrame({"customer_id": list("abcdefghijklmn"),
    ...                        "acquisition_channel": ["web"] * 10 + ["tv"] * 3 + ["app"]})
    >>> table = group_table(values, groups, by="acquisition_channel", currency="EUR",
    ...                     min_cell_size=3)
    >>> table.index.name, table.index.tolist(), table["Customers"].tolist()
    ('Acquisition channel', ['web', '(other)'], ['10', '4'])
    >>> table.loc["(other)", ["CLV total (EUR)", "Mean CLV per customer (EUR)", "Groups"]].tolist()
    ['€18', '€4.50', '2']
    """
    table = clv_by_group(values, groups, by=by, min_cell_size=min_cell_size)
    columns = {
        by: Column(_GROUP_HEADERS.get(by, by.replace("_", " ").capitalize())),
        "customers": Column("Customers", "customers"),
        "clv_total": Column("CLV total", "money"),
        "clv_mean": Column("Mean CLV per customer", "money", decimals=2),
        "clv_share": Column("Share of CLV", "percent"),
        "customer_share": Column("Share of customers", "percent"),
        "groups": Column("Groups", "count"),
    }
    return present(table, columns=columns, index=by, currency=currency, min_cell_size=min_cell_size)
