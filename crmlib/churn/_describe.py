"""06_churn in words: conclusions, the model card, headline metrics and the churn_scores artifact.

Everything here reads counts, rates and money; no customer id ever reaches a sentence.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from crmlib.churn._stage import ChurnTables, ChurnTraining, HoldoutScores
from crmlib.formatting import Column, present
from crmlib.io import to_jsonable
from crmlib.plotting import format_money
from crmlib.privacy import SmallCells

__all__ = [
    "ARTIFACT_COLUMNS",
    "describe_tables",
    "describe_training",
    "describe_scorecard",
    "describe_value",
    "comparison_table",
    "scorecard_table",
    "model_card",
    "churn_artifact",
    "churn_conclusion",
    "churn_metrics",
]

log = logging.getLogger(__name__)

#: Columns of the ``churn_scores`` artifact (one row per customer active at as_of).
ARTIFACT_COLUMNS: tuple[str, ...] = (
    "customer_id", "p_churn", "risk_band", "reason_1", "reason_2", "reason_3", "value",
    "value_source", "value_at_risk", "expected_net_value", "contact", "rank",
)  # fmt: skip
_METRIC_WORDS = {
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "brier": "Brier score",
    "log_loss": "log-loss",
    "top_decile_lift": "top-decile lift",
    "top_decile_capture": "churners caught in the top decile",
}


def _pct(value: float, decimals: int = 0) -> str:
    return "n/a" if not np.isfinite(value) else f"{100 * value:.{decimals}f}%"


def _rate(frame: pd.DataFrame) -> float:
    return float(frame["churned"].mean()) if len(frame) and "churned" in frame else float("nan")


def _churned(rule: SmallCells, frame: pd.DataFrame) -> str:
    """ ", 45% churned" for a cutoff's customers; nothing when they are too few to describe."""
    return f", {_pct(_rate(frame))} churned" if rule.shown(len(frame)) else ""


def describe_tables(tables: ChurnTables, *, min_cell_size: int) -> str:
    """Markdown: the cutoffs, how many customers each has and how many churned.

    Numbers of customers are written by the small-cell rule (``min_cell_size``: "fewer than
    10 active customers"), and the churn rate of a cutoff with fewer is not given.
    """
    rule = SmallCells(min_cell_size)
    cut = tables.cutoffs
    lines = [
        f"- **Label:** a customer active at a cutoff (an order in the lookback window) has "
        f"*churned* when they place no order in the {cut.horizon_days} days after it.",
        f"- **Training cutoff {cut.train}:** {rule.phrase(len(tables.train), 'active customer')}"
        f"{_churned(rule, tables.train)}.",
        f"- **Validation cutoff {cut.validation}:** "
        f"{rule.phrase(len(tables.validation), 'active customer')}"
        f"{_churned(rule, tables.validation)} (labels fully observed up to {cut.score}).",
        f"- **Scored at {cut.score}:** {rule.phrase(len(tables.score), 'active customer')}.",
        f"- **Features:** {len(tables.numeric)} numeric and {len(tables.categorical)} categorical, "
        "all computed from data up to the end of each cutoff day.",
    ]
    lines.extend(f"- {note}" for note in tables.notes)
    return "\n".join(lines)


def describe_training(training: ChurnTraining, *, min_cell_size: int) -> str:
    """Markdown: which scorer was chosen and why, or the fallback and its reason.

    The number of validation customers is written by the small-cell rule (``min_cell_size``).
    """
    if training.fallback is not None:
        what = (
            "the recency rule (the churn rate by days since the last order, learned at the "
            "training cutoff)"
            if training.is_probability
            else "the recency rank (days since the last order as a share of the lookback "
            "window: a ranking, not a probability)"
        )
        return (
            f"**No model could be trained:** {training.fallback} Every customer is scored by "
            f"{what} instead; treat the scores as a rough ranking."
        )
    lines = [f"**Chosen model: {training.chosen_name}** (lowest validation log-loss)."]
    if not training.comparison.empty:
        best = training.comparison.iloc[0]
        lines[0] += (
            f" Validation log-loss {best['log_loss']:.3f}, Brier {best['brier']:.3f}, "
            f"ROC AUC {best['roc_auc']:.3f} on {SmallCells(min_cell_size).phrase(int(best['n']))}."
        )
    lines.extend(f"- {note}" for note in dict.fromkeys(training.notes))
    return "\n".join(lines)


