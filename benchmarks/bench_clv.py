"""05_clv on 1M customers (about 10M orders): seconds, peak RSS, ratio vs plain lifetimes.

Usage: ``python benchmarks/bench_clv.py [--customers 1000000] [--seed 1]``.
Reuses the cached synthetic data of ``bench_ingest_kpis.py`` (``benchmarks/.cache/``); ingest
runs once into a temporary run folder and is not timed.

Timed, crmlib: the customer summary in SQL, the BG/NBD fit on unique patterns, the Gamma-Gamma
fit and 12-month CLV for every customer. The plain lifetimes path in the same process: pandas
reads the same purchases from the transactions parquet,
``lifetimes.utils.summary_data_from_transaction_data`` (days, ``freq_multiplier=7``),
``BetaGeoFitter.fit`` and ``GammaGammaFitter.fit`` on all rows, and
``GammaGammaFitter.customer_lifetime_value``. Targets: crmlib <= 30 s and <= 3 GB, and at
least 8x faster than the plain path.
"""

from __future__ import annotations

import argparse
import resource
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from bench_ingest_kpis import ingested_run, measure, synthetic_data, workbook_params

import crmlib as crm
from crmlib.clv import customer_summary
from crmlib.clv.models.fitting import fit_spend_model, fit_transactions_model
from crmlib.clv.value import lifetimes_clv_equivalent

AS_OF = "2025-12-31"
MONTHS = 12
MONTHLY_RATE = 0.01


def crmlib_path(engine: Any) -> pd.DataFrame:
    """Summary, BG/NBD, Gamma-Gamma and CLV the workbook's way."""
    summary = customer_summary(engine, observation_end=AS_OF, unit="week")
    transactions_model = fit_transactions_model(summary, model="bgnbd", unit="week")
    spend_model = fit_spend_model(summary)
    # lifetimes' discounting (a monthly rate, 30-day months) so both paths compute the same CLV
    return (
        lifetimes_clv_equivalent(
            transactions_model,
            spend_model,
            summary,
            time=MONTHS,
            discount_rate=MONTHLY_RATE,
            freq="W",
        )
        .to_frame("clv_crmlib")
        .assign(customer_id=summary["customer_id"].to_numpy())
    )


def lifetimes_path(transactions_path: Path) -> pd.DataFrame:
    """The same numbers the plain way: pandas + lifetimes on every row."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes import BetaGeoFitter, GammaGammaFitter
        from lifetimes.utils import summary_data_from_transaction_data

        tx = pd.read_parquet(
            transactions_path, columns=["customer_id", "order_ts", "amount", "is_purchase"]
        )
        tx = tx[tx["is_purchase"] & (tx["order_ts"] < pd.Timestamp(AS_OF) + pd.Timedelta(days=1))]
        summary = summary_data_from_transaction_data(
            tx,
            "customer_id",
            "order_ts",
            monetary_value_col="amount",
            observation_period_end=pd.Timestamp(AS_OF) + pd.Timedelta(hours=23, minutes=59),
            freq="D",
            freq_multiplier=7,
        )
        bgf = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
        repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
        ggf = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
        clv = ggf.customer_lifetime_value(
            bgf,
            summary["frequency"],
            summary["recency"],
            summary["T"],
            summary["monetary_value"],
            time=MONTHS,
            discount_rate=MONTHLY_RATE,
            freq="W",
        )
    return clv.rename("clv_lifetimes").reset_index()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-lifetimes", action="store_true", help="time crmlib only")
    args = parser.parse_args(argv)

    folder = synthetic_data(args.customers, args.seed)
    params = workbook_params(folder)
    with ingested_run(params) as run:
        with crm.engine.Engine.from_config(params.engine) as engine:
            run.register(engine, "transactions", "customer_days", "customer_facts")
            ours, ours_seconds, ours_peak = measure(
                "crmlib summary + BG/NBD + Gamma-Gamma + CLV", lambda: crmlib_path(engine)
            )
        print(f"customers: {len(ours):,}")
        if args.skip_lifetimes:
            return 0
        plain, plain_seconds, plain_peak = measure(
            "plain lifetimes (all rows)", lambda: lifetimes_path(run.table_path("transactions"))
        )

    both = ours.merge(plain, on="customer_id", how="outer", validate="one_to_one")
    gap = np.abs(both["clv_crmlib"] - both["clv_lifetimes"]) / np.maximum(
        np.abs(both["clv_lifetimes"]), 1e-9
    )
    print(
        f"customers: crmlib {ours['clv_crmlib'].notna().sum():,}, lifetimes "
        f"{plain['clv_lifetimes'].notna().sum():,}; median relative CLV difference "
        f"{np.nanmedian(gap):.2e}, 99th percentile {np.nanpercentile(gap, 99):.2e}"
    )
    print(f"speed ratio (lifetimes / crmlib):          {plain_seconds / ours_seconds:6.2f}x")
    print(f"memory ratio (lifetimes peak / crmlib peak): {plain_peak / ours_peak:6.2f}x")
    print(
        "process max RSS (getrusage):                 "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:5.2f} GiB"
    )
    met = ours_seconds <= 30 and ours_peak <= 3 * 2**30 and plain_seconds / ours_seconds >= 8
    print(f"targets (<= 30 s, <= 3 GB, >= 8x): {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
