"""Reading a source table from PostgreSQL: ADBC into Arrow batches, streamed into the engine.

A ``source.<table>.postgres`` source (:class:`crmlib.config.PostgresSource`) names a table or a
query and the environment variable that holds the connection string. :func:`load_postgres`
runs the statement with the ADBC PostgreSQL driver (``adbc-driver-postgresql``: libpq's COPY
protocol into Arrow record batches of about ``batch_size_hint_bytes``) and hands the batch
stream to the engine, which writes it into the raw table batch by batch, so memory stays
bounded whatever the table's size. From there the rows go through the same staging, contract
checks, rejects and reconciliation as a file's rows (:func:`crmlib.ingest.read_source`).

Credentials are read from the environment only, and no message carries them: every error
from the driver or the engine is passed through :func:`scrub_secrets`, which replaces the
connection string and its password by ``***``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

from crmlib.config import PostgresSource
from crmlib.engine import Engine
from crmlib.errors import ConfigError, EngineError, SourceFileError

__all__ = ["connection_string", "scrub_secrets", "load_postgres"]

log = logging.getLogger(__name__)

_MASK = "***"
_KEYWORD_PASSWORD = re.compile(r"password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
#: Name under which the batch stream is visible to the engine while it is copied.
_STREAM = "ingest_postgres_stream"


def connection_string(source: PostgresSource, *, table: str) -> str:
    """The connection string from ``source.dsn_env``; a ConfigError naming the variable if unset.

    >>> import os
    >>> os.environ["CRM_DOC_DSN"] = "postgresql://crm@db.internal/shop"
    >>> connection_string(PostgresSource(dsn_env="CRM_DOC_DSN", table="orders"), table="transactions")
    'postgresql://crm@db.internal/shop'
    """
    value = os.environ.get(source.dsn_env, "").strip()
    if not value:
        raise ConfigError(
            f"source.{table}.postgres: the environment variable {source.dsn_env} is not set; "
            "expected a PostgreSQL connection string in it, such as "
            "postgresql://user:password@host:5432/database (credentials are read from the "
            "environment only, never from the params file)"
        )
    return value


def _secrets(dsn: str) -> list[str]:
    """The connection string and every password in it, longest first."""
    found = [dsn]
    if "://" in dsn:
        password = urlsplit(dsn).password
        if password:
            found += [password, unquote(password)]
    for match in _KEYWORD_PASSWORD.finditer(dsn):
        value = match.group(1)
        found += [value, value.strip("'")]
    return sorted({s for s in found if s}, key=len, reverse=True)


def scrub_secrets(text: str, dsn: str) -> str:
    """``text`` with the connection string ``dsn`` and its password replaced by ``***``.

    >>> scrub_secrets("bad login postgresql://crm:s3cret@db/shop (s3cret)", "postgresql://crm:s3cret@db/shop")
    'bad login *** (***)'
    >>> scrub_secrets("password 'a b' refused; a b", "host=db password='a b'")
    'password *** refused; ***'
    """
    for secret in _secrets(dsn):
        text = text.replace(secret, _MASK)
    return text


def _driver() -> Any:
    try:
        import adbc_driver_postgresql.dbapi as dbapi
    except ImportError as exc:  # pragma: no cover - a dependency of crmlib
        raise ConfigError(
            "a postgres source needs the package adbc-driver-postgresql (a dependency of "
            "crmlib: reinstall with `make install`)"
        ) from exc
    return dbapi


@contextmanager
def _connected(source: PostgresSource, *, table: str) -> Iterator[Any]:
    """An open cursor on which ``source.sql()`` has run; errors in words, without secrets."""
    dsn = connection_string(source, table=table)
    dbapi = _driver()
    where = f"source.{table}.postgres ({source.label()}, connection from {source.dsn_env})"
    try:
        connection = dbapi.connect(dsn)
    except dbapi.Error as exc:
        raise SourceFileError(
            f"{where}: cannot connect: {scrub_secrets(str(exc), dsn)}; expected a reachable "
            f"server and valid credentials in {source.dsn_env}"
        ) from None
    try:
        cursor = connection.cursor()
        cursor.adbc_statement.set_options(
            **{"adbc.postgresql.batch_size_hint_bytes": str(source.batch_size_hint_bytes)}
        )
        try:
            cursor.execute(source.sql())
        except dbapi.Error as exc:
            message = scrub_secrets(str(exc).strip().splitlines()[0], dsn)
            raise SourceFileError(
                f"{where}: the server refused the statement: {message}; expected "
                + (
                    "an existing table or view the user may read"
                    if source.table
                    else "a valid SELECT"
                )
            ) from None
        try:
            yield cursor
        finally:
            cursor.close()
    finally:
        connection.close()


def load_postgres(
    engine: Engine, source: PostgresSource, *, table: str, raw: str
) -> dict[str, str]:
    """Copy the rows of a PostgreSQL source into engine table ``raw``; return its column types.

    ``raw`` gets ``ingest_row_hash`` (a hash of every source column, as for files) and every
    column of the result, in result order; PostgreSQL types arrive typed (``numeric`` as text,
    so no digit is lost; ``timestamptz`` as a UTC timestamp). The batches stream from the
    server into the engine: neither the driver nor Python holds the whole table.

    Returns
    -------
    dict
        Column name -> engine type, in order, ``ingest_row_hash`` excluded.

    Raises
    ------
    ConfigError
        The environment variable is not set.
    SourceFileError
        The server cannot be reached, refuses the login or the statement, or the stream
        breaks; the message names the source and the variable, never the credentials.
    """
    dsn = connection_string(source, table=table)
    with _connected(source, table=table) as cursor:
        reader = cursor.fetch_record_batch()
        engine.register(_STREAM, reader)
        try:
            engine.execute(
                f"CREATE OR REPLACE TABLE {raw} AS "
                f"SELECT hash(*COLUMNS(*)) AS ingest_row_hash, * FROM {_STREAM}"
            )
        except EngineError as exc:
            raise SourceFileError(
                f"source.{table}.postgres ({source.label()}): reading the rows failed: "
                f"{scrub_secrets(str(exc), dsn)}"
            ) from None
        finally:
            engine.unregister(_STREAM)
    described = engine.query(f"DESCRIBE SELECT * FROM {raw}")
    types = dict(
        zip(described["column_name"].astype(str), described["column_type"].astype(str), strict=True)
    )
    types.pop("ingest_row_hash", None)
    log.info("%s: %s read from PostgreSQL", table, source.label())
    return types