def comparison_table(training: ChurnTraining, *, min_cell_size: int) -> pd.DataFrame | None:
    """The candidate models on the validation cutoff for the page, or None when not compared.

    Transforms ``training.comparison`` (:func:`crmlib.churn.model_comparison`: one row per
    model) into one row per model (index), as text (:func:`crmlib.formatting.present`):
    log-loss, Brier score, ROC and PR AUC (3 decimals), the validation customers (small-cell
    rule, ``min_cell_size``) and their observed churn rate (hidden on fewer customers than
    the limit), and whether the model is the one used. None when no model was compared (a
    fallback, or a validation cutoff with one class): :func:`describe_training` says why.

    Examples
    --------
    >>> comparison = pd.DataFrame({"model": ["logistic", "hist_gradient_boosting"],
    ...     "log_loss": [0.588255, 0.622556], "brier": [0.182466, 0.189357],
    ...     "roc_auc": [0.819946, 0.809897], "pr_auc": [0.745571, 0.737468], "n": [3472, 3472],
    ...     "churn_rate": [0.44038, 0.44038]})
    >>> training = ChurnTraining({}, comparison, "logistic", None, None, None, ())
    >>> table = comparison_table(training, min_cell_size=10)
    >>> table.loc["logistic"].tolist()
    ['0.588', '0.182', '0.820', '0.746', '3,472', '44.0%', 'yes']
    >>> list(table.columns)[4:]
    ['Validation customers', 'Churned (%)', 'Used']
    """
    comparison = training.comparison
    if comparison.empty:
        return None
    shown = SmallCells(min_cell_size).hide(comparison, size="n", columns=["churn_rate"])
    shown["used"] = shown["model"] == training.chosen_name
    columns = {
        "model": Column("Model"),
        "log_loss": Column("Log-loss", "number", decimals=3),
        "brier": Column("Brier score", "number", decimals=3),
        "roc_auc": Column("ROC AUC", "number", decimals=3),
        "pr_auc": Column("PR AUC", "number", decimals=3),
        "n": Column("Validation customers", "customers"),
        "churn_rate": Column("Churned", "percent"),
        "used": Column("Used", "flag"),
    }
    return present(shown, columns=columns, index="model", min_cell_size=min_cell_size)


def scorecard_table(card: pd.DataFrame) -> pd.DataFrame:
    """The scorecard for display: one row per scorer, '0.85 (0.84–0.86)' per metric.

    A metric not computed for a row (the differences have no PR AUC) reads "–".

    Examples
    --------
    >>> card = pd.DataFrame({"scorer": ["logistic", "logistic - recency rule"],
    ...     "metric": ["roc_auc", "roc_auc"], "value": [0.8199, 0.037],
    ...     "ci_low": [0.805, 0.028], "ci_high": [0.834, 0.047]})
    >>> scorecard_table(card)  # doctest: +NORMALIZE_WHITESPACE
                                         ROC AUC
    Scorer
    logistic                 0.820 (0.805–0.834)
    logistic - recency rule  0.037 (0.028–0.047)
    """
    if card.empty:
        return pd.DataFrame()
    text = card.assign(
        shown=[
            f"{value:.3f} ({low:.3f}–{high:.3f})" if np.isfinite(low) else f"{value:.3f}"
            for value, low, high in zip(card["value"], card["ci_low"], card["ci_high"], strict=True)
        ]
    )
    table = text.pivot(index="scorer", columns="metric", values="shown")
    order = list(dict.fromkeys(card["scorer"]))
    metrics = [metric for metric in _METRIC_WORDS if metric in table.columns]
    table = table.reindex(index=order, columns=metrics).rename_axis(None, axis=1)
    columns = {metric: Column(_METRIC_WORDS[metric][:1].upper() + _METRIC_WORDS[metric][1:])
               for metric in metrics}  # fmt: skip
    return present(table, columns={"scorer": Column("Scorer"), **columns}, index="scorer")


def _metric(card: pd.DataFrame, scorer: str, metric: str) -> pd.Series | None:
    rows = card[(card["scorer"] == scorer) & (card["metric"] == metric)]
    return None if rows.empty else rows.iloc[0]


