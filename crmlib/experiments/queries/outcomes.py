"""Experiment outcomes: one row per assigned customer and experiment, built in SQL on the engine.

Definitions (``as_of_date`` is inclusive; nothing dated at or after the midnight after it,
:func:`crmlib.periods.exclusive_end`, is read). Offsets are measured from the customer's own
``assigned_ts``, exactly (in microseconds; a day is 24 hours, timestamps are naive UTC):

- a **purchase** is an order the customer placed: a transactions row with ``gross_amount > 0``.
  An order cancelled later still counts (its net ``amount`` is 0): placing it is the customer's
  response to the campaign, and it is the synthetic generator's definition ("any positive
  order", ``truth.json["experiment"]["outcome"]``; ``is_purchase`` would miss the cancelled
  ones). An unmatched return row (``gross_amount`` 0) never counts;
- **outcome window** ``assigned_ts < ts <= assigned_ts + window_days``: ``repurchase`` is 1.0
  with at least one purchase in it, ``orders`` counts them, ``net_revenue`` sums their net
  ``amount``; ``opens``, ``clicks`` and ``unsubscribes`` count events of that type (every
  channel) in it; ``unsubscribed`` is 1.0 with at least one unsubscribe in it (the share of
  customers who unsubscribed, the unsubscribe rate a guardrail is judged on; a customer can
  unsubscribe from two channels, so ``unsubscribes`` may exceed 1);
- ``window_closed``: the window ended by the end of the as_of day; ``days_observed`` = the
  part of the window seen, ``min(window_days, observed_days_total)``; an open window gives
  partial outcomes;
- ``retained``: 1.0 / 0.0 with a purchase in ``(assigned_ts, assigned_ts + retention_days]``,
  NaN while that window is not closed by the end of the as_of day;
- ``pre_orders`` / ``pre_spend``: purchases and their net amount in
  ``[assigned_ts - pre_period_days, assigned_ts)`` (the CUPED covariate);
- ``days_to_purchase``: days from assignment to the first purchase after it (NaN without one
  by the as_of day) and ``observed_days_total``: days from assignment to the end of the as_of
  day, the pair a Kaplan-Meier estimate needs (event time, censoring time);
- money is rounded to cents. Refunds are netted into their order by 01_ingest whatever the
  refund's date, so a refund booked after the as_of day already lowers ``net_revenue``.

A customer assigned to more than one variant of one experiment is excluded from it (counted in
``attrs["excluded_multiple_variants"]``); repeated rows of a single variant collapse to the
earliest assignment. 01_ingest already rejects both (``conflicting_assignment``,
``duplicate_row``), so on canonical tables the rule only guards hand-registered views.

The notes of the outcome table count assignments in words that reveal no count of 1..k-1
(:func:`part_of`, the small-cell rule of :mod:`crmlib.privacy`).
"""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pandas as pd

from crmlib.checks import positive_days, require_view
from crmlib.config import DEFAULTS
from crmlib.engine import Engine
from crmlib.errors import DataContractError
from crmlib.experiments.models.small_cells import experiments_with_small_arms
from crmlib.periods import as_date, exclusive_end
from crmlib.privacy import MIN_CELL_SIZE, SmallCells

__all__ = ["OUTCOME_COLUMNS", "experiment_outcomes", "part_of"]

log = logging.getLogger(__name__)


#: Columns of :func:`experiment_outcomes`, in order.
OUTCOME_COLUMNS: tuple[str, ...] = (
    "experiment_id",
    "customer_id",
    "variant",
    "assigned_ts",
    "cost",
    "window_closed",
    "days_observed",
    "repurchase",
    "orders",
    "net_revenue",
    "retained",
    "opens",
    "clicks",
    "unsubscribes",
    "unsubscribed",
    "pre_orders",
    "pre_spend",
    "days_to_purchase",
    "observed_days_total",
)


_ASSIGNMENT_COLUMNS = ("customer_id", "experiment_id", "variant", "assigned_ts")


_TRANSACTION_COLUMNS = ("customer_id", "order_ts", "amount", "gross_amount")


_EVENT_COLUMNS = ("customer_id", "event_ts", "event_type")


_EVENT_OUTCOMES = ("opens", "clicks", "unsubscribes")


#: An empty relation standing in for a missing events table.
_NO_EVENTS = (
    "(SELECT CAST(NULL AS VARCHAR) AS customer_id, CAST(NULL AS TIMESTAMP) AS event_ts, "
    "CAST(NULL AS VARCHAR) AS event_type WHERE FALSE)"
)


