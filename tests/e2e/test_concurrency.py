"""Callers waiting on INASTI hold no thread, and a stopping gateway answers what it accepted.

The pipeline awaits the supplier on the reactor's event loop (issue #6, R-65): with a slow
supplier, many callers are served side by side even with a single thread for blocking work.
On SIGTERM, exchanges in flight are answered and audited before the process exits (R-73).
An audit store across the network (PostgreSQL) is written off the loop.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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
    # One thread for blocking work: a design that parked a thread per supplier call would
    # serve these callers one after the other.
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
    assert [r.status_code for r in responses] == [200] * CALLERS
    assert {status(payload(r.content))["value"] for r in responses} == {"DATA_FOUND"}
    assert elapsed < CALLERS * LATENCY_S / 3, f"{elapsed:.1f} s for {CALLERS} callers"


def test_sigterm_answers_and_audits_the_exchanges_in_flight(
    pki: DevPki, slow_simulator: Server, tmp_path: Path
) -> None:
    """R-73: an exchange accepted before SIGTERM is answered and in the audit trail; the
    process then exits cleanly."""
    server, audit = gateway_on(pki, slow_simulator, tmp_path)
    url = server.urls["soap"]
    answers: list[httpx.Response] = []
    callers = [threading.Thread(target=lambda: answers.append(consult(pki, url))) for _ in range(4)]
    try:
        for caller in callers:
            caller.start()
        time.sleep(LATENCY_S / 2)  # the four calls now wait on the supplier
        server.process.send_signal(signal.SIGTERM)
        for caller in callers:
            caller.join(timeout=15)
        exit_code = server.process.wait(timeout=15)
    finally:
        server.stop()
    assert exit_code == 0
    assert [r.status_code for r in answers] == [200] * 4
    tickets = [payload(r.content).findtext("informationCBSS/ticketCBSS") for r in answers]
    store = SqliteAuditStore(audit)
    try:
        stored = [store.by_ticket(t)[0].outcome for t in tickets if t]
    finally:
        store.close()
    assert stored == ["MSG00000"] * 4


def test_a_gateway_on_postgresql_audits_from_its_executor(
    pki: DevPki, simulator: Server, tmp_path: Path, postgresql_dsn: str
) -> None:
    """R-73 with the PostgreSQL backend: the write runs off the event loop (exchange.py) and
    the exchange is in the database before its answer arrives."""
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
