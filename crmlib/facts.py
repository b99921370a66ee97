"""Shared purchase facts: an integer customer key, one row per customer-day, one per customer.

01_ingest writes two artifacts beside ``transactions`` (``crmlib/sql/facts_*.sql``):

- ``customer_days``: one row per customer and calendar day with any transaction row
  (*customer_key, day, purchases, purchase_amount, amount, gross_amount, refund_amount*),
  ordered by key and day;
- ``customer_facts``: one row per customer (*customer_key, customer_id, first_purchase_ts,
  first_purchase_day, second_purchase_day, last_purchase_day, purchase_days, purchases,
  purchase_amount, amount*), ordered by key.

``customer_key`` numbers the customer ids 1, 2, ... in ``customer_id`` order, so a query that
orders by the key orders by the id. Later stages read these instead of rescanning the order
table: every per-customer statistic that only needs calendar days (summaries at a cutoff,
gaps between purchase days, windows that start at midnight) is an aggregate over
``customer_days``, about a tenth of the work of the same aggregate over the transactions with
their text ids.

Stage queries get the tables' names from :func:`purchase_facts`: the run folder's artifacts
when they are registered for the run's ``transactions``, or tables built from the given
transactions relation for the length of one call (a test's or an analyst's own table), so a
query never reads facts of other data.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from crmlib.checks import require_view
from crmlib.engine import Engine

__all__ = ["FACT_TABLES", "SOURCE_COLUMNS", "build_facts", "purchase_facts"]

#: The artifacts 01_ingest writes for the later stages, in the order they are built.
FACT_TABLES = ("customer_days", "customer_facts")

#: The transactions columns the facts are built from.
SOURCE_COLUMNS = (
    "customer_id", "order_ts", "amount", "gross_amount", "refund_amount", "is_purchase",
)  # fmt: skip


def build_facts(
    engine: Engine,
    *,
    transactions: str,
    customer_days: str,
    customer_facts: str,
    keys: str,
) -> None:
    """Create temp tables ``keys``, ``customer_days`` and ``customer_facts`` from a transactions
    relation (a table, view or parenthesised query with the canonical columns)."""
    engine.execute(
        "facts_customer_keys", identifiers={"target": keys, "transactions": transactions}
    )
    engine.execute(
        "facts_customer_days",
        identifiers={"target": customer_days, "transactions": transactions, "keys": keys},
    )
    engine.execute(
        "facts_customer_facts",
        identifiers={"target": customer_facts, "keys": keys, "customer_days": customer_days},
    )


@contextmanager
def purchase_facts(
    engine: Engine, *, transactions: str = "transactions"
) -> Iterator[dict[str, str]]:
    """Table names of the purchase facts of ``transactions``: ``{"customer_days": ..., "customer_facts": ...}``.

    The run folder's artifacts (registered as views ``customer_days`` and ``customer_facts``)
    serve the run's own ``transactions``; any other relation, or a run folder without them,
    gets tables built for this block and dropped when it ends. Building needs ``transactions``
    registered with :data:`SOURCE_COLUMNS` (StageInputMissing or DataContractError otherwise).

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({
    ...     "customer_id": ["b", "a", "a", "a"],
    ...     "order_ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02 18:00:00",
    ...                                 "2024-01-09"], format="ISO8601"),
    ...     "amount": [5.0, 10.0, 2.5, 7.0], "gross_amount": [5.0, 10.0, 2.5, 7.0],
    ...     "refund_amount": [0.0, 0.0, 0.0, 0.0], "is_purchase": [True] * 4})
    >>> with Engine(threads=1) as engine:
    ...     engine.register("transactions", orders)
    ...     with purchase_facts(engine) as names:
    ...         facts = engine.query(f"SELECT * FROM {names['customer_facts']}")
    >>> facts[["customer_key", "customer_id", "purchase_days", "purchases", "purchase_amount"]]
       customer_key customer_id  purchase_days  purchases  purchase_amount
    0             1           a              2          3             19.5
    1             2           b              1          1              5.0
    """
    if transactions == "transactions" and all(engine.has_table(name) for name in FACT_TABLES):
        yield {name: name for name in FACT_TABLES}
        return
    require_view(engine, transactions, SOURCE_COLUMNS, producer="01_ingest")
    with engine.temp_tables("facts", ["keys", *FACT_TABLES]) as names:
        build_facts(
            engine,
            transactions=transactions,
            customer_days=names["customer_days"],
            customer_facts=names["customer_facts"],
            keys=names["keys"],
        )
        yield {name: names[name] for name in FACT_TABLES}
