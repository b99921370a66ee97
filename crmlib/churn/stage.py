"""06_churn's entry points: training with its fallback, holdout scores, drivers, scoring, contacts.

The notebook calls these in order, after :func:`crmlib.churn.queries.churn_tables`. Every step
that can lack data (too few customers or churners to train, a validation cutoff with one class,
a BTYD fit that does not converge, no 05_clv artifact) returns a documented fallback and says so
in its ``notes``, so the report explains what happened instead of stopping. The stage ends with
its checks, the ``churn_scores`` artifact and the headline metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from crmlib.activation import Campaign, build_audience, load_suppression_list, write_exports
from crmlib.checks import Checks, require_columns
from crmlib.churn.models.baselines import RecencyRank, RecencyRule, btyd_churn_probability
from crmlib.churn.models.drivers import partial_dependence_table, permutation_importance_table
from crmlib.churn.models.scorecard import HoldoutScores, scorecard
from crmlib.churn.models.training import (
    ChurnTraining,
    choose_model,
    fit_churn_models,
    model_comparison,
    trainability,
)
from crmlib.churn.models.value import (
    check_unique_ids,
    contact_plan,
    customer_values,
    risk_bands,
    value_at_risk,
)
from crmlib.churn.queries import ChurnTables
from crmlib.churn.text import _rate, reason_codes
from crmlib.churn.trend import TREND_COLUMNS, latest_changes
from crmlib.config import DEFAULTS, ChurnParams, WorkbookParams
from crmlib.engine import Engine
from crmlib.errors import WorkbookError
from crmlib.io import RunFolder, to_jsonable
from crmlib.keys import positions, take
from crmlib.privacy import MIN_CELL_SIZE, SmallCells
from crmlib.sampling import DRIVER_SETTING, fit_sample, fitted_on

__all__ = [
    "CONTACT_ACTION",
    "MANIFEST_NAME",
    "ARTIFACT_COLUMNS",
    "train_churn",
    "holdout_scores",
    "holdout_scorecard",
    "churn_drivers",
    "score_customers",
    "churn_plan",
    "contact_list",
    "churn_checks",
    "churn_artifact",
    "churn_metrics",
    "segment_trend_artifact",
    "segment_trend_metrics",
]

log = logging.getLogger(__name__)

#: The label of customers on the contact list (the ``action`` column the campaign targets).
CONTACT_ACTION = "contact"

#: 06_churn's export manifest (04_segments keeps ``manifest.json``).
MANIFEST_NAME = "churn_manifest"

_BTYD_NAME = "BTYD P(no order)"

#: Columns of the ``churn_scores`` artifact (one row per customer active at as_of).
ARTIFACT_COLUMNS: tuple[str, ...] = (
    "customer_id", "p_churn", "risk_band", "reason_1", "reason_2", "reason_3", "value",
    "value_source", "value_at_risk", "expected_net_value", "contact", "rank",
)  # fmt: skip


def _labels(frame: pd.DataFrame) -> np.ndarray:
    if "churned" not in frame:
        return np.zeros(0, dtype=bool)
    return frame["churned"].to_numpy(dtype=bool)


def _two_classes(labels: np.ndarray) -> bool:
    return bool(labels.size) and 0 < int(labels.sum()) < labels.size


def train_churn(
    tables: ChurnTables,
    *,
    settings: ChurnParams,
    seed: int,
    min_cell_size: int,
    driver_max_rows: int | None = None,
) -> ChurnTraining:
    """Fit the candidate models at the training cutoff and choose one on the validation cutoff.

    The choice is the lowest validation log-loss (:func:`crmlib.churn.models.training.choose_model`). When the
    training cutoff has too few customers, churners or non-churners
    (:func:`crmlib.churn.models.training.trainability`), no model is fitted: the recency rule (P(churn) by
    recency, learned at the training cutoff) scores everyone, or, when not even that can be
    learned, the recency rank. A validation cutoff with one class keeps the first candidate.
    The reasons and notes reach the page: their numbers of customers are written by the
    small-cell rule (``min_cell_size``).

    With more than ``driver_max_rows`` customers at the training cutoff, the models are
    trained on a random sample of that many (:func:`crmlib.sampling.fit_sample`, seeded with
    ``seed``; whether they can be trained is judged on it), and the first note says so; the
    recency rule, the validation comparison and the scoring use every customer.

    Parameters
    ----------
    tables : ChurnTables
        The labelled cutoffs (:func:`crmlib.churn.queries.churn_tables`).
    settings : ChurnParams
        The ``churn`` section (``params.section`` in 06_churn): the candidate ``models``,
        ``calibration`` and ``calibration_share``, ``class_weight``, ``max_train_rows``,
        ``min_train_customers``, ``min_class_count`` and ``lookback_days`` (for the recency
        rank); its defaults are the workbook's.
    seed : int
        The run's ``seed``.
    min_cell_size : int
        The run's ``privacy.min_cell_size``.
    driver_max_rows : int or None, default None
        The run's ``engine.driver_max_rows``: most training customers the models are fitted
        on; None: all.
    """
    notes: list[str] = []
    train, sample = fit_sample(tables.train, driver_max_rows, seed=seed)
    if sample.sampled:
        notes.append(fitted_on(sample, noun="training customers", subject="The models were"))
    train_labels = _labels(train)
    rule: Any
    try:
        rule = RecencyRule().fit(tables.train) if len(tables.train) else None
    except (ValueError, WorkbookError) as exc:
        notes.append(f"The recency rule could not be learned ({exc}); the recency rank stands in.")
        rule = None
    if rule is None:
        rule = RecencyRank(lookback_days=settings.lookback_days)
    reason = trainability(
        train_labels, min_customers=settings.min_train_customers,
        min_class_count=settings.min_class_count, min_cell_size=min_cell_size,
    )  # fmt: skip
    if reason is not None:
        if sample.sampled:
            reason += f" (in {sample.words('training customers')}, {DRIVER_SETTING})"
        notes.append(f"No model was trained at the training cutoff: {reason}")
        return ChurnTraining(
            {}, pd.DataFrame(), rule.name, rule, rule, reason, tuple(notes), sample=sample
        )
    fitted = fit_churn_models(
        train,
        numeric=tables.numeric,
        categorical=tables.categorical,
        models=tuple(settings.models),
        calibration=settings.calibration,
        calibration_share=settings.calibration_share,
        class_weight=None if settings.class_weight == "none" else settings.class_weight,
        max_train_rows=settings.max_train_rows,
        seed=seed,
        min_cell_size=min_cell_size,
    )
    for model in fitted.values():
        notes.extend(model.notes)
    scores: dict[str, np.ndarray] = {}
    if _two_classes(_labels(tables.validation)):
        scores = {name: model.predict_proba(tables.validation) for name, model in fitted.items()}
        comparison = model_comparison(fitted, tables.validation, scores=scores)
        chosen = choose_model(comparison)
    else:
        comparison = pd.DataFrame()
        chosen = next(iter(fitted))
        notes.append(
            f"The validation cutoff has {'no customer' if not len(tables.validation) else 'one class only'}"
            f"; the models could not be compared and {chosen} is used."
        )
    return ChurnTraining(
        fitted, comparison, chosen, fitted[chosen], rule, None, tuple(notes),
        validation=tables.validation if scores else None, validation_scores=scores,
        sample=sample,
    )  # fmt: skip


def holdout_scores(
    engine: Engine,
    training: ChurnTraining,
    tables: ChurnTables,
    *,
    btyd_unit: str = DEFAULTS.churn.btyd_unit,
    btyd_model: str = "bgnbd",
    min_cell_size: int = MIN_CELL_SIZE,
    max_customers: int = DEFAULTS.churn.btyd_max_customers,
    seed: int = DEFAULTS.seed,
) -> HoldoutScores:
    """The chosen scorer, the recency rule and BTYD refitted at the validation cutoff, per customer.

    All three score the same validation customers. BTYD's churn probability is P(no order in
    the horizon | history) from the 05_clv model refitted on the data up to the validation
    cutoff, on a random sample of at most ``max_customers`` of its customers (seeded with
    ``seed``, the run's; the fitted parameters score every validation customer:
    :func:`crmlib.churn.models.baselines.btyd_churn_probability`); a fit that fails is left
    out with a note (numbers of customers in the notes by the small-cell rule,
    ``min_cell_size``).
    """
    validation = tables.validation
    notes: list[str] = []
    fit_notes: list[str] = []
    scores: dict[str, np.ndarray] = {}
    if len(validation):
        scores[training.chosen_name] = training.scores_on(validation)
        if training.rule is not training.chosen:
            scores[training.rule.name] = training.rule.predict_proba(validation)
        try:
            btyd = btyd_churn_probability(
                engine,
                cutoff=tables.cutoffs.validation,
                horizon_days=tables.cutoffs.horizon_days,
                unit=btyd_unit,
                model=btyd_model,
                customer_ids=validation["customer_id"],
                min_cell_size=min_cell_size,
                max_customers=max_customers,
                seed=seed,
            )
        except (ValueError, WorkbookError) as exc:
            notes.append(f"The BTYD baseline could not be refitted at the validation cutoff: {exc}")
        else:
            fit_notes.extend(btyd.attrs.get("notes", []))
            values = btyd["p_churn"].to_numpy(dtype="float64")
            if np.isfinite(values).all():
                scores[_BTYD_NAME] = values
            else:
                notes.append("The BTYD baseline gave no probability for some customers; left out.")
    ranks = {obj.name for obj in (training.chosen, training.rule) if isinstance(obj, RecencyRank)}
    probabilities = {name: values for name, values in scores.items() if name not in ranks}
    return HoldoutScores(_labels(validation), scores, probabilities, tuple(notes), tuple(fit_notes))


def holdout_scorecard(
    holdout: HoldoutScores,
    *,
    n_boot: int = DEFAULTS.churn.bootstrap_draws,
    seed: int = DEFAULTS.seed,
) -> pd.DataFrame:
    """:func:`crmlib.churn.models.scorecard.scorecard` of the holdout scores; empty (with a note) without two classes."""
    if not holdout.scores or not _two_classes(holdout.labels):
        table = pd.DataFrame()
        table.attrs["note"] = (
            "No scorecard: the validation cutoff needs churners and non-churners to judge a score."
        )
        return table
    return scorecard(holdout.labels.astype(int), holdout.scores, n_boot=n_boot, seed=seed)


def churn_drivers(
    training: ChurnTraining,
    tables: ChurnTables,
    *,
    top_features: int = DEFAULTS.churn.top_features,
    seed: int = DEFAULTS.seed,
    max_rows: int = DEFAULTS.churn.importance_max_rows,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Permutation importance on the validation customers and partial dependence of the top features.

    Importance is measured on the validation customers or, above ``max_rows``, a random sample
    of ``max_rows`` of them (seeded with ``seed``; the table's attrs say which, and
    :func:`crmlib.churn.plots.plot_importance` writes it under the chart). It needs both
    classes at the validation cutoff; without them (or without customers to score) both tables
    are empty and reasons are not given. Partial dependence is computed on the customers being
    scored (as_of), the population the reasons describe.
    """
    empty = pd.DataFrame()
    if not _two_classes(_labels(tables.validation)) or not len(tables.score):
        return empty, empty
    importance = permutation_importance_table(
        training.chosen, tables.validation, max_rows=max_rows, seed=seed
    )
    top = importance.loc[importance["importance_mean"] > 0, "feature"].head(top_features).tolist()
    if not top:
        return importance, empty
    pd_table = partial_dependence_table(training.chosen, tables.score, features=top, seed=seed)
    return importance, pd_table


