"""The workbook's queries and 01_ingest on DuckDB and on Spark local[2], and the PostgreSQL read, at 1M customers.

Usage: ``python benchmarks/bench_engines.py [--customers 1000000] [--seed 1] [--skip-postgres]
[--skip-ingest]``
(``make bench-engines``). The synthetic data is generated once into ``benchmarks/.cache/``
(shared with the other benchmarks) and ingested once on DuckDB into ``benchmarks/.cache/``; the
artifacts (transactions, customer_days, customer_facts as parquet) are what both engines read.

Part 1 runs stage functions (the same SQL files, the same parameters) on an
:class:`crmlib.engine.Engine` and on a :class:`crmlib.engine.SparkEngine` on ``local[2]`` and
prints both times and their ratio; Spark's session start is timed apart. The driver gets 6 GB
(``spark.driver.memory``): the churn features come back to it as one row per active customer
(634,000 here), which the default 1 GB cannot hold. Peak RSS is this Python process's; the
JVM's is not counted. Spark is expected to
be slower on one machine (a JVM, a scheduler and a shuffle for what DuckDB does in one process);
the point is that the same queries run, and how the gap looks.

Part 2 runs 01_ingest on the orders and customers CSV files on each engine (Spark reading the
files itself) and checks that rows, rejects and revenue come out the same.

Part 3 loads the orders CSV into a throw-away PostgreSQL server (tests/pg_server.py) and times
:func:`crmlib.ingest.postgres.load_postgres`: ADBC's COPY into Arrow batches, streamed into
DuckDB's raw table, with the peak memory of this process (the batches bound it, not the table).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from bench_ingest_kpis import CACHE, measure, synthetic_data  # noqa: E402

import crmlib as crm  # noqa: E402
from crmlib.engine import Engine, SparkEngine  # noqa: E402

AS_OF = dt.date(2025, 12, 31)


def _ingest_params(folder: Path) -> crm.config.WorkbookParams:
    """01_ingest of ``folder``'s orders and customers CSV files."""
    return crm.config.WorkbookParams.model_validate(
        {
            "run_name": "bench", "as_of_date": AS_OF.isoformat(),
            "source": {t: {"path": str(folder / f"{t}.csv")} for t in ("transactions", "customers")},
            "ingest": {"run_date": AS_OF.isoformat()},
        }
    )  # fmt: skip


def ingested(folder: Path) -> Path:
    """01_ingest's artifacts of ``folder``'s CSV files, on DuckDB, once (cached)."""
    run_dir = CACHE / f"{folder.name}-ingested"
    if not (run_dir / "data" / "customer_facts.parquet").is_file():
        params = _ingest_params(folder)
        measure(
            "ingest once (DuckDB, cached)",
            lambda: crm.ingest.run_ingest(params, crm.io.RunFolder(str(run_dir))),
        )
    return run_dir


def ingest_on_both(folder: Path) -> None:
    """01_ingest of the orders and customers CSV on each engine: the times, the same totals."""
    params = _ingest_params(folder)
    times: dict[str, float] = {}
    totals: dict[str, Any] = {}
    for name in ("duckdb", "spark"):
        engine = (
            Engine()
            if name == "duckdb"
            else SparkEngine(master="local[2]", conf={"spark.driver.memory": "6g"})
        )
        run = crm.io.RunFolder(str(CACHE / f"{folder.name}-ingest-{name}"))
        result, times[name], _ = measure(
            f"{name:<6} 01_ingest (transactions, customers)",
            lambda e=engine, r=run: crm.ingest.run_ingest(params, r, engine=e),
        )
        engine.close()
        totals[name] = (result.quality["tables"]["transactions"], result.rows)
    assert totals["duckdb"] == totals["spark"], "the engines' ingest totals differ"
    print(
        f"01_ingest: DuckDB {times['duckdb']:.1f} s, Spark local[2] {times['spark']:.1f} s "
        f"({times['spark'] / times['duckdb']:.1f}x); rows, rejects and revenue identical"
    )


#: Stage functions timed on both engines: (label, work on an engine with the views registered).
QUERIES: list[tuple[str, Callable[[Engine], Any]]] = [
    ("kpis_by_period (02)", lambda e: crm.kpis.kpis_by_period(e, period="month", as_of_date=AS_OF)),
    ("customer_summary (05, lifetimes' summary)", lambda e: crm.clv.customer_summary(e, observation_end=AS_OF, unit="week")),
    ("calibration_holdout (05)", lambda e: crm.clv.calibration_holdout(e, calibration_end=dt.date(2025, 7, 2), observation_end=AS_OF, unit="week")),
    ("churn_features at one cutoff (06)", lambda e: crm.churn.churn_features(e, cutoff=dt.date(2025, 10, 2), observed_until=AS_OF)),
]  # fmt: skip


def engines(run_dir: Path) -> None:
    data = run_dir / "data"
    results: dict[str, dict[str, float]] = {}
    for name in ("duckdb", "spark"):
        if name == "spark":
            engine, _, _ = measure(
                "Spark session start (local[2])",
                lambda: SparkEngine(master="local[2]", conf={"spark.driver.memory": "6g"}),
            )
        else:
            engine = Engine()
        for view in ("transactions", "customers", "customer_days", "customer_facts"):
            engine.register_parquet(view, data / f"{view}.parquet")
        for label, work in QUERIES:
            _, seconds, _ = measure(f"{name:<6} {label}", lambda w=work, e=engine: len(w(e)))
            results.setdefault(label, {})[name] = seconds
        engine.close()
    print()
    print(f"{'query':<44} {'DuckDB s':>9} {'Spark s':>9} {'Spark/DuckDB':>13}")
    for label, times in results.items():
        print(
            f"{label:<44} {times['duckdb']:9.2f} {times['spark']:9.2f} {times['spark'] / times['duckdb']:12.1f}x"
        )


def postgres(folder: Path) -> None:
    import adbc_driver_postgresql.dbapi as dbapi
    import duckdb
    from pg_server import ThrowawayPostgres

    from crmlib.config import PostgresSource
    from crmlib.ingest.postgres import load_postgres

    with ThrowawayPostgres(password="bench") as server:

        def load() -> int:
            source = duckdb.connect()
            reader = source.sql(
                f"SELECT * FROM read_csv('{folder / 'transactions.csv'}', all_varchar = true)"
            ).to_arrow_reader(1_000_000)
            with dbapi.connect(server.dsn, autocommit=True) as conn, conn.cursor() as cursor:
                return int(cursor.adbc_ingest("orders", reader, mode="create"))

        rows, _, _ = measure("load the orders CSV into PostgreSQL (setup)", load)
        os.environ["BENCH_PG_DSN"] = server.dsn
        with Engine() as engine:
            source = PostgresSource(dsn_env="BENCH_PG_DSN", table="orders")
            _, seconds, peak = measure(
                f"read {rows:,} rows from PostgreSQL into DuckDB",
                lambda: load_postgres(engine, source, table="transactions", raw="raw"),
            )
            assert engine.scalar("SELECT count(*) FROM raw") == rows
        print(f"PostgreSQL read: {rows / seconds:,.0f} rows/s, peak RSS {peak / 2**30:.2f} GiB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-ingest", action="store_true", help="skip 01_ingest on both engines")
    args = parser.parse_args(argv)
    folder = synthetic_data(args.customers, args.seed)
    started = time.perf_counter()
    engines(ingested(folder))
    if not args.skip_ingest:
        ingest_on_both(folder)
    if not args.skip_postgres:
        postgres(folder)
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
