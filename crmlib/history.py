"""Since the last report: this run's headline figures against the previous good run's.

The runner keeps the good runs that a run replaces in ``outputs/<run_name>.history/``, one folder
per run named by when it finished, without 01_ingest's order-level tables (``runner.keep_runs``,
:mod:`crmlib.runner`). :func:`last_report` finds, for a run being built or rerun by hand, the
newest of those good runs whose ``as_of_date`` is earlier than this run's: the report a
stakeholder read last. A rerun at the same date is not a "last report" (it would show no change),
so it is passed over.

Each stage compares a few of its headline figures (:data:`STAGE_FIGURES`, read from
``metrics.json`` of both runs) and says what moved in one sentence, which the front page
gathers into "What changed since the last report". Some stages add a comparison of their own
artifacts: 02 the figures of earlier periods that the new data restated, 05 the change of the
customers' value split into customers known then and customers new since, 07 the experiments
that are new or whose verdict changed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from crmlib.formatting import MINUS, Column, format_figure, present, signed_points
from crmlib.io import RunFolder, history_folder, read_json
from crmlib.periods import as_date
from crmlib.privacy import HIDDEN, MIN_CELL_SIZE, SmallCells

__all__ = [
    "Figure",
    "LastReport",
    "SinceLast",
    "STAGE_FIGURES",
    "last_report",
    "compare",
    "record",
    "since_last",
    "since_last_table",
    "describe_since_last",
    "with_since_last",
    "restated_periods",
    "clv_change",
    "verdict_changes",
    "describe_segment_sizes",
    "describe_segment_moves",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Figure:
    """One headline figure of a stage: its words, where it is in ``metrics[section]``, its kind.

    ``kind``: ``customers`` (a count of customers: the small-cell rule), ``count`` (rows,
    orders, experiments), ``rate`` (a share: changes in percentage points), ``money``, or
    ``number`` (a ratio such as the quick ratio), or ``points`` (a score in points, such as
    NPS: one decimal, signed).
    """

    label: str
    path: tuple[str, ...]
    kind: str = "count"


#: The figures each stage compares with the last report (absent ones are left out).
STAGE_FIGURES: Mapping[str, tuple[Figure, ...]] = {
    "ingest": (
        Figure("Transaction rows read", ("rows_read",)),
        Figure("Transaction rows rejected", ("rows_rejected",)),
        Figure("Share of rows rejected", ("reject_share",), "rate"),
        Figure("Customers", ("customers",), "customers"),
        Figure("Orders", ("orders",)),
        Figure("Net revenue accepted", ("revenue_accepted",), "money"),
    ),
    "kpis": (
        Figure("Latest complete period", ("latest_complete_period",), "text"),
        Figure("Active customers", ("latest", "active_customers"), "customers"),
        Figure("Retention rate", ("latest", "retention_rate"), "rate"),
        Figure("Net revenue", ("latest", "revenue"), "money"),
        Figure("Average order value", ("latest", "aov"), "money"),
        Figure("Repeat-purchase rate", ("latest", "repeat_purchase_rate"), "rate"),
        Figure(
            "Customers with a purchase, all time",
            ("totals", "customers_with_a_purchase"),
            "customers",
        ),
        Figure("NPS (last 365 days)", ("satisfaction", "nps"), "points"),
        Figure("CSAT (share answering 4 or 5)", ("satisfaction", "csat"), "rate"),
    ),  # fmt: skip
    "cohorts": (
        Figure("Latest cohort", ("cohorts", "last"), "text"),
        Figure(
            "3-period retention of recent cohorts",
            ("recent_retention", "3", "recent_retention"),
            "rate",
        ),
        Figure("Active customers (lifecycle)", ("lifecycle", "active"), "customers"),
        Figure("Lost customers (lifecycle)", ("lifecycle", "lost"), "customers"),
        Figure("Quick ratio", ("lifecycle", "quick_ratio"), "number"),
    ),  # fmt: skip
    "segments": (
        Figure("Customers", ("customers",), "customers"),
        Figure("Largest segment", ("largest_segment",), "text"),
        Figure("Customers exported to campaigns", ("exported_customers",), "customers"),
    ),
    "clv": (
        Figure("Customers valued", ("customers",), "customers"),
        Figure("Customer value, next 12 months", ("clv_total",), "money"),
        Figure("Mean value per customer", ("clv_mean",), "money"),
        Figure("Share of value in the top 10%", ("top_decile_share",), "rate"),
        Figure("Acquisition cost per new customer (all channels)", ("cac_blended",), "money"),
        Figure("Model", ("model_name",), "text"),
    ),
    "churn": (
        Figure("Active customers scored", ("customers", "scored"), "customers"),
        Figure("Value at risk", ("value_at_risk",), "money"),
        Figure("Model", ("model",), "text"),
    ),
    "ab_test": (
        Figure("Experiments", ("experiments",), "count"),
        Figure("Variants ready to ship", ("verdicts", "ship"), "count"),
        Figure("Variants inconclusive", ("verdicts", "inconclusive"), "count"),
        Figure("Variants not to ship", ("verdicts", "do not ship"), "count"),
    ),
}


# -- finding the last report -------------------------------------------------------------------
@dataclass(frozen=True)
class LastReport:
    """A good run of the same name with an earlier ``as_of_date``: the last report read."""

    root: Path
    as_of_date: dt.date
    finished: str | None
    metrics: Mapping[str, Any] = field(repr=False)

    def stage(self, section: str) -> Mapping[str, Any]:
        """``metrics.json[section]`` of that run (empty when the stage did not run)."""
        value = self.metrics.get(section)
        return value if isinstance(value, Mapping) else {}

    def read_table(self, name: str, columns: Sequence[str]) -> pd.DataFrame | None:
        """``columns`` of that run's artifact ``name``; None when absent or without them."""
        path = self.root / "data" / f"{name}.parquet"
        if not path.is_file() or not set(columns) <= set(pq.read_schema(path).names):
            return None
        return pd.read_parquet(path, columns=list(columns))