_US_PER_DAY = 86_400 * 1_000_000


def _check_assignments(
    engine: Engine, *, assignments: str, as_of: dt.date, end_ts: dt.datetime
) -> dict[str, int]:
    """Refuse assignments after the as_of day or undated; the multiple-variant count per experiment."""
    checks = engine.query(
        "experiments_assignment_checks",
        {"end_ts": end_ts},
        identifiers={"assignments": assignments},
    )
    for row in checks.itertuples(index=False):
        if row.n_missing_ts > 0:
            raise DataContractError(
                f"{assignments}: column 'assigned_ts' of experiment '{row.experiment_id}': "
                f"{row.n_missing_ts} assignments have no timestamp; expected every assignment dated"
            )
        if row.n_after_as_of > 0:
            first = pd.Timestamp(row.first_after_as_of).date().isoformat()
            raise DataContractError(
                f"{assignments}: column 'assigned_ts' of experiment '{row.experiment_id}': "
                f"{row.n_after_as_of} assignments are after as_of_date {as_of.isoformat()} "
                f"(the first on {first}); expected every assignment on or before the as_of day"
            )
    return {
        str(experiment): int(count)
        for experiment, count in zip(
            checks["experiment_id"], checks["n_multiple_variants"], strict=True
        )
    }


def _open_windows_notes(
    table: pd.DataFrame,
    *,
    window_days: int,
    retention_days: int,
    as_of: dt.date,
    rule: SmallCells,
) -> list[str]:
    """Per experiment, how many assignments' windows are still open, in words of the rule."""
    notes = []
    small = experiments_with_small_arms(table, rule)
    for experiment, rows in table.groupby("experiment_id", sort=True):
        whole_shown = str(experiment) not in small

        def some(count: int, rows: pd.DataFrame = rows, whole_shown: bool = whole_shown) -> str:
            return part_of(count, len(rows), rule, noun="assignment", whole_shown=whole_shown)

        still_open = int((~rows["window_closed"]).sum())
        if still_open:
            notes.append(
                f"experiment '{experiment}': the {window_days}-day outcome window of "
                f"{some(still_open)} is still open on {as_of.isoformat()}; their outcomes are "
                "partial (days_observed says how much)"
            )
        unknown = int(rows["retained"].isna().sum())
        if unknown:
            notes.append(
                f"experiment '{experiment}': the {retention_days}-day retention window of "
                f"{some(unknown)} is not closed on {as_of.isoformat()}; whether they were "
                "retained is not known yet"
            )
    return notes


