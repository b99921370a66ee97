"""05's model choice in words and records: the sentences, the page's table, metrics.json."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from crmlib.clv._describe import describe_model_choice
from crmlib.clv._fallback import ModelChoice
from crmlib.clv._likelihoods import _UNIT_WORDS, MODEL_LABELS

__all__ = ["describe_choice", "comparison_table", "comparison_records"]


# -- words and records ----------------------------------------------------------------------------
def describe_choice(choice: ModelChoice) -> str:
    """Markdown: which model 05 uses and why: the holdout choice, or the fallback step and why.

    Takes :func:`choose_model`'s result (or :func:`fit_with_fallback`'s).
    """
    if choice.comparison.empty:
        return " ".join(choice.words)
    if choice.fallback is None:
        table = choice.comparison.assign(model=[MODEL_LABELS.get(m, m) for m in
                                                choice.comparison["model"]])  # fmt: skip
        return describe_model_choice(table, MODEL_LABELS.get(choice.chosen, choice.chosen),
                                     choice.criterion)  # fmt: skip
    lines = list(choice.words)
    model = choice.model
    if model.name == "nbd":
        r, alpha = model.params["r"], model.params["alpha"]
        unit = _UNIT_WORDS.get(model.unit, model.unit)
        lines.append(
            f"Customers are modelled as never leaving (P(alive) = 1 for everyone): each buys at "
            f"their own steady rate, the rates varying across customers as a Gamma distribution "
            f"(r = {r:.3g}, alpha = {alpha:.3g} {unit}; mean {r / alpha:.3g} repeat purchases "
            f"per {unit.rstrip('s')})."
        )
    elif model.name == "empirical":
        lines.append(
            "No model describes these customers, so each is valued at their own observed "
            "spend per unit of time since their first purchase, continued over the horizon, "
            "discounted and times the margin: there is no P(alive) (nobody is assumed gone) "
            "and no interval."
        )
    row = choice.comparison.set_index("model").loc[choice.chosen]
    if np.isfinite(row.get("mae", np.nan)):
        lines.append(
            f"On the holdout it predicted {row['predicted_total']:,.0f} repeat purchases against "
            f"{row['actual_total']:,.0f} actual; its error per customer is {row['mae']:.3f} "
            "purchases (MAE)."
        )
    return " ".join(lines)


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


def comparison_records(choice: ModelChoice) -> list[dict[str, Any]]:
    """``metrics.json["clv"]["comparison"]``: one record per model tried, with its parameters.

    Every candidate (and every fallback tried) with ``model``, ``label``, ``role``,
    ``parameters`` (lifetimes' names; alpha/beta in the unit), ``log_likelihood``,
    ``converged``, ``eligible``, ``chosen``, the holdout errors and ``note``.
    """
    records = []
    for row in choice.comparison.to_dict("records"):
        fitted = choice.fits[str(row["model"])]
        record: dict[str, Any] = {
            "model": str(row["model"]),
            "label": fitted.label,
            "parameters": {k: _json_number(v) for k, v in fitted.params.items()},
        }
        for key, value in row.items():
            if key != "model":
                record[str(key)] = _json_number(value) if isinstance(value, float) else value
        record["penalizer"] = float(fitted.penalizer)
        records.append(record)
    return records


def _json_number(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None