_SCORED_KEEP = ("recency_days", "mean_gap_days", "spend_365d", "acquisition_channel", "region")


def score_customers(
    training: ChurnTraining,
    tables: ChurnTables,
    *,
    pd_table: pd.DataFrame,
    thresholds: tuple[float, float] = DEFAULTS.churn.band_thresholds,
) -> pd.DataFrame:
    """P(churn), risk band and top-3 reasons of every customer active at as_of.

    One row per scored customer: *customer_id, p_churn, risk_band, reason_1..reason_3* plus
    the features the value and the report need (:data:`_SCORED_KEEP` where present).
    """
    score = tables.score
    keep = [name for name in _SCORED_KEEP if name in score]
    scored = score[["customer_id", *keep]].copy()
    scored["p_churn"] = (
        training.chosen.predict_proba(score) if len(score) else np.zeros(0, dtype="float64")
    )
    scored["risk_band"] = risk_bands(scored["p_churn"].to_numpy(), thresholds=thresholds).to_numpy()
    if len(pd_table) and len(score):
        reasons = reason_codes(training.chosen, score, pd_table=pd_table)
        scored = scored.merge(reasons, on="customer_id", how="left", validate="one_to_one")
    for column in ("reason_1", "reason_2", "reason_3"):
        if column not in scored:
            scored[column] = ""
        scored[column] = scored[column].fillna("").astype("str")
    return scored


