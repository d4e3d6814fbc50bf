"""The embedded default registers: SQLite (standard library), loaded from the dataset.

One in-memory database per process, built at start-up. The reads are coroutines (the
registry's interface) that answer at once: an in-memory query takes microseconds, so it runs
on the loop; the lock keeps other threads (tests, tools) safe.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import date

from selfemployed_gateway.dataset import Dataset
from selfemployed_gateway.records import DatePeriod
from selfemployed_gateway.registry import IntegrationPeriod, PersonState, RegisteredPerson

_SCHEMA = """
CREATE TABLE person (
    ssin TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('active', 'canceled', 'replaced')),
    replaced_by TEXT
);
CREATE TABLE integration (
    ssin TEXT NOT NULL,
    holder TEXT NOT NULL,          -- a client id, or 'INASTI' (sector 15, institution 0)
    quality_code INTEGER NOT NULL,
    begin_date TEXT NOT NULL,
    end_date TEXT
);
CREATE INDEX integration_by_person ON integration (ssin, holder);
"""

SUPPLIER_HOLDER = "INASTI"


class SqliteRegisters:
    """Both the person register and the person repertory, in one database."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._lock = threading.Lock()

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> SqliteRegisters:
        connection = sqlite3.connect(":memory:", check_same_thread=False)
        connection.executescript(_SCHEMA)
        with connection:
            connection.executemany(
                "INSERT INTO person VALUES (?, ?, ?)",
                ((p.ssin, p.status, p.replaced_by) for p in dataset.person_register),
            )
            connection.executemany(
                "INSERT INTO integration VALUES (?, ?, ?, ?, ?)",
                (
                    (ssin, holder, quality, begin.isoformat(), end.isoformat() if end else None)
                    for ssin, holder, quality, begin, end in integration_rows(dataset)
                ),
            )
        return cls(connection)

    async def find(self, ssin: str) -> RegisteredPerson | None:
        with self._lock:
            row = self._connection.execute(
                "SELECT ssin, state, replaced_by FROM person WHERE ssin = ?", (ssin,)
            ).fetchone()
        if row is None:
            return None
        return RegisteredPerson(ssin=row[0], state=PersonState(row[1]), replaced_by=row[2])

    async def client_integrations(self, ssin: str, client_id: str) -> list[IntegrationPeriod]:
        return self._integrations(ssin, client_id)

    async def supplier_integrations(self, ssin: str) -> list[IntegrationPeriod]:
        return self._integrations(ssin, SUPPLIER_HOLDER)

    def _integrations(self, ssin: str, holder: str) -> list[IntegrationPeriod]:
        with self._lock:
            rows = self._connection.execute(
                "SELECT quality_code, begin_date, end_date FROM integration "
                "WHERE ssin = ? AND holder = ? ORDER BY begin_date",
                (ssin, holder),
            ).fetchall()
        return [
            IntegrationPeriod(
                quality_code=quality,
                period=DatePeriod(
                    begin=date.fromisoformat(begin),
                    end=date.fromisoformat(end) if end else None,
                ),
            )
            for quality, begin, end in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def integration_rows(dataset: Dataset) -> list[tuple[str, str, int, date, date | None]]:
    """The dataset's integration periods as (ssin, holder, quality code, begin, end): the
    clients' under their id, INASTI's under `SUPPLIER_HOLDER` (both backends load these)."""
    return [(i.ssin, i.client, i.quality_code, i.begin, i.end) for i in dataset.integrations] + [
        (i.ssin, SUPPLIER_HOLDER, i.quality_code, i.begin, i.end)
        for i in dataset.supplier_integrations
    ]
