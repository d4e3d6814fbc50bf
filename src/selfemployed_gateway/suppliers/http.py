"""HTTP to a supplier with a hard time budget (R-65) and a size cap (R-66).

httpx's timeouts bound each connect, write and read separately, so a supplier that answers
its headers late and then stalls could keep a caller twice the budget. Here every call is
awaited under `asyncio.timeout(budget)` and cancelled at the deadline, whatever the supplier
does. Calls are awaited on the loop that runs the gateway (Twisted's asyncio reactor): a
request waiting for INASTI holds no thread, so a slow supplier cannot starve a pool (R-65).

Connections: up to `max_connections` calls at once, each on an httpx transport that holds
exactly one keep-alive connection, taken from a stack of idle ones. Not one transport with a
pool of `max_connections`: httpcore's pool re-examines every connection and every queued
request on each request and release (encode/httpcore#1035), which measured here 22.7 ms of
CPU per call at 100 concurrent calls against 1.6 ms this way (docs/performance.md).
Connections belong to the loop that opened them: the gateway's.

A connection goes back on the idle stack only after a call that ended well (an answer read
whole, whatever its HTTP status). One whose call failed, was cut at the budget or was
cancelled is closed and discarded: httpcore can leave such a connection opened but never
usable again (encode/httpcore#1093), and handing it to the next call made every later call
wait out its budget until a restart. Before reuse, the transport itself checks that an idle
connection was not closed by the peer.

httpx is the API: an `httpx.Request` goes to an `httpx.AsyncBaseTransport`, an
`httpx.Response` comes back, httpx decodes its body. The transport is aiohttp's
(`suppliers/transport.py`, chosen by measurement: about a third of httpcore's CPU per call); a
test may hand its own. `httpx.AsyncClient` is not used: what it adds — redirects, auth, cookies,
proxies from the environment, event hooks — a call to INASTI must not have, and it cost 0.3 ms
of the 1.05 ms of CPU a call took here (issue #17). Whatever the transport says, a call is "no
answer within the budget" only when time ran out — `httpx-aiohttp` maps a refused or dropped
connection to `httpx.ConnectTimeout` too.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
import httpx

from selfemployed_gateway import __version__, codes
from selfemployed_gateway.errors import SupplierError
from selfemployed_gateway.settings import SupplierSettings
from selfemployed_gateway.suppliers.soap11 import CONTENT_TYPE
from selfemployed_gateway.suppliers.tls import check_pinned, client_context
from selfemployed_gateway.suppliers.transport import aiohttp_transport

log = logging.getLogger(__name__)

# An answer larger than this is not a plausible career or contribution list.
MAX_ANSWER_BYTES = 4 * 1024 * 1024
# Of an error answer only the start is kept, to name a SOAP Fault in the logs.
ERROR_BODY_BYTES = 64 * 1024
_MAX_CAUSE = 200
# An idle connection is closed after this long (httpx's default keep-alive expiry).
_KEEPALIVE = 5.0
USER_AGENT = f"selfemployed-gateway/{__version__}"


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes


class SupplierHttp:
    """POSTs SOAP requests to one supplier URL within `settings.timeout_seconds`."""

    def __init__(
        self,
        url: str,
        settings: SupplierSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.url = httpx.URL(url)
        self.settings = settings
        self.max_answer_bytes = max_answer_bytes
        self._transport = transport
        # One TLS context for every connection (building one per connection is costly).
        self._tls = client_context(settings.tls)
        self._pinned = settings.tls.pinned_sha256
        budget = settings.timeout_seconds
        # httpx's per-phase timeouts, as the transport reads them from each request; the
        # budget above them all is `asyncio.timeout` in `post`.
        self._timeouts = httpx.Timeout(
            budget, connect=min(settings.connect_timeout_seconds, budget)
        ).as_dict()
        self._slots = asyncio.Semaphore(settings.max_connections)
        self._idle: list[httpx.AsyncBaseTransport] = []  # a stack: the most recently used on top
        self._open: list[httpx.AsyncBaseTransport] = []
        self._closing: set[asyncio.Task[None]] = set()
        self._headers_by_action: dict[str, httpx.Headers] = {}

    def _new_transport(self) -> httpx.AsyncBaseTransport:
        transport = self._transport or aiohttp_transport(self._tls, self._pinned, _KEEPALIVE)
        self._open.append(transport)
        return transport

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[httpx.AsyncBaseTransport]:
        """A transport with one connection, for one call; waits while all are in use. Back
        on the idle stack only if the call ended well; else closed and discarded."""
        async with self._slots:
            transport = self._idle.pop() if self._idle else self._new_transport()
            ended_well = False
            try:
                yield transport
                ended_well = True
            finally:
                if ended_well:
                    self._idle.append(transport)
                else:
                    self._discard(transport)

    def _discard(self, transport: httpx.AsyncBaseTransport) -> None:
        """Close `transport` beside the call (which may be being cancelled) and forget it."""
        if transport in self._open:
            self._open.remove(transport)
        task = asyncio.get_running_loop().create_task(_close_quietly(transport))
        self._closing.add(task)  # a task nobody refers to may be collected before it ends
        task.add_done_callback(self._closing.discard)

    @asynccontextmanager
    async def _exchange(
        self, transport: httpx.AsyncBaseTransport, soap_action: str, content: bytes
    ) -> AsyncIterator[httpx.Response]:
        """The response to one POST, its body not read yet; closed on the way out."""
        request = httpx.Request(
            "POST",
            self.url,
            headers=self._headers(soap_action),
            content=content,
            extensions={"timeout": self._timeouts},
        )
        response = await transport.handle_async_request(request)
        try:
            yield response
        finally:
            await response.aclose()

    def _headers(self, soap_action: str) -> httpx.Headers:
        """A call's headers, normalised once per operation (two at most: the protocol's
        actions), since httpx only copies a `Headers` it is given (issue #17)."""
        headers = self._headers_by_action.get(soap_action)
        if headers is None:
            headers = self._headers_by_action[soap_action] = httpx.Headers(
                {
                    "Content-Type": CONTENT_TYPE,
                    "SOAPAction": f'"{soap_action}"',
                    "User-Agent": USER_AGENT,
                }
            )
        return headers

    async def post(self, soap_action: str, content: bytes) -> HttpAnswer:
        """The supplier's answer (any HTTP status), or SupplierError: time budget spent,
        no connection / transport failure, or an answer over the size cap."""
        try:
            async with (
                asyncio.timeout(self.settings.timeout_seconds),
                self._connection() as transport,
                self._exchange(transport, soap_action, content) as response,
            ):
                body = await self._read_capped(response)
                return HttpAnswer(response.status_code, body)
        except (TimeoutError, httpx.TimeoutException) as exc:
            if _timed_out(exc):
                raise SupplierError(codes.SUPPLIER_TIME_BUDGET, type(exc).__name__) from exc
            raise SupplierError(codes.SUPPLIER_UNEXPECTED_RETURN_CODE, _cause(exc)) from exc
        except httpx.DecodingError as exc:
            raise SupplierError(
                codes.SUPPLIER_UNEXPECTED_RESPONSE,
                f"undecodable body: {exc}"[:_MAX_CAUSE],
                answered=True,  # an answer came, with a status: the supplier is up
            ) from exc
        except (httpx.HTTPError, aiohttp.ClientError, ssl.SSLError) as exc:
            # Connection refused or reset, TLS refused (the reason is in the cause, for the
            # log), protocol error…: no answer at all. A TLS alert that arrives while the
            # answer is read (TLS 1.3: INASTI refusing our certificate after the handshake)
            # reaches us as a bare ssl.SSLError, which httpcore does not map.
            raise SupplierError(codes.SUPPLIER_UNEXPECTED_RETURN_CODE, _cause(exc)) from exc

    async def _read_capped(self, response: httpx.Response) -> bytes:
        """A 200 body over the cap is refused; of any other only the start is kept."""
        if response.status_code != 200:
            received = bytearray()
            async for chunk in response.aiter_bytes():
                received += chunk
                if len(received) >= ERROR_BODY_BYTES:
                    break
            return bytes(received[:ERROR_BODY_BYTES])
        limit = self.max_answer_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise SupplierError(
                codes.SUPPLIER_UNEXPECTED_RESPONSE, f"answer of {declared} bytes", answered=True
            )
        received = bytearray()
        # aiter_bytes yields decoded bytes: the cap also holds against a compressed bomb.
        async for chunk in response.aiter_bytes():
            received += chunk
            if len(received) > limit:
                raise SupplierError(
                    codes.SUPPLIER_UNEXPECTED_RESPONSE,
                    f"answer larger than {limit} bytes",
                    answered=True,
                )
        return bytes(received)

    def is_reachable(self) -> bool:
        """Readiness: does the supplier accept a connection now — for https, a complete
        handshake with the calls' own TLS context (CA, host name, our certificate, pins)?"""
        port = self.url.port or (443 if self.url.scheme == "https" else 80)
        host = self.url.host
        try:
            with socket.create_connection(
                (host, port), timeout=self.settings.connect_timeout_seconds
            ) as connection:
                if self.url.scheme != "https":
                    return True
                with self._tls.wrap_socket(connection, server_hostname=host) as tls:
                    check_pinned(tls.getpeercert(binary_form=True), self._pinned)
                    # In TLS 1.3 the server judges our certificate after the client's side
                    # of the handshake is done: only an HTTP answer proves it accepted us.
                    target = self.url.raw_path.decode("ascii")
                    tls.sendall(
                        f"HEAD {target} HTTP/1.1\r\nHost: {host}\r\n"
                        "Connection: close\r\n\r\n".encode("ascii")
                    )
                    return tls.recv(5) == b"HTTP/"
        except (OSError, SupplierError) as error:
            log.warning("supplier not ready", extra={"url": str(self.url), "error": str(error)})
            return False

    async def aclose(self) -> None:
        transports, self._open, self._idle = self._open, [], []
        for transport in transports:
            await transport.aclose()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


def _timed_out(error: BaseException) -> bool:
    """Time ran out: the budget, or a timeout of the transport — not a connection refused or
    dropped that `httpx-aiohttp` reports as `ConnectTimeout` (caused by a ClientConnectionError
    that is no timeout)."""
    if isinstance(error, TimeoutError):
        return True
    cause = error.__cause__
    return cause is None or isinstance(cause, TimeoutError)


def _cause(error: BaseException) -> str:
    """What happened, for the log: httpx's text, or its cause's when it has none (a TLS
    alert read after the handshake comes as `ReadError: ` with the reason in its cause)."""
    text = str(error) or str(error.__cause__ or error.__context__ or "")
    return f"{type(error).__name__}: {text}"[:_MAX_CAUSE]


async def _close_quietly(transport: httpx.AsyncBaseTransport) -> None:
    """Close a discarded transport; its connection may already be broken, which is why."""
    try:
        await transport.aclose()
    except Exception:  # nothing to answer: the call that used it has its answer already
        log.debug("closing a discarded supplier connection failed", exc_info=True)
