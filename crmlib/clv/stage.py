"""05_clv glue: the calibration cut-off, the groups CLV is split by, refits at other cut-offs,
the tracking plot's inputs, the artifact and the metrics.

The notebook calls these so that it holds no logic.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from crmlib.checks import require_columns
from crmlib.clv.choice import ModelChoice, comparison_records, fit_with_fallback, spend_model
from crmlib.clv.plots import cumulative_tracking
from crmlib.clv.queries import UNIT_DAYS, calibration_holdout, model_summary
from crmlib.clv.value import Valuation
from crmlib.config import DEFAULTS
from crmlib.engine import Engine
from crmlib.facts import purchase_facts
from crmlib.io import RunFolder, to_jsonable
from crmlib.keys import positions, take
from crmlib.periods import as_date
from crmlib.privacy import SmallCells
from crmlib.sampling import RowSample, sample_rows

__all__ = [
    "GROUP_COLUMNS",
    "calibration_cutoff",
    "days_per_unit",
    "value_groups",
    "clv_artifact",
    "pool_groups",
    "clv_metrics",
    "CutoffFits",
    "cutoff_fits",
    "tracking_table",
]

log = logging.getLogger(__name__)

#: Columns of :func:`value_groups` besides customer_id: the splits CLV is reported by.
GROUP_COLUMNS: tuple[str, ...] = ("acquisition_channel", "segment", "cohort")
_UNKNOWN = "(unknown)"


def calibration_cutoff(
    as_of_date: dt.date | str, *, calibration_end: dt.date | str | None, holdout_days: int
) -> dt.date:
    """The last day of the calibration period: ``calibration_end``, else as_of − holdout_days.

    Examples
    --------
    >>> calibration_cutoff("2025-12-31", calibration_end=None, holdout_days=182)
    datetime.date(2025, 7, 2)
    """
    as_of = as_date(as_of_date)
    cutoff = (
        as_date(calibration_end)
        if calibration_end is not None
        else as_of - dt.timedelta(days=holdout_days)
    )
    if cutoff >= as_of:
        raise ValueError(
            f"calibration_end {cutoff} is not before as_of_date {as_of}: the holdout is empty; "
            "set clv.calibration_end earlier or clv.holdout_days > 0"
        )
    return cutoff


def days_per_unit(unit: str) -> float:
    """Days in one model time unit (day 1, week and calendar_week 7)."""
    if unit not in UNIT_DAYS:
        raise ValueError(f"unit={unit!r}: expected one of {sorted(UNIT_DAYS)}")
    return float(UNIT_DAYS[unit])


def tracking_table(
    engine: Engine,
    fitted: Any,
    summary: pd.DataFrame,
    *,
    calibration_end: dt.date | str,
    observation_end: dt.date | str,
    unit: str,
    transactions: str = "transactions",
) -> pd.DataFrame:
    """Actual vs expected cumulative repeat purchases of the calibration cohort, by day.

    The cohort is every customer whose first purchase is on or before ``calibration_end``
    (those the calibration model describes). Their repeat purchases per day are counted in
    SQL over the purchase facts of ``transactions`` (:func:`crmlib.facts.purchase_facts`;
    ``clv_daily_repeats.sql``: each purchase day after the first, once per customer),
    their first-purchase dates come from *summary* (``first_purchase_date``), and
    :func:`crmlib.clv.plots.cumulative_tracking` adds the model's expectation.
    """
    cutoff = as_date(calibration_end)
    with purchase_facts(engine, transactions=transactions) as facts:
        daily = engine.query(
            "clv_daily_repeats",
            {"end_day": as_date(observation_end), "cohort_end": cutoff},
            identifiers=facts,
        )
    daily["date"] = pd.to_datetime(daily["date"])
    first = pd.to_datetime(summary["first_purchase_date"])
    return cumulative_tracking(
        fitted,
        daily,
        calibration_end=cutoff,
        unit=unit,
        first_purchase_dates=first[first <= pd.Timestamp(cutoff)],
        days_per_unit=days_per_unit(unit),
        end_date=as_date(observation_end),
    )


class CutoffFits(NamedTuple):
    """What :func:`cutoff_fits` returns: ``fits`` ({label: (transaction model, spend model)},
    the base first), ``base`` (the label of the fit on all data) and ``samples`` ({label of a
    refit: the :class:`crmlib.sampling.RowSample` of its calibration customers it was fitted
    on}), the three arguments of :func:`crmlib.clv.cutoff_sensitivity`."""

    fits: dict[str, tuple[Any, Any]]
    base: str
    samples: dict[str, RowSample]


def cutoff_fits(
    engine: Engine,
    *,
    final: tuple[Any, Any],
    as_of_date: dt.date | str,
    holdout_days: Sequence[int],
    model: str,
    penalizer: float,
    unit: str,
    max_customers: int = DEFAULTS.clv.refit_max_customers,
    seed: int = DEFAULTS.seed,
    transactions: str = "transactions",
) -> CutoffFits:
    """The chosen models fitted on all data and with calibration periods ending
    ``holdout_days`` before as_of, for :func:`crmlib.clv.cutoff_sensitivity`.

    Each refit goes through 05's chain (:func:`crmlib.clv.fit_with_fallback` and
    :func:`crmlib.clv.spend_model`): a refit that is not eligible is never used; the
    fallback that replaces it is named in the label (e.g. ``"data to 2025-03-11 (NBD (no
    dropout))"``). ``model`` may be a fallback (``"nbd"``, ``"empirical"``).

    A refit is fitted on at most ``max_customers`` of its calibration customers: above that,
    on a random sample of them (:func:`crmlib.sampling.sample_rows` with ``seed``, the same
    seed at every cut-off), drawn before the fit; the parameters' standard errors are then
    ``RowSample.widening`` times those of a fit on all of them. The refits only feed the
    sensitivity table, whose changes are far larger than that (the table says how large).

    Returns a :class:`CutoffFits`: ``(fits, base, samples)``; the base is the fit on all
    data up to as_of (the one the CLV uses).
    """
    as_of = as_date(as_of_date)
    base = f"all data to {as_of}"
    fits: dict[str, tuple[Any, Any]] = {base: final}
    samples: dict[str, RowSample] = {}
    for days in holdout_days:
        cutoff = as_of - dt.timedelta(days=int(days))
        calibration = model_summary(
            calibration_holdout(
                engine,
                calibration_end=cutoff,
                observation_end=as_of,
                unit=unit,
                transactions=transactions,
            )
        )
        sample = sample_rows(len(calibration), max_customers, seed=seed)
        calibration = sample.take(calibration)
        refit = fit_with_fallback(calibration, model=model, penalizer=penalizer, unit=unit)
        spend = spend_model(calibration, refit, penalizer=penalizer)
        label = f"data to {cutoff}"
        if refit.chosen != model:
            label += f" ({refit.model.label})"
        fits[label] = (refit.model, spend.model)
        samples[label] = sample
        if sample.sampled:
            log.info("cut-off %s refitted on %s", cutoff, sample.words("calibration customers"))
    return CutoffFits(fits, base, samples)


def value_groups(
    run: RunFolder, summary: pd.DataFrame, *, customers: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The groups CLV is reported by: one row per customer of ``summary``.

    Columns customer_id and :data:`GROUP_COLUMNS`: the acquisition channel (from the
    ``customers`` artifact), the RFM segment (from 04_segments' ``rfm`` artifact of this run,
    when 04 ran) and the acquisition cohort (quarter of the first purchase, from the summary's
    ``first_purchase_date``). A value that is not known is ``"(unknown)"``.
    """
    groups = pd.DataFrame({"customer_id": summary["customer_id"].astype("str").to_numpy()})
    table = customers
    if table is None and run.has_table("customers"):
        table = run.read_table("customers", columns=["customer_id", "acquisition_channel"])
    groups["acquisition_channel"] = _lookup(groups, table, "acquisition_channel")
    rfm = (
        run.read_table("rfm", columns=["customer_id", "segment"]) if run.has_table("rfm") else None
    )
    groups["segment"] = _lookup(groups, rfm, "segment")
    if "first_purchase_date" in summary.columns:
        first = pd.to_datetime(summary["first_purchase_date"]).dt.to_period("Q").astype("str")
        groups["cohort"] = first.fillna(_UNKNOWN).to_numpy()
    else:
        groups["cohort"] = _UNKNOWN
    return groups


