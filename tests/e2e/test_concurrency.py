"""Callers waiting on INASTI hold no thread, and a stopping gateway answers what it accepted.

The pipeline awaits the supplier on the reactor's event loop (issue #6, R-65): with a slow
supplier, many callers are served side by side even with a single thread for blocking work.
On SIGTERM, exchanges in flight are answered and audited before the process exits (R-73).
The audit trail on PostgreSQL receives every exchange; a locked SQLite audit file stalls only
the exchanges waiting to be written, not the event loop.
"""

from __future__ import annotations

import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from selfemployed_gateway.audit.sqlite import SqliteAuditStore
from selfemployed_gateway.devpki import DevPki
from tests.e2e.conftest import FROZEN_NOW, gateway_config, simulator_config, tls_context
from tests.support.postgres import postgresql_dsn_fixture  # noqa: F401  (session fixture)
from tests.support.processes import Server, start, write_config
from tests.support.soap import career_request, customer, payload, status

ONSS = customer(sector=21, institution=0)
CONTEXT = "SOCIAL_INSPECTION:INVESTIGATION"
LATENCY_S = 0.4
CALLERS = 32


@pytest.fixture(scope="module")
def slow_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The simulator answering every call after LATENCY_S."""
    folder = tmp_path_factory.mktemp("slow-simulator")
    path = write_config(folder / "simulator.toml", simulator_config())
    server = start(
        path,
        "simulate-inasti",
        env={"SEG_SIMULATOR_CLOCK": FROZEN_NOW, "SEG_SIMULATOR_LATENCY_MS": str(LATENCY_S * 1000)},
    )
    yield server
    server.stop()


def gateway_on(pki: DevPki, simulator: Server, folder: Path) -> tuple[Server, Path]:
    audit = folder / "audit.sqlite3"
    config = gateway_config(pki, simulator.urls["simulator"], audit=audit)
    # SEG_THREADS=1: should exchanges ever run on the gateway's threads again (one parked per
    # supplier call), these callers would be served one after the other.
    server = start(write_config(folder / "gateway.toml", config), "serve", env={"SEG_THREADS": "1"})
    return server, audit


def consult(pki: DevPki, url: str) -> httpx.Response:
    with httpx.Client(verify=tls_context(pki, "onss-inspection"), timeout=15) as client:
        return client.post(url, content=career_request(ONSS, CONTEXT, "65031510159"))


def test_callers_waiting_on_a_slow_supplier_are_served_side_by_side(
    pki: DevPki, slow_simulator: Server, tmp_path: Path
) -> None:
    """32 callers, a supplier answering in 0.4 s: all DATA_FOUND, in far less than the
    12.8 s that one caller after the other would take (bound: a third of that)."""
    server, _ = gateway_on(pki, slow_simulator, tmp_path)
    try:
        url = server.urls["soap"]
        consult(pki, url)  # warm: connections to the supplier, caches
        started = time.monotonic()
        with ThreadPoolExecutor(CALLERS) as pool:
            responses = list(pool.map(lambda _: consult(pki, url), range(CALLERS)))
        elapsed = time.monotonic() - started
    finally:
        server.stop()
    assert [r.status_code for r in responses] == [200] * CALLERS, [
        r.text for r in responses if r.status_code != 200
    ][:1]
    assert {status(payload(r.content))["value"] for r in responses} == {"DATA_FOUND"}
    assert elapsed < CALLERS * LATENCY_S / 3, f"{elapsed:.1f} s for {CALLERS} callers"


def in_flight(admin_url: str) -> float:
    metrics = httpx.get(f"{admin_url}/metrics", timeout=5).text
    for line in metrics.splitlines():
        if line.startswith("seg_requests_in_flight "):
            return float(line.split()[1])
    raise AssertionError("seg_requests_in_flight missing from /metrics")


def wait_until_refused(url: str, seconds: float = 5.0) -> None:
    """Until a new TCP connection to `url`'s port is refused (bounded in time)."""
    address = urlsplit(url)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address.hostname, address.port), timeout=0.2):
                pass
        except ConnectionRefusedError:
            return
        time.sleep(0.01)
    raise AssertionError(f"{url} still accepts connections {seconds} s after SIGTERM")