def describe_scorecard(
    card: pd.DataFrame, holdout: HoldoutScores, *, chosen: str, min_cell_size: int
) -> str:
    """Markdown: the chosen scorer against the recency rule and BTYD on the same customers.

    Numbers of customers are written by the small-cell rule (``min_cell_size``).
    """
    if card.empty:
        return str(card.attrs.get("note", "No scorecard."))
    rule = SmallCells(min_cell_size)
    auc = _metric(card, chosen, "roc_auc")
    lines = []
    if auc is not None:
        churned = rule.phrase(int(auc["n_churned"]), "churner")
        lines.append(
            f"On the {rule.phrase(int(auc['n']), 'validation customer')} ({churned}) "
            f"**{chosen}** ranks a random churner above a random stayer "
            f"{_pct(float(auc['value']))} of the time (ROC AUC {auc['value']:.3f}, 95% interval "
            f"{auc['ci_low']:.3f}–{auc['ci_high']:.3f})."
        )
    for other in holdout.scores:
        if other == chosen:
            continue
        diff_auc = _metric(card, f"{chosen} - {other}", "roc_auc")
        diff_brier = _metric(card, f"{chosen} - {other}", "brier")
        if diff_auc is None:
            continue
        better = (
            "better" if diff_auc["ci_low"] > 0 else "worse" if diff_auc["ci_high"] < 0 else None
        )
        verdict = (
            f"ranks {better} than the {other} (AUC difference {diff_auc['value']:+.3f}, "
            f"interval {diff_auc['ci_low']:+.3f} to {diff_auc['ci_high']:+.3f})"
            if better
            else f"ranks about as well as the {other} (AUC difference {diff_auc['value']:+.3f}, "
            "interval includes 0)"
        )
        if diff_brier is not None and np.isfinite(diff_brier["value"]):
            verdict += (
                f"; its probabilities are {'closer to' if diff_brier['value'] < 0 else 'further from'}"
                f" what happened (Brier difference {diff_brier['value']:+.3f})"
            )
        lines.append(f"- It {verdict}.")
    lines.extend(f"- {note}" for note in holdout.notes)
    return "\n".join(lines)


def describe_value(
    plan: pd.DataFrame, economics: Mapping[str, Any], *, currency: str, min_cell_size: int
) -> str:
    """Markdown: value at risk, where it sits by band, and the break-even of a contact.

    Numbers of customers are written by the small-cell rule (``min_cell_size``); the share
    of value at risk of a High band of fewer customers is not given.
    """
    if plan.empty:
        return "No active customer to value at the as-of date."
    rule = SmallCells(min_cell_size)
    sources = plan["value_source"].value_counts().to_dict()
    source = (
        "05_clv's customer lifetime value"
        if sources.get("clv", 0) and not sources.get("historical", 0)
        else "net spend in the last 365 days times the margin (05_clv has not run)"
        if not sources.get("clv", 0)
        else f"05_clv's CLV ({rule.phrase(sources['clv'])}) or, for the "
        f"{rule.phrase(sources['historical'])} it does not value, last year's net spend times "
        "the margin"
    )
    high = plan[plan["risk_band"] == "High"]
    share_high = float(high["value_at_risk"].sum()) / max(float(plan["value_at_risk"].sum()), 1e-12)
    hold = f"hold {_pct(share_high)} of it" if rule.shown(len(high)) else "are too few to describe"
    return "\n".join(
        [
            f"- **Value at risk** (P(churn) × value; value = {source}): "
            f"{format_money(float(plan['value_at_risk'].sum()), currency)} across "
            f"{rule.phrase(len(plan), 'active customer')}; the "
            f"{rule.phrase(len(high), 'High-risk customer')} {hold}.",
            f"- **Contact where it pays:** with a save rate of "
            f"{_pct(economics['save_rate'])} and {format_money(economics['cost_per_contact'], currency, small_decimals=2)}"
            f" per contact, a contact pays when P(churn) × value exceeds "
            f"{format_money(economics['break_even_value_at_risk'], currency, small_decimals=2)}: "
            f"{rule.phrase(economics['contacts'])}{_share(rule, economics)}, expected "
            f"saved value {format_money(economics['expected_saved_value'], currency)} for "
            f"{format_money(economics['total_cost'], currency)} of contacts, net "
            f"{format_money(economics['expected_net_value'], currency)}.",
            f"- A customer of median value "
            f"({format_money(economics['median_value'], currency)}) is worth a contact above "
            f"P(churn) {_pct(economics['break_even_p_churn_at_median_value'])}.",
        ]
    )


def model_card(
    tables: ChurnTables,
    training: ChurnTraining,
    card: pd.DataFrame,
    *,
    lookback_days: int,
    excluded: list[str] | tuple[str, ...],
) -> str:
    """Markdown: the short model card (data window, label, features, metrics, limits)."""
    cut = tables.cutoffs
    auc = _metric(card, training.chosen_name, "roc_auc") if not card.empty else None
    brier = _metric(card, training.chosen_name, "brier") if not card.empty else None
    metrics = (
        f"validation ROC AUC {auc['value']:.3f} ({auc['ci_low']:.3f}–{auc['ci_high']:.3f})"
        + (f", Brier {brier['value']:.3f}" if brier is not None else "")
        if auc is not None
        else "not measured (no usable validation labels)"
    )
    return "\n".join(
        [
            f"| | |\n|---|---|\n| **Model** | {training.chosen_name}"
            + (f" (fallback: {training.fallback})" if training.fallback else "")
            + " |",
            f"| **Data window** | orders, customers and messaging events up to each cutoff: "
            f"trained at {cut.train}, validated at {cut.validation}, scoring at {cut.score} |",
            f"| **Population** | customers with an order in the {lookback_days} days up to the cutoff |",
            f"| **Label** | no order in the {cut.horizon_days} days after the cutoff |",
            f"| **Features** | {', '.join((*tables.numeric, *tables.categorical))} |",
            f"| **Left out** | {', '.join(excluded) if excluded else 'none'} |",
            f"| **Metrics** | {metrics} |",
            "| **Limits** | customer attributes (region, birth year, consent) are today's "
            "snapshot, not their value at the cutoff; refunds are netted into their order "
            "whatever their date; the model learns from one past cutoff and assumes the next "
            f"{cut.horizon_days} days behave alike (seasonality is not modelled); reasons are "
            "additive approximations of the model, not causes |",
        ]
    )


