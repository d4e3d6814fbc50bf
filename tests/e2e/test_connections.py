"""Bounds on the SOAP listener's connections (server/connections.py, server/channel.py).

In all and per peer address (an abuser binds 127.0.0.2, the well-behaved client 127.0.0.1),
requests per connection, 431 for oversized headers, the listen backlog, the descriptor limit.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from selfemployed_gateway.devpki import DevPki
from tests.e2e.conftest import GatewayFactory, tls_context
from tests.support import wire
from tests.support.admin import metric
from tests.support.soap import career_request, customer, payload, status
from tests.support.wire import address

ONSS = customer(sector=21, institution=0)
CONTEXT = "SOCIAL_INSPECTION:INVESTIGATION"
PATH = "/SelfEmployedService/v2/consult"


@contextlib.contextmanager
def idle_connections(url: str, count: int, source: str = "127.0.0.2") -> Iterator[list[bool]]:
    """`count` TCP connections from `source` that send nothing; yields, per connection,
    whether the gateway closed it within a second."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind((source, 0))
            sock.connect(address(url))
            sockets.append(sock)
        time.sleep(1.0)
        closed = []
        for sock in sockets:
            sock.setblocking(False)
            try:
                closed.append(sock.recv(1) == b"")
            except BlockingIOError:
                closed.append(False)
            except OSError:
                closed.append(True)
        yield closed
    finally:
        for sock in sockets:
            sock.close()


def consult(callers_url: str, pki: DevPki) -> str:
    with httpx.Client(verify=tls_context(pki, "onss-inspection"), timeout=10) as client:
        response = client.post(callers_url, content=career_request(ONSS, CONTEXT, "65031510159"))
    return str(status(payload(response.content))["code"])


def test_one_peer_cannot_hold_every_connection(pki: DevPki, gateway_with: GatewayFactory) -> None:
    """40 idle connections from one address with a share of 10 per peer: 30 closed at once;
    the well-behaved client and /healthz are served meanwhile; the refusals are counted."""
    env = {"SEG_MAX_CONNECTIONS_PER_PEER": "10"}
    server = gateway_with.server(env=env)
    url, admin = server.urls["soap"], server.urls["admin"]
    with idle_connections(url, 40) as closed:
        assert closed.count(True) == 30
        assert consult(url, pki) == "MSG00000"
        assert httpx.get(admin + "/healthz").status_code == 200
    assert metric(admin, "seg_connections_refused_total") == 30


def test_the_total_bound_refuses_at_once_and_frees_when_they_leave(
    pki: DevPki, gateway_with: GatewayFactory
) -> None:
    env = {"SEG_MAX_CONNECTIONS": "16"}
    server = gateway_with.server(env=env)
    url, admin = server.urls["soap"], server.urls["admin"]
    with idle_connections(url, 40) as closed:
        assert closed.count(True) == 24
        assert httpx.get(admin + "/healthz").status_code == 200  # the admin listener answers
    time.sleep(0.3)  # the gateway sees them go
    assert consult(url, pki) == "MSG00000"


def test_a_connection_serves_a_bounded_number_of_requests(
    pki: DevPki, gateway_with: GatewayFactory
) -> None:
    url = gateway_with.server(env={"SEG_CONNECTION_MAX_REQUESTS": "3"}).urls["soap"]
    request = career_request(ONSS, CONTEXT, "65031510159")
    with httpx.Client(verify=tls_context(pki, "onss-inspection"), timeout=10) as client:
        headers = [client.post(url, content=request).headers.get("connection") for _ in range(4)]
    assert headers == [None, None, "close", None]


def raw(pki: DevPki, url: str, data: bytes) -> bytes:
    return wire.raw(tls_context(pki, "onss-inspection"), url, data)


def test_oversized_header_lines_and_blocks_get_431(
    pki: DevPki, gateway_with: GatewayFactory
) -> None:
    url = gateway_with.server().urls["soap"]
    head = f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    long_line = raw(pki, url, (head + "X-Long: " + "a" * 9000 + "\r\n\r\n").encode())
    many = raw(pki, url, (head + "".join(f"X-{i}: v\r\n" for i in range(150)) + "\r\n").encode())
    large = raw(
        pki, url, (head + "".join(f"X-{i}: {'v' * 4000}\r\n" for i in range(6)) + "\r\n").encode()
    )
    for answer in (long_line, many, large):
        assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), answer[:80]
        assert b"Connection: close" in answer


def test_listen_backlog_and_descriptor_limit(gateway_with: GatewayFactory) -> None:
    """The SOAP socket listens with the configured backlog (at least 511); the process raised
    its descriptor limit to the hard limit at start-up."""
    server = gateway_with.server(env={"SEG_LISTEN_BACKLOG": "600"})
    _, port = address(server.urls["soap"])
    listening = subprocess.run(
        ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert listening[2] == "600"  # Send-Q of a listening socket: its backlog
    limits = {
        line[:26].strip(): line[26:].split()
        for line in Path(f"/proc/{server.process.pid}/limits").read_text().splitlines()[1:]
    }
    soft, hard = limits["Max open files"][:2]
    assert soft == hard


def test_a_peer_that_reconnects_in_a_loop_is_refused_before_tls(
    pki: DevPki, gateway_with: GatewayFactory
) -> None:
    """5 new connections a second from one address (a bucket of 10): of 30 at once, 20 are
    closed before any handshake; a keep-alive client of another address is not affected."""
    server = gateway_with.server(env={"SEG_NEW_CONNECTIONS_PER_PEER": "5"})
    url = server.urls["soap"]
    with idle_connections(url, 30) as closed:
        assert closed.count(True) == 20
        assert consult(url, pki) == "MSG00000"
