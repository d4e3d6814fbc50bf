"""The audit trail (R-73): one contract, run against SQLite and a real PostgreSQL server.

The PostgreSQL server is started by the session fixture of tests/support/postgres.py.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from pydantic import ValidationError

from selfemployed_gateway.audit import sqlite as sqlite_backend
from selfemployed_gateway.audit.backends import open_audit_store
from selfemployed_gateway.audit.postgresql import APPLICATION_NAME
from selfemployed_gateway.audit.sqlite import SqliteAuditStore
from selfemployed_gateway.audit.trail import AuditStore, ExchangeRecord, bounded
from selfemployed_gateway.errors import AuditError, ConfigurationError
from selfemployed_gateway.settings import AuditBackend, AuditSettings
from tests.support.paths import PROJECT
from tests.support.postgres import postgresql_dsn_fixture  # noqa: F401  (session fixture)

T0 = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
SECRET = b"85073100145"  # a NISS-like marker: must never appear in an error message

Opener = Callable[[], AuditStore]


def exchange(
    ticket: str,
    *,
    client_ticket: str | None = None,
    client: str | None = "cpas-namur",
    at: datetime = T0,
    outcome: str = "MSG00000",
    request: bytes | None = None,
    response: bytes = b"<response>MSG00000</response>",
) -> ExchangeRecord:
    return ExchangeRecord(
        ticket_cbss=ticket,
        client_ticket=client_ticket,
        client_id=client,
        operation="consultCareer",
        legal_context="SOCIAL_INTEGRATION_INCOME",
        received=at,
        replied=at + timedelta(milliseconds=42),
        outcome=outcome,
        duration_ms=42.125,
        request_xml=request
        if request is not None
        else b"<request><ssin>%s</ssin></request>" % SECRET,
        response_xml=response,
    )


@pytest.fixture(params=[AuditBackend.SQLITE, AuditBackend.POSTGRESQL])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens (and at the end closes) stores on one empty database of the backend."""
    if request.param is AuditBackend.SQLITE:
        settings = AuditSettings(backend=request.param, sqlite_path=tmp_path / "var" / "a.db")
    else:
        dsn: str = request.getfixturevalue("postgresql_dsn")
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute("DROP TABLE IF EXISTS audit_exchange")
        settings = AuditSettings(backend=request.param, postgresql_dsn=dsn)
    opened: list[AuditStore] = []

    def opener() -> AuditStore:
        store = open_audit_store(settings)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Opener) -> AuditStore:
    return open_store()


def tickets(exchanges: list[ExchangeRecord]) -> list[str]:
    return [e.ticket_cbss for e in exchanges]


# --- the contract, both backends ---------------------------------------------------------


def test_an_exchange_is_found_by_either_ticket(store: AuditStore) -> None:
    first = exchange("CBSS-1", client_ticket="client-1")
    second = exchange("CBSS-2", client_ticket="client-2", at=T0 + timedelta(seconds=1))
    store.record(first)
    store.record(second)

    assert store.by_ticket("CBSS-1") == [first]
    assert store.by_ticket("client-1") == [first]
    assert store.by_ticket("client-2") == [second]
    assert store.by_ticket("unknown") == []


def test_by_ticket_returns_every_match_newest_first(store: AuditStore) -> None:
    # A client that reuses its own ticket (a retry), and a ticket without client ticket.
    older = exchange("CBSS-1", client_ticket="retry", at=T0)
    newer = exchange("CBSS-2", client_ticket="retry", at=T0 + timedelta(minutes=1))
    alone = exchange("CBSS-3", client_ticket=None, client=None, at=T0)
    store.record(newer)
    store.record(older)
    store.record(alone)

    assert store.by_ticket("retry") == [newer, older]
    assert store.by_ticket("CBSS-3") == [alone]