def churn_plan(
    scored: pd.DataFrame,
    *,
    clv: pd.DataFrame | None,
    segments: pd.DataFrame | None = None,
    margin: float = DEFAULTS.churn.margin,
    save_rate: float = DEFAULTS.churn.save_rate,
    cost_per_contact: float = DEFAULTS.churn.cost_per_contact,
) -> pd.DataFrame:
    """Value, value at risk and the contact decision of every scored customer, ranked.

    Value is 05_clv's CLV when its artifact is given, else net spend in the last 365 days times
    the margin (:func:`crmlib.churn.models.value.customer_values`); a customer is contacted when
    P(churn) x value x save rate exceeds the cost of a contact (:func:`crmlib.churn.models.value.contact_plan`).
    ``segments`` (04's ``rfm``: customer_id, segment) adds the RFM segment.
    """
    frame = scored
    if segments is not None:
        require_columns(segments, ["customer_id", "segment"], table_name="segments")
        check_unique_ids(segments, table_name="segments")
        segment = take(
            segments["segment"], positions(frame["customer_id"], segments["customer_id"])
        )
        frame = frame.assign(segment=segment.fillna("(unknown)").astype("str").to_numpy())
    values = value_at_risk(customer_values(frame, clv=clv, margin=margin))
    return contact_plan(values, save_rate=save_rate, cost_per_contact=cost_per_contact)


