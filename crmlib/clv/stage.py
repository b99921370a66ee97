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
from scipy import stats

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
    "NPS_VALUE_GROUPS",
    "value_by_nps_group",
    "acquisition_metrics",
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
    acquisition: Mapping[str, Any] | None = None,
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
    unit). With ``acquisition`` (:func:`acquisition_metrics`; None when 05 had no spend
    table): its ``cac_by_channel``, ``clv_to_cac`` and ``payback_months`` as keys too.
    Counts, parameters and aggregates only; never a customer id.
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
    if acquisition is not None:
        metrics.update({key: to_jsonable(value) for key, value in acquisition.items()})
    return metrics


#: The rows of :func:`value_by_nps_group`, in order: the NPS groups, then customers without an answer.
NPS_VALUE_GROUPS: tuple[str, ...] = ("promoter", "passive", "detractor", "no answer")


def value_by_nps_group(
    values: pd.DataFrame, responses: pd.DataFrame | None, *, level: float = 0.95
) -> pd.DataFrame | None:
    """Mean predicted CLV of promoters, passives, detractors and non-respondents, with intervals.

    Transforms *values* (one row per customer: ``customer_id, clv``) and *responses* (one row
    per respondent: ``customer_id, nps_group``, each customer's latest NPS answer, as from
    :func:`crmlib.kpis.latest_responses`) into one row per group of :data:`NPS_VALUE_GROUPS`:
    *nps_group, customers, clv_mean, clv_lower, clv_upper* (normal interval of the mean,
    mean ± z · sd / √n with the sample standard deviation; it describes which customers
    happened to answer, not the model's parameter uncertainty), *clv_total*. A respondent
    without a CLV (no purchase by the as-of date) is left out; a group without customers has
    NaN values. No small-cell rule here: :func:`crmlib.clv.nps_value_table` applies it.
    None (the run has no surveys table) passes through.

    Examples
    --------
    >>> values = pd.DataFrame({"customer_id": list("abcde"), "clv": [10.0, 20.0, 5.0, 1.0, 3.0]})
    >>> responses = pd.DataFrame({"customer_id": list("abc"),
    ...                           "nps_group": ["promoter", "promoter", "detractor"]})
    >>> value_by_nps_group(values, responses)[["nps_group", "customers", "clv_mean"]]
       nps_group  customers  clv_mean
    0   promoter          2      15.0
    1    passive          0       NaN
    2  detractor          1       5.0
    3  no answer          2       2.0
    """
    if responses is None:
        return None
    require_columns(values, ["customer_id", "clv"], table_name="clv")
    require_columns(responses, ["customer_id", "nps_group"], table_name="responses")
    lookup = responses.drop_duplicates("customer_id").set_index(
        responses["customer_id"].drop_duplicates().astype("str")
    )["nps_group"]
    groups = values["customer_id"].astype("str").map(lookup).fillna("no answer")
    frame = pd.DataFrame({"nps_group": groups.to_numpy(), "clv": values["clv"].to_numpy(float)})
    per_group = frame.groupby("nps_group")["clv"].agg(["size", "mean", "std", "sum"])
    table = per_group.reindex(list(NPS_VALUE_GROUPS))
    z = float(stats.norm.ppf(0.5 + level / 2))
    half = z * table["std"] / np.sqrt(table["size"])
    out = pd.DataFrame(
        {
            "nps_group": list(NPS_VALUE_GROUPS),
            "customers": table["size"].fillna(0).astype("int64").to_numpy(),
            "clv_mean": table["mean"].to_numpy(float),
            "clv_lower": (table["mean"] - half).to_numpy(float),
            "clv_upper": (table["mean"] + half).to_numpy(float),
            "clv_total": table["sum"].fillna(0.0).to_numpy(float),
        }
    )
    out.attrs["level"] = level
    return out


def acquisition_metrics(acquisition: Any, *, min_cell_size: int) -> dict[str, Any] | None:
    """``metrics.json["clv"]`` entries of the acquisition section: CAC and CLV:CAC per channel.

    From a :class:`crmlib.clv.acquisition.Acquisition` (None passes through): ``cac_by_channel``
    ({channel: CAC, or null when undefined or computed on fewer than ``min_cell_size`` new
    customers}), ``clv_to_cac`` (likewise) and ``payback_months`` (mean months to pay back per
    channel over the cohorts that did). Aggregates only.
    """
    if acquisition is None:
        return None
    rule = SmallCells(min_cell_size)

    def shown(value: Any, n: Any) -> float | None:
        return None if pd.isna(value) or not rule.shown(n) else float(value)

    channels = acquisition.by_channel
    metrics: dict[str, Any] = {
        "cac_by_channel": {
            str(row.channel): shown(row.cac, row.new_customers)
            for row in channels.itertuples(index=False)
        },
        "spend_total": float(channels["spend"].iloc[-1]) if len(channels) else 0.0,
        # the last row is all channels: the blended CAC (all spend over all new customers)
        "cac_blended": shown(channels["cac"].iloc[-1], channels["new_customers"].iloc[-1])
        if len(channels)
        else None,
    }
    if acquisition.clv_to_cac is not None:
        news = dict(zip(channels["channel"], channels["new_customers"], strict=True))
        metrics["clv_to_cac"] = {
            str(row.channel): shown(row.clv_to_cac, min(row.customers, news.get(row.channel, 0)))
            for row in acquisition.clv_to_cac.itertuples(index=False)
        }
    metrics["payback_months"] = {
        str(row.channel): shown(row.mean_payback_months, row.new_customers)
        for row in acquisition.payback_by_channel.itertuples(index=False)
    }
    return metrics
