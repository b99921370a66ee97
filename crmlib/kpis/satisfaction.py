"""Customer satisfaction: NPS and CSAT by group and over time with intervals, and repeat purchase
after an NPS answer.

Reads the optional contract table ``surveys`` (one row per answer: *customer_id, response_ts,
survey* ``'nps'`` | ``'csat'``, *score*: NPS 0–10, CSAT 1–5). The counting is SQL
(``crmlib/sql/kpis_satisfaction*.sql``); the scores and intervals are computed here from one row
per group.

Conventions
-----------
- **One answer per customer:** within each period counted (the window of the splits, or one
  month of the time series), a customer counts once per survey type, with their latest answer
  (ties at the same second: the lower score). Someone answering twice never counts twice.
- **NPS** = % promoters (9–10) − % detractors (0–6), in points (−100 to +100). Its 95 %
  interval is the normal interval of the difference of two multinomial shares,
  var = (p_P + p_D − (p_P − p_D)²) / n (Engelhardt 2016), clipped to [−100, 100].
- **CSAT** = share of 4–5 answers (top-two-box), with a Wilson interval; and the mean score with
  a normal interval (sample standard deviation).
- **Repeat purchase after an answer:** for each NPS group, the share of respondents who bought
  again within ``window_days`` after their latest answer (strictly after it), Wilson interval;
  only answers at least ``window_days`` before the end of ``as_of_date`` count, so that every
  window is fully observed.
- **Privacy:** a group of fewer than ``min_cell_size`` respondents shows no score
  (:class:`crmlib.privacy.SmallCells`): in tables small groups are pooled into "(other)", a
  period of the time series is not drawn, a sentence does not state it.

References
----------
Reichheld, F. F. (2003). The one number you need to grow. *Harvard Business Review* 81(12).
Engelhardt, A. (2016). Net Promoter Score confidence intervals 2: maths and stats. CYBAEA.
Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
*JASA* 22(158), 209–212.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from crmlib.checks import require_columns, require_view
from crmlib.engine import Engine
from crmlib.facts import purchase_facts
from crmlib.formatting import Column, Sentence, format_percent, present, signed_points
from crmlib.intervals import wilson_interval
from crmlib.periods import as_date, check_period, exclusive_end, period_spine
from crmlib.plotting import note_on_axes, percent_axis
from crmlib.privacy import HIDDEN, MIN_CELL_SIZE, OTHER, SmallCells

__all__ = [
    "SURVEY_TYPES",
    "SATISFACTION_SPLITS",
    "NPS_GROUPS",
    "Satisfaction",
    "nps_interval",
    "satisfaction_by_group",
    "latest_responses",
    "retention_by_nps_group",
    "satisfaction_report",
    "satisfaction_metrics",
    "satisfaction_table",
    "retention_table",
    "describe_satisfaction",
    "plot_nps_over_time",
    "plot_satisfaction_over_time",
    "plot_retention_by_nps",
]

log = logging.getLogger(__name__)

#: The survey types of the ``surveys`` table.
SURVEY_TYPES: tuple[str, ...] = ("nps", "csat")
#: The splits of :func:`satisfaction_by_group`; ``period`` is the time series.
SATISFACTION_SPLITS: tuple[str, ...] = (
    "overall", "acquisition_channel", "cohort", "segment", "period",
)  # fmt: skip
#: NPS groups, in the order pages show them.
NPS_GROUPS: tuple[str, ...] = ("promoter", "passive", "detractor")

_SURVEY_COLUMNS = ("customer_id", "response_ts", "survey", "score")
_COUNTS = ("respondents", "promoters", "passives", "detractors", "top_two")
_SUMS = (*_COUNTS, "score_sum", "score_squares")
_ALL = "all respondents"
_UNKNOWN = "(unknown)"
_SPLIT_HEADERS = {
    "overall": "All respondents",
    "acquisition_channel": "Acquisition channel",
    "cohort": "Acquisition cohort",
    "segment": "RFM segment",
    "period": "Month of answer",
}
_NO_GROUPS = (
    "(SELECT CAST(NULL AS VARCHAR) AS customer_id, CAST(NULL AS VARCHAR) AS group_label "
    "WHERE FALSE)"
)


def _z(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level={level!r}: expected a probability in (0, 1), e.g. 0.95")
    return float(stats.norm.ppf(0.5 + level / 2))


def nps_interval(
    promoters: Any, detractors: Any, respondents: Any, *, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NPS in points with its normal interval, from counts of promoters, detractors and respondents.

    NPS = 100 (p_P − p_D); var = 100² (p_P + p_D − (p_P − p_D)²) / n, the variance of the mean
    of +1 / 0 / −1 scores under multinomial sampling; the interval is NPS ± z·sd clipped to
    [−100, 100]. NaN where there are no respondents.

    Examples
    --------
    Engelhardt (2016): with a third each of promoters and detractors the 95 % interval is about
    ±160/√n points, ±16 points on 100 answers:

    >>> nps, low, high = nps_interval(100, 100, 300)
    >>> float(nps), round(float(high - nps), 2)
    (0.0, 9.24)
    >>> nps, low, high = nps_interval([50], [20], [100])
    >>> float(nps[0]), round(float(low[0]), 1), round(float(high[0]), 1)
    (30.0, 14.7, 45.3)
    """
    z = _z(level)
    n = np.asarray(respondents, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_p = np.asarray(promoters, dtype=float) / n
        p_d = np.asarray(detractors, dtype=float) / n
        score = p_p - p_d
        sd = np.sqrt(np.maximum(p_p + p_d - score**2, 0.0) / n)
    nps = np.where(n > 0, 100 * score, np.nan)
    low = np.where(n > 0, np.clip(100 * (score - z * sd), -100, 100), np.nan)
    high = np.where(n > 0, np.clip(100 * (score + z * sd), -100, 100), np.nan)
    return nps, low, high


def _scored(counts: pd.DataFrame, *, level: float = 0.95) -> pd.DataFrame:
    """The counts of :data:`_SUMS` per row with NPS, CSAT and mean score and their intervals."""
    out = counts.copy()
    n = out["respondents"].astype("float64")
    out["nps"], out["nps_low"], out["nps_high"] = nps_interval(
        out["promoters"], out["detractors"], n, level=level
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        out["promoter_share"] = np.where(n > 0, out["promoters"] / n, np.nan)
        out["detractor_share"] = np.where(n > 0, out["detractors"] / n, np.nan)
        out["csat"] = np.where(n > 0, out["top_two"] / n, np.nan)
        out["csat_low"], out["csat_high"] = wilson_interval(out["top_two"], n, level=level)
        mean = out["score_sum"] / n
        variance = (out["score_squares"] - n * mean**2) / (n - 1)
        half = _z(level) * np.sqrt(np.maximum(variance, 0.0) / n)
    out["mean_score"] = np.where(n > 0, mean, np.nan)
    out["mean_low"] = np.where(n > 1, mean - half, np.nan)
    out["mean_high"] = np.where(n > 1, mean + half, np.nan)
    if "survey" in out.columns:  # a survey's scores only on its own rows
        for survey, columns in _OWN_SCORES.items():
            for column in columns:
                out[column] = out[column].where(out["survey"] == survey)
    return out


def _has_surveys(engine: Engine, surveys: str, missing: str) -> bool:
    if missing not in ("raise", "skip"):
        raise ValueError(f"missing={missing!r}: expected 'raise' or 'skip'")
    if missing == "skip" and not engine.has_table(surveys):
        log.info("no %s table: satisfaction skipped", surveys)
        return False
    require_view(engine, surveys, _SURVEY_COLUMNS, producer="01_ingest")
    return True


def _check_survey(survey: str) -> None:
    if survey not in SURVEY_TYPES:
        raise ValueError(f"survey={survey!r}: expected one of {SURVEY_TYPES}")


def satisfaction_by_group(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    survey: str = "nps",
    by: str = "overall",
    window_days: int | None = 365,
    period: str = "month",
    cohort_period: str = "quarter",
    segments: pd.DataFrame | None = None,
    surveys: str = "surveys",
    customers: str = "customers",
    transactions: str = "transactions",
    level: float = 0.95,
) -> pd.DataFrame:
    """NPS and CSAT counts, scores and intervals per group of respondents (SQL, one row per group).

    Transforms *surveys* (one row per answer, a view on ``engine``) into one row per group:
    *split, group, period_start, period_label, survey, respondents, promoters, passives,
    detractors, top_two, score_sum, score_squares* and the scores of :func:`_scored`
    (*nps, nps_low, nps_high* in points; *promoter_share, detractor_share*; *csat, csat_low,
    csat_high* shares; *mean_score, mean_low, mean_high*). Each customer counts once per
    period: their latest answer of ``survey`` in it. No small-cell rule here: the tables,
    charts and sentences apply it.

    Parameters
    ----------
    engine : Engine
        With ``surveys`` registered; ``customers`` for the channel split, ``transactions`` for
        the cohort split.
    as_of_date : date or str
        Last day covered (inclusive).
    survey : {"nps", "csat"}
    by : {"overall", "acquisition_channel", "cohort", "segment", "period"}
        ``cohort``: the ``cohort_period`` of the customer's first purchase (the shared purchase
        facts); ``segment``: the ``segment`` column of ``segments``; ``period``: the
        ``period`` of the answer, every period from the first answer to ``as_of_date``
        (periods without answers have 0 respondents).
    window_days : int or None, default 365
        Splits other than ``period`` count answers from the last ``window_days`` days up to
        ``as_of_date``; None: every answer. The time series always covers every period.
    segments : pd.DataFrame, optional
        One row per customer: *customer_id, segment* (04_segments' ``rfm``); needed for
        ``by="segment"``.

    Returns
    -------
    pd.DataFrame
        One row per group (per period for ``by="period"``), in label order.
    """
    _check_survey(survey)
    if by not in SATISFACTION_SPLITS:
        raise ValueError(f"by={by!r}: expected one of {SATISFACTION_SPLITS}")
    check_period(period)
    check_period(cohort_period)
    as_of = as_date(as_of_date)
    require_view(engine, surveys, _SURVEY_COLUMNS, producer="01_ingest")
    end_ts = exclusive_end(as_of)
    start_ts = (
        dt.datetime(1900, 1, 1)
        if by == "period" or window_days is None
        else end_ts - dt.timedelta(days=int(window_days))
    )
    params = {
        "survey": survey,
        "period": period,
        "by_period": 1 if by == "period" else 0,
        "start_ts": start_ts,
        "end_ts": end_ts,
        "unknown_label": _ALL if by in ("overall", "period") else _UNKNOWN,
        "cohort_period": cohort_period,
    }
    if by == "acquisition_channel":
        require_view(
            engine, customers, ("customer_id", "acquisition_channel"), producer="01_ingest"
        )
        groups = (
            f"(SELECT customer_id, CAST(acquisition_channel AS VARCHAR) AS group_label "
            f"FROM {customers} WHERE acquisition_channel IS NOT NULL)"
        )
        counts = _count(engine, surveys, groups, params)
    elif by == "cohort":
        with purchase_facts(engine, transactions=transactions) as facts:
            groups = (
                "(SELECT customer_id, CAST(CAST(date_trunc($cohort_period, first_purchase_day) "
                f"AS DATE) AS VARCHAR) AS group_label FROM {facts['customer_facts']} "
                "WHERE first_purchase_day IS NOT NULL)"
            )
            counts = _count(engine, surveys, groups, params)
        counts["group_label"] = _cohort_labels(counts["group_label"], cohort_period)
    elif by == "segment":
        if segments is None:
            raise ValueError(
                "by='segment' needs segments= (one row per customer: customer_id, segment; "
                "04_segments' rfm artifact)"
            )
        require_columns(segments, ["customer_id", "segment"], table_name="segments")
        view = f"satisfaction_segments_{uuid.uuid4().hex[:12]}"
        engine.register(
            view,
            pd.DataFrame(
                {
                    "customer_id": segments["customer_id"].astype("str").to_numpy(),
                    "group_label": segments["segment"].astype("str").to_numpy(),
                }
            ).drop_duplicates("customer_id"),
        )
        try:
            counts = _count(engine, surveys, view, params)
        finally:
            engine.unregister(view)
    else:
        counts = _count(engine, surveys, _NO_GROUPS, params)
    counts = counts.rename(columns={"group_label": "group"})
    if by == "period":
        counts = _period_rows(counts, as_of=as_of, period=period)
    else:
        counts["period_label"] = (
            "all answers"
            if window_days is None
            else f"{(end_ts - dt.timedelta(days=int(window_days))).date()} to {as_of}"
        )
        counts = counts.sort_values("group", key=_unknown_last, kind="stable", ignore_index=True)
    counts.insert(0, "split", by)
    counts.insert(4, "survey", survey)
    return _scored(counts, level=level)


#: Scores that belong to one survey type only (the other's are null).
_OWN_SCORES = {
    "nps": ("nps", "nps_low", "nps_high", "promoter_share", "detractor_share"),
    "csat": ("csat", "csat_low", "csat_high"),
}


def _count(engine: Engine, surveys: str, groups: str, params: dict[str, Any]) -> pd.DataFrame:
    counts = engine.query(
        "kpis_satisfaction", params, identifiers={"surveys": surveys, "groups": groups}
    )
    counts[list(_COUNTS)] = counts[list(_COUNTS)].astype("int64")
    counts["group_label"] = counts["group_label"].astype("str")
    return counts


def _cohort_labels(starts: pd.Series, cohort_period: str) -> pd.Series:
    dates = pd.to_datetime(starts.where(starts != _UNKNOWN), errors="coerce")
    labels = [
        _UNKNOWN
        if pd.isna(day)
        else period_spine(day.date(), day.date(), period=cohort_period)["period_label"].iloc[0]
        for day in dates  # one per cohort
    ]
    return pd.Series(labels, index=starts.index, dtype="str")


def _unknown_last(values: pd.Series) -> pd.Series:
    return values.map(lambda v: (v in (_UNKNOWN, OTHER), str(v)))


def _period_rows(counts: pd.DataFrame, *, as_of: dt.date, period: str) -> pd.DataFrame:
    if counts.empty:
        spine = period_spine(as_of, as_of, period=period).iloc[:0]
    else:
        first = pd.Timestamp(counts["period_start"].min()).date()
        spine = period_spine(first, as_of, period=period)
    keyed = counts.assign(period_start=pd.to_datetime(counts["period_start"]).dt.date)
    table = spine.merge(keyed.drop(columns="group"), on="period_start", how="left")
    table[list(_SUMS)] = table[list(_SUMS)].fillna(0)
    table[list(_COUNTS)] = table[list(_COUNTS)].astype("int64")
    table.insert(1, "is_complete", table["period_end"] <= as_of)
    table.insert(0, "group", table["period_label"].astype("str"))
    return table.drop(columns="period_end")


def latest_responses(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    survey: str = "nps",
    surveys: str = "surveys",
    missing: Literal["raise", "skip"] = "raise",
) -> pd.DataFrame | None:
    """Each respondent's latest answer to ``survey`` up to ``as_of_date`` (SQL).

    Transforms *surveys* (one row per answer) into one row per customer: *customer_id,
    response_ts, score, nps_group* (``promoter`` 9–10, ``passive`` 7–8, ``detractor`` 0–6;
    null for CSAT). None without a ``surveys`` view when ``missing="skip"``.
    """
    _check_survey(survey)
    if not _has_surveys(engine, surveys, missing):
        return None
    latest = engine.query(
        "kpis_satisfaction_latest",
        {"survey": survey, "end_ts": exclusive_end(as_date(as_of_date))},
        identifiers={"surveys": surveys},
    )
    latest["customer_id"] = latest["customer_id"].astype("str")
    return latest


def retention_by_nps_group(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    window_days: int = 90,
    surveys: str = "surveys",
    transactions: str = "transactions",
    level: float = 0.95,
) -> pd.DataFrame:
    """Share of respondents who bought again within ``window_days`` after their NPS answer (SQL).

    Transforms *surveys* and *transactions* into one row per NPS group (promoter, passive,
    detractor, in that order, a group without respondents has 0): *nps_group, respondents,
    bought_again, share, share_low, share_high* (Wilson), *window_days, last_response_date*.
    Each customer counts once, with their latest NPS answer dated at least ``window_days``
    before the end of ``as_of_date`` (so the whole window is observed); a purchase counts when
    it is strictly after the answer and at most ``window_days`` × 24 h later.
    """
    if window_days < 1:
        raise ValueError(f"window_days={window_days}: expected >= 1")
    as_of = as_date(as_of_date)
    require_view(engine, surveys, _SURVEY_COLUMNS, producer="01_ingest")
    require_view(
        engine, transactions, ("customer_id", "order_ts", "is_purchase"), producer="01_ingest"
    )
    end_ts = exclusive_end(as_of)
    last = end_ts - dt.timedelta(days=int(window_days))
    counts = engine.query(
        "kpis_satisfaction_retention",
        {"end_ts": end_ts, "last_response_ts": last, "window_seconds": int(window_days) * 86_400},
        identifiers={"surveys": surveys, "transactions": transactions},
    )
    table = (
        counts.set_index("nps_group")
        .reindex(list(NPS_GROUPS), fill_value=0)
        .rename_axis("nps_group")
        .reset_index()
    )
    table[["respondents", "bought_again"]] = table[["respondents", "bought_again"]].astype("int64")
    respondents = table["respondents"].astype("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        table["share"] = np.where(respondents > 0, table["bought_again"] / respondents, np.nan)
    table["share_low"], table["share_high"] = wilson_interval(
        table["bought_again"], respondents, level=level
    )
    table["window_days"] = int(window_days)
    table["last_response_date"] = last.date()
    return table


class Satisfaction(NamedTuple):
    """What :func:`satisfaction_report` returns: ``by_group`` (rows of :func:`satisfaction_by_group`
    for both surveys and every split asked for), ``over_time`` (the ``period`` split, both
    surveys), ``retention`` (:func:`retention_by_nps_group`), ``window_days`` (of the splits)
    and ``as_of_date``."""

    by_group: pd.DataFrame
    over_time: pd.DataFrame
    retention: pd.DataFrame
    window_days: int | None
    retention_window_days: int
    as_of_date: dt.date


def satisfaction_report(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    splits: Sequence[str] = ("overall", "acquisition_channel", "cohort"),
    window_days: int | None = 365,
    retention_window_days: int = 90,
    period: str = "month",
    cohort_period: str = "quarter",
    segments: pd.DataFrame | None = None,
    surveys: str = "surveys",
    customers: str = "customers",
    transactions: str = "transactions",
    missing: Literal["raise", "skip"] = "raise",
) -> Satisfaction | None:
    """Every satisfaction table a page shows, or None when the run has no ``surveys`` table.

    Runs :func:`satisfaction_by_group` for both surveys over ``splits`` (a split whose input is
    absent is left out: ``acquisition_channel`` without ``customers``, ``segment`` without
    ``segments``), the ``period`` time series and :func:`retention_by_nps_group`. With
    ``missing="skip"`` and no ``surveys`` view: None (the page says the section is skipped:
    :func:`describe_satisfaction`).
    """
    if not _has_surveys(engine, surveys, missing):
        return None
    kept = []
    for split in splits:  # a handful of splits, each one SQL query
        if split == "acquisition_channel" and not engine.has_table(customers):
            log.info("no %s table: satisfaction by acquisition channel skipped", customers)
        elif split == "segment" and segments is None:
            log.info("no segments given: satisfaction by RFM segment skipped")
        else:
            kept.append(split)
    common: dict[str, Any] = {
        "as_of_date": as_of_date,
        "period": period,
        "cohort_period": cohort_period,
        "segments": segments,
        "surveys": surveys,
        "customers": customers,
        "transactions": transactions,
    }
    by_group = pd.concat(
        [
            satisfaction_by_group(engine, survey=s, by=b, window_days=window_days, **common)
            for s in SURVEY_TYPES
            for b in kept
        ],
        ignore_index=True,
    )
    over_time = pd.concat(
        [satisfaction_by_group(engine, survey=s, by="period", **common) for s in SURVEY_TYPES],
        ignore_index=True,
    )
    retention = retention_by_nps_group(
        engine,
        as_of_date=as_of_date,
        window_days=retention_window_days,
        surveys=surveys,
        transactions=transactions,
    )
    return Satisfaction(
        by_group, over_time, retention, window_days, retention_window_days, as_date(as_of_date)
    )


def satisfaction_metrics(
    sat: Satisfaction | None, *, min_cell_size: int = MIN_CELL_SIZE
) -> dict[str, Any] | None:
    """``metrics.json["kpis"]["satisfaction"]``: overall NPS and CSAT with their intervals.

    None without surveys. ``nps`` (points, with ``nps_low`` and ``nps_high``) over
    ``nps_respondents``, ``csat`` (top-two-box share, with ``csat_low`` and ``csat_high``) over
    ``csat_respondents``, ``window_days``, ``nps_by_channel`` ({channel: nps, nps_low, nps_high,
    respondents}, channels of at least ``min_cell_size`` respondents only) and ``sentence``
    (:func:`describe_satisfaction`). A score on fewer than ``min_cell_size`` respondents is
    None, and so is its count.
    """
    if sat is None:
        return None
    rule = SmallCells(min_cell_size)
    overall = sat.by_group[sat.by_group["split"] == "overall"].set_index("survey")
    metrics: dict[str, Any] = {"window_days": sat.window_days}
    for survey in SURVEY_TYPES:
        row = overall.loc[survey] if survey in overall.index else pd.Series({"respondents": 0})
        shown = rule.shown(int(row["respondents"]))
        metrics[f"{survey}_respondents"] = int(row["respondents"]) if shown else None
        for name in (survey, f"{survey}_low", f"{survey}_high"):
            value = row.get(name) if shown else None
            metrics[name] = None if value is None or pd.isna(value) else float(value)
    channels = sat.by_group[
        (sat.by_group["split"] == "acquisition_channel") & (sat.by_group["survey"] == "nps")
    ]
    metrics["nps_by_channel"] = {
        str(row.group): {
            "nps": float(row.nps), "nps_low": float(row.nps_low),
            "nps_high": float(row.nps_high), "respondents": int(row.respondents),
        }
        for row in channels.itertuples(index=False)
        if rule.shown(int(row.respondents)) and not pd.isna(row.nps)
    }  # fmt: skip
    metrics["sentence"] = str(describe_satisfaction(sat, min_cell_size=min_cell_size))
    return metrics


# -- display ---------------------------------------------------------------------------------


def _pooled(rows: pd.DataFrame, rule: SmallCells) -> pd.DataFrame:
    """Rows of one split and survey with groups of fewer respondents than the limit pooled."""
    if rows["split"].iloc[0] == "overall":
        return rows
    pooled = rule.pool(rows, by="group", size="respondents", sums=list(_SUMS))
    pooled[list(_COUNTS)] = pooled[list(_COUNTS)].astype("int64")
    keep = pooled.drop(columns=[c for c in pooled.columns if c in _SCORE_COLUMNS])
    keep["split"] = rows["split"].iloc[0]
    keep["survey"] = rows["survey"].iloc[0]
    return _scored(keep)


_SCORE_COLUMNS = frozenset(
    {"nps", "nps_low", "nps_high", "promoter_share", "detractor_share", "csat", "csat_low",
     "csat_high", "mean_score", "mean_low", "mean_high"}
)  # fmt: skip


def _interval_text(low: Any, high: Any, *, percent: bool = False, decimals: int = 1) -> str:
    if pd.isna(low) or pd.isna(high):
        return HIDDEN
    if percent:
        return (
            f"{format_percent(low, decimals=decimals)} to {format_percent(high, decimals=decimals)}"
        )
    return f"{signed_points(low, decimals)} to {signed_points(high, decimals)}"


def _shown_rows(sat: Satisfaction, survey: str, min_cell_size: int) -> pd.DataFrame:
    rule = SmallCells(min_cell_size)
    rows = sat.by_group[sat.by_group["survey"] == survey]
    parts = [_pooled(part, rule) for _, part in rows.groupby("split", sort=False)]
    table = pd.concat(parts, ignore_index=True) if parts else rows
    return rule.hide(table, size="respondents", columns=sorted(_SCORE_COLUMNS))


def satisfaction_table(
    sat: Satisfaction | None, *, survey: str = "nps", min_cell_size: int = MIN_CELL_SIZE
) -> pd.DataFrame | Sentence:
    """NPS (or CSAT) by group for the page: one row per split and group, readable, as text.

    Rows: all respondents, then each split of :func:`satisfaction_report` (acquisition channel,
    cohort, segment), groups of fewer than ``min_cell_size`` respondents pooled into
    "(other)" (their counts add up; the pooled row's score is computed from them). NPS
    columns: respondents (customers), NPS in points with its 95 % interval, promoters and
    detractors (%); CSAT: respondents, top-two-box (%) with its Wilson interval, mean score
    (1–5) with its interval. Without surveys: the sentence of :func:`describe_satisfaction`.
    """
    _check_survey(survey)
    if sat is None:
        return Sentence(_skipped())
    table = _shown_rows(sat, survey, min_cell_size)
    if table.empty:
        return Sentence(f"No {survey.upper()} answers in the window: nothing to show.")
    table = table.assign(
        split=table["split"].map(_SPLIT_HEADERS),
        group=np.where(table["split"] == "overall", "", table["group"].astype("str")),
    )
    if survey == "nps":
        table["interval"] = [
            _interval_text(lo, hi)
            for lo, hi in zip(table["nps_low"], table["nps_high"], strict=True)
        ]
        table["nps_text"] = [HIDDEN if pd.isna(v) else signed_points(v) for v in table["nps"]]
        columns = {
            "respondents": Column("Customers answering", "customers"),
            "nps_text": Column("NPS", unit="points, −100 to +100"),
            "interval": Column("NPS 95% interval", unit="points"),
            "promoter_share": Column("Promoters, 9–10", "percent"),
            "detractor_share": Column("Detractors, 0–6", "percent"),
        }
    else:
        table["interval"] = [
            _interval_text(lo, hi, percent=True)
            for lo, hi in zip(table["csat_low"], table["csat_high"], strict=True)
        ]
        table["mean_interval"] = [
            _interval_text(lo, hi, decimals=2).replace("+", "")
            for lo, hi in zip(table["mean_low"], table["mean_high"], strict=True)
        ]
        columns = {
            "respondents": Column("Customers answering", "customers"),
            "csat": Column("Satisfied, 4–5", "percent"),
            "interval": Column("Satisfied 95% interval", unit="%"),
            "mean_score": Column("Mean score", "number", decimals=2, unit="1–5"),
            "mean_interval": Column("Mean score 95% interval", unit="1–5"),
        }
    shown = present(
        table,
        columns={"split": Column("Split"), "group": Column("Group"), **columns},
        index=["split", "group"],
        min_cell_size=min_cell_size,
    )
    return shown


def retention_table(
    sat: Satisfaction | None, *, min_cell_size: int = MIN_CELL_SIZE
) -> pd.DataFrame | Sentence:
    """Repeat purchase after an NPS answer for the page: one row per NPS group, as text.

    A group of fewer than ``min_cell_size`` respondents shows "<10" and no share.
    """
    if sat is None:
        return Sentence(_skipped())
    rule = SmallCells(min_cell_size)
    table = rule.hide(
        sat.retention, size="respondents", columns=["share", "share_low", "share_high"]
    )
    table = table.assign(
        nps_group=table["nps_group"].map(_GROUP_WORDS),
        interval=[
            _interval_text(lo, hi, percent=True)
            for lo, hi in zip(table["share_low"], table["share_high"], strict=True)
        ],
    )
    window = int(sat.retention_window_days)
    return present(
        table,
        columns={
            "nps_group": Column("NPS group"),
            "respondents": Column("Customers answering", "customers"),
            "share": Column(f"Bought again within {window} days", "percent"),
            "interval": Column("95% interval", unit="%"),
        },
        index="nps_group",
        min_cell_size=min_cell_size,
    )


_GROUP_WORDS = {
    "promoter": "Promoters (9–10)",
    "passive": "Passives (7–8)",
    "detractor": "Detractors (0–6)",
}


def _skipped() -> str:
    return (
        "*Section skipped:* this run has no `surveys` table (01_ingest found no surveys source "
        "in the params file), so customer satisfaction (NPS and CSAT) cannot be measured."
    )


def describe_satisfaction(
    sat: Satisfaction | None, *, min_cell_size: int = MIN_CELL_SIZE
) -> Sentence:
    """Markdown: the NPS and CSAT found, the channel gap, and what NPS says about buying again.

    A score on fewer than ``min_cell_size`` respondents is not stated; counts read "fewer than
    10 customers". Without surveys: one sentence saying the section is skipped.
    """
    if sat is None:
        return Sentence(_skipped())
    rule = SmallCells(min_cell_size)
    window = (
        "over all answers"
        if sat.window_days is None
        else f"over the {sat.window_days} days to {sat.as_of_date}"
    )
    parts: list[str] = []
    nps = _shown_rows(sat, "nps", min_cell_size)
    overall = nps[nps["split"] == "overall"]
    if overall.empty or overall["respondents"].iloc[0] == 0:
        parts.append(f"No customer answered the NPS question {window}.")
    elif pd.isna(overall["nps"].iloc[0]):
        parts.append(
            f"Fewer than {min_cell_size:,} customers answered the NPS question {window}: "
            "the score is not shown."
        )
    else:
        row = overall.iloc[0]
        parts.append(
            f"**NPS {signed_points(row['nps'])}** {window} (95% interval {signed_points(row['nps_low'])} to "
            f"{signed_points(row['nps_high'])}; {rule.phrase(int(row['respondents']))}, each counted "
            f"once with their latest answer; {format_percent(row['promoter_share'])} promoters, "
            f"{format_percent(row['detractor_share'])} detractors)."
        )
        parts.append(_channel_gap(nps))
    csat = _shown_rows(sat, "csat", min_cell_size)
    overall_csat = csat[csat["split"] == "overall"]
    if not overall_csat.empty and pd.notna(overall_csat["csat"].iloc[0]):
        row = overall_csat.iloc[0]
        parts.append(
            f"CSAT: **{format_percent(row['csat'])}** of {rule.phrase(int(row['respondents']))} "
            f"answered 4 or 5 (95% interval {_interval_text(row['csat_low'], row['csat_high'], percent=True)}), "
            f"mean score {row['mean_score']:.2f} of 5."
        )
    parts.append(_retention_words(sat, rule))
    return Sentence(" ".join(p for p in parts if p))


def _channel_gap(nps: pd.DataFrame) -> str:
    channels = nps[(nps["split"] == "acquisition_channel") & nps["nps"].notna()]
    channels = channels[~channels["group"].isin([OTHER, _UNKNOWN])]
    if len(channels) < 2:
        return ""
    best = channels.loc[channels["nps"].idxmax()]
    worst = channels.loc[channels["nps"].idxmin()]
    gap = best["nps"] - worst["nps"]
    half = _z(0.95) * np.hypot(_nps_se(best), _nps_se(worst))
    return (
        f"By acquisition channel it is highest for {best['group']} ({signed_points(best['nps'])}) and "
        f"lowest for {worst['group']} ({signed_points(worst['nps'])}): a gap of {gap:.1f} points "
        f"(95% interval {signed_points(gap - half)} to {signed_points(gap + half)}), "
        + ("more than chance would give." if gap - half > 0 else "which may be chance.")
    )


def _nps_se(row: pd.Series) -> float:
    """Standard error of one group's NPS, in points (the variance of :func:`nps_interval`)."""
    n = float(row["respondents"])
    p_p, p_d = row["promoters"] / n, row["detractors"] / n
    return float(100 * np.sqrt(max(p_p + p_d - (p_p - p_d) ** 2, 0.0) / n))


def _retention_words(sat: Satisfaction, rule: SmallCells) -> str:
    table = sat.retention.set_index("nps_group")
    window = sat.retention_window_days
    if table["respondents"].sum() == 0:
        return (
            f"No NPS answer is at least {window} days old yet, so repeat purchase after an "
            "answer cannot be measured."
        )
    shown = {
        g: table.loc[g]
        for g in ("promoter", "detractor")
        if not rule.is_small(table.loc[g, "respondents"]) and table.loc[g, "respondents"] > 0
    }
    if len(shown) < 2:
        return (
            f"Repeat purchase within {window} days of an answer is not compared: promoters or "
            f"detractors number fewer than {rule.min_cell_size:,} customers (or none)."
        )
    pro, det = shown["promoter"], shown["detractor"]
    gap = float(pro["share"] - det["share"])
    half = _z(0.95) * float(
        np.sqrt(
            pro["share"] * (1 - pro["share"]) / pro["respondents"]
            + det["share"] * (1 - det["share"]) / det["respondents"]
        )
    )
    difference = (
        f"a difference of {signed_points(100 * gap)} points (95% interval {signed_points(100 * (gap - half))} "
        f"to {signed_points(100 * (gap + half))})"
    )
    if gap - half > 0:
        verdict = f"promoters buy again more often, {difference}"
    elif gap + half < 0:
        verdict = f"detractors buy again more often, {difference}"
    else:
        verdict = f"{difference}, so the data do not show a clear difference"
    return (
        f"Within {window} days of their answer, {format_percent(pro['share'])} of promoters and "
        f"{format_percent(det['share'])} of detractors bought again: {verdict}. Only answers "
        f"given by {sat.retention['last_response_date'].iloc[0]} count, so that each has its "
        f"full {window} days observed."
    )


#: Per survey: the chart's score column, its title, axis label, y-range and whether it is a share.
_OVER_TIME = {
    "nps": ("nps", "Net Promoter Score", "NPS (points, −100 to +100)", (-100, 100), False),
    "csat": ("csat", "CSAT (share answering 4 or 5)", "Answered 4 or 5 (%)", (0, 1), True),
}


def plot_satisfaction_over_time(
    sat: Satisfaction | None,
    *,
    survey: str = "nps",
    min_cell_size: int = MIN_CELL_SIZE,
    periods_shown: int | None = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """NPS (or CSAT) per month of answer with its 95 % interval as a band; small months not drawn.

    A month with fewer than ``min_cell_size`` respondents (but some) is left out (a gap); the
    title says how many. Without surveys, the axis says the section is skipped.
    """
    _check_survey(survey)
    score, name, ylabel, ylim, share = _OVER_TIME[survey]
    ax = ax or plt.gca()
    if sat is None:
        return note_on_axes(ax, f"No surveys table: {survey.upper()} not measured")
    rows = sat.over_time[sat.over_time["survey"] == survey].reset_index(drop=True)
    if periods_shown is not None:
        rows = rows.iloc[-int(periods_shown) :].reset_index(drop=True)
    shown = SmallCells(min_cell_size).hide(
        rows, size="respondents", columns=[score, f"{score}_low", f"{score}_high"]
    )
    x = np.arange(len(shown))
    ax.fill_between(
        x, shown[f"{score}_low"], shown[f"{score}_high"], color="#1f5f99", alpha=0.18,
        label="95% interval",
    )  # fmt: skip
    ax.plot(x, shown[score], marker="o", markersize=3, color="#1f5f99", label=survey.upper())
    if not share:
        ax.axhline(0, color="#5f6b73", linewidth=0.8)
    labels = [
        label if done else f"{label} (partial)"
        for label, done in zip(shown["period_label"], shown["is_complete"], strict=True)
    ]
    step = max(1, int(np.ceil(len(labels) / 18)))
    ticks = list(range(len(labels)))[::-1][::step][::-1]
    ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=45, ha="right")
    hidden = int((shown[score].isna() & (rows["respondents"] > 0)).sum())
    title = f"{name} by month of answer, with its 95% interval"
    if hidden:
        title += (
            f"\nNot drawn: {hidden} month(s) with fewer than {min_cell_size:,} customers answering"
        )
    ax.set_title(title)
    ax.set(xlabel="Month of answer", ylabel=ylabel, ylim=ylim)
    if share:
        percent_axis(ax)
    ax.legend(loc="lower left", ncols=2)
    return ax


def plot_nps_over_time(
    sat: Satisfaction | None,
    *,
    min_cell_size: int = MIN_CELL_SIZE,
    periods_shown: int | None = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """NPS per month of answer with its 95 % interval (:func:`plot_satisfaction_over_time`)."""
    return plot_satisfaction_over_time(
        sat, survey="nps", min_cell_size=min_cell_size, periods_shown=periods_shown, ax=ax
    )


def plot_retention_by_nps(
    sat: Satisfaction | None, *, min_cell_size: int = MIN_CELL_SIZE, ax: plt.Axes | None = None
) -> plt.Axes:
    """Share who bought again within the window after their NPS answer, per NPS group, with
    Wilson intervals; a group of fewer than ``min_cell_size`` respondents is not drawn."""
    ax = ax or plt.gca()
    if sat is None:
        return note_on_axes(ax, "No surveys table: NPS not measured")
    table = SmallCells(min_cell_size).hide(
        sat.retention, size="respondents", columns=["share", "share_low", "share_high"]
    )
    x = np.arange(len(table))
    share = table["share"].fillna(0.0).to_numpy()
    errors = np.vstack(
        [
            (table["share"] - table["share_low"]).fillna(0.0).to_numpy(),
            (table["share_high"] - table["share"]).fillna(0.0).to_numpy(),
        ]
    )
    ax.bar(x, share, color=["#3a9d5d", "#5f6b73", "#c0392b"][: len(x)], width=0.6)
    ax.errorbar(x, share, yerr=errors, fmt="none", ecolor="#333333", capsize=4)
    ax.set_xticks(x, [_GROUP_WORDS[g] for g in table["nps_group"]])
    window = int(sat.retention_window_days)
    title = f"Customers who bought again within {window} days of their NPS answer"
    small = table["share"].isna() & (sat.retention["respondents"] > 0)
    if small.any():
        title += f"\nNot drawn: groups with fewer than {min_cell_size:,} customers answering"
    ax.set_title(title)
    ax.set(xlabel="NPS group (latest answer)", ylabel="Bought again (%)", ylim=(0, 1))
    percent_axis(ax)
    return ax