def _earlier_runs(run: RunFolder) -> list[Path]:
    """The folders that may hold the last report, newest first.

    Inside a build the finished folder (:meth:`RunFolder.previous_root`) is the last good run,
    then its history; a run folder rerun by hand is itself, so only its history.
    """
    final = run.previous_root()
    history = history_folder(final)
    kept = (
        sorted((p for p in history.iterdir() if p.is_dir() and not p.name.startswith(".")),
               reverse=True)
        if history.is_dir()
        else []
    )  # fmt: skip
    return [final, *kept] if final != run.root else kept


def last_report(run: RunFolder, *, as_of_date: dt.date | str) -> LastReport | None:
    """The newest good run of ``run``'s name with an ``as_of_date`` before ``as_of_date``.

    Returns None when there is none (a first run, ``runner.keep_runs`` 1, or only reruns at
    the same date); a run whose ``run.json`` or ``metrics.json`` cannot be read is passed over.
    """
    as_of = as_date(as_of_date)
    for folder in _earlier_runs(run):
        try:
            record = read_json(folder / "run.json")
            their = as_date(record["params"]["as_of_date"])
            metrics = read_json(folder / "metrics.json")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.debug("not a last report: %s (%s)", folder, exc)
            continue
        if record.get("status") == "ok" and their < as_of and isinstance(metrics, dict):
            return LastReport(folder, their, record.get("finished"), metrics)
    return None


# -- comparing the figures ---------------------------------------------------------------------
@dataclass(frozen=True)
class SinceLast:
    """A stage's figures now and at the last report (``last`` None: nothing to compare)."""

    section: str
    as_of_date: dt.date
    last: LastReport | None
    figures: pd.DataFrame  # label, kind, then, now

    @property
    def last_as_of(self) -> str | None:
        return None if self.last is None else self.last.as_of_date.isoformat()


def _at(metrics: Mapping[str, Any], path: Iterable[str]) -> Any:
    value: Any = metrics
    for key in path:
        if isinstance(value, Mapping) and key in value:
            value = value[key]
        elif isinstance(value, Mapping) and key.isdigit() and int(key) in value:
            value = value[int(key)]
        else:
            return None
    if isinstance(value, Mapping):  # a mapping counts its entries (experiments)
        return len(value)
    return value


def since_last(
    section: str,
    metrics: Mapping[str, Any],
    last: LastReport | None,
    *,
    as_of_date: dt.date | str,
) -> SinceLast:
    """The stage's :data:`STAGE_FIGURES` in this run's ``metrics`` and in the last report's.

    A figure neither run has is left out; a figure only one run has reads "–" in the other.
    """
    then = last.stage(section) if last is not None else {}
    rows = []
    for figure in STAGE_FIGURES[section]:
        now_value, then_value = _at(metrics, figure.path), _at(then, figure.path)
        if now_value is None and then_value is None:
            continue
        rows.append({"label": figure.label, "kind": figure.kind, "then": then_value,
                     "now": now_value})  # fmt: skip
    figures = pd.DataFrame(rows, columns=["label", "kind", "then", "now"])
    return SinceLast(section, as_date(as_of_date), last, figures)


