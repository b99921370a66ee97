"""01_ingest's headline figures (crmlib/sql/ingest_tx_summary.sql): the extreme-order fence.

The fence is exp(Q3 + 3 IQR) of the log amounts of positive orders. Its quartiles come from
the order statistics of the amounts (a GROUP BY that spills) instead of quantile_cont, which
holds every value in memory and ran out of memory at 100M orders.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from crmlib.engine import Engine
from crmlib.errors import EngineError

#: The fence as DuckDB's own quantile_cont gives it (the reference).
_QUANTILE_FENCE = (
    "SELECT exp(quantile_cont(ln(amount), 0.75) + 3 * (quantile_cont(ln(amount), 0.75) "
    "- quantile_cont(ln(amount), 0.25))) FROM ingest_tx_canonical WHERE NOT is_return AND amount > 0"
)


def _canonical(engine: Engine, amounts: list[float]) -> None:
    """A canonical transactions table of purchases with these amounts (and one return)."""
    engine.execute("ingest_macros")
    engine.execute(
        "CREATE OR REPLACE TABLE ingest_tx_canonical AS SELECT 'C' || (i % 7) AS customer_id, "
        "TIMESTAMP '2025-01-01' + to_days(CAST(i % 300 AS INTEGER)) AS order_ts, amount, "
        "amount AS gross_amount, 0.0 AS refund_amount, true AS is_purchase, false AS is_return, "
        "true AS customer_known FROM (SELECT unnest($amounts) AS amount, "
        "generate_subscripts($amounts, 1) AS i) UNION ALL SELECT 'C1', TIMESTAMP '2025-02-01', "
        "-5000.0, 0.0, -5000.0, false, true, true",
        {"amounts": amounts},
    )


@pytest.mark.parametrize(
    "amounts",
    [
        [12.5],
        [3.0, 90.0],
        [10.0] * 9 + [11.0],  # ties: the IQR is 0
        [0.0, -4.0, 7.25, 7.25, 19.99, 250.0, 0.01],  # zero and negative amounts are left out
    ],
)
def test_fence_equals_quantile_cont_on_hand_tables(amounts: list[float]) -> None:
    with Engine(threads=1) as engine:
        _canonical(engine, amounts)
        expected = engine.scalar(_QUANTILE_FENCE)
        fence = engine.query("ingest_tx_summary")["extreme_order_fence"].iloc[0]
    assert fence == pytest.approx(expected, rel=1e-14)


def test_fence_equals_quantile_cont_on_random_amounts_and_is_empty_without_purchases() -> None:
    rng = np.random.default_rng(5)
    with Engine(threads=2) as engine:
        for _ in range(40):
            n = int(rng.integers(2, 5_000))
            amounts = np.round(rng.gamma(2.0, 30.0, n), int(rng.integers(0, 3)))
            _canonical(engine, amounts.tolist())
            expected = engine.scalar(_QUANTILE_FENCE)
            fence = engine.query("ingest_tx_summary")["extreme_order_fence"].iloc[0]
            assert fence == pytest.approx(expected, rel=1e-14), n
        _canonical(engine, [0.0, -3.0])
        summary = engine.query("ingest_tx_summary").iloc[0]
    assert math.isnan(summary["extreme_order_fence"]) and summary["extreme_orders"] == 0


def test_the_summary_runs_where_quantile_cont_runs_out_of_memory() -> None:
    """6M orders (48 MB of log amounts) under a 64 MB limit: quantile_cont fails, the
    summary's GROUP BY spills and gives the same fence as an unlimited quantile_cont."""
    rows = (
        "CREATE OR REPLACE TABLE ingest_tx_canonical AS SELECT 'C' || (i % 100000) AS customer_id, "
        "TIMESTAMP '2025-01-01' + to_days(CAST(i % 300 AS INTEGER)) AS order_ts, "
        "round(exp(((i * 7919) % 600000) / 100000.0), 2) AS amount, 1.0 AS gross_amount, "
        "0.0 AS refund_amount, true AS is_purchase, false AS is_return, true AS customer_known "
        "FROM range(6000000) AS t (i)"
    )
    with Engine(threads=2, memory_limit="64MB") as engine:
        engine.execute("ingest_macros")
        engine.execute(rows)
        with pytest.raises(EngineError, match="Out of Memory"):
            engine.scalar(_QUANTILE_FENCE)
        summary = engine.query("ingest_tx_summary").iloc[0]
    with Engine(threads=2) as engine:
        engine.execute(rows)
        expected = engine.scalar(_QUANTILE_FENCE)
    assert summary["orders"] == 6_000_000
    assert summary["extreme_order_fence"] == pytest.approx(expected, rel=1e-14)