def contact_list(
    engine: Engine, run: RunFolder, plan: pd.DataFrame, *, params: WorkbookParams
) -> pd.DataFrame:
    """Export the customers worth a contact through 04_segments' activation code; the funnel.

    The customers whose contact pays (``plan["contact"]``) are the target label
    :data:`CONTACT_ACTION` of a :class:`crmlib.activation.Campaign`; consent, unsubscribes,
    the suppression list, recent purchases, the frequency cap and the control group are applied
    by :func:`crmlib.activation.build_audience`, and the list is written by
    :func:`crmlib.activation.write_exports` with 06's own manifest (``churn_manifest.json``).

    The campaign comes from ``params.churn`` (:class:`crmlib.config.ChurnParams`):
    ``contact_campaign`` (the export's name), ``contact_channel``, ``control_share``,
    ``recent_purchase_days``, ``frequency_cap_days``, ``frequency_cap_max`` and
    ``suppression_list`` (relative to the params file); the day is ``params.as_of_date`` and the
    control group is drawn with ``params.seed``.
    """
    settings = params.churn
    require_columns(plan, ["customer_id", "contact"], table_name="churn plan")
    members = pd.DataFrame(
        {
            "customer_id": plan["customer_id"].astype("str"),
            "action": np.where(plan["contact"].to_numpy(dtype=bool), CONTACT_ACTION, "no contact"),
        }
    )
    spec = Campaign(
        name=settings.contact_campaign,
        segments=(CONTACT_ACTION,),
        channel=settings.contact_channel,
        trigger="in_segment",
        control_share=settings.control_share,
        recent_purchase_days=settings.recent_purchase_days,
        frequency_cap_days=settings.frequency_cap_days,
        frequency_cap_max=settings.frequency_cap_max,
        label_column="action",
    )
    suppression = (
        load_suppression_list(params.resolve(settings.suppression_list))
        if settings.suppression_list
        else None
    )
    audience = build_audience(
        engine,
        spec,
        members=members,
        as_of_date=params.as_of_date,
        suppression=suppression,
        seed=params.seed,
    )
    return write_exports(run, [audience], manifest_name=MANIFEST_NAME)


def churn_checks(
    plan: pd.DataFrame, tables: ChurnTables, funnel: pd.DataFrame, *, min_cell_size: int
) -> Checks:
    """Business rules of the stage: every active customer scored once, totals reconcile.

    The details are printed on the page: their numbers of customers are written by the
    small-cell rule (``min_cell_size``).
    """
    rule = SmallCells(min_cell_size)
    checks = Checks()
    checks.expect(
        "every active customer scored once",
        len(plan) == len(tables.score) and plan["customer_id"].is_unique,
        f"{rule.phrase(len(plan))} scored, {rule.phrase(len(tables.score))} active at "
        f"{tables.cutoffs.score}",
    )
    p_churn = plan["p_churn"].to_numpy(dtype="float64")
    checks.expect(
        "P(churn) is a probability",
        bool(np.isfinite(p_churn).all() and ((p_churn >= 0) & (p_churn <= 1)).all()),
        "every score in [0, 1]",
    )
    by_band = plan.groupby("risk_band", observed=False)["value_at_risk"].sum().sum()
    checks.expect(
        "value at risk reconciles across bands",
        bool(np.isclose(by_band, plan["value_at_risk"].sum(), rtol=1e-9, atol=1e-6)),
        "sum over Low, Medium and High = the total",
    )
    steps = funnel.set_index("step")["customers"] if len(funnel) else pd.Series(dtype="int64")
    in_list = int(steps.get("in_segment", 0))
    checks.expect(
        "the contact list holds only customers for whom a contact pays",
        in_list == int(plan["contact"].sum()),
        f"{rule.phrase(in_list)} entered the activation funnel, "
        f"{rule.phrase(int(plan['contact'].sum()))} worth a contact",
    )
    return checks


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