def test_sigterm_answers_what_it_took_in_and_refuses_the_rest(
    pki: DevPki, slow_simulator: Server, tmp_path: Path
) -> None:
    """R-73: on SIGTERM, the four exchanges waiting on INASTI are answered, audited, then the
    process exits 0; meanwhile a new call on an open connection gets a plain 503 and a new
    connection is refused — nothing is taken in that could be dropped."""
    server, audit = gateway_on(pki, slow_simulator, tmp_path)
    url = server.urls["soap"]
    answers: list[httpx.Response] = []
    callers = [threading.Thread(target=lambda: answers.append(consult(pki, url))) for _ in range(4)]
    body = career_request(ONSS, CONTEXT, "65031510159")
    try:
        with httpx.Client(verify=tls_context(pki, "onss-inspection"), timeout=15) as open_one:
            assert open_one.post(url, content=body).status_code == 200  # keep-alive, now idle
            for caller in callers:
                caller.start()
            deadline = time.monotonic() + 5
            while in_flight(server.urls["admin"]) < 4 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert in_flight(server.urls["admin"]) == 4
            server.process.send_signal(signal.SIGTERM)
            # The drain has begun once the port stops listening; the four calls still wait
            # on the supplier (0.4 s). A fixed sleep here raced a busy machine.
            wait_until_refused(url)
            late = open_one.post(url, content=body)
        with pytest.raises(httpx.ConnectError):
            consult(pki, url)
        for caller in callers:
            caller.join(timeout=15)
        exit_code = server.process.wait(timeout=15)
    finally:
        server.stop()
    assert (late.status_code, late.headers["Connection"]) == (503, "close")
    assert exit_code == 0
    assert [r.status_code for r in answers] == [200] * 4
    tickets = [payload(r.content).findtext("informationCBSS/ticketCBSS") for r in answers]
    store = SqliteAuditStore(audit)
    try:
        stored = [store.by_ticket(t)[0].outcome for t in tickets if t]
    finally:
        store.close()
    assert stored == ["MSG00000"] * 4


def test_a_gateway_on_postgresql_audits_every_exchange(
    pki: DevPki, simulator: Server, tmp_path: Path, postgresql_dsn: str
) -> None:
    """R-73 with the PostgreSQL backend (written by `gateway.threads` writer threads): every
    exchange answered is in the database when its answer arrives."""
    with psycopg.connect(postgresql_dsn, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS audit_exchange")
    config = gateway_config(pki, simulator.urls["simulator"])
    config["audit"] = {"backend": "postgresql", "postgresql_dsn": postgresql_dsn}
    server = start(write_config(tmp_path / "gateway.toml", config), "serve")
    try:
        responses = [consult(pki, server.urls["soap"]) for _ in range(3)]
        tickets = [payload(r.content).findtext("informationCBSS/ticketCBSS") for r in responses]
        with psycopg.connect(postgresql_dsn) as connection:
            rows = connection.execute("SELECT ticket_cbss, outcome FROM audit_exchange").fetchall()
    finally:
        server.stop()
    assert [r.status_code for r in responses] == [200] * 3
    # The gateway's clock is frozen: every row has the same reception time, compare as sets.
    assert sorted(rows) == sorted((ticket, "MSG00000") for ticket in tickets)


def test_a_locked_sqlite_audit_file_stalls_only_the_exchanges_that_write(
    pki: DevPki, simulator: Server, tmp_path: Path
) -> None:
    """Another process (a second worker, `audit purge`) holding SQLite's write lock makes the
    audit write wait (busy timeout): the wait happens in the writer thread, so the event loop
    keeps serving — /healthz answers at once — and the exchange is answered and audited as
    soon as the lock is released (R-73)."""
    server, audit = gateway_on(pki, simulator, tmp_path)
    url = server.urls["soap"]
    try:
        consult(pki, url)  # the audit file and its table exist now
        locker = sqlite3.connect(audit, timeout=5, isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")
        answers: list[httpx.Response] = []
        caller = threading.Thread(target=lambda: answers.append(consult(pki, url)))
        caller.start()
        time.sleep(0.3)  # the exchange now waits for the write lock
        started = time.monotonic()
        health = httpx.get(f"{server.urls['admin']}/healthz", timeout=5)
        health_seconds = time.monotonic() - started
        assert answers == []  # still waiting for the lock
        locker.execute("COMMIT")
        locker.close()
        caller.join(timeout=15)
    finally:
        server.stop()
    assert health.status_code == 200 and health_seconds < 0.5
    assert [r.status_code for r in answers] == [200]
    ticket = payload(answers[0].content).findtext("informationCBSS/ticketCBSS")
    store = SqliteAuditStore(audit)
    try:
        assert [r.outcome for r in store.by_ticket(str(ticket))] == ["MSG00000"]
    finally:
        store.close()