def _lookup(groups: pd.DataFrame, table: pd.DataFrame | None, column: str) -> np.ndarray:
    if table is None or column not in table.columns:
        return np.full(len(groups), _UNKNOWN, dtype=object)
    # a repeated customer_id takes its first row, as drop_duplicates would
    mapped = take(
        table[column].astype("str"), positions(groups["customer_id"], table["customer_id"])
    )
    return mapped.where(mapped.notna() & (mapped != ""), _UNKNOWN).to_numpy(dtype=object)


def clv_artifact(
    values: pd.DataFrame, groups: pd.DataFrame, *, model: ModelChoice | None = None
) -> pd.DataFrame:
    """The ``clv`` artifact: one row per customer, the values with their groups.

    Keeps every column of ``values`` (customer_id, p_alive, expected purchases and spend over
    the horizon, clv, expected_next_order_date) plus the groups; the units of each column are
    in ``attrs["units"]`` and are also written to the artifact's metadata by the caller. With
    ``model`` (the :class:`crmlib.clv.choice.ModelChoice` the values come from), ``attrs`` also
    say where the values come from for the stages that read them: ``model_name``,
    ``fallback`` (the step, "" when none) and ``fallback_reason``.
    """
    table = values.merge(groups, on="customer_id", how="left", validate="one_to_one")
    table.attrs = dict(values.attrs)
    if model is not None:
        table.attrs.update(
            {
                "model_name": model.model.label,
                "fallback": (model.fallback or {}).get("step", ""),
                "fallback_reason": (model.fallback or {}).get("reason", ""),
            }
        )
    return table


