"""Ingest + KPIs on 1M customers (about 10M orders): seconds, peak RSS, ratio vs plain pandas.

Usage: ``python benchmarks/bench_ingest_kpis.py [--customers 1000000] [--seed 1]``.
The synthetic data is generated once into ``benchmarks/.cache/`` and reused.

The plain alternative, run in the same process on the same CSV, is what an analyst would write
without the engine: ``pandas.read_csv`` and groupbys for the same monthly KPIs (active, new,
returning, reactivated customers, retention, orders, revenue).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

import crmlib as crm

CACHE = Path(__file__).resolve().parent / ".cache"


class PeakRSS:
    """Samples this process's resident memory every 20 ms; ``peak`` is the maximum seen."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> PeakRSS:
        self.peak = self.process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measure(label: str, work: Callable[[], Any]) -> tuple[Any, float, int]:
    with PeakRSS() as rss:
        started = time.perf_counter()
        result = work()
        seconds = time.perf_counter() - started
    print(f"{label:<44} {seconds:8.2f} s   peak RSS {rss.peak / 2**30:5.2f} GiB", flush=True)
    return result, seconds, rss.peak


def synthetic_data(customers: int, seed: int) -> Path:
    folder = CACHE / f"synth-{customers}-{seed}"
    truth = folder / "truth.json"
    stale = (
        truth.is_file()
        and json.loads(truth.read_text())["generator"]["version"] != crm.synth.VERSION
    )
    if stale or not truth.is_file():
        print(f"generating {customers:,} customers into {folder} (once) ...", flush=True)
        crm.synth.write(crm.synth.generate(customers, seed=seed), folder)
    return folder


def workbook_params(
    folder: Path,
    memory_limit: str = "2.5GB",
    tables: tuple[str, ...] = ("transactions", "customers"),
) -> Any:
    return crm.config.WorkbookParams.model_validate(
        {
            "run_name": "bench",
            "as_of_date": "2025-12-31",
            "source": {name: {"path": str(folder / f"{name}.csv")} for name in tables},
            "engine": {"memory_limit": memory_limit},
        }
    )


@contextmanager
def ingested_run(params: Any) -> Iterator[crm.io.RunFolder]:
    """01_ingest once, not timed, into a temporary run folder that is removed afterwards."""
    with tempfile.TemporaryDirectory() as run_dir:
        run = crm.io.RunFolder(run_dir)
        print("ingesting once (not timed) ...", flush=True)
        with crm.engine.Engine.from_config(params.engine) as engine:
            crm.ingest.run_ingest(params, run, engine=engine)
        yield run


def engine_path(params: Any, run_dir: Path) -> pd.DataFrame:
    run = crm.io.RunFolder(run_dir)
    with crm.engine.Engine.from_config(params.engine) as engine:
        crm.ingest.run_ingest(params, run, engine=engine)
        run.register(engine, "transactions")
        return crm.kpis.kpis_by_period(engine, period="month", as_of_date=params.as_of_date)


def read_order_rows(folder: Path) -> pd.DataFrame:
    """The order rows the plain way: pandas reads the CSV; bad ids, dates, amounts and exact
    duplicate rows are dropped."""
    raw = pd.read_csv(
        folder / "transactions.csv",
        usecols=["order_id", "customer_id", "order_ts", "amount"],
        dtype={"order_id": str, "customer_id": str, "order_ts": str, "amount": str},
        engine="pyarrow",
    )
    raw["amount"] = pd.to_numeric(raw["amount"], errors="coerce")
    raw["order_ts"] = pd.to_datetime(raw["order_ts"], errors="coerce", format="%Y-%m-%d %H:%M:%S")
    return raw.dropna(subset=["customer_id", "order_ts", "amount"]).drop_duplicates()