def experiment_outcomes(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    window_days: int = DEFAULTS.ab_test.window_days,
    pre_period_days: int = DEFAULTS.ab_test.pre_period_days,
    retention_days: int = DEFAULTS.ab_test.retention_days,
    assignments: str = "assignments",
    transactions: str = "transactions",
    events: str = "events",
    min_cell_size: int = MIN_CELL_SIZE,
) -> pd.DataFrame:
    """Outcomes of every experiment assignment: one row per (experiment_id, customer_id).

    Transforms *assignments* (one row per customer and experiment), *transactions* (one row
    per netted order or unmatched refund) and *events* (one row per messaging event,
    optional) into one row per customer assigned to exactly one variant of an experiment:
    the outcome-window results, retention, engagement, the pre-period covariates and the
    time to first purchase (definitions in the module docstring). Two queries on the engine:
    ``experiments_assignment_checks.sql`` (one GROUP BY over the assignments) and
    ``experiments_outcomes.sql`` (the assignments joined to the purchases and to the events
    on customer_id, one GROUP BY each); no Python pass over transactions.

    Parameters
    ----------
    engine : Engine
        With ``assignments`` and ``transactions`` registered (``events`` when available).
    as_of_date : date or str
        Last day of data (inclusive); assignments after it are refused.
    window_days : int, default ``ab_test.window_days``
        Length of the outcome window after assignment.
    pre_period_days : int, default ``ab_test.pre_period_days``
        Length of the pre-period before assignment (``pre_orders``, ``pre_spend``).
    retention_days : int, default ``ab_test.retention_days``
        Length of the retention window after assignment (``retained``).
    assignments, transactions, events : str
        View names. ``events`` may be absent; ``assignments.cost`` may be absent (NaN).
    min_cell_size : int, default MIN_CELL_SIZE
        ``privacy.min_cell_size``: the notes (shown on the page) give no count of 1..k-1
        assignments, nor an experiment's total when an arm holds 1..k-1 customers.

    Returns
    -------
    pd.DataFrame
        :data:`OUTCOME_COLUMNS`, ordered by experiment_id, customer_id: ids and ``variant``
        (str), ``assigned_ts`` (datetime64), ``window_closed`` (bool), every other column
        float64 (1.0 / 0.0 for ``repurchase`` and ``retained``; ``cost`` NaN when null).
        ``attrs``: ``as_of_date`` (ISO date), ``window_days``, ``pre_period_days``,
        ``retention_days``, ``excluded_multiple_variants`` (experiment_id -> customers
        excluded, 0 included, for every experiment) and ``notes`` (list of str: a missing
        events table or cost column, windows still open per experiment).

    Raises
    ------
    ValueError
        A bad argument.
    StageInputMissing
        ``assignments`` or ``transactions`` is not registered (run 01_ingest).
    DataContractError
        A needed column is missing, or an experiment has assignments after ``as_of_date``
        or without a timestamp (the message names the experiment, the count and the first
        date).

    Examples
    --------
    >>> assigned = pd.DataFrame({
    ...     "customer_id": ["A", "B"], "experiment_id": ["winback", "winback"],
    ...     "variant": ["control", "treatment"],
    ...     "assigned_ts": pd.to_datetime(["2025-11-01 09:00", "2025-11-01 09:00"]),
    ...     "cost": [None, 1.5],
    ... })
    >>> orders = pd.DataFrame({
    ...     "customer_id": ["A", "B", "B"],
    ...     "order_ts": pd.to_datetime(["2025-10-01 12:00", "2025-11-20 10:00", "2025-12-20 08:00"]),
    ...     "amount": [40.0, 25.0, 10.0], "gross_amount": [40.0, 25.0, 10.0],
    ... })
    >>> with Engine(threads=1) as engine:
    ...     engine.register("assignments", assigned)
    ...     engine.register("transactions", orders)
    ...     table = experiment_outcomes(engine, as_of_date="2025-12-31")
    >>> table[["customer_id", "repurchase", "net_revenue", "pre_spend", "cost"]].values.tolist()
    [['A', 0.0, 0.0, 40.0, nan], ['B', 1.0, 25.0, 0.0, 1.5]]
    >>> table["days_to_purchase"].round(3).tolist(), table.attrs["notes"][0][:15]
    ([nan, 19.042], 'no events table')
    """
    as_of = as_date(as_of_date)
    window_days = positive_days("window_days", window_days)
    pre_period_days = positive_days("pre_period_days", pre_period_days)
    retention_days = positive_days("retention_days", retention_days)
    require_view(engine, assignments, _ASSIGNMENT_COLUMNS, producer="01_ingest")
    require_view(engine, transactions, _TRANSACTION_COLUMNS, producer="01_ingest")
    notes: list[str] = []
    has_events = engine.has_table(events)
    if has_events:
        require_view(engine, events, _EVENT_COLUMNS, producer="01_ingest")
    else:
        notes.append(
            f"no events table '{events}': {', '.join(_EVENT_OUTCOMES)} are unknown for every "
            "assignment"
        )
    has_cost = "cost" in engine.column_types(assignments)
    if not has_cost:
        notes.append(f"{assignments} has no 'cost' column: the cost of every assignment is unknown")
    end_ts = exclusive_end(as_of)
    excluded = _check_assignments(engine, assignments=assignments, as_of=as_of, end_ts=end_ts)
    from_engine = engine.query(
        "experiments_outcomes",
        {
            "end_ts": end_ts,
            "window_us": window_days * _US_PER_DAY,
            "retention_us": retention_days * _US_PER_DAY,
            "pre_us": pre_period_days * _US_PER_DAY,
        },
        identifiers={
            "assignments": assignments,
            "transactions": transactions,
            "events": events if has_events else _NO_EVENTS,
            "cost": "cost" if has_cost else "CAST(NULL AS DOUBLE)",
        },
    )
    table = _assemble(
        from_engine, window_days=window_days, retention_days=retention_days, has_events=has_events
    )
    for experiment, count in excluded.items():
        if count:
            log.warning(
                "experiment '%s': %d customers assigned to more than one variant are excluded",
                experiment,
                count,
            )
    notes.extend(
        _open_windows_notes(
            table,
            window_days=window_days,
            retention_days=retention_days,
            as_of=as_of,
            rule=SmallCells(min_cell_size),
        )
    )
    for note in notes:
        log.info("experiment outcomes at %s: %s", as_of, note)
    table.attrs = {
        "as_of_date": as_of.isoformat(),
        "window_days": window_days,
        "pre_period_days": pre_period_days,
        "retention_days": retention_days,
        "excluded_multiple_variants": excluded,
        "notes": notes,
    }
    log.info(
        "experiment outcomes at %s: %d assignments in %d experiments",
        as_of,
        len(table),
        table["experiment_id"].nunique(),
    )
    return table


