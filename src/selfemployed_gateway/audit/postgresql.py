"""The audit trail (R-73) in PostgreSQL, with psycopg 3.

Connections: one per thread (``psycopg_pool`` is not a dependency). Each thread that calls
the store opens its own connection on first use and keeps it; a broken connection is
replaced on the next call. A statement that fails because the connection was lost *before*
anything was committed (typically: the server restarted while the connection was idle) is
retried once on a fresh connection, so a database restart does not fail the next request of
every worker thread. A failure of the COMMIT itself is never retried (the outcome is
unknown): it raises `AuditOutcomeUnknown`. Connections of threads that have ended are closed
when the next connection is opened; `close` closes them all.

Durability: autocommit is off and `record_many` commits explicitly, once for all its rows;
with the server's default ``synchronous_commit = on`` they are flushed to the server's WAL
when it returns.

Schema: ``CREATE TABLE IF NOT EXISTS audit_exchange`` (timestamptz, bytea for the messages)
and its indexes, under a transaction-level advisory lock so that several gateways starting
together do not race. The messages are never logged, and error messages carry only the
SQLSTATE and the server's primary message (never its DETAIL, which can quote a row).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import TupleRow

from selfemployed_gateway.audit.trail import (
    ADDED_COLUMNS,
    COLUMNS,
    ExchangeRecord,
    check_aware,
    check_limit,
    record_from_row,
    row_from_record,
)
from selfemployed_gateway.errors import AuditError, AuditOutcomeUnknown
from selfemployed_gateway.postgresql_errors import describe

CONNECT_TIMEOUT_SECONDS = 5
APPLICATION_NAME = "selfemployed-gateway-audit"
_SCHEMA_LOCK = 73_0073  # pg_advisory_xact_lock key serialising schema creation

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS audit_exchange (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        ticket_cbss text NOT NULL,
        client_ticket text,
        client_id text,
        operation text,
        legal_context text,
        received timestamptz NOT NULL,
        replied timestamptz NOT NULL,
        outcome text NOT NULL,
        duration_ms double precision NOT NULL,
        request_xml bytea NOT NULL,
        response_xml bytea NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS audit_exchange_by_ticket_cbss ON audit_exchange (ticket_cbss)",
    "CREATE INDEX IF NOT EXISTS audit_exchange_by_client_ticket ON audit_exchange (client_ticket)",
    "CREATE INDEX IF NOT EXISTS audit_exchange_by_client ON audit_exchange (client_id, received)",
    "CREATE INDEX IF NOT EXISTS audit_exchange_by_received ON audit_exchange (received)",
)

_COLUMNS = sql.SQL(COLUMNS)
_INSERT = sql.SQL("INSERT INTO audit_exchange ({}) VALUES ({})").format(
    _COLUMNS, sql.SQL(", ").join(sql.Placeholder() * len(COLUMNS.split(",")))
)

Connection = psycopg.Connection[TupleRow]
T = TypeVar("T")


class PostgresAuditStore:
    """`AuditStore` in a PostgreSQL database (R-73); creates its table if absent."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._name = _redacted(dsn)
        self._lock = threading.Lock()
        self._connections: dict[threading.Thread, Connection] = {}
        self._closed = False
        self._run("open", _create_schema)

    def __repr__(self) -> str:
        return f"PostgresAuditStore({self._name!r})"

    def record(self, exchange: ExchangeRecord) -> None:
        self.record_many((exchange,))

    def record_many(self, exchanges: Sequence[ExchangeRecord]) -> None:
        rows = [row_from_record(exchange, _same) for exchange in exchanges]

        def insert(connection: Connection) -> None:
            with connection.cursor() as cursor:
                cursor.executemany(_INSERT, rows)

        self._run("record", insert)

    def by_ticket(self, ticket: str) -> list[ExchangeRecord]:
        return self._select(
            "by_ticket",
            sql.SQL("WHERE ticket_cbss = %s OR client_ticket = %s"),
            [ticket, ticket],
            limit=None,
        )

    def find(
        self,
        *,
        client_id: str | None = None,
        since: datetime | None = None,
        outcome: str | None = None,
        ssin_hash: str | None = None,
        limit: int = 100,
    ) -> list[ExchangeRecord]:
        check_limit(limit)
        check_aware("since", since)
        conditions: list[sql.Composable] = []
        parameters: list[Any] = []
        if client_id is not None:
            conditions.append(sql.SQL("client_id = %s"))
            parameters.append(client_id)
        if since is not None:
            conditions.append(sql.SQL("received >= %s"))
            parameters.append(since)
        if outcome is not None:
            conditions.append(sql.SQL("outcome = %s"))
            parameters.append(outcome)
        if ssin_hash is not None:
            conditions.append(sql.SQL("ssin_hash = %s"))
            parameters.append(ssin_hash)
        where = (
            sql.SQL("WHERE {}").format(sql.SQL(" AND ").join(conditions))
            if conditions
            else sql.SQL("")
        )
        return self._select("find", where, parameters, limit=limit)

    def purge(self, older_than: datetime) -> int:
        check_aware("older_than", older_than)

        def delete(connection: Connection) -> int:
            cursor = connection.execute(
                "DELETE FROM audit_exchange WHERE received < %s", (older_than,)
            )
            return cursor.rowcount

        return self._run("purge", delete)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections = list(self._connections.values())
            self._connections.clear()
        for connection in connections:
            connection.close()

    def _select(
        self,
        what: str,
        where: sql.Composable,
        parameters: list[Any],
        limit: int | None,
    ) -> list[ExchangeRecord]:
        query = sql.SQL("SELECT {} FROM audit_exchange {} ORDER BY received DESC, id DESC").format(
            _COLUMNS, where
        )
        if limit is not None:
            query = sql.SQL("{} LIMIT %s").format(query)
            parameters = [*parameters, limit]

        def select(connection: Connection) -> list[ExchangeRecord]:
            return [_exchange(row) for row in connection.execute(query, parameters).fetchall()]

        return self._run(what, select)

    def _run(self, what: str, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one transaction on this thread's connection, then commit."""
        connection, fresh = self._connection(what)
        try:
            result = work(connection)
        except psycopg.Error as error:
            if not connection.broken or fresh:
                self._abandon(connection, error)
                raise self._error(what, error) from error
            # The connection died while idle (server restart, idle timeout): nothing was
            # committed, so retrying once on a new connection cannot duplicate anything.
            self._discard(connection)
            connection, _ = self._connection(what)
            try:
                result = work(connection)
            except psycopg.Error as retry_error:
                self._abandon(connection, retry_error)
                raise self._error(what, retry_error) from retry_error
        try:
            connection.commit()
        except psycopg.Error as error:
            self._abandon(connection, error)
            raise AuditOutcomeUnknown(
                f"audit store {self._name}: {what} (commit; outcome unknown) failed: "
                f"{describe(error)}"
            ) from error
        return result

    def _connection(self, what: str) -> tuple[Connection, bool]:
        """This thread's connection, opened if needed; True when it was just opened."""
        thread = threading.current_thread()
        with self._lock:
            if self._closed:
                raise AuditError(f"audit store {self._name}: {what} failed: store closed")
            connection = self._connections.get(thread)
        if connection is not None and not connection.closed and not connection.broken:
            return connection, False
        if connection is not None:
            self._discard(connection)
        with self._failures(what):
            connection = psycopg.connect(self._dsn, autocommit=False, **self._defaults())
        with self._lock:
            ended = [t for t in self._connections if not t.is_alive()]
            stale = [self._connections.pop(t) for t in ended]
            if self._closed:
                stale.append(connection)
            else:
                self._connections[thread] = connection
        for old in stale:
            old.close()
        if self._closed:
            raise AuditError(f"audit store {self._name}: {what} failed: store closed")
        return connection, True

    def _defaults(self) -> dict[str, Any]:
        """Connection settings the DSN does not choose itself."""
        try:
            given = conninfo_to_dict(self._dsn)
        except psycopg.Error:
            given = {}
        defaults: dict[str, Any] = {
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "application_name": APPLICATION_NAME,
        }
        return {key: value for key, value in defaults.items() if key not in given}

    def _abandon(self, connection: Connection, error: psycopg.Error) -> None:
        """After a failure: roll back a usable connection, drop a broken one."""
        del error
        if connection.broken or connection.closed:
            self._discard(connection)
            return
        try:
            connection.rollback()
        except psycopg.Error:
            self._discard(connection)

    def _discard(self, connection: Connection) -> None:
        with self._lock:
            for thread, known in list(self._connections.items()):
                if known is connection:
                    del self._connections[thread]
        connection.close()

    @contextmanager
    def _failures(self, what: str) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as error:
            raise self._error(what, error) from error

    def _error(self, what: str, error: psycopg.Error) -> AuditError:
        return AuditError(f"audit store {self._name}: {what} failed: {describe(error)}")


def _create_schema(connection: Connection) -> None:
    connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
    for statement in _SCHEMA:
        connection.execute(statement)
    # A trail of an earlier version gains the columns it lacks. Only then an ALTER: even
    # with IF NOT EXISTS it takes an ACCESS EXCLUSIVE lock, and every open (a gateway, an
    # `audit explain`) would wait for a long report and hold up the gateways' writes.
    present = {
        row[0]
        for row in connection.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'audit_exchange' AND table_schema = current_schema()"
        ).fetchall()
    }
    for column, _, kind in ADDED_COLUMNS:
        if column not in present:
            connection.execute(
                sql.SQL("ALTER TABLE audit_exchange ADD COLUMN IF NOT EXISTS {} {}").format(
                    sql.Identifier(column), sql.SQL(kind)
                )
            )
    connection.execute(
        "CREATE INDEX IF NOT EXISTS audit_exchange_by_ssin ON audit_exchange (ssin_hash, received)"
    )


def _redacted(dsn: str) -> str:
    """The DSN without its password, to name the store in messages."""
    try:
        parameters = conninfo_to_dict(dsn)
    except psycopg.Error:
        return "postgresql (unparsable DSN)"
    parameters.pop("password", None)
    return f"postgresql {make_conninfo('', **parameters)}" if parameters else "postgresql"


def _same(moment: datetime) -> datetime:
    return moment  # psycopg writes an aware datetime as timestamptz itself


def _exchange(row: TupleRow) -> ExchangeRecord:
    return record_from_row(row, lambda value: value.astimezone(UTC))
