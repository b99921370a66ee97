"""06_churn on 1M customers (about 10M orders): features, training, scoring; seconds and peak RSS.

Usage: ``python benchmarks/bench_churn.py [--customers 1000000] [--seed 1]``.
Reuses the cached synthetic data of ``bench_ingest_kpis.py`` (``benchmarks/.cache/``); ingest
(transactions, customers, events) runs once into a temporary run folder and is not timed.

Timed: the feature table at one cutoff in SQL (and all three), training both candidate models
with calibration on the stratified subsample (``max_train_rows`` 200,000), the holdout scores
(the BTYD baseline refitted on a sample of ``btyd_max_customers`` and applied to every
validation customer), the drivers (permutation importance on ``importance_max_rows``
validation customers) and scoring every active customer (probability, band, reason codes). Targets: features <= 10 s, training <= 60 s,
scoring <= 10 s, peak <= 3 GB. The plain alternative in the same process: pandas reads the
transactions parquet and computes a subset of the features (recency, tenure, orders and spend
in three windows) with ``groupby``; the ratio is printed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import pandas as pd
from bench_ingest_kpis import ingested_run, measure, synthetic_data, workbook_params

import crmlib as crm

AS_OF = "2025-12-31"


def pandas_features(transactions_path: Any, cutoff: str) -> pd.DataFrame:
    """Recency, tenure, orders and spend over 30/90/365 days at ``cutoff``, the plain way.

    The definitions of :func:`crmlib.churn.churn_features`: orders count purchases; spend is the
    net amount of every row (unmatched refunds included), rounded to cents.
    """
    tx = pd.read_parquet(
        transactions_path, columns=["customer_id", "order_ts", "amount", "is_purchase"]
    )
    end = pd.Timestamp(cutoff) + pd.Timedelta(days=1)
    tx = tx[tx["order_ts"] < end]
    tx = tx.assign(age_days=(end - tx["order_ts"].dt.normalize()).dt.days - 1)
    purchases = tx[tx["is_purchase"]]
    active = purchases.loc[purchases["age_days"] < 365, "customer_id"].unique()
    purchases = purchases[purchases["customer_id"].isin(active)]
    grouped = purchases.groupby("customer_id")["age_days"]
    features = pd.DataFrame({"recency_days": grouped.min(), "tenure_days": grouped.max()})
    tx = tx[tx["customer_id"].isin(active)]
    for days in (30, 90, 365):
        orders = purchases[purchases["age_days"] < days].groupby("customer_id").size()
        spend = tx[tx["age_days"] < days].groupby("customer_id")["amount"].sum().round(2)
        features[f"orders_{days}d"] = orders.reindex(features.index, fill_value=0)
        features[f"spend_{days}d"] = spend.reindex(features.index, fill_value=0.0)
    return features.reset_index()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    folder = synthetic_data(args.customers, args.seed)
    params = workbook_params(folder, tables=("transactions", "customers", "events"))
    churn = params.churn
    with ingested_run(params) as run:
        cutoffs = crm.churn.churn_cutoffs(AS_OF, horizon_days=churn.horizon_days)
        with crm.engine.Engine.from_config(params.engine) as engine:
            run.register(
                engine, "transactions", "customer_days", "customer_facts", "customers", "events"
            )
            one, one_seconds, one_peak = measure(
                "features at one cutoff (as_of, SQL)",
                lambda: crm.churn.churn_features(engine, cutoff=cutoffs.score, with_label=False),
            )
            compared = ["recency_days", "tenure_days", "orders_30d", "orders_365d", "spend_30d"]
            one = one[["customer_id", *compared, "spend_365d"]]  # the rest is not kept
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
            lambda: crm.churn.train_churn(
                tables, settings=churn, seed=params.seed, min_cell_size=params.privacy.min_cell_size
            ),
        )
        print(f"chosen: {training.chosen_name}; {'; '.join(training.notes[:2])}")
        with crm.engine.Engine.from_config(params.engine) as engine:
            run.register(engine, "transactions", "customer_days", "customer_facts")
            holdout, _, holdout_peak = measure(
                "holdout scores (BTYD refit on a sample)",
                lambda: crm.churn.holdout_scores(
                    engine,
                    training,
                    tables,
                    btyd_unit=churn.btyd_unit,
                    min_cell_size=params.privacy.min_cell_size,
                    max_customers=churn.btyd_max_customers,
                    seed=params.seed,
                ),
            )
        print(f"BTYD baseline: {holdout.fit_notes[0] if holdout.fit_notes else holdout.notes}")
        (importance, dependence), _, drivers_peak = measure(
            "drivers (importance, partial dependence)",
            lambda: crm.churn.churn_drivers(
                training,
                tables,
                top_features=churn.top_features,
                seed=params.seed,
                max_rows=churn.importance_max_rows,
            ),
        )
        print(f"importance on {importance.attrs.get('rows', 0):,} validation customers")
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
        float((merged[c] - merged[f"{c}_pandas"]).abs().max()) for c in [*compared, "spend_365d"]
    )
    print(f"customers: crmlib {len(one):,}, pandas {len(plain):,}; largest |difference| {gap:.3g}")
    print(
        f"speed ratio (pandas 8 features / crmlib all features): {plain_seconds / one_seconds:5.2f}x"
    )
    peak = max(one_peak, tables_peak, train_peak, holdout_peak, drivers_peak, score_peak)
    print(f"peak RSS of the crmlib steps: {peak / 2**30:.2f} GiB")
    met = one_seconds <= 10 and train_seconds <= 60 and score_seconds <= 10 and peak <= 3 * 2**30
    print(
        f"targets (features <= 10 s, training <= 60 s, scoring <= 10 s, <= 3 GB): {'met' if met else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