def _assemble(
    from_engine: pd.DataFrame, *, window_days: int, retention_days: int, has_events: bool
) -> pd.DataFrame:
    """The outcome table from the query's result (per-row arithmetic only)."""
    observed_us = from_engine["observed_us"].astype("float64")
    observed_days = observed_us / _US_PER_DAY
    first_days = from_engine["first_purchase_us"].astype("float64") / _US_PER_DAY
    retained = from_engine["retention_hit"].astype("float64")
    events = {
        column: from_engine[column].astype("float64")
        if has_events
        else pd.Series(np.nan, index=from_engine.index)
        for column in _EVENT_OUTCOMES
    }
    return pd.DataFrame(
        {
            "experiment_id": from_engine["experiment_id"].astype("str"),
            "customer_id": from_engine["customer_id"].astype("str"),
            "variant": from_engine["variant"].astype("str"),
            "assigned_ts": pd.to_datetime(from_engine["assigned_ts"]),
            "cost": from_engine["cost"].astype("float64"),
            "window_closed": (observed_us >= window_days * _US_PER_DAY).astype(bool),
            "days_observed": observed_days.clip(upper=float(window_days)),
            "repurchase": from_engine["repurchase"].astype("float64"),
            "orders": from_engine["orders"].astype("float64"),
            "net_revenue": from_engine["net_revenue"].astype("float64"),
            "retained": retained.where(observed_us >= retention_days * _US_PER_DAY),
            **events,
            "unsubscribed": (events["unsubscribes"] > 0)
            .astype("float64")
            .where(events["unsubscribes"].notna()),
            "pre_orders": from_engine["pre_orders"].astype("float64"),
            "pre_spend": from_engine["pre_spend"].astype("float64"),
            "days_to_purchase": first_days,
            "observed_days_total": observed_days,
        },
        columns=list(OUTCOME_COLUMNS),
    ).reset_index(drop=True)


def part_of(
    part: int,
    whole: int,
    rule: SmallCells,
    *,
    noun: str = "customer",
    plural: str | None = None,
    whole_shown: bool = True,
) -> str:
    """``"5 of 879 customers"`` in words that reveal no count of 1..k-1.

    The part reads "fewer than k" when it is small, "all but fewer than k" when the rest
    (``whole - part``) is small; the whole is left out when ``whole_shown`` is False (an
    experiment with a small arm, whose total would reveal it) or when it is small itself.

    Examples
    --------
    >>> rule = SmallCells(10)
    >>> part_of(52, 52, rule, noun="assignment"), part_of(5, 879, rule)
    ('52 of 52 assignments', 'fewer than 10 of 879 customers')
    >>> part_of(875, 879, rule), part_of(29, 29, rule, whole_shown=False)
    ('all but fewer than 10 of 879 customers', 'all customers')
    >>> part_of(3, 6, rule), part_of(20, 29, rule, whole_shown=False)
    ('some of the customers (fewer than 10 in all)', '20 customers')
    """
    many = plural or noun + "s"
    part, whole = int(part), int(whole)
    rest = whole - part
    small_part, small_rest = bool(rule.is_small(part)), bool(rule.is_small(rest))
    if bool(rule.is_small(whole)):
        if rest == 0:
            return f"all {many} (fewer than {rule.min_cell_size:,})"
        return f"some of the {many} (fewer than {rule.min_cell_size:,} in all)"
    if not whole_shown:
        if rest == 0:
            return f"all {many}"
        return rule.phrase(part, noun, plural)
    if small_part:
        return f"fewer than {rule.min_cell_size:,} of {whole:,} {many}"
    if small_rest:
        return f"all but fewer than {rule.min_cell_size:,} of {whole:,} {many}"
    return f"{part:,} of {whole:,} {many}"
