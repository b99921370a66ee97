"""07_ab_test on 1M assigned customers with outcomes from about 10M orders: seconds, peak RSS.

Usage: ``python benchmarks/bench_ab.py [--customers 1000000] [--seed 1]``.
Reuses the cached synthetic data of ``bench_ingest_kpis.py``; ingest runs once and is not
timed. Every customer of the synthetic CRM is assigned 50/50 (a seeded draw) to control or
treatment of one experiment on 2025-10-01 09:00, so 1M customers are assigned (the generator's
own win-back experiment holds only the at-risk ones).

Timed, crmlib: outcomes in SQL (30-day window, 365-day pre-period, events), SRM and covariate
balance, ``analyze_experiment`` on six metrics with CUPED, campaign economics and the
Kaplan-Meier time-to-purchase curves. Target: <= 15 s. The plain alternative in the same
process: pandas merges the assignments into the purchases, computes repurchase and revenue in
the window with ``groupby``, and scipy's Welch test; the ratio is printed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np
import pandas as pd
from bench_ingest_kpis import ingested_run, measure, synthetic_data, workbook_params
from scipy import stats

import crmlib as crm

AS_OF = "2025-12-31"
ASSIGNED = pd.Timestamp("2025-10-01 09:00:00")
METRICS = ["repurchase", "orders", "net_revenue", "opens", "clicks", "unsubscribes"]
CUPED = {"repurchase": "pre_orders", "orders": "pre_orders", "net_revenue": "pre_spend"}


def assignments(customer_ids: pd.Series, seed: int) -> pd.DataFrame:
    """Every customer, 50/50 at random, treatment cost 1.50 per contact."""
    treated = np.random.default_rng(seed).random(len(customer_ids)) < 0.5
    return pd.DataFrame(
        {
            "customer_id": customer_ids.to_numpy(),
            "experiment_id": "bench-2025-10",
            "variant": np.where(treated, "treatment", "control"),
            "assigned_ts": ASSIGNED,
            "cost": np.where(treated, 1.5, 0.0),
        }
    )


def crmlib_path(engine: Any) -> dict[str, pd.DataFrame]:
    outcomes = crm.experiments.experiment_outcomes(engine, as_of_date=AS_OF)
    return {
        "outcomes": outcomes,
        "srm": crm.experiments.srm_table(outcomes),
        "balance": crm.experiments.covariate_balance(
            outcomes, covariates=["pre_orders", "pre_spend"]
        ),
        "results": crm.experiments.analyze_experiment(outcomes, metrics=METRICS, covariates=CUPED),
        "economics": crm.experiments.campaign_economics(outcomes),
        "curves": crm.experiments.time_to_purchase_curves(outcomes),
    }


def pandas_path(transactions_path: Any, assigned: pd.DataFrame) -> pd.DataFrame:
    """Repurchase and net revenue in the 30-day window, and Welch's test, the plain way."""
    tx = pd.read_parquet(
        transactions_path, columns=["customer_id", "order_ts", "amount", "gross_amount"]
    )
    tx = tx[tx["gross_amount"] > 0]
    window = tx[(tx["order_ts"] > ASSIGNED) & (tx["order_ts"] <= ASSIGNED + pd.Timedelta(days=30))]
    per_customer = window.groupby("customer_id").agg(
        orders=("amount", "size"), net_revenue=("amount", "sum")
    )
    table = assigned.merge(per_customer, on="customer_id", how="left").fillna(
        {"orders": 0, "net_revenue": 0.0}
    )
    table["repurchase"] = (table["orders"] > 0).astype(float)
    rows = []
    for metric in ("repurchase", "net_revenue"):
        treated = table.loc[table["variant"] == "treatment", metric]
        control = table.loc[table["variant"] == "control", metric]
        test = stats.ttest_ind(treated, control, equal_var=False)
        rows.append(
            {"metric": metric, "abs_diff": treated.mean() - control.mean(), "p": test.pvalue}
        )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    folder = synthetic_data(args.customers, args.seed)
    params = workbook_params(folder, tables=("transactions", "customers", "events"))
    with ingested_run(params) as run:
        assigned = assignments(
            run.read_table("customers", columns=["customer_id"])["customer_id"], args.seed
        )
        with crm.engine.Engine.from_config(params.engine) as engine:
            run.register(engine, "transactions", "events")
            engine.register("assignments", assigned)
            ours, ours_seconds, ours_peak = measure(
                "crmlib outcomes + health + effects + money + KM", lambda: crmlib_path(engine)
            )
        plain, plain_seconds, _ = measure(
            "plain pandas: 2 metrics, Welch",
            lambda: pandas_path(run.table_path("transactions"), assigned),
        )
    results = ours["results"]
    print(f"assigned customers: {len(ours['outcomes']):,}; result rows: {len(results):,}")
    means = ours["outcomes"].groupby("variant")[["repurchase", "net_revenue"]].mean()
    raw = means.loc["treatment"] - means.loc["control"]  # the same contrast, before CUPED
    gap = max(abs(float(raw[row.metric]) - float(row.abs_diff)) for row in plain.itertuples())
    print(f"SRM p = {ours['srm']['p_value'].iloc[0]:.3f}; |raw difference - pandas|: {gap:.3g}")
    print(
        f"speed ratio (pandas 2 metrics / crmlib everything): {plain_seconds / ours_seconds:5.2f}x"
    )
    met = ours_seconds <= 15
    print(f"peak RSS {ours_peak / 2**30:.2f} GiB; target (<= 15 s): {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
