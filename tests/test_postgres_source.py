"""PostgreSQL as a source (issue 18, part 4): the sample read from a throw-away server.

The server is started by the tests themselves (tests/pg_server.py: initdb + pg_ctl on a temp
folder and a free port) and fails the tests loudly when it cannot start. The sample's four
CSV files are loaded into it as text tables, in file order; the whole workbook run on them
must equal the committed sample reference (tests/sample_reference.py) in every artifact and
metric but the rejects' ``source_file`` (which names the source), and the marker password of
the connection string must appear nowhere in the run folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from conftest import REPO_ROOT, SAMPLE, run_module_cli, with_previous_report
from pg_server import ThrowawayPostgres, load_csv
from pydantic import ValidationError
from sample_reference import REFERENCE, _column, differences, fingerprint

import crmlib as crm
from crmlib.config import PostgresSource, TableSource
from crmlib.errors import ConfigError, SourceFileError
from crmlib.ingest.postgres import scrub_secrets

MARKER = "Marker-Pw-7f3a9c"  # the password; must never be written anywhere
TABLES = ("transactions", "customers", "events", "assignments")
DSN_ENV = "CRM_TEST_PG_DSN"
#: The running server and the CSV columns of each table loaded into it.
Server = tuple[ThrowawayPostgres, dict[str, list[str]]]


# -- settings, without a server -----------------------------------------------------------------
def test_a_source_is_files_or_postgres_never_both_nor_neither() -> None:
    assert TableSource(postgres={"table": "sales.orders"}).paths() == []
    with pytest.raises(ValidationError, match="exactly one of path"):
        TableSource(path="orders.csv", postgres={"table": "orders"})
    with pytest.raises(ValidationError, match="exactly one of path"):
        TableSource()
    with pytest.raises(ValidationError, match="exactly one of table"):
        PostgresSource(table="orders", query="SELECT 1")
    with pytest.raises(ValidationError, match="pattern"):
        PostgresSource(table="orders; DROP TABLE orders")
    assert PostgresSource(table="sales.orders").sql() == 'SELECT * FROM "sales"."orders"'
    with pytest.raises(ValidationError, match="experiment_export is read from files only"):
        crm.config.SourceConfig(experiment_export={"postgres": {"table": "ab"}})


def test_a_missing_environment_variable_is_named_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DSN_ENV, raising=False)
    params = crm.config.WorkbookParams.model_validate(
        {"run_name": "pg", "as_of_date": "2025-12-31",
         "source": {"transactions": {"postgres": {"dsn_env": DSN_ENV, "table": "orders"}}}}
    )  # fmt: skip
    with pytest.raises(ConfigError, match=f"environment variable {DSN_ENV} is not set"):
        crm.ingest.run_ingest(params, crm.io.RunFolder(str(tmp_path / "run")))


def test_messages_lose_the_connection_string_and_its_password() -> None:
    dsn = f"postgresql://crm:{MARKER}@db.internal:5432/shop"
    text = f"could not connect with {dsn}; password {MARKER} rejected"
    assert MARKER not in scrub_secrets(text, dsn)
    keyword = f"host=db user=crm password={MARKER}"
    assert MARKER not in scrub_secrets(f"bad: {keyword}", keyword)


# -- against a throw-away server ----------------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """The running server and the CSV columns of each table loaded into it."""
    with ThrowawayPostgres(password=MARKER) as running:
        columns = {t: load_csv(running.dsn, SAMPLE / f"{t}.csv.gz", t) for t in TABLES}
        yield running, columns


#: The tables params/postgres.yaml names, as views over the loaded sample; the orders typed
#: as a shop's database would hold them (timestamptz, numeric, integer).
#: The sample's deliberately bad values (an amount "12.3.4", a date that does not exist) cannot
#: be stored typed: they become NULL here, and ingest rejects those rows as it rejects the text.
EXAMPLE_VIEWS = (
    *(
        f"CREATE FUNCTION try_{kind}(value text) RETURNS {kind} AS $$ BEGIN RETURN value::{kind}; "
        f"EXCEPTION WHEN others THEN RETURN NULL; END $$ LANGUAGE plpgsql IMMUTABLE"
        for kind in ("timestamptz", "numeric", "integer")
    ),
    "CREATE SCHEMA sales",
    "CREATE SCHEMA crm",
    "CREATE VIEW sales.orders AS SELECT order_id, customer_id, try_timestamptz(order_ts) AS "
    "order_ts, try_numeric(amount) AS amount, try_integer(quantity) AS quantity, product_id, "
    "category, channel, csv_row AS line_id FROM transactions",
    "CREATE VIEW crm.customers AS SELECT * FROM customers ORDER BY csv_row",
    "CREATE VIEW crm.messaging_events AS SELECT * FROM events ORDER BY csv_row",
    "CREATE VIEW crm.experiment_assignments AS SELECT * FROM assignments ORDER BY csv_row",
)


def _params_file(folder: Path, columns: dict[str, list[str]]) -> Path:
    """params/default.yaml with the four core tables read from the server, in file order."""
    params = yaml.safe_load((REPO_ROOT / "params" / "default.yaml").read_text("utf-8"))
    for table in TABLES:
        listed = ", ".join(f'"{name}"' for name in columns[table])
        query = f'SELECT {listed} FROM "{table}" ORDER BY csv_row'
        params["source"][table] = {"postgres": {"dsn_env": DSN_ENV, "query": query}}
    for source in params["source"].values():  # the optional surveys and spend stay files
        if "path" in source:
            source["path"] = str((REPO_ROOT / "params" / source["path"]).resolve())
    for section in ("segments", "churn"):  # the suppression lists stay files of the repository
        listed = params.get(section, {}).get("suppression_list")
        if listed:
            params[section]["suppression_list"] = str((REPO_ROOT / "params" / listed).resolve())
    path = folder / "postgres.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return path


def test_connection_and_statement_errors_name_the_source_not_the_secret(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    running, _ = server
    engine = crm.engine.Engine(threads=1)
    wrong = running.dsn.replace(MARKER, MARKER + "-wrong")
    monkeypatch.setenv(DSN_ENV, wrong)
    source = PostgresSource(dsn_env=DSN_ENV, table="transactions")
    from crmlib.ingest.postgres import load_postgres

    with pytest.raises(SourceFileError) as refused:
        load_postgres(engine, source, table="transactions", raw="raw_t")
    assert "cannot connect" in str(refused.value) and "password authentication" in str(
        refused.value
    )
    assert MARKER not in str(refused.value)
    monkeypatch.setenv(DSN_ENV, running.dsn)
    with pytest.raises(SourceFileError, match="postgres table no_such_table.*refused") as missing:
        load_postgres(
            engine, PostgresSource(dsn_env=DSN_ENV, table="no_such_table"), table="transactions",
            raw="raw_t",
        )  # fmt: skip
    assert MARKER not in str(missing.value)
    types = load_postgres(engine, source, table="transactions", raw="raw_t")
    rows = engine.scalar("SELECT count(*) FROM raw_t")
    assert rows == server_rows(running, "transactions") and "order_id" in types
    engine.close()


def server_rows(running: ThrowawayPostgres, table: str) -> int:
    import adbc_driver_postgresql.dbapi as dbapi

    with dbapi.connect(running.dsn) as conn, conn.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        row: Any = cursor.fetchone()
        return int(row[0])


@pytest.mark.slow
def test_the_workbook_on_postgres_equals_the_csv_run_and_never_writes_the_password(
    server: Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    previous_sample_report: Path,
) -> None:
    running, columns = server
    with_previous_report(previous_sample_report, tmp_path / "out", "sample")  # as the CSV run
    monkeypatch.setenv(DSN_ENV, running.dsn)
    assert os.environ[DSN_ENV].count(MARKER) == 1
    result = run_module_cli(
        "run", "--params", _params_file(tmp_path, columns), "--outputs", tmp_path / "out"
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert MARKER not in result.stdout + result.stderr
    run_dir = tmp_path / "out" / "sample"
    found = differences(json.loads(REFERENCE.read_text()), fingerprint(run_dir))
    assert [line.split(":")[0] for line in found] == [
        ".artifacts.rejects.columns.source_file.sha256"
    ], found
    quality = json.loads((run_dir / "quality.json").read_text(encoding="utf-8"))
    assert quality["tables"]["transactions"]["files"] == ["postgres query"]
    inputs = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["inputs"]
    assert inputs["events"] == {
        "patterns": [],
        "files": [],
        "missing": [],
        "postgres": "postgres query",
    }
    leaks = [
        str(path.relative_to(tmp_path))
        for path in (tmp_path / "out").rglob("*")
        if path.is_file() and MARKER.encode() in path.read_bytes()
    ]
    assert leaks == []


def test_the_example_params_file_reads_typed_columns_and_reconciles(
    server: Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """params/postgres.yaml on typed views of the sample: the same tables as the CSV run."""
    running, _ = server
    for statement in EXAMPLE_VIEWS:
        running.execute(statement)
    monkeypatch.setenv("PG_DSN", running.dsn)
    params = crm.config.load_stage_params(str(REPO_ROOT / "params" / "postgres.yaml"), "ingest", {})
    run = crm.io.RunFolder(str(tmp_path / "run"))
    crm.ingest.run_ingest(params.workbook, run)
    quality = json.loads((tmp_path / "run" / "quality.json").read_text(encoding="utf-8"))
    assert quality["reconciles"] and quality["tables"]["customers"]["files"] == [
        "postgres table crm.customers"
    ]
    expected = json.loads(REFERENCE.read_text())["artifacts"]
    for table in ("transactions", "customers", "customer_facts", "customer_days"):
        frame = pd.read_parquet(tmp_path / "run" / "data" / f"{table}.parquet")
        found = {"rows": len(frame), "columns": {str(c): _column(frame[c]) for c in frame.columns}}
        changed = differences(expected[table], found, f".{table}")
        assert changed == []
