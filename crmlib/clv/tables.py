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

from crmlib.clv.acquisition import Acquisition
from crmlib.clv.choice import ModelChoice
from crmlib.clv.models.base import MODEL_LABELS, UNIT_WORDS
from crmlib.clv.models.fitting import FittedModel, parameter_table
from crmlib.clv.validation import errors_by_frequency
from crmlib.clv.value import clv_by_group
from crmlib.formatting import MINUS, Column, Sentence, format_money, present
from crmlib.privacy import HIDDEN, SmallCells

__all__ = [
    "fits_table",
    "comparison_table",
    "errors_table",
    "group_table",
    "acquisition_table",
    "nps_value_table",
]

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


def acquisition_table(
    acquisition: Acquisition | None, *, currency: str, min_cell_size: int
) -> pd.DataFrame | Sentence:
    """CAC, CLV:CAC and payback per acquisition channel for the page: one row per channel.

    Transforms a :class:`crmlib.clv.acquisition.Acquisition` into rows indexed by channel,
    the last "All channels" (blended: all spend over all new customers, channels without
    spend included): spend, new customers, CAC per new customer, mean CLV per customer,
    CLV:CAC, cohorts paid back (of cohorts with spend) and their mean months to pay back.
    The small-cell rule: new customers of 1 to ``min_cell_size`` - 1 read "<10" and the CAC,
    CLV:CAC and payback computed on them "–"; when exactly one channel is hidden, the next
    smallest is hidden too ("–"), so that the total does not reveal it. Without spend or
    customers: the sentence of :func:`crmlib.clv.describe_acquisition`.
    """
    if acquisition is None:
        return Sentence(_ACQUISITION_SKIPPED)
    rule = SmallCells(min_cell_size)
    table = acquisition.by_channel.merge(
        acquisition.payback_by_channel[
            ["channel", "cohorts", "cohorts_paid_back", "mean_payback_months"]
        ],
        on="channel",
        how="left",
    )
    if acquisition.clv_to_cac is not None:
        table = table.merge(
            acquisition.clv_to_cac[["channel", "customers", "clv_mean", "clv_to_cac"]],
            on="channel",
            how="left",
        )
    else:
        table = table.assign(customers=np.nan, clv_mean=np.nan, clv_to_cac=np.nan)
    channels = table["channel"] != "All channels"
    hidden = np.zeros(len(table), dtype=bool)
    hidden[channels.to_numpy()] = rule.complement(table.loc[channels, "new_customers"].tolist())
    small = rule.is_small(table["new_customers"].to_numpy())
    per_new = ["cac", "clv_to_cac", "mean_payback_months"]
    for column in per_new:
        table[column] = table[column].astype("float64").where(~hidden)
    table["clv_mean"] = (
        table["clv_mean"]
        .astype("float64")
        .where(~rule.is_small(table["customers"].fillna(0).to_numpy()))
    )
    counts = rule.counts(table["new_customers"])
    table["new_customers"] = counts.where(~(hidden & ~small), HIDDEN)
    table["paid_back"] = [
        HIDDEN if h or pd.isna(n) or n == 0 else f"{int(p)} of {int(n)}"
        for h, p, n in zip(hidden, table["cohorts_paid_back"], table["cohorts"], strict=True)
    ]
    columns = {
        "channel": Column("Acquisition channel"),
        "spend": Column("Spend", "money"),
        "new_customers": Column("New customers", "customers"),
        "cac": Column("CAC per new customer", "money", decimals=2),
        "clv_mean": Column("Mean CLV per customer", "money", decimals=2),
        "clv_to_cac": Column("CLV:CAC", "number", decimals=2),
        "paid_back": Column("Monthly cohorts paid back"),
        "mean_payback_months": Column("Mean payback", "number", decimals=1, unit="months"),
    }
    return present(
        table, columns=columns, index="channel", currency=currency, min_cell_size=min_cell_size
    )


#: The sentence of the acquisition section when 05 has no spend table or no customers table.
_ACQUISITION_SKIPPED = (
    "*Section skipped:* this run has no `marketing_spend` table or no `customers` table "
    "(01_ingest found no such source in the params file), so acquisition cost (CAC), CLV:CAC "
    "and payback cannot be measured."
)

_NPS_GROUP_WORDS: dict[str, str] = {
    "promoter": "Promoters (9–10)",
    "passive": "Passives (7–8)",
    "detractor": "Detractors (0–6)",
    "no answer": "No NPS answer",
}


def nps_value_table(
    value_by_nps: pd.DataFrame | None, *, currency: str, min_cell_size: int
) -> pd.DataFrame | Sentence:
    """Mean CLV per NPS group for the page: one row per group, money as text.

    Transforms :func:`crmlib.clv.stage.value_by_nps_group` into rows indexed by NPS group:
    customers, mean CLV per customer with its 95% interval, CLV total. A group of 1 to
    ``min_cell_size`` - 1 customers reads "<10" and shows no value. None (no surveys table)
    gives the sentence saying the section is skipped.
    """
    if value_by_nps is None:
        return Sentence(_NPS_SKIPPED)
    rule = SmallCells(min_cell_size)
    table = rule.hide(
        value_by_nps,
        size="customers",
        columns=["clv_mean", "clv_lower", "clv_upper", "clv_total"],
    )
    table = table.assign(
        nps_group=table["nps_group"].map(_NPS_GROUP_WORDS),
        interval=[
            HIDDEN
            if pd.isna(lo) or pd.isna(hi)
            else f"{format_money(lo, currency, small_decimals=2)} to "
            f"{format_money(hi, currency, small_decimals=2)}".replace("-", MINUS)
            for lo, hi in zip(table["clv_lower"], table["clv_upper"], strict=True)
        ],
    )
    columns = {
        "nps_group": Column("NPS group (latest answer)"),
        "customers": Column("Customers", "customers"),
        "clv_mean": Column("Mean CLV per customer", "money", decimals=2),
        "interval": Column("Mean CLV 95% interval", unit=currency),
        "clv_total": Column("CLV total", "money"),
    }
    return present(
        table, columns=columns, index="nps_group", currency=currency, min_cell_size=min_cell_size
    )


_NPS_SKIPPED = (
    "*Section skipped:* this run has no `surveys` table (01_ingest found no surveys source in "
    "the params file), so the value of promoters, passives and detractors cannot be compared."
)