def _numeric(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _shown(value: Any, kind: str, *, currency: str, rule: SmallCells) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return HIDDEN
    if kind == "text":
        return str(value)
    if kind == "customers":
        return rule.count(value)
    if kind == "number":
        return f"{float(value):,.2f}".replace("-", MINUS)
    if kind == "points":
        return signed_points(value)
    return format_figure(value, kind, currency)


def _signed(number: float, text: str) -> str:
    return ("+" if number > 0 else MINUS if number < 0 else "\u00b1") + text


def _change(then: Any, now: Any, kind: str, *, currency: str, rule: SmallCells) -> str:
    """The change as a page reads it: ``+1.2 pp``, ``+35, +2.1%``, ``changed``, or "–"."""
    if kind == "text":
        return HIDDEN if then is None or now is None else ("same" if then == now else "changed")
    a, b = _numeric(then), _numeric(now)
    if a is None or b is None:
        return HIDDEN
    if kind == "customers" and not (rule.shown(a) and rule.shown(b)):
        return HIDDEN  # a difference of two counts would reveal a small one
    if kind == "rate":
        return _signed(round(b - a, 4), f"{abs(b - a) * 100:.1f} pp")
    if kind == "number":
        return _signed(round(b - a, 2), f"{abs(b - a):,.2f}")
    if kind == "points":
        return _signed(round(b - a, 1), f"{abs(b - a):.1f} points")
    step = format_figure(abs(b - a), "money" if kind == "money" else "count", currency)
    relative = f", {_signed(round(b / a - 1, 3), f'{abs(b / a - 1):.1%}')}" if a else ""
    return _signed(round(b - a, 2), step) + relative


def since_last_table(
    changes: SinceLast, *, currency: str, min_cell_size: int = MIN_CELL_SIZE
) -> pd.DataFrame | None:
    """The figures at the last report and now, with their change; None without a last report.

    Counts of customers follow the small-cell rule ("<10"), and the change of a hidden count
    is hidden too. Rates change in percentage points, counts and money by amount and percent.
    """
    if changes.last is None or changes.figures.empty:
        return None
    rule = SmallCells(min_cell_size)
    rows = changes.figures
    body = pd.DataFrame({
        "figure": rows["label"],
        "then": [_shown(v, k, currency=currency, rule=rule) for v, k in zip(rows["then"], rows["kind"], strict=True)],
        "now": [_shown(v, k, currency=currency, rule=rule) for v, k in zip(rows["now"], rows["kind"], strict=True)],
        "change": [_change(a, b, k, currency=currency, rule=rule)
                   for a, b, k in zip(rows["then"], rows["now"], rows["kind"], strict=True)],
    })  # fmt: skip
    columns = {
        "figure": Column("Figure"),
        "then": Column(f"Last report (as of {changes.last_as_of})"),
        "now": Column(f"This report (as of {changes.as_of_date.isoformat()})"),
        "change": Column("Change"),
    }
    return present(body, columns=columns, index="figure")


def describe_since_last(
    changes: SinceLast, *, currency: str, min_cell_size: int = MIN_CELL_SIZE, extra: str = ""
) -> str:
    """One or two sentences: what moved most since the last report, or why nothing is compared.

    ``extra``: a sentence of the stage's own comparison (restated periods, value of new
    customers, verdict changes), appended.
    """
    if changes.last is None:
        return (
            "No earlier report of this run is kept with an as-of date before "
            f"{changes.as_of_date.isoformat()}, so there is nothing to compare with yet (the "
            "runner keeps the last `runner.keep_runs` good runs)."
        )
    rule = SmallCells(min_cell_size)
    parts = []
    for row in changes.figures.itertuples():
        if row.kind == "text" or row.then is None or row.now is None:
            continue
        change = _change(row.then, row.now, row.kind, currency=currency, rule=rule)
        if change != HIDDEN and not change.startswith("\u00b1"):
            now = _shown(row.now, row.kind, currency=currency, rule=rule)
            parts.append(f"{row.label[:1].lower()}{row.label[1:]} {now} ({change})")
    head = f"Since the last report (as of {changes.last_as_of}): "
    text = head + ("; ".join(parts[:4]) + "." if parts else "none of the headline figures moved.")
    return f"{text} {extra}".strip()


def compare(run: RunFolder, section: str, *, as_of_date: dt.date | str) -> SinceLast:
    """:func:`since_last` of the stage's figures as this run wrote them to ``metrics.json``."""
    current = run.read_metrics().get(section) or {}
    last = last_report(run, as_of_date=as_of_date)
    return since_last(section, current, last, as_of_date=as_of_date)


def record(run: RunFolder, changes: SinceLast, sentence: str) -> None:
    """Add ``since_last`` (:func:`with_since_last`) to the stage's entry of ``metrics.json``."""
    current = run.read_metrics().get(changes.section) or {}
    run.write_metrics(changes.section, with_since_last(current, changes, sentence))


def with_since_last(
    metrics: Mapping[str, Any], changes: SinceLast, sentence: str
) -> dict[str, Any]:
    """``metrics`` with ``since_last``: the last report's as-of date and the sentence (front page)."""
    return {**metrics, "since_last": {"as_of_date": changes.last_as_of, "sentence": sentence}}


# -- the stages' own comparisons ---------------------------------------------------------------
_RESTATED = ("active_customers", "retention_rate", "revenue")


def restated_periods(
    kpis: pd.DataFrame, last: LastReport | None, *, tolerance: float = 1e-9
) -> pd.DataFrame:
    """Complete periods of the last report whose KPIs differ in this run (data restated).

    Transforms this run's ``kpis_by_period`` and the last report's into one row per period
    complete in both with a changed active-customer count, retention rate or net revenue
    (late orders, refunds, corrections in the source): ``period_label`` and, per KPI,
    ``<kpi>_then`` and ``<kpi>_now``. Empty when nothing changed or there is no last report.
    """
    columns = ["period_label", *[f"{k}_{w}" for k in _RESTATED for w in ("then", "now")]]
    wanted = ["period_label", "is_complete", *_RESTATED]
    then = last.read_table("kpis_by_period", wanted) if last is not None else None
    if then is None:
        return pd.DataFrame(columns=columns)
    both = then[then["is_complete"]].merge(
        kpis.loc[kpis["is_complete"], wanted], on="period_label", suffixes=("_then", "_now")
    )
    changed = np.zeros(len(both), dtype=bool)
    for key in _RESTATED:
        a, b = both[f"{key}_then"].astype("float64"), both[f"{key}_now"].astype("float64")
        differs = ~np.isclose(a, b, rtol=tolerance, atol=tolerance) & ~(a.isna() & b.isna())
        changed |= differs.to_numpy()
    return both.loc[changed, columns].reset_index(drop=True)


def describe_restated(restated: pd.DataFrame, last: LastReport | None, *, currency: str) -> str:
    """A sentence on the restated periods ("" without a last report)."""
    if last is None:
        return ""
    if restated.empty:
        return "No figure of a period reported last time has changed."
    first = restated.iloc[0]
    periods = "1 period" if len(restated) == 1 else f"{len(restated)} periods"
    verb = "has" if len(restated) == 1 else "have"
    return (
        f"{periods} reported last time {verb} different figures now (the data "
        f"were restated: late orders or refunds, corrections), e.g. {first['period_label']}: net "
        f"revenue {format_figure(first['revenue_then'], 'money', currency)} then, "
        f"{format_figure(first['revenue_now'], 'money', currency)} now."
    )


def clv_change(
    clv: pd.DataFrame, last: LastReport | None, *, currency: str, min_cell_size: int = MIN_CELL_SIZE
) -> str:
    """The change of total customer value, split exactly by who the customers are.

    change = (value now − value then of the customers in both reports) + value of the
    customers new since the last report − value then of the customers no longer valued.
    "" without a last report or its ``clv`` artifact.
    """
    then = last.read_table("clv", ["customer_id", "clv"]) if last is not None else None
    if then is None or last is None:
        return ""
    both = then.merge(clv[["customer_id", "clv"]], on="customer_id", how="outer",
                      suffixes=("_then", "_now"), indicator=True)  # fmt: skip
    known = both["_merge"] == "both"
    existing = float((both.loc[known, "clv_now"] - both.loc[known, "clv_then"]).sum())
    new = float(both.loc[both["_merge"] == "right_only", "clv_now"].sum())
    gone = float(both.loc[both["_merge"] == "left_only", "clv_then"].sum())
    rule = SmallCells(min_cell_size)
    n_new = int((both["_merge"] == "right_only").sum())

    def money(value: float) -> str:
        return _signed(round(value, 2), format_figure(abs(value), "money", currency))

    parts = [f"{money(existing)} from the customers valued in both reports"]
    if n_new:
        parts.append(f"{money(new)} from {rule.phrase(n_new)} new since")
    if gone:
        parts.append(f"{money(-gone)} from customers no longer valued")
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"Total value moved by {money(existing + new - gone)}: {listed}."


def verdict_changes(metrics: Mapping[str, Any], last: LastReport | None) -> str:
    """New experiments and variants whose verdict changed since the last report ("" without one)."""
    if last is None:
        return ""

    def verdicts(stage: Mapping[str, Any]) -> dict[tuple[str, str], str]:
        found = {}
        for experiment, result in (stage.get("experiments") or {}).items():
            for variant, outcome in (result.get("variants") or {}).items():
                found[(str(experiment), str(variant))] = str(outcome.get("verdict"))
        return found

    now, then = verdicts(metrics), verdicts(last.stage("ab_test"))
    new = sorted({e for e, _v in now} - {e for e, _v in then})
    moved = [f"{e} / {v}: {then[(e, v)]} → {now[(e, v)]}"
             for (e, v) in sorted(now) if (e, v) in then and then[(e, v)] != now[(e, v)]]  # fmt: skip
    parts = []
    if new:
        parts.append(f"New experiment(s): {', '.join(new)}.")
    if moved:
        parts.append(f"Verdicts changed: {'; '.join(moved)}.")
    return " ".join(parts) or "No new experiment, and no verdict changed."


def describe_segment_sizes(
    metrics: Mapping[str, Any], last: LastReport | None, *, min_cell_size: int = MIN_CELL_SIZE
) -> str:
    """The segments that grew and shrank most since the last report ("" without one).

    Read from ``metrics["segments"]`` of both runs (customers per segment); a segment of fewer
    than ``min_cell_size`` customers in either report is not named with a number.
    """
    if last is None:
        return ""

    def sizes(stage: Mapping[str, Any]) -> pd.Series:
        segments = stage.get("segments") or {}
        return pd.Series({name: (entry or {}).get("customers") for name, entry in segments.items()},
                         dtype="float64")  # fmt: skip

    now, then = sizes(metrics), sizes(last.stage("segments"))
    rule = SmallCells(min_cell_size)
    both = pd.concat([then, now], axis=1, keys=["then", "now"]).fillna(0)
    shown = both[
        [rule.shown(a) and rule.shown(b) for a, b in zip(both["then"], both["now"], strict=True)]
    ]
    delta = (shown["now"] - shown["then"]).sort_values()
    if delta.empty or (delta == 0).all():
        return "No segment changed size."
    grew, shrank = delta.index[-1], delta.index[0]
    parts = []
    if delta[grew] > 0:
        parts.append(
            f"{grew} grew most ({int(shown.loc[grew, 'then']):,} → {int(shown.loc[grew, 'now']):,} customers)"
        )
    if delta[shrank] < 0:
        parts.append(
            f"{shrank} shrank most ({int(shown.loc[shrank, 'then']):,} → {int(shown.loc[shrank, 'now']):,})"
        )
    return "; ".join(parts).capitalize()[:1] + "; ".join(parts)[1:] + "."


def describe_segment_moves(
    rfm: pd.DataFrame, last: LastReport | None, *, min_cell_size: int = MIN_CELL_SIZE
) -> str:
    """How many customers changed segment since the last report, and the largest move.

    Transforms this run's ``rfm`` (*customer_id, segment*) and the last report's ``rfm``
    artifact into one sentence on the customers scored in both ("" without a last report or
    its ``rfm``). Counts follow the small-cell rule; a move of fewer than ``min_cell_size``
    customers is not named.
    """
    then = last.read_table("rfm", ["customer_id", "segment"]) if last is not None else None
    if then is None or then.empty:
        return ""
    both = then.merge(rfm[["customer_id", "segment"]], on="customer_id", suffixes=("_then", "_now"))
    if both.empty:
        return ""
    moved = both[both["segment_then"].astype(str) != both["segment_now"].astype(str)]
    rule = SmallCells(min_cell_size)
    text = (
        f"Of the {rule.phrase(len(both))} segmented in both reports, "
        f"{rule.phrase(len(moved))} are in another segment now"
    )
    flows = moved.groupby(["segment_then", "segment_now"], observed=True).size()
    flows = flows.sort_values(ascending=False, kind="stable")
    if len(flows) and rule.shown(int(flows.iloc[0])):
        (source, target), n = flows.index[0], int(flows.iloc[0])
        text += f"; the largest move is {n:,} from {source} to {target}"
    return text + "."
