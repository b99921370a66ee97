"""06_churn on 1M customers (about 10M orders): features, training, scoring; seconds and peak RSS.

Usage: ``python benchmarks/bench_churn.py [--customers 1000000] [--seed 1]``.
Reuses the cached synthetic data of ``bench_ingest_kpis.py`` (``benchmarks/.cache/``); ingest
(transactions, customers, events) runs once into a temporary run folder and is not timed.

Timed: the feature table at one cutoff in SQL (and all three), training both candidate models
with calibration on the stratified subsample (``max_train_rows`` 200,000), and scoring every
active customer (probability, band, reason codes). Targets: features <= 10 s, training <= 60 s,
scoring <= 10 s, peak <= 3 GB. The plain alternative in the same process: pandas reads the
transactions parquet and computes a subset of the features (recency, tenure, orders and spend
in three windows) with ``groupby``; the ratio is printed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from typing import Any

import pandas as pd
from bench_ingest_kpis import measure, synthetic_data, workbook_params

import crmlib as crm

AS_OF = "2025-12-31"


def pandas_features(transactions_path: Any, cutoff: str) -> pd.DataFrame:
    """Recency, tenure, orders and spend over 30/90/365 days at ``cutoff``, the plain way."""
    tx = pd.read_parquet(
        transactions_path, columns=["customer_id", "order_ts", "amount", "is_purchase"]
    )
    end = pd.Timestamp(cutoff) + pd.Timedelta(days=1)
    tx = tx[tx["is_purchase"] & (tx["order_ts"] < end)]
    tx = tx.assign(age_days=(end - tx["order_ts"].dt.normalize()).dt.days - 1)
    active = tx.loc[tx["age_days"] < 365, "customer_id"].unique()
    tx = tx[tx["customer_id"].isin(active)]
    grouped = tx.groupby("customer_id")
    features = pd.DataFrame(
        {"recency_days": grouped["age_days"].min(), "tenure_days": grouped["age_days"].max()}
    )
    for days in (30, 90, 365):
        window = tx[tx["age_days"] < days].groupby("customer_id")["amount"]
        features[f"orders_{days}d"] = window.size().reindex(features.index, fill_value=0)
        features[f"spend_{days}d"] = window.sum().reindex(features.index, fill_value=0.0)
    return features.reset_index()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    folder = synthetic_data(args.customers, args.seed)
    params = workbook_params(folder, tables=("transactions", "customers", "events"))
    churn = params.churn
    with tempfile.TemporaryDirectory() as run_dir:
        run = crm.io.RunFolder(run_dir)
        print("ingesting once (not timed) ...", flush=True)
        with crm.engine.Engine.from_config(params.engine) as engine:
            crm.ingest.run_ingest(params, run, engine=engine)
        cutoffs = crm.churn.churn_cutoffs(AS_OF, horizon_days=churn.horizon_days)
        with crm.engine.Engine.from_config(params.engine) as engine:
            run.register(engine, "transactions", "customers", "events")
            one, one_seconds, one_peak = measure(
                "features at one cutoff (as_of, SQL)",
                lambda: crm.churn.churn_features(engine, cutoff=cutoffs.score, with_label=False),
            )
            tables, _, tables_peak = measure(
                "features at the three cutoffs",
                lambda: crm.churn.churn_tables(
                    engine, cutoffs, exclude_features=churn.exclude_features
                ),
            )
        print(
            f"active customers: train {len(tables.train):,}, validation "
            f"{len(tables.validation):,}, scored {len(tables.score):,}"
        )
        training, train_seconds, train_peak = measure(
            "training (2 models, calibrated, 200k rows)",
            lambda: crm.churn.train_churn(tables, seed=churn.seed),
        )
        print(f"chosen: {training.chosen_name}; {'; '.join(training.notes[:2])}")
        (_, dependence), _, drivers_peak = measure(
            "drivers (importance, partial dependence)",
            lambda: crm.churn.churn_drivers(training, tables, top_features=churn.top_features),
        )
        scored, score_seconds, score_peak = measure(
            "scoring everyone (p, band, 3 reasons)",
            lambda: crm.churn.score_customers(training, tables, pd_table=dependence),
        )
        print(f"scored {len(scored):,}; bands {scored['risk_band'].value_counts().to_dict()}")
        plain, plain_seconds, _ = measure(
            "plain pandas: 8 of the features",
            lambda: pandas_features(run.table_path("transactions"), str(cutoffs.score)),
        )
    merged = one.merge(plain, on="customer_id", suffixes=("", "_pandas"))
    gap = max(
        float((merged[c] - merged[f"{c}_pandas"]).abs().max())
        for c in ("recency_days", "orders_365d", "spend_365d")
    )
    print(f"customers: crmlib {len(one):,}, pandas {len(plain):,}; largest |difference| {gap:.3g}")
    print(
        f"speed ratio (pandas 8 features / crmlib all features): {plain_seconds / one_seconds:5.2f}x"
    )
    peak = max(one_peak, tables_peak, train_peak, drivers_peak, score_peak)
    print(f"peak RSS of the crmlib steps: {peak / 2**30:.2f} GiB")
    met = one_seconds <= 10 and train_seconds <= 60 and score_seconds <= 10 and peak <= 3 * 2**30
    print(
        f"targets (features <= 10 s, training <= 60 s, scoring <= 10 s, <= 3 GB): {'met' if met else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