def pool_groups(groups: pd.DataFrame, *, by: str, min_cell_size: int) -> pd.DataFrame:
    """The groups of :func:`value_groups` with the small groups of ``by`` pooled into ``(other)``.

    Transforms *groups* (one row per customer: ``customer_id`` and ``by``) into the same rows
    where every group of ``by`` with fewer than ``min_cell_size`` customers, and the smallest
    others needed to make ``(other)`` at least that large and at least two groups, is labelled
    ``"(other)"`` (:meth:`crmlib.privacy.SmallCells.pool_labels`). Give it to
    :func:`crmlib.clv.clv_intervals` so the pooled group gets its own interval from its
    customers.

    Examples
    --------
    >>> groups = pd.DataFrame({"customer_id": list("abcdefghijklmn"),
    ...                        "channel": ["web"] * 10 + ["tv"] * 3 + ["app"]})
    >>> pool_groups(groups, by="channel", min_cell_size=3)["channel"].value_counts().to_dict()
    {'web': 10, '(other)': 4}
    """
    require_columns(groups, ["customer_id", by], table_name="groups")
    out = groups.copy()
    out[by] = SmallCells(min_cell_size).pool_labels(groups[by]).to_numpy()
    return out


def clv_metrics(
    *,
    values: pd.DataFrame,
    choice: ModelChoice,
    final: ModelChoice,
    spend: ModelChoice,
    holdout: Mapping[str, Any],
    top_decile: float,
    valuation: Valuation,
    conclusion: str,
    by_channel: pd.DataFrame | None = None,
    sensitivity_range: Sequence[float] | None = None,
) -> dict[str, Any]:
    """``metrics.json["clv"]``: the model used, every model tried, the fallback, holdout, CLV.

    ``model``/``parameters``/``log_likelihood``/``converged`` describe the model the CLV
    uses (``final``: the calibration choice refitted on all data; ``log_likelihood`` and
    ``converged`` are null for the empirical CLV, which is not a fit); ``fallback`` is None
    when a candidate converged at every step, else ``{"step": "penalized_refit" | "nbd" |
    "empirical", "reason": words}`` (the refit's, else the calibration's);
    ``spend_fallback`` likewise for the spend model (``"observed_spend"``); ``comparison``
    one record per model tried on the calibration period (every candidate, and the
    fallbacks tried) with its parameters, log-likelihood, convergence, eligibility and
    holdout errors; the valuation settings (``valuation``: horizon, discount rate, margin,
    unit). Counts, parameters and aggregates only; never a customer id.
    """
    used = final.model
    fitted = used.name != "empirical"
    metrics: dict[str, Any] = {
        "conclusion": conclusion,
        "model": used.name,
        "model_name": used.label,
        "calibration_model": choice.chosen,
        "unit": valuation.unit,
        "parameters": {k: float(v) for k, v in used.params.items()},
        "log_likelihood": to_jsonable(used.log_likelihood) if fitted else None,
        "converged": bool(used.converged) if fitted else None,
        "fallback": dict(final.fallback or choice.fallback or {}) or None,
        "spend_model": spend.chosen,
        "spend_parameters": {k: float(v) for k, v in spend.model.params.items()},
        "spend_fallback": dict(spend.fallback) if spend.fallback else None,
        "holdout": {k: to_jsonable(v) for k, v in holdout.items()},
        "comparison": comparison_records(choice),
        "customers": int(len(values)),
        "clv_total": float(values["clv"].sum()),
        "clv_mean": float(values["clv"].mean()) if len(values) else None,
        "top_decile_share": float(top_decile),
        "horizon_months": int(valuation.horizon_months),
        "annual_discount_rate": float(valuation.annual_discount_rate),
        "margin": float(valuation.margin),
    }
    if by_channel is not None:
        metrics["by_channel"] = {
            str(row[0]): to_jsonable(row[1])
            for row in by_channel[[by_channel.columns[0], "clv_mean"]].itertuples(index=False)
        }
    if sensitivity_range is not None:
        metrics["sensitivity_total_range"] = [float(v) for v in sensitivity_range]
    return metrics
