"""A throw-away PostgreSQL server for the tests of PostgreSQL sources (tests/test_postgres_source.py).

:class:`ThrowawayPostgres` runs Debian's server binaries (``initdb``, ``pg_ctl``: package
``postgresql``, installed by ``make test``'s set-up when missing) on a temporary folder and a
free port, with password authentication (SCRAM) for one user, and removes everything on exit.
As root (CI here), the server runs as the ``postgres`` system user, since PostgreSQL refuses
to run as root. A server that cannot start raises :class:`ServerError` with its log, so the
tests fail loudly rather than skip.

:func:`load_csv` loads a CSV file into a table of text columns, in file order, with ADBC.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb


class ServerError(RuntimeError):
    """The throw-away server could not be set up."""


def server_bin() -> Path:
    """The folder of ``initdb`` and ``pg_ctl`` (newest major version installed)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if not found:
        raise ServerError(
            "no PostgreSQL server binaries (/usr/lib/postgresql/<version>/bin/initdb); install them "
            "with: sudo apt-get install -y postgresql"
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayPostgres:
    """``with ThrowawayPostgres(password=...) as server:`` ``server.dsn`` connects as ``crm``."""

    user = "crm"
    database = "postgres"

    def __init__(self, *, password: str) -> None:
        self.password = password
        self.port = _free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="crm-pg-"))
        self.data = self.folder / "data"
        self._as_root = os.geteuid() == 0

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    def __enter__(self) -> ThrowawayPostgres:
        binaries = server_bin()
        password_file = self.folder / "password"
        password_file.write_text(self.password + "\n", encoding="utf-8")
        if self._as_root:
            account = pwd.getpwnam("postgres")
            for path in (self.folder, password_file):
                os.chown(path, account.pw_uid, account.pw_gid)
        init = self._run(
            str(binaries / "initdb"), "-D", str(self.data), "-U", self.user, "-E", "UTF8",
            "--auth=scram-sha-256", f"--pwfile={password_file}",
        )  # fmt: skip
        password_file.unlink()
        if init.returncode:
            self._cleanup()
            raise ServerError(f"initdb failed ({init.returncode}): {init.stderr or init.stdout}")
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c timezone=UTC"
        )
        log = self.folder / "server.log"
        start = self._run(
            str(binaries / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(log), "-w",
            "-t", "60", "start",
        )  # fmt: skip
        if start.returncode:
            text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
            self._cleanup()
            raise ServerError(f"pg_ctl start failed ({start.returncode}): {start.stderr}\n{text}")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._run(
            str(server_bin() / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"
        )
        self._cleanup()

    def _cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def execute(self, sql: str) -> None:
        """Run one statement as ``crm`` (autocommit)."""
        import adbc_driver_postgresql.dbapi as dbapi

        with dbapi.connect(self.dsn, autocommit=True) as conn, conn.cursor() as cursor:
            cursor.execute(sql)


def load_csv(dsn: str, path: Path, table: str) -> list[str]:
    """Load CSV ``path`` into a new table of text columns plus ``csv_row`` (1-based row number).

    A table's rows come back in no guaranteed order (an ADBC bulk load here returns them
    shuffled in blocks), so ``csv_row`` keeps the file's order for a query's ORDER BY.
    Returns the CSV's column names.
    """
    import adbc_driver_postgresql.dbapi as dbapi

    con = duckdb.connect()
    try:
        data: Any = con.sql(
            "SELECT *, CAST(row_number() OVER () AS BIGINT) AS csv_row "
            f"FROM read_csv('{path}', all_varchar = true, header = true)"
        ).to_arrow_table()
    finally:
        con.close()
    names = [name for name in data.column_names if name != "csv_row"]
    with dbapi.connect(dsn, autocommit=True) as conn, conn.cursor() as cursor:
        columns = ", ".join([*(f'"{name}" text' for name in names), "csv_row bigint"])
        cursor.execute(f'CREATE TABLE "{table}" ({columns})')
        cursor.adbc_ingest(table, data, mode="append")
    return names
