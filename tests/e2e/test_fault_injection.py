"""Fault injection: suppliers that reset or flood, and a gateway killed under load.

R-22, R-65, R-66: each failure is MSG00002 within budget + 0.5 s and the gateway stays
healthy. R-73: after `kill -9` under load, every exchange a client got an answer for is in
the audit trail.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from selfemployed_gateway.audit.sqlite import SqliteAuditStore
from selfemployed_gateway.devpki import DevPki
from tests.e2e.conftest import GatewayFactory, gateway_config, tls_context
from tests.support.processes import Server, start, write_config
from tests.support.soap import career_request, customer, fault, payload, status

ONSS = customer(sector=21, institution=0)
CONTEXT = "SOCIAL_INSPECTION:INVESTIGATION"
BUDGET = 2.0


class FakeSupplier:
    """A TCP server on 127.0.0.1 that misbehaves with every connection (`behave`)."""

    def __init__(self, behave: Callable[[socket.socket], None]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.behave = behave
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/inasti/SelfEmployedService"

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            try:
                connection.recv(65536)  # the request (small enough for one read)
                self.behave(connection)
            except OSError:
                pass

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()


def reset(connection: socket.socket) -> None:
    """Close with a TCP RST instead of an answer."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def ten_megabytes(connection: socket.socket) -> None:
    """HTTP 200 announcing and sending 10 MB."""
    size = 10 * 1024 * 1024
    connection.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
        + f"Content-Length: {size}\r\n\r\n".encode()
    )
    chunk = b"<a>" + b"x" * 65533
    for _ in range(size // len(chunk)):
        connection.sendall(chunk)


def ten_megabytes_chunked(connection: socket.socket) -> None:
    """HTTP 200, chunked, 10 MB, no Content-Length to refuse early."""
    connection.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"x" * 65536
    for _ in range(160):
        connection.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
    connection.sendall(b"0\r\n\r\n")


@pytest.fixture
def fake(request: pytest.FixtureRequest) -> Iterator[FakeSupplier]:
    supplier = FakeSupplier(request.param)
    yield supplier
    supplier.close()


@pytest.mark.parametrize(
    ("fake", "details"),
    [
        (reset, "Unexpected return code from supplier"),
        (ten_megabytes, "Unexpected response from supplier"),
        (ten_megabytes_chunked, "Unexpected response from supplier"),
    ],
    indirect=["fake"],
    ids=["connection-reset", "10MB", "10MB-chunked"],
)
def test_misbehaving_supplier_is_msg00002_and_the_gateway_stays_healthy(
    gateway_with: GatewayFactory, fake: FakeSupplier, details: str
) -> None:
    server = gateway_with.server(supplier_url=fake.url)
    callers = gateway_with(supplier_url=fake.url)
    for _ in range(3):  # repeated: no leak of connections or threads that would pile up
        started = time.monotonic()
        response = callers("onss-inspection").post(career_request(ONSS, CONTEXT, "65031510159"))
        assert time.monotonic() - started <= BUDGET + 0.5
        answer = fault(response.content)
        assert answer["details"][0]["reasonCode"] == "MSG00002"  # type: ignore[index]
        assert answer["details"][0]["information"] == [("details", details)]  # type: ignore[index]
    assert httpx.get(server.urls["admin"] + "/healthz").status_code == 200
    assert httpx.get(server.urls["admin"] + "/readyz").status_code == 200
    # The gateway still answers requests that need no supplier.
    element = payload(
        callers("onss-inspection").post(career_request(ONSS, CONTEXT, "65031510158")).content
    )
    assert status(element)["code"] == "MSG00011"


def test_kill_9_under_load_loses_no_answered_exchange(
    pki: DevPki, simulator: Server, tmp_path: Path
) -> None:
    """R-73: stored before answered, so whatever a client received is in the trail."""
    audit = tmp_path / "audit.sqlite3"
    config = write_config(
        tmp_path / "gateway.toml", gateway_config(pki, simulator.urls["simulator"], audit=audit)
    )
    server = start(config, "serve")
    url = server.urls["soap"]
    received: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + 3.0
    killed = threading.Event()
    body = career_request(ONSS, CONTEXT, "65031510159")

    def client() -> None:
        context = tls_context(pki, "onss-inspection")
        with httpx.Client(verify=context, timeout=5) as session:
            for _ in range(2000):  # bounded in count and time
                if time.monotonic() > deadline or killed.is_set():
                    return
                try:
                    response = session.post(url, content=body)
                except httpx.HTTPError:
                    return
                ticket = payload(response.content).findtext("informationCBSS/ticketCBSS")
                if ticket:
                    with lock:
                        received.append(ticket)

    try:
        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(client) for _ in range(8)]
            time.sleep(1.5)
            os.kill(server.process.pid, signal.SIGKILL)
            killed.set()
            for future in futures:
                future.result(timeout=30)
    finally:
        server.stop()
    assert len(received) > 20
    store = SqliteAuditStore(audit)
    try:
        missing = [t for t in received if not store.by_ticket(t)]
    finally:
        store.close()
    assert missing == []


def test_closed_supplier_port_answers_at_once(gateway_with: GatewayFactory) -> None:
    """R-22: connection refused is not a time-out: MSG00002 well before the budget."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    callers = gateway_with(supplier_url=f"http://127.0.0.1:{port}/inasti/SelfEmployedService")
    started = time.monotonic()
    response = callers("onss-inspection").post(career_request(ONSS, CONTEXT, "65031510159"))
    assert time.monotonic() - started < 1.0
    assert fault(response.content)["details"][0]["reasonCode"] == "MSG00002"  # type: ignore[index]