def test_find_filters_by_client_since_and_outcome(store: AuditStore) -> None:
    store.record(exchange("A", client="cpas-namur", at=T0))
    store.record(exchange("B", client="cpas-liege", at=T0 + timedelta(hours=1)))
    store.record(exchange("C", client="cpas-namur", at=T0 + timedelta(hours=2), outcome="MSG00004"))
    store.record(exchange("D", client="cpas-liege", at=T0 + timedelta(hours=3)))

    assert tickets(store.find()) == ["D", "C", "B", "A"]
    assert tickets(store.find(client_id="cpas-namur")) == ["C", "A"]
    assert tickets(store.find(outcome="MSG00004")) == ["C"]
    assert tickets(store.find(outcome="MSG00000")) == ["D", "B", "A"]
    # since is inclusive, to the microsecond
    assert tickets(store.find(since=T0 + timedelta(hours=1))) == ["D", "C", "B"]
    assert tickets(store.find(since=T0 + timedelta(hours=1, microseconds=1))) == ["D", "C"]
    assert tickets(store.find(client_id="cpas-liege", since=T0 + timedelta(hours=2))) == ["D"]
    assert store.find(client_id="cpas-liege", outcome="MSG00004") == []
    assert store.find(client_id="nobody") == []


def test_find_is_newest_first_whatever_the_recording_order(store: AuditStore) -> None:
    for minutes in (5, 1, 9, 3):
        store.record(exchange(f"M{minutes}", at=T0 + timedelta(minutes=minutes)))

    assert tickets(store.find()) == ["M9", "M5", "M3", "M1"]


def test_find_limit(store: AuditStore) -> None:
    for n in range(5):
        store.record(exchange(f"L{n}", at=T0 + timedelta(seconds=n)))

    assert tickets(store.find(limit=2)) == ["L4", "L3"]
    assert len(store.find(limit=5)) == 5
    assert len(store.find(limit=100)) == 5
    with pytest.raises(ValueError, match="limit"):
        store.find(limit=0)


def test_purge_deletes_only_exchanges_received_before(store: AuditStore) -> None:
    store.record(exchange("OLD", at=T0 - timedelta(microseconds=1)))
    store.record(exchange("EDGE", at=T0))
    store.record(exchange("NEW", at=T0 + timedelta(days=1)))

    assert store.purge(T0 - timedelta(microseconds=1)) == 0
    assert store.purge(T0) == 1
    assert tickets(store.find()) == ["NEW", "EDGE"]
    assert store.purge(T0) == 0
    assert store.purge(T0 + timedelta(days=2)) == 2
    assert store.find() == []


def test_messages_round_trip_byte_for_byte(store: AuditStore) -> None:
    every_byte = bytes(range(256)) * 3
    large = b"<r>" + b"\xc3\xa9\x00" * 300_000 + b"</r>"  # ~900 kB with NULs
    store.record(exchange("BYTES", request=every_byte, response=large))
    store.record(exchange("EMPTY", request=b"", response=b"\xff\xfe<not utf-8/>"))

    (found,) = store.by_ticket("BYTES")
    assert found.request_xml == every_byte
    assert found.response_xml == large
    (empty,) = store.by_ticket("EMPTY")
    assert empty.request_xml == b""
    assert empty.response_xml == b"\xff\xfe<not utf-8/>"


def test_timestamps_round_trip_aware_to_the_microsecond(store: AuditStore) -> None:
    brussels_summer = timezone(timedelta(hours=2))
    received = datetime(2024, 7, 31, 23, 59, 59, 999999, tzinfo=brussels_summer)
    store.record(exchange("TZ", at=received))

    (found,) = store.by_ticket("TZ")
    assert found.received == received
    assert found.replied == received + timedelta(milliseconds=42)
    assert found.received.utcoffset() == timedelta(0)  # returned in UTC
    assert found.received.astimezone(UTC) == datetime(2024, 7, 31, 21, 59, 59, 999999, UTC)
    assert found.duration_ms == 42.125
    # an aware `since` in another zone compares instants
    assert tickets(store.find(since=datetime(2024, 8, 1, 0, 0, tzinfo=brussels_summer))) == []
    assert tickets(store.find(since=received)) == ["TZ"]


