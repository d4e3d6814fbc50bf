"""The audit trail (R-73) in one SQLite file: the default backend, standard library only.

Durability: the journal is in WAL mode with ``synchronous=NORMAL``: a committed exchange is in
the WAL file when `SqliteAuditStore.record` returns, so it survives the process being killed
(SIGKILL, OOM killer, crash). It may be lost only if the *machine* loses power or the kernel
crashes before the next checkpoint; ``synchronous=FULL`` (one fsync of the WAL per commit,
slower) would survive that too.

Threads: one connection shared behind a lock. SQLite allows a single writer at a time anyway,
and a commit without fsync takes well under a millisecond, so the lock costs nothing the
database would not; it also lets `close` close the one connection for certain. Other
processes (``selfemployed-gateway audit …`` while the gateway runs) read concurrently thanks to
WAL, and wait up to `BUSY_TIMEOUT_SECONDS` for the write lock.

Timestamps are stored as ISO 8601 UTC text with microseconds (``2024-05-01T10:00:00.000000
+00:00``): fixed width, so text order is time order. The XML messages are BLOBs, never logged.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from selfemployed_gateway.audit.trail import (
    ADDED_COLUMNS,
    COLUMNS,
    ExchangeRecord,
    check_aware,
    check_limit,
    record_from_row,
    row_from_record,
)
from selfemployed_gateway.errors import AuditError

BUSY_TIMEOUT_SECONDS = 10.0
_PLACEHOLDERS = ", ".join("?" for _ in COLUMNS.split(","))
_INSERT = f"INSERT INTO audit_exchange ({COLUMNS}) VALUES ({_PLACEHOLDERS})"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_exchange (
    id INTEGER PRIMARY KEY,
    ticket_cbss TEXT NOT NULL,
    client_ticket TEXT,
    client_id TEXT,
    operation TEXT,
    legal_context TEXT,
    received TEXT NOT NULL,        -- ISO 8601, UTC, microseconds
    replied TEXT NOT NULL,
    outcome TEXT NOT NULL,
    duration_ms REAL NOT NULL,
    request_xml BLOB NOT NULL,
    response_xml BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_exchange_by_ticket_cbss ON audit_exchange (ticket_cbss);
CREATE INDEX IF NOT EXISTS audit_exchange_by_client_ticket ON audit_exchange (client_ticket);
CREATE INDEX IF NOT EXISTS audit_exchange_by_client ON audit_exchange (client_id, received);
CREATE INDEX IF NOT EXISTS audit_exchange_by_received ON audit_exchange (received);
"""
# After the columns of ADDED_COLUMNS exist (a trail of an earlier version gains them).
_ADDED_INDEXES = """
CREATE INDEX IF NOT EXISTS audit_exchange_by_ssin ON audit_exchange (ssin_hash, received);
"""


def _add_column(connection: sqlite3.Connection, column: str, kind: str) -> None:
    """Add a column of ADDED_COLUMNS; another process opening the same old file may have
    added it between our look and our ALTER (a gateway and `audit explain` started together)."""
    try:
        connection.execute(f"ALTER TABLE audit_exchange ADD COLUMN {column} {kind}")
    except sqlite3.OperationalError as error:
        if "duplicate column name" not in str(error):
            raise


class SqliteAuditStore:
    """`AuditStore` in a SQLite file (R-73); created, with its folder, if absent."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        with self._failures("open"):
            _private(path)
            connection = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False
            )
            try:
                connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
                (mode,) = connection.execute("PRAGMA journal_mode = WAL").fetchone()
                if str(mode).lower() != "wal":
                    raise AuditError(
                        f"audit store {path}: open failed: WAL journal mode refused "
                        f"(got {mode!r}); put the file on a local file system"
                    )
                connection.execute("PRAGMA synchronous = NORMAL")
                with connection:
                    connection.executescript(_SCHEMA)
                    present = {
                        row[1] for row in connection.execute("PRAGMA table_info(audit_exchange)")
                    }
                    for column, kind, _ in ADDED_COLUMNS:
                        if column not in present:
                            _add_column(connection, column, kind)
                    connection.executescript(_ADDED_INDEXES)
            except BaseException:
                connection.close()
                raise
            self._connection = connection

    def __repr__(self) -> str:
        return f"SqliteAuditStore({str(self._path)!r})"

    def record(self, exchange: ExchangeRecord) -> None:
        self.record_many((exchange,))

    def record_many(self, exchanges: Sequence[ExchangeRecord]) -> None:
        # One transaction: SQLite's commit (the WAL append) is most of a write's cost. Spelled
        # out, not with `_failures` and `_locked`: two generator context managers per write
        # were ~1% of an exchange (issue #17).
        rows = [row_from_record(exchange, _text) for exchange in exchanges]
        try:
            with self._lock, self._opened() as connection:
                connection.executemany(_INSERT, rows)
        except (sqlite3.Error, OSError) as error:
            raise self._failed("record", error) from error

    def by_ticket(self, ticket: str) -> list[ExchangeRecord]:
        return self._select(
            "WHERE ticket_cbss = ? OR client_ticket = ? ORDER BY received DESC, id DESC",
            (ticket, ticket),
            "by_ticket",
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
        conditions: list[str] = []
        parameters: list[Any] = []
        if client_id is not None:
            conditions.append("client_id = ?")
            parameters.append(client_id)
        if since is not None:
            conditions.append("received >= ?")
            parameters.append(_text(since))
        if outcome is not None:
            conditions.append("outcome = ?")
            parameters.append(outcome)
        if ssin_hash is not None:
            conditions.append("ssin_hash = ?")
            parameters.append(ssin_hash)
        where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
        parameters.append(limit)
        return self._select(
            f"{where}ORDER BY received DESC, id DESC LIMIT ?", tuple(parameters), "find"
        )

    def purge(self, older_than: datetime) -> int:
        check_aware("older_than", older_than)
        with self._failures("purge"), self._locked() as connection, connection:
            cursor = connection.execute(
                "DELETE FROM audit_exchange WHERE received < ?", (_text(older_than),)
            )
            return cursor.rowcount

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _select(self, clause: str, parameters: tuple[Any, ...], what: str) -> list[ExchangeRecord]:
        with self._failures(what), self._locked() as connection:
            rows = connection.execute(f"SELECT {COLUMNS} FROM audit_exchange {clause}", parameters)
            return [_exchange(row) for row in rows.fetchall()]

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._opened()

    def _opened(self) -> sqlite3.Connection:
        """The connection, for a caller holding the lock; `AuditError` once closed."""
        if self._connection is None:
            raise AuditError(f"audit store {self._path}: closed")
        return self._connection

    @contextmanager
    def _failures(self, what: str) -> Iterator[None]:
        """sqlite3 and file-system errors become `AuditError` naming the store and the step."""
        try:
            yield
        except (sqlite3.Error, OSError) as error:
            raise self._failed(what, error) from error

    def _failed(self, what: str, error: sqlite3.Error | OSError) -> AuditError:
        return AuditError(
            f"audit store {self._path}: {what} failed: {type(error).__name__}: {error}"
        )


def _private(path: Path) -> None:
    """The trail holds personal data: its folder is made 0700 when created, and the file and
    its -wal and -shm (SQLite gives them the file's mode) 0600, an existing one tightened."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for member in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if member.exists() and member.stat().st_mode & 0o077:
            member.chmod(0o600)


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _exchange(row: tuple[Any, ...]) -> ExchangeRecord:
    return record_from_row(row, datetime.fromisoformat)