def churn_artifact(plan: pd.DataFrame) -> pd.DataFrame:
    """The ``churn_scores`` artifact: one row per customer active at as_of (:data:`ARTIFACT_COLUMNS`)."""
    table = plan[list(ARTIFACT_COLUMNS)].copy()
    table["risk_band"] = table["risk_band"].astype("str")
    table.attrs["units"] = {
        "p_churn": "probability of no order in the horizon",
        "value": "run currency",
        "value_at_risk": "run currency",
        "expected_net_value": "run currency",
    }
    return table.sort_values("customer_id", ignore_index=True)


def _share(rule: SmallCells, economics: Mapping[str, Any]) -> str:
    """ " (88%)": the share of customers contacted, left out with a count that is not shown."""
    if not rule.shown(economics["contacts"]):
        return ""
    return f" ({_pct(economics['share_contacted'])})"


def churn_conclusion(
    plan: pd.DataFrame,
    training: ChurnTraining,
    card: pd.DataFrame,
    economics: Mapping[str, Any],
    *,
    horizon_days: int,
    currency: str,
    min_cell_size: int,
) -> str:
    """One paragraph for the front page: risk, how sure, value at risk, who to contact.

    Numbers of customers are written by the small-cell rule (``min_cell_size``); the share
    at high risk is left out when their number is not shown.
    """
    if plan.empty:
        return "No customer was active at the as-of date, so nobody was scored."
    rule = SmallCells(min_cell_size)
    high = int((plan["risk_band"] == "High").sum())
    auc = _metric(card, training.chosen_name, "roc_auc") if not card.empty else None
    sure = (
        f" The {training.chosen_name} model ranks churners with ROC AUC {auc['value']:.2f} on "
        "customers it had not seen."
        if auc is not None
        else ""
    )
    fallback = (
        f" No model could be trained ({training.fallback}); scores come from recency alone."
        if training.fallback
        else ""
    )
    share = f"{_pct(high / len(plan))} " if rule.shown(high) else ""
    at_risk = rule.phrase(high)
    return (
        f"{at_risk[:1].upper()}{at_risk[1:]} ({share}of the "
        f"{rule.phrase(len(plan), 'active customer')}) are at high risk of placing no order in "
        f"the next {horizon_days} days.{sure}{fallback} "
        f"Value at risk is {format_money(float(plan['value_at_risk'].sum()), currency)}; "
        f"contacting the {rule.phrase(economics['contacts'])} for whom it pays is expected to "
        f"net {format_money(economics['expected_net_value'], currency)}."
    )


def churn_metrics(
    plan: pd.DataFrame,
    tables: ChurnTables,
    training: ChurnTraining,
    card: pd.DataFrame,
    economics: Mapping[str, Any],
    *,
    conclusion: str,
) -> dict[str, Any]:
    """``metrics.json["churn"]``: cutoffs, sizes, the chosen model and its scores, value and bands."""
    scores: dict[str, dict[str, Any]] = {}
    for row in card.itertuples(index=False) if not card.empty else []:
        scores.setdefault(str(row.scorer), {})[str(row.metric)] = {
            "value": to_jsonable(row.value),
            "ci": [to_jsonable(row.ci_low), to_jsonable(row.ci_high)],
        }
    bands = plan["risk_band"].astype("str").value_counts().to_dict() if len(plan) else {}
    return {
        "cutoffs": {
            "train": tables.cutoffs.train,
            "validation": tables.cutoffs.validation,
            "score": tables.cutoffs.score,
        },
        "horizon_days": tables.cutoffs.horizon_days,
        "customers": {
            "train": len(tables.train),
            "validation": len(tables.validation),
            "scored": len(plan),
        },
        "churn_rate": {
            "train": to_jsonable(_rate(tables.train)),
            "validation": to_jsonable(_rate(tables.validation)),
        },
        "model": training.chosen_name,
        "fallback": training.fallback,
        "scorecard": scores,
        "bands": {band: int(bands.get(band, 0)) for band in ("Low", "Medium", "High")},
        "value_at_risk": float(plan["value_at_risk"].sum()) if len(plan) else 0.0,
        "contact": {key: to_jsonable(value) for key, value in economics.items()},
        "conclusion": conclusion,
    }
