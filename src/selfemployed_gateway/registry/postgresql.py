"""The registers in PostgreSQL: databases that other systems update all day (issue #14).

In production the person register and the integration repertory are not a JSON file
reloaded by SIGHUP: BCSS's systems write them continuously. `PostgresRegisters` reads them
for each exchange (`registry.backend = "postgresql"`); `selfemployed-gateway registry init`
creates the schema, `registry load` fills it from a dataset (development, acceptance).

On the event loop's terms: a `psycopg_pool.AsyncConnectionPool` of `registry.connections`
connections, opened on the gateway's loop on first use, in autocommit (each read sees what is
committed now, no snapshot held). A read on loopback takes ~0.13 ms (`python -m
bench.registry`). A read that waits never blocks the loop — other exchanges, `/healthz`, go
on — and everything it waits for (a free connection, a connection being opened, the query)
is cut after `registry.timeout_seconds` (asyncio; `statement_timeout` on the server): then
`RegistryError`, answered MSG00003 like any internal failure. A read cut in the middle
spoils only its own connection, which the pool discards; the others go on. A broken
connection is replaced and the read tried once more.

Nothing is cached. The specification allows no staleness here: R-20 and R-40 … R-46 decide
whether a client may know a person *now*; a cached "integrated" could hand a career to an
institution the repertory removed the person from a minute ago, and a cached register entry
could miss a replaced NISS (R-18).
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from selfemployed_gateway.dataset import Dataset
from selfemployed_gateway.postgresql_errors import describe
from selfemployed_gateway.records import DatePeriod
from selfemployed_gateway.registry import (
    IntegrationPeriod,
    PersonState,
    RegisteredPerson,
    RegistryError,
)
from selfemployed_gateway.registry.sqlite import SUPPLIER_HOLDER, integration_rows

APPLICATION_NAME = "selfemployed-gateway-registry"
CONNECT_TIMEOUT_SECONDS = 5  # registry init / load (the command line)

SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS registry_person (
        ssin char(11) PRIMARY KEY,
        state text NOT NULL CHECK (state IN ('active', 'canceled', 'replaced')),
        replaced_by char(11)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS registry_integration (
        ssin char(11) NOT NULL,
        holder text NOT NULL,  -- a client id, or 'INASTI' (sector 15, institution 0)
        quality_code integer NOT NULL,
        begin_date date NOT NULL,
        end_date date
    )
    """,
    "CREATE INDEX IF NOT EXISTS registry_integration_by_person "
    "ON registry_integration (ssin, holder)",
)

_PERSON = "SELECT ssin, state, replaced_by FROM registry_person WHERE ssin = %s"
_INTEGRATIONS = (
    "SELECT quality_code, begin_date, end_date FROM registry_integration "
    "WHERE ssin = %s AND holder = %s ORDER BY begin_date"
)


class PostgresRegisters:
    """Both the person register and the person repertory, read from PostgreSQL."""

    def __init__(self, dsn: str, timeout_seconds: float, connections: int = 4) -> None:
        self.dsn = dsn
        self.timeout_seconds = timeout_seconds
        self.connections = connections
        self._pool: AsyncConnectionPool[Any] | None = None
        self._opening: asyncio.Lock | None = None

    def __repr__(self) -> str:  # the DSN may hold a password
        return "PostgresRegisters()"

    async def find(self, ssin: str) -> RegisteredPerson | None:
        rows = await self._read(_PERSON, (ssin,))
        if not rows:
            return None
        found, state, replaced_by = rows[0]
        return RegisteredPerson(
            ssin=found.strip(),
            state=PersonState(state),
            replaced_by=replaced_by.strip() if replaced_by else None,
        )

    async def client_integrations(self, ssin: str, client_id: str) -> list[IntegrationPeriod]:
        return await self._integrations(ssin, client_id)

    async def supplier_integrations(self, ssin: str) -> list[IntegrationPeriod]:
        return await self._integrations(ssin, SUPPLIER_HOLDER)

    async def is_reachable(self) -> bool:
        """Readiness: does a read succeed now?"""
        try:
            await self._read("SELECT 1", ())
        except RegistryError:
            return False
        return True

    async def aclose(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def _integrations(self, ssin: str, holder: str) -> list[IntegrationPeriod]:
        rows = await self._read(_INTEGRATIONS, (ssin, holder))
        return [
            IntegrationPeriod(quality_code=quality, period=DatePeriod(begin=begin, end=end))
            for quality, begin, end in rows
        ]

    async def _read(self, query: str, parameters: tuple[str, ...]) -> list[tuple[Any, ...]]:
        """The rows of one read, all its waiting within the time limit; once more on another
        connection if the first was lost."""
        try:
            async with asyncio.timeout(self.timeout_seconds):
                for attempt in (1, 2):
                    try:
                        pool = await self._opened()
                        async with pool.connection() as connection:
                            cursor = await connection.execute(query, parameters)
                            rows: list[tuple[Any, ...]] = await cursor.fetchall()
                            return rows
                    except psycopg.OperationalError as error:
                        if attempt == 2:
                            raise RegistryError(
                                f"registry read failed: {describe(error)}"
                            ) from error
        except TimeoutError as error:
            raise RegistryError(f"registry read cut after {self.timeout_seconds} s") from error
        except PoolTimeout as error:
            raise RegistryError(f"registry unavailable: {error}") from error
        except psycopg.Error as error:
            raise RegistryError(f"registry read failed: {describe(error)}") from error
        raise AssertionError("unreachable")  # pragma: no cover

    async def _opened(self) -> AsyncConnectionPool[Any]:
        if self._opening is None:
            self._opening = asyncio.Lock()  # created on the loop that uses it
        async with self._opening:
            if self._pool is None:
                milliseconds = int(self.timeout_seconds * 1000)
                pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
                    self.dsn,
                    min_size=1,
                    max_size=self.connections,
                    # An idle connection the server dropped (restart, failover) is found
                    # before a read gets it: one round trip (~0.1 ms) per read.
                    check=AsyncConnectionPool.check_connection,
                    timeout=self.timeout_seconds,
                    kwargs={
                        "autocommit": True,
                        "connect_timeout": max(1, int(self.timeout_seconds)),
                        "application_name": APPLICATION_NAME,
                        "options": f"-c statement_timeout={milliseconds}",
                    },
                    open=False,
                )
                # Without waiting: a database that is down now is the read's to report
                # (cut at its limit), not a start-up failure.
                await pool.open(wait=False)
                self._pool = pool
            return self._pool


def create_schema(dsn: str) -> None:
    """`registry init`: the tables and index, if absent."""
    with psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT_SECONDS) as connection:
        for statement in SCHEMA:
            connection.execute(statement)


def load_dataset(dsn: str, dataset: Dataset) -> tuple[int, int]:
    """`registry load`: replace both registers by the dataset's, in one transaction (readers
    see the old content or the new, never a mix). Returns (persons, integrations)."""
    integrations = integration_rows(dataset)
    with psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT_SECONDS) as connection:
        for statement in SCHEMA:
            connection.execute(statement)
        connection.execute("DELETE FROM registry_person")
        connection.execute("DELETE FROM registry_integration")
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO registry_person (ssin, state, replaced_by) VALUES (%s, %s, %s)",
                [(p.ssin, p.status, p.replaced_by) for p in dataset.person_register],
            )
            cursor.executemany(
                "INSERT INTO registry_integration (ssin, holder, quality_code, begin_date, "
                "end_date) VALUES (%s, %s, %s, %s, %s)",
                integrations,
            )
    return len(dataset.person_register), len(integrations)
