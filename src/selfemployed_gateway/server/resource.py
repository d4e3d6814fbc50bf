"""The Twisted resource at `/SelfEmployedService/v2/consult` (R-05).

GET serves the contract (`?wsdl`, `?xsd=<file>`); POST hands the body, the SOAPAction and
the verified client certificate to the exchange handler as an asyncio task on the reactor's
own loop (Twisted's asyncio reactor): the XML work runs on the reactor thread, one request at
a time, with no thread hand-off and no lock contention, and a request waiting for INASTI
holds nothing but its task (R-65).

What a request that is not a SOAP call gets — a SOAP fault where a SOAP answer fits, a plain
4xx where none does (the body limit and the read deadline are the channel's, 413 and 408,
see server/channel.py):

- A POST is a SOAP call whatever it holds: every problem with it is a spec fault, MSG00004
  (R-10; HTTP 500, soapenv:Client, `consultCareerFault` unless the body names the other
  operation, §8/§10 [decision]), audited like any exchange (R-73). That includes a
  Content-Type other than SOAP 1.1's `text/xml` (R-01; `application/soap+xml` is SOAP 1.2),
  checked before the envelope; a missing Content-Type is accepted
  (envelope.check_content_type).
- Another method (PUT, DELETE, PATCH, OPTIONS, TRACE, …) is not a SOAP call at all: plain
  `405 Method Not Allowed` with `Allow: GET, POST`, as for a GET without `?wsdl` or `?xsd=`.
  HEAD is answered as GET without a body (HTTP semantics).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from twisted.web import resource, server

from selfemployed_gateway import tls
from selfemployed_gateway.exchange import ExchangeHandler
from selfemployed_gateway.metrics import GatewayMetrics
from selfemployed_gateway.server.plain import plain
from selfemployed_gateway.soap.contract import Contract
from selfemployed_gateway.soap.endpoint import IncomingCall, SoapAnswer

log = logging.getLogger(__name__)

# In development a Host header is echoed into the served WSDL: only what a host[:port] can be.
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")

ALLOWED_METHODS = b"GET, POST"
# HEAD is GET without a body: Twisted answers it through render_GET.
_RENDERED_METHODS = (b"GET", b"HEAD", b"POST")


class ConsultResource(resource.Resource):
    isLeaf = True

    def __init__(
        self,
        exchanges: ExchangeHandler,
        metrics: GatewayMetrics,
        contract: Contract,
        path: str,
        loop: asyncio.AbstractEventLoop,
        *,
        public_url: str | None = None,
        echo_host: bool = False,
    ) -> None:
        super().__init__()
        self.exchanges = exchanges
        self.metrics = metrics
        self.contract = contract
        self.path = path
        self.loop = loop
        # The WSDL's address (gateway.public_url); without it, the Host header in development
        # only (a validated one), else the listener's own address: never a stranger's Host.
        self.public_url = public_url
        self.echo_host = echo_host
        self.draining = False
        self._in_flight: set[asyncio.Task[SoapAnswer]] = set()

    def render(self, request: server.Request) -> Any:
        """405 (plain text, `Allow: GET, POST`) for every method but GET, HEAD and POST: such a
        request is no SOAP call (R-01, R-05), so no SOAP answer fits (Twisted's own 405 would
        be an HTML page)."""
        if request.method not in _RENDERED_METHODS:
            return self._method_not_allowed(request)
        return super().render(request)

    def render_GET(self, request: server.Request) -> bytes:
        # Twisted's request.args drops a bare `?wsdl` (no `=`): read the query ourselves.
        query = urlsplit(request.uri.decode("latin-1")).query
        url = self._endpoint_url(request)
        if query.lower() == "wsdl":
            return self._xml(request, self.contract.wsdl_for(url))
        names = parse_qs(query).get("xsd")
        if names:
            document = self.contract.xsd_for(names[0], url)
            if document is not None:
                return self._xml(request, document)
            return plain(request, 404, b"No such schema in this contract.\n")
        return self._method_not_allowed(request)

    def render_POST(self, request: server.Request) -> int | bytes:
        """A SOAP call: every answer, fault or not, comes from the exchange handler (R-73).
        While the gateway shuts down, a plain 503 (nothing taken in that could be dropped)."""
        if self.draining:
            request.setHeader(b"Retry-After", b"1")
            request.setHeader(b"Connection", b"close")
            return plain(request, 503, b"The gateway is shutting down; call again.\n")
        body = request.content.read() if request.content is not None else b""
        action = request.getHeader(b"soapaction")
        content_type = request.getHeader(b"content-type")
        certificate = tls.peer_certificate(request.transport)
        finished = request.notifyFinish()
        gone: list[bool] = []
        finished.addErrback(lambda _failure: gone.append(True))
        self.metrics.in_flight.inc()
        call = IncomingCall(
            body=body,
            soap_action=action.decode("latin-1") if action is not None else None,
            content_type=content_type.decode("latin-1") if content_type is not None else None,
            certificate=certificate,
        )
        exchange = self.exchanges.handle(call)
        # A client that leaves does not cancel its exchange: it is still answered and audited.
        task = self.loop.create_task(exchange)
        self._in_flight.add(task)
        # Straight from the task, on the reactor's loop: a Deferred in between cost ~1% of an
        # exchange and adds nothing here (issue #17).
        task.add_done_callback(functools.partial(self._done, request, gone))
        return server.NOT_DONE_YET

    async def drain(self, timeout: float) -> None:
        """Shutdown: refuse new calls (503), let the exchanges in flight finish, for at most
        `timeout` seconds."""
        self.draining = True
        deadline = self.loop.time() + timeout
        while self._in_flight and (left := deadline - self.loop.time()) > 0:
            await asyncio.wait(set(self._in_flight), timeout=left)

    def _done(
        self, request: server.Request, gone: list[bool], task: asyncio.Task[SoapAnswer]
    ) -> None:
        self._in_flight.discard(task)
        if task.cancelled():
            self._crash(asyncio.CancelledError("exchange cancelled"), request, gone)
        elif (error := task.exception()) is not None:
            self._crash(error, request, gone)
        else:
            self._answer(task.result(), request, gone)

    def _answer(self, answer: SoapAnswer, request: server.Request, gone: list[bool]) -> None:
        self.metrics.in_flight.dec()
        if gone:
            return
        request.setResponseCode(answer.status)
        request.setHeader(b"Content-Type", answer.content_type.encode())
        if answer.retry_after is not None:
            request.setHeader(b"Retry-After", str(answer.retry_after).encode())
            # A refusal of R-28 ends the connection: a client that retries at once instead of
            # after Retry-After reconnects, and the per-peer rate of new connections bounds how
            # many refusals (each an audited exchange) it can cause in a second.
            request.setHeader(b"Connection", b"close")
        request.write(answer.body)
        request.finish()

    def _crash(self, error: BaseException, request: server.Request, gone: list[bool]) -> None:
        # The endpoint answers every error itself; reaching here is a bug of ours.
        self.metrics.in_flight.dec()
        log.error("unanswered request", exc_info=error)
        if not gone:
            request.setResponseCode(500)
            request.finish()

    def _endpoint_url(self, request: server.Request) -> str:
        if self.public_url is not None:
            return self.public_url
        host_header = request.getHeader(b"host") if self.echo_host else None
        host = host_header.decode("latin-1") if host_header else ""
        if not _HOST.match(host):
            address = request.getHost()
            host = f"{address.host}:{address.port}"
        scheme = "https" if request.isSecure() else "http"
        return f"{scheme}://{host}{self.path}"

    def _method_not_allowed(self, request: server.Request) -> bytes:
        request.setHeader(b"Allow", ALLOWED_METHODS)
        return plain(request, 405, b"POST a SOAP 1.1 request here; GET ?wsdl for the contract.\n")

    @staticmethod
    def _xml(request: server.Request, body: bytes) -> bytes:
        request.setHeader(b"Content-Type", b"text/xml; charset=utf-8")
        return body