def pandas_path(folder: Path) -> pd.DataFrame:
    """Monthly KPIs the plain way: pandas reads the CSV, nets refunds, groups by.

    Same rules as ingest where they change the numbers: rows with a bad id, date or amount,
    after the as-of date or outside the amount bounds are dropped; an order id's first positive
    row is the order; refunds net into their order; cancelled orders are not purchases.
    """
    raw = read_order_rows(folder)
    raw = raw[(raw["order_ts"] < "2026-01-01") & raw["amount"].between(-10_000, 10_000)]
    orders = raw[raw["amount"] > 0].drop_duplicates("order_id", keep="first").set_index("order_id")
    refunds = raw[raw["amount"] < 0].groupby("order_id")["amount"].sum()
    orders["amount"] = orders["amount"] + refunds.reindex(orders.index, fill_value=0.0)
    returns = raw[(raw["amount"] < 0) & ~raw["order_id"].isin(orders.index)]
    orders["period"] = orders["order_ts"].dt.to_period("M")
    purchases = orders[orders["amount"] > 0]
    activity = purchases[["customer_id", "period"]].drop_duplicates()
    first = purchases.groupby("customer_id")["period"].min().rename("first_period")
    activity = activity.join(first, on="customer_id")
    previous = activity.assign(period=activity["period"] + 1)[["customer_id", "period"]]
    activity = activity.merge(
        previous.assign(was_active=True), on=["customer_id", "period"], how="left"
    )
    activity["was_active"] = activity["was_active"].notna()
    activity["is_new"] = activity["period"] == activity["first_period"]
    kpis = activity.groupby("period").agg(
        active_customers=("customer_id", "size"),
        new_customers=("is_new", "sum"),
        retained=("was_active", "sum"),
    )
    kpis["orders"] = purchases.groupby("period").size()
    kpis["revenue"] = (
        orders.groupby("period")["amount"]
        .sum()
        .add(returns.groupby(returns["order_ts"].dt.to_period("M"))["amount"].sum(), fill_value=0.0)
    )
    kpis["retention_rate"] = kpis["retained"] / kpis["active_customers"].shift(1)
    return kpis


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--memory-limit", default="2.5GB", help="DuckDB memory_limit (params: engine.memory_limit)"
    )
    args = parser.parse_args(argv)

    folder = synthetic_data(args.customers, args.seed)
    truth = json.loads((folder / "truth.json").read_text())
    rows = truth["realized"]["n_transaction_rows"]
    size_mb = (folder / "transactions.csv").stat().st_size / 2**20
    print(
        f"input: {rows:,} transaction rows ({size_mb:,.0f} MiB CSV), {args.customers:,} customers"
    )
    params = workbook_params(folder, args.memory_limit)
    print(f"engine.memory_limit: {args.memory_limit}")

    with tempfile.TemporaryDirectory() as run_dir:
        kpis, engine_seconds, engine_peak = measure(
            "crmlib ingest + KPIs (DuckDB)", lambda: engine_path(params, Path(run_dir))
        )
    reference, pandas_seconds, pandas_peak = measure(
        "plain pandas read_csv + groupby KPIs", lambda: pandas_path(folder)
    )

    ours = kpis.set_index("period_label")[["active_customers", "new_customers", "orders"]]
    plain = reference[["active_customers", "new_customers", "orders"]].set_axis(
        reference.index.astype(str)
    )
    differing = (ours.reindex(plain.index).astype("int64") != plain.astype("int64")).any(axis=1)
    print(
        f"months where active/new/orders differ from pandas: {int(differing.sum())} of {len(plain)}"
    )
    print(f"speed ratio (pandas time / crmlib time):      {pandas_seconds / engine_seconds:6.2f}x")
    print(f"memory ratio (pandas peak / crmlib peak):     {pandas_peak / engine_peak:6.2f}x")
    print(
        f"process max RSS (getrusage):                  {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:5.2f} GiB"
    )
    target = engine_seconds <= 25 and engine_peak <= 3 * 2**30
    print(f"target (<= 25 s and <= 3 GiB for ingest + KPIs): {'met' if target else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
