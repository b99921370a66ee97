"""Cohort matrices on 1M customers (about 10M orders): seconds, peak RSS, ratio vs plain pandas.

Usage: ``python benchmarks/bench_cohorts.py [--customers 1000000] [--seed 1]``.
Reuses the cached synthetic data of ``bench_ingest_kpis.py`` (``benchmarks/.cache/``); ingest
runs once into a temporary run folder and is not timed.

Timed: every cohort matrix of 03_cohorts on the engine (cohort_retention, both definitions,
with the acquisition-channel split; bracket_retention; cohort_revenue), against the plain
alternative in the same process: pandas reads the same transactions parquet and computes the
overall monthly "on" retention matrix with groupbys. Target: <= 10 s for all matrices.
"""

from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from bench_ingest_kpis import ingested_run, measure, synthetic_data, workbook_params

import crmlib as crm
from crmlib.cohorts import (
    bracket_retention,
    cohort_matrix,
    cohort_retention,
    cohort_revenue,
)

AS_OF = "2025-12-31"


def engine_matrices(engine: Any) -> dict[str, pd.DataFrame]:
    """Every matrix the notebook draws, computed on the engine."""
    return {
        "retention": cohort_retention(engine, as_of_date=AS_OF),
        "brackets": bracket_retention(engine, as_of_date=AS_OF),
        "revenue": cohort_revenue(engine, as_of_date=AS_OF),
    }


def pandas_matrix(transactions_path: Path) -> pd.DataFrame:
    """Overall monthly "on" retention the plain way: read the parquet, group by customer-month."""
    transactions = pd.read_parquet(
        transactions_path, columns=["customer_id", "order_ts", "is_purchase"]
    )
    purchases = transactions[
        transactions["is_purchase"]
        & transactions["customer_id"].notna()
        & (transactions["order_ts"] < pd.Timestamp("2026-01-01"))
    ]
    active = pd.DataFrame(
        {
            "customer_id": purchases["customer_id"],
            "period": purchases["order_ts"].dt.to_period("M"),
        }
    ).drop_duplicates()
    cohort = active.groupby("customer_id")["period"].min().rename("cohort")
    active = active.join(cohort, on="customer_id")
    active["k"] = (active["period"].dt.year - active["cohort"].dt.year) * 12 + (
        active["period"].dt.month - active["cohort"].dt.month
    )
    counts = active.groupby(["cohort", "k"]).size().unstack(fill_value=0)
    return counts.div(counts[0], axis=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    folder = synthetic_data(args.customers, args.seed)
    params = workbook_params(folder)
    with ingested_run(params) as run:
        rows = len(pd.read_parquet(run.table_path("transactions"), columns=["amount"]))
        print(f"input: {rows:,} canonical transaction rows, {args.customers:,} customers")

        with crm.engine.Engine.from_config(params.engine) as engine:
            run.register(engine, "transactions", "customer_days", "customer_facts", "customers")
            tables, engine_seconds, engine_peak = measure(
                "crmlib all cohort matrices (DuckDB)", lambda: engine_matrices(engine)
            )
        reference, pandas_seconds, pandas_peak = measure(
            "plain pandas overall monthly 'on' matrix",
            lambda: pandas_matrix(run.table_path("transactions")),
        )

    ours = cohort_matrix(tables["retention"])
    plain = reference.set_axis(reference.index.astype(str)).reindex(
        index=ours.index, columns=ours.columns
    )
    difference = (ours - plain).abs().max().max()
    print(f"largest |crmlib - pandas| over the overall 'on' matrix: {difference:.2e}")
    print(
        "rows: "
        + ", ".join(f"{name} {len(table):,}" for name, table in tables.items())
        + f"; cohorts {ours.shape[0]}"
    )
    print(
        f"speed ratio (pandas one matrix / crmlib all):    {pandas_seconds / engine_seconds:6.2f}x"
    )
    print(f"memory ratio (pandas peak / crmlib peak):        {pandas_peak / engine_peak:6.2f}x")
    print(
        "process max RSS (getrusage):                     "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:5.2f} GiB"
    )
    print(f"target (<= 10 s for all matrices): {'met' if engine_seconds <= 10 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