def test_naive_datetimes_are_refused(store: AuditStore) -> None:
    with pytest.raises(ValidationError):
        exchange("NAIVE", at=datetime(2024, 5, 1, 10, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        store.find(since=datetime(2024, 5, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        store.purge(datetime(2024, 5, 1))


def test_exchanges_survive_closing_and_reopening(open_store: Opener) -> None:
    first = open_store()
    record = exchange("KEPT", client_ticket="kept-client")
    first.record(record)
    first.close()

    assert open_store().by_ticket("kept-client") == [record]


def test_a_closed_store_raises_audit_error(store: AuditStore) -> None:
    store.close()
    with pytest.raises(AuditError, match="closed"):
        store.record(exchange("LATE"))
    with pytest.raises(AuditError):
        store.by_ticket("LATE")


def test_a_storage_failure_is_an_audit_error_without_the_messages(
    open_store: Opener, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    store = open_store()
    # Someone drops the table under the running gateway.
    if request.node.callspec.params["open_store"] is AuditBackend.SQLITE:
        with sqlite3.connect(tmp_path / "var" / "a.db") as connection:
            connection.execute("DROP TABLE audit_exchange")
    else:
        with psycopg.connect(request.getfixturevalue("postgresql_dsn")) as connection:
            connection.execute("DROP TABLE audit_exchange")

    for call in (
        lambda: store.record(exchange("LOST")),
        lambda: store.by_ticket("LOST"),
        lambda: store.find(client_id="cpas-namur"),
        lambda: store.purge(T0),
    ):
        with pytest.raises(AuditError) as failure:
            call()
        message = str(failure.value)
        assert "audit store" in message
        assert SECRET.decode() not in message
        assert "<request>" not in message


def test_concurrent_writers_lose_nothing(store: AuditStore) -> None:
    threads, each = 8, 25
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            start.wait()
            for n in range(each):
                store.record(
                    exchange(
                        f"W{worker}-{n}",
                        client_ticket=f"c{worker}-{n}",
                        at=T0 + timedelta(milliseconds=worker * each + n),
                    )
                )
        except BaseException as error:  # reported below
            errors.append(error)

    workers = [threading.Thread(target=writer, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert errors == []
    everything = store.find(limit=10_000)
    assert len(everything) == threads * each
    assert sorted(tickets(everything)) == sorted(
        f"W{w}-{n}" for w in range(threads) for n in range(each)
    )
    assert tickets(store.by_ticket("c7-24")) == ["W7-24"]


def test_record_many_stores_a_batch_in_one_transaction_all_or_nothing(store: AuditStore) -> None:
    """Group commit (audit/writer.py): a batch is stored whole, or not at all, so that the
    writer may try its exchanges again one by one without storing any twice."""
    store.record_many([exchange("G1", at=T0), exchange("G2", at=T0 + timedelta(seconds=1))])
    assert tickets(store.find()) == ["G2", "G1"]
    # NOT NULL refused by the database itself (pydantic would refuse it before).
    broken = ExchangeRecord.model_construct(**{**exchange("BROKEN").model_dump(), "outcome": None})
    with pytest.raises(AuditError, match="record failed") as refused:
        store.record_many([exchange("G3"), broken])
    assert SECRET.decode() not in str(refused.value)
    assert store.by_ticket("G3") == []
    store.record_many([exchange("G3")])  # the store is usable after the refused batch
    assert tickets(store.by_ticket("G3")) == ["G3"]


# --- opening ---------------------------------------------------------------------------


def test_a_backend_without_its_path_or_dsn_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="sqlite_path"):
        open_audit_store(AuditSettings(backend=AuditBackend.SQLITE))
    with pytest.raises(ConfigurationError, match="postgresql_dsn"):
        open_audit_store(AuditSettings(backend=AuditBackend.POSTGRESQL))


def test_sqlite_creates_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "audit.db"
    open_audit_store(AuditSettings(sqlite_path=path)).close()
    assert path.is_file()


def test_an_unavailable_sqlite_store_raises_audit_error(tmp_path: Path) -> None:
    # A regular file where the folder should be: uncreatable, even for root.
    (tmp_path / "not-a-folder").write_text("")
    path = tmp_path / "not-a-folder" / "audit.db"
    with pytest.raises(AuditError, match=r"audit store .*not-a-folder.*: open failed"):
        open_audit_store(AuditSettings(sqlite_path=path))


def test_an_unavailable_postgresql_store_raises_audit_error() -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dsn = f"host=127.0.0.1 port={port} user=audit password=s3cret dbname=audit"
    with pytest.raises(AuditError, match=rf"port={port}.*open failed") as failure:
        open_audit_store(AuditSettings(backend=AuditBackend.POSTGRESQL, postgresql_dsn=dsn))
    assert "s3cret" not in str(failure.value)


def test_a_record_never_shows_its_messages_in_repr() -> None:
    text = repr(exchange("REPR"))
    assert "REPR" in text
    assert SECRET.decode() not in text


# --- backend specifics -------------------------------------------------------------------


def test_postgresql_reconnects_after_losing_its_connection(postgresql_dsn: str) -> None:
    with psycopg.connect(postgresql_dsn, autocommit=True) as admin:
        admin.execute("DROP TABLE IF EXISTS audit_exchange")
        store = open_audit_store(
            AuditSettings(backend=AuditBackend.POSTGRESQL, postgresql_dsn=postgresql_dsn)
        )
        try:
            store.record(exchange("BEFORE"))
            # The server drops every idle audit connection (as a restart would).
            terminated = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (APPLICATION_NAME,),
            ).fetchall()
            assert terminated == [(True,)]
            store.record(exchange("AFTER", at=T0 + timedelta(seconds=1)))
            assert tickets(store.find()) == ["AFTER", "BEFORE"]
        finally:
            store.close()


DURABILITY_SCRIPT = """
import sys, time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from selfemployed_gateway.audit.trail import ExchangeRecord
from selfemployed_gateway.audit.sqlite import SqliteAuditStore

store = SqliteAuditStore(Path(sys.argv[1]))
start = datetime(2024, 5, 1, tzinfo=UTC)
for n in range(int(sys.argv[2])):
    at = start + timedelta(seconds=n)
    store.record(ExchangeRecord(
        ticket_cbss=f"DURABLE-{n}", received=at, replied=at, outcome="MSG00000",
        duration_ms=1.0, request_xml=b"<request/>", response_xml=b"<response/>",
    ))
print("recorded", flush=True)
time.sleep(60)
"""


def test_sqlite_exchanges_survive_the_process_being_killed(tmp_path: Path) -> None:
    path, count = tmp_path / "audit.db", 50
    process = subprocess.Popen(
        [sys.executable, "-c", DURABILITY_SCRIPT, str(path), str(count)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "recorded"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    # Killed before any checkpoint: the exchanges were only in the WAL.
    assert Path(f"{path}-wal").stat().st_size > 0

    store = open_audit_store(AuditSettings(sqlite_path=path))
    try:
        found = store.find(limit=1000)
        assert sorted(tickets(found)) == sorted(f"DURABLE-{n}" for n in range(count))
    finally:
        store.close()


def test_a_large_message_is_stored_bounded() -> None:
    """R-73: the cap bounds a row's size, never its presence: start, length and SHA-256."""
    message = b"<x>" + b"a" * 10_000 + b"</x>"
    stored = bounded(message, 1024)
    note, _, start = stored.partition(b"\n")
    assert (
        note
        == (
            f"<!-- selfemployed-gateway: message of {len(message)} bytes, sha256 "
            f"{hashlib.sha256(message).hexdigest()}; its first 1024 bytes follow -->"
        ).encode()
    )
    assert start == message[:1024]
    assert bounded(message[:1024], 1024) == message[:1024]


# --- protection at rest (issue #13), both backends ---------------------------------------


def test_key_id_and_ssin_hash_round_trip_and_find_by_ssin_hash(store: AuditStore) -> None:
    store.record(exchange("A").model_copy(update={"key_id": "k1", "ssin_hash": "h-person"}))
    store.record(
        exchange("B", at=T0 + timedelta(seconds=1)).model_copy(update={"ssin_hash": "h-other"})
    )
    store.record(
        exchange("C", at=T0 + timedelta(seconds=2)).model_copy(update={"ssin_hash": "h-person"})
    )
    assert tickets(store.find(ssin_hash="h-person")) == ["C", "A"]
    (a,) = store.by_ticket("A")
    assert (a.key_id, a.ssin_hash) == ("k1", "h-person")


FIRST_SCHEMA = """CREATE TABLE audit_exchange (
    id {id}, ticket_cbss TEXT NOT NULL, client_ticket TEXT, client_id TEXT, operation TEXT,
    legal_context TEXT, received {moment} NOT NULL, replied {moment} NOT NULL,
    outcome TEXT NOT NULL, duration_ms REAL NOT NULL, request_xml {blob} NOT NULL,
    response_xml {blob} NOT NULL)"""
OLD_ROW = (
    "INSERT INTO audit_exchange (ticket_cbss, received, replied, outcome, duration_ms, "
    "request_xml, response_xml) VALUES ('OLD', '2024-05-01T10:00:00.000000+00:00', "
    "'2024-05-01T10:00:00.000000+00:00', 'MSG00000', 1.0, {blob}, {blob})"
)


@pytest.mark.parametrize("backend", [AuditBackend.SQLITE, AuditBackend.POSTGRESQL])
def test_a_trail_of_the_first_schema_gains_the_new_columns(
    backend: AuditBackend, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A table made before key_id, ssin_hash and decisions existed: opened, it gains them;
    its rows stay (with no decision trail)."""
    if backend is AuditBackend.SQLITE:
        path = tmp_path / "a.db"
        with sqlite3.connect(path) as connection:
            connection.execute(
                FIRST_SCHEMA.format(id="INTEGER PRIMARY KEY", moment="TEXT", blob="BLOB")
            )
            connection.execute(OLD_ROW.format(blob="x'3c612f3e'"))
        settings = AuditSettings(backend=backend, sqlite_path=path)
    else:
        dsn: str = request.getfixturevalue("postgresql_dsn")
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute("DROP TABLE IF EXISTS audit_exchange")
            identity = "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
            connection.execute(FIRST_SCHEMA.format(id=identity, moment="timestamptz", blob="bytea"))
            connection.execute(OLD_ROW.format(blob="'\\x3c612f3e'"))
        settings = AuditSettings(backend=backend, postgresql_dsn=dsn)
    store = open_audit_store(settings)
    (old,) = store.by_ticket("OLD")
    assert (old.request_xml, old.key_id, old.ssin_hash, old.decisions) == (
        b"<a/>",
        None,
        None,
        None,
    )
    store.record(exchange("NEW").model_copy(update={"ssin_hash": "h", "decisions": b"{}"}))
    assert tickets(store.find(ssin_hash="h")) == ["NEW"]
    assert store.by_ticket("NEW")[0].decisions == b"{}"
    store.close()


def test_the_decision_trail_round_trips(store: AuditStore) -> None:
    """Issue #18: stored beside the messages, byte for byte; absent stays absent."""
    trail = '{"format":1,"steps":[{"stage":"reply","verdict":"answered","because":"é"}]}'
    store.record(exchange("TRAIL").model_copy(update={"decisions": trail.encode()}))
    store.record(exchange("NONE"))
    assert store.by_ticket("TRAIL")[0].decisions == trail.encode()
    assert store.by_ticket("NONE")[0].decisions is None


def test_the_sqlite_trail_is_the_owners_only(tmp_path: Path) -> None:
    """0600 files in a 0700 folder (they were 0644 in 0755); an existing file is tightened."""
    path = tmp_path / "var" / "audit.sqlite3"
    store = SqliteAuditStore(path)
    store.record(exchange("A"))
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for member in (path, path.with_name("audit.sqlite3-wal"), path.with_name("audit.sqlite3-shm")):
        assert stat.S_IMODE(member.stat().st_mode) == 0o600, member
    store.close()
    path.chmod(0o644)
    SqliteAuditStore(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_two_processes_upgrading_one_old_sqlite_trail_do_not_collide(tmp_path: Path) -> None:
    """The column another opener added between our look and our ALTER is no failure (a
    gateway and `audit explain` started together on an old file: found by review)."""
    path = tmp_path / "a.db"
    with sqlite3.connect(path) as connection:
        connection.execute(
            FIRST_SCHEMA.format(id="INTEGER PRIMARY KEY", moment="TEXT", blob="BLOB")
        )
        connection.execute("ALTER TABLE audit_exchange ADD COLUMN decisions BLOB")
    with sqlite3.connect(path) as connection:
        sqlite_backend._add_column(connection, "decisions", "BLOB")  # already there: fine
        with pytest.raises(sqlite3.OperationalError):
            sqlite_backend._add_column(connection, "other", "TEXT CHECK (")
    store = open_audit_store(AuditSettings(backend=AuditBackend.SQLITE, sqlite_path=path))
    store.record(exchange("NEW"))
    assert tickets(store.by_ticket("NEW")) == ["NEW"]
    store.close()
