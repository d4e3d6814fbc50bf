"""Supplier calls on the real transport (aiohttp under httpx, issue #17) against raw servers.

The adapter tests serve answers through `httpx.MockTransport`; these put real bytes on a
loopback socket, so the time budget (R-65), the size cap (R-66), the codes of a broken
connection, cancellation, the pins (R-22) and the rule that a failed call's connection is
never reused hold on the transport the gateway really uses.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from selfemployed_gateway import codes
from selfemployed_gateway.devpki import DevPki, ensure_dev_pki
from selfemployed_gateway.errors import SupplierError
from selfemployed_gateway.settings import SupplierSettings, SupplierTlsSettings
from selfemployed_gateway.suppliers.http import MAX_ANSWER_BYTES, SupplierHttp
from tests.support.aio import run
from tests.support.ports import free_port

Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
ACTION = "urn:test"
BODY = b"<x/>"
ANSWER = b"<answer/>"


@dataclass
class RawServer:
    """A loopback server that reads one request head at a time and runs `behaviour`."""

    behaviour: Behaviour
    tls: ssl.SSLContext | None = None
    connections: int = 0
    requests: int = 0
    closed: int = 0
    received: bytearray = field(default_factory=bytearray)
    port: int = 0
    server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.received += head
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                self.received += await reader.readexactly(length)
                self.requests += 1
                await self.behaviour(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            self.closed += 1
            writer.close()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


def ok(body: bytes = ANSWER) -> Behaviour:
    async def behaviour(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()

    return behaviour


def settings(url: str, timeout: float = 0.5, **tls: object) -> SupplierSettings:
    return SupplierSettings(
        url=url,
        timeout_seconds=timeout,
        connect_timeout_seconds=0.3,
        max_connections=2,
        tls=SupplierTlsSettings(**tls),  # type: ignore[arg-type]
    )


def details(call: Awaitable[object]) -> tuple[str, str]:
    with pytest.raises(SupplierError) as caught:
        run(call)
    return caught.value.details, caught.value.cause


def assert_cut_at_the_budget(http: SupplierHttp, within: float) -> None:
    started = time.monotonic()
    assert details(http.post(ACTION, BODY))[0] == codes.SUPPLIER_TIME_BUDGET
    assert time.monotonic() - started < within


@pytest.fixture
def serve() -> Iterator[Callable[..., tuple[RawServer, SupplierHttp]]]:
    made: list[tuple[RawServer, SupplierHttp]] = []

    def start(
        behaviour: Behaviour, timeout: float = 0.5, tls: ssl.SSLContext | None = None, **kw: object
    ) -> tuple[RawServer, SupplierHttp]:
        server = RawServer(behaviour, tls)
        run(server.start())
        scheme = "https" if tls else "http"
        url = f"{scheme}://127.0.0.1:{server.port}/inasti"
        http = SupplierHttp(url, settings(url, timeout, **kw))
        made.append((server, http))
        return server, http

    yield start
    for server, http in made:
        run(http.aclose())
        run(server.stop())


def test_a_good_answer_is_read_and_its_connection_reused(serve: Callable[..., tuple]) -> None:
    server, http = serve(ok())
    for _ in range(3):
        answer = run(http.post(ACTION, BODY))
        assert (answer.status, answer.body) == (200, ANSWER)
    assert (server.connections, server.requests) == (1, 3)
    assert b'soapaction: "urn:test"' in bytes(server.received).lower()
    assert bytes(server.received).endswith(BODY)


def test_an_error_status_is_an_answer_with_the_start_of_its_body(
    serve: Callable[..., tuple],
) -> None:
    async def fault(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body = b"<fault/>" + b" " * 200_000
        writer.write(b"HTTP/1.1 500 Oops\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()

    _, http = serve(fault)
    answer = run(http.post(ACTION, BODY))
    assert answer.status == 500
    assert answer.body.startswith(b"<fault/>") and len(answer.body) == 64 * 1024


def test_a_trickling_answer_is_cut_at_the_budget_and_its_connection_dropped(
    serve: Callable[..., tuple],
) -> None:
    """R-65: every piece comes in time for a per-read timeout; together they are late."""
    calls = []

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        calls.append(1)
        if len(calls) > 1:
            return await ok()(reader, writer)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(100):
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.05)

    server, http = serve(trickle, timeout=0.4)
    assert_cut_at_the_budget(http, within=0.7)
    # The next call gets a new connection and its answer: the cut one is never reused.
    assert run(http.post(ACTION, BODY)).body == ANSWER
    assert server.connections == 2


def test_headers_then_silence_is_cut_at_the_budget(serve: Callable[..., tuple]) -> None:
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<a")
        await writer.drain()
        await asyncio.sleep(5)

    _, http = serve(stall, timeout=0.3)
    assert_cut_at_the_budget(http, within=0.6)


def test_an_answer_over_the_cap_is_refused_before_it_is_all_read(
    serve: Callable[..., tuple],
) -> None:
    """R-66, chunked (no length to refuse on): reading stops past the cap."""
    sent = []

    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
        while sum(sent) < 4 * MAX_ANSWER_BYTES:
            writer.write(chunk)
            sent.append(65536)
            await writer.drain()

    _, http = serve(endless, timeout=5.0)
    found, cause = details(http.post(ACTION, BODY))
    assert found == codes.SUPPLIER_UNEXPECTED_RESPONSE
    assert cause == f"answer larger than {MAX_ANSWER_BYTES} bytes"
    assert sum(sent) < 2 * MAX_ANSWER_BYTES


def test_a_compressed_bomb_is_refused_by_its_decoded_size(serve: Callable[..., tuple]) -> None:
    """R-66: the cap counts the bytes once decoded (httpx decodes; aiohttp's own
    decompression is off), so 40 KiB of gzip cannot become 16 MiB in memory."""
    bomb = gzip.compress(b" " * (4 * MAX_ANSWER_BYTES))
    assert len(bomb) < 64 * 1024

    async def gzipped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s"
            % (len(bomb), bomb)
        )
        await writer.drain()

    _, http = serve(gzipped, timeout=5.0)
    assert details(http.post(ACTION, BODY)) == (
        codes.SUPPLIER_UNEXPECTED_RESPONSE,
        f"answer larger than {MAX_ANSWER_BYTES} bytes",
    )


def test_a_declared_length_over_the_cap_is_refused_at_once(serve: Callable[..., tuple]) -> None:
    async def huge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\nx" % (MAX_ANSWER_BYTES + 1))
        await writer.drain()
        await asyncio.sleep(5)

    _, http = serve(huge, timeout=3.0)
    started = time.monotonic()
    assert details(http.post(ACTION, BODY)) == (
        codes.SUPPLIER_UNEXPECTED_RESPONSE,
        f"answer of {MAX_ANSWER_BYTES + 1} bytes",
    )
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    "reply",
    [
        b"",  # closed without a word
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<half",  # closed mid-body
        b"NOT HTTP AT ALL\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X: " + b"y" * 70_000 + b"\r\n\r\n",  # a header too long
    ],
    ids=["closed", "closed-mid-body", "garbage", "huge-header"],
)
def test_a_broken_answer_is_an_unexpected_return_code_at_once(
    serve: Callable[..., tuple], reply: bytes
) -> None:
    """Not "no answer within the time budget": the supplier answered, badly (MSG00002)."""

    async def broken(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(reply)
        await writer.drain()
        writer.close()

    _, http = serve(broken, timeout=3.0)
    started = time.monotonic()
    assert details(http.post(ACTION, BODY))[0] == codes.SUPPLIER_UNEXPECTED_RETURN_CODE
    assert time.monotonic() - started < 1.0


def test_a_refused_connection_is_an_unexpected_return_code() -> None:
    url = f"http://127.0.0.1:{free_port()}/inasti"
    http = SupplierHttp(url, settings(url, timeout=3.0))
    started = time.monotonic()
    found, cause = details(http.post(ACTION, BODY))
    assert found == codes.SUPPLIER_UNEXPECTED_RETURN_CODE
    assert "127.0.0.1" in cause
    assert time.monotonic() - started < 1.0
    run(http.aclose())


def test_a_cancelled_call_drops_its_connection(serve: Callable[..., tuple]) -> None:
    """The caller went away mid-call: that connection is closed, the next call has a new one."""
    calls = []

    async def slow_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        calls.append(1)
        # No answer to the first call: wait for the client to close (EOF).
        if len(calls) == 1 and await asyncio.wait_for(reader.read(1), 5) == b"":
            raise ConnectionError("closed by the client")
        await ok()(reader, writer)

    server, http = serve(slow_first, timeout=3.0)

    async def cancel_soon() -> None:
        task = asyncio.ensure_future(http.post(ACTION, BODY))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(50):  # the discarded connection is closed beside the call
            if server.closed:
                break
            await asyncio.sleep(0.02)

    run(cancel_soon())
    assert server.closed == 1
    assert run(http.post(ACTION, BODY)).body == ANSWER
    assert server.connections == 2


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return ensure_dev_pki(tmp_path_factory.mktemp("pki"), [])


def server_tls(pki: DevPki) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(pki.inasti.cert), str(pki.inasti.key))
    return context


def pin_of(path: Path) -> str:
    der = x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def test_a_pinned_certificate_is_served_over_tls(serve: Callable[..., tuple], pki: DevPki) -> None:
    server, http = serve(
        ok(), tls=server_tls(pki), ca=[pki.ca.cert], pinned_sha256=[pin_of(pki.inasti.cert)]
    )
    assert run(http.post(ACTION, BODY)).body == ANSWER
    assert run(http.post(ACTION, BODY)).body == ANSWER
    assert server.connections == 1


def test_a_certificate_not_pinned_gets_no_byte_of_the_request(
    serve: Callable[..., tuple], pki: DevPki
) -> None:
    """R-22: the request names a person; it is not sent to a server outside the pins."""
    server, http = serve(ok(), tls=server_tls(pki), ca=[pki.ca.cert], pinned_sha256=["00" * 32])
    found, cause = details(http.post(ACTION, BODY))
    assert found == codes.SUPPLIER_UNEXPECTED_RETURN_CODE
    assert "is not pinned" in cause
    run(asyncio.sleep(0.1))
    assert (server.connections, server.requests, bytes(server.received)) == (1, 0, b"")
    # The refused connection is closed at once, not left open until garbage collection.
    assert server.closed == 1


def test_an_untrusted_server_is_refused_with_the_tls_reason(
    serve: Callable[..., tuple], pki: DevPki
) -> None:
    _, http = serve(ok(), tls=server_tls(pki), ca=[pki.rogue_ca.cert])
    found, cause = details(http.post(ACTION, BODY))
    assert found == codes.SUPPLIER_UNEXPECTED_RETURN_CODE
    assert "CERTIFICATE_VERIFY_FAILED" in cause


def test_a_cookie_of_the_supplier_never_rides_along_on_a_later_call(
    serve: Callable[..., tuple],
) -> None:
    """Each call stands alone: the next one may be about another person."""

    async def sets_cookie(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nSet-Cookie: session=person-1; Path=/\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(ANSWER), ANSWER)
        )
        await writer.drain()

    server, http = serve(sets_cookie)
    for _ in range(2):
        assert run(http.post(ACTION, BODY)).body == ANSWER
    assert server.requests == 2
    assert b"cookie" not in bytes(server.received).lower()
