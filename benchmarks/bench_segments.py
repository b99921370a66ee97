"""04_segments on 1M customers (about 10M orders): seconds, peak RSS, ratio vs plain pandas RFM.

Usage: ``python benchmarks/bench_segments.py [--customers 1000000] [--seed 1]``.
Reuses the cached synthetic data of ``bench_ingest_kpis.py`` (``benchmarks/.cache/``); ingest
runs once into a temporary run folder and is not timed.

Timed: RFM with named segments, the segment migration (RFM at two dates), category
affinities (categories overall and per segment, products overall), and the behavioural clusters (features, k by silhouette,
final fit, bootstrap stability), against the plain alternative in the same process: pandas
reads the same transactions parquet and computes recency, frequency, monetary and quintile
scores with groupbys. Target: <= 20 s for all four.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
from typing import Any

import numpy as np
import pandas as pd
from bench_ingest_kpis import ingested_run, measure, synthetic_data, workbook_params

import crmlib as crm
from crmlib.segments import (
    association_rules,
    behaviour_features,
    product_pairs,
    rfm_table,
    segment_migration,
)
from crmlib.segments.models.clusters import cluster_customers

AS_OF = "2025-12-31"


def pandas_rfm(transactions_path: Any) -> pd.DataFrame:
    """Recency, frequency, monetary and quintile scores the plain way (no segment rules)."""
    tx = pd.read_parquet(
        transactions_path, columns=["customer_id", "order_id", "order_ts", "amount", "is_purchase"]
    )
    end = pd.Timestamp(AS_OF) + pd.Timedelta(days=1)
    tx = tx[tx["customer_id"].notna() & (tx["order_ts"] < end)]
    purchases = tx[tx["is_purchase"]]
    last = purchases.groupby("customer_id")["order_ts"].max()
    recency = (pd.Timestamp(AS_OF) - last.dt.normalize()).dt.days
    window = tx[tx["order_ts"] >= end - pd.Timedelta(days=365)]
    frequency = window[window["is_purchase"]].groupby("customer_id")["order_id"].nunique()
    monetary = window.groupby("customer_id")["amount"].sum()
    rfm = pd.DataFrame({"recency_days": recency})
    rfm["frequency"] = frequency.reindex(rfm.index, fill_value=0)
    rfm["monetary"] = monetary.reindex(rfm.index, fill_value=0.0)
    for column, sign in (("recency_days", -1), ("frequency", 1), ("monetary", 1)):
        rank = (sign * rfm[column]).rank(method="max", pct=True)
        rfm[f"{column}_score"] = np.ceil(rank * 5).clip(1, 5).astype(int)
    return rfm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    folder = synthetic_data(args.customers, args.seed)
    params = workbook_params(folder, tables=("transactions", "customers", "events"))
    with ingested_run(params) as run:
        rows = len(pd.read_parquet(run.table_path("transactions"), columns=["amount"]))
        print(f"input: {rows:,} canonical transaction rows, {args.customers:,} customers")

        with crm.engine.Engine.from_config(params.engine) as engine:
            run.register(
                engine, "transactions", "customer_days", "customer_facts", "customers", "events"
            )
            parts: dict[str, float] = {}

            def timed_parts() -> dict[str, Any]:
                out = {}
                for name, work in (
                    ("rfm", lambda: rfm_table(engine, as_of_date=AS_OF)),
                    ("migration", lambda: segment_migration(engine, as_of_date=AS_OF)),
                ):
                    start = dt.datetime.now()
                    out[name] = work()
                    parts[name] = (dt.datetime.now() - start).total_seconds()
                engine.register("bench_segments", out["rfm"][["customer_id", "segment"]])
                start = dt.datetime.now()
                out["affinities"] = association_rules(
                    engine, as_of_date=AS_OF, segments="bench_segments"
                )
                out["product_pairs"] = product_pairs(engine, as_of_date=AS_OF)
                parts["affinities"] = (dt.datetime.now() - start).total_seconds()
                start = dt.datetime.now()
                out["clusters"] = cluster_customers(
                    behaviour_features(engine, as_of_date=AS_OF), seed=1
                )
                parts["clusters"] = (dt.datetime.now() - start).total_seconds()
                return out

            tables, engine_seconds, engine_peak = measure(
                "crmlib RFM + migration + affinities + clusters", timed_parts
            )
        reference, pandas_seconds, pandas_peak = measure(
            "plain pandas RFM (recency, frequency, monetary, quintiles)",
            lambda: pandas_rfm(run.table_path("transactions")),
        )

    print("parts: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in parts.items()))
    ours = tables["rfm"].set_index("customer_id")
    same = ours[["recency_days", "frequency"]].join(
        reference[["recency_days", "frequency"]].add_suffix("_pandas"), how="outer"
    )
    mismatches = int(
        (same["recency_days"] != same["recency_days_pandas"]).sum()
        + (same["frequency"] != same["frequency_pandas"]).sum()
    )
    monetary_gap = float((ours["monetary"] - reference["monetary"]).abs().max())
    print(
        f"customers: crmlib {len(ours):,}, pandas {len(reference):,}; recency/frequency "
        f"mismatches {mismatches}; largest |monetary difference| {monetary_gap:.2e}"
    )
    print(f"k = {tables['clusters'].k}, segments {ours['segment'].nunique()}")
    print(
        f"speed ratio (pandas RFM only / crmlib all four): {pandas_seconds / engine_seconds:6.2f}x"
    )
    print(f"memory ratio (pandas peak / crmlib peak):         {pandas_peak / engine_peak:6.2f}x")
    print(
        "process max RSS (getrusage):                      "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:5.2f} GiB"
    )
    print(f"target (<= 20 s for all four): {'met' if engine_seconds <= 20 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