def churn_metrics(
    plan: pd.DataFrame,
    tables: ChurnTables,
    training: ChurnTraining,
    card: pd.DataFrame,
    economics: Mapping[str, Any],
    *,
    conclusion: str,
    by_segment: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``metrics.json["churn"]``: cutoffs, sizes, the chosen model and its scores, value and bands.

    ``by_segment`` (:func:`segment_trend_metrics`), when given, is added as
    ``"retention_by_segment"``.
    """
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
    } | ({"retention_by_segment": dict(by_segment)} if by_segment is not None else {})


def segment_trend_artifact(trend: pd.DataFrame) -> pd.DataFrame:
    """The ``churn_by_segment`` artifact: :func:`crmlib.churn.trend.churn_by_segment` as saved.

    One row per period, dimension (``segment``, ``acquisition_channel``) and group, columns
    :data:`crmlib.churn.trend.TREND_COLUMNS`; counts of customers, no customer id. A masked
    cell (base below ``privacy.min_cell_size``) keeps its counts and has no rate.
    """
    table = trend[list(TREND_COLUMNS)].copy()
    table.attrs = {
        "units": {
            "base_customers": "customers who bought in the previous period",
            "retained_customers": "of them, customers who bought in the period",
            "retention_rate": "share of base_customers",
            "churn_rate": "1 - retention_rate",
        }
    }
    return table


def segment_trend_metrics(trend: pd.DataFrame, *, min_cell_size: int) -> dict[str, Any]:
    """``metrics.json["churn"]["retention_by_segment"]``: the latest complete period by segment.

    ``{"period", "period_label", "segments_shown", "segments_masked", "lowest", "largest_fall"}``:
    the segment with the lowest retention and the one whose retention fell most against the
    previous period (``change_pp`` with its 95% interval; None when none fell or nothing can
    be compared). Masked segments (fewer than ``min_cell_size`` customers at the start) are
    counted, never named with a rate.
    """
    changes = latest_changes(trend, dimension="segment")
    empty: dict[str, Any] = {
        "period": trend.attrs.get("period"), "period_label": None, "segments_shown": 0,
        "segments_masked": 0, "lowest": None, "largest_fall": None,
        "note": trend.attrs.get("notes", {}).get("all"),
    }  # fmt: skip
    if changes.empty:
        return empty
    small = SmallCells(min_cell_size).is_small(changes["base_customers"].to_numpy())
    masked = changes["masked"].to_numpy(dtype=bool) | small
    shown = changes[~masked]
    result = empty | {
        "period_label": str(changes["period_label"].iloc[0]),
        "segments_shown": len(shown),
        "segments_masked": int((masked & (changes["base_customers"] > 0).to_numpy()).sum()),
    }
    if shown.empty:
        return result
    lowest = shown.loc[shown["retention_rate"].idxmin()]
    result["lowest"] = {
        "segment": str(lowest["dimension_value"]),
        "retention_rate": to_jsonable(lowest["retention_rate"]),
    }
    compared = shown[np.isfinite(shown["change_previous_pp"].astype("float64"))]
    if len(compared) and float(compared["change_previous_pp"].min()) < 0:
        fall = compared.loc[compared["change_previous_pp"].idxmin()]
        result["largest_fall"] = {
            "segment": str(fall["dimension_value"]),
            "previous_label": str(fall["previous_label"]),
            "retention_rate": to_jsonable(fall["retention_rate"]),
            "previous_rate": to_jsonable(fall["previous_rate"]),
            "change_pp": to_jsonable(fall["change_previous_pp"]),
            "change_ci_pp": [
                to_jsonable(fall["change_previous_lower_pp"]),
                to_jsonable(fall["change_previous_upper_pp"]),
            ],
        }
    return result
